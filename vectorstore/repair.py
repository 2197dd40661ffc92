"""Crash repair and consistency checks of the knowledge base (a mixin of ``Store``).

After a write that did not finish (a killed process, a failed transaction), Chroma is made to hold
exactly the chunks SQLite has committed: orphan vectors are deleted, missing ones restored from the
embedding cache, and the metadata of the documents that were pending is rewritten.
"""
from __future__ import annotations

import json

from ingest.records import Document


class StoreRepair:
    def _chroma_ids(self) -> set[str]:
        """Every id in the collection (paged: a server caps one answer)."""
        out: set[str] = set()
        offset, page = 0, 5000
        while True:
            got = self.collection.get(include=[], limit=page, offset=offset)["ids"]
            out.update(got)
            if len(got) < page:
                return out
            offset += page

    def reconcile(self) -> dict:
        """Make Chroma hold exactly the committed chunks (after a crash)."""
        with self._write_lock():
            return self._recover(force=True)

    def _recover(self, force: bool = False) -> dict:
        """The repair itself; the caller holds the write lock."""
        if not force and not self._w_state("pending"):
            return {}
        pending_docs = json.loads(self._w_state("pending_docs") or "[]")
        committed = {r[0]: r[1] for r in self.db.execute("SELECT id, vec_key FROM chunks")}
        stored = self._chroma_ids()
        orphans = sorted(stored - committed.keys())
        for s in range(0, len(orphans), 500):
            self.collection.delete(ids=orphans[s: s + 500])
        missing = sorted(committed.keys() - stored)
        docs: dict[str, Document | None] = {}

        def doc_of(doc_id: str) -> Document | None:
            if doc_id not in docs:
                docs[doc_id] = self.document(doc_id)
            return docs[doc_id]

        if missing:
            chunks = self.chunks_by_id(missing, self.db)
            vecs = self.cached_vectors([committed[i] for i in missing], self.db)
            for s in range(0, len(missing), 256):
                part = missing[s: s + 256]
                embs = []
                for cid in part:
                    vec = vecs.get(committed[cid])
                    if vec is None:
                        vec = self.embedder.embed_passages([chunks[cid].index_text])[0]
                    embs.append(vec.tolist())
                self.collection.upsert(ids=part, embeddings=embs,
                                       metadatas=[self.chunk_metadata(doc_of(chunks[c].doc_id), chunks[c]) for c in part],
                                       documents=[chunks[c].text for c in part])
        # the documents a dead writer was changing: their kept vectors may carry its uncommitted metadata
        rewritten = 0
        for doc_id in pending_docs:
            doc = doc_of(doc_id)
            if doc is None:
                continue
            chunks = [c for c in self.doc_chunks(doc_id, self.db) if c.id not in missing]
            for s in range(0, len(chunks), 256):
                part = chunks[s: s + 256]
                vecs = self.cached_vectors([committed[c.id] for c in part], self.db)
                if all(committed[c.id] in vecs for c in part):
                    self.collection.upsert(ids=[c.id for c in part],
                                           embeddings=[vecs[committed[c.id]].tolist() for c in part],
                                           metadatas=[self.chunk_metadata(doc, c) for c in part],
                                           documents=[c.text for c in part])
                else:
                    self.collection.update(ids=[c.id for c in part],
                                           metadatas=[self.chunk_metadata(doc, c) for c in part],
                                           documents=[c.text for c in part])
                rewritten += len(part)
        self._clear_pending()
        self.last_reconcile = {"orphans_removed": len(orphans), "restored": len(missing)}
        if rewritten:
            self.last_reconcile["metadata_rewritten"] = rewritten
        return dict(self.last_reconcile)

    def check(self, bm25: bool = True) -> dict[str, list]:
        """Consistency report (empty lists when all is well): SQLite rows, Chroma ids and metadata,
        the BM25 index and the pending mark against one another."""
        problems: dict[str, list] = {}

        def add(kind: str, item) -> None:
            problems.setdefault(kind, []).append(item)

        with self._snapshot() as db:
            gen_row = db.execute("SELECT value FROM state WHERE key='generation'").fetchone()
            gen = int(gen_row[0]) if gen_row else 0
            if db.execute("SELECT value FROM state WHERE key='pending'").fetchone():
                add("pending", "pending mark set")
            docs = {r[0]: r[1:] for r in db.execute(
                "SELECT id, text, content_hash, title, issuer, region, level, kind, doc_number, year FROM documents")}
            rows = db.execute('SELECT id, doc_id, start, "end", text, heading, vec_key FROM chunks').fetchall()
            cached = {r[0] for r in db.execute("SELECT key FROM emb_cache")}
            sql_ids, _, _ = self.chunk_table(db)
        per_doc: dict[str, int] = {}
        by_id = {}
        for cid, did, start, end, text, heading, vkey in rows:
            by_id[cid] = (did, start, end)
            per_doc[did] = per_doc.get(did, 0) + 1
            if did not in docs:
                add("chunk_without_document", cid)
            elif docs[did][0][start:end] != text:
                add("chunk_text_not_at_offsets", cid)
            if vkey not in cached:
                add("vector_not_cached", cid)
        for did in docs:
            if not per_doc.get(did):
                add("document_without_chunks", did)
        hashes: dict[str, str] = {}
        for did, row in docs.items():
            if row[1] in hashes:
                add("duplicate_content", (hashes[row[1]], did))
            hashes[row[1]] = did
        stored = {}
        offset, page = 0, 5000
        while True:
            got = self.collection.get(include=["metadatas"], limit=page, offset=offset)
            stored.update(zip(got["ids"], got["metadatas"]))
            if len(got["ids"]) < page:
                break
            offset += page
        for cid in sorted(stored.keys() - by_id.keys()):
            add("orphan_vector", cid)
        for cid in sorted(by_id.keys() - stored.keys()):
            add("missing_vector", cid)
        for cid in by_id.keys() & stored.keys():
            meta, (did, start, end) = stored[cid], by_id[cid]
            d = docs.get(did)
            if d is None:
                continue
            want = {"doc_id": did, "start": start, "end": end, "title": d[2], "issuer": d[3], "region": d[4],
                    "level": d[5], "kind": d[6], "doc_number": d[7]}
            if d[8] is not None:
                want["year"] = int(d[8])
            if any(meta.get(k) != v for k, v in want.items()) or ("year" in meta and d[8] is None):
                add("stale_vector_metadata", cid)
        if bm25:
            index = self.bm25()
            if index.generation == gen and index.ids != sql_ids:
                add("bm25_out_of_step", f"generation {gen}: {len(index.ids)} ids vs {len(sql_ids)} chunks")
            elif index.generation != gen:
                add("bm25_out_of_step", f"index generation {index.generation} vs committed {gen}")
        return problems
