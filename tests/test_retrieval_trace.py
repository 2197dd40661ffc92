"""The retrieval trace (检索测试): each hit's BM25, dense and fused ranks and scores are the retriever's own —
checked against the BM25 index and the dense query run independently — and the API routes of the trace, the
document view and chunk editing answer with typed 422s as the other routes do."""
from __future__ import annotations

import pytest

from conftest import write_tiny_corpus

fastapi = pytest.importorskip("fastapi", reason="the web extra is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from assistant.delivery.api import Service, create_api  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from vectorstore.kb import KnowledgeBase  # noqa: E402

QUERY = "行政执法案卷评查"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trace")
    src = write_tiny_corpus(folder / "src")
    kb = KnowledgeBase(folder / "kb")
    kb.ingest([src], progress=False)
    assistant = Assistant(Settings(kb=folder / "kb", corpus=src), kb=kb)
    yield assistant
    kb.close()


@pytest.fixture(scope="module")
def client(tiny):
    return TestClient(create_api(Service(tiny)), base_url="http://127.0.0.1")


def test_trace_matches_each_retriever(tiny):
    r = tiny.retriever
    query = r.analyse(QUERY)
    hits = r.search(query, None, k=5)
    assert hits and all(h.trace is not None for h in hits)
    # BM25 on its own: the same ranks and scores
    cat = r.catalog
    bm25 = cat.bm25.search(list(query.bm25_tokens), 60, None)
    bm25_rank = {cat.chunk_ids[i]: (n, s) for n, (i, s) in enumerate(bm25, start=1)}
    dense = tiny.kb.store.dense_query(tiny.kb.embedder.embed_query(query.text), 60, None)
    dense_rank = {cid: (n, s) for n, (cid, s) in enumerate(dense, start=1)}
    for h in hits:
        t = h.trace
        assert (t.bm25_rank, t.bm25_score) == (bm25_rank.get(h.chunk.id) or (None, None))
        n, s = dense_rank[h.chunk.id]
        assert t.dense_rank == n and t.dense_score == pytest.approx(s, abs=1e-6)
        assert t.final_score == h.score and h.ranks == {"bm25": t.bm25_rank, "dense": t.dense_rank}
        # the fused score is the reciprocal-rank sum of the two lists (no agency named: no document prior)
        expect = sum(1.0 / (60 + x) for x in (t.bm25_rank, t.dense_rank) if x)
        assert t.fused_score == pytest.approx(expect)
    fused_order = sorted(hits, key=lambda h: h.trace.fused_rank)
    assert [h.trace.fused_score for h in fused_order] == sorted((h.trace.fused_score for h in hits), reverse=True)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


def test_retrieval_route(client):
    r = client.post("/api/retrieval", json={"query": QUERY, "k": 3, "filters": {"kind": "report"}})
    assert r.status_code == 200
    results = r.json()["results"]
    assert len(results) == 3 and all(x["kind"] == "report" for x in results)
    for x in results:
        assert set(x["trace"]) == {"bm25_rank", "bm25_score", "dense_rank", "dense_score", "fused_rank", "fused_score",
                                   "rerank_score", "final_score"}
        assert isinstance(x["ordinal"], int)
    for body, field in (({"query": QUERY, "k": 999}, "k"), ({"query": 5}, "query"), ({"k": 3}, "query"),
                        ({"query": QUERY, "extra": 1}, "extra"), ({"query": "字" * 1001}, "query")):
        r = client.post("/api/retrieval", json=body)
        assert r.status_code == 422 and field in r.json()["detail"], (body, r.json())
    r = client.post("/api/retrieval", json={"query": QUERY, "filters": {"year": "2019-1800"}})
    assert r.status_code == 422


def test_document_view_and_edit_routes(client):
    view = client.get("/api/documents/a.txt:chunks").json()
    assert view["document"]["id"] == "a.txt" and view["chunks"]
    for c in view["chunks"]:
        assert view["text"][c["start"]: c["end"]] == c["text"] and c["edited"] is False
    assert client.get("/api/documents/nope.txt:chunks").status_code == 404
    ch = next(c for c in view["chunks"] if "46卷" in c["text"])
    r = client.post("/api/documents/a.txt:edit-chunk", json={"ordinal": ch["ordinal"],
                                                             "text": ch["text"].replace("46卷", "64卷")})
    assert r.status_code == 200 and r.json()["edited"] and r.json()["embedded"] == 1
    after = client.get("/api/documents/a.txt:chunks").json()
    edited = [c for c in after["chunks"] if c["edited"]]
    assert len(edited) == 1 and "64卷" in edited[0]["text"] and edited[0]["original_text"] == ch["text"]
    for body, field in (({"ordinal": "x", "text": "a"}, "ordinal"), ({"ordinal": 0, "text": ""}, "text"),
                        ({"ordinal": 0, "heading_path": "一、"}, "heading_path"), ({"ordinal": -1, "text": "a"}, "ordinal"),
                        ({"ordinal": 0, "text": "字" * 4001}, "text"), ({"ordinal": 0, "colour": 1}, "colour")):
        r = client.post("/api/documents/a.txt:edit-chunk", json=body)
        assert r.status_code == 422 and field in r.json()["detail"], (body, r.json())
    assert client.post("/api/documents/a.txt:edit-chunk", json={"ordinal": 0}).status_code == 422
    assert client.post("/api/documents/nope.txt:edit-chunk", json={"ordinal": 0, "text": "a"}).status_code == 404
    assert client.post("/api/documents/a.txt:edit-chunk", json={"ordinal": 99, "text": "a"}).status_code == 404
    # a foreign page cannot edit (the documents routes' same-origin guard)
    r = client.post("/api/documents/a.txt:edit-chunk", json={"ordinal": 0, "text": "a"},
                    headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
