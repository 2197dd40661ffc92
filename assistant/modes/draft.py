"""draft: a section of the user's own report, in the structure such sections are written in — a lead-in
sentence, then 一是/二是/三是 points, each one idea (an item of one or more agencies' reports, cited), and
for shortcomings the causes; for next year's plans the measures.

Agency self-references become the user's agency name (or 【单位名称】), the source's leadership
(市委、市政府 …) the leadership of the user's own level; figures and years the user did not supply become
【数字】/【年份】 placeholders; punctuation is full-width."""
from __future__ import annotations

import re

from vectorstore.query import Query
from vectorstore.retrieve import Filters, Hit
from vectorstore.text import nfkc_compact

from ..evidence import SourceBook
from ..records import Answer
from .base import Context, gate, passages_of, refusal, score_sentences
from .gather import gather
from .sections import (PLAN, PRACTICE, SHORTCOMING, Item, after_frame, causes_of, is_frame_sentence, items_of, off_section, section_items,
                       section_kind, similar, strip_marker)
from .wording import adapt, full_width, leadership, ordinal

LEAD_IN = {
    SHORTCOMING: "{agency}法治政府建设工作在{leaders}的领导下取得了一定成效，但对照法治政府建设的要求，"
                 "仍存在一些不足，主要表现在：",
    PLAN: "下一年度，{agency}将在{leaders}的领导下，围绕法治政府建设目标，重点做好以下工作：",
    PRACTICE: "在{topic}方面，{agency}主要开展了以下工作：",
}
CAUSE_LEAD = "产生上述问题的原因主要有："
NO_CAUSE = "【原因：所引报告未写明，请结合本单位实际分析】"
NOTE = "说明：以上内容改写自所引单位的报告原文，【】处请按本单位实际情况填写。"


def _trim(item: Item, book: SourceBook, skip: set[str], max_chars: int) -> tuple[str, int]:
    """The item's wording (its title and as many body sentences as fit, an enumeration in the body
    joined with ；) and the document offset where the used text ends."""
    title = strip_marker(item.title).rstrip("；;，,")
    text = title if title.endswith(("。", "：", ":")) else title + "。"
    used_end = item.start + len(item.title)
    doc = book.doc_text(item.doc_id)
    for s in item.body:
        at = doc.find(s, used_end - 1 if used_end else 0)
        if s in skip:
            continue
        in_list = bool(re.search(r"[：:]$", text)) or text.endswith(("；", ";"))
        if len(text) + len(s) > (3 * max_chars if in_list else max_chars) and len(text) > 20:
            break  # a list a lead-in announces is kept whole (up to three times the point's length)
        text += strip_marker(s)
        if at >= 0:
            used_end = at + len(s)
    text = re.sub(r"[。；;]\s*(?=[一二三四五六七八九十]+是)", "；", text)
    text = re.sub(r"(?<=[，,；;：:])\s*[一二三四五六七八九十]+是", "", text)  # an inner list stays, unnumbered
    return text, max(used_end, item.start + 1)


def _practice_items(query: Query, hits: list[Hit], ctx: Context, kind: str) -> dict[str, list[Item]]:
    """For a practice topic: per document, the items holding its best on-topic sentences (passages of
    shortcomings or plans sections are left out: they are not practice)."""
    out: dict[str, list[Item]] = {}
    floor = ctx.settings.draft_topic_min
    topic_key = nfkc_compact(query.text).strip("“”\"")
    for h in hits:
        if kind == PRACTICE and off_section(h.chunk.heading_path):
            continue
        # a passage under a heading that names the topic is on it whatever its sentences' words
        titled = bool(topic_key) and topic_key in nfkc_compact("".join(h.chunk.heading_path))
        scored = [s for s in score_sentences(query.topic, [h]) if titled or s.score >= floor]
        if not scored:
            continue
        units = items_of(h.chunk.text, h.chunk.start, h.chunk.doc_id,
                         lambda _o, h=h: Hit(chunk=h.chunk, doc=h.doc, rank=h.rank, score=h.score))
        mine = out.setdefault(h.chunk.doc_id, [])
        for sc in scored:  # the items holding the passage's on-topic sentences, best first
            best = sc.sentence
            if len(mine) >= ctx.settings.draft_items_per_agency:
                break
            if after_frame(h.chunk.text[: best.start - h.chunk.start]):
                continue
            item = next((u for u in units if u.start <= best.start < u.end), None)
            if item is None:
                item = Item(h.chunk.doc_id, best.start, best.end, best.text, [], h)
            if len(strip_marker(item.text)) < 15 or (item.title.rstrip().endswith(("：", ":")) and not item.body):
                continue  # a label or an addressee line, no practice
            if is_frame_sentence(item.title):
                continue  # the report's opening or its shortcomings' lead-in
            if not _on_topic(query, item, h, ctx.settings.draft_topic_share):
                continue
            if all(m.start != item.start for m in mine):
                mine.append(item)
    return out


def _on_topic(query: Query, item: Item, hit: Hit, min_share: float) -> bool:
    """An item is on the asked topic when its heading or title names one of the topic's two rarest terms,
    or its text holds ``min_share`` of the topic's term weight."""
    w = {t: v for t, v in query.topic.weights.items() if len(t) >= 2}
    if not w:
        return True
    top = sorted(w, key=lambda t: -w[t])[:2]
    if any(t in "".join(hit.chunk.heading_path) + item.title for t in top):
        return True
    text = item.text
    return sum(v for t, v in w.items() if t in text) / sum(w.values()) >= min_share


def _round_robin(per_doc: dict[str, list[Item]]) -> list[Item]:
    order, layer = [], 0
    while any(layer < len(v) for v in per_doc.values()):
        order.extend(v[layer] for v in per_doc.values() if layer < len(v))
        layer += 1
    return order


def _gist(text: str, limit: int = 60) -> str:
    """A point as the skeleton gives it to the model: its title sentence, cut (the passages carry the
    rest; a small context window must still hold the skeleton and the passages it cites)."""
    first = re.split(r"(?<=[。；])", text.strip(), maxsplit=1)[0].rstrip("；。")
    return first if len(first) <= limit else first[:limit] + "…"


def _fitting_skeleton(backend, question: str, lines: list[str], variables_base: dict, share: float = 0.5) -> str:
    """The skeleton as far as the model's window allows: whole, else its point titles only, else none
    (the prompt's fixed part may take at most ``share`` of the window left for the prompt)."""
    from ..budget import prompt_budget, prompt_tokens
    from ..generate import MODE_DEFAULTS, render_prompt

    avail = prompt_budget(backend.context_window(), backend.settings)
    titles = [re.split(r"(?<=[。])", x, maxsplit=1)[0][:24] + re.sub(r"^.*?((?:\[\d+\])*)$", r"\1", x) for x in lines]
    for skeleton in ("\n".join(lines), "\n".join(titles)):
        fixed = prompt_tokens(*render_prompt("draft", question, "", {**variables_base, "skeleton": skeleton}),
                              backend.settings)
        if fixed <= share * avail:
            return skeleton
    return MODE_DEFAULTS["draft"]["skeleton"]


def _with_llm(backend, query: Query, hits: list[Hit], ctx: Context, lead: str, points: list[dict],
              causes: list | None, agency: str, leaders: str, on_token) -> Answer:
    """The model writes the prose of the same skeleton: the passages it gets are first the chunks the
    points were cut from, numbered as the skeleton cites them; its reply goes through the same citation
    enforcement as every LLM answer, then to full-width punctuation."""
    from ..generate import llm_answer

    chunks: list[Hit] = []
    ids: dict[str, int] = {}

    def number(it: Item) -> int:
        cid = it.hit.chunk.id
        if cid not in ids:
            chunks.append(Hit(chunk=it.hit.chunk, doc=it.hit.doc, rank=len(chunks) + 1, score=it.hit.score))
            ids[cid] = len(chunks)
        return ids[cid]

    lines = [lead]
    for i, p in enumerate(points):
        marks = "".join(f"[{number(it)}]" for it in p["items"])
        lines.append(f"{ordinal(i)}{_gist(p['text'])}。{marks}")
    if causes is not None:
        lines.append(CAUSE_LEAD)
        lines += [f"{ordinal(i)}{strip_marker(s).rstrip('；。')}。[{number(it)}]" for i, (it, s) in enumerate(causes)] or [NO_CAUSE]
    pool = chunks or hits[:8]  # what the skeleton cites: a small window must not lose it to an extra passage
    variables = {"topic": query.text, "agency": agency, "leaders": leaders,
                 "skeleton": _fitting_skeleton(backend, query.request, lines, variables_base={
                     "topic": query.text, "agency": agency, "leaders": leaders})}
    ans = llm_answer(backend, "draft", query.request, pool, ctx.store, on_token=on_token, variables=variables)
    if not ans.refused:
        ans.text = full_width(ans.text)
    return ans


def draft(query: Query, ctx: Context, filters: Filters | None = None, agency: str | None = None,
          backend=None, on_token=None) -> Answer:
    """``query``: analysed for mode ``draft`` (its text is the quoted topic when the request quotes one)."""
    request, topic = query.request, query.text
    hits = gather(ctx.retriever, "draft", query, filters, k=12)
    refused, _ = gate(query, "draft", ctx, hits)
    if refused:
        return refused
    st = ctx.settings
    book = SourceBook(ctx.store)
    kind = section_kind(topic)
    by_doc: dict[str, list[Hit]] = {}
    for h in hits:
        by_doc.setdefault(h.chunk.doc_id, []).append(h)
    per_doc: dict[str, list[Item]] = {}
    if kind != PRACTICE:
        for doc_id, group in by_doc.items():
            found = section_items(kind, book.doc_text(doc_id), group, ctx.store.doc_chunks(doc_id))
            if found:
                per_doc[doc_id] = found[: st.draft_items_per_agency + 2]
    if not per_doc:  # no report has such a section: its topic's passages, as for practice
        per_doc = _practice_items(query, hits, ctx, kind)
    meta = {doc_id: group[0].doc for doc_id, group in by_doc.items()}
    name = agency or "【单位名称】"
    leaders = leadership(agency)
    causes = causes_of(_round_robin(per_doc)) if kind == SHORTCOMING else []
    cause_texts = {s for _it, s in causes}

    points: list[dict] = []
    for it in _round_robin(per_doc):
        text, end = _trim(it, book, cause_texts, st.draft_point_chars)
        n = book.cite(it.hit, it.start, end)
        src = meta.get(it.doc_id) or it.hit.doc
        same = next((p for p in points if similar(p["title"], it.title, st.draft_merge_min)), None)
        if same is not None:
            same["sources"].append(n)
            same["agencies"].append(src.get("issuer") or it.doc_id)
            same["items"].append(it)
            continue
        if len(points) >= st.draft_points:
            continue
        points.append({"title": it.title, "text": full_width(adapt(text, agency, src, leaders)), "sources": [n],
                       "agencies": [src.get("issuer") or it.doc_id], "items": [it]})
    if not points:
        return refusal(query, "draft", hits, [], "检索到的报告中没有关于该主题的具体做法，无法据此起草。")
    lead = LEAD_IN[kind].format(agency=name, leaders=leaders, topic=topic)
    if backend is not None:
        return _with_llm(backend, query, hits, ctx, lead, points, causes[: st.draft_causes] if kind == SHORTCOMING else None,
                         name, leaders, on_token)
    lines = [f"（{topic}）", lead]
    paragraphs = []
    for i, p in enumerate(points):
        body = ordinal(i) + p["text"].rstrip("；。") + "。"
        lines.append(body + "".join(f"[{n}]" for n in p["sources"]))
        paragraphs.append({"role": "point", "text": body, "sources": p["sources"],
                           "example_agency": p["agencies"][0], "agencies": p["agencies"]})
    if kind == SHORTCOMING:
        lines.append(CAUSE_LEAD)
        if not causes:
            lines.append(NO_CAUSE)
        for i, (it, s) in enumerate(causes[: st.draft_causes]):
            at = book.doc_text(it.doc_id).find(s, it.start)
            n = book.cite(it.hit, at, at + len(s)) if at >= 0 else book.cite(it.hit, it.start, it.end)
            src = meta.get(it.doc_id) or it.hit.doc
            body = ordinal(i) + full_width(adapt(strip_marker(s), agency, src, leaders)).rstrip("；。") + "。"
            lines.append(f"{body}[{n}]")
            paragraphs.append({"role": "cause", "text": body, "sources": [n],
                               "example_agency": src.get("issuer") or it.doc_id, "agencies": [src.get("issuer")]})
    lines.append(NOTE)
    return Answer(mode="draft", question=request, text="\n".join(lines), sources=book.sources,
                  draft=paragraphs, passages=passages_of(hits))
