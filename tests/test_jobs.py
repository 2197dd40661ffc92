"""Background upload jobs: progress, cancel, a bounded queue, and questions answered while one embeds."""
from __future__ import annotations

import threading
import time

import pytest

from conftest import write_tiny_corpus

fastapi = pytest.importorskip("fastapi", reason="the web extra is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from assistant.delivery.api import Service, create_api  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from vectorstore.kb import KnowledgeBase, vec_key  # noqa: E402

REPORT = ("己市司法局2023年法治政府建设情况报告\n一、推进行政复议体制改革\n"
          + "".join(f"第{i}项：己市司法局建成第{i}个智慧复议分中心，在线受理行政复议申请{400 + i}件，按期办结率100%。\n"
                    for i in range(1, 40)))


@pytest.fixture
def app(tmp_path):
    src = write_tiny_corpus(tmp_path / "src")
    kb = KnowledgeBase(tmp_path / "kb")
    kb.ingest([src], progress=False)
    assistant = Assistant(Settings(kb=tmp_path / "kb", corpus=src, max_queued_uploads=1), kb=kb)
    service = Service(assistant)
    client = TestClient(create_api(service), base_url="http://127.0.0.1")
    yield client, service, kb
    service.upload_jobs.shutdown()
    kb.close()


class Gate:
    """Holds the embedding of uploads until released (to see a job while it runs)."""

    def __init__(self, kb) -> None:
        self.real = kb.embedder.embed_passages
        self.entered, self.release = threading.Event(), threading.Event()
        self.texts: list[str] = []

    def __call__(self, texts):
        self.texts.extend(texts)
        self.entered.set()
        assert self.release.wait(30)
        return self.real(texts)


def _wait(client, job_id: str, states=("done", "error", "cancelled"), timeout: float = 120) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['state']}")


def _upload(client, name: str, text: str = REPORT):
    return client.post("/api/documents?background=true", files=[("files", (name, text.encode("utf-8")))])


def test_background_upload_reports_progress_and_its_result(app):
    client, service, kb = app
    r = _upload(client, "jiyi.txt")
    assert r.status_code == 202
    job = r.json()["jobs"][0]
    assert job["filename"] == "jiyi.txt" and job["state"] in ("queued", "parsing", "embedding", "committing", "done")
    done = _wait(client, job["id"])
    assert done["state"] == "done" and done["label"] == "已完成", done
    assert done["result"]["status"] == "added" and done["total"] == done["done"] == done["result"]["chunks"] > 0
    assert [j["id"] for j in client.get("/api/jobs").json()["jobs"]] == [job["id"]]
    hits = client.post("/api/search", json={"query": "智慧复议分中心"}).json()["results"]
    assert hits and hits[0]["doc_id"] == "uploads/jiyi.txt"


def test_a_running_upload_is_cancelled_and_leaves_nothing(app, monkeypatch):
    client, service, kb = app
    gate = Gate(kb)
    monkeypatch.setattr(kb.embedder, "embed_passages", gate)
    job = _upload(client, "cancel-me.txt").json()["jobs"][0]
    assert gate.entered.wait(60)
    running = client.get(f"/api/jobs/{job['id']}").json()
    assert running["state"] == "embedding" and running["total"] > 0
    # questions are answered while the upload embeds (it holds no lock)
    ask = client.post("/api/ask", json={"question": "甲市司法局组织了多少场法治培训？"})
    assert ask.status_code == 200 and ask.json()["text"]
    # the queue holds one job (max_queued_uploads=1): a second upload waits for none, it is refused
    full = _upload(client, "second.txt", REPORT.replace("己市", "庚市"))
    assert full.status_code == 429 and "上传队列已满" in full.json()["detail"]
    r = client.delete(f"/api/jobs/{job['id']}")
    assert r.status_code == 200
    gate.release.set()
    ended = _wait(client, job["id"])
    assert ended["state"] == "cancelled" and ended["label"] == "已取消" and "已取消" in ended["result"]["message"]
    assert "uploads/cancel-me.txt" not in {d["id"] for d in kb.documents()}
    # the vectors embedded before the cancel are not left in the cache
    assert gate.texts and not kb.store.cached_vectors([vec_key(kb.embedder, t) for t in gate.texts])
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 409  # finished: nothing to cancel
    assert client.get("/api/jobs/nosuchjob").status_code == 404
