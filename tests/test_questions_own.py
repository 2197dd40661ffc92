"""The project's own unseen questions: every gold is verbatim, the split is the committed one."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval import check_questions, split_questions

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
OWN = ROOT / "eval" / "questions-own.jsonl"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"sample corpus not found at {CORPUS}")


@needs_corpus
def test_own_questions_are_valid():
    assert check_questions.main([str(OWN), str(CORPUS), "--prefix", "u", "--strict"]) == 0


@needs_corpus
def test_shared_questions_are_valid():
    assert check_questions.main([str(ROOT / "eval" / "questions.jsonl"), str(CORPUS)]) == 0


def test_committed_split_is_the_seeded_split():
    assert split_questions.main([str(OWN), "--check"]) == 0


def test_split_is_stratified_and_half_half():
    rows = [json.loads(line) for line in OWN.read_text(encoding="utf-8").splitlines()]
    tune, test = split_questions.split(rows)
    assert not tune & test and len(tune | test) == len(rows)
    assert abs(len(tune) - len(test)) <= 1
    for key in {split_questions.stratum(q) for q in rows}:
        ids = {q["id"] for q in rows if split_questions.stratum(q) == key}
        assert abs(len(ids & tune) - len(ids & test)) <= 1, key


@needs_corpus
@pytest.mark.parametrize("break_it, message", [
    (lambda q: q["gold"][0].update(evidence=q["gold"][0]["evidence"] + "之外"), "not verbatim"),
    (lambda q: q["gold"][0].update(doc="reports/none.txt"), "unknown doc"),
    (lambda q: q.update(must_include=["3 人"]), "not normalised"),
    (lambda q: q.update(type="guess"), "unknown type"),
    (lambda q: q.pop("gold_mode"), "missing field"),
    (lambda q: q.update(expect_refusal=True), "expect_refusal"),
])
def test_checker_fails_loudly(tmp_path, capsys, break_it, message):
    rows = [json.loads(line) for line in OWN.read_text(encoding="utf-8").splitlines()]
    first = next(q for q in rows if q["type"] == "fact")
    break_it(first)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in rows), encoding="utf-8")
    assert check_questions.main([str(bad), str(CORPUS)]) == 1
    out = capsys.readouterr().out
    assert message in out and first["id"] in out
