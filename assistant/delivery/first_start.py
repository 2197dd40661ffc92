"""First start of ``fazhi serve``: the knowledge base is built from the corpus while a notice page answers.

An empty knowledge base is built from the corpus folders before the assistant can answer (about a minute
and a half for the full sample corpus on two cores). Meanwhile a small page on the same address says so in
Chinese, with the progress and the time left (the terminal shows the same as a bar); ``/api/health``
answers 503 with the progress. When the build is done the web app takes the port over and the page reloads
itself into it. Nothing here needs Gradio, so the notice is up within seconds of the start.
"""
from __future__ import annotations

import html
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class BuildProgress:
    """What the notice page shows; written by the build thread, read by the page's requests."""

    folders: list[str] = field(default_factory=list)
    files_done: int = 0
    chunks_done: int = 0
    chunks_total: int = 0
    started: float = field(default_factory=time.monotonic)
    embedding_started: float | None = None
    finished: bool = False
    error: str | None = None

    def on_file(self, _result) -> None:
        self.files_done += 1

    def on_chunks(self, done: int, total: int) -> None:
        if self.embedding_started is None:
            self.embedding_started = time.monotonic()
        self.chunks_done, self.chunks_total = done, total

    def seconds_left(self) -> float | None:
        """Estimate from the embedding rate so far (None until there is one)."""
        if not self.embedding_started or not self.chunks_done or not self.chunks_total:
            return None
        rate = self.chunks_done / max(time.monotonic() - self.embedding_started, 1e-6)
        return max(0.0, (self.chunks_total - self.chunks_done) / rate)

    def snapshot(self) -> dict:
        out = asdict(self)
        out.pop("started")
        out.pop("embedding_started")
        out["elapsed_s"] = round(time.monotonic() - self.started, 1)
        left = self.seconds_left()
        out["seconds_left"] = None if left is None else round(left)
        out["percent"] = round(100 * self.chunks_done / self.chunks_total) if self.chunks_total else 0
        return out


def build(kb, folders: list[Path], progress: BuildProgress):
    """Ingest the corpus folders into the (empty) knowledge base, recording progress; returns the report."""
    progress.folders = [str(f) for f in folders]
    try:
        report = kb.ingest(folders, progress=True, on_file=progress.on_file, on_progress=progress.on_chunks)
    except Exception as exc:  # noqa: BLE001 - shown on the page and the terminal, the server still starts
        progress.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        progress.finished = True
    return report


NOTICE_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>法治政府建设报告助手 · 知识库正在构建</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC","Microsoft YaHei",sans-serif;background:#f8fafc;
color:#1e293b;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;border:1px solid #e2e8f0;border-radius:12px;padding:32px 40px;max-width:560px;
box-shadow:0 4px 16px rgba(15,23,42,.06)}
h1{font-size:22px;margin:0 0 12px;color:#b91c1c}
.bar{height:14px;background:#e2e8f0;border-radius:7px;overflow:hidden;margin:18px 0 8px}
.fill{height:100%;background:#dc2626;width:0;transition:width .6s}
p{line-height:1.7;margin:6px 0}.muted{color:#64748b;font-size:14px}
</style></head><body><main>
<h1>知识库正在构建…</h1>
<p>首次启动需要把语料目录中的文档切分并向量化（仅需一次），完成后本页会自动进入助手。</p>
<div class="bar"><div class="fill" id="fill" style="width:__PERCENT__%"></div></div>
<p id="status">__STATUS__</p>
<p class="muted">语料目录：__FOLDERS__</p>
</main>
<script>
async function poll(){
  try{
    const r = await fetch('/api/health', {cache:'no-store'});
    const d = await r.json();
    if (r.ok && d.status === 'ok') { location.reload(); return; }
    if (d.progress) {
      document.getElementById('fill').style.width = d.progress.percent + '%';
      document.getElementById('status').textContent = d.message;
    }
  } catch (e) { /* the web app is taking the port over: try again */ }
  setTimeout(poll, 2000);
}
setTimeout(poll, 2000);
</script></body></html>
"""


def status_text(p: dict) -> str:
    if p.get("error"):
        return f"构建出错：{p['error']}（助手仍会启动，可在“知识库”页重新上传）"
    if p.get("finished"):
        return "构建完成，正在启动助手…"
    if not p.get("chunks_total"):
        return f"正在读取和切分文档…已处理 {p['files_done']} 个文件，用时 {p['elapsed_s']:.0f} 秒"
    left = p.get("seconds_left")
    eta = f"，预计还需约 {left} 秒" if left is not None else ""
    return (f"正在向量化段落：{p['chunks_done']}/{p['chunks_total']}（{p['percent']}%）{eta}；"
            f"已用时 {p['elapsed_s']:.0f} 秒")


class NoticeServer:
    """The notice page on host:port until ``close()`` hands the port to the web app."""

    def __init__(self, host: str, port: int, progress: BuildProgress) -> None:
        self.progress = progress
        progress_ref = progress

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:  # quiet: the terminal shows the build's bar
                pass

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Retry-After", "5")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _answer(self) -> None:
                snap = progress_ref.snapshot()
                message = status_text(snap)
                if self.path.startswith("/api/"):
                    body = json.dumps({"status": "building", "detail": "知识库正在构建，请稍候 / knowledge base "
                                       "is being built", "message": message, "progress": snap},
                                      ensure_ascii=False).encode()
                    self._send(503, body, "application/json; charset=utf-8")
                    return
                page = (NOTICE_PAGE.replace("__PERCENT__", str(snap["percent"]))
                        .replace("__STATUS__", html.escape(message))
                        .replace("__FOLDERS__", html.escape("；".join(snap["folders"]) or "（未找到）")))
                self._send(200, page.encode(), "text/html; charset=utf-8")

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fazhi-notice", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
