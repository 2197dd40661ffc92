"""Chinese tokenisation for BM25: jieba (search mode) with this field's terms kept whole."""
from __future__ import annotations

import functools
import logging
import re
import unicodedata
from pathlib import Path

TERMS_FILE = Path(__file__).with_name("data") / "terms.txt"

STOPWORDS = frozenset(
    "的 了 和 与 及 或 在 是 对 为 以 于 等 把 被 将 由 从 向 并 也 都 而 其 之 中 上 下 个 这 那 有 没有 要 "
    "吗 呢 吧 啊 哪些 什么 怎么 怎样 如何 多少 几 哪个 哪 谁 是否 请 一下 一个 我们 你 我 他 她 它 "
    "分别 具体 情况 进行 开展 按照 根据 关于 工作 多长 多长时间 长时间 多久 时候 什么时候 何时 哪年 "
    "能 能不能 可以吗 可不可以 应该 一般 要求 规定 怎么样 讲 讲解 一讲 说说 介绍".split()
)
_PUNCT = re.compile(r"^[\W_]+$", re.UNICODE)


@functools.lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    for line in TERMS_FILE.read_text(encoding="utf-8").splitlines():
        term = line.strip()
        if term and not term.startswith("#"):
            jieba.add_word(term, freq=200000)
    jieba.initialize()
    return jieba


def field_terms() -> list[str]:
    return [t.strip() for t in TERMS_FILE.read_text(encoding="utf-8").splitlines() if t.strip()]


SHORT = 256  # questions and their parts are tokenised several times per request: remember those


def tokenize(text: str, drop_stopwords: bool = True, search_mode: bool = True) -> list[str]:
    """NFKC-normalised, lower-cased jieba tokens without punctuation (search mode adds sub-words)."""
    if len(text) <= SHORT:
        return list(_tokenize_short(text, drop_stopwords, search_mode))
    return _tokenize(text, drop_stopwords, search_mode)


@functools.lru_cache(maxsize=1024)
def _tokenize_short(text: str, drop_stopwords: bool, search_mode: bool) -> tuple[str, ...]:
    return tuple(_tokenize(text, drop_stopwords, search_mode))


def clear_cache() -> None:
    _tokenize_short.cache_clear()


def _tokenize(text: str, drop_stopwords: bool, search_mode: bool) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower()
    out = []
    jb = _jieba()
    for tok in (jb.cut_for_search(text) if search_mode else jb.cut(text)):
        tok = tok.strip()
        if not tok or _PUNCT.match(tok):
            continue
        if drop_stopwords and tok in STOPWORDS:
            continue
        out.append(tok)
    return out
