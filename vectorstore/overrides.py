"""Chunk overrides: a user's correction of one chunk's text or heading path (an OCR error, a heading the
chunker misread), kept in the knowledge base's SQLite record so that it survives re-ingest.

An override is keyed by the document's content hash (the sha256 of the file's bytes) and the chunk's
position (ordinal) — both stable when the same file is ingested again — and remembers the chunk's original
text, so that on re-ingest it is applied only to the chunk it was made for (found at its ordinal, or by its
original text when the chunker moved it). Applying an override splices the corrected text into the stored
document text at the chunk's place and shifts the later chunks' offsets: quotes stay verbatim
``Document.text[start:end]`` of what is stored, and every citation still verifies.

The table is plain SQL (no SQLite-only constructs) so that another database can hold it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from ingest.chunking import index_text_for
from ingest.records import Chunk, Document

SCHEMA = """CREATE TABLE IF NOT EXISTS chunk_overrides (
  content_hash TEXT NOT NULL, ordinal INTEGER NOT NULL, doc_id TEXT NOT NULL,
  original_text TEXT NOT NULL, original_heading TEXT NOT NULL, text TEXT NOT NULL, heading TEXT NOT NULL,
  edited_at TEXT NOT NULL, PRIMARY KEY (content_hash, ordinal))"""
COLUMNS = "content_hash, ordinal, doc_id, original_text, original_heading, text, heading, edited_at"


@dataclass
class ChunkOverride:
    content_hash: str
    ordinal: int
    doc_id: str
    original_text: str
    original_heading: list[str]
    text: str
    heading_path: list[str]
    edited_at: str = ""

    def to_dict(self) -> dict:
        return {"ordinal": self.ordinal, "doc_id": self.doc_id, "original_text": self.original_text,
                "original_heading": self.original_heading, "text": self.text, "heading_path": self.heading_path,
                "edited_at": self.edited_at}

    def matches(self, ch: Chunk) -> bool:
        """The chunk shows this correction (what the document view marks as edited)."""
        return ch.text == self.text and list(ch.heading_path) == list(self.heading_path)


def _row(r) -> ChunkOverride:
    return ChunkOverride(r[0], int(r[1]), r[2], r[3], json.loads(r[4]), r[5], json.loads(r[6]), r[7])


class ChunkOverrides:
    """The ``chunk_overrides`` table of one store. Writes go through the store's writer connection and must
    be made under its write lock (``Store._write_lock``), as every other write."""

    def __init__(self, store) -> None:
        self.store = store
        try:
            with store._write_lock():
                store.database.apply_schema(SCHEMA)  # SQLite or PostgreSQL (vectorstore/database.py)
        except (*store.database.errors, OSError):  # a read-only folder: there is nothing to edit there anyway
            pass

    def for_hash(self, content_hash: str) -> list[ChunkOverride]:
        try:
            rows = self.store._read().execute(
                f"SELECT {COLUMNS} FROM chunk_overrides WHERE content_hash=? ORDER BY ordinal", (content_hash,))
            return [_row(r) for r in rows]
        except self.store.database.errors:  # no table yet (a knowledge base opened read-only)
            return []

    def get(self, content_hash: str, ordinal: int) -> ChunkOverride | None:
        return next((o for o in self.for_hash(content_hash) if o.ordinal == ordinal), None)

    def put(self, ov: ChunkOverride | None, content_hash: str, ordinal: int) -> None:
        """Replace the override at (content_hash, ordinal) with ``ov`` (None: remove it). Under the write lock."""
        db = self.store.db
        with self.store._tx():
            db.execute("DELETE FROM chunk_overrides WHERE content_hash=? AND ordinal=?", (content_hash, ordinal))
            if ov is not None:
                db.execute(f"INSERT INTO chunk_overrides({COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                           (ov.content_hash, ov.ordinal, ov.doc_id, ov.original_text,
                            json.dumps(ov.original_heading, ensure_ascii=False), ov.text,
                            json.dumps(ov.heading_path, ensure_ascii=False), ov.edited_at))


    def drop(self, content_hash: str) -> None:
        """Remove every override of one file's content (its document was deleted). Under the write lock."""
        with self.store._tx():
            self.store.db.execute("DELETE FROM chunk_overrides WHERE content_hash=?", (content_hash,))


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def splice(doc: Document, chunks: list[Chunk], edits: dict[int, tuple[str, list[str]]]) -> tuple[Document, list[Chunk]]:
    """The document and its chunks with ``edits`` (index in ``chunks`` -> (text, heading path)) applied:
    each edited chunk's text replaces its span of the document text, later offsets (chunks, PDF page starts)
    shift by the change in length, and the ids and index texts of the changed chunks are made anew
    (unchanged chunk texts keep their index text, so their cached vectors are reused)."""
    if not edits:
        return doc, chunks
    order = sorted(range(len(chunks)), key=lambda i: chunks[i].start)
    pieces: list[str] = []
    shifts: list[tuple[int, int]] = []  # (original end offset of an edited span, cumulative shift after it)
    out: list[Chunk | None] = [None] * len(chunks)
    pos, delta = 0, 0
    for i in order:
        ch = chunks[i]
        if ch.start < pos:
            raise ValueError(f"overlapping chunks in {doc.id}: cannot splice an edit")
        pieces.append(doc.text[pos: ch.start])
        text, path = edits.get(i, (ch.text, list(ch.heading_path)))
        start = ch.start + delta
        pieces.append(text if i in edits else doc.text[ch.start: ch.end])
        end = start + (len(text) if i in edits else ch.end - ch.start)
        if i in edits:
            digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
            out[i] = replace(ch, id=f"{doc.id}#{start}-{end}-{digest}", start=start, end=end, text=text,
                             heading_path=list(path), index_text=index_text_for(doc.title, list(path), text))
            delta += len(text) - (ch.end - ch.start)
            shifts.append((ch.end, delta))
        elif delta:
            out[i] = replace(ch, id=ch.id.replace(f"#{ch.start}-{ch.end}-", f"#{start}-{end}-", 1), start=start, end=end)
        else:
            out[i] = ch
        pos = ch.end
    pieces.append(doc.text[pos:])

    def shifted(offset: int) -> int:
        d = 0
        for end, total in shifts:
            if offset >= end:
                d = total
        return offset + d

    new_doc = replace(doc, text="".join(pieces), pages=[(shifted(s), n) for s, n in doc.pages])
    return new_doc, [c for c in out if c is not None]


def matched_edits(chunks: list[Chunk], overrides: list[ChunkOverride]) -> tuple[dict[int, tuple[str, list[str]]], list[ChunkOverride]]:
    """Which fresh chunks of a re-ingested file the overrides apply to: the chunk at the override's ordinal when
    it still has the original text, else the first chunk with that text. Returns (edits, overrides not applied)."""
    edits: dict[int, tuple[str, list[str]]] = {}
    missed = []
    for ov in overrides:
        idx = next((i for i, c in enumerate(chunks) if c.ordinal == ov.ordinal and c.text == ov.original_text), None)
        if idx is None or idx in edits:
            idx = next((i for i, c in enumerate(chunks) if c.text == ov.original_text and i not in edits), None)
        if idx is None:
            missed.append(ov)
            continue
        edits[idx] = (ov.text, list(ov.heading_path))
    return edits, missed
