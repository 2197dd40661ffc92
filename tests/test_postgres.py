"""Several app servers over one knowledge base: the record in a real PostgreSQL cluster (started here in a
temporary folder), the vectors in a real ``chroma run``, and two ``fazhi serve`` processes on them.

- the store on PostgreSQL: no ``fazhi.sqlite3`` is written, the commit protocol and the consistency check
  hold, and the writer lock is a PostgreSQL advisory lock that serialises two stores and frees itself when
  its holder is gone (an abandoned ``pending`` mark is repaired, a live writer's is left alone);
- an upload on server A is found by a search on server B within seconds (B notices the new generation and
  rebuilds its BM25 index and catalogue from the database);
- concurrent uploads on A and B serialise: both land, one generation each, and the same bytes uploaded to
  both at once are stored once;
- SIGKILL of A mid-upload (after its vectors went to Chroma, before the database commit): B keeps answering
  from the committed state, never the half-written document, and repairs what A left on its next request.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from conftest import write_tiny_corpus
from eval.cluster import CHROMA, AppServer, ChromaServer, PostgresCluster, why_not
from eval.load import request
from vectorstore.kb import KnowledgeBase
from vectorstore.retrieve import Retriever

WHY_NOT = why_not() or (None if CHROMA else "the chroma CLI (chromadb package) is not installed")
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")


def report(agency: str, n: int) -> bytes:
    return (f"{agency}2022年法治政府建设情况报告\n"
            f"2022年，{agency}深入推进法治政府建设，现将有关情况报告如下。\n"
            "一、推进行政复议体制改革\n"
            f"建成智慧复议平台，全年在线受理行政复议申请{n}件，按期办结率100%。\n"
            "二、加强行政执法监督\n"
            f"开展行政执法案卷评查3次，评查案卷{n + 41}卷，发现并整改问题17个。\n").encode("utf-8")


@pytest.fixture(scope="module")
def pg():
    cluster = PostgresCluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    server = ChromaServer(tmp_path_factory.mktemp("chroma") / "data")
    yield server
    server.stop()


def state(pg: PostgresCluster, key: str, url: str | None = None) -> str | None:
    import psycopg

    with psycopg.connect(url or pg.url, autocommit=True) as con:
        row = con.execute("SELECT value FROM state WHERE key=%s", (key,)).fetchone()
    return row[0] if row else None


# ---- the store on PostgreSQL, in this process ----------------------------------------------------------

def test_the_record_lives_in_postgres_and_the_advisory_lock_serialises_writers(pg, chroma, tmp_path):
    url = pg.new_database("inproc")
    src = write_tiny_corpus(tmp_path / "src")
    a = KnowledgeBase(tmp_path / "a", database_url=url, chroma_url=chroma.url)
    b = KnowledgeBase(tmp_path / "b", database_url=url, chroma_url=chroma.url)
    try:
        assert a.ingest([src], progress=False).count("added") == 3
        assert not (tmp_path / "a" / "fazhi.sqlite3").exists()  # the record is the server's, not a file
        assert a.store.check() == {}
        assert {d["id"] for d in b.documents()} == {d["id"] for d in a.documents()}
        assert b.store.generation == a.store.generation == 3
        a.update_metadata("c.txt", region="某某区")
        assert next(d for d in b.documents() if d["id"] == "c.txt")["region"] == "某某区"
        # a table module on the same seam: a chunk correction made through a is b's too
        first = a.store.doc_chunks("c.txt")[0]
        a.edit_chunk("c.txt", first.ordinal, first.text + "（已更正）")
        assert b.store.doc_chunks("c.txt")[0].text.endswith("（已更正）")
        assert [o.ordinal for o in b.overrides.for_hash(b.store.doc_hash("c.txt"))] == [first.ordinal]
        assert a.store.check() == {}
        # feedback and conversations (vectorstore/userdata.py) live in the shared database too
        from vectorstore.userdata import Conversation, FeedbackEntry, UserData

        ua, ub = UserData(a.store.database), UserData(b.store.database)
        try:
            e = ua.save_feedback(FeedbackEntry(user_name="alice", mode="ask", question="甲县评查了多少卷？",
                                               answer_text="评查案卷46卷[1]。", rating="down", citation_error=True,
                                               sources=[{"number": 1, "doc_id": "a.txt", "quote": "46卷"}]))
            ua.save_conversation(Conversation(user_name="alice", title="第一次", turns=[{"id": 1, "question": "问一"}]))
            (got,) = ub.feedback("alice")
            assert (got.id, got.rating, got.citation_error, got.sources[0]["quote"]) == (e.id, "down", True, "46卷")
            assert [c.title for c in ub.conversations("alice")] == ["第一次"] and ub.conversations("bob") == []
        finally:
            ua.close()
            ub.close()

        # one writer at a time across stores: while a holds the lock, b cannot take it
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with a.store._write_lock():
                held.set()
                release.wait(30)

        t = threading.Thread(target=hold)
        t.start()
        assert held.wait(30)
        assert b.store.database.lock(blocking=False) is False
        # a live writer's pending mark is not "abandoned": b leaves it alone
        a.store._mark_pending(["c.txt"])
        assert b.store.repair_abandoned() is False and state(pg, "pending", url) == "1"
        release.set()
        t.join(30)
        # the lock is free again: the writer that left "pending" is gone, b repairs
        assert b.store.repair_abandoned() is True and state(pg, "pending", url) is None
        assert b.store.database.lock(blocking=False) is True
        b.store.database.unlock()
        assert b.store.check() == {}
    finally:
        a.close()
        b.close()


# ---- two `fazhi serve` processes on one PostgreSQL and one Chroma server -------------------------------

@pytest.fixture(scope="module")
def servers(pg, chroma, tmp_path_factory):
    root = tmp_path_factory.mktemp("scale-out")
    src = write_tiny_corpus(root / "src")
    kb = KnowledgeBase(root / "builder", chroma_url=chroma.url, database_url=pg.url)
    assert kb.ingest([src], progress=False).count("added") == 3
    kb.close()
    apps = []
    try:
        for name in ("A", "B"):
            apps.append(AppServer(root / name, pg.url, chroma.url, corpus=src, name=name))
        yield {"A": apps[0], "B": apps[1], "chroma": chroma, "root": root, "src": src}
    finally:
        for app in apps:
            app.stop()


def search_ids(base: str, query: str) -> list[str]:
    status, body = request(base + "/api/search", "POST", {"query": query, "k": 5}, timeout=120)
    assert status == 200, body
    return [r["doc_id"] for r in body["results"]]


def upload(base: str, name: str, data: bytes) -> dict:
    status, body = request(base + "/api/documents", "POST", files=[(name, data)], timeout=300)
    assert status == 200, body
    return body["files"][0]


def checked_kb(servers, pg) -> KnowledgeBase:
    return KnowledgeBase(servers["root"] / "checker", chroma_url=servers["chroma"].url, database_url=pg.url)


def test_an_upload_on_a_is_found_by_a_search_on_b(servers, pg):
    a, b = servers["A"].url, servers["B"].url
    assert "uploads/xu-2022.txt" not in search_ids(b, "戌市司法局在线受理行政复议申请")  # B has built its index before
    res = upload(a, "xu-2022.txt", report("戌市司法局", 387))
    assert res["status"] == "added" and res["doc_id"] == "uploads/xu-2022.txt", res
    # A answered after its commit; B's very next request notices the new generation and rebuilds from the database
    t0 = time.monotonic()
    assert "uploads/xu-2022.txt" in search_ids(b, "戌市司法局在线受理行政复议申请")
    assert time.monotonic() - t0 < 10  # the rebuild of B's index and catalogue is part of that one request
    status, body = request(b + "/api/ask", "POST", {"question": "戌市司法局2022年在线受理了多少件行政复议申请？"},
                           timeout=120)
    assert status == 200 and not body["refused"] and "387件" in body["text"], body
    assert body["sources"][0]["doc_id"] == "uploads/xu-2022.txt"


def test_concurrent_uploads_on_a_and_b_serialise(servers, pg):
    a, b = servers["A"].url, servers["B"].url
    gen0 = int(state(pg, "generation"))
    results: dict[str, dict] = {}

    def go(key: str, base: str, name: str, data: bytes) -> None:
        results[key] = upload(base, name, data)

    pairs = [("a", a, "hai-2022.txt", report("亥市司法局", 512)), ("b", b, "zi-2022.txt", report("子县司法局", 623))]
    threads = [threading.Thread(target=go, args=p) for p in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert results["a"]["status"] == results["b"]["status"] == "added", results
    assert int(state(pg, "generation")) == gen0 + 2  # two commits, one after the other
    for base in (a, b):
        assert "uploads/hai-2022.txt" in search_ids(base, "亥市司法局在线受理行政复议申请")
        assert "uploads/zi-2022.txt" in search_ids(base, "子县司法局在线受理行政复议申请")

    # the same bytes under two names on the two servers at once: the duplicate check runs under the shared
    # writer lock, so exactly one lands
    same = report("丑区司法局", 734)
    pairs = [("a", a, "chou-a.txt", same), ("b", b, "chou-b.txt", same)]
    threads = [threading.Thread(target=go, args=p) for p in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert sorted(r["status"] for r in results.values()) == ["added", "duplicate"], results
    kb = checked_kb(servers, pg)
    try:
        assert kb.store.last_reconcile is None and kb.store.check() == {}
        assert len([d for d in kb.documents() if d["id"].startswith("uploads/chou-")]) == 1
    finally:
        kb.close()


def test_sigkill_of_a_mid_upload_leaves_a_knowledge_base_b_repairs(servers, pg):
    a, b, chroma = servers["A"], servers["B"], servers["chroma"]
    kb = checked_kb(servers, pg)
    collection = chroma.client().get_collection(kb.store.collection_name)
    gen0 = kb.store.generation
    kb.close()
    # hold A's commit at its first database write, after its vectors went to Chroma: a lock on the chunks
    # table that readers pass (EXCLUSIVE allows plain SELECTs) but A's DELETE/INSERT wait for
    con = pg.connect()
    con.execute("BEGIN")
    con.execute("LOCK TABLE chunks IN EXCLUSIVE MODE")
    watch = pg.connect()  # its own connection: pg_stat_activity is read once per transaction
    outcome: dict = {}
    t = threading.Thread(target=lambda: outcome.update(r=request(a.url + "/api/documents", "POST", timeout=300,
                                                               files=[("yin-2022.txt", report("寅市司法局", 845))])))
    t.start()
    try:
        deadline = time.monotonic() + 240
        while not watch.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type='Lock' "
                              "AND query LIKE 'DELETE FROM chunks%'").fetchone()[0]:
            assert time.monotonic() < deadline, f"A never reached its commit: {outcome}"
            time.sleep(0.1)
        assert state(pg, "pending") == "1"
        orphans = collection.get(where={"doc_id": "uploads/yin-2022.txt"}, include=[])["ids"]
        assert orphans, "A's vectors should be in Chroma before its commit"
        # meanwhile B answers from the committed state, and leaves a live writer's mark alone
        assert "uploads/yin-2022.txt" not in search_ids(b.url, "寅市司法局在线受理行政复议申请")
        assert state(pg, "pending") == "1"
        a.kill()
    finally:
        con.execute("ROLLBACK")
        con.close()
        watch.close()
    t.join(60)
    assert outcome["r"][0] == 0  # the upload's connection died with A
    # B: the half-written document is never answered; its next requests repair what A left
    deadline = time.monotonic() + 30
    while state(pg, "pending") is not None:
        assert time.monotonic() < deadline, "B did not repair the write A left"
        assert "uploads/yin-2022.txt" not in search_ids(b.url, "寅市司法局在线受理行政复议申请")
        time.sleep(0.3)
    assert collection.get(where={"doc_id": "uploads/yin-2022.txt"}, include=[])["ids"] == []
    assert int(state(pg, "generation")) == gen0
    status, docs = request(b.url + "/api/documents", timeout=60)
    assert status == 200 and "uploads/yin-2022.txt" not in {d["id"] for d in docs["documents"]}
    kb = checked_kb(servers, pg)
    try:
        assert kb.store.last_reconcile is None  # nothing left to repair on open: B did it
        assert kb.store.check() == {}
        assert "uploads/xu-2022.txt" in {h.to_dict()["doc_id"] for h in Retriever(kb).search("戌市司法局行政复议", k=5)}
    finally:
        kb.close()
    # and B still takes uploads (the lock A held died with it)
    assert upload(b.url, "yin-2022.txt", report("寅市司法局", 845))["status"] == "added"
