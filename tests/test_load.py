"""Load over loopback HTTP (reduced here: 4 clients × 3 questions; `python -m eval.load` runs the full
20 × 25 on the corpus): concurrent questions through POST /api/ask while an upload is being
ingested — no errors, nothing lost, the upload listed and answerable afterwards."""
from __future__ import annotations

import os

import pytest

from conftest import write_tiny_corpus

pytest.importorskip("fastapi", reason="the web extra is not installed")
pytest.importorskip("uvicorn", reason="the web extra is not installed")

QUESTIONS = [
    "甲县司法局全年评查了多少卷行政执法案卷？",
    "乙市的群众投诉在几个工作日内办结答复？",
    "行政规范性文件合法性审核时间一般不少于几个工作日？",
    "丙省行政规范性文件管理条例什么时候施行？",
    "火星探测工程的法律论证情况如何？",  # unanswerable: a refusal is a correct answer too
]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    from assistant.service import Assistant
    from assistant.settings import Settings
    from vectorstore.kb import KnowledgeBase

    root = tmp_path_factory.mktemp("load")
    src = write_tiny_corpus(root / "src")
    kb = KnowledgeBase(root / "kb")
    kb.ingest([src], progress=False)
    yield Assistant(Settings(kb=root / "kb", corpus=src), kb=kb)
    kb.close()


@pytest.mark.slow
def test_concurrent_questions_while_an_upload_is_ingested(assistant):
    from eval.load import UPLOAD_DOC, UPLOAD_QUESTION, run_load, serve

    clients = int(os.environ.get("FAZHI_LOAD_CLIENTS", "4"))
    per_client = int(os.environ.get("FAZHI_LOAD_QUESTIONS", "3"))
    docs_before = len(assistant.kb.documents())
    upload = ("酉市 司法局 2023.txt", UPLOAD_DOC.format(n=612, m=653).encode("utf-8"))
    with serve(assistant, auth="trainer:pw-2024", app="web") as base:
        report = run_load(base, QUESTIONS, clients, per_client, upload=upload, upload_question=UPLOAD_QUESTION,
                          upload_expect="612件", auth=("trainer", "pw-2024"), timeout=600)
    lat = report["latency_s"]
    print(f"\nload: {clients}×{per_client}: {report['throughput_rps']} q/s, p50 {lat['p50']} s, p95 {lat['p95']} s, "
          f"errors {report['error_count']}, lost {report['lost']}, upload {report['upload']['seconds']} s "
          f"with {report['upload']['questions_during_upload']} questions in flight")
    assert report["error_count"] == 0, report["errors"]
    assert report["lost"] == 0 and report["skipped"] == 0
    assert report["sent"] == report["ok"] == clients * per_client
    up = report["upload"]
    assert up["status"] == "added" and up["listed"] and up["answered"], up
    assert up["questions_during_upload"] >= 1  # the questions really ran while the upload was ingested
    assert len(assistant.kb.documents()) == docs_before + 1
    assert assistant.kb.store.check() == {}
    assert lat["p50"] is not None and lat["p95"] >= lat["p50"] > 0


def test_requests_without_credentials_are_refused_under_load(assistant):
    """The same server refuses anonymous calls (and does not count them as served)."""
    from eval.load import request, serve

    with serve(assistant, auth="trainer:pw-2024", app="api") as base:
        status, _ = request(base + "/api/ask", "POST", {"question": QUESTIONS[0]})
        assert status == 401
        status, body = request(base + "/api/ask", "POST", {"question": QUESTIONS[0]}, auth=("trainer", "pw-2024"))
        assert status == 200 and "46卷" in body["text"]
