"""Parse one file in a worker process that can be stopped: bounded time and memory per input.

``prepare_bounded`` runs ``ingest.pipeline.prepare`` in a child process of a ``forkserver`` (``spawn`` where
there is none): the server process starts once with the ingest modules imported, each file gets a fresh fork of
it, so a parser that loops on a hostile file (deeply nested HTML, a zip bomb) is killed after
``Limits.parse_timeout`` seconds and its memory is capped at ``Limits.parse_memory_mb`` — the calling process
(the web server) never holds that work. Neither context re-runs the caller's ``__main__`` (the preload names the
ingest modules only), so any entry point is safe.
"""
from __future__ import annotations

import multiprocessing as mp
import threading
import time

from .limits import CANCELLED, DEFAULT_LIMITS, Limits, parse_out_of_memory, parse_timed_out
from .records import IngestError

_ctx = None
_ctx_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}  # parse_workers -> the slots shared by every caller


def _slot(n: int) -> threading.BoundedSemaphore:
    with _ctx_lock:
        return _slots.setdefault(max(1, int(n)), threading.BoundedSemaphore(max(1, int(n))))


def _context():
    global _ctx
    with _ctx_lock:
        if _ctx is None:
            try:
                ctx = mp.get_context("forkserver")
                ctx.set_forkserver_preload(["ingest.pipeline"])
            except ValueError:  # no forkserver on this platform
                ctx = mp.get_context("spawn")
            _ctx = ctx
        return _ctx


def _child(conn, target: str, args: tuple, kwargs: dict, memory_mb: int) -> None:
    """In the worker: cap the address space, run ``target`` ("module:function" of ingest), send ("ok", result)
    or ("error", message)."""
    if memory_mb:
        try:
            import resource

            cap = memory_mb * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        except (ImportError, ValueError, OSError):
            pass
    import importlib

    module, _, name = target.partition(":")
    try:
        out = ("ok", getattr(importlib.import_module(module), name)(*args, **kwargs))
    except IngestError as exc:
        out = ("error", str(exc))
    except MemoryError:
        out = ("memory", "")
    except Exception as exc:  # noqa: BLE001 - a parser tripping over a malformed file
        out = ("error", f"cannot read this file: {type(exc).__name__}: {exc}")
    try:
        conn.send(out)
    except MemoryError:
        conn.send(("memory", ""))
    finally:
        conn.close()


def _died(exitcode, limits: Limits) -> IngestError:
    return IngestError(f"解析进程意外退出（退出码 {exitcode}），可能超过了 {limits.parse_memory_mb} MB 的内存上限"
                       f"（FAZHI_PARSE_MEMORY_MB） / the parsing worker exited without a result (exit code {exitcode})")


def prepare_bounded(doc_id: str, data: bytes, suffix: str, manifest_row: dict | None = None, overrides=None,
                    progress: bool | None = None, limits: Limits = DEFAULT_LIMITS, cancel: threading.Event | None = None):
    """``ingest.pipeline.prepare`` under ``limits``: in a worker process stopped after ``parse_timeout`` seconds
    (or when ``cancel`` is set); in this process when ``parse_timeout`` is 0. Raises IngestError.

    ``progress`` may only be True (the worker draws its own terminal bar) — a callback cannot cross processes."""
    kwargs = {"overrides": overrides, "progress": progress if progress is True else None, "limits": limits}
    return run_bounded("ingest.pipeline:prepare", (doc_id, data, suffix, manifest_row), kwargs, limits, cancel)


def extract_text_bounded(data: bytes, suffix: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """The cleaned text of one file (``ingest.pipeline.extract_text``) under ``limits``, as above."""
    return run_bounded("ingest.pipeline:extract_text", (data, suffix), {"limits": limits}, limits)


def run_bounded(target: str, args: tuple, kwargs: dict, limits: Limits, cancel: threading.Event | None = None):
    if not limits.parse_timeout:
        import importlib

        module, _, name = target.partition(":")
        return getattr(importlib.import_module(module), name)(*args, **kwargs)
    with _slot(limits.parse_workers):  # at most parse_workers workers at once: memory stays bounded
        return _run_in_worker(target, args, kwargs, limits, cancel)


def _run_in_worker(target: str, args: tuple, kwargs: dict, limits: Limits, cancel: threading.Event | None):
    ctx = _context()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, target, args, kwargs, limits.parse_memory_mb), daemon=True)
    proc.start()
    send.close()
    deadline = time.monotonic() + limits.parse_timeout
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise IngestError(CANCELLED)
            left = deadline - time.monotonic()
            if left <= 0:
                raise parse_timed_out(limits.parse_timeout)
            if recv.poll(min(left, 0.2)):
                try:
                    kind, value = recv.recv()
                except (EOFError, OSError):  # the worker died without an answer
                    proc.join(5)
                    raise _died(proc.exitcode, limits) from None
                if kind == "ok":
                    return value
                if kind == "memory":
                    raise parse_out_of_memory(limits.parse_memory_mb)
                raise IngestError(value)
            if not proc.is_alive() and not recv.poll(0):
                raise _died(proc.exitcode, limits)
    finally:
        recv.close()
        if proc.is_alive():
            proc.kill()
        proc.join(5)
