"""Reads never wait for a long write, and a second process writing the served knowledge base is noticed
(issue 16) — over a real knowledge base, a real upload and a real `fazhi ingest` in another process."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT, write_tiny_corpus

from assistant.delivery.serving import Service
from assistant.service import Assistant
from assistant.settings import Settings
from vectorstore.kb import KnowledgeBase

QUESTION = "甲县司法局全年评查了多少卷行政执法案卷？"


def big_report(sections: int) -> bytes:
    """A long real-looking report: one chunk per numbered section, every section's wording distinct."""
    parts = ["壬市司法局2023年法治政府建设情况报告\n"]
    for i in range(sections):
        parts.append(f"第{i + 1}项、推进第{i + 1}批重点工作\n"
                     f"第{i + 1}批工作中，壬市司法局组织培训{i + 3}场，审查规范性文件{i * 7 + 5}件，"
                     f"办理第{i + 1}类行政复议案件{i * 3 + 2}件，发现并整改问题{i % 17 + 1}个，"
                     f"编号{i:05d}的台账已归档。\n")
    return "".join(parts).encode("utf-8")


@pytest.fixture
def service(tmp_path):
    src = write_tiny_corpus(tmp_path / "src")
    kb = KnowledgeBase(tmp_path / "kb")
    kb.ingest([src], progress=False)
    svc = Service(Assistant(Settings(kb=tmp_path / "kb", corpus=src), kb=kb))
    yield svc
    kb.close()


def test_questions_are_answered_while_a_large_upload_is_embedded(service):
    assert service.ask("ask", QUESTION).text  # warm: models loaded, tables built
    done = {}

    def upload():
        done["result"] = service.upload("big.txt", big_report(400))

    t = threading.Thread(target=upload)
    t.start()
    time.sleep(3)  # parsed; embedding under way
    latencies = []
    for _ in range(3):
        t0 = time.monotonic()
        a = service.ask("ask", QUESTION)
        latencies.append(time.monotonic() - t0)
        assert "46卷" in a.text  # from the last committed generation
        assert service.document_count() == 3  # what /api/health reads, without the lock
    still_ingesting = t.is_alive()
    t.join(600)
    assert done["result"]["status"] == "added" and done["result"]["chunks"] >= 80
    assert still_ingesting, "the upload finished before the questions: make it larger for this machine"
    assert max(latencies) < 10, latencies
    assert any(d["id"] == "uploads/big.txt" for d in service.documents())


def test_health_does_not_wait_for_the_lock(service):
    from fastapi.testclient import TestClient

    from assistant.delivery.api import create_api

    client = TestClient(create_api(service))
    with service.lock:  # a request holding the knowledge base (a commit, a long answer)
        out = {}
        t = threading.Thread(target=lambda: out.update(r=client.get("/api/health")))
        t.start()
        t.join(10)
        assert not t.is_alive() and out["r"].status_code == 200 and out["r"].json()["documents"] == 3


def test_a_second_process_ingesting_the_served_folder_is_noticed(service, tmp_path):
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "xin.txt").write_text("癸县司法局2022年法治政府建设情况报告\n一、行政复议\n癸县司法局全年办理行政复议案件"
                                    "73件，纠错率12%。\n", encoding="utf-8")
    assert service.search("行政复议案件", None, 5)  # the server has answered from its index
    kb_path = service.kb.store.folder
    r = subprocess.run([sys.executable, "-m", "assistant.delivery.cli", "--kb", str(kb_path), "ingest", str(folder)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    from vectorstore.retrieve import Filters

    hits = service.search("癸县办理了多少件行政复议案件", Filters.parse({"doc_ids": ["xin.txt"]}), 5)
    assert hits and hits[0]["doc_id"] == "xin.txt", hits
    assert any(d["id"] == "xin.txt" for d in service.documents())
    a = service.ask("ask", "癸县司法局全年办理行政复议案件多少件？")
    assert "73件" in a.text
