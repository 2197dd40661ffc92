"""The 报告审阅 page: upload or paste a whole draft report and get the review sheet."""
from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr

from .serving import Service, ServiceError
from .web_render import esc, message_html

REVIEW_FILE_TYPES = [".txt", ".md", ".pdf", ".docx", ".html", ".htm"]
STATUS_CLASS = {"present": "ok", "thin": "warn", "missing": "bad"}
OPTIONAL_MISSING = "未写（非必需）"
VERDICT_CLASS = {"supported": "ok", "contradicted": "bad", "not_found": "muted", "needs_agency_records": "info"}


def governing_choices(service: Service) -> list[tuple[str, str]]:
    out = []
    for d in service.documents():
        if d.get("kind") not in ("outline", "law"):
            continue
        title = d.get("title") or d["id"]
        # the 文号 (or the issuer) only when the title does not already carry it
        extra = next((x for x in (d.get("doc_number"), d.get("issuer"), str(d.get("year") or ""))
                      if x and x not in title), "")
        out.append((f"{title}（{extra}）" if extra else title, d["id"]))
    return out


def review_html(r) -> str:
    from .review_export import HOW_ZH, STATUS_ZH, VERDICT_ZH, _summary_rows

    by_number = {s.number: s for s in r.sources}

    def cite(n: int) -> str:
        s = by_number.get(n)
        tip = esc(f"《{s.title}》{s.issuer}：{s.quote}") if s else ""
        return f'<sup class="fz-ref" title="{tip}">[{n}]</sup>'

    out = ['<div class="fz-review"><table class="fz-table">']
    out += [f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _summary_rows(r)]
    out.append(f'</table><h3>一、结构完整性</h3><p class="fz-muted">依据：{esc(r.template_source)}</p><ul>')
    for p in r.parts:
        cls = STATUS_CLASS[p.status] if p.required else "muted"
        status = STATUS_ZH[p.status] if p.required or p.status != "missing" else OPTIONAL_MISSING
        heads = f"（标题：{esc('；'.join(p.headings))}）" if p.headings else ""
        out.append(f'<li><span class="fz-badge fz-{cls}">{status}</span> <b>{esc(p.name)}</b> '
                   f'{HOW_ZH[p.how]}{heads}')
        if p.examples:
            out.append("<ul>" + "".join(f"<li>可参考 {esc(e['agency'])}：{esc(e['text'])}{cite(e['source'])}</li>"
                                        for e in p.examples) + "</ul>")
        out.append("</li>")
    out.append("</ul><h3>二、事实性表述核对</h3><ul>")
    for c in r.claims:
        cls = VERDICT_CLASS[c.verdict]
        reason = f'<span class="fz-muted">（{esc(c.reason)}）</span>' if c.reason else ""
        ev = "".join(f"<li>依据：{esc(e['text'])}{cite(e['source'])}</li>" for e in c.evidence)
        out.append(f'<li><span class="fz-badge fz-{cls}">{VERDICT_ZH[c.verdict]}</span> {esc(c.sentence)}{reason}'
                   + (f"<ul>{ev}</ul>" if ev else "") + "</li>")
    out.append("</ul><h3>三、上级要求覆盖情况</h3><ul>")
    if not r.requirements:
        out.append("<li>未选择上级文件。</li>")
    heading, title = None, None
    for q in r.requirements:
        if q.title != title:
            out.append(f'<li class="fz-req-doc"><b>《{esc(q.title)}》</b></li>')
            title, heading = q.title, None
        if q.heading != heading and q.heading:
            out.append(f'<li class="fz-req-head"><b>{esc(q.heading)}</b></li>')
        heading = q.heading
        cls, label = ("ok", "已覆盖") if q.addressed_by else ("warn", "未见对应表述")
        addressed = "".join(f"<li>报告表述：{esc(s)}</li>" for s in q.addressed_by)
        out.append(f'<li><span class="fz-badge fz-{cls}">{label}</span> {esc(q.requirement)}{cite(q.source)}'
                   + (f"<ul>{addressed}</ul>" if addressed else "") + "</li>")
    out.append("</ul>")
    out.append(sources_html(r.sources))
    out.append("</div>")
    return "".join(out)


def sources_html(sources) -> str:
    """The numbered sources the sheet cites, as the chat page shows them: title, issuer, heading path
    and the quote (verbatim) with its context."""
    if not sources:
        return ""
    out = ['<h3>来源</h3><ol class="fz-review-sources">']
    for s in sources:
        loc = " > ".join(s.heading_path)
        meta = " · ".join(x for x in (s.issuer, str(s.year or ""), s.doc_number, loc) if x)
        out.append(f'<li class="fz-src" data-n="{s.number}" value="{s.number}"><div class="fz-src-title">《{esc(s.title)}》</div>'
                   f'<div class="fz-src-meta">{esc(meta)}</div><div class="fz-src-quote">{esc(s.context_before[-40:])}'
                   f'<mark>{esc(s.quote)}</mark>{esc(s.context_after[:40])}</div></li>')
    out.append("</ol>")
    return "".join(out)


def review_tab(service: Service, private: bool = False):
    """Build the tab inside the current gr.Blocks; returns the governing-documents dropdown (``private``: built
    empty, the page's load event after login fills it — see ``web.build_blocks``)."""
    with gr.Tab("报告审阅", id="review", elem_id="fz-tab-review"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                gr.Markdown("上传整篇年度报告草稿，检查**结构是否完整**、**数字和事实是否与来源一致**、"
                            "**是否回应了上级文件的要求**，并生成审阅意见（Word / Markdown）。")
                file = gr.File(label="报告草稿（docx / txt / pdf / md / html）", file_types=REVIEW_FILE_TYPES,
                               elem_id="fz-review-file")
                text = gr.Textbox(label="或粘贴报告全文", lines=6, elem_id="fz-review-text")
                agency = gr.Textbox(label="报告单位（可选，默认从标题识别）", elem_id="fz-review-agency")
                governing = gr.Dropdown(choices=[] if private else governing_choices(service), multiselect=True,
                                        label="对照的上级文件（可选）", elem_id="fz-review-governing")
                run = gr.Button("开始审阅", variant="primary", elem_id="fz-review-run")
                with gr.Row():
                    docx_btn = gr.DownloadButton("下载审阅意见（Word）", interactive=False, elem_id="fz-review-docx")
                    md_btn = gr.DownloadButton("下载 Markdown", interactive=False, elem_id="fz-review-md")
            with gr.Column(scale=5):
                result = gr.HTML(elem_id="fz-review-result")

        def on_run(f, pasted, who, docs, progress=gr.Progress()):
            from .review_export import to_docx, to_markdown

            progress(0.1, desc="正在审阅：识别结构、核对数字和事实、比对上级要求…")
            try:
                data = Path(getattr(f, "name", f)).read_bytes() if f else None
                review = service.review(Path(getattr(f, "name", f)).name if f else None, data, pasted, who, docs)
            except ServiceError as exc:
                return message_html(str(exc), "bad"), gr.skip(), gr.skip()
            folder = Path(tempfile.mkdtemp(prefix="fazhi-review-"))
            docx_path = to_docx(review, folder / "审阅意见.docx")
            md_path = folder / "审阅意见.md"
            md_path.write_text(to_markdown(review), encoding="utf-8")
            return (review_html(review), gr.DownloadButton(value=str(docx_path), interactive=True),
                    gr.DownloadButton(value=str(md_path), interactive=True))

        run.click(on_run, [file, text, agency, governing], [result, docx_btn, md_btn], concurrency_limit=1)
    return governing
