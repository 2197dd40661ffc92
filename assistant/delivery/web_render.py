"""HTML rendering of answers, sources, uploads and documents for the web app (pure functions)."""
from __future__ import annotations

import html
import re
from pathlib import Path

from .export import FLAG_ACTION_ZH, FLAG_REASON_ZH, KIND_ZH, MODE_ZH, QUIZ_TYPE_ZH, VERDICT_ZH

MODES = [("问答", "ask"), ("对比", "compare"), ("起草", "draft"), ("核对", "check"), ("出题", "quiz")]
MODE_HELP = {
    "ask": "**问答**：直接回答问题，每句话标注出处 [n]；知识库中没有依据时明确告知。",
    "compare": "**对比**：“其他单位是如何……的”——按单位列出做法、关键数字和出处。",
    "draft": "**起草**：参照多个单位的原文起草本单位报告的段落；我办/我局等换成本单位名称，数字和年份留作【】待填。",
    "check": "**核对**：逐条核对一段表述是否与来源一致（属实 / 不符 / 未找到），并给出相关规定要求。",
    "quiz": "**出题**：围绕一个主题出填空、选择、判断题，附答案和出处，用于学法考试。",
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


def human_title(s: dict) -> str:
    """A document's title as a reader knows it; a bare file id (no title was found) becomes its file name."""
    title = (s.get("title") or "").strip()
    if title and title != s.get("doc_id"):
        return title
    return Path(s.get("doc_id") or "").stem or "（无标题）"


def source_card(s: dict) -> str:
    """A cited source: title, issuer, year, kind, 文号, section and page; the file id and character offsets behind
    a 详情 toggle; 查看原文 opens the document with this passage highlighted (文档查看)."""
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
        f'<span class="fz-src-title">《{esc(human_title(s))}》</span></div>'
        f'<div class="fz-src-meta">{" · ".join(m for m in meta if m)}</div>'
        + (f'<div class="fz-src-path">章节：{path}</div>' if path else "")
        + f'<div class="fz-src-ctx">{esc(_trim_before(s.get("context_before")))}'
          f'<mark>{esc(s.get("quote"))}</mark>{esc(_trim_after(s.get("context_after")))}</div>'
          f'<div class="fz-src-foot"><a class="fz-open-doc" href="#" data-doc="{esc(s.get("doc_id"))}" '
          f'data-start="{s.get("start")}" data-end="{s.get("end")}">查看原文 ›</a>'
          f'<details class="fz-src-more"><summary>详情</summary><div class="fz-src-id">文件：{esc(s.get("doc_id"))}'
          f'<br>位置：第 {s.get("start")}–{s.get("end")} 字</div></details></div>'
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
            detail = f"{r.get('chunks', 0)} 个段落，新向量化 {r.get('embedded', 0)} 个" + (f"；{detail}" if detail else "") \
                + (f"；OCR 识别 {r['ocr_pages']} 页" if r.get("ocr_pages") else "")
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


def filters_from_fields(issuer, region, year_from, year_to, kinds):
    """The page's filter fields (issuers, regions, year range, kinds) as ``Filters`` (None when empty)."""
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
    return Filters.parse({"issuer": list(issuer or []), "region": list(region or []), "kind": list(kinds or []),
                          "year_from": lo, "year_to": hi})
