"""The 知识库管理 page: upload, the document list, metadata editing, re-ingest, replace, delete — and the
way into a document's stored text and chunks (文档查看). Its layout is built inside the caller's ``gr.Tab``;
``kb_events`` wires it once the rest of the page exists (the header and the chat filters it refreshes)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from ingest.loaders import SUPPORTED_SUFFIXES

from .errors import ServiceError
from .web_render import DOC_HEADERS, KIND_CHOICES, LEVEL_CHOICES, STATUS_ZH, doc_rows, esc, message_html, \
    upload_results_html

# the list's columns: id, title, issuer, region, year, kind, chunks, date (the id is cut to one line with an
# ellipsis — the whole id shows in the edit form; year, kind, chunks, date never wrap: CSS)
DOC_COLUMN_WIDTHS = ["14%", "29%", "13%", "7%", "6%", "12%", "6%", "13%"]
DOC_BUTTONS = ("save", "reingest", "replace", "open_doc", "delete")  # active only once a document is chosen


def upload_files(service, files, title, issuer, region, year, kind, progress=None) -> str:
    files = [f for f in (files or []) if f]
    if not files:
        return message_html("请先选择要上传的文件（txt / md / pdf / docx / html）。", "bad")
    fields = {"title": title, "issuer": issuer, "region": region, "year": year, "kind": kind}
    results = []
    for i, f in enumerate(files):
        path = Path(getattr(f, "name", f))
        if progress is not None:
            progress((i, len(files)), desc=f"正在导入 {path.name}（{i + 1}/{len(files)}）：解析、分段、向量化…")
        try:
            data = path.read_bytes()
        except OSError as exc:
            results.append({"path": path.name, "doc_id": "", "status": "error", "chunks": 0, "embedded": 0,
                            "message": f"无法读取文件：{exc}"})
            continue
        if len(data) > service.kb.max_bytes:
            results.append({"path": path.name, "doc_id": "", "status": "error", "chunks": 0, "embedded": 0,
                            "message": f"文件过大：{len(data) / 2**20:.1f} MB，超过 {service.kb.max_bytes / 2**20:.0f} MB 的上限"})
            continue
        results.append(service.upload(path.name, data, fields))
    if progress is not None:
        progress((len(files), len(files)), desc="导入完成")
    return upload_results_html(results)


def kb_tab(service, private: bool) -> SimpleNamespace:
    """The page's components (inside an open ``gr.Tab``)."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            gr.HTML('<div class="fz-section-title">上传文件</div>', js_on_load=None)
            up_files = gr.File(file_count="multiple", file_types=list(SUPPORTED_SUFFIXES),
                               label="选择文件（txt / md / pdf / docx / html，可多选）", type="filepath",
                               elem_id="fz-upload-files")
            with gr.Accordion("为本次上传统一设置元数据（可选，留空则自动识别）", open=False):
                u_title = gr.Textbox(label="标题")
                u_issuer = gr.Textbox(label="发布单位")
                u_region = gr.Textbox(label="地区")
                with gr.Row():
                    u_year = gr.Textbox(label="年份", placeholder="如 2021")
                    u_kind = gr.Dropdown([("自动识别", "")] + KIND_CHOICES, value="", label="类型")
            up_btn = gr.Button("导入知识库", variant="primary", elem_id="fz-upload-btn")
            up_result = gr.HTML("", elem_id="fz-upload-result", js_on_load=None)
        with gr.Column(scale=5):
            with gr.Row(equal_height=False):
                doc_search = gr.Textbox(show_label=False, placeholder="搜索文档：标题、单位、地区、文号、编号…", scale=6,
                                        elem_id="fz-doc-search", container=False)
                refresh = gr.Button("刷新列表", size="sm", scale=1, min_width=80)
            docs_df = gr.Dataframe(doc_rows([] if private else service.documents()), headers=DOC_HEADERS,
                                   interactive=False, wrap=True, max_height=520, elem_id="fz-docs",
                                   column_widths=DOC_COLUMN_WIDTHS)
            gr.HTML('<div class="fz-section-title">编辑所选文档（在上表中点击一行）</div>', js_on_load=None)
            with gr.Group():
                with gr.Row():
                    e_id = gr.Textbox(label="文档编号", interactive=False, scale=2, elem_id="fz-e-id")
                    e_title = gr.Textbox(label="标题", scale=3, elem_id="fz-e-title")
                with gr.Row():
                    e_issuer = gr.Textbox(label="发布单位", elem_id="fz-e-issuer")
                    e_region = gr.Textbox(label="地区", elem_id="fz-e-region")
                    e_year = gr.Textbox(label="年份", elem_id="fz-e-year")
                with gr.Row():
                    e_kind = gr.Dropdown(KIND_CHOICES, value=None, label="类型", elem_id="fz-e-kind")
                    e_level = gr.Dropdown(LEVEL_CHOICES, value=None, label="层级", elem_id="fz-e-level")
                    e_number = gr.Textbox(label="文号", elem_id="fz-e-number")
            with gr.Row():
                save = gr.Button("保存元数据", variant="primary", interactive=False, elem_id="fz-save")
                reingest = gr.Button("重新导入", interactive=False, elem_id="fz-reingest")
                replace = gr.UploadButton("上传新版本替换", file_types=list(SUPPORTED_SUFFIXES), interactive=False,
                                          elem_id="fz-replace")
                open_doc = gr.Button("查看原文与段落", interactive=False, elem_id="fz-open-doc-kb")
                delete = gr.Button("删除文档", variant="stop", interactive=False, elem_id="fz-delete")
            with gr.Row(visible=False) as confirm_row:
                confirm_txt = gr.HTML("", js_on_load=None)
                confirm = gr.Button("确认删除", variant="stop", elem_id="fz-confirm-delete")
                cancel = gr.Button("取消", elem_id="fz-cancel-delete")
            kb_msg = gr.HTML("", elem_id="fz-kb-msg", js_on_load=None)
    return SimpleNamespace(**{k: v for k, v in locals().items() if k not in ("service", "private")})


def _buttons(active: bool) -> tuple:
    return tuple(gr.update(interactive=active) for _ in DOC_BUTTONS)


def kb_events(kb: SimpleNamespace, service, refreshed, refresh_outputs: list, open_document) -> None:
    """Wire the page. ``refreshed(query)`` gives the values of ``refresh_outputs`` (header, list, chat filters);
    ``open_document`` is ``(handler(doc_id) -> updates, outputs)`` of the 文档查看 page."""
    skip_refresh = tuple(gr.skip() for _ in refresh_outputs)
    buttons = [getattr(kb, b) for b in DOC_BUTTONS]

    def do_upload(files, title, issuer, region, year, kind, query, progress=gr.Progress()):
        return (upload_files(service, files, title, issuer, region, year, kind, progress), None) + refreshed(query)

    kb.up_btn.click(do_upload, [kb.up_files, kb.u_title, kb.u_issuer, kb.u_region, kb.u_year, kb.u_kind, kb.doc_search],
                    [kb.up_result, kb.up_files] + refresh_outputs, concurrency_limit=1)
    kb.doc_search.change(lambda q: doc_rows(service.documents(), q), kb.doc_search, kb.docs_df, queue=False)
    kb.refresh.click(refreshed, kb.doc_search, refresh_outputs)
    edit_fields = [kb.e_id, kb.e_title, kb.e_issuer, kb.e_region, kb.e_year, kb.e_kind, kb.e_level, kb.e_number]

    def on_select(evt: gr.SelectData):
        row = evt.row_value or []
        d = service.document(row[0]) if row else None
        if d is None:
            return [gr.skip()] * len(edit_fields) + [message_html("未找到该文档，请刷新列表。", "bad"),
                                                     gr.Row(visible=False)] + list(_buttons(False))
        return [d["id"], d.get("title") or "", d.get("issuer") or "", d.get("region") or "",
                str(d.get("year") or ""), d.get("kind") or None, d.get("level") or "", d.get("doc_number") or "",
                message_html(f"已选中：{d.get('title') or d['id']}（{d.get('chunks')} 个段落）", "info"),
                gr.Row(visible=False)] + list(_buttons(True))

    kb.docs_df.select(on_select, None, edit_fields + [kb.kb_msg, kb.confirm_row] + buttons, queue=False)

    def on_save(doc_id, title, issuer, region, year, kind, level, number, query):
        if not doc_id:
            return (message_html("请先在列表中选择一个文档。", "bad"),) + skip_refresh
        try:
            service.update(doc_id, {"title": title, "issuer": issuer, "region": region, "year": year,
                                    "kind": kind, "level": level, "doc_number": number})
        except ServiceError as exc:
            return (message_html(str(exc), "bad"),) + skip_refresh
        return (message_html(f"已保存 {doc_id} 的元数据。", "ok"),) + refreshed(query)

    kb.save.click(on_save, edit_fields + [kb.doc_search], [kb.kb_msg] + refresh_outputs)

    def on_reingest(doc_id, query, progress=gr.Progress()):
        if not doc_id:
            return (message_html("请先在列表中选择一个文档。", "bad"),) + skip_refresh
        progress(0.1, desc=f"正在重新导入 {doc_id}…")
        try:
            res = service.reingest(doc_id)
        except ServiceError as exc:
            return (message_html(str(exc), "bad"),) + skip_refresh
        if res["status"] == "error":
            return (message_html(f"重新导入失败：{res['message']}", "bad"),) + refreshed(query)
        return (message_html(f"已重新导入 {doc_id}：{res['chunks']} 个段落，新向量化 {res['embedded']} 个"
                             "（已保留对段落的人工修改）。", "ok"),) + refreshed(query)

    kb.reingest.click(on_reingest, [kb.e_id, kb.doc_search], [kb.kb_msg] + refresh_outputs, concurrency_limit=1)

    def on_replace(file, doc_id, query, progress=gr.Progress()):
        if not doc_id:
            return (message_html("请先在列表中选择要替换的文档。", "bad"),) + skip_refresh
        path = Path(getattr(file, "name", file))
        if path.suffix.lower() != Path(doc_id).suffix.lower():
            return (message_html(f"新版本应与原文件同为 {Path(doc_id).suffix} 格式。", "bad"),) + skip_refresh
        progress(0.1, desc=f"正在用 {path.name} 替换 {doc_id}…")
        current = service.document(doc_id) or {}
        fields = {k: current.get(k) for k in ("title", "issuer", "region", "year", "kind", "level", "doc_number")}
        res = service.upload(path.name, path.read_bytes(), fields, doc_id=doc_id)
        label, kind = STATUS_ZH.get(res["status"], (res["status"], "muted"))
        msg = f"{doc_id}：{label}" + (f"，{res['chunks']} 个段落" if res["status"] in ("added", "replaced") else "") + \
              (f"（{res['message']}）" if res.get("message") else "")
        return (message_html(msg, "bad" if res["status"] == "error" else "ok"),) + refreshed(query)

    kb.replace.upload(on_replace, [kb.replace, kb.e_id, kb.doc_search], [kb.kb_msg] + refresh_outputs,
                      concurrency_limit=1)

    def on_delete(doc_id):
        if not doc_id:
            return message_html("请先在列表中选择一个文档。", "bad"), gr.Row(visible=False), ""
        return "", gr.Row(visible=True), f'<div class="fz-msg fz-msg-bad">确定从知识库删除 {esc(doc_id)}？此操作不可撤销。</div>'

    kb.delete.click(on_delete, kb.e_id, [kb.kb_msg, kb.confirm_row, kb.confirm_txt], queue=False)
    kb.cancel.click(lambda: gr.Row(visible=False), None, kb.confirm_row, queue=False)

    def on_confirm(doc_id, query):
        try:
            n = service.delete(doc_id)
        except ServiceError as exc:
            return (message_html(str(exc), "bad"), gr.Row(visible=False)) + tuple([gr.skip()] * 8) + \
                tuple(gr.skip() for _ in buttons) + skip_refresh
        return (message_html(f"已删除 {doc_id}（{n} 个段落）。", "ok"), gr.Row(visible=False)) + \
            ("", "", "", "", "", None, "", "") + _buttons(False) + refreshed(query)

    kb.confirm.click(on_confirm, [kb.e_id, kb.doc_search], [kb.kb_msg, kb.confirm_row] + edit_fields + buttons
                     + refresh_outputs, concurrency_limit=1)
    handler, outputs = open_document
    kb.open_doc.click(handler, kb.e_id, outputs)
