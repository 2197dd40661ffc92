"""What several eval commands share (the knowledge base of a run, the ranked shape scoring reads)."""
from __future__ import annotations


def open_kb(args):
    from assistant.settings import Settings
    from vectorstore.kb import KnowledgeBase

    settings = Settings().with_overrides(kb=args.kb, embedder=args.embedder)
    kb = KnowledgeBase(settings.kb_path, settings.embedder, settings.chroma_url, database_url=settings.database_url)
    if args.corpus:
        kb.ingest(args.corpus, progress=not args.json)
    return kb


def ranked_for(hits) -> list[tuple[str, str]]:
    return [(h.chunk.doc_id, " > ".join(h.chunk.heading_path) + h.chunk.text) for h in hits]
