"""`python -m eval answers`: every question run in its mode through the assistant, scored for
answer correctness, citation validity, refusal accuracy and verdict accuracy."""
from __future__ import annotations

import re
import time
from pathlib import Path

from .scoring import answer_correct, load_questions, norm, retrieval_scores

MARKER = re.compile(r"\[(\d{1,3})\]")


def citation_check(answer, doc_text) -> tuple[int, int, list[str]]:
    """(valid, total, problems): each [n] must point to a returned source whose quote occurs
    verbatim (normalised) in the cited document."""
    by_number = {s.number: s for s in answer.sources}
    valid = total = 0
    problems = []
    for n in (int(x) for x in MARKER.findall(answer.text)):
        total += 1
        s = by_number.get(n)
        if s is None:
            problems.append(f"[{n}] points to no source")
            continue
        text = doc_text(s.doc_id)
        if text is not None and norm(s.quote) and norm(s.quote) in norm(text):
            valid += 1
        else:
            problems.append(f"[{n}] quote not found in {s.doc_id}")
    return valid, total, problems


def run_answers(args) -> dict:
    from assistant.service import Assistant
    from assistant.settings import Settings

    from .common import open_kb

    kb = open_kb(args)
    settings = Settings().with_overrides(kb=args.kb, llm_backend=getattr(args, "backend", None))
    assistant = Assistant(settings, kb=kb)
    folders = [Path(c) for c in (args.corpus or [])]
    cache: dict[str, str | None] = {}

    def doc_text(doc_id: str) -> str | None:
        if doc_id not in cache:
            path = next((f / doc_id for f in folders if (f / doc_id).is_file()), None)
            if path is not None:
                from ingest.loaders import load_bytes

                cache[doc_id] = load_bytes(path.read_bytes(), path.suffix).text
            else:
                doc = kb.store.document(doc_id)
                cache[doc_id] = doc.text if doc else None
        return cache[doc_id]

    questions = load_questions(args.questions)
    rows, failures = [], []
    cit_valid = cit_total = 0
    t0 = time.perf_counter()
    for q in questions:
        mode = q.get("mode", "ask")
        ans = assistant.run(mode, q["question"], claim=q.get("claim"))
        row = {"id": q["id"], "type": q.get("type", "unknown")}
        correct = answer_correct(q, ans.text)
        if correct is not None:
            row["answer_correctness"] = 1.0 if correct else 0.0
            if not correct:
                failures.append({"id": q["id"], "what": "answer", "expected": q["must_include"], "got": ans.text[:400]})
        v, t, problems = citation_check(ans, doc_text)
        cit_valid += v
        cit_total += t
        if t:
            row["citation_validity"] = v / t
        if problems:
            failures.append({"id": q["id"], "what": "citation", "expected": "valid citations", "got": problems})
        expect_refusal = bool(q.get("expect_refusal"))
        row["refusal_accuracy"] = 1.0 if ans.refused == expect_refusal else 0.0
        if ans.refused != expect_refusal:
            failures.append({"id": q["id"], "what": "refusal", "expected": expect_refusal, "got": ans.refused,
                             "text": ans.text[:200]})
        if q.get("verdict"):
            row["verdict_accuracy"] = 1.0 if ans.verdict == q["verdict"] else 0.0
            if ans.verdict != q["verdict"]:
                failures.append({"id": q["id"], "what": "verdict", "expected": q["verdict"], "got": ans.verdict})
        sc = retrieval_scores(q, [(p["doc_id"], " > ".join(p["heading_path"]) + p["text"]) for p in ans.passages])
        if sc:
            row.update({f"retrieval_{k}": v for k, v in sc.items()})
        rows.append(row)
    elapsed = time.perf_counter() - t0

    def avg(key, subset):
        vals = [r[key] for r in subset if key in r]
        return round(sum(vals) / len(vals), 4) if vals else None

    keys = ("answer_correctness", "citation_validity", "refusal_accuracy", "verdict_accuracy")
    by_type = {}
    for t in sorted({r["type"] for r in rows}):
        subset = [r for r in rows if r["type"] == t]
        by_type[t] = {"n": len(subset), **{k: avg(k, subset) for k in keys}}
    return {
        "n": len(rows),
        "answer_correctness": avg("answer_correctness", rows),
        "citation_validity": round(cit_valid / cit_total, 4) if cit_total else None,
        "refusal_accuracy": avg("refusal_accuracy", rows),
        "verdict_accuracy": avg("verdict_accuracy", rows),
        "by_type": by_type,
        "failures": failures,
        "seconds_per_question": round(elapsed / max(len(rows), 1), 3),
    }


def print_answers(result: dict) -> None:
    keys = ("answer_correctness", "citation_validity", "refusal_accuracy", "verdict_accuracy")
    print("| type | n | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    fmt = lambda v: "-" if v is None else f"{v:.3f}"
    for t, r in result["by_type"].items():
        print(f"| {t} | {r['n']} | " + " | ".join(fmt(r[k]) for k in keys) + " |")
    print(f"| **all** | {result['n']} | " + " | ".join(fmt(result[k]) for k in keys) + " |")
    print(f"{result['seconds_per_question']} s per question")
    for f in result["failures"]:
        print(f"  ✗ {f['id']} {f['what']}: expected {f['expected']!r}, got {str(f['got'])[:160]!r}")
