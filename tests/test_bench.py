"""`python -m eval bench` run tiny: a three-document corpus, three questions, one 200-chunk synthetic
knowledge base served by a separate process. Checks the report's structure and that its numbers are
sane (no timing thresholds: those are benchmark goals, not test assertions)."""
from __future__ import annotations

import json

from conftest import write_tiny_corpus
from test_eval_compare import write_questions


def test_bench_tiny(tmp_path, capsys):
    from eval.cli import main

    corpus = write_tiny_corpus(tmp_path / "corpus")
    questions = write_questions(tmp_path / "q.jsonl")
    out, work = tmp_path / "results", tmp_path / "work"
    argv = ["bench", "--corpus", str(corpus), "--questions", str(questions), "--sizes", "200",
            "--out", str(out), "--work", str(work), "--ceiling-sample", "4", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert json.loads((out / "bench.json").read_text(encoding="utf-8")) == result
    md = (out / "bench.md").read_text(encoding="utf-8")
    assert "| chunks |" in md and "Machine:" in md

    m = result["machine"]
    assert m["nproc"] >= 1 and m["cpu"] and m["ram_gb"] > 0
    c = result["ceiling"]
    assert c["sample_passages"] == 4 and c["interleaved_slices"] >= 2 and c["tokens_per_s"] > 0 and c["chunks_per_s"] > 0
    ing = result["ingest"]
    assert ing["files"] == 3 and ing["errors"] == 0
    assert ing["chunks"] == ing["embedded"] == result["chunks_in_corpus"] > 0
    assert 0 < ing["model_share"] <= 1.0
    assert 0 < result["ingest_ratio"] < 10
    re_ = result["reingest"]
    assert re_["embedded"] == 0 and re_["unchanged"] == 3
    assert result["verdicts"]["reingest_zero_embeddings"] is True

    (row,) = result["sizes"]
    assert row["size"] == 200 and row["chunks"] == 200 and row["documents"] > 3
    assert row["build"]["built"] is True and row["build"]["copies"] > 0
    for key in ("retrieval_ms", "answer_ms"):
        s = row[key]
        assert s["n"] == 3 and 0 < s["p50"] <= s["p95"] <= s["max"]
    assert 0 < row["startup_s"] <= row["startup_wall_s"] + 1
    assert 50 < row["rss_ready_mb"] <= row["peak_rss_mb"] < 8000

    # a second run reuses the synthetic knowledge base (same recipe, same source)
    argv2 = argv[:-1] + ["--no-ingest", "--kb", str(work / "ingest-kb")]
    assert main(argv2) == 0
    again = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert again["sizes"][0]["build"]["built"] is False and again["sizes"][0]["chunks"] == 200
    assert "ingest" not in again
