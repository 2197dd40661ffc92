"""What each mode retrieves: the passages it presents or uses, in order."""
from __future__ import annotations

from vectorstore.query import Query
from vectorstore.retrieve import Filters, Hit, Retriever

AGENCY_MODES = ("compare", "draft")


def default_filters(mode: str, filters: Filters | None, retriever: Retriever) -> Filters | None:
    """Compare and draft look at agencies' own reports unless the user filtered otherwise."""
    if mode in AGENCY_MODES and (filters is None or filters.is_empty()):
        if retriever.catalog.has_kind("report"):
            return Filters(kind=["report"])
    return filters


def gather(retriever: Retriever, mode: str, query: Query | str, filters: Filters | None = None,
           k: int = 10) -> list[Hit]:
    """``query``: the request's ``Query`` (a bare string is analysed once, for ``mode``)."""
    if isinstance(query, str):
        query = retriever.analyse(query, mode)
    filters = default_filters(mode, filters, retriever)
    if mode in AGENCY_MODES:
        return retriever.search_by_agency(query, filters, per_agency=3)[: max(k, 12)]
    return retriever.search(query, filters, k=k)
