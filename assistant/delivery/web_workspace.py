"""The chat page's feedback bar under each answer and its saved conversations (历史对话), per user.

Hooked into ``web.build_blocks`` with a few lines: ``WebWorkspace(app).panel()`` inside the sidebar, then
``wire(...)`` for the events; the page's conversation HTML comes from ``conversation_html`` here (each
answer followed by its feedback bar, whose clicks reach ``on_feedback`` through the HTML component's
``trigger``). A finished answer saves the conversation (a new one is titled by its first question);
the list reopens, renames and deletes them. The user is the login name, or the one local user.
"""
from __future__ import annotations

import datetime as _dt
import logging

import gradio as gr

from .serving import ServiceError
from .web_render import conversation_html as _plain_conversation, esc, message_html, turn_html
from .workspace import user_of, workspace_of

_SVG = ('<svg viewBox="0 0 24 24" width="15" height="15" fill="none" stroke="currentColor" stroke-width="2" '
        'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">{}</svg>')
ICONS = {  # feather icons (MIT): no icon font, nothing fetched
    "up": _SVG.format('<path d="M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 '
                      '1-2-2v-7a2 2 0 0 1 2-2h3"/>'),
    "down": _SVG.format('<path d="M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3zm7-13h2.67A2.31 '
                        '2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17"/>'),
    "citation": _SVG.format('<path d="M10.29 3.86L1.82 18a2 2 0 0 0 1.71 3h16.94a2 2 0 0 0 1.71-3L13.71 3.86a2 2 0 0 0-3.42 '
                            '0z"/><line x1="12" y1="9" x2="12" y2="13"/><line x1="12" y1="17" x2="12.01" y2="17"/>'),
}
LABELS = {"up": "有帮助", "down": "没帮助", "citation": "引用有误"}
log = logging.getLogger("fazhi.web")

FEEDBACK_JS = """
element.addEventListener('click', (ev) => {
  const b = ev.target.closest('.fz-fb-btn');
  if (!b) return;
  ev.preventDefault();
  const bar = b.closest('.fz-fb');
  const note = bar.querySelector('.fz-fb-note');
  trigger('click', {fb_action: b.dataset.action, fb_turn: Number(bar.dataset.turn), fb_comment: note ? note.value : ''});
});
element.addEventListener('keydown', (ev) => {
  if (ev.key !== 'Enter' || !ev.target.classList.contains('fz-fb-note')) return;
  ev.preventDefault();
  const bar = ev.target.closest('.fz-fb');
  trigger('click', {fb_action: 'comment', fb_turn: Number(bar.dataset.turn), fb_comment: ev.target.value});
});
"""

WORKSPACE_CSS = """
.fz-fb { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin: -10px 0 0 0; font-size: 13px; color: var(--fz-muted); }
.fz-fb-btn { display: inline-flex; align-items: center; gap: 4px; border: 1px solid var(--fz-line); background: #fff; color: #374151;
  border-radius: 14px; padding: 2px 10px; cursor: pointer; font-size: 13px; }
.fz-fb-btn:hover { border-color: #9ca3af; }
.fz-fb-btn.fz-on[data-action=up] { background: #dcfce7; border-color: #16a34a; color: #166534; }
.fz-fb-btn.fz-on[data-action=down] { background: #fee2e2; border-color: #dc2626; color: #991b1b; }
.fz-fb-btn.fz-on[data-action=citation] { background: #fef3c7; border-color: #d97706; color: #92400e; }
.fz-fb-note { flex: 1 1 220px; max-width: 360px; border: 1px solid var(--fz-line); border-radius: 6px; padding: 2px 8px; font-size: 13px; }
.fz-fb-saved { color: #166534; }
#fz-conv-list .wrap { flex-direction: column; gap: 4px !important; max-height: 260px; overflow-y: auto; }
#fz-conv-list label { width: 100%; font-size: 13px; }
"""


def feedback_bar(t: dict) -> str:
    """The bar under a finished answer: 有帮助 / 没帮助 / 引用有误 and an optional note; what was recorded."""
    if t.get("status") != "done" or not t.get("answer"):
        return ""
    fb = t.get("feedback") or {}
    on = {"up": fb.get("rating") == "up", "down": fb.get("rating") == "down", "citation": bool(fb.get("citation_error"))}
    buttons = "".join(
        f'<button type="button" class="fz-fb-btn{" fz-on" if on[k] else ""}" data-action="{k}" aria-pressed="{str(on[k]).lower()}">'
        f"{ICONS[k]}{LABELS[k]}</button>" for k in ("up", "down", "citation"))
    said = [LABELS[k] for k in ("up", "down", "citation") if on[k]] + (["已附说明"] if fb.get("comment") else [])
    saved = f'<span class="fz-fb-saved">已记录：{"、".join(said)}，谢谢反馈</span>' if fb.get("id") and said else ""
    return (f'<div class="fz-fb" data-turn="{int(t.get("id") or 0)}"><span>这个回答：</span>{buttons}'
            f'<input class="fz-fb-note" type="text" maxlength="500" placeholder="补充说明（可选，回车提交），如哪一处引用有误" '
            f'value="{esc(fb.get("comment") or "")}"><button type="button" class="fz-fb-btn" data-action="comment">提交说明</button>'
            f"{saved}</div>")


def conversation_html(turns: list[dict], stats: dict | None = None) -> str:
    """The chat as ``web_render.conversation_html`` draws it, each finished answer followed by its feedback bar."""
    if not turns:
        return _plain_conversation([], stats)
    return '<div class="fz-conv">' + "".join(turn_html(t) + feedback_bar(t) for t in turns) + "</div>"


def _when(stamp: str) -> str:
    try:
        return _dt.datetime.fromisoformat(stamp).astimezone().strftime("%m-%d %H:%M")
    except ValueError:
        return ""


class WebWorkspace:
    def __init__(self, app) -> None:
        self.app = app  # web.WebApp: its submit() and export_files()
        self.ws = workspace_of(app.service)

    def choices(self, user: str | None) -> list[tuple[str, str]]:
        return [(f"{c.title}（{_when(c.updated_at)}，{len(c.turns)} 问）", c.id) for c in self.ws.conversations(user)]

    def listed(self, user: str | None, selected: str | None = None):
        return gr.Radio(choices=self.choices(user), value=selected)

    # ---- layout (inside the chat page's sidebar) ----
    def panel(self) -> "WebWorkspace":
        with gr.Accordion("历史对话", open=True, elem_id="fz-history"):
            self.new = gr.Button("新建对话", size="sm", elem_id="fz-conv-new")
            self.conv_list = gr.Radio([], value=None, label="已保存的对话（点击打开）", elem_id="fz-conv-list")
            with gr.Row(equal_height=True):
                self.title = gr.Textbox(show_label=False, placeholder="对话标题", scale=3, container=False,
                                        elem_id="fz-conv-title")
                self.rename = gr.Button("重命名", size="sm", scale=1, min_width=60, elem_id="fz-conv-rename")
            self.delete = gr.Button("删除此对话", size="sm", variant="stop", elem_id="fz-conv-delete")
            with gr.Row(visible=False) as self.confirm_row:
                self.confirm = gr.Button("确认删除", size="sm", variant="stop", elem_id="fz-conv-confirm")
                self.cancel = gr.Button("取消", size="sm", elem_id="fz-conv-cancel")
            self.msg = gr.HTML("", elem_id="fz-conv-msg", js_on_load=None)
        self.conv_id = gr.State(None)
        return self

    # ---- events ----
    def submit(self, question, mode, issuer, region, year_from, year_to, kinds, agency, n, turns, conv_id,
               request: gr.Request):
        """``WebApp.submit``, then the conversation saved with the finished turn and the options it was asked with."""
        user = user_of(getattr(request, "username", None))
        before = len(turns or [])
        options = {"filters": {"issuer": list(issuer or []), "region": list(region or []), "year_from": year_from,
                               "year_to": year_to, "kind": list(kinds or [])}, "agency": agency or "", "n": n}
        last = None
        for out in self.app.submit(question, mode, issuer, region, year_from, year_to, kinds, agency, n, turns):
            last = out
            yield tuple(out) + (gr.skip(), gr.skip(), gr.skip())
        new = last[1] if last is not None and isinstance(last[1], list) else []
        if len(new) <= before or new[-1].get("status") not in ("done", "error"):
            return
        new[-1]["options"] = options
        try:
            try:
                conv = self.ws.save(user, new, conv_id)
            except ServiceError as exc:
                if exc.status != 404:
                    raise
                conv = self.ws.save(user, new, None)  # the open one was deleted meanwhile (another tab): a new one
        except ServiceError as exc:  # the user data cannot be written: the answer stands, unsaved
            log.warning("conversation not saved: %s", exc)
            return
        yield (gr.skip(),) * 5 + (conv.id, self.listed(user, conv.id), conv.title)

    def on_feedback(self, turns, conv_id, evt: gr.EventData, request: gr.Request):
        user = user_of(getattr(request, "username", None))
        data = getattr(evt, "_data", None) or {}
        action, tid = data.get("fb_action"), data.get("fb_turn")
        turn = next((t for t in turns or [] if t.get("id") == tid and t.get("status") == "done"), None)
        if turn is None or action not in ("up", "down", "citation", "comment"):
            return gr.skip(), gr.skip()
        fb = dict(turn.get("feedback") or {})
        if action in ("up", "down"):
            fb["rating"] = action
        elif action == "citation":
            fb["citation_error"] = not fb.get("citation_error")
        else:
            fb["comment"] = str(data.get("fb_comment") or "").strip()[: self.ws.settings.max_field_chars]
        if not (fb.get("rating") or fb.get("citation_error") or fb.get("comment")):
            return gr.skip(), gr.skip()  # nothing to record (a note left empty, a wrong citation taken back)
        try:
            entry = self.ws.rate(user, turn["answer"], fb.get("rating"), bool(fb.get("citation_error")),
                                 fb.get("comment") or "", turn.get("standalone") or "", turn.get("options"),
                                 entry_id=fb.get("id"), conversation_id=conv_id, turn_id=tid)
        except ServiceError as exc:  # shown to the user as a notice, the page stays as it was
            raise gr.Error(str(exc).split(" / ")[0]) from None
        fb["id"] = entry.id
        turn["feedback"] = fb
        if conv_id:
            try:
                self.ws.save(user, turns, conv_id)
            except ServiceError:
                pass
        return conversation_html(turns), turns

    def reopen(self, conv_id, request: gr.Request):
        user = user_of(getattr(request, "username", None))
        try:
            conv = self.ws.conversation(conv_id, user) if conv_id else None
        except ServiceError as exc:
            return (gr.skip(),) * 4 + (None, self.listed(user), "", message_html(str(exc), "bad"))
        if conv is None:
            return (gr.skip(),) * 8
        done = [t for t in conv.turns if t.get("status") == "done" and t.get("answer")]
        dl = [gr.DownloadButton(value=None, interactive=False)] * 2
        if done:
            docx_path, md_path = self.app.export_files(done[-1]["answer"])
            dl = [gr.DownloadButton(value=str(docx_path), interactive=True),
                  gr.DownloadButton(value=str(md_path), interactive=True)]
        return (conversation_html(conv.turns), conv.turns, *dl, conv.id, gr.skip(), conv.title,
                message_html(f"已打开：{conv.title}", "info"))

    def on_rename(self, conv_id, title, request: gr.Request):
        user = user_of(getattr(request, "username", None))
        if not conv_id:
            return gr.skip(), message_html("请先打开或开始一个对话。", "bad")
        try:
            conv = self.ws.rename(conv_id, user, title or "")
        except ServiceError as exc:
            return gr.skip(), message_html(str(exc).split(" / ")[0], "bad")
        return self.listed(user, conv.id), message_html(f"已重命名为：{conv.title}", "ok")

    def on_delete(self, conv_id, request: gr.Request):
        if not conv_id:
            return gr.Row(visible=False), message_html("请先打开要删除的对话。", "bad")
        try:
            conv = self.ws.conversation(conv_id, user_of(getattr(request, "username", None)))
        except ServiceError as exc:
            return gr.Row(visible=False), message_html(str(exc).split(" / ")[0], "bad")
        return gr.Row(visible=True), message_html(f"确定删除对话“{conv.title}”？此操作不可撤销。", "bad")

    def on_confirm(self, conv_id, request: gr.Request):
        user = user_of(getattr(request, "username", None))
        try:
            self.ws.delete(conv_id, user)
        except ServiceError as exc:
            return (gr.skip(),) * 4 + (gr.Row(visible=False), message_html(str(exc).split(" / ")[0], "bad"),
                                       gr.skip(), gr.skip(), gr.skip())
        return (_plain_conversation([], self.app.stats()), [], None, self.listed(user), gr.Row(visible=False),
                message_html("已删除该对话。", "ok"), "", gr.DownloadButton(value=None, interactive=False),
                gr.DownloadButton(value=None, interactive=False))

    def wire(self, demo, triggers, ask_inputs, ask_outputs, conv, clear) -> None:
        """Every event of the panel and the feedback bar; ``triggers`` (send.click, question.submit) ask."""
        conv_html, turns, _, dl_docx, dl_md = ask_outputs
        for trigger in triggers:
            trigger(self.submit, ask_inputs + [self.conv_id], ask_outputs + [self.conv_id, self.conv_list, self.title],
                    concurrency_limit=4)
        conv.click(self.on_feedback, [turns, self.conv_id], [conv_html, turns], concurrency_limit=4)
        self.conv_list.input(self.reopen, self.conv_list,
                             [conv_html, turns, dl_docx, dl_md, self.conv_id, self.conv_list, self.title, self.msg])
        fresh = (lambda: (None, gr.Radio(value=None), "", ""))
        clear.click(fresh, None, [self.conv_id, self.conv_list, self.title, self.msg], queue=False)
        self.new.click(lambda: (_plain_conversation([], self.app.stats()), [], None, gr.Radio(value=None), "", "",
                                gr.DownloadButton(value=None, interactive=False),
                                gr.DownloadButton(value=None, interactive=False)),
                       None, [conv_html, turns, self.conv_id, self.conv_list, self.title, self.msg, dl_docx, dl_md])
        self.rename.click(self.on_rename, [self.conv_id, self.title], [self.conv_list, self.msg])
        self.delete.click(self.on_delete, self.conv_id, [self.confirm_row, self.msg])
        self.cancel.click(lambda: (gr.Row(visible=False), ""), None, [self.confirm_row, self.msg], queue=False)
        self.confirm.click(self.on_confirm, self.conv_id,
                           [conv_html, turns, self.conv_id, self.conv_list, self.confirm_row, self.msg, self.title,
                            dl_docx, dl_md])
        demo.load(self.on_load, None, self.conv_list)

    def on_load(self, request: gr.Request):
        return self.listed(user_of(getattr(request, "username", None)))
