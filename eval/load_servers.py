"""Load over one and over several app servers sharing one knowledge base, measured in one run.

    python -m eval load --servers 1,2 [--clients 20] [--questions 25] [--corpus DIR] [--warmup 20]
                        [--database-url postgresql://…] [--chroma-url http://…] [--workdir DIR] [--json]

Without ``--database-url``/``--chroma-url`` a PostgreSQL cluster and a ``chroma run`` are started in the work
folder (``eval/cluster.py``); the knowledge base is built there from ``--corpus`` when the database is empty.
Then ``max(--servers)`` ``fazhi serve`` processes are started on them, each with its own local folder, and for
each count n the load of ``eval/load.py`` runs against the first n (client c talks to server c mod n, as a
reverse proxy spreads users): N clients × M distinct questions while a document is uploaded to the first
server and afterwards asked on the last. Reports throughput and latency per server count, and checks that
nothing is lost and the knowledge base is consistent at the end.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

from assistant.settings import default_corpus_paths

from .load import ROOT, UPLOAD_DOC, UPLOAD_QUESTION, questions_from, request, run_load


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m eval load --servers", description=__doc__.split("\n\n")[0])
    p.add_argument("--servers", required=True, help="server counts to measure, e.g. 1,2")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--questions", type=int, default=25, help="questions per client")
    p.add_argument("--corpus", type=Path, default=(default_corpus_paths() or [ROOT / "corpus"])[0])
    p.add_argument("--questions-file", type=Path, default=ROOT / "eval" / "questions.jsonl")
    p.add_argument("--database-url", help="an existing PostgreSQL database (else a cluster is started here)")
    p.add_argument("--chroma-url", help="an existing Chroma server (else `chroma run` is started here)")
    p.add_argument("--workdir", type=Path, help="folder for the cluster, the servers' folders and logs (default: temp)")
    p.add_argument("--seed-cache", type=Path, metavar="KB", help=(
        "an embedded knowledge-base folder (same embedder) whose embedding cache is copied into the database "
        "first, read-only: the build then reuses its vectors instead of embedding the corpus again"))
    p.add_argument("--warmup", type=int, default=20, help=(
        "questions each server answers before anything is measured (first answers load models, dictionaries and "
        "per-generation tables; without it the first count measured pays for that)"))
    p.add_argument("--max-seconds", type=float, default=1800, help="per server count: stop sending after this")
    p.add_argument("--json", action="store_true")
    return p


def seed_cache(kb, folder: Path) -> int:
    """Copy the embedding cache of an embedded knowledge base (opened read-only) into ``kb``'s record."""
    import sqlite3

    src = sqlite3.connect(f"file:{folder / 'fazhi.sqlite3'}?mode=ro", uri=True)
    try:
        row = src.execute("SELECT value FROM state WHERE key='embedder'").fetchone()
        if not row or row[0] != kb.embedder.name:
            raise SystemExit(f"--seed-cache {folder}: built with {row and row[0]!r}, not {kb.embedder.name!r}")
        n = 0
        cur = src.execute("SELECT key, vec FROM emb_cache")
        while rows := cur.fetchmany(500):
            with kb.store.database.tx() as db:
                db.executemany("INSERT INTO emb_cache(key, vec) VALUES (?, ?) ON CONFLICT(key) DO NOTHING", rows)
            n += len(rows)
        return n
    finally:
        src.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    counts = [int(x) for x in args.servers.split(",") if x.strip()]
    if not counts or min(counts) < 1:
        print("--servers: positive counts, e.g. 1,2", file=sys.stderr)
        return 2
    from vectorstore.kb import KnowledgeBase

    from .cluster import AppServer, ChromaServer, PostgresCluster

    work = args.workdir or Path(tempfile.mkdtemp(prefix="fazhi-load-"))
    work.mkdir(parents=True, exist_ok=True)
    questions = questions_from(args.questions_file)
    pg = chroma = None
    apps: list[AppServer] = []
    report: dict = {"servers": counts, "clients": args.clients, "per_client": args.questions, "runs": []}
    try:
        if not args.database_url:
            pg = PostgresCluster()
        if not args.chroma_url:
            chroma = ChromaServer(work / "chroma-data")
        db_url = args.database_url or pg.url
        chroma_url = args.chroma_url or chroma.url
        t = time.monotonic()
        kb = KnowledgeBase(work / "builder", chroma_url=chroma_url, database_url=db_url)
        if kb.is_empty():
            if args.seed_cache:
                report["seeded_vectors"] = seed_cache(kb, args.seed_cache)
            kb.ingest([args.corpus], progress=not args.json)
        report["documents"] = len(kb.documents())
        report["build_s"] = round(time.monotonic() - t, 1)
        kb.close()
        for i in range(max(counts)):
            apps.append(AppServer(work / f"app{i + 1}", db_url, chroma_url, corpus=args.corpus, name=f"app{i + 1}"))
        for app in apps:  # first answers load the per-generation tables, jieba, the model: not part of the figures
            for q in questions[: max(args.warmup, 1)]:
                request(app.url + "/api/ask", "POST", {"question": q}, timeout=600)
        for run, n in enumerate(counts):
            num = random.Random().randint(100, 999)
            upload = (f"load-{uuid.uuid4().hex[:6]}.txt", UPLOAD_DOC.format(n=num, m=num + 41).encode("utf-8"))
            rep = run_load([a.url for a in apps[:n]], questions, args.clients, args.questions, upload,
                           UPLOAD_QUESTION, f"{num}件", max_seconds=args.max_seconds, seed=run + 1)
            doc_id = rep.get("upload", {}).get("doc_id")
            if doc_id and rep["upload"].get("status") == "added":  # leave the knowledge base as it was
                request(apps[0].url + "/api/documents/" + quote(doc_id), "DELETE", timeout=600)
            report["runs"].append(rep)
            if not args.json:
                lat, up = rep["latency_s"], rep.get("upload", {})
                print(f"{n} server(s): {rep['sent']} questions, {rep['ok']} ok, {rep['error_count']} errors, "
                      f"{rep['lost']} lost; throughput {rep['throughput_rps']} questions/s over {rep['wall_s']} s; "
                      f"p50 {lat['p50']} s, p95 {lat['p95']} s, max {lat['max']} s; upload {up.get('status')} in "
                      f"{up.get('seconds')} s, answered on the last server {up.get('answered')}", flush=True)
        kb = KnowledgeBase(work / "checker", chroma_url=chroma_url, database_url=db_url)
        report["kb_check"] = kb.store.check()
        kb.close()
    finally:
        for app in apps:
            app.stop()
        if chroma:
            chroma.stop()
        if pg:
            pg.stop()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for e in [e for r in report["runs"] for e in r["errors"]]:
            print("  error:", e)
        if report.get("kb_check"):
            print("  knowledge base check:", report["kb_check"])
    ok = (not report.get("kb_check") and all(not r["error_count"] and not r["lost"] for r in report["runs"])
          and all(r.get("upload", {}).get("answered") for r in report["runs"]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
