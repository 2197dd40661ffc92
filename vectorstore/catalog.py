"""The catalogue of a knowledge base: every table derived from the committed documents and chunks,
built once per store generation (never per query) and public to every caller.

Tables: documents by id, the names a question may use for each document (aliases), 文号, the IDF of
the BM25 index, the set of every known name, and agency names normalised for matching
(区应急管理局 ↔ 深圳市罗湖区应急管理局)."""
from __future__ import annotations

import functools
import math
import re
import threading

import numpy as np

from .text import nfkc, nfkc_compact

ADMIN_SUFFIX = ("特别行政区", "自治区", "自治州", "省", "市", "县", "区", "旗", "州", "镇", "乡", "街道")
_PLACE_RE = re.compile(r"[\u4e00-\u9fa5]{1,8}?(?:特别行政区|自治区|自治州|省|市|县|区|旗|镇|乡|街道)")
# one leading place name of an agency name: 深圳市 / 罗湖区 / a bare 区 or 市 (区城管委, 市人防办)
_PLACE_PREFIX = re.compile(r"^[\u4e00-\u9fa5]{0,6}?(?:特别行政区|自治区|自治州|省|市|县|区|旗)")
# words that end or start with an administrative suffix without being places (城市管理, 市场监管, 区域…)
_NOT_PLACE = ("城市", "市场", "市政", "区域", "县域", "省级", "市级", "区级", "县级", "社区", "园区", "小区", "景区")
_GENERIC_ORGS = ("人民政府", "政府")


class IDF:
    """Inverse document frequency of the BM25 tokens over the chunks."""

    def __init__(self, n_chunks: int, df: dict[str, int]):
        self.n = max(n_chunks, 1)
        self.df = df

    def __call__(self, tok: str) -> float:
        return math.log(1 + (self.n - self.df.get(tok, 0) + 0.5) / (self.df.get(tok, 0) + 0.5))

    def known(self, tok: str) -> bool:
        return self.df.get(tok, 0) > 0


def doc_aliases(d: dict) -> set[str]:
    """Names a question may use for a document: place, agency core, short title, 文号."""
    key = (d.get("region") or "", d.get("title") or "", d.get("issuer") or "", d.get("kind"), d.get("doc_number") or "")
    return set(_doc_aliases(key))


def agency_core(name: str, places: list[str] = (), keep: int = 5) -> str:
    """An agency's name without its place prefix: 深圳市罗湖区应急管理局 -> 应急管理局; with ``keep=3`` also
    区城管委 -> 城管委 (a prefix is stripped only while at least ``keep`` characters are left before it)."""
    core = nfkc_compact(name)
    for p in sorted(places, key=len, reverse=True):
        core = core.replace(p, "")
    while len(core) >= keep:
        m = _PLACE_PREFIX.match(core)
        if not m:
            break
        end = m.end()
        window = core[max(end - 2, 0): end + 1]
        if any(w in window for w in _NOT_PLACE) or len(core) - end < min(keep, 3):
            break
        core = core[end:]
    return core


@functools.lru_cache(maxsize=8192)
def _doc_aliases(key: tuple) -> frozenset[str]:
    region, title, issuer, kind, doc_number = key
    out: set[str] = set()
    places = _PLACE_RE.findall(region)
    for p in places[-2:]:
        out.add(p)
        for suf in ADMIN_SUFFIX:
            if p.endswith(suf) and len(p) - len(suf) >= 2:
                out.add(p[: -len(suf)])
    title = re.sub(r"[（(].*?[）)]", "", title)
    orgs = [issuer]
    m = re.match(r"^(.{2,30}?)(?:关于|(?:19|20)\d{2}\s*年)", title)
    if m:
        orgs.append(m.group(1))
    for org in orgs:
        # the core with the place stripped while 5 characters are left (应急管理局), and the short form
        # a question uses of a title's own abbreviation (区城管委 -> 城管委)
        for core in {agency_core(org, places), agency_core(org, places, keep=3)}:
            if len(core) >= 2 and core not in _GENERIC_ORGS:
                out.add(core)
    short = re.sub(r"^中华人民共和国", "", title).strip()
    if kind in ("law", "outline") and 3 <= len(short) <= 30:
        out.add(short)
    if doc_number:
        out.add(nfkc_compact(doc_number))
    return frozenset(a for a in out if len(a) >= 2)


class Catalog:
    """Per-generation tables of one store. ``refresh()`` rebuilds them when the store has changed
    (cheap when it has not); every accessor refreshes first."""

    def __init__(self, store) -> None:
        self.store = store
        self.generation = -1
        self._lock = threading.Lock()
        self._known: frozenset[str] | None = None
        self._listeners: list = []

    def on_refresh(self, callback) -> None:
        """``callback()`` runs after each rebuild (the retriever drops its per-generation caches)."""
        self._listeners.append(callback)

    def refresh(self) -> bool:
        """Rebuild the tables if the store's generation moved on; True when rebuilt."""
        if self.generation == self.store.generation:
            return False
        with self._lock:
            if self.generation == self.store.generation:
                return False
            self._build()
        for cb in self._listeners:
            cb()
        return True

    def _build(self) -> None:
        store = self.store
        self.bm25 = store.bm25()
        self.docs: dict[str, dict] = {d["id"]: d for d in store.documents()}
        self.chunk_ids: list[str] = self.bm25.ids
        chunk_doc = [cid.split("#", 1)[0] for cid in self.chunk_ids]
        self.doc_index = {d: i for i, d in enumerate(sorted(self.docs))}
        self.chunk_doc_idx = np.array([self.doc_index.get(d, -1) for d in chunk_doc], dtype=np.int32)
        self.aliases: dict[str, frozenset[str]] = {doc_id: frozenset(doc_aliases(d)) for doc_id, d in self.docs.items()}
        counts: dict[str, int] = {}
        for al in self.aliases.values():
            for a in al:
                counts[a] = counts.get(a, 0) + 1
        self.alias_df = counts
        n = max(len(self.docs), 1)
        # (normalised alias, weight) per document: longer and rarer names weigh more
        self.alias_weights = [(doc_id, [(nfkc(a), len(a) * math.log(1 + n / counts[a])) for a in al])
                              for doc_id, al in self.aliases.items()]
        self.doc_numbers: dict[str, list[str]] = {}
        for doc_id, d in self.docs.items():
            if d.get("doc_number"):
                self.doc_numbers.setdefault(nfkc_compact(d["doc_number"]), []).append(doc_id)
        self.idf = IDF(len(self.chunk_ids), self.bm25.doc_freqs())
        self._known = None
        self.generation = self.bm25.generation

    # ---- accessors ----------------------------------------------------------------------------
    def documents(self) -> dict[str, dict]:
        self.refresh()
        return self.docs

    def document(self, doc_id: str) -> dict | None:
        self.refresh()
        return self.docs.get(doc_id)

    def kind_of(self, doc_id: str) -> str | None:
        d = self.document(doc_id)
        return d.get("kind") if d else None

    def has_kind(self, kind: str) -> bool:
        return any(d.get("kind") == kind for d in self.documents().values())

    def reports(self) -> list[str]:
        return sorted(d for d, meta in self.documents().items() if meta.get("kind") == "report")

    def get_idf(self) -> IDF:
        self.refresh()
        return self.idf

    def known_names(self) -> frozenset[str]:
        """Every name the knowledge base knows a document by (aliases, titles, regions, issuers),
        NFKC-normalised without spaces."""
        self.refresh()
        if self._known is None:
            known: set[str] = set()
            for doc_id, d in self.docs.items():
                known |= {nfkc_compact(a) for a in self.aliases.get(doc_id, ())}
                for f in ("title", "region", "issuer"):
                    known.add(nfkc_compact(d.get(f) or ""))
            known.discard("")
            self._known = frozenset(known)
        return self._known

    def named(self, text: str) -> dict[str, float]:
        """Documents ``text`` names (agency, place, short title, 文号), scored by how specific the names are."""
        from ingest.metadata import DOC_NUMBER_RE

        self.refresh()
        q = nfkc_compact(text)
        scores: dict[str, float] = {}
        for doc_id, weighted in self.alias_weights:
            s = sum(w for a, w in weighted if a in q)
            if s:
                scores[doc_id] = s
        for num in DOC_NUMBER_RE.findall(q):
            for doc_id in self.doc_numbers.get(num.replace(" ", ""), ()):
                scores[doc_id] = scores.get(doc_id, 0.0) + 20.0
        return scores

    def names_in(self, text: str) -> list[str]:
        """Names of the knowledge base that occur in ``text``, in order; adjacent names are joined
        (甲县 + 司法局 -> 甲县司法局)."""
        self.refresh()
        spans: list[tuple[int, int]] = []
        for aliases in self.aliases.values():
            for a in aliases:
                start = text.find(a)
                while start >= 0:
                    spans.append((start, start + len(a)))
                    start = text.find(a, start + 1)
        merged: list[list[int]] = []
        for a, b in sorted(spans):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        return [text[a:b] for a, b in merged]

    def abbreviates_issuer(self, agency: str) -> bool:
        """Whether ``agency`` is a short form of a document's issuer (罗湖区应急局 ↔ 深圳市罗湖区应急管理局,
        宝坻城管委 ↔ 天津市宝坻区城市管理委员会): without its places, its characters stand in order in the
        issuer's core, starting with the same one."""
        self.refresh()
        name = nfkc_compact(agency)
        for doc_id, d in self.docs.items():
            region = nfkc_compact(d.get("region") or "")
            places = _PLACE_RE.findall(region)
            issuer = nfkc_compact(d.get("issuer") or "")
            core = agency_core(issuer, places, keep=2)
            # the question's name without the document's places, also as 宝坻 for 宝坻区
            stems = places + [p[:-1] for p in places if len(p) >= 3]
            if any(p not in stems for p in _PLACE_RE.findall(name) if len(p) >= 3 and not p.endswith(_NOT_PLACE)):
                continue  # 天津市应急管理局 is not 深圳市罗湖区应急管理局
            short = name
            for p in sorted(stems, key=len, reverse=True):
                short = short.replace(p, "")
            short = agency_core(short, keep=2)
            it = iter(core)
            if len(short) >= 2 and core and core[0] == short[0] and all(ch in it for ch in short):
                return True
        return False

    def agency_documents(self, agency: str, kind: str | None = "report", context: str = "") -> list[str]:
        """Documents issued by ``agency``, matched on the normalised name: the agency core (name without
        its places) must equal the issuer's core, and a place the name or ``context`` gives must not
        contradict the document's region (区应急管理局 ↔ 深圳市罗湖区应急管理局)."""
        self.refresh()
        name = nfkc_compact(agency)
        if len(name) < 2:
            return []
        core = agency_core(name, keep=3)
        if len(core) < 2 or core in _GENERIC_ORGS:
            core = name
        given_places = {p for p in _PLACE_RE.findall(name + nfkc_compact(context)) if len(p) >= 3}
        out = []
        for doc_id, d in self.docs.items():
            if kind and d.get("kind") != kind:
                continue
            issuer = nfkc_compact(d.get("issuer") or "")
            region = nfkc_compact(d.get("region") or "")
            places = _PLACE_RE.findall(region)
            cores = {agency_core(issuer, places, keep=3)} | {agency_core(a, keep=3) for a in self.aliases.get(doc_id, ())
                                                             if not _PLACE_RE.fullmatch(a)}
            if name != issuer and core not in cores and name not in cores:
                continue
            doc_places = set(_PLACE_RE.findall(region + issuer))
            # a place named with the agency (or in the draft's first lines) must be the document's own
            foreign = [p for p in given_places if p not in doc_places and not any(p in x or x in p for x in doc_places)]
            if foreign and not any(p in region + issuer for p in given_places):
                continue
            out.append(doc_id)
        return sorted(out)
