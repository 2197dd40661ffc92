"""draft: a section of the user's own report built from several agencies' real wording.

Agency self-references become the user's agency name (or 【单位名称】); figures and years the
user did not supply become 【数字】/【年份】 placeholders. Every paragraph cites its example."""
from __future__ import annotations

import re

from vectorstore.query import Query
from vectorstore.retrieve import Filters

from ..evidence import SourceBook
from ..records import Answer
from .base import Context, gate, passages_of
from .compare import agency_rows
from .gather import gather

SELF_REF = re.compile(r"(?:我|本)(?:办|局|委|县|区|市|镇|乡|厅|部|中心|院|单位|部门|省)(?![\u4e00-\u9fa5]{0,0}[长])")
YEAR = re.compile(r"(?:19|20)\d{2}(?=\s*年)")
FIGURE = re.compile(r"\d+(?:\.\d+)?\s*(?:万|亿)?\s*(?=%|个|件|项|名|人|日|天|月|宗|份|次|条|家|起|卷|元|倍|余)"
                    r"|(?<=[共达约计])[一二三四五六七八九十百千两]+(?=[个件项名人宗份次条家起])")


def adapt(text: str, agency: str | None, keep_figures: bool = False) -> str:
    out = SELF_REF.sub(agency or "【单位名称】", text)
    if not keep_figures:
        out = YEAR.sub("【年份】", out)
        out = FIGURE.sub("【数字】", out)
    return re.sub(r"^\s*(?:[一二三四五六七八九十]+是|\d+[.．、]|[(（][一二三四五六七八九十\d]+[)）])", "", out).strip()


def draft(query: Query, ctx: Context, filters: Filters | None = None, agency: str | None = None,
          backend=None, on_token=None) -> Answer:
    """``query``: analysed for mode ``draft`` (its text is the quoted topic when the request quotes one)."""
    request, topic = query.request, query.text
    hits = gather(ctx.retriever, "draft", query, filters, k=12)
    refused, _ = gate(query, "draft", ctx, hits)
    if refused:
        return refused
    if backend is not None:
        from ..generate import llm_answer

        return llm_answer(backend, "draft", request, hits, ctx.store, variables={"topic": topic, "agency": agency or "【单位名称】"},
                          on_token=on_token)
    book = SourceBook(ctx.store)
    rows = agency_rows(query.terms, hits, book, per_row=2)
    lines = [f"（{topic}）"]
    paragraphs = []
    for r in rows[:4]:
        body = "".join(adapt(t, agency) for t in r["practice"])
        cites = "".join(f"[{n}]" for n in r["sources"])
        paragraphs.append({"text": body, "sources": r["sources"], "example_agency": r["agency"]})
        lines.append(f"{body}{cites}")
    note = "说明：以上段落改写自所引单位的报告原文，【】处请按本单位实际情况填写。"
    lines.append(note)
    return Answer(mode="draft", question=request, text="\n".join(lines), sources=book.sources,
                  draft=paragraphs, passages=passages_of(hits))
