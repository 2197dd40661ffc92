"""The `fazhi` command line on a tiny folder: ingest, docs list/delete, search."""
from __future__ import annotations

import json

import pytest

from assistant.delivery.cli import main


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("FAZHI_KB", "FAZHI_EMBEDDER", "FAZHI_CHROMA_URL", "FAZHI_MAX_FILE_MB"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def kb_dir(tmp_path):
    return tmp_path / "kb"


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _ingest(capsys, kb_dir, folder):
    code, out, err = _run(capsys, "--kb", str(kb_dir), "ingest", str(folder), "--json", "--quiet")
    assert code == 0, err
    return json.loads(out)


def test_ingest_json_report(capsys, kb_dir, tiny_corpus):
    report = _ingest(capsys, kb_dir, tiny_corpus)
    assert report["summary"]["added"] == 3
    assert report["summary"]["error"] == 0
    assert report["summary"]["embedded"] == sum(f["chunks"] for f in report["files"]) > 0
    assert {f["doc_id"] for f in report["files"]} == {"a.txt", "b.md", "c.txt"}
    again = _ingest(capsys, kb_dir, tiny_corpus)
    assert again["summary"]["unchanged"] == 3 and again["summary"]["embedded"] == 0


def test_ingest_text_output_and_errors(capsys, kb_dir, tiny_corpus):
    (tiny_corpus / "fake.pdf").write_bytes(b"this is not a pdf")
    code, out, err = _run(capsys, "--kb", str(kb_dir), "ingest", str(tiny_corpus), "--quiet")
    assert code == 0  # some files were added
    assert "added 3" in out and "errors 1" in out
    assert "fake.pdf" in err and "not a PDF" in err
    # only failures: exit code 1
    bad = tiny_corpus.parent / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    code, out, err = _run(capsys, "--kb", str(kb_dir), "ingest", str(bad), "--quiet")
    assert code == 1
    assert "empty file" in err


def test_docs_list_json(capsys, kb_dir, tiny_corpus):
    _ingest(capsys, kb_dir, tiny_corpus)
    code, out, _ = _run(capsys, "--kb", str(kb_dir), "docs", "list", "--json")
    assert code == 0
    docs = json.loads(out)
    assert [d["id"] for d in docs] == ["a.txt", "b.md", "c.txt"]
    a = docs[0]
    for key in ("title", "issuer", "region", "level", "year", "doc_number", "kind", "source_format",
                "content_hash", "chunks", "added_at"):
        assert key in a
    assert a["title"] == "甲县司法局2020年法治政府建设情况报告"
    assert a["chunks"] > 0 and a["kind"] == "report" and a["year"] == 2020
    code, out, _ = _run(capsys, "--kb", str(kb_dir), "docs", "list")
    assert code == 0 and "3 documents" in out and "a.txt\t甲县司法局2020年法治政府建设情况报告" in out


def test_search_json_output(capsys, kb_dir, tiny_corpus):
    _ingest(capsys, kb_dir, tiny_corpus)
    code, out, _ = _run(capsys, "--kb", str(kb_dir), "search", "行政执法投诉举报多少个工作日内办结？", "--json", "--k", "3")
    assert code == 0
    data = json.loads(out)
    assert data["query"] == "行政执法投诉举报多少个工作日内办结？"
    results = data["results"]
    assert 1 <= len(results) <= 3
    for r in results:
        for key in ("rank", "score", "doc_id", "title", "heading_path", "start", "end", "text"):
            assert key in r, key
        assert isinstance(r["heading_path"], list)
        assert r["end"] - r["start"] == len(r["text"])
    assert [r["rank"] for r in results] == list(range(1, len(results) + 1))
    top = results[0]
    assert top["doc_id"] == "b.md"
    assert "7个工作日内办结答复" in top["text"]
    assert top["heading_path"][-1] == "二、主要任务"
    assert top["title"] == "乙市人民政府关于加强行政执法监督工作的意见"


def test_search_filters_on_the_command_line(capsys, kb_dir, tiny_corpus):
    _ingest(capsys, kb_dir, tiny_corpus)
    code, out, _ = _run(capsys, "--kb", str(kb_dir), "search", "合法性审核", "--json", "--kind", "law")
    assert code == 0
    results = json.loads(out)["results"]
    assert results and {r["doc_id"] for r in results} == {"c.txt"}
    code, out, _ = _run(capsys, "--kb", str(kb_dir), "search", "合法性审核", "--json", "--year", "2020-2021")
    assert {r["doc_id"] for r in json.loads(out)["results"]} == {"a.txt"}
    code, out, _ = _run(capsys, "--kb", str(kb_dir), "search", "合法性审核", "--json", "--issuer", "不存在")
    assert json.loads(out)["results"] == []
    code, out, _ = _run(capsys, "--kb", str(kb_dir), "search", "合法性审核", "--issuer", "不存在")
    assert code == 0 and "没有找到匹配的段落" in out
    with pytest.raises(SystemExit, match="--year"):
        main(["--kb", str(kb_dir), "search", "合法性审核", "--year", "去年"])


def test_search_text_output(capsys, kb_dir, tiny_corpus):
    _ingest(capsys, kb_dir, tiny_corpus)
    code, out, _ = _run(capsys, "--kb", str(kb_dir), "search", "行政执法案卷评查", "--k", "2")
    assert code == 0
    assert out.startswith("[1] 甲县司法局2020年法治政府建设情况报告 (甲县司法局, 2020)")
    assert "二、严格规范公正文明执法" in out


def test_docs_delete(capsys, kb_dir, tiny_corpus):
    _ingest(capsys, kb_dir, tiny_corpus)
    code, out, _ = _run(capsys, "--kb", str(kb_dir), "docs", "delete", "b.md")
    assert code == 0 and out.startswith("deleted b.md (")
    code, out, _ = _run(capsys, "--kb", str(kb_dir), "docs", "list", "--json")
    assert [d["id"] for d in json.loads(out)] == ["a.txt", "c.txt"]
    code, out, _ = _run(capsys, "--kb", str(kb_dir), "search", "行政执法投诉举报受理机制", "--json")
    assert all(r["doc_id"] != "b.md" for r in json.loads(out)["results"])


def test_deleting_an_unknown_document_is_a_clear_error(capsys, kb_dir, tiny_corpus):
    _ingest(capsys, kb_dir, tiny_corpus)
    code, out, err = _run(capsys, "--kb", str(kb_dir), "docs", "delete", "no/such.txt")
    assert code == 2
    assert "error:" in err and "no document 'no/such.txt'" in err
    assert out == ""
    with pytest.raises(SystemExit, match="needs a document id"):
        main(["--kb", str(kb_dir), "docs", "delete"])


def test_kb_folder_from_the_environment(capsys, monkeypatch, kb_dir, tiny_corpus):
    monkeypatch.setenv("FAZHI_KB", str(kb_dir))
    code, out, _ = _run(capsys, "ingest", str(tiny_corpus / "a.txt"), "--json", "--quiet")
    assert code == 0 and json.loads(out)["summary"]["added"] == 1
    assert (kb_dir / "fazhi.sqlite3").is_file()
    code, out, _ = _run(capsys, "docs", "list", "--json")
    assert [d["id"] for d in json.loads(out)] == ["a.txt"]


def test_unknown_command_and_bad_kind_are_argparse_errors(capsys, kb_dir):
    with pytest.raises(SystemExit) as exc:
        main(["--kb", str(kb_dir), "search", "x", "--kind", "memo"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["--kb", str(kb_dir), "frobnicate"])
