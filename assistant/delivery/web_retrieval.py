"""The 检索测试 page: a query with filters, and the ranked passages as the retriever found them — each one's
rank and score in the BM25 list, the dense list and after fusion (and the reranker's score), its heading path
and document. Clicking a passage opens it in its document (文档查看)."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from .errors import ServiceError
from .web_render import ANY_YEAR, KIND_CHOICES, KIND_ZH, esc, filters_from_fields, message_html

RETRIEVAL_JS = """
element.addEventListener('click', (ev) => {
  const row = ev.target.closest('.fz-hit');
  if (!row || String(window.getSelection() || '')) return;
  ev.preventDefault();
  trigger('open_hit', {doc: row.dataset.doc, ordinal: parseInt(row.dataset.ordinal, 10),
                       start: parseInt(row.dataset.start, 10), end: parseInt(row.dataset.end, 10)});
});
"""


def _rank(rank, score, digits: int = 3) -> str:
    if rank is None:
        return '<span class="fz-miss">未命中</span>'
    return f'<b>{rank}</b><span class="fz-score">{score:.{digits}f}</span>' if score is not None else f"<b>{rank}</b>"


def results_html(query: str, hits: list[dict]) -> str:
    if not hits:
        return '<div class="fz-msg fz-msg-info">没有检索到段落（请放宽筛选条件或换个说法）。</div>'
    both = sum(1 for h in hits if h["trace"]["bm25_rank"] and h["trace"]["dense_rank"])
    rows = []
    for h in hits:
        t = h["trace"]
        meta = " · ".join(x for x in (esc(h.get("issuer") or ""), f"{h['year']}年" if h.get("year") else "",
                                      esc(KIND_ZH.get(h.get("kind"), h.get("kind") or "")),
                                      f"第{h['page']}页" if h.get("page") else "") if x)
        path = " › ".join(esc(p) for p in h.get("heading_path") or [])
        text = h["text"].replace("\n", " ")
        rows.append(
            f'<tr class="fz-hit" data-doc="{esc(h["doc_id"])}" data-ordinal="{h["ordinal"]}" '
            f'data-start="{h["start"]}" data-end="{h["end"]}" title="点击在文档中查看">'
            f'<td class="fz-hit-rank">{h["rank"]}</td>'
            f'<td><div class="fz-hit-title">《{esc(h.get("title") or h["doc_id"])}》</div>'
            f'<div class="fz-src-meta">{meta}</div>'
            + (f'<div class="fz-src-path">{path}</div>' if path else "")
            + f'<div class="fz-hit-text">{esc(text[:160])}{"…" if len(text) > 160 else ""}</div>'
              f'<a class="fz-open-doc" href="#">在文档中查看 ›</a></td>'
              f'<td class="fz-num">{_rank(t["bm25_rank"], t["bm25_score"], 2)}</td>'
              f'<td class="fz-num">{_rank(t["dense_rank"], t["dense_score"])}</td>'
              f'<td class="fz-num">{_rank(t["fused_rank"], t["fused_score"], 4)}</td>'
              f'<td class="fz-num">{"–" if t["rerank_score"] is None else format(t["rerank_score"], ".3f")}</td>'
              f'<td class="fz-num"><b>{t["final_score"]:.3f}</b></td></tr>')
    return (f'<div class="fz-hits-summary">“{esc(query)}”：共 {len(hits)} 个段落，其中 {both} 个 BM25 与向量检索都命中。'
            '名次越小越靠前；“融合”为倒数排名融合（RRF），“最终”为融合分与重排分、向量相似度的加权。</div>'
            '<table class="fz-table fz-hits"><thead><tr><th>名次</th><th>段落</th><th>BM25 名次/分</th>'
            '<th>向量 名次/相似度</th><th>融合 名次/分</th><th>重排分</th><th>最终分</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def retrieval_tab(service, facets: dict, years: list[str]) -> SimpleNamespace:
    """The page's components (inside an open ``gr.Tab``)."""
    top = service.assistant.settings.retrieval_test_k
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=260, elem_id="fz-r-sidebar"):
            k = gr.Slider(1, top, value=min(10, top), step=1, label="返回段落数", elem_id="fz-r-k")
            issuer = gr.Dropdown(facets["issuers"], multiselect=True, allow_custom_value=True,
                                 label="发布单位（可输入关键词）", elem_id="fz-r-issuer")
            region = gr.Dropdown(facets["regions"], multiselect=True, allow_custom_value=True,
                                 label="地区（可输入关键词）", elem_id="fz-r-region")
            with gr.Row():
                y_from = gr.Dropdown(years, value=ANY_YEAR, label="起始年份", min_width=100, elem_id="fz-r-from")
                y_to = gr.Dropdown(years, value=ANY_YEAR, label="截止年份", min_width=100, elem_id="fz-r-to")
            kinds = gr.CheckboxGroup(KIND_CHOICES, label="文档类型", elem_id="fz-r-kind")
        with gr.Column(scale=4):
            with gr.Row(equal_height=True):
                query = gr.Textbox(show_label=False, placeholder="输入检索内容，例如：行政执法公示制度", scale=8,
                                   elem_id="fz-r-query")
                go = gr.Button("检索", variant="primary", scale=1, min_width=90, elem_id="fz-r-go")
            results = gr.HTML('<div class="fz-hint">输入检索内容后，这里列出排序后的段落及其 BM25、向量、融合名次和分数；'
                              '点击一行即可在原文中查看。</div>', elem_id="fz-r-results", js_on_load=RETRIEVAL_JS)
    return SimpleNamespace(k=k, issuer=issuer, region=region, y_from=y_from, y_to=y_to, kinds=kinds, query=query,
                           go=go, results=results)


def retrieval_events(r: SimpleNamespace, service, open_handler, open_outputs) -> None:
    def run(query, k, issuer, region, y_from, y_to, kinds):
        query = (query or "").strip()
        if not query:
            return message_html("请输入检索内容。", "bad")
        try:
            hits = service.retrieval_trace(query, filters_from_fields(issuer, region, y_from, y_to, kinds), int(k))
        except ServiceError as exc:
            return message_html(str(exc), "bad")
        return results_html(query, hits)

    inputs = [r.query, r.k, r.issuer, r.region, r.y_from, r.y_to, r.kinds]
    r.go.click(run, inputs, r.results, concurrency_limit=2)
    r.query.submit(run, inputs, r.results, concurrency_limit=2)

    def on_open(evt: gr.EventData):
        return open_handler(getattr(evt, "doc", None), getattr(evt, "ordinal", None), getattr(evt, "start", None),
                            getattr(evt, "end", None))

    r.results.open_hit(on_open, None, open_outputs)
