"""The 文档查看 page: one document's stored (cleaned) text with its chunks marked — heading path, page, an
"已修改" badge on a corrected chunk — the quote of a source or a retrieval hit highlighted and scrolled into
view, and chunk editing (text and heading path, re-embedded at once, kept across re-ingest).

Opened from a source card of the chat (查看原文), a row of 检索测试 or the 知识库管理 list: ``opener`` gives the
handler and outputs those pages call with (doc_id, ordinal, quote start, quote end)."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from .errors import ServiceError
from .web_render import KIND_ZH, esc, message_html

DOC_TAB = "docs"
DOC_JS = """
function focusIt() {
  requestAnimationFrame(() => {
    const t = element.querySelector('#fz-quote') || element.querySelector('.fz-chunk-focus');
    if (t) t.scrollIntoView({block: 'center'});
  });
}
watch('value', focusIt);
focusIt();  // the page is mounted when first shown, already holding its value
element.addEventListener('click', (ev) => {
  const c = ev.target.closest('.fz-chunk');
  if (!c || String(window.getSelection() || '')) return;
  trigger('select_chunk', {ordinal: parseInt(c.dataset.ordinal, 10)});
});
"""


def doc_choices(service) -> list[tuple[str, str]]:
    out = []
    for d in service.documents():
        extra = "，".join(str(x) for x in (d.get("issuer"), f"{d['year']}年" if d.get("year") else "") if x)
        out.append((f"{d.get('title') or d['id']}" + (f"（{extra}）" if extra else ""), d["id"]))
    return out


def chunk_label(c: dict) -> str:
    path = " › ".join(c["heading_path"]) or "（无标题）"
    page = f" · 第{c['page']}页" if c.get("page") else ""
    return f"第{c['ordinal'] + 1}段 · {path[:40]}{page}" + (" · 已修改" if c["edited"] else "")


def meta_html(view: dict) -> str:
    d = view["document"]
    bits = [esc(d.get("issuer") or ""), f"{d['year']}年" if d.get("year") else "",
            esc(KIND_ZH.get(d.get("kind"), d.get("kind") or "")), esc(d.get("doc_number") or "")]
    edited = sum(1 for c in view["chunks"] if c["edited"])
    counts = f"{len(view['chunks'])} 个段落" + (f"，其中 {edited} 个经人工修改" if edited else "")
    return (f'<div class="fz-doc-meta"><div class="fz-doc-title">《{esc(d.get("title") or d["id"])}》</div>'
            f'<div class="fz-src-meta">{" · ".join(b for b in bits if b)} · {counts}'
            f'{" · PDF 共 " + str(len(view["pages"])) + " 页" if view.get("pages") else ""}</div>'
            f'<details class="fz-src-more"><summary>详情</summary>文件：{esc(d["id"])}</details></div>')


def document_html(view: dict, ordinal: int | None = None, quote: tuple[int, int] | None = None) -> str:
    """The stored text, chunk by chunk; ``ordinal`` is the chunk in focus, ``quote`` (start, end) the passage to
    highlight (document offsets)."""
    text = view["text"]
    out = ['<div class="fz-doc">']
    pos = 0
    for c in view["chunks"]:
        gap = text[pos: c["start"]]
        if gap.strip():
            out.append(f'<div class="fz-doc-gap">{esc(gap.strip())}</div>')
        pos = max(pos, c["end"])
        body = c["text"]
        if quote and c["start"] <= quote[0] < c["end"]:
            a, b = quote[0] - c["start"], min(quote[1], c["end"]) - c["start"]
            body_html = f'{esc(body[:a])}<mark class="fz-quote" id="fz-quote">{esc(body[a:b])}</mark>{esc(body[b:])}'
        else:
            body_html = esc(body)
        cls = "fz-chunk" + (" fz-chunk-edited" if c["edited"] else "") + (" fz-chunk-focus" if c["ordinal"] == ordinal else "")
        path = " › ".join(esc(h) for h in c["heading_path"])
        out.append(
            f'<div class="{cls}" data-ordinal="{c["ordinal"]}" id="fz-chunk-{c["ordinal"]}">'
            f'<div class="fz-chunk-head"><span class="fz-chunk-n">第{c["ordinal"] + 1}段</span>'
            + (f'<span class="fz-chunk-path">{path}</span>' if path else "")
            + (f'<span class="fz-chunk-page">第{c["page"]}页</span>' if c.get("page") else "")
            + ('<span class="fz-edited">已修改</span>' if c["edited"] else "")
            + f'</div><div class="fz-chunk-text">{body_html}</div></div>')
    rest = text[pos:]
    if rest.strip():
        out.append(f'<div class="fz-doc-gap">{esc(rest.strip())}</div>')
    out.append("</div>")
    return "".join(out)


def documents_tab(service, private: bool) -> SimpleNamespace:
    """The page's components (inside an open ``gr.Tab``)."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            doc = gr.Dropdown([] if private else doc_choices(service), value=None, label="选择文档",
                              elem_id="fz-d-doc", filterable=True)
            meta = gr.HTML('<div class="fz-hint">在上方选择文档，或在问答的来源卡片、检索测试结果中点击“查看原文”。</div>',
                           elem_id="fz-d-meta", js_on_load=None)
            view = gr.HTML("", elem_id="fz-d-view", js_on_load=DOC_JS, max_height=680, autoscroll=False)
        with gr.Column(scale=2, min_width=320, elem_id="fz-d-editor"):
            gr.HTML('<div class="fz-section-title">修改段落（如更正 OCR 识别错误）</div>', js_on_load=None)
            chunk = gr.Dropdown([], value=None, label="段落（也可在左侧原文中点击）", elem_id="fz-d-chunk")
            heading = gr.Textbox(label="标题层级（用 > 分隔）", elem_id="fz-d-heading", interactive=True)
            text = gr.Textbox(label="段落文字", lines=12, max_lines=24, elem_id="fz-d-text", interactive=True)
            with gr.Row():
                save = gr.Button("保存修改并重新向量化", variant="primary", interactive=False, elem_id="fz-d-save")
                revert = gr.Button("恢复原文", interactive=False, elem_id="fz-d-revert")
            msg = gr.HTML("", elem_id="fz-d-msg", js_on_load=None)
            gr.Markdown("修改保存后立即生效：该段重新向量化，问答引用的原文随之更新；修改记录保存在知识库中，"
                        "重新导入同一文件后仍然保留，并在原文中标为“已修改”。", elem_classes=["fz-hint"])
    state = gr.State({})  # {"doc": id, "ordinal": n, "quote": [start, end]}
    return SimpleNamespace(doc=doc, meta=meta, view=view, chunk=chunk, heading=heading, text=text, save=save,
                           revert=revert, msg=msg, state=state)


def _editor(view: dict, ordinal: int | None) -> tuple:
    c = next((c for c in view["chunks"] if c["ordinal"] == ordinal), None)
    choices = [(chunk_label(x), x["ordinal"]) for x in view["chunks"]]
    if c is None:
        return (gr.Dropdown(choices=choices, value=None), "", "", gr.update(interactive=False),
                gr.update(interactive=False))
    return (gr.Dropdown(choices=choices, value=c["ordinal"]), " > ".join(c["heading_path"]), c["text"],
            gr.update(interactive=True), gr.update(interactive=c["edited"]))


def opener(d: SimpleNamespace, service, tabs):
    """(handler, outputs): open ``doc_id`` on this page, the chunk ``ordinal`` in focus and ``start..end``
    highlighted; the tab switches to it."""
    outputs = [tabs, d.doc, d.meta, d.view, d.chunk, d.heading, d.text, d.save, d.revert, d.msg, d.state]

    def handler(doc_id, ordinal=None, start=None, end=None, message=""):
        if not doc_id:
            return [gr.skip()] * (len(outputs) - 2) + [message_html("请先选择一个文档。", "bad"), gr.skip()]
        try:
            view = service.document_view(doc_id)
        except ServiceError as exc:
            return [gr.Tabs(selected=DOC_TAB)] + [gr.skip()] * (len(outputs) - 3) + [message_html(str(exc), "bad"),
                                                                                   gr.skip()]
        quote = (int(start), int(end)) if start is not None and end is not None else None
        if ordinal is None and quote:
            ordinal = next((c["ordinal"] for c in view["chunks"] if c["start"] <= quote[0] < c["end"]), None)
        state = {"doc": doc_id, "ordinal": ordinal, "quote": list(quote) if quote else None}
        return [gr.Tabs(selected=DOC_TAB), gr.Dropdown(choices=doc_choices(service), value=doc_id), meta_html(view),
                document_html(view, ordinal, quote), *_editor(view, ordinal), message, state]

    return handler, outputs


def documents_events(d: SimpleNamespace, service, handler, outputs) -> None:
    def on_doc(doc_id):
        return handler(doc_id)

    d.doc.input(on_doc, d.doc, outputs)

    def on_chunk(ordinal, state):
        st = state or {}
        if ordinal is None or not st.get("doc"):
            return [gr.skip()] * len(outputs)
        quote = st.get("quote")
        return handler(st["doc"], ordinal, *(quote or (None, None)))

    d.chunk.input(on_chunk, [d.chunk, d.state], outputs)

    def on_click(state, evt: gr.EventData):
        return on_chunk(getattr(evt, "ordinal", None), state)

    d.view.select_chunk(on_click, d.state, outputs)

    def save(ordinal, heading, text, state, restore=False):
        st = state or {}
        if not st.get("doc") or ordinal is None:
            return [gr.skip()] * (len(outputs) - 2) + [message_html("请先选择一个段落。", "bad"), gr.skip()]
        doc_id = st["doc"]
        try:
            if restore:
                c = next(c for c in service.document_view(doc_id)["chunks"] if c["ordinal"] == ordinal)
                if not c["edited"]:
                    return [gr.skip()] * (len(outputs) - 2) + [message_html("该段落没有修改过。", "info"), gr.skip()]
                res = service.edit_chunk(doc_id, ordinal, c["original_text"], c["original_heading"])
            else:
                path = [h.strip() for h in (heading or "").replace("›", ">").split(">") if h.strip()]
                res = service.edit_chunk(doc_id, ordinal, text, path)
        except ServiceError as exc:
            return [gr.skip()] * (len(outputs) - 2) + [message_html(str(exc), "bad"), gr.skip()]
        note = (f"已恢复第{ordinal + 1}段的原文。" if restore else
                f"已保存第{ordinal + 1}段的修改并重新向量化（新向量 {res['embedded']} 个）；重新导入同一文件后仍会保留。")
        quote = st.get("quote")
        return handler(doc_id, ordinal, *(quote or (None, None)), message=message_html(note, "ok"))

    d.save.click(save, [d.chunk, d.heading, d.text, d.state], outputs, concurrency_limit=1)
    d.revert.click(lambda o, st: save(o, None, None, st, restore=True), [d.chunk, d.state], outputs,
                   concurrency_limit=1)
