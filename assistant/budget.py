"""Prompts cut to the model's context window, counted with tiktoken (``cl100k_base``, offline).

The window holds the prompt, the reply (``llm_max_tokens``) and a margin for the chat template
(``llm_prompt_margin``). tiktoken's count is scaled by ``llm_tokens_per_tiktoken`` for models whose own
tokenizer splits Chinese finer. Passages are dropped from the lowest-ranked one; when a single passage
is still too long its end is cut (its quote stays verbatim: the source's ``end`` moves with it). When the
rules and the question alone do not fit, no request is sent: an ``LLMError`` says so.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from ingest.chunking import count_tokens

from .llm_base import LLMError
from .records import Source
from .settings import Settings

Render = Callable[[list[Source]], tuple[str, str]]  # sources -> (system, user)


def prompt_tokens(system: str, user: str, settings: Settings) -> int:
    """The model tokens the two messages take (tiktoken count times the tokenizer ratio)."""
    return int((count_tokens(system) + count_tokens(user)) * settings.llm_tokens_per_tiktoken + 0.999)


def prompt_budget(context_tokens: int, settings: Settings) -> int:
    """Tokens left for the prompt in a window of ``context_tokens``."""
    return context_tokens - settings.llm_max_tokens - settings.llm_prompt_margin


def fit(sources: list[Source], render: Render, budget: int, settings: Settings) -> list[Source]:
    """The longest prefix of ``sources`` (the last one possibly shortened) whose prompt fits ``budget``."""
    kept = list(sources)

    def size(ss: list[Source]) -> int:
        return prompt_tokens(*render(ss), settings)

    if size(kept) <= budget:
        return kept
    lo, hi = 1, len(kept)  # the most whole passages that fit (at least one, cut if need be)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if size(kept[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    kept = kept[:lo]
    if size(kept) <= budget:
        return kept
    last = kept[-1]
    keep_chars, low = len(last.quote), 0  # the longest head of the last quote that fits
    while low < keep_chars:
        mid = (low + keep_chars + 1) // 2
        if size(kept[:-1] + [_shorten(last, mid)]) <= budget:
            low = mid
        else:
            keep_chars = mid - 1
    if low == 0 and len(kept) == 1:  # the instructions and the question alone fill the window
        need = size([_shorten(last, 0)])
        raise LLMError(f"提示词超出了大模型的上下文窗口：规则和问题本身已约需 {need} 个词元，可用的只有 {budget} 个"
                       f"（上下文窗口减去回答的 {settings.llm_max_tokens} 个），请调大 FAZHI_LLM_CONTEXT_TOKENS 或调小 "
                       "FAZHI_LLM_MAX_TOKENS",
                       f"the prompt exceeds the context window: the rules and the question alone take about {need} "
                       f"tokens of the {budget} left; raise FAZHI_LLM_CONTEXT_TOKENS or lower FAZHI_LLM_MAX_TOKENS")
    return kept[:-1] if low == 0 else kept[:-1] + [_shorten(last, low)]


def _shorten(source: Source, chars: int) -> Source:
    return replace(source, quote=source.quote[:chars], end=source.start + chars,
                   context_after=source.quote[chars:chars + 120])
