"""Shared machinery of the modes: the context they run in, sentence picking, lead-in expansion and the
refusal gate. Every function takes the request's analysed ``Query``; none analyses text again."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from vectorstore.catalog import Catalog
from vectorstore.query import PERIOD, QUANTITY, TIME, TITLE_RE, Query, Terms, unknown_names
from vectorstore.rerank import sentence_score
from vectorstore.retrieve import Hit, Retriever
from vectorstore.text import is_lead_in, is_list_item, nfkc_compact, sentence_contexts, split_sentences
from vectorstore.values import figures, values

from ..evidence import Sentence, SourceBook
from ..records import REFUSAL_TEXT, Answer
from ..settings import Settings


@dataclass
class Context:
    retriever: Retriever
    k: int = 8
    settings: Settings = field(default_factory=Settings)

    @property
    def store(self):
        return self.retriever.kb.store

    @property
    def catalog(self) -> Catalog:
        return self.retriever.catalog


@dataclass
class Scored:
    sentence: Sentence
    score: float
    lead: str = ""
    lexical: float | None = None  # the lexical score, when ``score`` is a blend (semantic_order)

    @property
    def evidence_score(self) -> float:
        """The lexical score the thresholds (min_evidence …) are set on."""
        return self.score if self.lexical is None else self.lexical


def score_sentences(q: Terms, hits: list[Hit], per_hit: int | None = None) -> list[Scored]:
    out: list[Scored] = []
    for h in hits:
        text = h.chunk.text
        spans = split_sentences(text)
        leads = sentence_contexts(text, spans)
        ctx = f"{h.doc.get('title', '')} {' '.join(h.chunk.heading_path)}"
        scored = []
        headings = {nfkc_compact(x).rstrip("。") for x in h.chunk.heading_path}
        for (a, b), lead in zip(spans, leads):
            if is_heading(text[a:b], headings):
                continue
            s = Sentence(h, h.chunk.start + a, h.chunk.start + b, text[a:b])
            sc = sentence_score(q, s.text, f"{ctx} {lead}") + 0.08 / h.rank
            scored.append(Scored(s, sc, lead))
        scored.sort(key=lambda x: -x.score)
        out.extend(scored[:per_hit] if per_hit else scored)
    out.sort(key=lambda x: -x.score)
    return out


def is_heading(sentence: str, headings: set[str]) -> bool:
    """A section heading states nothing to quote as evidence (一、… / (六)… / 1.合同审查。)."""
    from ingest.chunking import heading_of

    s = nfkc_compact(sentence).rstrip("。；;")
    if s in headings:
        return True
    h = heading_of(sentence)
    return h is not None and len(s) <= 30 and len(nfkc_compact(h[1]).rstrip("。")) >= len(s) - 1


_ITEM_STYLE = [re.compile(p) for p in (r"^\s*[(（][一二三四五六七八九十]+[)）]", r"^\s*[(（]\d+[)）]",
                                       r"^\s*\d{1,2}[.．、]", r"^\s*[一二三四五六七八九十]+是")]


def _style(sentence: str) -> int | None:
    return next((i for i, p in enumerate(_ITEM_STYLE) if p.match(sentence)), None)


def following_items(s: Sentence, book: SourceBook, limit: int = 8, max_chars: int = 600) -> list[Sentence]:
    """What a lead-in sentence announces (…如下： / …包括： / 二是明确审核具体内容。): the sentences after it,
    in the document, up to the next item of the lead-in's own level or the end of its enumeration.
    Within its paragraph every clause follows; past a line break only enumerated items do."""
    text = book.doc_text(s.doc_id)
    if not text:
        return []
    rest = text[s.end: s.end + max_chars + 200]
    own = _style(s.text)
    out: list[Sentence] = []
    used = 0
    for a, b in split_sentences(rest):
        piece = rest[a:b]
        gap = rest[out[-1].end - s.end if out else 0: a]
        crosses_line = "\n" in gap
        style = _style(piece)
        if own is not None and style == own:
            break  # the next item of the lead-in's own list (三是… after 二是…)
        if crosses_line and not is_list_item(piece):
            break
        if used + len(piece) > max_chars and out:
            break
        out.append(Sentence(s.hit, s.end + a, s.end + b, piece))
        used += len(piece)
        if len(out) >= limit:
            break
    return out


def lead_in_expansion(s: Sentence, book: SourceBook, limit: int = 8) -> list[Sentence]:
    return following_items(s, book, limit) if is_lead_in(s.text) else []


def refusal(query: Query, mode: str, hits: list[Hit], missing: list[str], why: str = "") -> Answer:
    if missing:
        why = f"知识库中没有关于{'、'.join(missing)}的文件。"
    elif not hits:
        why = "没有检索到任何相关段落。"
    elif not why:
        why = "检索到的段落与问题的相关度不足，无法据此作答。"
    text = REFUSAL_TEXT + why
    if hits:
        text += "\n以下是最接近的段落，仅供参考（未据此作答）："
        for h in hits[:3]:
            text += f"\n- 《{h.doc.get('title')}》{' > '.join(h.chunk.heading_path)}：{h.chunk.text[:80]}…"
    return Answer(mode=mode, question=query.request, text=text, refused=True, passages=passages_of(hits))


def passages_of(hits: list[Hit]) -> list[dict]:
    return [{"rank": h.rank, "doc_id": h.chunk.doc_id, "chunk_id": h.chunk.id, "title": h.doc.get("title"),
             "issuer": h.doc.get("issuer"), "heading_path": h.chunk.heading_path, "start": h.chunk.start,
             "end": h.chunk.end, "text": h.chunk.text, "score": round(h.score, 4)} for h in hits]


def attribution(hit: Hit) -> str:
    d = hit.doc
    issuer = d.get("issuer") or ""
    title = d.get("title") or hit.chunk.doc_id
    return f"{issuer}《{title}》：" if issuer and issuer not in title else f"《{title}》："


# ---- refusal by focus ------------------------------------------------------------------------------

def focus_share(query: Query, text: str) -> float:
    """Share of the focus's IDF weight that ``text`` holds (substring match, as sentence scoring)."""
    w = query.focus_weights
    total = sum(w.values())
    if not total:
        return 1.0
    t = nfkc_compact(text).lower()
    return sum(v for k, v in w.items() if k in t) / total


def answers_value(query: Query, sentence: str) -> bool:
    """Whether ``sentence`` holds a value of the kind the question asks for (a count of the asked unit,
    a percentage, an amount, a period, a date)."""
    figs = figures(sentence)
    if query.answer_type == TIME:
        # "when (at the latest)" is answered by a date or by a time limit (自知道之日起六十日内)
        return (any(v.unit == "date" for v in values(sentence)) or any(v.kind == "period" for v in figs)
                or bool(re.search(r"\d{1,2}\s*月|[一二三四五六七八九十]+月", sentence)))
    if query.answer_type == PERIOD:
        return any(v.kind == "period" for v in figs)
    if query.unit:
        probe = next(iter(figures(f"1{query.unit}")), None)
        if probe is not None:
            return any(v.same_unit(probe) or (probe.kind == v.kind and probe.kind in ("money", "percent")) for v in figs)
    return bool(figs)


def focus_evidence(query: Query, scored: list[Scored], settings: Settings, depth: int = 12,
                   floor: float | None = None) -> Scored | None:
    """The best evidence sentence holding a value of the kind asked (a count of the asked unit about the
    asked focus, a period, a date): None when the evidence does not contain what is asked."""
    floor = settings.min_evidence if floor is None else floor
    for s in scored[:depth]:
        if s.evidence_score < floor:
            continue
        ctx = f"{s.lead} {' '.join(s.sentence.hit.chunk.heading_path)}"
        # a period or a date answers "how long / when" of the topic the sentence scores for; a count
        # must be of the thing asked (经费, 纠错率 …)
        # a document's title (《关于推行…公职律师…制度的实施意见》) names the thing, it says nothing of how many
        said = TITLE_RE.sub(lambda m: m.group(0) if m.group(1) in query.titles else "《》", s.sentence.text)
        if query.answer_type == QUANTITY and focus_share(query, f"{said} {ctx}") < settings.focus_min:
            continue
        if query.answer_type in (QUANTITY, PERIOD, TIME) and not answers_value(query, s.sentence.text):
            continue
        return s
    return None


def gate(query: Query, mode: str, ctx: Context, hits: list[Hit]) -> tuple[Answer | None, list[Scored]]:
    """Decide refusal from retrieval evidence (before any LLM call): names the knowledge base holds
    nothing of, no passages, no known term, too weak a best sentence, or (for ask) evidence that does not
    contain the asked focus. Returns (refusal or None, the evidence sentences scored for the topic)."""
    missing = unknown_names(query, "".join(h.chunk.text for h in hits)) if (query.unresolved or query.foreign_agencies) else []
    scored = topic_sentences(query, hits[: ctx.k]) if hits else []
    best = scored[0].score if scored else 0.0
    if missing or not hits or not query.has_known_terms or best < ctx.settings.min_evidence:
        return refusal(query, mode, hits, missing), scored
    if mode == "ask" and query.answer_type in (QUANTITY, PERIOD, TIME) and not query.parts:
        if query.answer_type == QUANTITY and query.focus_unknown:
            return refusal(query, mode, hits, [], f"知识库中没有关于“{query.focus_unknown}”的内容。"), scored
        if query.focus_weights and focus_evidence(query, scored, ctx.settings) is None:
            return refusal(query, mode, hits, [], f"检索到的段落中没有关于“{query.focus}”的具体数据或规定。"), scored
    return None, scored


def evidence_pool(query: Query, hits: list[Hit]) -> list[Hit]:
    """The passages to answer from: those of the documents the question names when it names some, and
    among several of them the ones of the year it gives."""
    pool = [h for h in hits if h.chunk.doc_id in query.docs] if query.docs else hits
    if query.years and pool:
        years = set(query.years) | {y + 1 for y in query.years}
        dated = [h for h in pool if h.doc.get("year") in years or h.doc.get("kind") != "report"]
        if dated and len({h.chunk.doc_id for h in pool}) > 1:
            pool = dated
    return pool or hits


def semantic_order(query: Query, scored: list[Scored], ctx: Context) -> list[Scored]:
    """The best lexical candidates re-ordered by a blend of lexical score and the sentence's embedding
    similarity to the question (both scaled to 0..1 over the candidates). Runs after the refusal gate:
    it changes which evidence answers, never whether the knowledge base holds an answer."""
    st = ctx.settings
    head = scored[: st.semantic_depth]
    if st.semantic_weight <= 0 or len(head) < 2 or not ctx.retriever.use_dense:
        return scored
    cos = ctx.retriever.sentence_similarity(query, [s.sentence.text for s in head])
    lo, hi = float(cos.min()), float(cos.max())
    top = head[0].score or 1.0
    w = st.semantic_weight
    blended = [Scored(s.sentence, (1 - w) * s.score / top + w * ((float(c) - lo) / (hi - lo) if hi > lo else 0.0),
                      s.lead, s.evidence_score)
               for s, c in zip(head, cos)]
    blended.sort(key=lambda x: -x.score)
    return blended + scored[st.semantic_depth:]


def topic_sentences(query: Query, hits: list[Hit]) -> list[Scored]:
    """Sentences scored for the question's topic (names are checked apart), from the documents the
    question names when it names some."""
    return score_sentences(query.topic, evidence_pool(query, hits))


@dataclass
class Composer:
    """Builds answer text grouped by document, each sentence cited."""
    book: SourceBook
    lines: list[str] = field(default_factory=list)
    exempt: list[str] = field(default_factory=list)

    def header(self, line: str) -> None:
        self.lines.append(line)
        self.exempt.append(line.strip())

    def cite(self, s: Sentence, text: str | None = None) -> int:
        n = self.book.cite_sentence(s)
        self.lines.append(f"{text if text is not None else s.text}[{n}]")
        return n

    def text(self) -> str:
        return "\n".join(self.lines)
