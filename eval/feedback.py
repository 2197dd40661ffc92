"""`python -m eval feedback`: the answer feedback users left (有帮助 / 没帮助 / 引用有误) as eval questions.

Reads the feedback stored in a knowledge base's ``fazhi.sqlite3`` (``vectorstore.userdata``; the Chroma side is
not opened) and writes a JSONL in the format of ``eval/questions.jsonl`` (../shared/eval/README.md), one question
per distinct (mode, question), the newest feedback deciding. Every line is marked for review in ``review``
(status ``needs_review``, the votes, the user's note, the answer as given and its sources, the settings it was
answered with) — a maintainer checks it before it joins a question set:

- 有帮助 (and no wrong citation): a regression question — gold = the quoted passages the answer cited, the
  answer as reference, the figures it gave as ``must_include``, the refusal and the check verdict as given;
- 没帮助 or 引用有误: a question to fix — no gold, no ``must_include``, ``expect_refusal`` false only when the
  answer was a refusal the user did not want; the answer's sources are kept under ``review.cited``.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

TYPE_OF_MODE = {"ask": "fact", "compare": "compare", "check": "check", "draft": "draft", "quiz": "training"}
MARKER_RE = re.compile(r"\[\d{1,3}\]")
TITLE_RE = re.compile(r"《[^》]*》|（[^）]*〔[^）]*）")  # document titles and 文号 carry figures that are not the answer
VALUE_RE = re.compile(r"\d+(?:\.\d+)?\s*(?:%|％|万元|亿元|万件|万人|[件项次个人名卷家场份条天日月年倍元])")
MUST_INCLUDE_MAX = 3


def figures(answer_text: str, question: str) -> list[str]:
    """The values an approved answer gave (not those of the question, nor inside titles), at most three."""
    text = TITLE_RE.sub("", MARKER_RE.sub("", answer_text))
    out: list[str] = []
    for m in VALUE_RE.finditer(text):
        v = re.sub(r"\s+", "", m.group(0))
        if v not in out and v not in question:
            out.append(v)
    return out[:MUST_INCLUDE_MAX]


def to_question(entries: list) -> dict:
    """One eval question from the feedback entries on one (mode, question), oldest first."""
    last = entries[-1]
    asked = last.standalone or last.question
    approved = last.rating == "up" and not last.citation_error
    answer = last.answer or {}
    cited = [{"number": s.get("number"), "doc": s.get("doc_id"), "evidence": (s.get("quote") or "").strip()}
             for s in last.sources if s.get("doc_id")]
    q = {
        "id": f"fb-{last.id[:12]}",
        "type": "unanswerable" if approved and last.refused else TYPE_OF_MODE.get(last.mode, "fact"),
        "mode": last.mode,
        "question": asked,
        "gold": [{"doc": c["doc"], "evidence": c["evidence"]} for c in cited if c["evidence"]] if approved else [],
        "gold_mode": "all",
        "reference_answer": MARKER_RE.sub("", last.answer_text).strip() if approved else "",
        "must_include": figures(last.answer_text, asked) if approved and not last.refused else [],
        "verdict": answer.get("verdict") if approved and last.mode == "check" else None,
        "expect_refusal": bool(last.refused) if approved else False,
    }
    if last.mode == "check":
        q["claim"] = re.sub(r"^核对[:：]\s*", "", asked)
    q["review"] = {
        "status": "needs_review",
        "source": "feedback",
        "why": "approved by a user: check the gold passages and must_include" if approved else
               ("a user reported a wrong citation" if last.citation_error else "a user found the answer unhelpful")
               + ": write the gold passages, must_include and expect_refusal",
        "votes": {"up": sum(e.rating == "up" for e in entries), "down": sum(e.rating == "down" for e in entries),
                  "citation_error": sum(bool(e.citation_error) for e in entries)},
        "comments": [e.comment for e in entries if e.comment],
        "feedback_ids": [e.id for e in entries],
        "asked_as": last.question if last.standalone and last.standalone != last.question else None,
        "answer": last.answer_text,
        "refused": bool(last.refused),
        "cited": cited,
        "settings": last.settings,
        "rated_at": last.updated_at,
    }
    return q


def questions_from(entries: list) -> list[dict]:
    groups: dict[tuple[str, str], list] = {}
    for e in sorted(entries, key=lambda e: (e.updated_at, e.id)):
        groups.setdefault((e.mode, e.standalone or e.question), []).append(e)
    return [to_question(g) for g in groups.values()]


def add_parser(sub) -> None:
    f = sub.add_parser("feedback", help="turn stored answer feedback into eval questions marked for review")
    f.add_argument("--kb", type=Path, default=None, help="knowledge-base folder (default: FAZHI_KB, as `fazhi serve`)")
    f.add_argument("--out", type=Path, default=Path("eval/questions-feedback.jsonl"), help="the JSONL written")
    f.add_argument("--only", choices=("up", "down", "citation"), default=None,
                   help="only approved answers, only unhelpful ones, or only wrong citations")
    f.add_argument("--json", action="store_true", help="print a summary as JSON")


def main(args: argparse.Namespace) -> int:
    from assistant.settings import Settings
    from vectorstore.userdata import UserData, UserDataError

    folder = args.kb or Settings().kb_path
    try:
        data = UserData.of_folder(folder)
    except UserDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    entries = data.feedback()
    data.close()
    if args.only == "up":
        entries = [e for e in entries if e.rating == "up" and not e.citation_error]
    elif args.only == "down":
        entries = [e for e in entries if e.rating == "down"]
    elif args.only == "citation":
        entries = [e for e in entries if e.citation_error]
    questions = questions_from(entries)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for q in questions:
            fh.write(json.dumps(q, ensure_ascii=False) + "\n")
    summary = {"feedback": len(entries), "questions": len(questions), "out": str(args.out),
               "approved": sum(1 for q in questions if q["gold"] or q["expect_refusal"]),
               "to_fix": sum(1 for q in questions if not (q["gold"] or q["expect_refusal"]))}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(f"{summary['feedback']} 条反馈 → {summary['questions']} 道题（待审核）：{summary['approved']} 道来自“有帮助”，"
              f"{summary['to_fix']} 道待补全标准答案 → {args.out}")
    return 0
