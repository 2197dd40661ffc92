"""Split a questions file once, deterministically, into a tune half and a test half.

    python -m eval.split_questions [eval/questions-own.jsonl] [--tune eval/questions-tune.jsonl]
                                   [--test eval/questions-test.jsonl] [--seed 20261203] [--check]

Seed: 20261203 (the split of ``eval/questions-own.jsonl`` committed on branch issue-q was made
with this seed; it must never be re-drawn).  Stratified: questions are grouped by ``type`` (check
questions further by ``verdict``), each group is sorted by id and shuffled with one
``random.Random(seed)`` in the sorted order of the groups; the first half of a group goes to tune,
the rest to test; an odd group's extra question goes alternately to test and tune, so the halves
stay within one question of 50/50.  Only ``id``, ``type`` and ``verdict`` decide the split, so
editing a question's wording, gold or must_include never moves it to the other half; each output
keeps the input's line order and the input's rows unchanged.  Adding or removing questions
re-draws their groups: once the split is committed, edit questions in place only, and use
``--check`` to confirm the committed halves are still exactly this split.

Tune only on the tune half; the test half measures questions nobody looked at while tuning.
``--check`` writes nothing and exits 1 when the existing tune/test files are not exactly the split
this script makes of the input (membership or content out of date).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

SEED = 20261203
HERE = Path(__file__).resolve().parent


def stratum(q: dict) -> str:
    return f"{q['type']}:{q.get('verdict')}" if q.get("type") == "check" else str(q["type"])


def split(rows: list[dict], seed: int = SEED) -> tuple[set[str], set[str]]:
    """Ids of the tune and the test half."""
    groups: dict[str, list[str]] = defaultdict(list)
    for q in rows:
        groups[stratum(q)].append(q["id"])
    rng = random.Random(seed)
    tune, test = set(), set()
    extra_to_test = True
    for key in sorted(groups):
        ids = sorted(groups[key])
        rng.shuffle(ids)
        half = len(ids) // 2
        if len(ids) % 2:
            half += 0 if extra_to_test else 1
            extra_to_test = not extra_to_test
        tune.update(ids[:half])
        test.update(ids[half:])
    return tune, test


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("questions", type=Path, nargs="?", default=HERE / "questions-own.jsonl")
    ap.add_argument("--tune", type=Path, default=HERE / "questions-tune.jsonl")
    ap.add_argument("--test", type=Path, default=HERE / "questions-test.jsonl")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--check", action="store_true", help="verify the existing files, write nothing")
    args = ap.parse_args(argv)
    lines = [ln for ln in args.questions.read_text(encoding="utf-8").splitlines() if ln.strip()]
    rows = [json.loads(ln) for ln in lines]
    if len({q["id"] for q in rows}) != len(rows):
        print("ERROR: duplicate ids; run eval.check_questions first", file=sys.stderr)
        return 1
    tune, test = split(rows, args.seed)
    out = {args.tune: [ln for ln, q in zip(lines, rows) if q["id"] in tune],
           args.test: [ln for ln, q in zip(lines, rows) if q["id"] in test]}
    if args.check:
        bad = [p for p, want in out.items()
               if not p.exists() or p.read_text(encoding="utf-8").splitlines() != want]
        for p in bad:
            print(f"ERROR: {p} is not the seed-{args.seed} split of {args.questions}")
        if not bad:
            print(f"OK: {args.tune.name} and {args.test.name} are the seed-{args.seed} split")
        return 1 if bad else 0
    for path, want in out.items():
        path.write_text("".join(ln + "\n" for ln in want), encoding="utf-8")
    by = defaultdict(lambda: [0, 0])
    for q in rows:
        by[stratum(q)][0 if q["id"] in tune else 1] += 1
    print(f"seed {args.seed}: tune {len(tune)}, test {len(test)}")
    for key in sorted(by):
        print(f"  {key:24s} tune {by[key][0]:3d}  test {by[key][1]:3d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
