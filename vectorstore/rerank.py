"""Sentence-level lexical reranking (no model): how well a passage's best sentence answers the
question — IDF-weighted coverage of the question's terms, character-bigram overlap, and whether
the sentence holds the kind of answer asked for (a number, a date, a period, a list).

Used to order retrieved passages and, by the extractive answerer, to pick sentences. The question's
side (terms, weights, answer kind) comes from ``vectorstore.query``; nothing here analyses a question.
"""
from __future__ import annotations

import functools
import re

from .query import Terms
from .text import bigrams, nfkc, sentence_contexts, split_sentences

HAS_NUMBER = re.compile(r"\d|[一二三四五六七八九十百千两]+(?:个|项|件|名|日|天|月|年|次|人|条|宗|份|周岁|元|倍)")
HAS_DATE = re.compile(r"(?:19|20)\d{2}\s*年|\d{1,2}\s*月\s*\d{1,2}\s*日|[一二三四五六七八九十]+月")
HAS_PERIOD = re.compile(r"[\d一二三四五六七八九十百两]+\s*(?:个)?(?:工作日|日|天|个月|月|年|周岁)(?:内|以内|后|前|以上|以下)?")


@functools.lru_cache(maxsize=2048)  # ~10 KB each (the bigram set); a request touches a few hundred
def _sentence_features(sentence: str) -> tuple[str, frozenset[str], bool, bool, bool]:
    """What scoring needs of a sentence, whatever the question: (NFKC lower-cased text, bigrams,
    has a number, has a period, has a date). Memoised: the same passages are scored for the question,
    each sub-question and again by the answerer's sentence picking."""
    return (nfkc(sentence).lower(), frozenset(bigrams(sentence)), bool(HAS_NUMBER.search(sentence)),
            bool(HAS_PERIOD.search(sentence)), bool(HAS_DATE.search(sentence)))


@functools.lru_cache(maxsize=2048)
def _context_norm(context: str) -> str:
    return nfkc(context).lower() if context else ""


@functools.lru_cache(maxsize=1024)
def _spans_and_leads(text: str) -> tuple[tuple[tuple[int, int], ...], tuple[str, ...]]:
    spans = split_sentences(text)
    return tuple(spans), tuple(sentence_contexts(text, spans))


def clear_caches() -> None:
    """Forget memoised sentence features (benchmarks time each question cold)."""
    _sentence_features.cache_clear()
    _context_norm.cache_clear()
    _spans_and_leads.cache_clear()


def sentence_score(q: Terms, sentence: str, context: str = "") -> float:
    """0..~1.3: term coverage (sentence, plus half weight for its heading/context), bigram
    overlap, and an answer-type bonus."""
    total = sum(q.weights.values()) or 1.0
    # substring match, not token equality: jieba cuts 行政强制执行 and 强制执行 differently
    s_norm, grams, has_number, has_period, has_date = _sentence_features(sentence)
    c_norm = _context_norm(context)
    cov = sum(w for t, w in q.weights.items() if t in s_norm) / total
    cov_ctx = sum(w for t, w in q.weights.items() if t in c_norm and t not in s_norm) / total
    overlap = len(q.grams & grams) / len(q.grams) if q.grams else 0.0
    base = 0.6 * cov + 0.25 * cov_ctx + 0.4 * overlap
    has_num = has_number or has_period
    if q.wants_time:
        has_num = has_num or has_date
    if q.wants_period:
        has_num = has_period
    if q.wants_number or q.wants_time or q.wants_period:
        # a sentence without any figure cannot answer "how many / how long / when"
        return base + 0.15 if has_num else base * 0.7
    return base


def passage_score(q: Terms, heading: str, text: str, title: str = "") -> float:
    spans, leads = _spans_and_leads(text)
    if not spans:
        return 0.0
    ctx = f"{title} {heading}"
    scores = sorted((sentence_score(q, text[a:b], f"{ctx} {lead}") for (a, b), lead in zip(spans, leads)),
                    reverse=True)
    return scores[0] + 0.15 * (scores[1] if len(scores) > 1 else 0.0)
