"""The shared evaluation questions through the public eval commands: the issue's quality bars."""
from __future__ import annotations

import argparse

from conftest import CORPUS, ROOT, needs_governing_texts

pytestmark = needs_governing_texts  # the shared questions ask about the laws and guidance too


def _args(kb_folder):
    return argparse.Namespace(questions=ROOT / "eval" / "questions.jsonl", kb=kb_folder, corpus=[CORPUS],
                              embedder=None, json=True, backend=None)


def test_retrieval_meets_the_bar(corpus_kb):
    from eval.cli import run_retrieval

    kb, _ = corpus_kb
    result = run_retrieval(_args(kb.store.folder))
    assert result["n"] >= 30
    assert result["recall@5"] >= 0.95, result
    assert result["mrr"] >= 0.85, result


def test_answers_meet_the_bar(corpus_kb):
    from eval.answers import run_answers

    kb, _ = corpus_kb
    result = run_answers(_args(kb.store.folder))
    assert result["answer_correctness"] >= 0.9, result["failures"]
    assert result["citation_validity"] == 1.0, result["failures"]
    assert result["refusal_accuracy"] == 1.0, result["failures"]
    assert result["verdict_accuracy"] == 1.0, result["failures"]


def test_llm_statement_counts_add_up_when_a_stray_marker_is_removed():
    """kept + flagged + dropped = statements: a marker removed from a fragment that is no statement (a lone
    《) is not counted as a flagged statement."""
    from types import SimpleNamespace as NS

    from eval.llm import statement_counts

    reply = "镇巴县划转了233项行政审批事项[1]。\n镇巴县共有3名法律顾问[1]。\n《[2]"
    flags = [NS(sentence="镇巴县共有3名法律顾问[1]。", action="dropped", reason="unsupported"),
             NS(sentence="《", action="marker_removed", reason="dangling_marker")]
    c = statement_counts(NS(model_reply=reply, flags=flags))
    assert c == {"statements": 2, "dropped": 1, "flagged": 0, "kept": 1}
