"""Request guards (issue 16): uploads bounded as their bytes arrive (chunked or not, every route that takes a
file), writes without login only from a same-origin page on a loopback Host, wrong passwords throttled."""
from __future__ import annotations

import select
import socket
import time

import pytest

from conftest import TINY_REPORT, write_tiny_corpus

fastapi = pytest.importorskip("fastapi", reason="the web extra is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from assistant.delivery.api import Service, create_api  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from vectorstore.kb import KnowledgeBase  # noqa: E402

LIMIT = 2**20  # a 1 MB file limit for these tests
USER, PASSWORD = "guard", "pw-guard-1"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    folder = tmp_path_factory.mktemp("guard")
    src = write_tiny_corpus(folder / "src")
    kb = KnowledgeBase(folder / "kb", max_bytes=LIMIT)
    kb.ingest([src], progress=False)
    a = Assistant(Settings(kb=folder / "kb", corpus=src, login_attempts=3, login_window=60), kb=kb)
    yield a
    kb.close()


def stream_chunked(port: int, path: str, field: str, filename: str, total: int, extra: str = ""):
    """POST a multipart body of ``total`` bytes with Transfer-Encoding: chunked (no Content-Length), 64 KB at a
    time, stopping as soon as the server answers. Returns (status line, bytes sent before the answer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)  # what is "sent" is close to what arrived
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: multipart/form-data; boundary=bnd\r\n" + extra + "\r\n")
    sock.sendall(head.encode())
    part = (f'--bnd\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: text/plain\r\n\r\n").encode()
    sent, reply = 0, b""
    block = ("全年办理行政复议案件12件。" * 3000).encode()[: 64 * 1024]
    try:
        payload = part
        while sent < total:
            chunk = payload or block
            payload = b""
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
            if select.select([sock], [], [], 0.005)[0]:
                break
        else:
            tail = b"\r\n--bnd--\r\n"
            sock.sendall(f"{len(tail):x}\r\n".encode() + tail + b"\r\n0\r\n\r\n")
        sock.settimeout(120)
        reply = sock.recv(4096)
    except (BrokenPipeError, ConnectionResetError):
        try:
            reply = sock.recv(4096)
        except OSError:
            pass
    finally:
        sock.close()
    return reply.split(b"\r\n", 1)[0], sent


@pytest.mark.parametrize("path,field", [("/api/documents", "files"), ("/api/review", "file")])
def test_a_chunked_upload_is_refused_as_its_bytes_pass_the_limit(assistant, path, field):
    from eval.load import serve

    before = assistant.kb.documents()
    with serve(assistant, app="api") as base:
        port = int(base.rsplit(":", 1)[1])
        status, sent = stream_chunked(port, path, field, "big.txt", 40 * LIMIT)
    assert status.startswith(b"HTTP/1.1 413"), status
    assert sent < 4 * LIMIT, f"{sent / 2**20:.1f} MB were received before the refusal"
    assert assistant.kb.documents() == before


def test_the_web_pages_upload_route_is_bounded_too(assistant):
    pytest.importorskip("gradio", reason="the web extra is not installed")
    import http.client
    from urllib.parse import urlencode

    from eval.load import serve

    with serve(assistant, auth=f"{USER}:{PASSWORD}") as base:  # the web app: API and Gradio
        port = int(base.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/login", urlencode({"username": USER, "password": PASSWORD}),
                     {"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        cookies = "; ".join(v.split(";", 1)[0] for k, v in resp.getheaders() if k.lower() == "set-cookie")
        resp.read()
        conn.close()
        assert resp.status == 200 and cookies
        status, sent = stream_chunked(port, "/gradio_api/upload", "files", "big.txt", 40 * LIMIT,
                                      f"Cookie: {cookies}\r\n")
    assert status.startswith(b"HTTP/1.1 413"), status
    assert sent < 4 * LIMIT


def test_a_json_body_is_bounded_before_it_is_parsed(assistant):
    c = TestClient(create_api(Service(assistant)), base_url="http://127.0.0.1")
    r = c.post("/api/search", content=b'{"query": "' + b"a" * (5 * 2**20) + b'"}',
               headers={"content-type": "application/json"})
    assert r.status_code == 413


# ---- same origin without login -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def open_api(assistant):
    return TestClient(create_api(Service(assistant)), base_url="http://127.0.0.1:7860")


def _upload(c, name, headers):
    return c.post("/api/documents", files=[("files", (name, TINY_REPORT.replace("甲县", "庚县").encode(), "text/plain"))],
                  headers=headers)


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},                      # a page of another site, through the user's browser
    {"Referer": "http://evil.example/page.html"},
    {"Origin": "null"},                                      # a sandboxed frame or a file:// page
    {"Host": "evil.example:7860"},                           # DNS rebinding: our address under another name
    {"Host": "evil.example:7860", "Origin": "http://evil.example:7860"},
])
def test_without_login_a_cross_site_write_is_refused(assistant, open_api, headers):
    before = assistant.kb.documents()
    r = _upload(open_api, "cross.txt", headers)
    assert r.status_code == 403, r.text
    assert "跨站" in r.json()["detail"] or "本机" in r.json()["detail"]
    assert open_api.delete("/api/documents/a.txt", headers=headers).status_code == 403
    assert open_api.patch("/api/documents/a.txt", json={"title": "x"}, headers=headers).status_code == 403
    assert assistant.kb.documents() == before


def test_without_login_this_machines_page_and_curl_may_write(assistant, open_api):
    r = _upload(open_api, "same.txt", {"Origin": "http://127.0.0.1:7860"})
    assert r.status_code == 200 and r.json()["files"][0]["status"] in ("added", "duplicate"), r.text
    assert open_api.delete("/api/documents/uploads/same.txt").status_code in (200, 404)  # curl: no Origin
    # reading from another origin is not a write (and the browser's CORS keeps the answer from that page)
    assert open_api.post("/api/search", json={"query": "行政复议"}, headers={"Origin": "http://evil.example"}).status_code == 200


# ---- wrong passwords -----------------------------------------------------------------------------------

def test_repeated_wrong_passwords_are_throttled(assistant):
    c = TestClient(create_api(Service(assistant), [(USER, PASSWORD)]))
    for _ in range(3):
        assert c.get("/api/documents", auth=(USER, "wrong")).status_code == 401
    r = c.get("/api/documents", auth=(USER, PASSWORD))  # even the right password waits now
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "密码错误次数过多" in r.json()["detail"]
    assert c.get("/api/health").status_code == 200  # health needs no login and is not throttled


def test_a_right_password_clears_the_count(assistant):
    c = TestClient(create_api(Service(assistant), [(USER, PASSWORD)]))
    for _ in range(2):
        assert c.get("/api/documents", auth=(USER, "wrong")).status_code == 401
    assert c.get("/api/documents", auth=(USER, PASSWORD)).status_code == 200
    for _ in range(2):
        assert c.get("/api/documents", auth=(USER, "wrong")).status_code == 401
    assert c.get("/api/documents", auth=(USER, PASSWORD)).status_code == 200


def test_the_web_login_form_is_throttled(assistant):
    pytest.importorskip("gradio", reason="the web extra is not installed")
    from assistant.delivery.web import create_app

    with TestClient(create_app(assistant, [(USER, PASSWORD)])) as c:
        codes = [c.post("/login", data={"username": USER, "password": "nope"}).status_code for _ in range(3)]
        assert all(400 <= s < 500 and s != 429 for s in codes), codes
        r = c.post("/login", data={"username": USER, "password": PASSWORD})
        assert r.status_code == 429, r.status_code


def test_the_page_before_login_shows_nothing_of_the_knowledge_base(assistant):
    pytest.importorskip("gradio", reason="the web extra is not installed")
    from assistant.delivery.web import create_app

    docs = assistant.kb.documents()
    secrets = {d["issuer"] for d in docs if d.get("issuer")} | {d["title"] for d in docs if d.get("title")} \
        | {d["region"] for d in docs if d.get("region")}
    assert secrets
    with TestClient(create_app(assistant, [(USER, PASSWORD)])) as c:
        html = c.get("/").text
        assert c.get("/").status_code == 200
        leaked = sorted(s for s in secrets if s in html)
        assert not leaked, leaked
        for path in ("/config", "/gradio_api/info"):
            assert c.get(path).status_code == 401
