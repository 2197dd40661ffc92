"""Long and colliding upload names (issue 16): shortened with a hash within the file system's limit, never
replacing each other, kept as originals so :reingest works."""
from __future__ import annotations

import pytest

from conftest import TINY_REPORT, write_tiny_corpus

fastapi = pytest.importorskip("fastapi", reason="the web extra is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from assistant.delivery.api import Service, create_api  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from ingest.pipeline import safe_doc_id  # noqa: E402
from vectorstore.kb import KnowledgeBase  # noqa: E402

PREFIX = "关于进一步加强和改进行政执法监督工作推进严格规范公正文明执法的实施意见及配套制度汇编" * 3  # 129 characters


def test_long_names_fit_the_file_system_and_do_not_collide():
    a, b = safe_doc_id(f"uploads/{PREFIX}甲.txt"), safe_doc_id(f"uploads/{PREFIX}乙.txt")
    assert a != b
    for doc_id in (a, b):
        name = doc_id.split("/")[-1]
        assert len(name.encode("utf-8")) <= 200 and name.endswith(".txt") and name.startswith(PREFIX[:20])
    assert safe_doc_id(f"uploads/{PREFIX}甲.txt") == a  # stable: the same upload gets the same id
    assert safe_doc_id("uploads/短名.txt") == "uploads/短名.txt"


def test_two_long_uploads_are_both_kept_and_reingest(tmp_path):
    src = write_tiny_corpus(tmp_path / "src")
    kb = KnowledgeBase(tmp_path / "kb")
    kb.ingest([src], progress=False)
    try:
        c = TestClient(create_api(Service(Assistant(Settings(kb=tmp_path / "kb", corpus=src), kb=kb))),
                       base_url="http://127.0.0.1", raise_server_exceptions=False)
        ids = []
        for suffix, town in (("甲", "庚县"), ("乙", "辛县")):
            r = c.post("/api/documents", files=[("files", (f"{PREFIX}{suffix}.txt",
                                                           TINY_REPORT.replace("甲县", town).encode(), "text/plain"))])
            assert r.status_code == 200, r.text
            ids.append(r.json()["files"][0]["doc_id"])
        assert ids[0] != ids[1]
        listed = {d["id"] for d in c.get("/api/documents").json()["documents"]}
        assert set(ids) <= listed
        for doc_id in ids:
            assert (tmp_path / "kb" / "originals" / doc_id).is_file()
            r = c.post(f"/api/documents/{doc_id}:reingest")
            assert r.status_code == 200 and r.json()["status"] == "replaced", r.text
    finally:
        kb.close()


def test_cache_rows_of_an_aborted_ingest_are_reclaimed_simulated_commit_race(tmp_path):
    """A duplicate refused at the commit (two uploads of one file racing) leaves no embedding-cache rows."""
    kb = KnowledgeBase(tmp_path / "kb")
    try:
        assert kb.ingest_bytes("uploads/one.txt", TINY_REPORT.encode()).status == "added"
        rows = kb.store.db.execute("SELECT COUNT(*) FROM emb_cache").fetchone()[0]
        other = TINY_REPORT.replace("甲县", "壬县").encode()
        from ingest.records import Chunk  # noqa: F401  (the record type the commit takes)
        from vectorstore.store import DuplicateContent

        real = kb.store.commit_document

        def racing_commit(doc, *a, **k):  # another upload of the same bytes landed first: the real refusal
            raise DuplicateContent("uploads/first.txt")

        kb.store.commit_document = racing_commit
        res = kb.ingest_bytes("uploads/two.txt", other)
        kb.store.commit_document = real
        assert res.status == "duplicate"
        assert kb.store.db.execute("SELECT COUNT(*) FROM emb_cache").fetchone()[0] == rows
    finally:
        kb.close()


def test_old_web_uploads_and_exports_are_removed(tmp_path):
    pytest.importorskip("gradio", reason="the web extra is not installed")
    import os
    import time

    from assistant.delivery.web import WebApp, create_app

    kb = KnowledgeBase(tmp_path / "kb")
    try:
        a = Assistant(Settings(kb=tmp_path / "kb", corpus=tmp_path / "none"), kb=kb)
        uploads = tmp_path / "kb" / "web-uploads"
        (uploads / "abc123").mkdir(parents=True)
        old, fresh = uploads / "abc123" / "old.docx", uploads / "fresh.txt"
        old.write_bytes(b"x")
        fresh.write_bytes(b"y")
        past = time.time() - 2 * 3600
        os.utime(old, (past, past))
        os.utime(old.parent, (past, past))
        create_app(a, None)
        assert not old.exists() and fresh.exists()
        web = WebApp(Service(a))
        answer = {"mode": "ask", "question": "问题", "text": "回答", "sources": []}
        first, _ = web.export_files(answer)
        os.utime(first.parent, (past, past))
        second, _ = web.export_files(answer)
        assert second.exists() and not first.exists()
        assert uploads in second.parents
    finally:
        kb.close()
