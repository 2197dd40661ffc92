"""Scale-out: the knowledge base's vectors in a real Chroma server (``chroma run``, from the chromadb
package) instead of the embedded store — ingest, search with filters, metadata edits, delete, the
assistant, the CLI in another process, and SQLite staying the record (a wiped server is refilled)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, TINY_REPORT, write_tiny_corpus
from vectorstore.kb import KnowledgeBase
from vectorstore.retrieve import Filters, Retriever

from eval.cluster import CHROMA, ChromaServer  # noqa: E402 - the one `chroma run` helper (eval and tests)

pytestmark = pytest.mark.skipif(CHROMA is None, reason="the chroma CLI (chromadb package) is not installed")

EXTRA = (
    "戌市司法局2022年法治政府建设情况报告\n"
    "一、推进行政复议体制改革\n"
    "建成智慧复议平台，全年在线受理行政复议申请387件，按期办结率100%。\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def kb(server, tmp_path_factory):
    root = tmp_path_factory.mktemp("server-kb")
    src = write_tiny_corpus(root / "src")
    kb = KnowledgeBase(root / "kb", chroma_url=server.url)
    report = kb.ingest([src], progress=False)
    assert report.count("added") == 3, report.to_dict()
    yield kb
    kb.close()


def _server_ids(server: ChromaServer, kb: KnowledgeBase, doc_id: str | None = None) -> set[str]:
    col = server.client().get_collection(kb.store.collection_name)
    where = {"doc_id": doc_id} if doc_id else None
    return set(col.get(where=where, include=[])["ids"])


def _sqlite_ids(kb: KnowledgeBase, doc_id: str | None = None) -> set[str]:
    if doc_id is None:
        return {r[0] for r in kb.store.db.execute("SELECT id FROM chunks")}
    return {r[0] for r in kb.store.db.execute("SELECT id FROM chunks WHERE doc_id=?", (doc_id,))}


def test_vectors_live_in_the_server_not_in_the_folder(server, kb):
    assert not (kb.store.folder / "chroma").exists()  # no embedded store beside SQLite
    assert _server_ids(server, kb) == _sqlite_ids(kb) != set()
    names = [c.name if hasattr(c, "name") else c for c in server.client().list_collections()]
    assert kb.store.collection_name in names and kb.store.collection_name.startswith("fazhi-chunks-")
    assert kb.store.check() == {}


def test_search_and_filters_through_the_server(kb):
    r = Retriever(kb)
    hits = r.search("行政执法案卷评查", k=3)
    assert hits and hits[0].chunk.doc_id == "a.txt"
    assert hits[0].ranks.get("dense") is not None  # the dense list came from the server
    law = r.search("合法性审核时间", Filters(kind=["law"]), k=5)
    assert law and {h.chunk.doc_id for h in law} == {"c.txt"}
    assert r.where_clause(Filters(kind=["law"]), {"c.txt"})  # the same filter went to Chroma as ``where``
    dense = kb.store.dense_query(kb.embedder.embed_query("合法性审核"), 10, {"kind": {"$in": ["law"]}})
    assert dense and all(cid.startswith("c.txt#") for cid, _ in dense)
    years = r.search("行政执法", Filters(year_from=2020, year_to=2020), k=10)
    assert years and {h.chunk.doc_id for h in years} == {"a.txt"}


def test_metadata_edit_reaches_the_server(server, kb):
    kb.update_metadata("b.md", issuer="乙市人民政府办公室", year=2018)
    col = server.client().get_collection(kb.store.collection_name)
    metas = col.get(where={"doc_id": "b.md"}, include=["metadatas"])["metadatas"]
    assert metas and all(m["issuer"] == "乙市人民政府办公室" and m["year"] == 2018 for m in metas)
    hits = Retriever(kb).search("行政执法监督平台", Filters(year_from=2018, year_to=2018), k=5)
    assert hits and {h.chunk.doc_id for h in hits} == {"b.md"}
    assert kb.store.check() == {}


def test_the_assistant_answers_from_the_server(kb):
    from assistant.service import Assistant
    from assistant.settings import Settings

    assistant = Assistant(Settings(kb=kb.store.folder, chroma_url=kb.store.chroma_url), kb=kb)
    ans = assistant.run("ask", "甲县司法局全年评查了多少卷行政执法案卷？")
    assert not ans.refused and "46卷" in ans.text and "[1]" in ans.text
    s = ans.sources[0]
    assert kb.store.document(s.doc_id).text[s.start:s.end] == s.quote
    assert assistant.run("ask", "火星探测工程的法律论证情况如何？").refused


def test_another_process_sees_the_writes_bm25_in_step(server, kb):
    """A second process (another user's CLI) on the same folder + server sees a document the first
    one added: its BM25 is rebuilt from SQLite's new generation, its dense hits come from the server."""
    res = kb.ingest_bytes("uploads/xu-shi-2022.txt", EXTRA.encode("utf-8"))
    assert res.status == "added"
    env = dict(os.environ, FAZHI_CHROMA_URL=server.url, PYTHONPATH=str(ROOT), ANONYMIZED_TELEMETRY="False")
    env.pop("FAZHI_KB", None)
    out = subprocess.run([sys.executable, "-m", "assistant.delivery.cli", "--kb", str(kb.store.folder), "search",
                          "智慧复议平台在线受理行政复议申请", "--k", "3", "--json"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)["results"]
    assert results[0]["doc_id"] == "uploads/xu-shi-2022.txt"
    assert results[0]["ranks"]["bm25"] == 1 and results[0]["ranks"]["dense"] is not None
    assert kb.store.check() == {}


def test_delete_removes_vectors_from_the_server(server, kb):
    assert _server_ids(server, kb, "uploads/xu-shi-2022.txt")
    kb.delete("uploads/xu-shi-2022.txt")
    assert not _server_ids(server, kb, "uploads/xu-shi-2022.txt")
    assert _server_ids(server, kb) == _sqlite_ids(kb)
    assert all(h.chunk.doc_id != "uploads/xu-shi-2022.txt" for h in Retriever(kb).search("智慧复议平台", k=5))


def test_a_wiped_or_new_server_is_refilled_from_sqlite(kb, tmp_path):
    """SQLite is the record: pointed at an empty server, the knowledge base restores every vector
    from its embedding cache (no model run) and answers as before."""
    fresh = ChromaServer(tmp_path / "fresh-data")
    try:
        before = Retriever(kb).search("行政执法案卷评查", k=3)
        moved = KnowledgeBase(kb.store.folder, chroma_url=fresh.url)
        try:
            assert moved.store.last_reconcile and moved.store.last_reconcile["restored"] == len(_sqlite_ids(kb))
            col = fresh.client().get_collection(moved.store.collection_name)
            assert set(col.get(include=[])["ids"]) == _sqlite_ids(kb)
            after = Retriever(moved).search("行政执法案卷评查", k=3)
            assert [h.chunk.id for h in after] == [h.chunk.id for h in before]
            assert moved.store.check() == {}
        finally:
            moved.close()
    finally:
        fresh.stop()


def test_two_knowledge_bases_share_one_server_without_touching_each_other(server, kb, tmp_path):
    other = KnowledgeBase(tmp_path / "other-kb", chroma_url=server.url)
    try:
        assert other.ingest_bytes("only-here.txt", TINY_REPORT.replace("甲县", "丁县").encode("utf-8")).status == "added"
        assert other.store.collection_name != kb.store.collection_name
        other.store.reconcile()  # a repair in one never deletes the other's vectors as orphans
        kb.store.reconcile()
        assert kb.store.check() == {} and other.store.check() == {}
        assert all(not cid.startswith("only-here.txt") for cid in _server_ids(server, kb))
    finally:
        other.close()


@pytest.mark.slow
def test_sigkill_mid_ingest_against_the_server(server, tmp_path):
    """The crash test's protocol holds with the server too (two killed runs, then one that finishes)."""
    from eval import crash

    report = crash.run(runs=int(os.environ.get("FAZHI_CRASH_SERVER_RUNS", "2")), seed=5, workdir=tmp_path,
                       chroma_url=server.url, log=print)
    assert report["problems"] == [], "\n".join(report["problems"])
