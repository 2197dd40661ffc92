"""ScriptedOpenAIServer: a TEST DOUBLE of an OpenAI-compatible LLM server (no model runs here).

A real LLM cannot run in the test environment, so this small HTTP server speaks the
chat-completions protocol and answers with text the test scripted beforehand:

    with ScriptedOpenAIServer() as server:
        server.push("答案。[1]")                       # next reply (streamed in small pieces if asked to)
        server.push(["答", "案。", "[1]"])             # a streamed reply in exactly these pieces
        server.push(ScriptedReply(status=500, text="boom"))   # an HTTP error
        ... settings.llm_base_url = server.base_url ...
        server.requests[-1].body["messages"]          # what the client sent

Implements POST /v1/chat/completions (non-streaming JSON and streaming SSE ``data: {...}`` chunks
ending in ``data: [DONE]``) and GET /v1/models. Listens on 127.0.0.1 on a free port.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ScriptedReply:
    text: str | list[str] = ""  # a list = the exact streamed pieces
    status: int = 200  # != 200: an OpenAI-style error response with ``text`` as the message
    delay: float = 0.0  # seconds to wait before answering (timeouts)
    piece_chars: int = 4  # piece size when a str reply is streamed

    def pieces(self) -> list[str]:
        if isinstance(self.text, list):
            return list(self.text)
        t = self.text
        return [t[i: i + self.piece_chars] for i in range(0, len(t), self.piece_chars)] or [""]

    def full_text(self) -> str:
        return "".join(self.text) if isinstance(self.text, list) else self.text


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """Header value, case-insensitively."""
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None

    @property
    def messages(self) -> list[dict]:
        return self.body.get("messages", [])

    def message(self, role: str) -> str:
        """Text content of the first message with ``role`` (system, user)."""
        for m in self.messages:
            if m.get("role") == role:
                c = m.get("content")
                if isinstance(c, list):  # content parts
                    return "".join(p.get("text", "") for p in c if isinstance(p, dict))
                return c or ""
        return ""


class ScriptedOpenAIServer:
    """Test double of an OpenAI-compatible chat-completions server with scripted replies."""

    def __init__(self, models: tuple[str, ...] = ("scripted-test-model",)) -> None:
        self.models = models
        self.replies: queue.Queue[ScriptedReply] = queue.Queue()
        self.requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- scripting ----------------------------------------------------------------------------
    def push(self, *replies: str | list[str] | ScriptedReply) -> None:
        for r in replies:
            self.replies.put(r if isinstance(r, ScriptedReply) else ScriptedReply(r))

    @property
    def chat_requests(self) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def last_request(self) -> ReceivedRequest:
        return self.chat_requests[-1]

    # ---- lifecycle ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "ScriptedOpenAIServer":
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="scripted-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "ScriptedOpenAIServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _record(self, req: ReceivedRequest) -> None:
        with self._lock:
            self.requests.append(req)


class _Handler(BaseHTTPRequestHandler):
    owner: ScriptedOpenAIServer
    protocol_version = "HTTP/1.0"  # one response per connection; SSE ends when the connection closes

    def log_message(self, format, *args) -> None:  # noqa: A002 - quiet test output
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    # ---- helpers ------------------------------------------------------------------------------
    def _json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": {"message": message, "type": "scripted_error", "code": status}})

    # ---- routes -------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        self.owner._record(ReceivedRequest("GET", self.path, dict(self.headers)))
        if self.path.rstrip("/").endswith("/v1/models"):
            self._json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "scripted-test"} for m in self.owner.models]})
        else:
            self._error(404, f"no route GET {self.path}")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = {"_raw": raw.decode("utf-8", "replace")}
        self.owner._record(ReceivedRequest("POST", self.path, dict(self.headers), body))
        if not self.path.rstrip("/").endswith("/v1/chat/completions"):
            self._error(404, f"no route POST {self.path}")
            return
        try:
            reply = self.owner.replies.get_nowait()
        except queue.Empty:
            self._error(500, "ScriptedOpenAIServer: no scripted reply left for this request")
            return
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            self._error(reply.status, reply.full_text() or "scripted failure")
            return
        model = body.get("model") or self.owner.models[0]
        if body.get("stream"):
            self._stream(model, reply)
        else:
            self._json(200, {
                "id": "chatcmpl-scripted", "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.full_text()},
                             "finish_reason": "stop", "logprobs": None}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})

    def _stream(self, model: str, reply: ScriptedReply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        created = int(time.time())

        def chunk(delta: dict, finish: str | None = None) -> None:
            payload = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": created,
                       "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                                    "logprobs": None}]}
            self.wfile.write(f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode("utf-8"))
            self.wfile.flush()

        chunk({"role": "assistant", "content": ""})
        for piece in reply.pieces():
            chunk({"content": piece})
        chunk({}, "stop")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
