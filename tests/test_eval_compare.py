"""`python -m eval compare` on a tiny corpus and three questions: ours against the LangChain baseline
and the ablations, in one process, with real embeddings (a few dozen small passages)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import write_tiny_corpus

QUESTIONS = [
    {"id": "t1", "type": "fact", "mode": "ask", "question": "甲县司法局全年评查了多少卷行政执法案卷？",
     "gold": [{"doc": "a.txt", "evidence": "评查案卷46卷"}]},
    {"id": "t2", "type": "fact", "mode": "ask", "question": "乙市群众投诉在多少个工作日内办结答复？",
     "gold": [{"doc": "b.md", "evidence": "群众投诉在7个工作日内办结答复"}]},
    {"id": "t3", "type": "paraphrase", "mode": "ask", "question": "丙省规范性文件合法性审核至少要多长时间？",
     "gold": [{"doc": "c.txt", "evidence": "审核时间一般不少于5个工作日"}]},
]
METRICS = ("recall@1", "recall@5", "recall@10", "mrr")


def write_questions(path: Path) -> Path:
    path.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    corpus = write_tiny_corpus(root / "corpus")
    questions = write_questions(root / "q.jsonl")
    return root, corpus, questions


def run(capsys, *argv) -> str:
    from eval.cli import main

    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_compare_json_structure_and_cache(tiny_setup, capsys):
    root, corpus, questions = tiny_setup
    argv = ["compare", "--questions", str(questions), "--kb", str(root / "kb"), "--corpus", str(corpus), "--json"]
    result = json.loads(run(capsys, *argv))
    systems = result["systems"]
    for name in ("ours", "baseline", "bm25", "dense", "hybrid", "ours-no-headers", "hybrid-no-headers",
                 "ours+sparse", "sparse"):
        assert name in systems, name
    for name, r in systems.items():
        assert r["n"] == 3, name
        for k in METRICS:
            assert 0.0 <= r[k] <= 1.0, (name, k, r[k])
        assert r["recall@1"] <= r["recall@5"] <= r["recall@10"], name
        assert set(r["by_type"]) == {"fact", "paraphrase"}, name
        assert r["by_type"]["fact"]["n"] == 2
    # on three documents of a few chunks each our pipeline finds every gold passage in its top 5
    assert systems["ours"]["recall@5"] == 1.0
    assert systems["baseline"]["recall@10"] == 1.0  # the whole tiny corpus fits in ten 1000-char chunks
    info = result["baseline_info"]
    assert info["splitter"].startswith("RecursiveCharacterTextSplitter(1000, 200)")
    assert info["files"] == 3 and 3 <= info["chunks"] < result["ours_info"]["chunks"]
    for k in METRICS:
        o, b, r = systems["ours"][k], systems["baseline"][k], result["ratio"]["all"][k]
        assert (r is None and b == 0) or r == pytest.approx(o / b, abs=1e-3)
    assert set(result["ratio"]["by_type"]) == {"fact", "paraphrase"}
    assert result["headerless_info"]["chunks"] == result["ours_info"]["chunks"]

    # a second run embeds nothing: baseline, header-less and sparse vectors all come from the cache
    again = json.loads(run(capsys, *argv))
    assert again["baseline_info"]["embedded_this_run"] == 0
    assert again["headerless_info"]["embedded_this_run"] == 0
    assert again["systems"]["ours"]["mrr"] == systems["ours"]["mrr"]
    assert again["systems"]["baseline"]["mrr"] == systems["baseline"]["mrr"]


def test_compare_markdown_and_files(tiny_setup, capsys, tmp_path):
    root, corpus, questions = tiny_setup
    out = tmp_path / "results"
    text = run(capsys, "compare", "--questions", str(questions), "--kb", str(root / "kb"), "--corpus", str(corpus),
               "--systems", "bm25", "dense", "--out", str(out))
    assert "| type | n |" in text and "| **all** | 3 |" in text
    assert "| baseline |" in text and "| bm25 |" in text and "| hybrid |" not in text
    data = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert set(data["systems"]) == {"ours", "baseline", "bm25", "dense"}
    assert (out / "compare.md").read_text(encoding="utf-8").strip() == text.strip()
