"""Load test over loopback HTTP: N concurrent clients × M questions through ``POST /api/ask`` while a
document upload is being ingested.

    python -m eval.load [--clients 20] [--questions 25] [--kb PATH] [--corpus corpus]
                        [--questions-file eval/questions.jsonl] [--upload FILE] [--url http://host:port]
                        [--auth user:pw] [--max-seconds 1800] [--json]

Without ``--url`` the web app (``assistant.delivery.web.create_app``: the API and the Gradio UI, what
``fazhi serve`` runs; the bare API when the web extra is missing) is started in this process on a
free loopback port over ``--kb`` (built from ``--corpus`` first when empty).  Reports throughput,
p50/p95/max latency and errors, and checks that nothing is lost: every request is answered with
a well-formed answer to *its* question, the upload is listed and answerable afterwards.
"""
from __future__ import annotations

import argparse
import base64
import json
import random
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

from assistant.settings import default_corpus_paths

ROOT = Path(__file__).resolve().parents[1]

UPLOAD_DOC = (
    "酉市司法局2023年法治政府建设情况报告\n"
    "2023年，酉市司法局深入推进法治政府建设，现将有关情况报告如下。\n"
    "一、推进行政复议体制改革\n"
    "建成智慧复议平台，全年在线受理行政复议申请{n}件，按期办结率100%。\n"
    "二、加强行政执法监督\n"
    "开展行政执法案卷评查3次，评查案卷{m}卷，发现并整改问题17个。\n"
)
UPLOAD_QUESTION = "酉市司法局2023年在线受理了多少件行政复议申请？"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(assistant, auth: str | None = None, app: str = "web"):
    """The app on a free loopback port in a background thread; yields its base URL."""
    import uvicorn

    from assistant.delivery.api import Service, create_api, parse_auth

    asgi = None
    if app == "web":
        try:
            from assistant.delivery.web import create_app

            asgi = create_app(assistant, auth)
        except ImportError:
            asgi = None
    if asgi is None:
        asgi = create_api(Service(assistant), parse_auth(auth))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _headers(auth: tuple[str, str] | None) -> dict:
    if not auth:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()}


def request(url: str, method: str = "GET", body: dict | None = None, auth=None, timeout: float = 600,
            files: list[tuple[str, bytes]] | None = None) -> tuple[int, object]:
    """(status, parsed JSON or text); network failures are (0, message)."""
    headers = _headers(auth)
    data = None
    if files is not None:
        boundary = uuid.uuid4().hex
        parts = []
        for name, content in files:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                         f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
        data = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif body is not None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except OSError as exc:  # refused, reset, timed out
        return 0, f"{type(exc).__name__}: {exc}"
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


PREFIXES = ("", "请问，", "我想了解一下：", "麻烦查一下，", "培训中有学员问：")
SUFFIXES = ("", "请注明出处。", "具体情况如何？", "有哪些依据？")


def distinct_questions(questions: list[str], n: int, seed: int = 1) -> list[str]:
    """``n`` different question strings (phrasings of the given ones), so that no request is a
    repeat another one warmed up: a training room asks the same things in its own words."""
    variants = [f"{p}{q}{s}" for s in SUFFIXES for p in PREFIXES for q in questions]
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        batch = variants[:]
        rng.shuffle(batch)
        out += batch
    return out[:n]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def _answer_problem(question: str, status: int, body) -> str | None:
    """Why a response is not a well-formed answer to ``question`` (None when it is)."""
    if status != 200:
        return f"HTTP {status}: {str(body)[:200]}"
    if not isinstance(body, dict) or body.get("mode") != "ask" or not isinstance(body.get("text"), str):
        return f"not an answer: {str(body)[:200]}"
    if body.get("question") != question.strip():
        return f"answer to another question: {body.get('question')!r}"
    if not body["refused"] and not body.get("sources"):
        return "answer without sources"
    for n in {int(x) for x in re.findall(r"\[(\d+)\]", body["text"])}:
        if n not in {s["number"] for s in body.get("sources") or []}:
            return f"marker [{n}] without a source"
    return None


def run_load(base_url: str | list[str], questions: list[str], clients: int = 20, per_client: int = 25,
             upload: tuple[str, bytes] | None = None, upload_question: str | None = None,
             upload_expect: str | None = None, auth: tuple[str, str] | None = None, timeout: float = 900,
             max_seconds: float | None = None, seed: int = 1, distinct: bool = True) -> dict:
    """The load run against a live server; returns the report (``errors`` empty and ``lost`` 0 = pass).

    Several base URLs (app servers over one database, as behind a reverse proxy): client ``c`` talks to
    server ``c mod n``; the upload goes to the first and is then listed and asked on the last."""
    urls = [base_url] if isinstance(base_url, str) else list(base_url)
    base_url, last = urls[0], urls[-1]
    records: list[dict] = []
    lock = threading.Lock()
    t0 = time.monotonic()
    deadline = t0 + max_seconds if max_seconds else None
    upload_rec: dict = {}
    status0, docs0 = request(base_url + "/api/documents", auth=auth, timeout=timeout)
    n_docs0 = docs0.get("count") if isinstance(docs0, dict) else None

    def uploader() -> None:
        start = time.monotonic()
        status, body = request(base_url + "/api/documents", "POST", auth=auth, timeout=timeout, files=[upload])
        end = time.monotonic()
        upload_rec.update(start=start - t0, end=end - t0, seconds=round(end - start, 3), http=status,
                          status=(body.get("files") or [{}])[0].get("status") if isinstance(body, dict) else None,
                          doc_id=(body.get("files") or [{}])[0].get("doc_id") if isinstance(body, dict) else None,
                          message=(body.get("files") or [{}])[0].get("message") if isinstance(body, dict) else str(body))

    asked = distinct_questions(questions, clients * per_client, seed) if distinct else None

    def client(c: int) -> None:
        order = questions[:]
        rng_c = random.Random(seed * 1000 + c)
        rng_c.shuffle(order)
        for i in range(per_client):
            if deadline and time.monotonic() > deadline:
                with lock:
                    records.append({"client": c, "skipped": True})
                continue
            q = asked[c * per_client + i] if asked else order[i % len(order)]
            start = time.monotonic()
            status, body = request(urls[c % len(urls)] + "/api/ask", "POST", {"question": q}, auth=auth,
                                   timeout=timeout)
            end = time.monotonic()
            with lock:
                records.append({"client": c, "question": q, "start": start - t0, "end": end - t0,
                                "latency": end - start, "problem": _answer_problem(q, status, body)})

    threads = []
    if upload:
        threads.append(threading.Thread(target=uploader, daemon=True))
        threads[-1].start()
        time.sleep(0.05)  # the upload is in flight when the questions start
    for c in range(clients):
        threads.append(threading.Thread(target=client, args=(c,), daemon=True))
        threads[-1].start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    done = [r for r in records if not r.get("skipped")]
    errors = [f"client {r['client']}: {r['question'][:30]}…: {r['problem']}" for r in done if r["problem"]]
    lat = [r["latency"] for r in done]
    report = {
        "base_url": base_url if len(urls) == 1 else urls, "servers": len(urls), "clients": clients, "per_client": per_client, "distinct_questions": distinct,
        "sent": len(done),
        "skipped": len(records) - len(done), "ok": len(done) - len(errors), "error_count": len(errors),
        "errors": errors[:20], "wall_s": round(wall, 2),
        "throughput_rps": round(len(done) / wall, 3) if wall else None,
        "latency_s": {"p50": _r(percentile(lat, 0.50)), "p95": _r(percentile(lat, 0.95)),
                      "max": _r(max(lat) if lat else None), "mean": _r(sum(lat) / len(lat) if lat else None)},
    }
    report["lost"] = clients * per_client - report["skipped"] - report["sent"]
    if upload:
        overlap = [r for r in done if r["start"] < upload_rec.get("end", 0) and r["end"] > upload_rec.get("start", 0)]
        upload_rec["questions_during_upload"] = len(overlap)
        after_status, after = request(last + "/api/documents", auth=auth, timeout=timeout)
        ids = {d["id"] for d in after.get("documents", [])} if isinstance(after, dict) else set()
        upload_rec["listed"] = upload_rec.get("doc_id") in ids
        upload_rec["documents_before"], upload_rec["documents_after"] = n_docs0, len(ids)
        if upload_question:
            status, body = request(last + "/api/ask", "POST", {"question": upload_question}, auth=auth,
                                   timeout=timeout)
            upload_rec["answered"] = (status == 200 and isinstance(body, dict) and not body.get("refused")
                                      and (upload_expect is None or upload_expect in body.get("text", "")))
        upload_rec.pop("start", None)
        upload_rec.pop("end", None)
        report["upload"] = upload_rec
        if upload_rec.get("status") not in ("added", "replaced", "unchanged") or not upload_rec["listed"]:
            report["lost"] += 1
    return report


def _r(x: float | None) -> float | None:
    return round(x, 3) if x is not None else None


def questions_from(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            q = json.loads(line)
            if q.get("mode", "ask") == "ask" and q.get("question"):
                out.append(q["question"])
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m eval.load", description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--questions", type=int, default=25, help="questions per client")
    p.add_argument("--kb", type=Path, help="knowledge-base folder (default FAZHI_KB)")
    p.add_argument("--corpus", type=Path, default=(default_corpus_paths() or [ROOT / "corpus"])[0],
                   help="ingested first when the knowledge base is empty (default: ../shared/corpus, else corpus)")
    p.add_argument("--questions-file", type=Path, default=ROOT / "eval" / "questions.jsonl")
    p.add_argument("--upload", type=Path, help="file uploaded during the run (default: a generated report)")
    p.add_argument("--url", help="an already running server (else one is started here)")
    p.add_argument("--auth", help="user:password (the server is started with it; sent as HTTP Basic)")
    p.add_argument("--app", choices=["web", "api"], default="web", help="serve the whole web app or the bare API")
    p.add_argument("--repeat", action="store_true",
                   help="send the question file's questions verbatim (repeats hit warm caches) instead of distinct phrasings")
    p.add_argument("--max-seconds", type=float, default=1800, help="stop sending new questions after this")
    p.add_argument("--ingest-chunks", type=int, help=(
        "instead: ask from --clients users while one generated document of about this many chunks is ingested "
        "(eval/load_ingest.py, run by `python -m eval load --ingest-chunks N`; the server's limits are raised for it)"))
    p.add_argument("--ingest-distinct", type=int, help=(
        "with --ingest-chunks: the generated sections repeat after this many, so only these are embedded "
        "(measures parsing, the commit and the reload of a large ingest without hours of embedding)"))
    p.add_argument("--json", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.ingest_chunks:
        print("run it as: python -m eval load --ingest-chunks N …", file=sys.stderr)
        return 2

    questions = questions_from(args.questions_file)
    tag = uuid.uuid4().hex[:6]
    n = random.Random().randint(100, 999)
    upload = ((args.upload.name, args.upload.read_bytes()) if args.upload else
              (f"load-{tag}.txt", UPLOAD_DOC.format(n=n, m=n + 41).encode("utf-8")))
    upload_q, expect = (None, None) if args.upload else (UPLOAD_QUESTION, f"{n}件")
    auth = tuple(args.auth.split(":", 1)) if args.auth else None

    def go(base: str) -> dict:
        return run_load(base, questions, args.clients, args.questions, upload, upload_q, expect, auth,
                        max_seconds=args.max_seconds, distinct=not args.repeat)

    if args.url:
        report = go(args.url.rstrip("/"))
    else:
        from assistant.delivery.commands import build_corpus, corpus_to_build
        from assistant.service import Assistant
        from assistant.settings import Settings

        settings = Settings().with_overrides(kb=args.kb)
        assistant = Assistant(settings)
        folders = corpus_to_build(assistant, [args.corpus])
        if folders:
            build_corpus(assistant, folders)
        with serve(assistant, args.auth, args.app) as base:
            report = go(base)
        if not args.upload:  # leave the knowledge base as it was
            doc_id = report.get("upload", {}).get("doc_id")
            if doc_id and report["upload"].get("status") == "added":
                assistant.kb.delete(doc_id)
                (Path(assistant.kb.store.folder) / "originals" / doc_id).unlink(missing_ok=True)
        report["kb_check"] = assistant.kb.store.check()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        lat = report["latency_s"]
        up = report.get("upload", {})
        print(f"{report['clients']} clients × {report['per_client']} questions: {report['sent']} sent, "
              f"{report['ok']} ok, {report['error_count']} errors, {report['skipped']} not sent (time limit), "
              f"{report['lost']} lost")
        print(f"throughput {report['throughput_rps']} questions/s over {report['wall_s']} s; latency p50 {lat['p50']} s, "
              f"p95 {lat['p95']} s, max {lat['max']} s")
        print(f"upload: {up.get('status')} in {up.get('seconds')} s while {up.get('questions_during_upload')} questions "
              f"were in flight; listed {up.get('listed')}, answered {up.get('answered')}")
        for e in report["errors"]:
            print("  error:", e)
        if report.get("kb_check"):
            print("  knowledge base check:", report["kb_check"])
    ok = not report["error_count"] and not report["lost"] and not report.get("kb_check")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
