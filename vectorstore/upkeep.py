"""Store upkeep: embedding-cache rows of aborted ingests reclaimed, writes by another process noticed, and
the half-done write of a dead process (another app server killed mid-upload) repaired without waiting for
a write of one's own.

``StoreUpkeep`` is a mixin of ``vectorstore.store.Store`` (kept apart so the store stays small).
"""
from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlparse


def _open_chroma(folder: Path, chroma_url: str | None):
    import chromadb

    settings = chromadb.Settings(anonymized_telemetry=False)
    if chroma_url:
        u = urlparse(chroma_url)
        return chromadb.HttpClient(host=u.hostname or "127.0.0.1", port=u.port or 8000,
                                   ssl=u.scheme == "https", settings=settings)
    return chromadb.PersistentClient(path=str(folder / "chroma"), settings=settings)


class StoreUpkeep:
    # ---- the embedding cache ----------------------------------------------------------------------
    def forget_vectors(self, keys: list[str]) -> int:
        """Delete cached vectors an aborted ingest added — those no stored chunk uses. Returns rows deleted."""
        keys = list(keys)
        if not keys:
            return 0
        n = 0
        with self._write_lock(), self._tx():
            for i in range(0, len(keys), 500):
                part = keys[i: i + 500]
                q = ",".join("?" * len(part))
                cur = self.db.execute(f"DELETE FROM emb_cache WHERE key IN ({q}) AND key NOT IN "
                                      f"(SELECT vec_key FROM chunks WHERE vec_key IN ({q}))", part + part)
                n += cur.rowcount
        return n

    def reclaim_cache(self) -> int:
        """Delete every cached vector no stored chunk uses (rows left by ingests killed mid-way)."""
        with self._write_lock(), self._tx():
            cur = self.db.execute("DELETE FROM emb_cache WHERE key NOT IN (SELECT vec_key FROM chunks "
                                  "WHERE vec_key IS NOT NULL)")
            return cur.rowcount

    # ---- another process writing the same folder ----------------------------------------------------
    @property
    def writer_id(self) -> str:
        """Who this process's store is, in the ``writer`` state row each write stamps with the generation."""
        wid = getattr(self, "_writer_id", None)
        if wid is None:
            wid = self._writer_id = uuid.uuid4().hex
        return wid

    def stamp_writer(self) -> None:
        """Inside a write's transaction: this store wrote the new generation."""
        self._set_state("writer", self.writer_id)
        self._own_writes = getattr(self, "_own_writes", 0) + 1

    def foreign_write(self) -> bool:
        """True when the committed generation was written by another process (or another Store object)
        since this one last looked: one indexed SQLite read, cheap enough for every request."""
        rows = dict(self._read().execute("SELECT key, value FROM state WHERE key IN ('generation', 'writer')"))
        gen = int(rows.get("generation") or 0)
        seen = getattr(self, "_seen_generation", None)
        if seen is None:  # first look: what is there now is the baseline
            self._seen_generation = gen
            return False
        own, self._own_writes = getattr(self, "_own_writes", 0), 0
        if gen == seen:
            return False
        self._seen_generation = gen
        # more new generations than this store wrote: another writer came in between (even if ours was last)
        return gen - seen > own or rows.get("writer") not in (None, self.writer_id)

    def repair_abandoned(self) -> bool:
        """A ``pending`` mark whose writer is gone — the writer lock is free, so nobody is committing — is
        repaired now (True); a live writer's mark is left alone. One read of this thread's connection when
        nothing is pending, cheap enough for every request; never waits for a lock."""
        if not self.get_state("pending"):
            return False
        if not self._lock.acquire(blocking=False):
            return False  # a writer of this process is at work
        try:
            if self._lock_depth or not self.database.lock(blocking=False):
                return False  # this thread is the writer, or another process holds the lock: not abandoned
            self._lock_depth += 1
            try:
                if not self._w_state("pending"):
                    return False
                self._recover()
                return True
            finally:
                self._lock_depth -= 1
                self.database.unlock()
        finally:
            self._lock.release()

    def reload_vectors(self) -> None:
        """Re-open the embedded Chroma client, so its in-memory index holds what another process added."""
        if self.chroma_url:
            return  # a Chroma server is shared: it sees every writer already
        from .embeddings import FazhiEmbeddingFunction

        with self._lock:
            try:
                self._client.close()
            except Exception:  # noqa: BLE001 - an older client without close(); a new one is opened anyway
                pass
            self._client = _open_chroma(self.folder, self.chroma_url)
            self.collection = self._client.get_or_create_collection(
                self.collection_name, embedding_function=FazhiEmbeddingFunction(self.embedder_spec),
                configuration={"hnsw": {"space": "cosine"}})
            self._count_gen = None
