"""The JSON HTTP API (FastAPI routes beside the Gradio UI), its auth, the serialised knowledge-base
writer, follow-up rewriting and the web app's start-up rules — over a tiny knowledge base built here."""
from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import TINY_REPORT, write_tiny_corpus

fastapi = pytest.importorskip("fastapi", reason="the web extra is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from assistant.delivery.api import Service, create_api, filters_from_json, parse_auth, standalone_question  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from vectorstore.kb import KnowledgeBase  # noqa: E402

EXTRA_REPORT = (
    "戊市司法局2023年法治政府建设情况报告\n"
    "2023年，戊市司法局扎实推进法治政府建设。\n"
    "一、推进行政复议体制改革\n"
    "建成智慧复议平台，全年在线受理行政复议申请418件，按期办结率100%。\n"
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    src = write_tiny_corpus(folder / "src")
    kb = KnowledgeBase(folder / "kb")
    kb.ingest([src], progress=False)
    assistant = Assistant(Settings(kb=folder / "kb", corpus=src), kb=kb)
    yield assistant
    kb.close()


@pytest.fixture(scope="module")
def client(tiny):
    return TestClient(create_api(Service(tiny)), base_url="http://127.0.0.1")  # no login: writes from this machine


def test_ask_returns_the_answer_record(client):
    r = client.post("/api/ask", json={"question": "甲县司法局全年评查了多少卷行政执法案卷？"})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["mode"] == "ask" and not a["refused"]
    assert "46卷" in a["text"] and "[1]" in a["text"]
    s = a["sources"][0]
    assert s["doc_id"] == "a.txt" and s["quote"] in TINY_REPORT
    assert {"number", "title", "issuer", "year", "heading_path", "page", "context_before", "context_after"} <= s.keys()


def test_ask_modes_filters_and_errors(client):
    r = client.post("/api/ask", json={"mode": "compare", "question": "其他单位是如何开展行政执法监督的？"})
    assert r.status_code == 200 and r.json()["mode"] == "compare"
    r = client.post("/api/ask", json={"mode": "quiz", "question": "行政规范性文件合法性审核", "n": 2})
    assert r.status_code == 200 and len(r.json()["quiz"]) <= 2
    # a filter that excludes the only document that answers: refused, not answered from elsewhere
    r = client.post("/api/ask", json={"question": "甲县司法局全年评查了多少卷行政执法案卷？", "filters": {"kind": ["law"]}})
    assert r.status_code == 200 and "46卷" not in r.json()["text"]
    assert client.post("/api/ask", json={"mode": "poem", "question": "x"}).status_code == 422
    assert client.post("/api/ask", json={"question": "  "}).status_code == 422
    assert client.post("/api/ask", json={"question": "x", "filters": {"kind": "novel"}}).status_code == 422
    assert client.post("/api/ask", json={"question": "x", "filters": {"year": "abc"}}).status_code == 422


def test_ask_with_history_rewrites_the_follow_up(client):
    r = client.post("/api/ask", json={"question": "那它的投诉多少个工作日内办结？",
                                      "history": ["乙市人民政府关于加强行政执法监督工作的意见有哪些主要任务？"]})
    a = r.json()
    assert a["standalone_question"].startswith("那乙市") or "乙市" in a["standalone_question"]
    assert "7个工作日" in a["text"]


def test_rewrite_only_for_question_modes(tiny):
    service = Service(tiny)
    prev = ["甲县司法局2020年全年评查了多少卷行政执法案卷？"]
    assert service.rewrite("那2021年呢？", prev, "ask").startswith("甲县司法局2021年")
    assert service.rewrite("那2021年呢？", prev, "quiz") == "那2021年呢？"
    assert service.rewrite("核对：它评查案卷46卷。", prev, "check") == "核对：它评查案卷46卷。"


def test_search_check_draft(client):
    r = client.post("/api/search", json={"query": "合法性审核时间", "k": 3, "filters": {"kind": "law"}})
    res = r.json()["results"]
    assert r.status_code == 200 and 1 <= len(res) <= 3
    assert all(h["kind"] == "law" for h in res) and res[0]["doc_id"] == "c.txt"
    assert {"rank", "score", "chunk_id", "heading_path", "start", "end", "text"} <= res[0].keys()

    r = client.post("/api/check", json={"claim": "甲县司法局全年评查案卷46卷。"})
    a = r.json()
    assert a["mode"] == "check" and a["claims"][0]["verdict"] == "supported" and a["sources"]
    r = client.post("/api/check", json={"claim": "甲县司法局全年评查案卷50卷。"})
    assert r.json()["claims"][0]["verdict"] == "contradicted"

    r = client.post("/api/draft", json={"topic": "严格规范公正文明执法", "agency": "某某区司法局"})
    a = r.json()
    assert a["mode"] == "draft" and a["draft"] and "[1]" in a["text"]


def test_document_lifecycle_upload_answer_patch_reingest_delete(client):
    r = client.get("/api/documents")
    before = {d["id"] for d in r.json()["documents"]}
    assert {"a.txt", "b.md", "c.txt"} <= before

    r = client.post("/api/documents", files=[("files", ("wushi.txt", EXTRA_REPORT.encode("utf-8"), "text/plain")),
                                             ("files", ("broken.pdf", b"not a pdf", "application/pdf")),
                                             ("files", ("copy.txt", TINY_REPORT.encode("utf-8"), "text/plain")),
                                             ("files", ("notes.xlsx", b"PK..", "application/octet-stream"))],
                    data={"region": "戊市"})
    assert r.status_code == 200, r.text
    files = {f["path"]: f for f in r.json()["files"]}
    assert files["wushi.txt"]["status"] == "added" and files["wushi.txt"]["doc_id"] == "uploads/wushi.txt"
    assert files["wushi.txt"]["chunks"] >= 1
    assert files["broken.pdf"]["status"] == "error" and "PDF" in files["broken.pdf"]["message"]
    assert files["copy.txt"]["status"] == "duplicate" and "a.txt" in files["copy.txt"]["message"]
    assert files["notes.xlsx"]["status"] == "error"
    assert r.json()["summary"]["added"] == 1 and r.json()["summary"]["error"] == 2

    a = client.post("/api/ask", json={"question": "戊市司法局全年在线受理了多少件行政复议申请？"}).json()
    assert "418件" in a["text"] and a["sources"][0]["doc_id"] == "uploads/wushi.txt"

    # the same file again is unchanged; everything failing is a 422
    r = client.post("/api/documents", files=[("files", ("wushi.txt", EXTRA_REPORT.encode("utf-8"), "text/plain"))])
    assert r.json()["files"][0]["status"] == "unchanged"
    r = client.post("/api/documents", files=[("files", ("x.pdf", b"junk", "application/pdf"))])
    assert r.status_code == 422

    r = client.patch("/api/documents/uploads/wushi.txt", json={"year": 2023, "issuer": "戊市司法局", "kind": "report"})
    assert r.status_code == 200 and r.json()["year"] == 2023 and r.json()["region"] == "戊市"
    assert client.patch("/api/documents/uploads/wushi.txt", json={"year": "二〇二三"}).status_code == 422
    assert client.patch("/api/documents/uploads/wushi.txt", json={"text": "x"}).status_code == 422
    assert client.patch("/api/documents/nope.txt", json={"year": 2020}).status_code == 404
    r = client.post("/api/search", json={"query": "智慧复议平台", "filters": {"year": "2023", "issuer": "戊市"}})
    assert r.json()["results"] and r.json()["results"][0]["doc_id"] == "uploads/wushi.txt"

    r = client.post("/api/documents/uploads/wushi.txt:reingest")
    assert r.status_code == 200 and r.json()["status"] == "replaced"
    d = next(d for d in client.get("/api/documents").json()["documents"] if d["id"] == "uploads/wushi.txt")
    assert d["year"] == 2023 and d["issuer"] == "戊市司法局"  # metadata edits survive a re-ingest
    r = client.post("/api/documents/a.txt:reingest")  # a corpus file: re-read from the corpus folder
    assert r.status_code == 200 and r.json()["status"] == "replaced"

    r = client.delete("/api/documents/uploads/wushi.txt")
    assert r.status_code == 200 and r.json()["chunks"] >= 1
    assert client.delete("/api/documents/uploads/wushi.txt").status_code == 404
    assert {d["id"] for d in client.get("/api/documents").json()["documents"]} == before


def test_export_endpoint(client):
    a = client.post("/api/ask", json={"question": "甲县司法局全年评查了多少卷行政执法案卷？"}).json()
    r = client.post("/api/export?format=docx", json=a)
    assert r.status_code == 200 and r.content[:2] == b"PK"
    from docx import Document

    paras = [p.text for p in Document(io.BytesIO(r.content)).paragraphs]
    assert any(p.endswith("、参考来源") for p in paras) and any(p.startswith("[1] ") for p in paras)
    r = client.post("/api/export?format=md", json=a)
    assert r.status_code == 200 and "## 参考来源" in r.text
    assert client.post("/api/export?format=pdf", json=a).status_code == 422


def test_auth_required_when_configured(tiny):
    c = TestClient(create_api(Service(tiny), parse_auth("alice:s3cret,bob:pw2")))
    assert c.get("/api/documents").status_code == 401
    assert c.get("/api/documents").headers["www-authenticate"].startswith("Basic")
    assert c.post("/api/ask", json={"question": "x"}).status_code == 401
    assert c.get("/api/documents", auth=("alice", "wrong")).status_code == 401
    assert c.get("/api/documents", auth=("alice", "s3cret")).status_code == 200
    assert c.delete("/api/documents/a.txt", auth=("eve", "s3cret")).status_code == 401
    assert c.get("/api/health").status_code == 200  # liveness only, nothing of the knowledge base


def test_parse_auth_and_filters():
    assert parse_auth(None) == [] and parse_auth("") == []
    assert parse_auth("u:p, v:a:b") == [("u", "p"), ("v", "a:b")]
    with pytest.raises(ValueError):
        parse_auth("nopassword")
    f = filters_from_json({"issuer": "甲县,乙市", "year": "2018-2021", "kind": "report"})
    assert f.issuer == ["甲县", "乙市"] and (f.year_from, f.year_to) == (2018, 2021) and f.kind == ["report"]
    assert filters_from_json({"year": 2020}).year_to == 2020
    assert filters_from_json({}) is None and filters_from_json({"issuer": []}) is None


def test_follow_up_rewriting_rules(tiny):
    r = tiny.retriever
    prev = ["甲县司法局2020年全年评查了多少卷行政执法案卷？"]
    assert standalone_question("那2021年呢？", prev, r) == "甲县司法局2021年全年评查了多少卷行政执法案卷？"
    assert standalone_question("那乙市呢？", prev, r).startswith("乙市")
    out = standalone_question("它发现并整改了多少个问题？", prev, r)
    assert out.startswith("甲县") and out.endswith("发现并整改了多少个问题？")
    assert standalone_question("那召开了几次专题会议？", prev, r) == "甲县司法局召开了几次专题会议？"
    # a complete question, or one naming its own subject, is left alone
    q = "丙省行政规范性文件合法性审核的时间是多久？"
    assert standalone_question(q, prev, r) == q
    q = "其他单位是如何开展行政执法监督的？"
    assert standalone_question(q, prev, r) == q
    assert standalone_question("行政处罚的简易程序", prev, r) == "行政处罚的简易程序"  # short, but a new topic
    assert standalone_question("那2021年呢？", [], r) == "那2021年呢？"


class _Recorder:
    def __init__(self, inner):
        self.inner, self.active, self.peak = inner, 0, 0
        self.lock = threading.Lock()

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name not in ("delete", "update_metadata", "documents"):
            return attr
        return self.wrap(attr)

    def wrap(self, attr):
        def wrapped(*a, **kw):
            with self.lock:
                self.active += 1
                self.peak = max(self.peak, self.active)
            try:
                time.sleep(0.02)
                return attr(*a, **kw)
            finally:
                with self.lock:
                    self.active -= 1
        return wrapped


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url, method="GET", body=None, headers=None, files=None):
    data = None
    headers = dict(headers or {})
    if files:
        boundary = "----fazhi-test-boundary"
        parts = []
        for name, (fname, content) in files:
            parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{fname}\"\r\n"
                         "Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
        data = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_concurrent_requests_queue_around_the_single_writer(tiny):
    """Many clients at once on a real server: uploads, deletes, questions and searches all succeed, and
    the knowledge base never sees two commits or reads at the same time (an upload's parsing and embedding
    run beside them by design; only its commit is serialised)."""
    import uvicorn

    service = Service(tiny)
    recorder = _Recorder(tiny.kb)
    service.kb = recorder
    real_commit = tiny.kb.store.commit_document
    tiny.kb.store.commit_document = recorder.wrap(real_commit)
    app = create_api(service, [("u", "p")])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()}
    docs = [(f"c{i}.txt", (EXTRA_REPORT.replace("418", str(500 + i)) + f"附注{i}。\n").encode()) for i in range(4)]
    try:
        jobs = []
        with ThreadPoolExecutor(max_workers=10) as pool:
            for name, content in docs:
                jobs.append(pool.submit(_request, base + "/api/documents", "POST", headers=auth,
                                        files=[("files", (name, content))]))
                jobs.append(pool.submit(_request, base + "/api/ask", "POST",
                                        {"question": "甲县司法局全年评查了多少卷行政执法案卷？"}, auth))
                jobs.append(pool.submit(_request, base + "/api/search", "POST", {"query": "智慧复议平台"}, auth))
                jobs.append(pool.submit(_request, base + "/api/documents", headers=auth))
            results = [j.result() for j in jobs]
        assert all(code == 200 for code, _ in results), [r for r in results if r[0] != 200]
        uploads = [body for code, body in results if isinstance(body, dict) and "files" in body]
        assert sorted(f["status"] for b in uploads for f in b["files"]) == ["added"] * 4
        with ThreadPoolExecutor(max_workers=4) as pool:
            deleted = list(pool.map(lambda d: _request(base + f"/api/documents/uploads/{d[0]}", "DELETE", headers=auth), docs))
        assert all(code == 200 for code, _ in deleted)
        assert recorder.peak == 1
        assert _request(base + "/api/documents")[0] == 401
    finally:
        tiny.kb.store.commit_document = real_commit
        server.should_exit = True
        t.join(10)


def test_bind_rules_without_login():
    from assistant.delivery.web import resolve_bind

    assert resolve_bind("0.0.0.0", []) [0] == "127.0.0.1" and resolve_bind("0.0.0.0", [])[1]
    assert resolve_bind(None, []) == ("127.0.0.1", None)
    assert resolve_bind("0.0.0.0", [("u", "p")]) == ("0.0.0.0", None)


def test_web_app_serves_offline_with_login(tiny, no_network):
    """The mounted app: UI and API behind the same login; no outside connection is attempted."""
    from assistant.delivery.web import create_app

    app = create_app(tiny, "alice:s3cret")
    with TestClient(app) as c:
        assert c.get("/api/documents").status_code == 401
        assert c.get("/api/documents", auth=("alice", "s3cret")).status_code == 200
        page = c.get("/")
        assert page.status_code == 200
        assert "googleapis" not in page.text and "cdn.jsdelivr" not in page.text
        assert c.get("/config").status_code in (401, 403)
        r = c.post("/login", data={"username": "alice", "password": "s3cret"})
        assert r.status_code == 200
        cfg = c.get("/config")
        assert cfg.status_code == 200 and "法治政府建设报告助手" in cfg.text
        assert "fonts.googleapis" not in c.get("/theme.css").text
    assert no_network == []


def test_cli_serve_accepts_auth(monkeypatch, tmp_path):
    """`fazhi serve --auth` reaches launch() with the login set (launch itself is replaced here)."""
    import assistant.delivery.commands as commands
    from assistant.delivery.cli import main

    seen = {}

    def fake_launch(assistant, before_serve=None):
        seen["auth"] = assistant.settings.auth
        seen["host"] = assistant.settings.host
        seen["documents"] = len(assistant.kb.store.documents())  # first start: built before the app serves
        if before_serve:
            before_serve()  # hands the notice page's port over
        return 0

    import assistant.delivery.web as web

    monkeypatch.setattr(web, "launch", fake_launch)
    src = write_tiny_corpus(tmp_path / "src")
    assert main(["--kb", str(tmp_path / "kb"), "serve", "--corpus", str(src), "--auth", "u:p", "--port", "7999"]) == 0
    assert seen == {"auth": "u:p", "host": "127.0.0.1", "documents": 3}
    assert commands  # imported for the parser


def test_answer_rendering_marks_flags_and_escapes():
    """The chat HTML: markers link to the sources beside the answer, unsupported statements are marked,
    dropped ones listed, and nothing from a question or a document is injected as HTML."""
    from assistant.delivery.web import conversation_html

    answer = {
        "mode": "ask", "question": "q", "refused": False,
        "text": "甲县评查案卷46卷[1]。\n【未经来源证实】甲县评查案卷100卷[1]。",
        "sources": [{"number": 1, "doc_id": "a.txt", "title": "甲县<报告>", "issuer": "甲县司法局", "year": 2020,
                     "kind": "report", "heading_path": ["二、执法"], "page": 4, "start": 0, "end": 9,
                     "quote": "评查案卷46卷", "context_before": "全年", "context_after": "，发现问题", "doc_number": ""}],
        "flags": [{"sentence": "全年评查案卷${x}{{y}}卷。", "reason": "number_mismatch", "action": "dropped", "markers": [1]}],
    }
    html = conversation_html([{"id": 1, "mode": "ask", "question": "<script>alert(1)</script>", "standalone": "q",
                               "status": "done", "answer": answer}])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'class="fz-cite" data-n="1"' in html and 'class="fz-src" data-n="1"' in html
    assert "全年<mark>评查案卷46卷</mark>，发现问题" in html and "第4页" in html and "二、执法" in html
    assert "《甲县&lt;报告&gt;》" in html
    assert 'class="fz-unsup"' in html and "fz-unsup-badge" in html
    assert "fz-flags" in html and "已删除" in html and "数字与来源不符" in html
    assert "${" not in html and "{{" not in html  # gr.HTML's template syntax is neutralised
