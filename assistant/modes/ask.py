"""ask: question answering. Extractive by default: pick and order the sentences that answer."""
from __future__ import annotations

from vectorstore.rerank import bigrams
from vectorstore.retrieve import Filters, sub_queries

from ..citations import enforce, renumber
from vectorstore.rerank import split_sentences

from ..evidence import Sentence, SourceBook
from ..records import Answer
from .base import Composer, Context, Scored, attribution, following_items, gate, passages_of, topic_sentences

MAX_SENTENCES = 3
KEEP_RATIO = 0.8  # further sentences must score at least this share of the best one


def _similar(a: str, b: str) -> bool:
    ga, gb = bigrams(a), bigrams(b)
    return bool(ga and gb) and len(ga & gb) / min(len(ga), len(gb)) > 0.6


def shares_subject(first: str, second: str) -> bool:
    """Whether ``second`` opens with words of ``first`` (a continuation, not a new topic)."""
    opening = second[:8]
    return any(opening[i: i + 3] in first for i in range(0, max(len(opening) - 2, 0)))


def select(scored: list[Scored], extra: list[list[Scored]] = ()) -> list[Scored]:
    """Best sentence, then close runners-up (deduplicated); the best of each sub-question too."""
    if not scored:
        return []
    chosen = [scored[0]]
    for cand in scored[1:]:
        if len(chosen) >= MAX_SENTENCES or cand.score < KEEP_RATIO * scored[0].score:
            break
        if not any(_similar(cand.sentence.text, c.sentence.text) for c in chosen):
            chosen.append(cand)
    # the sentence right after the best one, when it carries on the same subject (它/该/区域评估的费用…)
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


def compose(chosen: list[Scored], book: SourceBook) -> tuple[str, list[str]]:
    comp = Composer(book)
    by_doc: dict[str, list[Scored]] = {}
    for c in chosen:
        by_doc.setdefault(c.sentence.doc_id, []).append(c)
    done: set[tuple[str, int]] = set()
    for doc_id, items in by_doc.items():
        comp.header(attribution(items[0].sentence.hit))
        for c in sorted(items, key=lambda x: x.sentence.start):
            group = [c.sentence]
            if c.sentence.text.rstrip().endswith(("：", ":")):
                group += following_items(c.sentence.hit, c.sentence)
            elif c is chosen[0]:
                nxt = continuation(c.sentence, book)
                group += [nxt] if nxt else []
            for s in group:
                if (s.doc_id, s.start) not in done:
                    done.add((s.doc_id, s.start))
                    comp.cite(s)
    return comp.text(), comp.exempt


def ask(question: str, ctx: Context, filters: Filters | None = None, backend=None, on_token=None) -> Answer:
    hits = ctx.retriever.search(question, filters, k=ctx.k)
    refused, scored = gate(question, "ask", ctx, hits)
    if refused:
        return refused
    if backend is not None:
        from ..generate import llm_answer

        return llm_answer(backend, "ask", question, hits, ctx.store, on_token=on_token)
    extra = [topic_sentences(p, ctx, hits[: ctx.k]) for p in sub_queries(question)]
    chosen = select(scored, extra)
    book = SourceBook(ctx.store)
    text, exempt = compose(chosen, book)
    text, flags = enforce(text, book.sources, exempt=tuple(exempt))
    text, sources = renumber(text, book.sources)
    return Answer(mode="ask", question=question, text=text, sources=sources, flags=flags,
                  passages=passages_of(hits))
