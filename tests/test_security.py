"""Access and safety.

- Uploads: allowed types only, the size limit, names sanitised (no path traversal), the file kept
  under the knowledge-base folder only.
- With auth configured, every page and API route of the running web app refuses an anonymous
  request (every route the app has is enumerated: a new route is covered automatically); only
  the login page and static assets are public.
- No network at run time: ingest, search, ask and the web start-up with every outbound connection
  (and name lookup) refused by a socket guard; and the CLI in a process with no network at all.
"""
from __future__ import annotations

import http.client
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, TINY_REPORT, write_tiny_corpus

fastapi = pytest.importorskip("fastapi", reason="the web extra is not installed")

USER, PASSWORD = "alice", "s3cret-pw"
EXTRA = (
    "亥县司法局2022年法治政府建设情况报告\n"
    "一、推进行政复议体制改革\n"
    "全年在线受理行政复议申请203件，按期办结率100%。\n"
)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    from assistant.service import Assistant
    from assistant.settings import Settings
    from vectorstore.kb import KnowledgeBase

    root = tmp_path_factory.mktemp("security")
    src = write_tiny_corpus(root / "src")
    kb = KnowledgeBase(root / "kb")
    kb.ingest([src], progress=False)
    yield Assistant(Settings(kb=root / "kb", corpus=src), kb=kb)
    kb.close()


@pytest.fixture(scope="module")
def api(assistant):
    from fastapi.testclient import TestClient

    from assistant.delivery.api import Service, create_api, parse_auth

    return TestClient(create_api(Service(assistant), parse_auth(f"{USER}:{PASSWORD}")))


def _files_outside(root: Path, kb_folder: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() and kb_folder not in p.parents}


# ---- uploads ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["tool.exe", "sheet.xlsx", "script.sh", "noextension", "report.pdf.exe",
                                  "page.php", "archive.zip", "report.docm"])  # .doc is now read (issue 12)
def test_upload_of_a_type_not_allowed_is_refused(api, assistant, name):
    before = assistant.kb.documents()
    r = api.post("/api/documents", auth=(USER, PASSWORD), files=[("files", (name, b"MZ\x90\x00 payload", "application/octet-stream"))])
    assert r.status_code == 422
    f = r.json()["files"][0]
    assert f["status"] == "error" and ("不支持的文件类型" in f["message"] or "unsupported file type" in f["message"])
    assert assistant.kb.documents() == before


def test_upload_over_the_size_limit_is_refused(api, assistant, monkeypatch):
    monkeypatch.setattr(assistant.kb, "max_bytes", 16 * 1024)
    before = assistant.kb.documents()
    r = api.post("/api/documents", auth=(USER, PASSWORD),
                 files=[("files", ("big.txt", (TINY_REPORT * 40).encode("utf-8"), "text/plain"))])
    assert r.status_code == 422
    assert "file too large" in r.json()["files"][0]["message"]
    assert assistant.kb.documents() == before


def test_a_200_mb_upload_is_refused_before_its_body_is_read(assistant):
    from eval.load import serve

    with serve(assistant, auth=f"{USER}:{PASSWORD}", app="api") as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            head = (f"POST /api/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: {_basic()['Authorization']}\r\n"
                    "Content-Type: multipart/form-data; boundary=b\r\n"
                    f"Content-Length: {200 * 2**20}\r\n\r\n")
            sock.sendall(head.encode() + b'--b\r\nContent-Disposition: form-data; name="files"; filename="huge.txt"\r\n\r\n')
            try:
                reply = sock.recv(200)  # only headers and a few bytes were sent: an answer now is a refusal
            except socket.timeout:
                reply = b""
    assert reply.startswith(b"HTTP/1.1 413"), reply


TRAVERSALS = ["../../../../tmp/{m}.txt", "..\\..\\..\\{m}.txt", "/etc/cron.d/{m}.txt", "C:\\Windows\\{m}.txt",
              "a/b/../../../../{m}.txt", "./.././{m}.txt", "....//....//{m}.txt"]


@pytest.mark.parametrize("pattern", TRAVERSALS)
def test_upload_names_cannot_escape_the_knowledge_base_folder(api, assistant, tmp_path, pattern):
    marker = f"fazhi-evil-{uuid.uuid4().hex[:8]}"
    name = pattern.format(m=marker)
    kb_folder = Path(assistant.kb.store.folder).resolve()
    outside_before = _files_outside(kb_folder.parent, kb_folder)
    content = EXTRA.replace("203", str(300 + len(pattern))).replace("亥县", f"亥县{len(pattern)}号").encode("utf-8")
    r = api.post("/api/documents", auth=(USER, PASSWORD), files=[("files", (name, content, "text/plain"))])
    assert r.status_code == 200, r.text
    f = r.json()["files"][0]
    assert f["status"] == "added", f
    doc_id = f["doc_id"]
    assert ".." not in doc_id.split("/") and not doc_id.startswith("/") and "\\" not in doc_id and ":" not in doc_id
    assert doc_id.endswith(f"{marker}.txt")
    # the only copy of the file is inside the knowledge-base folder
    assert _files_outside(kb_folder.parent, kb_folder) == outside_before
    kept = [p for p in kb_folder.rglob(f"*{marker}*") if p.is_file()]
    assert kept and all(kb_folder in p.resolve().parents for p in kept)
    for where in (Path("/tmp"), Path("/etc/cron.d"), ROOT, Path.cwd()):
        assert not list(where.glob(f"{marker}*")) if where.is_dir() else True
    assert api.delete(f"/api/documents/{doc_id}", auth=(USER, PASSWORD)).status_code == 200


def test_doc_id_field_cannot_escape_either(api, assistant):
    marker = f"fazhi-evil-{uuid.uuid4().hex[:8]}"
    kb_folder = Path(assistant.kb.store.folder).resolve()
    outside_before = _files_outside(kb_folder.parent, kb_folder)
    r = api.post("/api/documents", auth=(USER, PASSWORD), data={"doc_id": f"../../../{marker}.txt"},
                 files=[("files", ("x.txt", EXTRA.replace("203", "977").encode("utf-8"), "text/plain"))])
    f = r.json()["files"][0]
    assert f["status"] == "added" and ".." not in f["doc_id"] and f["doc_id"].endswith(f"{marker}.txt")
    assert _files_outside(kb_folder.parent, kb_folder) == outside_before
    assert not (kb_folder.parent.parent / f"{marker}.txt").exists()
    api.delete(f"/api/documents/{f['doc_id']}", auth=(USER, PASSWORD))


def test_knowledge_base_ids_are_sanitised_at_the_store_too(assistant):
    """Defence in depth: whatever name reaches KnowledgeBase.ingest_bytes, the id stays relative."""
    from ingest.pipeline import safe_doc_id
    from ingest.records import IngestError

    for raw, want in [("../../etc/passwd.txt", "etc/passwd.txt"), ("/abs/报告 2021.txt", "abs/报告 2021.txt"),
                      ("C:\\dir\\a.md", "dir/a.md"), ("a/./b/../c.txt", "a/b/c.txt"), ("x\x00y.txt", "x_y.txt"),
                      (".hidden.txt", "hidden.txt"), ("uploads/甲 县.pdf", "uploads/甲 县.pdf")]:
        assert safe_doc_id(raw) == want
    for raw in ("", "..", "../..", "/", "./."):
        with pytest.raises(IngestError, match="invalid file name"):
            safe_doc_id(raw)


# ---- auth on every route of the running web app ------------------------------------------------------

# reachable without login: the login page and what it needs to render, liveness, and the schema
PUBLIC = {
    "/", "/login", "/login/", "/logout", "/favicon.ico", "/robots.txt", "/manifest.json", "/theme.css",
    "/gradio_api/theme.css", "/static/{path:path}", "/assets/{path:path}", "/svelte/{path:path}",
    "/pwa_icon", "/pwa_icon/{size}", "/gradio_api/user", "/gradio_api/user/", "/gradio_api/token",
    "/gradio_api/token/", "/gradio_api/app_id", "/gradio_api/app_id/", "/gradio_api/startup-events",
    "/gradio_api/heartbeat/{session_hash}",  # keeps a browser session alive; carries no data
    "/gradio_api/cancel", "/gradio_api/reset", "/gradio_api/reset/",  # need a live session's random ids
    "/api/health", "/openapi.json", "/api/openapi.json",
    "/gradio_api/custom_component/{id}/{environment}/{type}/{file_name}",
}
SAMPLE_BODY = {"question": "甲县司法局全年评查了多少卷行政执法案卷？", "query": "行政执法", "claim": "甲县司法局全年评查案卷46卷。",
               "topic": "行政执法", "data": ["x"], "fn_index": 0, "session_hash": "abcdefgh", "mode": "ask", "text": "x"}


def _routes(app) -> list[tuple[str, str]]:
    """(method, path template) of every route, Gradio's mounted and included routers too."""
    out = []

    def walk(routes, prefix=""):
        for r in routes:
            kind = type(r).__name__
            if kind == "_IncludedRouter":
                walk(r.original_router.routes, prefix + (getattr(r.include_context, "prefix", "") or ""))
            elif kind == "Mount":
                walk(getattr(r, "_base_app", r).routes, prefix + r.path)
            elif hasattr(r, "path"):
                for m in sorted(getattr(r, "methods", None) or {"GET"}):
                    if m not in ("HEAD", "OPTIONS"):
                        out.append((m, prefix + r.path))
    walk(app.routes)
    return sorted(set(out))


def _http(port: int, method: str, path: str, body: dict | None = None, headers: dict | None = None):
    """(status, first bytes); a streamed 200 is reported without waiting for its end."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        streamed = "event-stream" in (resp.getheader("content-type") or "")
        return resp.status, b"" if streamed else resp.read(2000)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def live_web(assistant):
    pytest.importorskip("gradio", reason="the web extra is not installed")
    from assistant.delivery.web import create_app

    return create_app(assistant, f"{USER}:{PASSWORD}")


def test_every_page_and_api_route_refuses_an_anonymous_request(assistant, live_web):
    import threading
    import time

    import uvicorn

    from eval.load import free_port

    app = live_web
    routes = _routes(app)
    assert ("POST", "/api/ask") in routes and ("GET", "/config") in routes and ("POST", "/gradio_api/upload") in routes
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    titles = [d["title"] for d in assistant.kb.documents()]
    served = []
    try:
        for method, template in routes:
            path = re.sub(r"\{[^}]+\}", "x", template).replace("/x:reingest", "/a.txt:reingest")
            if template.startswith("/api/documents/"):
                path = template.replace("{doc_id:path}", "a.txt")
            status, body = _http(port, method, path, SAMPLE_BODY if method in ("POST", "PATCH", "PUT") else None)
            if template in PUBLIC:
                # public, but never with knowledge-base content
                assert not any(t.encode() in body for t in titles), (template, body[:200])
                continue
            if status in (401, 403):
                continue
            # anything else must not be the route working: the same call logged in gets the same refusal
            served.append((method, template, status))
        assert all(s in (404, 405, 422) for _, _, s in served), served
        # the logged-in browser and the API client do get in
        assert _http(port, "GET", "/api/documents", headers=_basic())[0] == 200
        assert _http(port, "POST", "/api/ask", SAMPLE_BODY, headers=_basic())[0] == 200
        assert _http(port, "GET", "/api/documents", headers=_basic("alice", "wrong"))[0] == 401
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/login", body=f"username={USER}&password={PASSWORD}",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        resp.read()
        cookie = "; ".join(c.split(";")[0] for c in resp.headers.get_all("set-cookie") or [])
        conn.close()
        assert resp.status == 200 and cookie
        status, body = _http(port, "GET", "/config", headers={"Cookie": cookie})
        assert status == 200 and "法治政府建设报告助手" in body.decode("utf-8", "replace")
    finally:
        server.should_exit = True
        thread.join(10)


def _basic(user: str = USER, pw: str = PASSWORD) -> dict:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}


def test_every_api_route_needs_credentials(api, assistant):
    """The JSON API alone (no Gradio): anonymous and wrong-password calls are refused on every route (401, or
    429 once the wrong passwords are throttled)."""
    from fastapi.testclient import TestClient

    from assistant.delivery.api import Service, create_api, parse_auth

    wrong_api = TestClient(create_api(Service(assistant), parse_auth(f"{USER}:{PASSWORD}")))  # its own throttle
    routes = [(m, p) for m, p in _routes(api.app) if p.startswith("/api/") and p not in PUBLIC]
    assert len(routes) >= 10
    for method, template in routes:
        path = template.replace("{doc_id:path}", "a.txt")
        for auth in (None, ("alice", "wrong"), ("mallory", PASSWORD)):
            r = wrong_api.request(method, path, json=SAMPLE_BODY if method in ("POST", "PATCH") else None, auth=auth)
            assert r.status_code in (401, 429), (method, path, auth, r.status_code)
            assert r.status_code == 429 or r.headers["www-authenticate"].startswith("Basic")
    assert api.get("/api/documents", auth=(USER, PASSWORD)).status_code == 200


def test_web_page_uploads_are_stored_under_the_knowledge_base_folder_only(assistant, live_web):
    from fastapi.testclient import TestClient

    app = live_web
    with TestClient(app) as c:
        assert c.post("/login", data={"username": USER, "password": PASSWORD}).status_code == 200
        r = c.post("/gradio_api/upload", files=[("files", ("web-upload.txt", EXTRA.encode("utf-8"), "text/plain"))])
        assert r.status_code == 200, r.text
        stored = [Path(p) for p in r.json()]
    kb_folder = Path(assistant.kb.store.folder).resolve()
    try:
        assert stored and all(kb_folder in p.resolve().parents for p in stored), stored
    finally:
        for p in stored:
            if kb_folder not in p.resolve().parents:
                p.unlink(missing_ok=True)


# ---- no network at run time ------------------------------------------------------------------------

@pytest.fixture
def sealed(monkeypatch, no_network):
    """``no_network`` plus name lookups and datagrams: nothing may leave the machine."""
    attempts = no_network
    real_getaddrinfo, real_sendto = socket.getaddrinfo, socket.socket.sendto

    def local(host) -> bool:
        host = host.decode() if isinstance(host, bytes) else str(host or "")
        return host in ("", "localhost", "::1", "0.0.0.0") or host.startswith("127.")

    def getaddrinfo(host, *args, **kwargs):
        if not local(host):
            attempts.append(("getaddrinfo", host))
            raise socket.gaierror(f"network disabled in tests: lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def sendto(self, data, *args):
        address = args[-1]
        if isinstance(address, tuple) and not local(address[0]):
            attempts.append(("sendto", address))
            raise OSError(f"network disabled in tests: datagram to {address!r}")
        return real_sendto(self, data, *args)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    yield attempts


def test_ingest_search_ask_and_web_start_up_with_the_network_sealed(tmp_path, sealed):
    """Everything a user does, from a fresh folder, with outbound connections refused."""
    from assistant.service import Assistant
    from assistant.settings import Settings
    from eval.load import request, serve
    from vectorstore.kb import KnowledgeBase
    from vectorstore.retrieve import Retriever

    src = write_tiny_corpus(tmp_path / "src")
    kb = KnowledgeBase(tmp_path / "kb")
    try:
        report = kb.ingest([src], progress=False)
        assert report.count("added") == 3
        assert kb.ingest_bytes("uploads/hai.txt", EXTRA.encode("utf-8")).status == "added"
        hits = Retriever(kb).search("行政执法案卷评查", k=3)
        assert hits and hits[0].chunk.doc_id == "a.txt"
        assistant = Assistant(Settings(kb=tmp_path / "kb", corpus=src), kb=kb)
        ans = assistant.run("ask", "亥县司法局全年在线受理了多少件行政复议申请？")
        assert not ans.refused and "203件" in ans.text
        for mode, q in [("compare", "其他单位是如何开展行政执法监督的？"), ("check", "甲县司法局全年评查案卷46卷。"),
                        ("quiz", "行政规范性文件合法性审核"), ("draft", "严格规范公正文明执法")]:
            assert assistant.run(mode, q).mode == mode
        app = "web" if importlib.util.find_spec("gradio") else "api"
        with serve(assistant, auth=f"{USER}:{PASSWORD}", app=app) as base:
            status, page = request(base + "/")
            assert status == 200
            status, body = request(base + "/api/ask", "POST", {"question": "甲县司法局全年评查了多少卷行政执法案卷？"},
                                   auth=(USER, PASSWORD))
            assert status == 200 and "46卷" in body["text"]
            status, body = request(base + "/api/documents", "POST", auth=(USER, PASSWORD),
                                   files=[("web.txt", EXTRA.replace("203", "204").replace("亥县", "子县").encode("utf-8"))])
            assert status == 200 and body["files"][0]["status"] == "added"
        assert kb.store.check() == {}
    finally:
        kb.close()
    assert sealed == [], f"outbound network attempts: {sealed}"


def test_cli_in_a_process_without_any_network(tmp_path):
    """The CLI in a network namespace of its own (no interface but a down loopback): ingest, search, ask."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -rn (user + network namespaces) is not available here")
    src = write_tiny_corpus(tmp_path / "src")
    env = dict(os.environ, PYTHONPATH=str(ROOT), ANONYMIZED_TELEMETRY="False", HF_HUB_OFFLINE="1")
    for k in ("FAZHI_KB", "FAZHI_CHROMA_URL", "FAZHI_LLM_BACKEND", "FAZHI_LLM_BASE_URL"):
        env.pop(k, None)
    script = (
        f"set -e; {sys.executable} -m assistant.delivery.cli --kb {tmp_path / 'kb'} ingest {src} --quiet; "
        f"{sys.executable} -m assistant.delivery.cli --kb {tmp_path / 'kb'} search '行政执法案卷评查' --k 2 --json; "
        f"{sys.executable} -m assistant.delivery.cli --kb {tmp_path / 'kb'} ask '甲县司法局全年评查了多少卷行政执法案卷？'"
    )
    out = subprocess.run([unshare, "-rn", "sh", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "added 3" in out.stdout and '"doc_id": "a.txt"' in out.stdout and "46卷" in out.stdout
