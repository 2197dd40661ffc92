"""compare: how did other agencies do X — one row per agency: practice, key figures, citation."""
from __future__ import annotations

import re

from vectorstore.query import Query, Terms
from vectorstore.retrieve import Filters, Hit
from vectorstore.values import figures

from ..citations import enforce, renumber
from ..evidence import SourceBook
from ..records import Answer
from .base import Context, Scored, gate, passages_of, score_sentences
from .sections import PRACTICE, after_frame, is_frame_sentence, off_section, section_kind, strip_marker
from .gather import gather


def _about(q: Terms, text: str, share: float = 0.6) -> bool:
    """A sentence is about the topic when it names the topic's rarest term or holds ``share`` of its weight."""
    w = {t: v for t, v in q.weights.items() if len(t) >= 2}
    if not w:
        return True
    if max(w, key=w.get) in text:
        return True
    return sum(v for t, v in w.items() if t in text) / sum(w.values()) >= share


def key_figures(text: str) -> list[str]:
    """The figures of a sentence as written, without dates and names that hold a numeral (三项制度)."""
    return [re.sub(r"\s+", "", v.text) for v in figures(text)
            if v.unit != "date" and text[v.end: v.end + 2] != "制度" and not text[v.end: v.end + 1] == "例"]


def _is_practice(s: Scored, q: Terms, titled: bool) -> bool:
    """A sentence shown as practice: not an item's bare title, not a report's opening nor its shortcomings
    or plans in running text, and (outside a passage titled with the topic) about the topic."""
    if len(strip_marker(s.sentence.text)) <= 14:
        return False
    ch = s.sentence.hit.chunk
    if is_frame_sentence(s.sentence.text) or after_frame(ch.text[: s.sentence.start - ch.start]):
        return False
    return titled or _about(q, s.sentence.text)


def agency_rows(q: Terms, hits: list[Hit], book: SourceBook, per_row: int = 2, topic: str = "",
                floor: float = 0.2, keep_ratio: float = 0.5) -> list[dict]:
    """One row per agency: its practice sentences on the topic (not from its shortcomings or next-year
    plans unless the topic asks for those), and the key figures of the cited sentences; when the chosen
    sentences hold no figure, the agency's best on-topic sentence that does is cited as well."""
    kind = section_kind(topic) if topic else PRACTICE
    groups: dict[str, list[Hit]] = {}
    for h in hits:
        if kind == PRACTICE and off_section(h.chunk.heading_path):
            continue
        groups.setdefault(h.doc.get("issuer") or h.chunk.doc_id, []).append(h)
    ranked = sorted((k for k in q.weights if len(k) >= 2), key=lambda k: -q.weights[k])
    keys = [k for k in ranked[:2] if q.weights[k] >= 0.6 * q.weights[ranked[0]]]  # the rarest terms
    rows = []
    for agency, group in groups.items():
        # an agency's passages under a heading of the topic, when it has some (its 普法 section, not a
        # 第一责任人 paragraph that mentions 普法 in passing)
        titled = [h for h in group if any(k in "".join(h.chunk.heading_path) for k in keys)]
        scored: list[Scored] = score_sentences(q, titled or group)
        if not scored:
            continue
        top = scored[0].score
        least = floor / 2 if titled else floor  # a passage titled with the topic is on it
        eligible = [s for s in scored if s.score >= max(least, keep_ratio * top) and _is_practice(s, q, titled)]
        picked: list[Scored] = []
        for s in eligible:
            if len(picked) >= per_row:
                break
            if all(p.sentence.text != s.sentence.text for p in picked):
                picked.append(s)
        if not picked:
            continue
        has = any(key_figures(s.sentence.text) for s in picked)
        near = [s for s in scored if any(s.sentence.hit.chunk.id == p.sentence.hit.chunk.id
                                         and 0 < s.sentence.start - p.sentence.start <= 300 for p in picked)]
        data = next((s for s in eligible + near if s not in picked and not is_frame_sentence(s.sentence.text)
                     and len(key_figures(s.sentence.text)) >= (2 if has else 1)), None)
        if data is not None:  # the agency's data sentence on the topic (or right after a practice): its figures
            picked.append(data)
        picked.sort(key=lambda s: (s.sentence.doc_id, s.sentence.start))
        cites = [book.cite_sentence(s.sentence) for s in picked]
        found = [f for s in picked for f in key_figures(s.sentence.text)]
        rows.append({"agency": agency, "doc_id": group[0].chunk.doc_id, "title": group[0].doc.get("title"),
                     "year": group[0].doc.get("year"), "practice": [s.sentence.text for s in picked],
                     "figures": list(dict.fromkeys(found)), "sources": cites,
                     "score": round(max(s.score for s in picked), 4)})
    rows.sort(key=lambda r: -r["score"])
    return rows


def compare(query: Query, ctx: Context, filters: Filters | None = None, backend=None, on_token=None) -> Answer:
    hits = gather(ctx.retriever, "compare", query, filters, k=12)
    refused, _ = gate(query, "compare", ctx, hits)
    if refused:
        return refused
    if backend is not None:
        from ..generate import llm_answer

        return llm_answer(backend, "compare", query.request, hits, ctx.store, on_token=on_token)
    book = SourceBook(ctx.store)
    rows = agency_rows(query.topic, hits, book, topic=query.text, floor=ctx.settings.compare_topic_min)
    lines, exempt = [], []
    head = f"共找到{len(rows)}个单位的相关做法："
    lines.append(head)
    exempt.append(head)
    for r in rows:
        label = f"{r['agency']}（{r['year'] or '年份不详'}）："
        lines.append(label)
        exempt.append(label)
        for text, n in zip(r["practice"], r["sources"]):
            lines.append(f"{text}[{n}]")
    text, flags = enforce("\n".join(lines), book.sources, exempt=tuple(exempt))
    text, sources = renumber(text, book.sources)
    mapping = {s.chunk_id + f"@{s.start}": s.number for s in sources}
    old = {s.number: s for s in book.sources}
    for r in rows:
        r["sources"] = [mapping.get(old[n].chunk_id + f"@{old[n].start}", n) for n in r["sources"]]
    return Answer(mode="compare", question=query.request, text=text, sources=sources, flags=flags,
                  compare=rows, passages=passages_of(hits))
