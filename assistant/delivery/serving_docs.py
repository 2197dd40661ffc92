"""The Service's document-inspection half: the retrieval trace (检索测试), a document's stored text with its
chunks (文档查看) and chunk editing. A mixin of ``serving.Service`` (it uses its lock, settings and kb)."""
from __future__ import annotations

from vectorstore.retrieve import Filters

from .errors import ServiceError


class DocumentViews:
    def retrieval_trace(self, query: str, filters: Filters | None = None, k: int | None = None) -> list[dict]:
        """The ranked passages of a search with each retriever's rank and score (``RetrievalTrace``)."""
        settings = self.assistant.settings
        self.check_length(query, settings.max_question_chars, "检索内容", "query")
        if not (query or "").strip():
            raise ServiceError("请输入检索内容 / query is empty", 422)
        k = max(1, min(int(k or settings.retrieval_test_k), settings.retrieval_test_k))
        with self.locked():
            hits = self.assistant.retriever.search(query.strip(), filters, k=k)
        return [h.to_dict() | {"ordinal": h.chunk.ordinal, "trace": h.trace.to_dict() if h.trace else None}
                for h in hits]

    def document_view(self, doc_id: str) -> dict:
        """The stored (cleaned) text of a document, its metadata and its chunks in order, each with its offsets,
        page, heading path and whether it shows a user's correction (``edited``, with the original text)."""
        with self.locked():
            doc = self.kb.store.document(doc_id)
            if doc is None:
                raise ServiceError(f"知识库中没有文档 {doc_id} / no such document", 404)
            chunks = self.kb.store.doc_chunks(doc_id)
            overrides = self.kb.overrides.for_hash(doc.content_hash)
        out = []
        for ch in chunks:
            ov = next((o for o in overrides if o.matches(ch)), None)
            out.append({"ordinal": ch.ordinal, "chunk_id": ch.id, "start": ch.start, "end": ch.end, "page": ch.page,
                        "heading_path": list(ch.heading_path), "text": ch.text, "edited": ov is not None,
                        "original_text": ov.original_text if ov else None,
                        "original_heading": ov.original_heading if ov else None,
                        "edited_at": ov.edited_at if ov else None})
        return {"document": doc.meta(), "text": doc.text, "pages": doc.pages, "chunks": out}

    def edit_chunk(self, doc_id: str, ordinal: int, text: str | None = None,
                   heading_path: list[str] | None = None) -> dict:
        """Correct a chunk (text and/or heading path): re-embedded and committed at once, kept across re-ingest."""
        from vectorstore.store import KnowledgeBaseError

        settings = self.assistant.settings
        self.check_length(text, settings.max_chunk_edit_chars, "段落文字", "text")
        for h in heading_path or []:
            self.check_length(h, settings.max_field_chars, "标题层级", "heading_path")
        if text is not None and not text.strip():
            raise ServiceError("段落文字不能为空 / a chunk's text cannot be empty", 422)
        if self.kb.store.document(doc_id) is None:
            raise ServiceError(f"知识库中没有文档 {doc_id} / no such document", 404)
        try:
            res = self.kb.edit_chunk(doc_id, int(ordinal), text, heading_path, lock=self.locked)
        except KnowledgeBaseError as exc:
            raise ServiceError(f"无法修改该段落：{exc} / cannot edit this chunk", 404) from None
        ch = res["chunk"]
        return {"doc_id": doc_id, "ordinal": ch.ordinal, "chunk_id": ch.id, "start": ch.start, "end": ch.end,
                "heading_path": ch.heading_path, "text": ch.text, "embedded": res["embedded"],
                "edited": not res["reverted"]}
