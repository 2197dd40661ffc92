"""Questions from other users while one large ingest runs (``python -m eval load --ingest-chunks N``).

A generated report of about N chunks (numbered sections of ~300 characters, every one worded differently, so
each is embedded) is uploaded through ``POST /api/documents`` while ``clients`` users keep asking questions
through ``POST /api/ask`` and one polls ``GET /api/health``, until the upload is committed. Reports the ask
latency p50/p95/max during the ingest, the health latency, the upload's seconds and chunks/s.
"""
from __future__ import annotations

import threading
import time

from .load import _answer_problem, _r, distinct_questions, percentile, request


def big_report(chunks: int, tag: str, distinct: int | None = None) -> bytes:
    """About ``chunks`` chunks of numbered sections. ``distinct``: the sections repeat after this many (the
    repeats are chunks of the same text, which the embedding cache embeds once), so that the parts of a large
    ingest that grow with its size (parsing, tokenising, the commit, the readers' reload) can be measured at a
    size whose embedding alone would take hours on two cores."""
    parts = [f"{tag}市司法局法治政府建设情况报告（压力测试文档）\n"]
    for n in range(chunks):
        i = n % distinct if distinct else n
        parts.append(f"第{i + 1}项工作\n" + (
            f"{tag}市司法局在第{i + 1}批重点任务中组织专题培训{i % 29 + 3}场，审查行政规范性文件{i * 7 % 101 + 5}件，"
            f"办理第{i + 1}类行政复议案件{i * 3 % 97 + 2}件，发现并整改问题{i % 17 + 1}个，编号{i:06d}的台账已归档，"
            f"涉及执法单位{i % 13 + 2}个、执法人员{i % 211 + 20}名、案卷{i % 389 + 40}卷，"
            f"第{i + 1}批任务的整改完成率为{(i * 37) % 100}%，群众满意度测评得分{60 + i % 40}分，"
            f"相关经验做法已在第{i % 9 + 1}期工作简报中刊发并报送上级机关备案。\n"))
    return "".join(parts).encode("utf-8")


def run_during_ingest(base_url: str, questions: list[str], chunks: int, clients: int = 4,
                      auth: tuple[str, str] | None = None, timeout: float = 3600, tag: str = "癸",
                      distinct: int | None = None) -> dict:
    data = big_report(chunks, tag, distinct)
    up: dict = {}
    done = threading.Event()
    records: list[dict] = []
    health: list[float] = []
    lock = threading.Lock()

    def uploader() -> None:
        t = time.monotonic()
        status, body = request(base_url + "/api/documents", "POST", auth=auth, timeout=timeout,
                               files=[(f"ingest-{chunks}.txt", data)])
        f = (body.get("files") or [{}])[0] if isinstance(body, dict) else {}
        up.update(http=status, status=f.get("status"), chunks=f.get("chunks"), embedded=f.get("embedded"),
                  doc_id=f.get("doc_id"), message=f.get("message") or (None if isinstance(body, dict) else str(body)[:300]),
                  seconds=round(time.monotonic() - t, 1), bytes=len(data))
        done.set()

    asked = distinct_questions(questions, 100_000, seed=7)

    def client(c: int) -> None:
        i = c
        while not done.is_set():
            q = asked[i % len(asked)]
            i += clients
            t = time.monotonic()
            status, body = request(base_url + "/api/ask", "POST", {"question": q}, auth=auth, timeout=timeout)
            with lock:
                records.append({"latency": time.monotonic() - t, "during": not done.is_set(),
                                "problem": _answer_problem(q, status, body)})

    def poller() -> None:
        while not done.is_set():
            t = time.monotonic()
            request(base_url + "/api/health", timeout=timeout)
            health.append(time.monotonic() - t)
            time.sleep(1)

    threads = [threading.Thread(target=uploader, daemon=True)]
    threads += [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
    threads += [threading.Thread(target=poller, daemon=True)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    during = [r["latency"] for r in records if r["during"]]
    errors = [r["problem"] for r in records if r["problem"]]
    if up.get("chunks") and up.get("seconds"):
        up["chunks_per_s"] = round(up["chunks"] / up["seconds"], 1)
    return {"chunks_asked_for": chunks, "distinct_sections": distinct, "clients": clients, "upload": up, "questions_during_ingest": len(during),
            "ask_latency_s": {"p50": _r(percentile(during, 0.5)), "p95": _r(percentile(during, 0.95)),
                              "max": _r(max(during) if during else None)},
            "health_latency_s": {"p95": _r(percentile(health, 0.95)), "max": _r(max(health) if health else None)},
            "error_count": len(errors), "errors": errors[:10]}


def print_report(report: dict) -> None:
    up, lat, h = report["upload"], report["ask_latency_s"], report["health_latency_s"]
    rep = f" ({report['distinct_sections']} distinct sections, repeated)" if report.get("distinct_sections") else ""
    print(f"ingest of {up.get('chunks')} chunks{rep} ({up.get('bytes', 0) / 2**20:.1f} MB): {up.get('status')} in "
          f"{up.get('seconds')} s = {up.get('chunks_per_s')} chunks/s {up.get('message') or ''}")
    print(f"{report['questions_during_ingest']} questions from {report['clients']} users during the ingest: "
          f"p50 {lat['p50']} s, p95 {lat['p95']} s, max {lat['max']} s; /api/health p95 {h['p95']} s, max {h['max']} s; "
          f"{report['error_count']} errors")
    for e in report["errors"]:
        print("  error:", e)


def main(argv: list[str] | None = None) -> int:
    """``python -m eval load --ingest-chunks N [--ingest-distinct D] [--clients 4] [--kb PATH] [--corpus DIR]
    [--auth u:pw] [--json]``."""
    import json
    import uuid

    from .load import build_parser, questions_from

    args = build_parser().parse_args(argv)
    questions = questions_from(args.questions_file)
    from assistant.delivery.commands import build_corpus, corpus_to_build
    from assistant.service import Assistant
    from assistant.settings import Settings

    from .load import serve

    n = args.ingest_chunks
    auth = tuple(args.auth.split(":", 1)) if args.auth else None
    settings = Settings().with_overrides(kb=args.kb, max_chunks=n * 2 + 100, max_text_chars=n * 1200 + 10_000,
                                         max_file_mb=max(50.0, n * 1500 / 2**20 + 1))
    assistant = Assistant(settings)
    folders = corpus_to_build(assistant, [args.corpus])
    if folders:
        build_corpus(assistant, folders)
    tag = "癸" + uuid.uuid4().hex[:4]
    with serve(assistant, args.auth, args.app) as base:
        report = run_during_ingest(base, questions, n, args.clients, auth, tag=tag, distinct=args.ingest_distinct)
    doc_id = report["upload"].get("doc_id")
    if doc_id and report["upload"].get("status") == "added":  # leave the knowledge base as it was
        assistant.kb.delete(doc_id)
    print(json.dumps(report, ensure_ascii=False, indent=2)) if args.json else print_report(report)
    return 0 if not report["error_count"] and report["upload"].get("status") == "added" else 1
