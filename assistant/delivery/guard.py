"""ASGI guards in front of the API and the web app: request bodies bounded as bytes arrive, writes without login
only from this machine's own page, repeated wrong passwords throttled.

``BodyLimit`` counts the body while it streams in — with a Content-Length or chunked — and answers 413 as soon
as it passes the limit: an oversized upload is never read whole, in memory or on disk (multipart files past
1 MB are spooled to disk by Starlette while they arrive, so a file at the limit costs disk, not memory).
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
USER_WRITES = ("/api/documents", "/api/jobs", "/api/feedback", "/api/conversations")  # API routes that change stored state


async def _send_json(send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")] + (headers or [])})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """413 once a request body passes ``limit_for(path)`` bytes (None: no limit)."""

    def __init__(self, app, limit_for, message) -> None:
        self.app, self.limit_for, self.message = app, limit_for, message

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope.get("path", ""))
        if limit is None:
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        try:
            declared = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        if declared > limit:  # refused before a byte of the body is read
            return await _send_json(send, 413, self.message(limit))
        state = {"received": 0, "refused": False, "started": False}

        async def limited_receive():
            if state["refused"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    state["refused"] = True
                    if not state["started"]:
                        state["started"] = True
                        await _send_json(send, 413, self.message(limit))
                    return {"type": "http.disconnect"}  # the app stops reading; what it sends is dropped
            return message

        async def guarded_send(message):
            if state["refused"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not state["refused"]:
                raise  # the app's own failure; a refused body's aborted parse is not one


def _host_of(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def changes_state(method: str, path: str) -> bool:
    """A request that can change stored state: the document, upload-job, feedback and conversation routes of the API and every call of the web
    page (its uploads, deletions and edits go through Gradio's own routes)."""
    return method in WRITE_METHODS and (path.startswith(USER_WRITES) or not path.startswith("/api/"))


class SameOrigin:
    """Without login: a write (``changes_state``: POST/PUT/PATCH/DELETE on documents, any call of the page) needs a loopback Host (no DNS rebinding) and, when the
    browser says where it comes from (Origin, else Referer), that origin is this same loopback address — a page
    of another site cannot add or delete documents through the user's browser. API clients (curl) send no
    Origin and stay welcome from this machine."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not changes_state(scope.get("method", ""), scope.get("path", "")):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        if _host_of(host) not in LOOPBACK_HOSTS:
            return await _send_json(send, 403, "未启用登录时只接受本机地址（127.0.0.1 / localhost）的写入请求 / without login, "
                                               "writes are accepted only with a loopback Host")
        origin = headers.get("origin") or headers.get("referer")
        if origin and origin != "null":
            o = urlsplit(origin)
            if (o.netloc or "").lower() != host.lower():
                return await _send_json(send, 403, "跨站请求被拒绝：未启用登录时只接受本页面发出的写入请求 / cross-site "
                                                   "request refused: without login, writes must come from this page")
        elif origin == "null":
            return await _send_json(send, 403, "跨站请求被拒绝 / cross-site request refused")
        return await self.app(scope, receive, send)


class LoginThrottle:
    """Wrong passwords counted per client address over a sliding window; past ``attempts`` the address is
    refused (429, Retry-After) until the oldest failure leaves the window."""

    def __init__(self, attempts: int, window: float) -> None:
        self.attempts, self.window = int(attempts), float(window)
        self._fails: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque:
        q = self._fails.setdefault(key, deque())
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: it may try now)."""
        if self.attempts <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            q = self._prune(key, now)
            if len(q) < self.attempts:
                return 0.0
            return max(1.0, self.window - (now - q[0]))

    def failed(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._prune(key, now).append(now)
            if len(self._fails) > 10_000:  # bounded memory under a spray of addresses
                for k in [k for k, q in self._fails.items() if not q][:5_000]:
                    del self._fails[k]

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)

    def refusal(self, seconds: float) -> str:
        return (f"密码错误次数过多，请 {seconds:.0f} 秒后再试 / too many wrong passwords, try again in {seconds:.0f} s")


class ThrottledLogin:
    """The web page's login form (``POST …/login``) under a ``LoginThrottle``: refused with 429 while the client
    address has too many recent failures; a 4xx answer counts as a failure, a 2xx/3xx clears the count."""

    def __init__(self, app, throttle: LoginThrottle) -> None:
        self.app, self.throttle = app, throttle

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or not scope.get("path", "").endswith("/login"):
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("?", 0))[0]
        wait = self.throttle.retry_after(client)
        if wait:
            return await _send_json(send, 429, self.throttle.refusal(wait), [(b"retry-after", str(int(wait)).encode())])

        async def watch(message):
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if 400 <= status < 500:
                    self.throttle.failed(client)
                elif status < 400:
                    self.throttle.succeeded(client)
            await send(message)

        return await self.app(scope, receive, watch)
