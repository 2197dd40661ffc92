"""The modes, one registry and one signature: ``run(request, query, ctx) -> Answer``.

``request`` carries what the user gave (question, filters, options, the LLM backend); ``query`` is the
request's one analysis (``vectorstore.query.analyse``), made by the caller before any mode runs."""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Callable

from vectorstore.query import Query
from vectorstore.retrieve import Filters

from ..llm import LLMError
from ..records import Answer
from .base import Context


log = logging.getLogger(__name__)
FALLBACK_NOTICE = "（大模型未能作答：{reason}。以下是直接摘录知识库原文的回答，未经大模型生成。）"


@dataclass
class Request:
    mode: str
    question: str
    filters: Filters | None = None
    agency: str | None = None  # draft: the user's agency
    claim: str | None = None  # check: the claim, when given apart from the question
    n: int = 5  # quiz: number of items
    backend: object = None  # None: extractive; else an LLM backend (every mode with a prompt reaches it)
    on_token: Callable[[str], None] | None = None

    @property
    def analysed_text(self) -> str:
        """The text the mode's query is analysed from."""
        return (self.claim or self.question) if self.mode == "check" else self.question


def _ask(req: Request, query: Query, ctx: Context) -> Answer:
    from .ask import ask

    return ask(query, ctx, req.filters, req.backend, req.on_token)


def _compare(req: Request, query: Query, ctx: Context) -> Answer:
    from .compare import compare

    return compare(query, ctx, req.filters, req.backend, req.on_token)


def _draft(req: Request, query: Query, ctx: Context) -> Answer:
    from .draft import draft

    return draft(query, ctx, req.filters, agency=req.agency, backend=req.backend, on_token=req.on_token)


def _check(req: Request, query: Query, ctx: Context) -> Answer:
    from .check import check

    ans = check(query, ctx, req.filters)
    ans.question = req.question
    return ans


def _quiz(req: Request, query: Query, ctx: Context) -> Answer:
    from .quiz import quiz

    return quiz(query, ctx, req.filters, n=req.n, backend=req.backend, on_token=req.on_token)


REGISTRY: dict[str, Callable[[Request, Query, Context], Answer]] = {
    "ask": _ask, "compare": _compare, "draft": _draft, "check": _check, "quiz": _quiz}
MODES = tuple(REGISTRY)


def run(req: Request, query: Query, ctx: Context) -> Answer:
    """The mode's answer. When the LLM fails (server down, cut off mid-reply, prompt over its window, no
    first token in time) the extractive answer is given instead, saying why, never the error alone."""
    try:
        fn = REGISTRY[req.mode]
    except KeyError:
        raise ValueError(f"unknown mode {req.mode!r}; one of {', '.join(MODES)}") from None
    if req.backend is None:
        return fn(req, query, ctx)
    try:
        return fn(req, query, ctx)
    except LLMError as exc:
        log.warning("LLM failed, extractive answer instead: %s", exc.en)
        ans = fn(replace(req, backend=None, on_token=None), query, ctx)
        ans.notice = FALLBACK_NOTICE.format(reason=exc.zh.rstrip("。"))
        ans.text = f"{ans.notice}\n{ans.text}"
        return ans
