"""ask: question answering. Extractive by default: pick and order the sentences that answer, by the
answer type the question asks for (a value of the asked unit, a list a lead-in announces, the rule that
decides a yes/no question), from the best-ranked evidence first."""
from __future__ import annotations

import re

from vectorstore.query import LIST, PERIOD, QUANTITY, TIME, YESNO, Query
from vectorstore.text import bigrams, is_lead_in, split_sentences

from ..citations import enforce, renumber
from ..evidence import Sentence, SourceBook
from ..records import Answer
from .sections import PRACTICE, off_section, section_kind
from .base import (Composer, Context, Scored, attribution, evidence_pool, focus_evidence, gate, semantic_order, lead_in_expansion,
                   passages_of, topic_sentences)

_RULE = re.compile(r"应当|必须|不得|可以|不予|禁止|严禁|有权|无权|均须|一律|方可")


def _similar(a: str, b: str) -> bool:
    ga, gb = bigrams(a), bigrams(b)
    return bool(ga and gb) and len(ga & gb) / min(len(ga), len(gb)) > 0.6


def shares_subject(first: str, second: str) -> bool:
    """Whether ``second`` opens with words of ``first`` (a continuation, not a new topic)."""
    opening = second[:8]
    return any(opening[i: i + 3] in first for i in range(0, max(len(opening) - 2, 0)))


def _one_report(query: Query, scored: list[Scored]) -> list[Scored]:
    """Several named reports of one agency: answer from the one retrieval ranks first."""
    if len(query.docs) < 2 or not scored:
        return scored
    issuers = {}
    for s in scored:
        issuers.setdefault(s.sentence.hit.doc.get("issuer"), set()).add(s.sentence.doc_id)
    if not any(len(v) > 1 for v in issuers.values()):
        return scored
    first = min(scored, key=lambda s: s.sentence.hit.rank).sentence
    issuer = first.hit.doc.get("issuer")
    return [s for s in scored if s.sentence.hit.doc.get("issuer") != issuer or s.sentence.doc_id == first.doc_id]


def _practice_first(query: Query, scored: list[Scored]) -> list[Scored]:
    """A question about what was done is not answered from a report's shortcomings or next-year plans (在今后的
    工作中…) while its practice sections hold evidence; a question about those sections keeps them."""
    if section_kind(query.text) != PRACTICE:
        return scored
    practice = [s for s in scored if not off_section(s.sentence.hit.chunk.heading_path)]
    return practice or scored


def lead_sentence(query: Query, scored: list[Scored], ctx: Context) -> Scored | None:
    """The sentence an answer of this type must open with, when the best-scored one is not it: one with a
    value of the asked unit (quantity, period, time), or the rule that decides a yes/no question."""
    if not scored:
        return None
    if query.terms.wants_list:
        # 分别/哪些/各…: the sentence announcing the enumeration answers (it brings its items)
        best = scored[0].score
        lead = next((s for s in scored[:6] if is_lead_in(s.sentence.text)
                     and s.score >= ctx.settings.keep_ratio * best), None)
        if lead is not None:
            return lead
    if query.answer_type in (QUANTITY, PERIOD, TIME):
        # past the gate: any candidate holding a value of the asked kind about the focus may lead
        return focus_evidence(query, scored, ctx.settings, floor=0.0)
    if query.answer_type == LIST and not is_lead_in(scored[0].sentence.text):
        # a list question is answered by the sentence that announces the list (it brings its items)
        best = scored[0].score
        return next((s for s in scored[1:6] if is_lead_in(s.sentence.text)
                     and s.score >= ctx.settings.keep_ratio * best), None)
    if query.answer_type == YESNO and not _RULE.search(scored[0].sentence.text):
        best = scored[0].score
        return next((s for s in scored[1:6] if _RULE.search(s.sentence.text)
                     and s.score >= ctx.settings.keep_ratio * best), None)
    return None


def select(scored: list[Scored], extra: list[list[Scored]] = (), first: Scored | None = None,
           max_sentences: int = 3, keep_ratio: float = 0.8) -> list[Scored]:
    """Best sentence (or the one the answer type needs), then close runners-up (deduplicated); the best
    of each sub-question too."""
    if not scored:
        return []
    head = first or scored[0]
    chosen = [head]
    for cand in scored:
        if cand is head:
            continue
        if len(chosen) >= max_sentences or cand.score < keep_ratio * scored[0].score:
            break
        if not any(_similar(cand.sentence.text, c.sentence.text) for c in chosen):
            chosen.append(cand)
    for sub in extra:
        if sub and not any(_similar(sub[0].sentence.text, c.sentence.text) for c in chosen):
            chosen.append(sub[0])
    return chosen


def continuation(s: Sentence, book: SourceBook) -> Sentence | None:
    """The document's next sentence when it carries on the same subject (区域评估的费用… after 区域评估…),
    even across a chunk boundary."""
    text = book.doc_text(s.doc_id)
    rest = text[s.end: s.end + 300]
    lead = len(rest) - len(rest.lstrip())
    spans = split_sentences(rest)
    if not spans or spans[0][0] != lead or "\n\n" in rest[:lead]:
        return None
    a, b = spans[0]
    nxt = rest[a:b]
    if not shares_subject(s.text, nxt):
        return None
    return Sentence(s.hit, s.end + a, s.end + b, nxt)


def compose(chosen: list[Scored], book: SourceBook, items: int = 8) -> tuple[str, list[str]]:
    comp = Composer(book)
    by_doc: dict[str, list[Scored]] = {}
    for c in chosen:
        by_doc.setdefault(c.sentence.doc_id, []).append(c)
    done: set[tuple[str, int]] = set()
    for doc_id, group_items in by_doc.items():
        comp.header(attribution(group_items[0].sentence.hit))
        for c in sorted(group_items, key=lambda x: x.sentence.start):
            group = [c.sentence]
            expansion = lead_in_expansion(c.sentence, book, items)
            if expansion:
                group += expansion
            elif c is chosen[0]:
                nxt = continuation(c.sentence, book)
                group += [nxt] if nxt else []
            for s in group:
                if (s.doc_id, s.start) not in done:
                    done.add((s.doc_id, s.start))
                    comp.cite(s)
    return comp.text(), comp.exempt


def ask(query: Query, ctx: Context, filters=None, backend=None, on_token=None) -> Answer:
    hits = ctx.retriever.search(query, filters, k=ctx.k)
    refused, scored = gate(query, "ask", ctx, hits)
    if refused:
        return refused
    if backend is not None:
        from ..generate import llm_answer

        return llm_answer(backend, "ask", query.request, hits, ctx.store, on_token=on_token)
    st = ctx.settings
    scored = semantic_order(query, _practice_first(query, _one_report(query, scored)), ctx)
    extra = [topic_sentences(p, hits[: ctx.k]) for p in query.parts]
    chosen = select(scored, extra, lead_sentence(query, scored, ctx), st.max_sentences, st.keep_ratio)
    book = SourceBook(ctx.store)
    text, exempt = compose(chosen, book, st.lead_in_items)
    text, flags = enforce(text, book.sources, exempt=tuple(exempt))
    text, sources = renumber(text, book.sources)
    return Answer(mode="ask", question=query.request, text=text, sources=sources, flags=flags,
                  passages=passages_of(hits))


__all__ = ["ask", "compose", "select", "evidence_pool"]
