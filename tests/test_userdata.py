"""Answer feedback and saved conversations: the store, the API (per user, typed bodies, origin rules), and
survival of a real server restart."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, write_tiny_corpus


# ---- the store -------------------------------------------------------------------------------------------

def test_store_keeps_feedback_and_conversations_per_user_across_reopen(tmp_path):
    from vectorstore.userdata import Conversation, FeedbackEntry, UserData, UserDataError

    db = tmp_path / "fazhi.sqlite3"
    data = UserData(db)
    e = data.save_feedback(FeedbackEntry(user_name="alice", mode="ask", question="甲县评查了多少卷？",
                                         answer_text="评查案卷46卷[1]。", rating="down", citation_error=True,
                                         comment="来源1不是甲县的", sources=[{"number": 1, "doc_id": "a.txt", "quote": "46卷"}],
                                         settings={"request": {"filters": {"year_from": 2020}}}))
    assert len(e.id) == 32 and e.created_at
    c1 = data.save_conversation(Conversation(user_name="alice", title="第一次", turns=[{"id": 1, "question": "问一"}]))
    c2 = data.save_conversation(Conversation(user_name="bob", title="鲍勃的", turns=[]))
    c3 = data.save_conversation(Conversation(user_name="alice", title="第二次", turns=[]))
    data.close()

    data = UserData(db)  # reopened: everything is still there
    (got,) = data.feedback("alice")
    assert (got.rating, got.citation_error, got.comment) == ("down", True, "来源1不是甲县的")
    assert got.sources[0]["quote"] == "46卷" and got.settings["request"]["filters"]["year_from"] == 2020
    assert data.feedback("bob") == []
    assert [c.title for c in data.conversations("alice")] == ["第二次", "第一次"]  # most recent first
    assert data.conversation(c1.id, "bob") is None  # another user's conversation is not visible
    assert data.conversation(c1.id, "alice").turns == [{"id": 1, "question": "问一"}]
    # changing a rating replaces the entry, it does not add one
    got.rating, got.citation_error = "up", False
    data.save_feedback(got)
    assert [(x.id, x.rating) for x in data.feedback()] == [(e.id, "up")]
    data.rename_conversation(c1.id, "alice", "改过的标题")
    assert data.conversations("alice")[0].title == "改过的标题"  # renaming counts as a change
    with pytest.raises(UserDataError):
        data.rename_conversation(c2.id, "alice", "不是我的")
    assert not data.delete_conversation(c2.id, "alice")
    assert data.delete_conversation(c3.id, "alice")
    assert [c.id for c in data.conversations("alice")] == [c1.id]
    assert [c.id for c in data.conversations("bob")] == [c2.id]


# ---- the API over a small knowledge base -------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_kb(tmp_path_factory):
    from vectorstore.kb import KnowledgeBase

    root = tmp_path_factory.mktemp("userdata")
    kb = KnowledgeBase(root / "kb")
    kb.ingest([write_tiny_corpus(root / "src")], progress=False)
    yield kb
    kb.close()


def _client(kb, auth=None):
    from fastapi.testclient import TestClient

    from assistant.delivery.web import create_app
    from assistant.service import Assistant
    from assistant.settings import Settings

    return TestClient(create_app(Assistant(Settings(kb=kb.store.folder), kb=kb), auth), base_url="http://127.0.0.1")


def test_api_feedback_is_stored_with_question_answer_sources_and_settings(tiny_kb):
    with _client(tiny_kb) as c:
        answer = c.post("/api/ask", json={"question": "甲县司法局全年评查了多少卷案卷？", "filters": {"kind": "report"}}).json()
        assert answer["sources"], answer
        r = c.post("/api/feedback", json={"answer": answer, "rating": "up", "options": {"filters": {"kind": ["report"]}}})
        assert r.status_code == 201, r.text
        entry = r.json()
        assert entry["user_name"] == "local" and entry["rating"] == "up"
        assert entry["question"] == "甲县司法局全年评查了多少卷案卷？" and "46" in entry["answer_text"]
        assert entry["sources"][0]["quote"] and entry["settings"]["request"]["filters"] == {"kind": ["report"]}
        assert entry["settings"]["assistant"]["llm_backend"] == "extractive"
        assert "min_evidence" in entry["settings"]["assistant"]
        # the same entry changed: a wrong citation reported with a note
        r = c.post("/api/feedback", json={"answer": answer, "id": entry["id"], "rating": "down", "citation_error": True,
                                          "comment": "[1] 引的不是这一句"})
        assert r.status_code == 200 and r.json()["created_at"] == entry["created_at"]
        listed = c.get("/api/feedback").json()
        assert listed["count"] >= 1
        mine = next(x for x in listed["feedback"] if x["id"] == entry["id"])
        assert mine["citation_error"] and mine["rating"] == "down" and mine["comment"] == "[1] 引的不是这一句"
        # typed bodies: 422 naming the field
        bad = c.post("/api/feedback", json={"answer": answer, "rating": "great"})
        assert bad.status_code == 422 and "rating" in bad.json()["detail"]
        assert c.post("/api/feedback", json={"answer": answer}).status_code == 422  # nothing said
        assert c.post("/api/feedback", json={"answer": {"text": "x"}, "rating": "up"}).status_code == 422  # no mode
        assert c.post("/api/feedback", json={"answer": answer, "rating": "up", "id": "0" * 32}).status_code == 404
        # without login, a write from another site's page is refused
        evil = {"Origin": "http://evil.example"}
        assert c.post("/api/feedback", json={"answer": answer, "rating": "up"}, headers=evil).status_code == 403
        assert c.post("/api/conversations", json={"turns": []}, headers=evil).status_code == 403
        assert c.delete("/api/jobs/x", headers=evil).status_code == 403  # cancelling an upload: the same rule


def test_api_conversations_per_user_list_open_rename_delete(tiny_kb):
    turns = [{"id": 1, "mode": "ask", "question": "甲县司法局全年评查了多少卷案卷？", "status": "done",
              "answer": {"mode": "ask", "text": "评查案卷46卷[1]。", "sources": []}}]
    with _client(tiny_kb, "alice:pw1,bob:pw2") as c:
        alice, bob = ("alice", "pw1"), ("bob", "pw2")
        assert c.get("/api/conversations").status_code == 401
        r = c.post("/api/conversations", json={"turns": turns}, auth=alice)
        assert r.status_code == 201, r.text
        conv = r.json()
        assert conv["title"] == "甲县司法局全年评查了多少卷案卷？" and conv["user_name"] == "alice"
        assert c.get("/api/conversations", auth=bob).json()["count"] == 0
        assert c.get(f"/api/conversations/{conv['id']}", auth=bob).status_code == 404
        assert c.patch(f"/api/conversations/{conv['id']}", json={"title": "偷改"}, auth=bob).status_code == 404
        assert c.delete(f"/api/conversations/{conv['id']}", auth=bob).status_code == 404
        r = c.patch(f"/api/conversations/{conv['id']}", json={"title": "案卷评查"}, auth=alice)
        assert r.status_code == 200 and r.json()["title"] == "案卷评查"
        listed = c.get("/api/conversations", auth=alice).json()
        assert [(x["title"], x["turns"]) for x in listed["conversations"]] == [("案卷评查", 1)]
        opened = c.get(f"/api/conversations/{conv['id']}", auth=alice).json()
        assert opened["turns"][0]["answer"]["text"] == "评查案卷46卷[1]。"
        assert c.patch(f"/api/conversations/{conv['id']}", json={"title": ""}, auth=alice).status_code == 422
        assert c.post("/api/conversations", json={"turns": "x"}, auth=alice).status_code == 422
        assert c.delete(f"/api/conversations/{conv['id']}", auth=alice).json() == {"deleted": conv["id"]}
        assert c.get("/api/conversations", auth=alice).json()["count"] == 0


# ---- a real server, stopped and started again ----------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(method: str, url: str, body: dict | None = None, timeout: float = 60):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, json.loads(resp.read() or b"null")


def _serve(tmp_path, port: int, name: str):
    env = dict(os.environ, FAZHI_KB=str(tmp_path / "kb"), FAZHI_CORPUS=str(tmp_path / "src"), FAZHI_PORT=str(port),
               GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    log = (tmp_path / f"{name}.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "assistant.delivery.cli", "serve"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, (tmp_path / f"{name}.log").read_text()
        try:
            status, data = _call("GET", f"http://127.0.0.1:{port}/api/health", timeout=3)
            if status == 200 and data.get("status") == "ok":
                return proc, log
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.3)
    proc.kill()
    pytest.fail("the server never answered: " + (tmp_path / f"{name}.log").read_text())


def _stop(proc, log) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.mark.slow
def test_feedback_and_conversations_survive_a_server_restart(tmp_path):
    write_tiny_corpus(tmp_path / "src")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc, log = _serve(tmp_path, port, "first")
    try:
        _, answer = _call("POST", base + "/api/ask", {"question": "甲县司法局全年评查了多少卷案卷？"})
        status, entry = _call("POST", base + "/api/feedback", {"answer": answer, "rating": "down", "citation_error": True})
        assert status == 201
        turns = [{"id": 1, "mode": "ask", "question": answer["question"], "status": "done", "answer": answer}]
        status, conv = _call("POST", base + "/api/conversations", {"turns": turns, "title": "重启前保存的对话"})
        assert status == 201
    finally:
        _stop(proc, log)
    proc, log = _serve(tmp_path, port, "second")  # a new process over the same knowledge-base folder
    try:
        _, listed = _call("GET", base + "/api/feedback")
        (kept,) = [x for x in listed["feedback"] if x["id"] == entry["id"]]
        assert kept["rating"] == "down" and kept["citation_error"] and kept["question"] == answer["question"]
        assert kept["sources"] == answer["sources"]
        _, convs = _call("GET", base + "/api/conversations")
        assert [c["title"] for c in convs["conversations"]] == ["重启前保存的对话"]
        _, opened = _call("GET", base + f"/api/conversations/{conv['id']}")
        assert opened["turns"][0]["answer"]["text"] == answer["text"]
    finally:
        _stop(proc, log)


# ---- python -m eval feedback ----------------------------------------------------------------------------------

def test_eval_feedback_writes_questions_marked_for_review(tiny_kb, tmp_path):
    from assistant.delivery.serving import Service
    from assistant.delivery.workspace import Workspace
    from assistant.service import Assistant
    from assistant.settings import Settings
    from eval.cli import main
    from eval.scoring import load_questions, retrieval_scores

    assistant = Assistant(Settings(kb=tiny_kb.store.folder), kb=tiny_kb)
    ws = Workspace(Service(assistant))
    for e in ws.data.feedback():  # the module's knowledge base: only this test's feedback
        ws.data.db.execute("DELETE FROM feedback WHERE id=?", (e.id,))
    good = assistant.run("ask", "甲县司法局全年评查了多少卷案卷？", None).to_dict()
    ws.rate("alice", good, "up", options={"filters": {}})
    ws.rate("bob", good, "up")
    bad = assistant.run("ask", "丙省行政规范性文件合法性审核时间一般不少于几个工作日？", None).to_dict()
    ws.rate("alice", bad, "down", citation_error=True, comment="引的是第五条，不是第四条")
    chk = assistant.run("check", "核对：甲县司法局全年评查案卷50卷。", None, claim="甲县司法局全年评查案卷50卷。").to_dict()
    ws.rate(None, chk, "up")
    ws.close()

    out = tmp_path / "fb.jsonl"
    assert main(["feedback", "--kb", str(tiny_kb.store.folder), "--out", str(out)]) == 0
    qs = {q["question"]: q for q in load_questions(out)}  # the eval's own reader accepts the file
    assert len(qs) == 3  # two votes on one question are one question
    g = qs["甲县司法局全年评查了多少卷案卷？"]
    assert g["review"]["status"] == "needs_review" and g["review"]["votes"] == {"up": 2, "down": 0, "citation_error": 0}
    assert g["type"] == "fact" and g["mode"] == "ask" and g["expect_refusal"] is False
    assert g["gold"] and all(x["doc"] == "a.txt" and x["evidence"] for x in g["gold"])
    assert "46卷" in g["must_include"] and "[1]" not in g["reference_answer"]
    # the gold is what the approved answer cited: the eval's scorer finds it in that answer's own passages
    from eval.common import ranked_for
    from vectorstore.retrieve import Retriever

    hits = Retriever(tiny_kb).search(g["question"], None, k=10)
    assert retrieval_scores(g, ranked_for(hits))["recall@5"] == 1.0
    b = qs["丙省行政规范性文件合法性审核时间一般不少于几个工作日？"]
    assert b["gold"] == [] and b["must_include"] == [] and b["review"]["comments"] == ["引的是第五条，不是第四条"]
    assert b["review"]["cited"] and "wrong citation" in b["review"]["why"]
    c = qs["核对：甲县司法局全年评查案卷50卷。"]
    assert c["mode"] == "check" and c["claim"] == "甲县司法局全年评查案卷50卷。" and c["verdict"] == chk["verdict"]
    assert c["review"]["settings"]["assistant"]["support_min"] == 0.5
    assert main(["feedback", "--kb", str(tmp_path / "nowhere"), "--out", str(out)]) == 2


def test_user_data_that_cannot_be_opened_is_a_503_not_a_crash(tiny_kb, tmp_path, monkeypatch):
    """The database path under a plain file (ENOTDIR): the app starts; rating says why it cannot be saved."""
    from assistant.delivery.serving import Service, ServiceError
    from assistant.delivery.workspace import Workspace
    from assistant.service import Assistant
    from assistant.settings import Settings

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setattr(tiny_kb.store, "db_path", blocker / "fazhi.sqlite3")
    ws = Workspace(Service(Assistant(Settings(kb=tiny_kb.store.folder), kb=tiny_kb)))  # opening is deferred
    with pytest.raises(ServiceError) as err:
        ws.rate("alice", {"mode": "ask", "question": "q", "text": "a"}, "up")
    assert err.value.status == 503 and "无法保存反馈和对话" in str(err.value)
