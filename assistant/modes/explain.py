"""Explanations of check verdicts: which value or word of the claim disagrees with which evidence
sentence about the same predicate, and which governing requirements are about the claim's subject.

The verdict itself is decided in ``check``; this module only picks and words what is shown with it."""
from __future__ import annotations

import re

from vectorstore.query import Query
from vectorstore.values import figures

from .base import Scored

# predicates and the word that says the opposite outcome (败诉 vs 胜诉 …)
OPPOSITES = {"败诉": "胜诉", "胜诉": "败诉", "撤销": "维持", "维持": "撤销", "增加": "减少", "减少": "增加",
             "合格": "不合格", "通过": "未通过", "办结": "未办结", "采纳": "未采纳", "纠正": "维持"}
_ALL_WORD = re.compile(r"所有|全部|均|一律|无一|没有|未发生|零")


def _predicate(claim: str) -> str:
    """The two characters before the claim's first figure (败诉2件 -> 败诉), or a known predicate."""
    for v in figures(claim):
        before = re.sub(r"[^\u4e00-\u9fa5]", "", claim[max(0, v.start - 6): v.start])
        if len(before) >= 2:
            return before[-2:]
    return next((w for w in OPPOSITES if w in claim), "")


def same_predicate_evidence(claim: str, candidates: list[Scored]) -> tuple[Scored, str] | None:
    """An evidence sentence about the claim's own predicate that contradicts it: the opposite outcome
    stated for all (所有审结案件均以政府胜诉结案 for 败诉2件), or the same predicate with another count."""
    pred = _predicate(claim)
    if not pred:
        return None
    claimed = [v for v in figures(claim) if v.kind == "count"]
    opposite = OPPOSITES.get(pred)
    for c in candidates:
        t = c.sentence.text
        if opposite and opposite in t and pred not in t and _ALL_WORD.search(t):
            return c, f"说法为“{pred}{claimed[0].text if claimed else ''}”，来源中为“{_clause(t, opposite)}”"
        if pred in t and claimed:
            told = [v for v in figures(t[t.index(pred): t.index(pred) + 10]) if v.kind == "count"]
            if told and all(v.value != claimed[0].value and v.same_unit(claimed[0]) for v in told):
                return c, f"数值不符：说法为“{pred}{claimed[0].text}”，来源中为“{pred}{told[0].text}”"
    return None


def _clause(sentence: str, word: str) -> str:
    """The clause of ``sentence`` that holds ``word``."""
    for part in re.split(r"[，。；,;]", sentence):
        if word in part:
            return part.strip()
    return sentence.strip()


def explain(claim: str, verdict: str, reason: str, related: list[Scored], pool: list[Scored]) -> tuple[str, list[Scored]]:
    """The reason and the evidence sentences to show for a contradicted claim: when the value quoted by
    ``reason`` is of another predicate (应诉7件 for 败诉2件), the sentence about the claim's own predicate
    comes first and the reason quotes it."""
    if verdict != "contradicted":
        return reason, related
    pred = _predicate(claim)
    if pred and any(pred in s.sentence.text for s in related[:1]):
        return reason, related
    found = same_predicate_evidence(claim, pool)
    if found is None:
        return reason, related
    c, why = found
    return why, [c] + [s for s in related if s is not c]


def about_subject(query: Query, requirement: str, min_share: float) -> bool:
    """Whether a governing requirement is about the claim's subject: it holds enough of the weight of the
    claim's topic terms (names and figures aside)."""
    w = query.topic.weights
    total = sum(w.values())
    if not total:
        return False
    text = re.sub(r"\s+", "", requirement)
    return sum(v for k, v in w.items() if k in text) / total >= min_share
