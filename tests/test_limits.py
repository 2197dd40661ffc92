"""Bounded work per input (issue 16): extracted text, chunks, unpacked size, parse time, question/query/claim
lengths, review draft size — and typed validation of every API body (422 naming the field, never a 500)."""
from __future__ import annotations

import io
import time
import zipfile

import pytest

from conftest import write_tiny_corpus

fastapi = pytest.importorskip("fastapi", reason="the web extra is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from assistant.delivery.api import Service, create_api  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from ingest.limits import DEFAULT_LIMITS, Limits  # noqa: E402
from ingest.pipeline import prepare  # noqa: E402
from ingest.records import IngestError  # noqa: E402
from ingest.worker import prepare_bounded  # noqa: E402
from vectorstore.kb import KnowledgeBase  # noqa: E402

REPORT_LINE = "全年评查行政执法案卷46卷，发现并整改问题12个，行政复议申请按期办结率100%。"


def nested_html(depth: int = 50_000) -> bytes:
    return b"<html><body>" + b"<div>" * depth + "正文".encode() + b"</div>" * depth + b"</body></html>"


def docx_bomb(unpacked_mb: int) -> bytes:
    """A real .docx whose word/document.xml unpacks to ``unpacked_mb`` MB (a comment of spaces: tiny zipped)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                    'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
        with zf.open("word/document.xml", "w") as fh:
            fh.write(b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                     b'wordprocessingml/2006/main"><w:body><!--')
            block = b" " * 2**20
            for _ in range(unpacked_mb):
                fh.write(block)
            fh.write("--><w:p><w:r><w:t>正文</w:t></w:r></w:p></w:body></w:document>".encode())
    return buf.getvalue()


def test_settings_defaults_are_the_ingest_limits():
    s = Settings()
    assert s.limits == DEFAULT_LIMITS
    assert (s.max_question_chars, s.max_claim_chars) == (1000, 4000)


def test_extracted_text_over_the_limit_is_refused_not_the_file_size():
    data = ("一、总体情况\n" + REPORT_LINE * 200).encode("utf-8")  # 8 KB file, ~8,000 characters
    with pytest.raises(IngestError, match="FAZHI_MAX_TEXT_CHARS"):
        prepare("r.txt", data, ".txt", limits=Limits(max_text_chars=5_000))
    assert prepare("r.txt", data, ".txt", limits=Limits(max_text_chars=50_000)).chunks


def test_a_one_line_20_mb_text_is_refused_by_default():
    data = ("甲" * 7_000_000).encode("utf-8")  # 21 MB, one line: under the 50 MB file limit
    t = time.monotonic()
    with pytest.raises(IngestError, match="extracted text too long"):
        prepare_bounded("big.txt", data, ".txt")
    assert time.monotonic() - t < 30


def test_a_document_of_too_many_headings_is_refused_by_the_chunk_limit():
    md = "".join(f"# 第{i}节\n{REPORT_LINE}\n" for i in range(400)).encode("utf-8")
    with pytest.raises(IngestError, match="FAZHI_MAX_CHUNKS"):
        prepare("many.md", md, ".md", limits=Limits(max_chunks=100))
    assert len(prepare("many.md", md, ".md").chunks) > 100  # the default allows a long real document


def test_parse_time_is_bounded_by_a_worker_process_that_is_stopped():
    t = time.monotonic()
    with pytest.raises(IngestError, match="FAZHI_PARSE_TIMEOUT"):
        prepare_bounded("nested.html", nested_html(), ".html", limits=Limits(parse_timeout=2))
    assert time.monotonic() - t < 10
    # the worker gives the same result as parsing in this process
    data = ("一、总体情况\n" + REPORT_LINE * 3).encode("utf-8")
    a, b = prepare_bounded("r.txt", data, ".txt"), prepare("r.txt", data, ".txt")
    assert [c.text for c in a.chunks] == [c.text for c in b.chunks] and a.document.text == b.document.text


def test_a_docx_of_millions_of_paragraphs_is_refused_by_a_streaming_scan():
    from eval.review_memory import hostile_docx

    data = hostile_docx(0, text_paragraphs=300_000)  # 5 M characters in 300,000 paragraphs, 80 KB zipped
    t = time.monotonic()
    with pytest.raises(IngestError, match="FAZHI_MAX_TEXT_CHARS"):
        prepare_bounded("many.docx", data, ".docx")
    assert time.monotonic() - t < 30
    ok = prepare_bounded("few.docx", hostile_docx(0, text_paragraphs=20), ".docx")
    assert "行政复议案件12件" in ok.document.text


def test_a_docx_that_unpacks_hugely_is_refused_before_decompressing():
    bomb = docx_bomb(60)
    assert len(bomb) < 2**20
    t = time.monotonic()
    with pytest.raises(IngestError, match="FAZHI_MAX_UNPACKED_MB"):
        prepare_bounded("bomb.docx", bomb, ".docx", limits=Limits(max_unpacked_bytes=50 * 2**20))
    assert time.monotonic() - t < 10


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    folder = tmp_path_factory.mktemp("limits")
    src = write_tiny_corpus(folder / "src")
    settings = Settings(kb=folder / "kb", corpus=src, max_review_chars=20_000)
    kb = KnowledgeBase(folder / "kb", limits=settings.limits)
    kb.ingest([src], progress=False)
    a = Assistant(settings, kb=kb)
    yield a
    kb.close()


@pytest.fixture(scope="module")
def client(assistant):
    return TestClient(create_api(Service(assistant)), raise_server_exceptions=False, base_url="http://127.0.0.1")


def _field_named(r, field: str) -> bool:
    return r.status_code == 422 and field in r.json()["detail"]


@pytest.mark.parametrize("route,body,field", [
    ("/api/ask", {"question": "问" * 1001}, "question"),
    ("/api/ask", {"question": "甲县", "agency": "局" * 1001}, "agency"),
    ("/api/ask", {"question": "甲县", "history": ["问" * 1001]}, "history"),
    ("/api/ask", {"mode": "check", "question": "核对", "claim": "实" * 4001}, "claim"),
    ("/api/search", {"query": "查" * 1001}, "query"),
    ("/api/check", {"claim": "实" * 4001}, "claim"),
    ("/api/draft", {"topic": "题" * 1001}, "topic"),
    ("/api/ask", {"question": 5}, "question"),
    ("/api/ask", {"question": "甲县", "n": "many"}, "n"),
])
def test_every_question_route_bounds_its_text(client, route, body, field):
    r = client.post(route, json=body)
    assert _field_named(r, field), r.text
    assert "请求内容有误" in r.json()["detail"]


def test_a_megabyte_search_query_is_refused_at_once(client):
    t = time.monotonic()
    r = client.post("/api/search", json={"query": "行政复议" * 250_000})
    assert r.status_code == 422 and time.monotonic() - t < 5


@pytest.mark.parametrize("filters,word", [
    ({"year": "2019-1800"}, "年份"),
    ({"year": "2021-2019"}, "晚于"),
    ({"year": "1800"}, "超出范围"),
    ({"year": {"from": 2019}}, "年份"),
    ({"issuer": {"name": "甲县"}}, "issuer"),
    ({"region": [1, 2]}, "region"),
    ({"issuer": ["县" * 500]}, "issuer"),
    ({"year_from": [2019]}, "year_from"),
])
def test_malformed_filters_are_refused(client, filters, word):
    for route, body in (("/api/ask", {"question": "甲县司法局评查了多少卷案卷？"}), ("/api/search", {"query": "案卷评查"})):
        r = client.post(route, json=body | {"filters": filters})
        assert r.status_code == 422 and word in r.json()["detail"], (route, r.text)


@pytest.mark.parametrize("body,field", [
    ({"year": [2019]}, "year"),
    ({"year": 1800}, "year"),
    ({"title": 5}, "title"),
    ({"title": "题" * 200_000}, "title"),
    ({"issuer": {"a": 1}}, "issuer"),
    ({"id": "other.txt"}, "id"),
])
def test_patch_fields_are_typed(client, assistant, body, field):
    before = assistant.kb.documents()
    r = client.patch("/api/documents/a.txt", json=body)
    assert _field_named(r, field), r.text
    assert assistant.kb.documents() == before


def test_patch_still_edits(client):
    r = client.patch("/api/documents/a.txt", json={"year": "2020", "region": "甲县"})
    assert r.status_code == 200 and r.json()["year"] == 2020


@pytest.mark.parametrize("body", [
    {"mode": "ask", "text": 5},
    {"mode": "ask"},
    {"mode": "ask", "text": "回答", "sources": "abc"},
    {"mode": "ask", "text": "回答", "sources": [{"title": 5, "heading_path": 7, "year": "x"}]},
    {"mode": "compare", "text": "回答", "compare": [{"figures": 3}]},
    {"mode": "check", "text": "回答", "claims": [{"verdict": 1, "evidence": "x"}]},
    [1, 2, 3],
])
def test_export_of_a_wrong_typed_body_is_a_422_not_a_500(client, body):
    for fmt in ("docx", "md"):
        r = client.post(f"/api/export?format={fmt}", json=body)
        assert r.status_code in (200, 422), (fmt, body, r.status_code, r.text[:300])


def test_review_draft_size_is_bounded(client):
    r = client.post("/api/review", data={"text": "我局" + REPORT_LINE * 600})  # ~25,000 characters > 20,000
    assert r.status_code == 422 and "FAZHI_MAX_REVIEW_CHARS" not in r.text and "报告全文过长" in r.json()["detail"]
    r = client.post("/api/review", files={"file": ("draft.txt", ("我局" + REPORT_LINE * 600).encode(), "text/plain")})
    assert r.status_code == 422 and "FAZHI_MAX_REVIEW_CHARS" in r.json()["detail"]
    r = client.post("/api/review", files={"file": ("bomb.docx", docx_bomb(260), "application/octet-stream")})
    assert r.status_code == 422 and "FAZHI_MAX_UNPACKED_MB" in r.json()["detail"]


def test_upload_over_the_chunk_limit_changes_nothing(tmp_path):
    settings = Settings(kb=tmp_path / "kb", max_chunks=50)
    kb = KnowledgeBase(tmp_path / "kb", limits=settings.limits)
    try:
        md = "".join(f"# 第{i}节\n{REPORT_LINE}\n" for i in range(200)).encode("utf-8")
        res = kb.ingest_bytes("uploads/many.md", md)
        assert res.status == "error" and "FAZHI_MAX_CHUNKS" in res.message
        assert kb.documents() == []
    finally:
        kb.close()
