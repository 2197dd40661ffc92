"""`python -m eval retrieval|answers|compare --questions FILE [--json]`, `python -m eval bench`, `python -m eval ocr`,
`python -m eval llm` (a real llama.cpp server: first-token and answer times, citation-rule outcomes) and
`python -m eval feedback` (stored answer feedback as questions to review).

Drives the same public functions a user calls (KnowledgeBase, Retriever, the assistant's modes).
The knowledge base is built (incrementally) from ``--corpus`` into ``--kb`` first.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant.settings import default_corpus_paths

from .common import open_kb, ranked_for
from .scoring import average, load_questions, retrieval_scores

RET_KEYS = ("recall@1", "recall@5", "recall@10", "mrr")


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


def _sizes(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        part = part.strip().lower()
        mult = 1000 if part.endswith("k") else 1
        out.append(int(float(part.rstrip("k")) * mult))
    if not out or any(n <= 0 for n in out):
        raise argparse.ArgumentTypeError("sizes: positive chunk counts, e.g. 1000,10000,100000 or 1k,10k")
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["load"]:  # python -m eval load … = python -m eval.load …
        if any(a.startswith("--ingest-chunks") for a in argv):
            from .load_ingest import main as ingest_main  # questions during one large ingest

            return ingest_main(argv[1:])
        if any(a.startswith("--servers") for a in argv):
            from .load_servers import main as servers_main  # one and several app servers over one database

            return servers_main(argv[1:])
        from .load import main as load_main

        return load_main(argv[1:])
    p = argparse.ArgumentParser(prog="python -m eval")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("retrieval", "answers", "compare"):
        s = sub.add_parser(name)
        s.add_argument("--questions", required=True, type=Path)
        s.add_argument("--kb", type=Path, default=Path(".kb-eval"), help="knowledge-base folder for the run")
        s.add_argument("--corpus", type=Path, nargs="+", default=default_corpus_paths(),
                       help="folders ingested first (incremental); default: ../shared/corpus if it exists, else corpus")
        s.add_argument("--embedder", default=None)
        s.add_argument("--json", action="store_true")
        if name == "answers":
            s.add_argument("--backend", default=None, help="extractive (default) or openai")
        if name == "compare":
            s.add_argument("--systems", nargs="*", default=None,
                           help="ablations to run besides ours and the baseline (default: all)")
            s.add_argument("--cache", type=Path, default=None,
                           help="vector cache and header-less KB (default: KB/eval-cache)")
            s.add_argument("--out", type=Path, default=None, help="also write compare.json and compare.md here")
    b = sub.add_parser("bench", help="embedding ceiling, ingest throughput, query latency and memory by size")
    b.add_argument("--corpus", type=Path, default=(default_corpus_paths() or [Path("corpus")])[0])
    b.add_argument("--questions", type=Path, default=Path("eval/questions.jsonl"))
    b.add_argument("--sizes", type=_sizes, default=[1000, 10000, 100000], help="chunk counts, e.g. 1k,10k,100k")
    b.add_argument("--out", type=Path, default=Path("eval/results"))
    b.add_argument("--work", type=Path, default=Path(".kb-eval/bench"), help="knowledge bases built by the benchmark")
    b.add_argument("--kb", type=Path, default=None, help="with --no-ingest: source knowledge base")
    b.add_argument("--no-ingest", action="store_true", help="skip the ceiling/ingest/re-ingest measurements")
    b.add_argument("--ceiling-sample", type=int, default=192, help="passages timed for the embedding ceiling")
    b.add_argument("--omp-threads", type=int, default=None, help="OMP_NUM_THREADS of the serving process")
    b.add_argument("--limit", type=int, default=None, help="at most this many questions per size")
    b.add_argument("--embedder", default=None)
    b.add_argument("--json", action="store_true")
    o = sub.add_parser("ocr", help="seconds per page and character accuracy of OCR on pages rendered from corpus text")
    o.add_argument("--corpus", type=Path, default=None, help="texts to render (default: the shared corpus)")
    o.add_argument("--pages", type=int, default=12)
    o.add_argument("--dpi", type=lambda v: [int(x) for x in v.split(",")], default=[150, 180, 200],
                   help="scan resolutions, cycled, e.g. 150,200")
    o.add_argument("--out", type=Path, default=None, help="also write ocr.json here")
    o.add_argument("--json", action="store_true")
    from .llm import add_parser as add_llm_parser

    add_llm_parser(sub)
    from .feedback import add_parser as add_feedback_parser

    add_feedback_parser(sub)
    args = p.parse_args(argv)
    args.argv = argv
    if args.command == "ocr":
        from .ocr import main as ocr_main

        return ocr_main(args)
    if args.command == "feedback":
        from .feedback import main as feedback_main

        return feedback_main(args)
    if not args.questions.is_file():
        print(f"error: no questions file {args.questions}", file=sys.stderr)
        return 2
    if args.command == "llm":
        from .llm import main as llm_main

        return llm_main(args)
    if args.command == "bench":
        from .bench import main as bench_main

        return bench_main(args)
    if args.command == "compare":
        from .compare import main as compare_main

        return compare_main(args)
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
