"""Chunk editing: a corrected chunk is re-embedded at once, recorded as an override in the knowledge base's
SQLite record, shown as edited, keeps every quote verifiable, and survives re-ingest of the same file (a
forced re-process through the pipeline and the web/API re-ingest from the original file)."""
from __future__ import annotations

import pytest

from conftest import write_tiny_corpus

OCR_WRONG = "评查案卷46卷"
OCR_RIGHT = "评查案卷64卷（经核对更正）"


@pytest.fixture
def tiny_service(tmp_path):
    from assistant.delivery.serving import Service
    from assistant.service import Assistant
    from assistant.settings import Settings
    from vectorstore.kb import KnowledgeBase

    src = write_tiny_corpus(tmp_path / "src")
    kb = KnowledgeBase(tmp_path / "kb")
    report = kb.ingest([src], progress=False)
    assert report.count("added") == 3
    service = Service(Assistant(Settings(kb=kb.store.folder, corpus=str(src)), kb=kb))
    yield service, src
    kb.close()


def _chunk_with(view: dict, needle: str) -> dict:
    return next(c for c in view["chunks"] if needle in c["text"])


def _consistent(service, doc_id: str) -> None:
    """Every chunk is its span of the stored text; Chroma holds exactly the stored chunk ids."""
    store = service.kb.store
    doc = store.document(doc_id)
    chunks = store.doc_chunks(doc_id)
    for ch in chunks:
        assert doc.text[ch.start: ch.end] == ch.text
    got = store.collection.get(where={"doc_id": doc_id}, include=[])["ids"]
    assert sorted(got) == sorted(c.id for c in chunks)


def test_edit_is_reembedded_marked_and_quotes_verify(tiny_service):
    from assistant import citations

    service, _ = tiny_service
    store = service.kb.store
    gen = store.generation
    before = _chunk_with(service.document_view("a.txt"), OCR_WRONG)
    assert not before["edited"]
    later = [c for c in service.document_view("a.txt")["chunks"] if c["ordinal"] > before["ordinal"]]
    new_text = before["text"].replace(OCR_WRONG, OCR_RIGHT)
    res = service.edit_chunk("a.txt", before["ordinal"], new_text, ["二、严格规范公正文明执法（更正）"])
    assert res["edited"] and res["embedded"] == 1  # only the edited chunk is embedded again
    assert store.generation == gen + 1  # other processes see a new generation and reload
    view = service.document_view("a.txt")
    after = _chunk_with(view, OCR_RIGHT)
    assert after["edited"] and after["original_text"] == before["text"]
    assert after["heading_path"] == ["二、严格规范公正文明执法（更正）"]
    assert OCR_RIGHT in view["text"] and OCR_WRONG not in view["text"]
    shift = len(OCR_RIGHT) - len(OCR_WRONG)
    for old, new in zip(later, [c for c in view["chunks"] if c["ordinal"] > before["ordinal"]]):
        assert (new["start"], new["text"]) == (old["start"] + shift, old["text"])
        assert not new["edited"]
    _consistent(service, "a.txt")
    # the new words are found by both retrievers, and the hit carries the edited chunk
    hits = service.retrieval_trace("评查案卷64卷 经核对更正", None, 5)
    top = hits[0]
    assert top["chunk_id"] == after["chunk_id"] and top["trace"]["bm25_rank"] == 1
    assert top["trace"]["dense_rank"] is not None
    # an answer quoting it verifies against the stored text
    ans = service.ask("ask", "甲县司法局评查了多少卷行政执法案卷？")
    assert ans.sources and any(s.chunk_id == after["chunk_id"] for s in ans.sources), ans.to_dict()
    texts = {s.doc_id: store.document(s.doc_id).text for s in ans.sources}
    assert citations.verify_sources(ans.sources, texts) == []
    assert "64" in ans.text


def test_edit_survives_reingest(tiny_service, monkeypatch):
    import ingest.pipeline as pipeline

    service, src = tiny_service
    ch = _chunk_with(service.document_view("a.txt"), OCR_WRONG)
    service.edit_chunk("a.txt", ch["ordinal"], ch["text"].replace(OCR_WRONG, OCR_RIGHT))
    # 1) re-ingest from the original file (web page / POST /api/documents/{id}:reingest)
    res = service.reingest("a.txt")
    assert res["status"] == "replaced" and res["embedded"] == 0
    view = service.document_view("a.txt")
    assert _chunk_with(view, OCR_RIGHT)["edited"] and OCR_WRONG not in view["text"]
    _consistent(service, "a.txt")
    # 2) a new pipeline version re-processes every file of the folder: the override is applied again
    monkeypatch.setattr(pipeline, "PIPELINE_VERSION", pipeline.PIPELINE_VERSION + "-test")
    report = service.kb.ingest([src], progress=False)
    assert {f.doc_id: f.status for f in report.files}["a.txt"] == "replaced"
    view = service.document_view("a.txt")
    assert _chunk_with(view, OCR_RIGHT)["edited"] and OCR_WRONG not in view["text"]
    _consistent(service, "a.txt")
    # 3) another process opening the same folder sees the override and the edited text
    assert service.kb.overrides.for_hash(service.kb.store.doc_hash("a.txt"))[0].text.count(OCR_RIGHT) == 1


def test_reverting_an_edit_removes_the_override(tiny_service):
    service, _ = tiny_service
    ch = _chunk_with(service.document_view("a.txt"), OCR_WRONG)
    service.edit_chunk("a.txt", ch["ordinal"], ch["text"].replace(OCR_WRONG, OCR_RIGHT))
    res = service.edit_chunk("a.txt", ch["ordinal"], ch["text"])
    assert not res["edited"]
    assert service.kb.overrides.for_hash(service.kb.store.doc_hash("a.txt")) == []
    back = _chunk_with(service.document_view("a.txt"), OCR_WRONG)
    assert not back["edited"] and back["chunk_id"] == ch["chunk_id"]


def test_bad_edits_are_refused(tiny_service):
    from assistant.delivery.errors import ServiceError

    service, _ = tiny_service
    with pytest.raises(ServiceError) as e:
        service.edit_chunk("a.txt", 0, "   ")
    assert e.value.status == 422
    with pytest.raises(ServiceError) as e:
        service.edit_chunk("a.txt", 0, "字" * (service.assistant.settings.max_chunk_edit_chars + 1))
    assert e.value.status == 422
    with pytest.raises(ServiceError) as e:
        service.edit_chunk("no-such.txt", 0, "文字")
    assert e.value.status == 404
    with pytest.raises(ServiceError) as e:
        service.edit_chunk("a.txt", 999, "文字")
    assert e.value.status == 404


def test_deleting_the_document_drops_its_overrides(tiny_service):
    service, src = tiny_service
    ch = _chunk_with(service.document_view("a.txt"), OCR_WRONG)
    service.edit_chunk("a.txt", ch["ordinal"], ch["text"].replace(OCR_WRONG, OCR_RIGHT))
    content_hash = service.kb.store.doc_hash("a.txt")
    assert service.kb.overrides.for_hash(content_hash)
    service.delete("a.txt")
    assert service.kb.overrides.for_hash(content_hash) == []
    service.kb.ingest([src], progress=False)  # the same file again: as it is, uncorrected
    view = service.document_view("a.txt")
    assert OCR_WRONG in view["text"] and not any(c["edited"] for c in view["chunks"])


def test_an_edit_based_on_a_stale_view_is_refused(tiny_service, monkeypatch):
    """Two editors of one document: the second one's splice was made from the text before the first one's edit."""
    from vectorstore.store import KnowledgeBaseError

    service, _ = tiny_service
    kb = service.kb
    view = service.document_view("a.txt")
    first, second = view["chunks"][1], view["chunks"][2]
    real = kb.store.doc_chunks
    stale = real("a.txt")
    service.edit_chunk("a.txt", first["ordinal"], first["text"] + "（补充）")
    calls = {"n": 0}

    def doc_chunks_once_stale(doc_id, db=None):  # the second editor read the document before the first commit
        calls["n"] += 1
        return stale if calls["n"] == 1 else real(doc_id, db)

    monkeypatch.setattr(kb.store, "doc_chunks", doc_chunks_once_stale)
    with pytest.raises(KnowledgeBaseError):
        kb.edit_chunk("a.txt", second["ordinal"], second["text"].replace(OCR_WRONG, OCR_RIGHT))
    monkeypatch.undo()
    view = service.document_view("a.txt")
    assert "（补充）" in view["text"] and OCR_WRONG in view["text"]
    for c in view["chunks"]:
        assert view["text"][c["start"]: c["end"]] == c["text"]
