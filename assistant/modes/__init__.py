"""The modes, one registry and one signature: ``run(request, query, ctx) -> Answer``.

``request`` carries what the user gave (question, filters, options, the LLM backend); ``query`` is the
request's one analysis (``vectorstore.query.analyse``), made by the caller before any mode runs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from vectorstore.query import Query
from vectorstore.retrieve import Filters

from ..records import Answer
from .base import Context


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
    try:
        fn = REGISTRY[req.mode]
    except KeyError:
        raise ValueError(f"unknown mode {req.mode!r}; one of {', '.join(MODES)}") from None
    return fn(req, query, ctx)
