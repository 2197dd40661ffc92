"""The web app: a Gradio UI (chat page + knowledge-base page) with the JSON HTTP API mounted beside it.

``launch(assistant)`` is what ``fazhi serve`` calls. Nothing is fetched from the internet: Gradio's
analytics are off, the theme uses the system's CJK fonts, and no CDN is referenced.
"""
from __future__ import annotations

import html
import logging
import os
import queue
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_SSR_MODE", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import gradio as gr  # noqa: E402

from .api import Service, ServiceError, create_api, parse_auth  # noqa: E402
from .export import FLAG_ACTION_ZH, FLAG_REASON_ZH, KIND_ZH, MODE_ZH, QUIZ_TYPE_ZH, VERDICT_ZH  # noqa: E402

log = logging.getLogger("fazhi.web")

MODES = [("问答", "ask"), ("对比", "compare"), ("起草", "draft"), ("核对", "check"), ("出题", "quiz")]
MODE_HELP = {
    "ask": "**问答**：直接回答问题，每句话标注出处 [n]；知识库中没有依据时明确告知。",
    "compare": "**对比**：“其他单位是如何……的”——按单位列出做法、关键数字和出处。",
    "draft": "**起草**：参照多个单位的原文起草本单位报告的段落；我办/我局等换成本单位名称，数字和年份留作【】待填。",
    "check": "**核对**：逐条核对一段表述是否与来源一致（属实 / 不符 / 未找到），并给出相关规定要求。",
    "quiz": "**出题**：围绕一个主题出填空、选择、判断题，附答案和出处，用于学法考试。",
}
PLACEHOLDER = {
    "ask": "输入问题，例如：天津市人防办的行政执法监督平台是什么时候上线运行的？（Enter 发送，可继续追问）",
    "compare": "例如：其他单位是如何建立和发挥法律顾问作用的？",
    "draft": "要起草的部分，例如：第一责任人履职情况",
    "check": "粘贴要核对的表述，例如：核对：镇巴县2019年受理的行政复议申请已全部办结。",
    "quiz": "出题主题，例如：行政处罚的简易程序",
}
EXAMPLES = {
    "ask": ["天津市人防办的行政执法监督平台是什么时候上线运行的？", "镇巴县划转了多少项行政审批事项？",
            "行政规范性文件合法性审核的时限一般是多久？"],
    "compare": ["其他单位是如何建立和发挥法律顾问作用的？", "其他单位是如何开展行政执法案卷评查的？"],
    "draft": ["第一责任人履职情况", "法治宣传教育"],
    "check": ["核对：镇巴县2019年受理的行政复议申请已全部办结。", "核对：天津市人防办的行政执法监督平台于2015年5月20日正式上线运行。"],
    "quiz": ["行政处罚的简易程序", "重大行政决策程序"],
}
KIND_CHOICES = [("工作报告", "report"), ("纲要/指导文件", "outline"), ("法律法规", "law")]
LEVEL_CHOICES = [("（未设置）", ""), ("国家", "national"), ("省级", "province"), ("市级", "city"), ("县级", "county"),
                 ("乡镇", "town"), ("部门", "department")]
STATUS_ZH = {"added": ("新增", "ok"), "replaced": ("已更新", "info"), "unchanged": ("未变化，已跳过", "muted"),
             "duplicate": ("重复，已跳过", "warn"), "error": ("失败", "bad")}
DOC_HEADERS = ["文档编号", "标题", "发布单位", "地区", "年份", "类型", "段落", "导入日期"]
ANY_YEAR = "不限"
UNSUPPORTED_MARK = "【未经来源证实】"
MARKER_RE = re.compile(r"\[(\d{1,3})\]")
PLACEHOLDER_RE = re.compile(r"【(?:数字|年份|单位名称|日期|名称|[^【】]{1,6}名称)】")
CJK_FONTS = ["PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC",
             "Hiragino Sans GB", "sans-serif"]
MONO_FONTS = ["WenQuanYi Micro Hei Mono", "Menlo", "Consolas", "monospace"]


# ---- HTML rendering (pure functions: easy to test) -----------------------------------------------

def esc(text) -> str:
    """HTML-escape, and neutralise template syntax (``${…}`` / ``{{…}}``) of gr.HTML's template."""
    s = html.escape(str(text if text is not None else ""), quote=True)
    return s.replace("$", "&#36;").replace("{", "&#123;").replace("}", "&#125;").replace("`", "&#96;")


def marked(text: str, numbers: set[int] | None = None) -> str:
    """Escaped text with [n] turned into clickable citation markers and the unsupported mark into a badge."""
    out = esc(text)
    out = out.replace(esc(UNSUPPORTED_MARK), '<span class="fz-unsup-badge" title="这句话未能在来源中得到证实">未经来源证实</span>')

    def repl(m):
        n = int(m.group(1))
        missing = numbers is not None and n not in numbers
        cls = "fz-cite fz-cite-missing" if missing else "fz-cite"
        return f'<a class="{cls}" data-n="{n}" href="javascript:void(0)" title="查看来源 {n}">[{n}]</a>'

    out = MARKER_RE.sub(repl, out)
    return PLACEHOLDER_RE.sub(lambda m: f'<span class="fz-ph" title="请按本单位实际情况填写">{m.group(0)}</span>', out)


def _lines_html(text: str, numbers: set[int] | None) -> str:
    parts, items = [], []

    def flush():
        if items:
            parts.append("<ul>" + "".join(f"<li>{x}</li>" for x in items) + "</ul>")
            items.clear()

    for raw in (text or "").split("\n"):
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith(("- ", "• ")):
            items.append(marked(line[2:], numbers))
            continue
        flush()
        cls = []
        if UNSUPPORTED_MARK in line:
            cls.append("fz-unsup")
        if (line.endswith(("：", ":")) and not MARKER_RE.search(line) and len(line) <= 60) or re.fullmatch(r"[（(].{1,40}[)）]", line):
            cls.append("fz-lead")
        parts.append(f'<p class="{" ".join(cls)}">{marked(line, numbers)}</p>')
    flush()
    return "".join(parts)


def _trim_before(s: str, n: int = 70) -> str:
    s = (s or "").replace("\n", " ")
    return ("…" + s[-n:]) if len(s) > n else s


def _trim_after(s: str, n: int = 70) -> str:
    s = (s or "").replace("\n", " ")
    return (s[:n] + "…") if len(s) > n else s


def source_card(s: dict) -> str:
    meta = [esc(s.get("issuer") or "")]
    if s.get("year"):
        meta.append(f"{s['year']}年")
    if s.get("kind"):
        meta.append(esc(KIND_ZH.get(s["kind"], s["kind"])))
    if s.get("doc_number") and s["doc_number"] not in (s.get("title") or ""):
        meta.append(esc(s["doc_number"]))
    if s.get("page"):
        meta.append(f"第{s['page']}页")
    path = " › ".join(esc(h) for h in s.get("heading_path") or [])
    return (
        f'<div class="fz-src" data-n="{s["number"]}">'
        f'<div class="fz-src-head"><span class="fz-src-n">{s["number"]}</span>'
        f'<span class="fz-src-title">《{esc(s.get("title") or s.get("doc_id"))}》</span></div>'
        f'<div class="fz-src-meta">{" · ".join(m for m in meta if m)}</div>'
        + (f'<div class="fz-src-path">{path}</div>' if path else "")
        + f'<div class="fz-src-ctx">{esc(_trim_before(s.get("context_before")))}'
          f'<mark>{esc(s.get("quote"))}</mark>{esc(_trim_after(s.get("context_after")))}</div>'
          f'<div class="fz-src-id">{esc(s.get("doc_id"))} · 字符 {s.get("start")}–{s.get("end")}</div>'
          "</div>"
    )


def sources_html(a: dict) -> str:
    srcs = a.get("sources") or []
    if not srcs:
        return '<div class="fz-sources fz-sources-empty"><div class="fz-sources-title">来源</div><p>本回答没有引用来源。</p></div>'
    return (f'<div class="fz-sources"><div class="fz-sources-title">来源（{len(srcs)}）<span>点击正文中的 [n] 定位</span></div>'
            + "".join(source_card(s) for s in srcs) + "</div>")


def _with_cite(text: str, n) -> str:
    return f"{text}[{n}]"


def practice_cell(r: dict, numbers: set[int]) -> str:
    pairs = zip(r.get("practice") or [], r.get("sources") or [])
    return "".join("<p>" + marked(_with_cite(t, n), numbers) + "</p>" for t, n in pairs)


def figures_cell(r: dict) -> str:
    return "".join('<span class="fz-fig">' + esc(x) + "</span>" for x in r.get("figures") or []) or "—"


def compare_html(a: dict, numbers: set[int]) -> str:
    rows = a.get("compare") or []
    head = (a.get("text") or "").split("\n", 1)[0]
    body = "".join(
        "<tr>"
        f'<td class="fz-agency">{esc(r.get("agency"))}<div class="fz-year">{esc(r.get("year") or "年份不详")}</div></td>'
        f'<td>{practice_cell(r, numbers)}</td>'
        f'<td>{figures_cell(r)}</td>'
        "</tr>" for r in rows)
    return (f'<p class="fz-lead">{esc(head)}</p>'
            '<table class="fz-table"><thead><tr><th>单位</th><th>做法（原文）</th><th>关键数字</th></tr></thead>'
            f"<tbody>{body}</tbody></table>")


def check_html(a: dict, numbers: set[int]) -> str:
    out = []
    v = a.get("verdict")
    if v:
        out.append(f'<div class="fz-verdict fz-v-{v}">总体结论：{esc(VERDICT_ZH.get(v, v))}</div>')
    out.append('<ol class="fz-claims">')
    for c in a.get("claims") or []:
        cv = c.get("verdict") or "not_found"
        out.append(f'<li class="fz-claim fz-v-{cv}"><div class="fz-claim-head"><span class="fz-badge fz-v-{cv}">'
                   f'{esc(VERDICT_ZH.get(cv, cv))}</span>{esc(c.get("claim"))}</div>')
        if c.get("reason"):
            out.append(f'<div class="fz-reason">说明：{esc(c["reason"])}</div>')
        for e in c.get("evidence") or []:
            out.append(f'<div class="fz-evidence">依据：{marked(_with_cite(e.get("text", ""), e.get("source")), numbers)}</div>')
        for r in c.get("requirements") or []:
            label = r.get("doc_number") or r.get("title") or ""
            out.append(f'<div class="fz-requirement">相关要求（{esc(label)}）：'
                       f'{marked(_with_cite(r.get("text", ""), r.get("source")), numbers)}</div>')
        out.append("</li>")
    out.append("</ol>")
    return "".join(out)


def quiz_html(a: dict, numbers: set[int]) -> str:
    out = ['<ol class="fz-quiz">']
    for q in a.get("quiz") or []:
        out.append(f'<li><span class="fz-qtype">{esc(QUIZ_TYPE_ZH.get(q.get("type"), "题目"))}</span>'
                   f'{esc(re.sub(r"^(填空|选择|判断)：", "", q.get("question") or ""))}')
        if q.get("options"):
            out.append('<div class="fz-options">' + "".join(
                f"<span>{'ABCD'[i]}. {esc(o)}</span>" for i, o in enumerate(q["options"])) + "</div>")
        out.append(f'<details><summary>查看答案</summary><div class="fz-answer">答案：{esc(q.get("answer"))}</div>'
                   f'<div class="fz-evidence">依据：{marked(_with_cite(q.get("evidence") or "", q.get("source")), numbers)}</div>'
                   "</details></li>")
    out.append("</ol>")
    if not a.get("quiz"):
        return _lines_html(a.get("text") or "", numbers)
    return "".join(out)


def flags_html(a: dict) -> str:
    flags = [f for f in a.get("flags") or [] if f.get("sentence")]
    if not flags:
        return ""
    items = "".join(
        f'<li class="fz-flag-{esc(f.get("action"))}"><span class="fz-flag-tag">'
        f'{esc(FLAG_ACTION_ZH.get(f.get("action"), f.get("action")))} · {esc(FLAG_REASON_ZH.get(f.get("reason"), f.get("reason")))}'
        f'</span><span class="fz-flag-text">{esc(f["sentence"])}</span></li>' for f in flags)
    return (f'<details class="fz-flags" open><summary>⚠ 核验提示：{len(flags)} 处表述未通过来源核验，已删除或标注</summary>'
            f"<ul>{items}</ul></details>")


def refused_html(a: dict) -> str:
    text = a.get("text") or ""
    head = text.split("\n以下是最接近的段落", 1)[0]
    out = [f'<div class="fz-refused"><div class="fz-refused-head">{_lines_html(head, set())}</div>']
    near = (a.get("passages") or [])[:3]
    if near:
        out.append('<div class="fz-near-title">最接近的段落（仅供参考，未据此作答）：</div><ul class="fz-near">')
        for p in near:
            path = " › ".join(p.get("heading_path") or [])
            body = re.sub(r"\s+", " ", p.get("text") or "")
            out.append(f'<li><b>《{esc(p.get("title") or p.get("doc_id"))}》</b>'
                       + (f'<span class="fz-near-path">{esc(path)}</span>' if path else "")
                       + f'<div>{esc(body[:140])}{"…" if len(body) > 140 else ""}</div></li>')
        out.append("</ul>")
    out.append("</div>")
    return "".join(out)


def answer_body(a: dict) -> str:
    numbers = {s["number"] for s in a.get("sources") or []}
    mode = a.get("mode")
    if a.get("refused"):
        return refused_html(a)
    if mode == "compare" and a.get("compare"):
        return compare_html(a, numbers)
    if mode == "check" and a.get("claims"):
        return check_html(a, numbers)
    if mode == "quiz":
        return quiz_html(a, numbers)
    cls = "fz-draft" if mode == "draft" else "fz-text"
    return f'<div class="{cls}">{_lines_html(a.get("text") or "", numbers)}</div>'


def turn_html(t: dict) -> str:
    mode = t.get("mode", "ask")
    q = (f'<div class="fz-q"><div class="fz-q-bubble"><span class="fz-mode-tag">{esc(MODE_ZH.get(mode, mode))}</span>'
         f'{esc(t.get("question"))}</div>')
    if t.get("standalone") and t["standalone"] != t.get("question"):
        q += f'<div class="fz-rewrite">结合上文理解为：{esc(t["standalone"])}</div>'
    q += "</div>"
    status = t.get("status")
    if status == "pending":
        main = '<div class="fz-pending"><span class="fz-dots"><i></i><i></i><i></i></span>正在检索知识库并核验引用…</div>'
        side = ""
    elif status == "streaming":
        main = f'<div class="fz-text fz-streaming">{_lines_html(t.get("partial") or "", None)}<span class="fz-caret"></span></div>'
        side = '<div class="fz-sources fz-sources-empty"><div class="fz-sources-title">来源</div><p>生成中…</p></div>'
    elif status == "error":
        main = f'<div class="fz-error">出错了：{esc(t.get("error"))}</div>'
        side = ""
    else:
        a = t.get("answer") or {}
        main = answer_body(a) + flags_html(a)
        side = sources_html(a)
    cls = "fz-a" + ("" if side else " fz-a-wide")
    return (f'<div class="fz-turn" id="fz-turn-{t.get("id", 0)}" data-mode="{esc(mode)}" data-status="{esc(status)}">{q}'
            f'<div class="{cls}"><div class="fz-a-main">{main}</div>'
            + (f'<div class="fz-a-side">{side}</div>' if side else "") + "</div></div>")


def welcome_html(stats: dict | None = None) -> str:
    n = (stats or {}).get("documents")
    cards = "".join(
        f'<div class="fz-wcard"><b>{label}</b><span>{esc(re.sub(r"[*]", "", MODE_HELP[m]).split("：", 1)[1])}</span></div>'
        for label, m in MODES)
    count = f"知识库现有 {n} 个文档。" if n is not None else ""
    return (f'<div class="fz-welcome"><h3>您好，我是法治政府建设报告助手</h3>'
            f"<p>我只根据知识库中的报告、纲要和法律法规作答，每句话都标注出处；依据不足时会明确告诉您。{count}</p>"
            f'<div class="fz-wgrid">{cards}</div><p class="fz-hint">在左侧选择模式和筛选范围，在下方输入问题；可以继续追问（如“那2020年呢？”）。</p></div>')


def conversation_html(turns: list[dict], stats: dict | None = None) -> str:
    if not turns:
        return f'<div class="fz-conv">{welcome_html(stats)}</div>'
    return '<div class="fz-conv">' + "".join(turn_html(t) for t in turns) + "</div>"


ERROR_ZH = [
    (r"^not a PDF file", "不是有效的 PDF 文件"),
    (r"^encrypted PDF", "PDF 已加密，请去除密码后再上传"),
    (r"^damaged or (?:truncated|unsupported) PDF", "PDF 文件已损坏或格式不受支持"),
    (r"^no text layer", "PDF 只有扫描图像、没有文字层，请先进行文字识别（OCR）"),
    (r"^not a Word document", "不是有效的 Word（.docx）文件；.doc 旧格式请另存为 .docx"),
    (r"^damaged Word document", "Word 文件已损坏"),
    (r"^no body text", "没有可提取的正文（只有导航、链接或页眉页脚）"),
    (r"^empty file", "文件为空"),
    (r"^unsupported file type", "不支持的文件类型，仅支持 txt / md / pdf / docx / html"),
    (r"^file too large|too large", "文件过大，超过上传上限"),
    (r"^file is binary", "文件是二进制内容，不是文本"),
    (r"encoding", "无法识别文本编码，请另存为 UTF-8 后再上传"),
    (r"^UTF-16 text is damaged", "UTF-16 文本已损坏"),
    (r"^cannot read", "无法读取文件"),
    (r"^no text to index", "没有可索引的文本"),
    (r"^invalid file name", "文件名无效"),
]


def zh_message(status: str, message: str) -> str:
    """A Chinese explanation of an ingest result message (the original kept in brackets)."""
    msg = (message or "").strip()
    if not msg or re.search(r"[\u4e00-\u9fa5]", msg.split(" / ")[0]):
        return msg
    m = re.match(r"same content as (.+)$", msg)
    if m:
        return f"与知识库中已有的 {m.group(1)} 内容相同"
    for pattern, zh in ERROR_ZH:
        if re.search(pattern, msg, re.I):
            return f"{zh}（{msg}）"
    return msg


def upload_results_html(results: list[dict]) -> str:
    if not results:
        return ""
    items = []
    for r in results:
        label, cls = STATUS_ZH.get(r["status"], (r["status"], "muted"))
        detail = zh_message(r["status"], r.get("message") or "")
        if r["status"] in ("added", "replaced"):
            detail = f"{r.get('chunks', 0)} 个段落，新向量化 {r.get('embedded', 0)} 个" + (f"；{detail}" if detail else "")
        elif r["status"] == "unchanged" and not detail:
            detail = "与知识库中的同名文档内容相同，无需重新导入"
        name = Path(r.get("path") or r.get("doc_id") or "").name
        items.append(f'<li class="fz-file fz-file-{r["status"]}"><span class="fz-status fz-st-{cls}">{esc(label)}</span>'
                     f'<b>{esc(name)}</b><span class="fz-file-id">{esc(r.get("doc_id") or "")}</span>'
                     + (f'<div class="fz-file-detail">{esc(detail)}</div>' if detail else "") + "</li>")
    ok = sum(1 for r in results if r["status"] in ("added", "replaced"))
    bad = sum(1 for r in results if r["status"] == "error")
    skipped = len(results) - ok - bad
    summary = f"共 {len(results)} 个文件：导入 {ok} 个" + (f"，失败 {bad} 个" if bad else "") + \
              (f"，跳过 {skipped} 个" if skipped else "")
    return (f'<div class="fz-upload-result"><div class="fz-upload-summary">{esc(summary)}</div>'
            f'<ul class="fz-files">{"".join(items)}</ul></div>')


def message_html(text: str, kind: str = "ok") -> str:
    return f'<div class="fz-msg fz-msg-{kind}">{esc(text)}</div>' if text else ""


def stats_html(stats: dict) -> str:
    return (f'<div class="fz-header"><div class="fz-emblem">法</div><div class="fz-head-text">'
            f'<div class="fz-title">法治政府建设报告助手</div>'
            f'<div class="fz-sub">问答 · 对比 · 起草 · 核对 · 出题 —— 每句回答均标注出处，依据不足时明确告知</div></div>'
            f'<div class="fz-stats"><b>{stats.get("documents", 0)}</b> 个文档 · <b>{stats.get("chunks", 0):,}</b> 个段落'
            f'<br><span>离线运行 · 数据不出本机</span></div></div>')


def doc_rows(docs: list[dict], query: str = "") -> list[list]:
    q = (query or "").strip()
    rows = []
    for d in docs:
        row = [d["id"], d.get("title") or "", d.get("issuer") or "", d.get("region") or "", d.get("year") or "",
               KIND_ZH.get(d.get("kind"), d.get("kind") or ""), d.get("chunks") or 0, (d.get("added_at") or "")[:10]]
        if q and not any(q in str(x) for x in row[:6] + [d.get("doc_number") or ""]):
            continue
        rows.append(row)
    return rows


# ---- CSS / JS ---------------------------------------------------------------------------------------

CSS = """
:root { --fz-accent: #b4232a; --fz-blue: #1e40af; --fz-ink: #1f2937; --fz-muted: #6b7280; --fz-line: #e5e7eb; }
.gradio-container { max-width: 1500px !important; margin: 0 auto !important; }
footer { display: none !important; }
.fz-header { display: flex; align-items: center; gap: 14px; padding: 14px 18px; border-radius: 10px;
  background: linear-gradient(90deg, #7f1d1d 0%, #b4232a 55%, #c2410c 100%); color: #fff; }
.fz-emblem { width: 46px; height: 46px; border-radius: 50%; background: #fde68a; color: #7f1d1d; font-size: 26px;
  font-weight: 700; display: flex; align-items: center; justify-content: center; flex: none; box-shadow: 0 0 0 3px rgba(255,255,255,.35); }
.fz-head-text { flex: 1; }
.fz-header .fz-title, .fz-header .fz-sub, .fz-header .fz-stats, .fz-header b { color: #fff !important; }
.fz-title { font-size: 22px; font-weight: 700; letter-spacing: 2px; }
.fz-sub { font-size: 13px; opacity: .9; margin-top: 2px; }
.fz-stats { text-align: right; font-size: 13px; line-height: 1.6; }
.fz-stats span { opacity: .85; }
#fz-sidebar { background: #f8fafc; border: 1px solid var(--fz-line); border-radius: 10px; padding: 10px !important; }
#fz-mode-help { font-size: 13px; color: #374151; background: #fff; border-left: 3px solid var(--fz-accent); padding: 6px 10px; border-radius: 4px; }
#fz-mode-help p { margin: 0; }
#fz-conv { min-height: 420px; }
.fz-conv { display: flex; flex-direction: column; gap: 18px; padding: 6px 4px 12px; color: var(--fz-ink); }
.fz-welcome { border: 1px dashed #d1d5db; border-radius: 12px; padding: 22px 26px; background: #fffdf7; }
.fz-welcome h3 { margin: 0 0 8px; font-size: 19px; color: #7f1d1d; }
.fz-welcome p { margin: 4px 0; color: #374151; }
.fz-wgrid { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 10px; margin: 14px 0; }
.fz-wcard { background: #fff; border: 1px solid var(--fz-line); border-radius: 8px; padding: 10px 12px; font-size: 13px; color: #4b5563; }
.fz-wcard b { display: block; color: var(--fz-accent); font-size: 15px; margin-bottom: 3px; }
.fz-hint { font-size: 13px; color: var(--fz-muted) !important; }
.fz-turn { display: flex; flex-direction: column; gap: 8px; }
.fz-q { display: flex; flex-direction: column; align-items: flex-end; }
.fz-q-bubble { max-width: 80%; background: #1e40af; color: #fff; padding: 9px 14px; border-radius: 14px 14px 2px 14px; font-size: 15px; line-height: 1.6; white-space: pre-wrap; }
.fz-mode-tag { display: inline-block; font-size: 12px; background: rgba(255,255,255,.2); border-radius: 4px; padding: 0 6px; margin-right: 8px; }
.fz-rewrite { font-size: 12px; color: var(--fz-muted); margin-top: 4px; }
.fz-a { display: grid; grid-template-columns: minmax(0, 3fr) minmax(280px, 2fr); gap: 14px; align-items: start; }
.fz-a-wide { grid-template-columns: minmax(0, 1fr); }
@media (max-width: 900px) { .fz-a { grid-template-columns: minmax(0, 1fr); } }
.fz-a-main { background: #fff; border: 1px solid var(--fz-line); border-radius: 2px 14px 14px 14px; padding: 12px 16px;
  font-size: 15px; line-height: 1.85; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
.fz-a-main p { margin: 0 0 6px; }
.fz-a-main .fz-lead { font-weight: 600; color: #111827; margin-top: 6px; }
.fz-a-main ul { margin: 4px 0 6px 18px; padding: 0; }
.fz-draft p { text-indent: 2em; }
.fz-draft p.fz-lead { text-indent: 0; }
.fz-cite { color: var(--fz-blue) !important; text-decoration: none !important; font-size: 12px; font-weight: 600; vertical-align: super;
  padding: 0 1px; cursor: pointer; border-radius: 3px; }
.fz-cite:hover, .fz-cite.fz-cite-on { background: #dbeafe; }
.fz-cite-missing { color: #9ca3af !important; text-decoration: line-through !important; }
.fz-unsup { background: #fef2f2; border-left: 3px solid #dc2626; padding-left: 6px; text-decoration: underline wavy #dc2626; text-underline-offset: 4px; }
.fz-unsup-badge { display: inline-block; font-size: 12px; background: #dc2626; color: #fff; border-radius: 3px; padding: 0 5px; margin-right: 4px; text-decoration: none; }
.fz-refused { background: #fffbeb; border: 1px solid #fcd34d; border-radius: 8px; padding: 8px 12px; color: #78350f; }
.fz-refused-head p { margin: 0 0 4px; font-weight: 600; }
.fz-near-title { font-size: 13px; margin-top: 6px; color: #92400e; }
.fz-near { margin: 4px 0 0 0 !important; padding-left: 18px !important; font-size: 13px; color: #57534e; line-height: 1.6; }
.fz-near li { margin-bottom: 6px; }
.fz-near-path { color: #a16207; margin-left: 6px; font-size: 12px; }
.fz-ph { background: #fef3c7; color: #92400e; border-radius: 3px; padding: 0 2px; }
.fz-error { background: #fef2f2; border: 1px solid #fca5a5; border-radius: 8px; padding: 8px 12px; color: #991b1b; }
.fz-pending { color: var(--fz-muted); display: flex; align-items: center; gap: 10px; }
.fz-dots i { display: inline-block; width: 7px; height: 7px; margin-right: 3px; border-radius: 50%; background: #9ca3af; animation: fzblink 1.2s infinite both; }
.fz-dots i:nth-child(2) { animation-delay: .2s; } .fz-dots i:nth-child(3) { animation-delay: .4s; }
@keyframes fzblink { 0%, 80%, 100% { opacity: .2; } 40% { opacity: 1; } }
.fz-caret { display: inline-block; width: 8px; height: 1.1em; background: #1e40af; vertical-align: text-bottom; animation: fzblink 1s infinite; }
.fz-a-side { position: sticky; top: 8px; }
.fz-sources { background: #f9fafb; border: 1px solid var(--fz-line); border-radius: 10px; padding: 10px; max-height: 560px; overflow-y: auto; }
.fz-sources-title { font-weight: 700; font-size: 14px; margin-bottom: 8px; color: #374151; display: flex; justify-content: space-between; align-items: baseline; }
.fz-sources-title span { font-weight: 400; font-size: 12px; color: var(--fz-muted); }
.fz-sources-empty p { font-size: 13px; color: var(--fz-muted); margin: 0; }
.fz-src { background: #fff; border: 1px solid var(--fz-line); border-radius: 8px; padding: 8px 10px; margin-bottom: 8px; font-size: 13px; line-height: 1.65;
  transition: box-shadow .2s, border-color .2s; }
.fz-src.fz-active { border-color: #2563eb; box-shadow: 0 0 0 3px #bfdbfe; }
.fz-src-head { display: flex; gap: 6px; align-items: baseline; font-weight: 600; color: #111827; }
.fz-src-n { flex: none; background: #1e40af; color: #fff; border-radius: 4px; font-size: 12px; padding: 0 6px; }
.fz-src-meta { color: var(--fz-muted); font-size: 12px; margin-top: 2px; }
.fz-src-path { color: #92400e; font-size: 12px; margin-top: 2px; }
.fz-src-ctx { margin-top: 6px; color: #6b7280; display: -webkit-box; -webkit-line-clamp: 5; -webkit-box-orient: vertical; overflow: hidden; }
.fz-src.fz-active .fz-src-ctx { -webkit-line-clamp: unset; display: block; }
.fz-src-ctx mark { background: #fef08a; color: #111827; padding: 1px 0; }
.fz-src-id { color: #9ca3af; font-size: 11px; margin-top: 4px; word-break: break-all; }
.fz-table { width: 100%; border-collapse: collapse; font-size: 14px; margin: 6px 0; }
.fz-table th { background: #f3f4f6; text-align: left; padding: 6px 8px; border: 1px solid var(--fz-line); font-weight: 600; white-space: nowrap; }
.fz-table td { padding: 6px 8px; border: 1px solid var(--fz-line); vertical-align: top; }
.fz-table td p { margin: 0 0 4px; }
.fz-agency { font-weight: 600; min-width: 110px; }
.fz-year { font-weight: 400; color: var(--fz-muted); font-size: 12px; }
.fz-fig { display: inline-block; background: #eff6ff; color: #1e3a8a; border-radius: 4px; padding: 0 6px; margin: 0 4px 4px 0; font-size: 13px; white-space: nowrap; }
.fz-verdict { font-weight: 700; padding: 6px 12px; border-radius: 6px; margin-bottom: 8px; }
.fz-claims { margin: 0; padding-left: 20px; }
.fz-claim { margin-bottom: 10px; padding: 6px 10px; border-left: 4px solid #9ca3af; background: #f9fafb; border-radius: 0 6px 6px 0; }
.fz-claim-head { font-weight: 600; }
.fz-badge { display: inline-block; font-size: 12px; border-radius: 4px; padding: 0 8px; margin-right: 8px; color: #fff; font-weight: 600; }
.fz-v-supported.fz-verdict, .fz-claim.fz-v-supported { background: #f0fdf4; border-color: #16a34a; color: #14532d; }
.fz-v-contradicted.fz-verdict, .fz-claim.fz-v-contradicted { background: #fef2f2; border-color: #dc2626; color: #7f1d1d; }
.fz-v-not_found.fz-verdict, .fz-claim.fz-v-not_found { background: #f3f4f6; border-color: #9ca3af; color: #374151; }
.fz-badge.fz-v-supported { background: #16a34a; } .fz-badge.fz-v-contradicted { background: #dc2626; } .fz-badge.fz-v-not_found { background: #6b7280; }
.fz-reason { font-size: 13px; margin-top: 2px; }
.fz-evidence, .fz-requirement { font-size: 14px; color: #374151; margin-top: 3px; font-weight: 400; }
.fz-requirement { color: #92400e; }
.fz-quiz { padding-left: 20px; margin: 0; }
.fz-quiz li { margin-bottom: 10px; }
.fz-qtype { display: inline-block; font-size: 12px; background: #fef3c7; color: #92400e; border-radius: 4px; padding: 0 6px; margin-right: 6px; }
.fz-options { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 4px 0; color: #374151; }
.fz-quiz details summary { cursor: pointer; color: var(--fz-blue); font-size: 13px; }
.fz-answer { font-weight: 600; color: #14532d; }
.fz-flags { margin-top: 10px; background: #fff7ed; border: 1px solid #fdba74; border-radius: 8px; padding: 6px 10px; font-size: 13px; }
.fz-flags summary { cursor: pointer; color: #9a3412; font-weight: 600; }
.fz-flags ul { margin: 6px 0 0 0; padding-left: 18px; }
.fz-flag-tag { display: inline-block; background: #fed7aa; color: #7c2d12; border-radius: 4px; padding: 0 6px; margin-right: 6px; font-size: 12px; }
.fz-flag-dropped .fz-flag-text { text-decoration: line-through; color: #9ca3af; }
.fz-flag-marked .fz-flag-text { text-decoration: underline wavy #dc2626; }
.fz-status { display: inline-block; border-radius: 4px; padding: 0 8px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.fz-st-ok { background: #dcfce7; color: #166534; } .fz-st-info { background: #dbeafe; color: #1e40af; }
.fz-st-muted { background: #f3f4f6; color: #4b5563; } .fz-st-warn { background: #fef3c7; color: #92400e; } .fz-st-bad { background: #fee2e2; color: #991b1b; }
.fz-upload-summary { font-weight: 600; margin: 6px 0; }
.fz-files { list-style: none; margin: 0; padding: 0; }
.fz-file { border: 1px solid var(--fz-line); border-radius: 6px; padding: 6px 8px; margin-bottom: 6px; font-size: 13px; background: #fff; }
.fz-file b { margin: 0 6px; }
.fz-file-id { color: var(--fz-muted); font-size: 12px; word-break: break-all; }
.fz-file-detail { color: #4b5563; margin-top: 3px; font-size: 12px; }
.fz-file-error { border-color: #fecaca; background: #fffafa; }
.fz-msg { border-radius: 6px; padding: 6px 10px; font-size: 14px; }
.fz-msg-ok { background: #f0fdf4; color: #166534; border: 1px solid #bbf7d0; }
.fz-msg-bad { background: #fef2f2; color: #991b1b; border: 1px solid #fecaca; }
.fz-msg-info { background: #eff6ff; color: #1e40af; border: 1px solid #bfdbfe; }
#fz-input textarea { font-size: 15px !important; }
#fz-doc-search textarea, #fz-doc-search input { border: 1px solid var(--fz-line) !important; border-radius: 6px !important; padding: 6px 10px !important; }
#fz-docs td, #fz-docs [role=gridcell], #fz-docs th { font-size: 13px !important; }
#fz-docs [role=gridcell] span, #fz-docs td span { font-family: inherit !important; word-break: break-all; }
#fz-delete { color: #b91c1c !important; border: 1px solid #fecaca !important; }
#fz-confirm-delete { background: #dc2626 !important; color: #fff !important; border: none !important; }
.fz-section-title { font-weight: 700; font-size: 15px; color: #7f1d1d; margin: 2px 0; }
"""

CONV_JS = """
let lastId = null, pinned = true;
function scroller(el) {
  for (let p = el.parentElement; p; p = p.parentElement) {
    const oy = getComputedStyle(p).overflowY;
    if ((oy === 'auto' || oy === 'scroll') && p.scrollHeight > p.clientHeight) return p;
  }
  return null;
}
function showLatest() {
  const turns = element.querySelectorAll('.fz-turn');
  if (!turns.length) { lastId = null; return; }
  const last = turns[turns.length - 1];
  if (last.id !== lastId) { lastId = last.id; pinned = true; }
  if (!pinned) return;
  requestAnimationFrame(() => {
    const box = scroller(last);
    if (box) box.scrollTop += last.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
  });
}
watch('value', showLatest);
element.addEventListener('wheel', () => { pinned = false; }, {passive: true});
element.addEventListener('touchmove', () => { pinned = false; }, {passive: true});
element.addEventListener('click', (ev) => {
  const a = ev.target.closest('.fz-cite');
  if (!a) return;
  ev.preventDefault();
  const turn = a.closest('.fz-turn');
  if (!turn) return;
  const n = a.dataset.n;
  turn.querySelectorAll('.fz-src.fz-active').forEach(e => e.classList.remove('fz-active'));
  turn.querySelectorAll('.fz-cite.fz-cite-on').forEach(e => e.classList.remove('fz-cite-on'));
  turn.querySelectorAll('.fz-cite[data-n="' + n + '"]').forEach(e => e.classList.add('fz-cite-on'));
  const card = turn.querySelector('.fz-src[data-n="' + n + '"]');
  if (card) {
    card.classList.add('fz-active');
    const box = card.closest('.fz-sources');
    if (box) box.scrollTop = card.offsetTop - box.offsetTop - 8;
    card.scrollIntoView({block: 'nearest'});
  }
});
"""


# ---- the Gradio app -------------------------------------------------------------------------------

def _theme():
    return gr.themes.Soft(primary_hue="red", secondary_hue="blue", neutral_hue="slate",
                          font=CJK_FONTS, font_mono=MONO_FONTS).set(
        block_label_background_fill="*neutral_100", block_label_text_color="*neutral_700",
        block_title_background_fill="transparent", block_title_text_color="*neutral_700",
        block_title_text_weight="600", checkbox_label_background_fill_selected="*primary_50",
        checkbox_label_text_color_selected="*primary_700")


def _filters(issuer, region, year_from, year_to, kinds):
    from vectorstore.retrieve import Filters

    def year(v):
        if v in (None, "", ANY_YEAR):
            return None
        try:
            return int(v)
        except (TypeError, ValueError):
            return None

    lo, hi = year(year_from), year(year_to)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    f = Filters(issuer=list(issuer or []), region=list(region or []), kind=list(kinds or []),
                year_from=lo, year_to=hi)
    return None if f.is_empty() else f


class WebApp:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.export_dir = Path(tempfile.mkdtemp(prefix="fazhi-export-"))

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
        filters = _filters(issuer, region, year_from, year_to, kinds)
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

        folder = Path(tempfile.mkdtemp(dir=self.export_dir))
        docx_path = folder / export.filename(answer, "docx")
        docx_path.write_bytes(export.to_docx(answer))
        md_path = folder / export.filename(answer, "md")
        md_path.write_text(export.to_markdown(answer), encoding="utf-8")
        return docx_path, md_path

    def stats(self) -> dict:
        return self.service.facets()

    # ---- knowledge base ----
    def upload(self, files, title, issuer, region, year, kind, progress=None):
        files = [f for f in (files or []) if f]
        if not files:
            return message_html("请先选择要上传的文件（txt / md / pdf / docx / html）。", "bad"), None
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
            if len(data) > self.service.kb.max_bytes:
                results.append({"path": path.name, "doc_id": "", "status": "error", "chunks": 0, "embedded": 0,
                                "message": f"文件过大：{len(data) / 2**20:.1f} MB，超过 {self.service.kb.max_bytes / 2**20:.0f} MB 的上限"})
                continue
            results.append(self.service.upload(path.name, data, fields))
        if progress is not None:
            progress((len(files), len(files)), desc="导入完成")
        return upload_results_html(results), None


def build_blocks(service: Service):
    app = WebApp(service)
    facets = service.facets()
    years = [ANY_YEAR] + [str(y) for y in facets["years"]]

    with gr.Blocks(title="法治政府建设报告助手", analytics_enabled=False, fill_width=True) as demo:
        header = gr.HTML(stats_html(facets), elem_id="fz-header", js_on_load=None)
        with gr.Tabs(elem_id="fz-tabs"):
            # ================= chat =================
            with gr.Tab("智能问答", id="chat", elem_id="fz-tab-chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=270, elem_id="fz-sidebar"):
                        mode = gr.Radio(MODES, value="ask", label="模式", elem_id="fz-mode")
                        mode_help = gr.Markdown(MODE_HELP["ask"], elem_id="fz-mode-help")
                        agency = gr.Textbox(label="本单位名称（起草用，替换“我办/我局/我县”）", placeholder="如：某某区司法局",
                                            visible=False, elem_id="fz-agency")
                        quiz_n = gr.Slider(1, 10, value=5, step=1, label="题目数量", visible=False, elem_id="fz-quiz-n")
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
                        gr.HTML('<div class="fz-section-title">导出最新回答</div>', js_on_load=None)
                        with gr.Row():
                            dl_docx = gr.DownloadButton("导出 Word", interactive=False, size="sm",
                                                        elem_id="fz-export-docx")
                            dl_md = gr.DownloadButton("导出 Markdown", interactive=False, size="sm", elem_id="fz-export-md")
                        clear = gr.Button("清空对话", size="sm", variant="secondary", elem_id="fz-clear")
                    with gr.Column(scale=4):
                        conv = gr.HTML(conversation_html([], facets), elem_id="fz-conv", js_on_load=CONV_JS,
                                       autoscroll=False, max_height=720, min_height=420)
                        with gr.Row(equal_height=True):
                            question = gr.Textbox(show_label=False, placeholder=PLACEHOLDER["ask"], lines=1, max_lines=8,
                                                  scale=8, elem_id="fz-input", autofocus=True)
                            send = gr.Button("发送", variant="primary", scale=1, min_width=90, elem_id="fz-send")
                        examples = gr.Dataset(components=[question], samples=[[q] for q in EXAMPLES["ask"]],
                                              label="示例问题（点击填入）", elem_id="fz-examples")
                turns = gr.State([])

            # ================= knowledge base =================
            with gr.Tab("知识库管理", id="kb", elem_id="fz-tab-kb"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2, min_width=320):
                        gr.HTML('<div class="fz-section-title">上传文件</div>', js_on_load=None)
                        up_files = gr.File(file_count="multiple", file_types=[".txt", ".md", ".pdf", ".docx", ".html", ".htm"],
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
                        docs_df = gr.Dataframe(doc_rows(service.documents()), headers=DOC_HEADERS, interactive=False,
                                               wrap=True, max_height=520, elem_id="fz-docs",
                                               column_widths=["24%", "30%", "13%", "9%", "5%", "7%", "4%", "8%"])
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
                            save = gr.Button("保存元数据", variant="primary", elem_id="fz-save")
                            reingest = gr.Button("重新导入", elem_id="fz-reingest")
                            replace = gr.UploadButton("上传新版本替换", file_types=[".txt", ".md", ".pdf", ".docx", ".html", ".htm"],
                                                      elem_id="fz-replace")
                            delete = gr.Button("删除文档", variant="stop", elem_id="fz-delete")
                        with gr.Row(visible=False) as confirm_row:
                            confirm_txt = gr.HTML("", js_on_load=None)
                            confirm = gr.Button("确认删除", variant="stop", elem_id="fz-confirm-delete")
                            cancel = gr.Button("取消", elem_id="fz-cancel-delete")
                        kb_msg = gr.HTML("", elem_id="fz-kb-msg", js_on_load=None)

        # ---------------- events: chat ----------------
        def on_mode(m):
            return (MODE_HELP[m], gr.Textbox(visible=m == "draft"), gr.Slider(visible=m == "quiz"),
                    gr.Textbox(placeholder=PLACEHOLDER[m]), gr.Dataset(samples=[[q] for q in EXAMPLES[m]]))

        mode.change(on_mode, mode, [mode_help, agency, quiz_n, question, examples], queue=False)
        examples.click(lambda s: s[0] if s else "", examples, question, queue=False)
        reset.click(lambda: ([], [], ANY_YEAR, ANY_YEAR, []), None, [f_issuer, f_region, f_from, f_to, f_kind], queue=False)
        ask_inputs = [question, mode, f_issuer, f_region, f_from, f_to, f_kind, agency, quiz_n, turns]
        ask_outputs = [conv, turns, question, dl_docx, dl_md]
        send.click(app.submit, ask_inputs, ask_outputs, concurrency_limit=4)
        question.submit(app.submit, ask_inputs, ask_outputs, concurrency_limit=4)

        def on_clear():
            return conversation_html([], app.stats()), [], gr.DownloadButton(value=None, interactive=False), \
                gr.DownloadButton(value=None, interactive=False)

        clear.click(on_clear, None, [conv, turns, dl_docx, dl_md], queue=False)

        # ---------------- events: knowledge base ----------------
        def refreshed(query=""):
            f = app.stats()
            yrs = [ANY_YEAR] + [str(y) for y in f["years"]]
            return (stats_html(f), doc_rows(service.documents(), query), gr.Dropdown(choices=f["issuers"]),
                    gr.Dropdown(choices=f["regions"]), gr.Dropdown(choices=yrs), gr.Dropdown(choices=yrs))

        refresh_outputs = [header, docs_df, f_issuer, f_region, f_from, f_to]

        def do_upload(files, title, issuer, region, year, kind, query, progress=gr.Progress()):
            html_out, _ = app.upload(files, title, issuer, region, year, kind, progress)
            return (html_out, None) + refreshed(query)

        up_btn.click(do_upload, [up_files, u_title, u_issuer, u_region, u_year, u_kind, doc_search],
                     [up_result, up_files] + refresh_outputs, concurrency_limit=1)
        doc_search.change(lambda q: doc_rows(service.documents(), q), doc_search, docs_df, queue=False)
        refresh.click(refreshed, doc_search, refresh_outputs)
        edit_fields = [e_id, e_title, e_issuer, e_region, e_year, e_kind, e_level, e_number]

        def on_select(evt: gr.SelectData):
            row = evt.row_value or []
            d = service.document(row[0]) if row else None
            if d is None:
                return [gr.skip()] * len(edit_fields) + [message_html("未找到该文档，请刷新列表。", "bad"), gr.Row(visible=False)]
            return [d["id"], d.get("title") or "", d.get("issuer") or "", d.get("region") or "",
                    str(d.get("year") or ""), d.get("kind") or None, d.get("level") or "", d.get("doc_number") or "",
                    message_html(f"已选中：{d['id']}（{d.get('chunks')} 个段落）", "info"), gr.Row(visible=False)]

        docs_df.select(on_select, None, edit_fields + [kb_msg, confirm_row], queue=False)

        def on_save(doc_id, title, issuer, region, year, kind, level, number, query):
            if not doc_id:
                return (message_html("请先在列表中选择一个文档。", "bad"),) + tuple(gr.skip() for _ in refresh_outputs)
            try:
                service.update(doc_id, {"title": title, "issuer": issuer, "region": region, "year": year,
                                        "kind": kind, "level": level, "doc_number": number})
            except ServiceError as exc:
                return (message_html(str(exc), "bad"),) + tuple(gr.skip() for _ in refresh_outputs)
            return (message_html(f"已保存 {doc_id} 的元数据。", "ok"),) + refreshed(query)

        save.click(on_save, edit_fields + [doc_search], [kb_msg] + refresh_outputs)

        def on_reingest(doc_id, query, progress=gr.Progress()):
            if not doc_id:
                return (message_html("请先在列表中选择一个文档。", "bad"),) + tuple(gr.skip() for _ in refresh_outputs)
            progress(0.1, desc=f"正在重新导入 {doc_id}…")
            try:
                res = service.reingest(doc_id)
            except ServiceError as exc:
                return (message_html(str(exc), "bad"),) + tuple(gr.skip() for _ in refresh_outputs)
            if res["status"] == "error":
                return (message_html(f"重新导入失败：{res['message']}", "bad"),) + refreshed(query)
            return (message_html(f"已重新导入 {doc_id}：{res['chunks']} 个段落，新向量化 {res['embedded']} 个。", "ok"),) \
                + refreshed(query)

        reingest.click(on_reingest, [e_id, doc_search], [kb_msg] + refresh_outputs, concurrency_limit=1)

        def on_replace(file, doc_id, query, progress=gr.Progress()):
            if not doc_id:
                return (message_html("请先在列表中选择要替换的文档。", "bad"),) + tuple(gr.skip() for _ in refresh_outputs)
            path = Path(getattr(file, "name", file))
            if path.suffix.lower() != Path(doc_id).suffix.lower():
                return (message_html(f"新版本应与原文件同为 {Path(doc_id).suffix} 格式。", "bad"),) + \
                    tuple(gr.skip() for _ in refresh_outputs)
            progress(0.1, desc=f"正在用 {path.name} 替换 {doc_id}…")
            current = service.document(doc_id) or {}
            fields = {k: current.get(k) for k in ("title", "issuer", "region", "year", "kind", "level", "doc_number")}
            res = service.upload(path.name, path.read_bytes(), fields, doc_id=doc_id)
            label, kind = STATUS_ZH.get(res["status"], (res["status"], "muted"))
            msg = f"{doc_id}：{label}" + (f"，{res['chunks']} 个段落" if res["status"] in ("added", "replaced") else "") + \
                  (f"（{res['message']}）" if res.get("message") else "")
            return (message_html(msg, "bad" if res["status"] == "error" else "ok"),) + refreshed(query)

        replace.upload(on_replace, [replace, e_id, doc_search], [kb_msg] + refresh_outputs, concurrency_limit=1)

        def on_delete(doc_id):
            if not doc_id:
                return message_html("请先在列表中选择一个文档。", "bad"), gr.Row(visible=False), ""
            return "", gr.Row(visible=True), f'<div class="fz-msg fz-msg-bad">确定从知识库删除 {esc(doc_id)}？此操作不可撤销。</div>'

        delete.click(on_delete, e_id, [kb_msg, confirm_row, confirm_txt], queue=False)
        cancel.click(lambda: gr.Row(visible=False), None, confirm_row, queue=False)

        def on_confirm(doc_id, query):
            try:
                n = service.delete(doc_id)
            except ServiceError as exc:
                return (message_html(str(exc), "bad"), gr.Row(visible=False)) + tuple([gr.skip()] * 8) + \
                    tuple(gr.skip() for _ in refresh_outputs)
            return (message_html(f"已删除 {doc_id}（{n} 个段落）。", "ok"), gr.Row(visible=False)) + \
                ("", "", "", "", "", None, "", "") + refreshed(query)

        confirm.click(on_confirm, [e_id, doc_search], [kb_msg, confirm_row] + edit_fields + refresh_outputs,
                      concurrency_limit=1)

        demo.load(refreshed, None, refresh_outputs, queue=False)
    return demo


# ---- launch -----------------------------------------------------------------------------------------

LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
    api = create_api(service, users)
    blocks = build_blocks(service)
    blocks.queue(default_concurrency_limit=2)
    max_mb = max(1, int(service.kb.max_bytes / 2**20) + 1)
    app = gr.mount_gradio_app(
        api, blocks, path="/", auth=users or None,
        auth_message="法治政府建设报告助手：请输入用户名和密码" if users else None,
        footer_links=[], run_history=False, show_error=True, max_file_size=f"{max_mb}mb",
        theme=_theme(), css=CSS, ssr_mode=False, mcp_server=False, pwa=False,
        i18n=gr.I18n(en=UI_STRINGS, **{"en-US": UI_STRINGS}),
    )
    app.state.service = service
    app.state.blocks = blocks
    return app


def resolve_bind(host: str | None, users: list) -> tuple[str, str | None]:
    """(host to bind, warning). Without login the app binds 127.0.0.1 only."""
    host = (host or "127.0.0.1").strip()
    if not users and host not in LOOPBACK:
        return "127.0.0.1", (f"未设置登录，不监听 {host}，仅监听 127.0.0.1（设置 FAZHI_AUTH=用户:密码 或 --auth 后才可对外提供服务）"
                             f" / no login configured: binding 127.0.0.1 instead of {host}")
    return host, None


def launch(assistant, host: str | None = None, port: int | None = None, auth: str | None = None) -> int:
    """Serve the web app and the API until interrupted (``fazhi serve``)."""
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
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    except OSError as exc:
        print(f"error: 无法监听 {host}:{port}：{exc}", file=sys.stderr)
        return 1
    except SystemExit as exc:  # uvicorn exits when the port is taken
        return int(exc.code or 1)
    return 0
