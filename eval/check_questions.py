"""Validate an evaluation questions file against a corpus folder.

    python -m eval.check_questions QUESTIONS.jsonl [CORPUS_DIR] [--prefix u] [--strict]

CORPUS_DIR defaults to ``../shared/corpus`` beside the checkout when present, else ``corpus/``.

Works on any file in the format of ``eval/questions.jsonl`` (see the eval README).  Every gold
``evidence`` must occur verbatim in its document after the scoring normalisation (Unicode NFKC,
then all whitespace deleted); every ``doc`` must be a file of the corpus folder.  Also checked:
required fields and their types, unique ids (and, with ``--prefix``, their prefix), known
``type``/``mode`` and their pairing, check questions (``claim`` given, part of the question,
``verdict`` supported/contradicted), refusal questions (``expect_refusal`` exactly for
``unanswerable``, no gold), non-refusal questions (at least one gold item), ``gold_mode``,
``must_include`` (a list of non-empty strings already in normalised form), duplicate questions.

Warnings (errors with ``--strict``): a ``must_include`` string found in none of the question's gold
documents (a correct answer quoting the sources might not contain it).

Prints a summary (counts per type, mode, verdict) and every problem with the question id; exits
with status 1 when there is any error, so a non-verbatim gold or an unknown document fails loudly.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

TYPES = {"fact", "paraphrase", "compare", "check", "draft", "training", "compliance",
         "unanswerable"}
MODES = {"ask", "compare", "check", "draft"}
# The mode a type must use; None means any mode is accepted.
TYPE_MODE = {"check": "check", "compare": "compare", "draft": "draft", "fact": "ask",
             "paraphrase": "ask", "training": "ask", "compliance": "ask", "unanswerable": "ask"}
REQUIRED = {"id": str, "type": str, "mode": str, "question": str, "gold": list,
            "gold_mode": str, "must_include": list, "expect_refusal": bool}
VERDICTS = {"supported", "contradicted"}
_WS = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The scoring normalisation: Unicode NFKC, then every whitespace character deleted."""
    return _WS.sub("", unicodedata.normalize("NFKC", text))


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, qid: str, msg: str) -> None:
        self.errors.append(f"ERROR {qid}: {msg}")

    def warn(self, qid: str, msg: str) -> None:
        self.warnings.append(f"WARN  {qid}: {msg}")


def load_corpus(folder: Path) -> dict[str, str]:
    docs = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in {".txt", ".md"}:
            docs[path.relative_to(folder).as_posix()] = normalise(
                path.read_text(encoding="utf-8"))
    return docs


def load_questions(path: Path, rep: Report) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            rep.error(f"line {n}", f"not valid JSON: {exc}")
            continue
        if not isinstance(row, dict):
            rep.error(f"line {n}", "not a JSON object")
            continue
        rows.append(row)
    return rows


def check_question(q: dict, docs: dict[str, str], rep: Report) -> None:
    qid = str(q.get("id", "?"))
    for field, kind in REQUIRED.items():
        if field not in q:
            rep.error(qid, f"missing field {field!r}")
        elif not isinstance(q[field], kind):
            rep.error(qid, f"field {field!r} must be {kind.__name__}, got {type(q[field]).__name__}")
    if rep.errors and rep.errors[-1].startswith(f"ERROR {qid}: missing"):
        return
    qtype, mode = q.get("type"), q.get("mode")
    if qtype not in TYPES:
        rep.error(qid, f"unknown type {qtype!r}")
    if mode not in MODES:
        rep.error(qid, f"unknown mode {mode!r}")
    if qtype in TYPE_MODE and mode in MODES and TYPE_MODE[qtype] != mode:
        rep.error(qid, f"type {qtype!r} must use mode {TYPE_MODE[qtype]!r}, not {mode!r}")
    question = q.get("question", "")
    if not isinstance(question, str) or not question.strip():
        rep.error(qid, "empty question")
    if q.get("gold_mode") not in {"all", "any"}:
        rep.error(qid, f"gold_mode must be 'all' or 'any', got {q.get('gold_mode')!r}")
    if q.get("reference_answer") is not None and not isinstance(q["reference_answer"], str):
        rep.error(qid, "reference_answer must be a string or null")

    # check questions
    if mode == "check" or qtype == "check":
        claim = q.get("claim")
        if not isinstance(claim, str) or not claim.strip():
            rep.error(qid, "check question without a 'claim'")
        elif isinstance(question, str) and normalise(claim) not in normalise(question):
            rep.error(qid, "claim is not part of the question")
        if q.get("verdict") not in VERDICTS:
            rep.error(qid, f"verdict must be one of {sorted(VERDICTS)}, got {q.get('verdict')!r}")
    else:
        if q.get("verdict") is not None:
            rep.error(qid, f"verdict given on a {qtype} question")
        if q.get("claim") not in (None, ""):
            rep.error(qid, f"claim given on a {qtype} question")

    # refusal
    refuse = q.get("expect_refusal")
    gold = q.get("gold") if isinstance(q.get("gold"), list) else []
    if (qtype == "unanswerable") != (refuse is True):
        rep.error(qid, "expect_refusal must be true exactly for type 'unanswerable'")
    if refuse is True and gold:
        rep.error(qid, "a refusal question must have no gold items")
    if refuse is False and not gold:
        rep.error(qid, "an answerable question needs at least one gold item")

    # gold items
    seen = set()
    for k, item in enumerate(gold):
        where = f"gold[{k}]"
        if not isinstance(item, dict) or set(item) - {"doc", "evidence"} or \
                not isinstance(item.get("doc"), str) or not isinstance(item.get("evidence"), str):
            rep.error(qid, f"{where} must be {{'doc': str, 'evidence': str}}, got {item!r}")
            continue
        doc, evidence = item["doc"], item["evidence"]
        if doc not in docs:
            rep.error(qid, f"{where} unknown doc {doc!r}")
            continue
        ev = normalise(evidence)
        if not ev:
            rep.error(qid, f"{where} empty evidence")
        elif ev not in docs[doc]:
            rep.error(qid, f"{where} evidence is not verbatim in {doc}: {evidence!r}")
        if (doc, ev) in seen:
            rep.error(qid, f"{where} duplicate gold item")
        seen.add((doc, ev))

    # must_include
    gold_docs = {item["doc"] for item in gold if isinstance(item, dict) and item.get("doc") in docs}
    for s in q.get("must_include", []) if isinstance(q.get("must_include"), list) else []:
        if not isinstance(s, str) or not s:
            rep.error(qid, f"must_include entry {s!r} must be a non-empty string")
            continue
        if normalise(s) != s:
            rep.error(qid, f"must_include {s!r} is not normalised (expected {normalise(s)!r})")
        if gold_docs and not any(normalise(s) in docs[d] for d in gold_docs):
            rep.warn(qid, f"must_include {s!r} occurs in none of its gold documents")


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("questions", type=Path)
    shared = here.parent.parent / "shared" / "corpus"
    ap.add_argument("corpus", type=Path, nargs="?",
                    default=shared if shared.is_dir() else here.parent / "corpus",
                    help="corpus folder; document ids are paths relative to it "
                         "(default: ../shared/corpus next to the checkout, else corpus/)")
    ap.add_argument("--prefix", default="", help="every id must start with this prefix")
    ap.add_argument("--strict", action="store_true", help="treat warnings as errors")
    args = ap.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"ERROR: corpus folder {args.corpus} not found", file=sys.stderr)
        return 1
    docs = load_corpus(args.corpus)
    rep = Report()
    rows = load_questions(args.questions, rep)
    ids = Counter(str(q.get("id")) for q in rows)
    for qid, n in ids.items():
        if n > 1:
            rep.error(qid, f"id used {n} times")
        if args.prefix and not qid.startswith(args.prefix):
            rep.error(qid, f"id does not start with {args.prefix!r}")
    texts = Counter(normalise(q.get("question", "")) for q in rows if isinstance(q.get("question"), str))
    for q in rows:
        if isinstance(q.get("question"), str) and texts[normalise(q["question"])] > 1:
            rep.error(str(q.get("id")), "the same question text occurs more than once")
        check_question(q, docs, rep)

    used = Counter(item["doc"] for q in rows for item in q.get("gold", [])
                   if isinstance(item, dict) and item.get("doc") in docs)
    print(f"{args.questions}: {len(rows)} questions, corpus {args.corpus} ({len(docs)} documents)")
    print("types:   " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(q.get('type') for q in rows).items(), key=str)))
    print("modes:   " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(q.get('mode') for q in rows).items(), key=str)))
    print("verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(q.get('verdict') for q in rows if q.get('mode') == 'check').items(), key=str)))
    print(f"refusals: {sum(1 for q in rows if q.get('expect_refusal') is True)}")
    print(f"documents used as gold: {len(used)} of {len(docs)}"
          + ("" if len(used) == len(docs) else "; unused: " + ", ".join(sorted(set(docs) - set(used)))))
    for line in rep.warnings:
        print(line)
    for line in rep.errors:
        print(line)
    failed = bool(rep.errors) or (args.strict and bool(rep.warnings))
    print(f"{'FAILED' if failed else 'OK'}: {len(rep.errors)} errors, {len(rep.warnings)} warnings")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
