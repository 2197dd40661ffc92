"""The web app: a Gradio UI (chat page + knowledge-base page) with the JSON HTTP API mounted beside it.

``launch(assistant)`` is what ``fazhi serve`` calls. Nothing is fetched from the internet: Gradio's
analytics are off, the theme uses the system's CJK fonts, and no CDN is referenced.
"""
from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_SSR_MODE", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import gradio as gr  # noqa: E402

from .api import Service, create_api, parse_auth  # noqa: E402
from .bind import resolve_bind  # noqa: E402
from .web_assets import CONV_JS, CSS  # noqa: E402
from .web_workspace import FEEDBACK_JS, WORKSPACE_CSS, WebWorkspace, conversation_html  # noqa: E402
from .cleanup import export_folder, sweep  # noqa: E402
from .web_review import governing_choices, review_tab  # noqa: E402
from .web_documents import DOC_TAB, doc_choices, documents_events, documents_tab, opener  # noqa: E402
from .web_kb import kb_events, kb_tab  # noqa: E402
from .examples import GENERIC_PLACEHOLDER, kb_examples  # noqa: E402
from .web_render import (  # noqa: E402
    ANY_YEAR, CJK_FONTS, KIND_CHOICES, MODES, MODE_HELP, MONO_FONTS,
    doc_rows, filters_from_fields, stats_html,
)
from .web_retrieval import retrieval_events, retrieval_tab  # noqa: E402

log = logging.getLogger("fazhi.web")


# ---- the Gradio app -------------------------------------------------------------------------------

def _theme():
    return gr.themes.Soft(primary_hue="red", secondary_hue="blue", neutral_hue="slate",
                          font=CJK_FONTS, font_mono=MONO_FONTS).set(
        block_label_background_fill="*neutral_100", block_label_text_color="*neutral_700",
        block_title_background_fill="transparent", block_title_text_color="*neutral_700",
        block_title_text_weight="600", checkbox_label_background_fill_selected="*primary_50",
        checkbox_label_text_color_selected="*primary_700")


class WebApp:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.export_dir = Path(service.kb.store.folder) / "web-uploads" / "exports"  # swept (cleanup.py)

    # ---- chat ----
    def submit(self, question, mode, issuer, region, year_from, year_to, kinds, agency, n, turns):
        question = (question or "").strip()
        turns = list(turns or [])
        if not question:
            yield gr.skip(), turns, gr.skip(), gr.skip(), gr.skip()
            return
        done = [t for t in turns if t.get("status") == "done"]
        # a follow-up continues the conversation in the same mode; switching mode starts afresh
        history = [t.get("standalone") or t.get("question") for t in done] if done and done[-1].get("mode") == mode else []
        turn = {"id": len(turns) + 1, "mode": mode, "question": question, "standalone": question, "status": "pending"}
        turns.append(turn)
        yield conversation_html(turns), turns, "", gr.skip(), gr.skip()
        try:
            turn["standalone"] = self.service.rewrite(question, history, mode)
        except Exception as exc:  # a failed rewrite must not lose the question
            log.warning("follow-up rewrite failed: %s", exc)
        filters = filters_from_fields(issuer, region, year_from, year_to, kinds)
        tokens: queue.Queue = queue.Queue()
        result: dict = {}

        def work():
            try:
                result["answer"] = self.service.ask(mode, turn["standalone"], filters, on_token=tokens.put,
                                                    agency=agency, claim=turn["standalone"] if mode == "check" else None,
                                                    n=int(n or 5))
            except Exception as exc:  # shown in the chat, logged in full
                log.exception("answer failed")
                result["error"] = getattr(exc, "zh", None) or str(exc) or type(exc).__name__
            finally:
                tokens.put(None)

        threading.Thread(target=work, daemon=True).start()
        partial, last = "", 0.0
        while True:
            tok = tokens.get()
            if tok is None:
                break
            partial += tok
            if time.monotonic() - last > 0.08:
                turn.update(status="streaming", partial=partial)
                last = time.monotonic()
                yield conversation_html(turns), turns, gr.skip(), gr.skip(), gr.skip()
        if partial and turn.get("partial") != partial:  # the whole stream is shown before the sources
            turn.update(status="streaming", partial=partial)
            yield conversation_html(turns), turns, gr.skip(), gr.skip(), gr.skip()
        if "error" in result:
            turn.update(status="error", error=result["error"])
            yield conversation_html(turns), turns, gr.skip(), gr.skip(), gr.skip()
            return
        answer = result["answer"].to_dict()
        # retrieval passages are large and not shown, except the nearest ones beside a refusal
        answer["passages"] = answer.get("passages", [])[:3] if answer.get("refused") else []
        if not partial and answer.get("text") and not answer.get("refused"):
            # the extractive answerer returns whole: reveal it progressively, the way a model streams
            text = answer["text"]
            steps = min(12, max(3, len(text) // 40))
            for i in range(1, steps):
                turn.update(status="streaming", partial=text[: len(text) * i // steps])
                yield conversation_html(turns), turns, gr.skip(), gr.skip(), gr.skip()
                time.sleep(0.03)
        turn.update(status="done", answer=answer, partial="")
        docx_path, md_path = self.export_files(answer)
        yield (conversation_html(turns), turns, gr.skip(),
               gr.DownloadButton(value=str(docx_path), interactive=True),
               gr.DownloadButton(value=str(md_path), interactive=True))

    def export_files(self, answer: dict) -> tuple[Path, Path]:
        from . import export

        folder = export_folder(self.export_dir)
        docx_path = folder / export.filename(answer, "docx")
        docx_path.write_bytes(export.to_docx(answer))
        md_path = folder / export.filename(answer, "md")
        md_path.write_text(export.to_markdown(answer), encoding="utf-8")
        return docx_path, md_path

    def stats(self) -> dict:
        return self.service.facets()


EMPTY_FACETS = {"issuers": [], "regions": [], "years": [], "documents": 0, "chunks": 0}


def build_blocks(service: Service, private: bool = False):
    """The Gradio UI. ``private`` (login on): the page is built without anything of the knowledge base — no
    issuers, regions, years or documents in its HTML, config or API examples, which anyone can fetch before
    logging in; the page's load event (after login) fills them in."""
    app = WebApp(service)
    facets = EMPTY_FACETS if private else service.facets()
    # examples from the knowledge base's own documents (none before login: they would show its contents)
    placeholder, examples_of = (GENERIC_PLACEHOLDER, {m: [] for m in GENERIC_PLACEHOLDER}) if private \
        else kb_examples(service.kb)
    years = [ANY_YEAR] + [str(y) for y in facets["years"]]

    with gr.Blocks(title="法治政府建设报告助手", analytics_enabled=False, fill_width=True,
                   delete_cache=(900, 3600)) as demo:  # Gradio removes its uploads older than an hour
        header = gr.HTML(stats_html(facets), elem_id="fz-header", js_on_load=None)
        with gr.Tabs(elem_id="fz-tabs") as tabs:
            # ================= chat =================
            with gr.Tab("智能问答", id="chat", elem_id="fz-tab-chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=270, elem_id="fz-sidebar"):
                        mode = gr.Radio(MODES, value="ask", label="模式", elem_id="fz-mode")
                        mode_help = gr.Markdown(MODE_HELP["ask"], elem_id="fz-mode-help")
                        agency = gr.Textbox(label="本单位名称（起草用，替换“我办/我局/我县”）", placeholder="如：某某区司法局",
                                            visible=False, elem_id="fz-agency")
                        quiz_n = gr.Slider(1, 10, value=5, step=1, label="题目数量", visible=False, elem_id="fz-quiz-n")
                        with gr.Group(elem_id="fz-export"):  # at the top: in view whatever the window's height
                            with gr.Row():
                                dl_docx = gr.DownloadButton("导出 Word", interactive=False, size="sm",
                                                            elem_id="fz-export-docx")
                                dl_md = gr.DownloadButton("导出 Markdown", interactive=False, size="sm",
                                                          elem_id="fz-export-md")
                                clear = gr.Button("清空对话", size="sm", variant="secondary", elem_id="fz-clear")
                        with gr.Accordion("筛选范围", open=True, elem_id="fz-filters"):
                            f_issuer = gr.Dropdown(facets["issuers"], multiselect=True, allow_custom_value=True,
                                                   label="发布单位（可输入关键词）", elem_id="fz-f-issuer")
                            f_region = gr.Dropdown(facets["regions"], multiselect=True, allow_custom_value=True,
                                                   label="地区（可输入关键词）", elem_id="fz-f-region")
                            with gr.Row():
                                f_from = gr.Dropdown(years, value=ANY_YEAR, label="起始年份", min_width=100, elem_id="fz-f-from")
                                f_to = gr.Dropdown(years, value=ANY_YEAR, label="截止年份", min_width=100, elem_id="fz-f-to")
                            f_kind = gr.CheckboxGroup(KIND_CHOICES, label="文档类型", elem_id="fz-f-kind")
                            reset = gr.Button("清除筛选", size="sm", variant="secondary")
                        history = WebWorkspace(app).panel()  # 历史对话 (web_workspace.py)
                    with gr.Column(scale=4):
                        conv = gr.HTML(conversation_html([], facets), elem_id="fz-conv", js_on_load=CONV_JS + FEEDBACK_JS,
                                       autoscroll=False, max_height=720, min_height=420)
                        with gr.Row(equal_height=True):
                            question = gr.Textbox(show_label=False, placeholder=placeholder["ask"], lines=1, max_lines=8,
                                                  scale=8, elem_id="fz-input", autofocus=True)
                            send = gr.Button("发送", variant="primary", scale=1, min_width=90, elem_id="fz-send")
                        examples = gr.Dataset(components=[question], samples=[[q] for q in examples_of["ask"]],
                                              label="示例问题（点击填入）", elem_id="fz-examples")
                turns = gr.State([])

            # ================= knowledge base =================
            with gr.Tab("知识库管理", id="kb", elem_id="fz-tab-kb"):
                kb = kb_tab(service, private)
            with gr.Tab("检索测试", id="retrieval", elem_id="fz-tab-retrieval"):
                rt = retrieval_tab(service, facets, years)
            with gr.Tab("文档查看", id=DOC_TAB, elem_id="fz-tab-docs"):
                dv = documents_tab(service, private)

            governing = review_tab(service, private)  # 报告审阅 (its own layout and events)

        # ---------------- events: chat ----------------
        def on_mode(m):  # after login: the examples of the knowledge base as it is now
            ph, ex = kb_examples(service.kb)
            return (MODE_HELP[m], gr.Textbox(visible=m == "draft"), gr.Slider(visible=m == "quiz"),
                    gr.Textbox(placeholder=ph[m]), gr.Dataset(samples=[[q] for q in ex[m]]))

        mode.change(on_mode, mode, [mode_help, agency, quiz_n, question, examples], queue=False)
        examples.click(lambda s: s[0] if s else "", examples, question, queue=False)
        reset.click(lambda: ([], [], ANY_YEAR, ANY_YEAR, []), None, [f_issuer, f_region, f_from, f_to, f_kind], queue=False)
        ask_inputs = [question, mode, f_issuer, f_region, f_from, f_to, f_kind, agency, quiz_n, turns]
        ask_outputs = [conv, turns, question, dl_docx, dl_md]
        history.wire(demo, (send.click, question.submit), ask_inputs, ask_outputs, conv, clear)  # asks, saves, rates

        def on_clear():
            return conversation_html([], app.stats()), [], gr.DownloadButton(value=None, interactive=False), \
                gr.DownloadButton(value=None, interactive=False)

        clear.click(on_clear, None, [conv, turns, dl_docx, dl_md], queue=False)

        # ---------------- events: knowledge base, retrieval test, document view ----------------
        def refreshed(query=""):
            f = app.stats()
            yrs = [ANY_YEAR] + [str(y) for y in f["years"]]
            return (stats_html(f), doc_rows(service.documents(), query), gr.Dropdown(choices=f["issuers"]),
                    gr.Dropdown(choices=f["regions"]), gr.Dropdown(choices=yrs), gr.Dropdown(choices=yrs),
                    gr.Dropdown(choices=doc_choices(service)))

        refresh_outputs = [header, kb.docs_df, f_issuer, f_region, f_from, f_to, dv.doc]
        open_handler, open_outputs = opener(dv, service, tabs)
        kb_events(kb, service, refreshed, refresh_outputs, (open_handler, open_outputs))
        retrieval_events(rt, service, open_handler, open_outputs)
        documents_events(dv, service, open_handler, open_outputs)

        def open_source(evt: gr.EventData):  # 查看原文 on a source card
            return open_handler(getattr(evt, "doc", None), None, getattr(evt, "start", None), getattr(evt, "end", None))

        conv.open_doc(open_source, None, open_outputs)

        demo.load(refreshed, None, refresh_outputs, queue=False)
        if private:  # built empty: filled once the page is loaded by a logged-in user
            demo.load(lambda: gr.Dropdown(choices=governing_choices(service)), None, governing, queue=False)
            demo.load(lambda: (gr.Dropdown(choices=app.stats()["issuers"]), gr.Dropdown(choices=app.stats()["regions"])),
                      None, [rt.issuer, rt.region], queue=False)
    return demo


# ---- launch -----------------------------------------------------------------------------------------

# Gradio's own interface strings in Chinese whatever the browser's language (the page is Chinese throughout)
UI_STRINGS = {
    "upload_text.click_to_upload": "点击上传", "upload_text.drop_file": "将文件拖放到此处", "common.or": "或",
    "common.clear": "清除", "common.download": "下载", "common.loading": "加载中", "common.error": "错误",
    "common.remove": "移除", "common.submit": "提交", "common.empty": "空",
    "login.login": "登录", "login.username": "用户名", "login.password": "密码",
    "login.incorrect_credentials": "用户名或密码错误",
}


def create_app(assistant, auth: str | list[tuple[str, str]] | None = None):
    """FastAPI app: /api/* routes plus the Gradio UI at /. ``auth``: "user:pw,…" or a list of pairs."""
    users = parse_auth(auth) if isinstance(auth, (str, type(None))) else list(auth)
    service = Service(assistant)
    # files uploaded through the page stay under the knowledge-base folder (never in /tmp/gradio)
    upload_dir = Path(service.kb.store.folder) / "web-uploads"
    upload_dir.mkdir(parents=True, exist_ok=True)
    sweep(upload_dir)  # what earlier runs left
    os.environ["GRADIO_TEMP_DIR"] = str(upload_dir)
    api = create_api(service, users)
    blocks = build_blocks(service, private=bool(users))
    blocks.queue(default_concurrency_limit=2)
    max_mb = max(1, int(service.kb.max_bytes / 2**20) + 1)
    app = gr.mount_gradio_app(
        api, blocks, path="/", auth=users or None,
        auth_message="法治政府建设报告助手：请输入用户名和密码" if users else None,
        footer_links=[], run_history=False, show_error=True, max_file_size=f"{max_mb}mb",
        theme=_theme(), css=CSS + WORKSPACE_CSS, ssr_mode=False, mcp_server=False, pwa=False,
        i18n=gr.I18n(en=UI_STRINGS, **{"en-US": UI_STRINGS}),
    )
    app.state.service = service
    app.state.blocks = blocks
    return app


def launch(assistant, host: str | None = None, port: int | None = None, auth: str | None = None,
           before_serve=None) -> int:
    """Serve the web app and the API until interrupted (``fazhi serve``).

    ``before_serve()`` runs once the app is built, just before the port is bound (the first start's
    notice page hands the port over there)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = assistant.settings
    try:
        users = parse_auth(auth if auth is not None else settings.auth)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    host, warning = resolve_bind(host or settings.host, users)
    port = int(port or settings.port)
    if warning:
        print(warning, file=sys.stderr)
    if users:
        print(f"已启用登录：{len(users)} 个用户（网页登录；接口使用 HTTP Basic） / login enabled for {len(users)} user(s)",
              file=sys.stderr)
    else:
        print("未启用登录：仅监听 127.0.0.1，只有本机可以访问 / no login: listening on 127.0.0.1 only "
              "(set FAZHI_AUTH=user:password or --auth to enable login)", file=sys.stderr)
    t0 = time.monotonic()
    app = create_app(assistant, users)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"网页版已就绪（{time.monotonic() - t0:.1f}s）：http://{shown}:{port}/   接口：http://{shown}:{port}/api/   按 Ctrl+C 退出",
          file=sys.stderr)
    if before_serve:
        before_serve()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    except OSError as exc:
        print(f"error: 无法监听 {host}:{port}：{exc}", file=sys.stderr)
        return 1
    except SystemExit as exc:  # uvicorn exits when the port is taken
        return int(exc.code or 1)
    return 0
