"""The one place for the text helpers retrieval and answering share: NFKC normalisation, sentence
splitting, list-item and lead-in detection, character bigrams."""
from __future__ import annotations

import functools
import re
import unicodedata

_SENT = re.compile(r"[^。！？!?；;\n]*[。！？!?；;]+[”’」』）)]*|[^。！？!?；;\n]+")
# an enumerated item: （一）… / 1. … / 一是…
LIST_ITEM = re.compile(r"^\s*(?:[(（][一二三四五六七八九十\d]+[)）]|\d{1,2}[.．、]|[一二三四五六七八九十]+是)")
# a sentence that announces what follows: …如下： / …包括： / …具体内容。 / …主要有以下几个方面
LEAD_IN = re.compile(r"(?:[：:]|如下|以下|具体内容|主要内容|包括|主要有|分别是|分别为|具体为|具体是)[。：:；;]?\s*$")


def nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s or "")


def nfkc_compact(s: str) -> str:
    """NFKC without any whitespace (names, 文号, matching)."""
    return re.sub(r"\s+", "", nfkc(s))


def bigrams(s: str) -> set[str]:
    s = re.sub(r"[\W_]+", "", nfkc(s))
    return {s[i: i + 2] for i in range(len(s) - 1)}


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or clause ending in 。！？；, at least four characters long."""
    out = []
    for m in _SENT.finditer(text):
        raw = m.group(0)
        lead = len(raw) - len(raw.lstrip())
        s = raw.strip()
        if len(s) >= 4:
            out.append((m.start() + lead, m.start() + lead + len(s)))
    return out


@functools.lru_cache(maxsize=1024)
def sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    return tuple(split_sentences(text))


def is_list_item(sentence: str) -> bool:
    return bool(LIST_ITEM.match(sentence))


def is_lead_in(sentence: str) -> bool:
    """Whether the sentence announces enumerated content that follows it."""
    return bool(LEAD_IN.search(sentence.rstrip()))


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
