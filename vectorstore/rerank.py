"""Sentence-level lexical reranking (no model): how well a passage's best sentence answers the
question — IDF-weighted coverage of the question's terms, character-bigram overlap, and whether
the sentence holds the kind of answer asked for (a number, a date, a period, a list).

Used to order retrieved passages and, by the extractive answerer, to pick sentences.
"""
from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from .tokenize import tokenize

_SENT = re.compile(r"[^。！？!?；;\n]*[。！？!?；;]+[”’」』）)]*|[^。！？!?；;\n]+")
ASK_NUMBER = re.compile(r"多少|几[个项件名天日次人条年宗份家]?|比例|百分之|数量|金额|标准分别")
ASK_PERIOD = re.compile(r"多长|多久|期限|时限|期间|多少天|多少日|几天|几日|多少个工作日|多少个月")
ASK_TIME = re.compile(r"什么时候|何时|哪一?年|哪天|日期|时间前|什么时间")
ASK_LIST = re.compile(r"哪些|包括|分别|有什么|什么是|具体指")
HAS_NUMBER = re.compile(r"\d|[一二三四五六七八九十百千两]+(?:个|项|件|名|日|天|月|年|次|人|条|宗|份|周岁|元|倍)")
HAS_DATE = re.compile(r"(?:19|20)\d{2}\s*年|\d{1,2}\s*月\s*\d{1,2}\s*日|[一二三四五六七八九十]+月")
HAS_PERIOD = re.compile(r"[\d一二三四五六七八九十百两]+\s*(?:个)?(?:工作日|日|天|个月|月|年|周岁)(?:内|以内|后|前|以上|以下)?")


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


def bigrams(s: str) -> set[str]:
    s = re.sub(r"[\W_]+", "", _nfkc(s))
    return {s[i: i + 2] for i in range(len(s) - 1)}


class IDF:
    def __init__(self, token_lists: list[list[str]]):
        self.n = max(len(token_lists), 1)
        self.df = Counter(t for toks in token_lists for t in set(toks))

    @classmethod
    def from_counts(cls, n_chunks: int, df: dict[str, int]) -> "IDF":
        """From document frequencies already counted (the BM25 index holds them)."""
        obj = cls.__new__(cls)
        obj.n = max(n_chunks, 1)
        obj.df = df
        return obj

    def __call__(self, tok: str) -> float:
        return math.log(1 + (self.n - self.df.get(tok, 0) + 0.5) / (self.df.get(tok, 0) + 0.5))


@dataclass
class Question:
    text: str
    tokens: list[str]
    weights: dict[str, float]
    grams: set[str]
    wants_number: bool
    wants_time: bool
    wants_list: bool
    wants_period: bool = False


def analyse(question: str, idf: IDF) -> Question:
    # single characters and words the knowledge base never uses only dilute coverage
    toks = [t for t in dict.fromkeys(tokenize(question, search_mode=False))
            if (len(t) > 1 or t.isdigit()) and idf.df.get(t, 0) > 0]
    weights = {t: idf(t) for t in toks}
    return Question(question, toks, weights, bigrams(question), bool(ASK_NUMBER.search(question)),
                    bool(ASK_TIME.search(question)), bool(ASK_LIST.search(question)),
                    bool(ASK_PERIOD.search(question)))


@functools.lru_cache(maxsize=2048)  # ~10 KB each (the bigram set); a request touches a few hundred
def _sentence_features(sentence: str) -> tuple[str, frozenset[str], bool, bool, bool]:
    """What scoring needs of a sentence, whatever the question: (NFKC lower-cased text, bigrams,
    has a number, has a period, has a date). Memoised: the same passages are scored for the question,
    each sub-question and again by the answerer's sentence picking."""
    return (_nfkc(sentence).lower(), frozenset(bigrams(sentence)), bool(HAS_NUMBER.search(sentence)),
            bool(HAS_PERIOD.search(sentence)), bool(HAS_DATE.search(sentence)))


@functools.lru_cache(maxsize=2048)
def _context_norm(context: str) -> str:
    return _nfkc(context).lower() if context else ""


@functools.lru_cache(maxsize=1024)
def _spans_and_leads(text: str) -> tuple[tuple[tuple[int, int], ...], tuple[str, ...]]:
    spans = split_sentences(text)
    return tuple(spans), tuple(sentence_contexts(text, spans))


def clear_caches() -> None:
    """Forget memoised sentence features (benchmarks time each question cold)."""
    _sentence_features.cache_clear()
    _context_norm.cache_clear()
    _spans_and_leads.cache_clear()


def sentence_score(q: Question, sentence: str, context: str = "") -> float:
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


def split_sentences(text: str) -> list[tuple[int, int]]:
    out = []
    for m in _SENT.finditer(text):
        raw = m.group(0)
        lead = len(raw) - len(raw.lstrip())
        s = raw.strip()
        if len(s) >= 4:
            out.append((m.start() + lead, m.start() + lead + len(s)))
    return out


LIST_ITEM = re.compile(r"^\s*(?:[(（][一二三四五六七八九十\d]+[)）]|\d{1,2}[.．、]|[一二三四五六七八九十]+是)")


def sentence_contexts(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """For each sentence, the lead-in it depends on: a list item's '…如下：/…为：' sentence."""
    out, lead = [], ""
    for a, b in spans:
        s = text[a:b]
        out.append(lead if LIST_ITEM.match(s) else "")
        if s.rstrip().endswith(("：", ":")):
            lead = s
        elif not LIST_ITEM.match(s):
            lead = ""
    return out


def passage_score(q: Question, heading: str, text: str, title: str = "") -> float:
    spans, leads = _spans_and_leads(text)
    if not spans:
        return 0.0
    ctx = f"{title} {heading}"
    scores = sorted((sentence_score(q, text[a:b], f"{ctx} {lead}") for (a, b), lead in zip(spans, leads)),
                    reverse=True)
    return scores[0] + 0.15 * (scores[1] if len(scores) > 1 else 0.0)
