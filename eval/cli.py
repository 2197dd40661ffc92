"""`python -m eval retrieval|answers --questions FILE [--json]`.

Drives the same public functions a user calls (KnowledgeBase, Retriever, the assistant's modes).
The knowledge base is built (incrementally) from ``--corpus`` into ``--kb`` first.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .scoring import average, load_questions, retrieval_scores

RET_KEYS = ("recall@1", "recall@5", "recall@10", "mrr")


def open_kb(args):
    from assistant.settings import Settings
    from vectorstore.kb import KnowledgeBase

    settings = Settings().with_overrides(kb=args.kb, embedder=args.embedder)
    kb = KnowledgeBase(settings.kb_path, settings.embedder, settings.chroma_url)
    if args.corpus:
        kb.ingest([args.corpus], progress=not args.json)
    return kb


def ranked_for(hits) -> list[tuple[str, str]]:
    return [(h.chunk.doc_id, " > ".join(h.chunk.heading_path) + h.chunk.text) for h in hits]


def run_retrieval(args, retriever=None) -> dict:
    from assistant.modes.gather import gather
    from vectorstore.retrieve import Retriever

    questions = load_questions(args.questions)
    if retriever is None:
        retriever = Retriever(open_kb(args))
    rows, by_type, details = [], {}, []
    for q in questions:
        query = q.get("claim") or q["question"] if q.get("mode") == "check" else q["question"]
        hits = gather(retriever, q.get("mode", "ask"), query, k=10)
        sc = retrieval_scores(q, ranked_for(hits))
        if sc is None:
            continue
        rows.append(sc)
        by_type.setdefault(q.get("type", "unknown"), []).append(sc)
        details.append({"id": q["id"], **sc})
    result = {"n": len(rows), **average(rows, RET_KEYS),
              "by_type": {t: {"n": len(r), **average(r, RET_KEYS)} for t, r in sorted(by_type.items())},
              "questions": details}
    return result


def print_table(result: dict, keys: tuple[str, ...]) -> None:
    print("| type | n | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for t, r in result["by_type"].items():
        print(f"| {t} | {r['n']} | " + " | ".join(f"{r[k]:.3f}" if r[k] is not None else "-" for k in keys) + " |")
    print(f"| **all** | {result['n']} | " + " | ".join(
        f"**{result[k]:.3f}**" if result[k] is not None else "-" for k in keys) + " |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("retrieval", "answers"):
        s = sub.add_parser(name)
        s.add_argument("--questions", required=True, type=Path)
        s.add_argument("--kb", type=Path, default=Path(".kb-eval"), help="knowledge-base folder for the run")
        s.add_argument("--corpus", type=Path, default=Path("corpus"), help="ingested first (incremental)")
        s.add_argument("--embedder", default=None)
        s.add_argument("--json", action="store_true")
        if name == "answers":
            s.add_argument("--backend", default=None, help="extractive (default) or openai")
    args = p.parse_args(argv)
    if not args.questions.is_file():
        print(f"error: no questions file {args.questions}", file=sys.stderr)
        return 2
    if args.command == "retrieval":
        result = run_retrieval(args)
        if args.json:
            out = {k: v for k, v in result.items() if k != "questions"}
            print(json.dumps(out, ensure_ascii=False))
        else:
            print_table(result, RET_KEYS)
            misses = [q for q in result["questions"] if q["recall@5"] < 1 or q["mrr"] < 1]
            for q in misses:
                print(f"  {q['id']}: recall@5={q['recall@5']:.2f} mrr={q['mrr']:.2f}")
        return 0
    from .answers import run_answers, print_answers

    result = run_answers(args)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print_answers(result)
    return 0
