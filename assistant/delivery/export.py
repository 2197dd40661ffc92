"""Export an answer or a draft to Word (.docx, python-docx) or Markdown, with numbered references at the end.

Both take an ``Answer`` or its ``to_dict()`` form (what the HTTP API returns), so an answer fetched
as JSON can be exported later without the knowledge base.
"""
from __future__ import annotations

import datetime as _dt
import io
import re
from dataclasses import asdict, is_dataclass

from ..labels import FLAG_ACTION_ZH, FLAG_REASON_ZH, KIND_ZH, MODE_ZH, QUIZ_TYPE_ZH, VERDICT_ZH  # noqa: F401

MARKER_RE = re.compile(r"\[(\d{1,3})\]")
_FILENAME_BAD = re.compile(r"[\\/:*?\"<>|\s\[\]【】]+")


def as_dict(answer) -> dict:
    """An Answer, a dataclass of the same shape, or its JSON dict -> dict."""
    if isinstance(answer, dict):
        return answer
    if hasattr(answer, "to_dict"):
        return answer.to_dict()
    if is_dataclass(answer):
        return asdict(answer)
    raise TypeError(f"cannot export {type(answer).__name__}")


def doc_title(a: dict) -> str:
    mode = MODE_ZH.get(a.get("mode", ""), "回答")
    q = (a.get("question") or "").strip().replace("\n", " ")
    if len(q) > 40:
        q = q[:40] + "…"
    return f"{mode}：{q}" if q else mode


def filename(answer, ext: str) -> str:
    """A safe file name such as ``问答-镇巴县划转了多少项行政审批事项-20250101-0930.docx``."""
    a = as_dict(answer)
    q = _FILENAME_BAD.sub("", (a.get("question") or "")[:24]).strip("._-") or "answer"
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{MODE_ZH.get(a.get('mode', ''), 'answer')}-{q}-{stamp}.{ext.lstrip('.')}"


def reference_line(s: dict) -> str:
    """One numbered reference: 《title》，issuer，year，文号，heading path，page. “quote”"""
    parts = [f"《{s.get('title') or s.get('doc_id')}》"]
    for v in (s.get("issuer"), f"{s['year']}年" if s.get("year") else "", s.get("doc_number")):
        if v and v not in parts[0]:
            parts.append(str(v))
    if s.get("heading_path"):
        parts.append(" > ".join(s["heading_path"]))
    if s.get("page"):
        parts.append(f"第{s['page']}页")
    return "，".join(parts)


def _text_lines(a: dict) -> list[str]:
    return [ln for ln in (a.get("text") or "").split("\n")]


def _flags(a: dict) -> list[dict]:
    return [f for f in a.get("flags") or [] if f.get("sentence")]


def _md_escape_cell(s: str) -> str:
    return (s or "").replace("|", "\\|").replace("\n", " ")


def _cites(numbers) -> str:
    return "".join(f"[{n}]" for n in numbers or [])


# ---- Markdown ---------------------------------------------------------------------------------------

def to_markdown(answer, title: str | None = None) -> str:
    a = as_dict(answer)
    out = [f"# {title or doc_title(a)}", ""]
    out.append(f"- 模式：{MODE_ZH.get(a.get('mode', ''), a.get('mode', ''))}")
    out.append(f"- 问题：{(a.get('question') or '').strip()}")
    out.append(f"- 生成时间：{_dt.datetime.now():%Y-%m-%d %H:%M}")
    out.append(f"- 来源数：{len(a.get('sources') or [])}（每处 [n] 对应文末参考来源）")
    out.append("")
    mode = a.get("mode")
    if a.get("refused"):
        out += ["> " + ln for ln in _text_lines(a)]
    elif mode == "compare" and a.get("compare"):
        out += ["| 单位 | 年份 | 做法 | 关键数字 | 来源 |", "|---|---|---|---|---|"]
        for r in a["compare"]:
            out.append("| " + " | ".join([
                _md_escape_cell(r.get("agency", "")), str(r.get("year") or ""),
                _md_escape_cell("".join(r.get("practice") or [])), _md_escape_cell("、".join(r.get("figures") or [])),
                _cites(r.get("sources"))]) + " |")
    elif mode == "check" and a.get("claims"):
        if a.get("verdict"):
            out += [f"**总体结论：{VERDICT_ZH.get(a['verdict'], a['verdict'])}**", ""]
        for i, c in enumerate(a["claims"], 1):
            out.append(f"{i}. 【{VERDICT_ZH.get(c.get('verdict'), c.get('verdict'))}】{c.get('claim', '')}")
            if c.get("reason"):
                out.append(f"   - 说明：{c['reason']}")
            for e in c.get("evidence") or []:
                out.append(f"   - 依据：{e.get('text', '')}[{e.get('source')}]")
            for r in c.get("requirements") or []:
                out.append(f"   - 相关要求（{r.get('doc_number') or r.get('title') or ''}）：{r.get('text', '')}[{r.get('source')}]")
    elif mode == "quiz" and a.get("quiz"):
        for i, q in enumerate(a["quiz"], 1):
            out.append(f"{i}. （{QUIZ_TYPE_ZH.get(q.get('type'), '题目')}）{q.get('question', '')}")
            for j, o in enumerate(q.get("options") or []):
                out.append(f"   - {'ABCD'[j]}. {o}")
            out.append(f"   - 答案：{q.get('answer', '')}")
            out.append(f"   - 依据：{q.get('evidence', '')}[{q.get('source')}]")
    else:
        for ln in _text_lines(a):
            out += [ln, ""] if ln.strip() else []
    flags = _flags(a)
    if flags:
        out += ["", "## 核验提示", ""]
        for f in flags:
            out.append(f"- {FLAG_ACTION_ZH.get(f.get('action'), f.get('action'))}（{FLAG_REASON_ZH.get(f.get('reason'), f.get('reason'))}）："
                       f"~~{f['sentence']}~~")
    sources = a.get("sources") or []
    if sources:
        out += ["", "## 参考来源", ""]
        for s in sources:
            out.append(f"[{s['number']}] {reference_line(s)}")
            out.append(f"    > “{(s.get('quote') or '').strip()}”")
    return "\n".join(out).rstrip() + "\n"


# ---- Word -------------------------------------------------------------------------------------------

def _set_font(run_or_style, name: str, size_pt: float | None = None, bold: bool | None = None, color=None) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    font = run_or_style.font
    font.name = name
    element = run_or_style.element
    rpr = element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), name)
    if size_pt:
        font.size = Pt(size_pt)
    if bold is not None:
        font.bold = bold
    if color is not None:
        font.color.rgb = RGBColor(*color)


def _add_marked(paragraph, text: str, color=None) -> None:
    """Text with [n] markers as superscript runs."""
    pos = 0
    for m in MARKER_RE.finditer(text):
        if m.start() > pos:
            r = paragraph.add_run(text[pos:m.start()])
            if color:
                _set_font(r, "仿宋", color=color)
        r = paragraph.add_run(m.group(0))
        r.font.superscript = True
        pos = m.end()
    if pos < len(text):
        r = paragraph.add_run(text[pos:])
        if color:
            _set_font(r, "仿宋", color=color)


VERDICT_RGB = {"supported": (0x1B, 0x7F, 0x3B), "contradicted": (0xC0, 0x26, 0x26), "not_found": (0x6B, 0x72, 0x80)}


def to_docx(answer, title: str | None = None) -> bytes:
    """The answer as a .docx: title, question, body (tables for compare), 核验提示, 参考来源 [1]…[n]."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    a = as_dict(answer)
    doc = Document()
    normal = doc.styles["Normal"]
    _set_font(normal, "仿宋", 12)
    normal.paragraph_format.line_spacing = 1.4
    for name in ("Title", "Heading 1", "Heading 2"):
        _set_font(doc.styles[name], "黑体", bold=True, color=(0, 0, 0))
    doc.core_properties.title = title or doc_title(a)
    doc.core_properties.subject = a.get("question") or ""
    doc.core_properties.author = "法治政府建设报告助手"

    h = doc.add_heading(title or doc_title(a), level=0)
    h.alignment = WD_ALIGN_PARAGRAPH.CENTER
    meta = doc.add_paragraph()
    meta_run = meta.add_run(f"模式：{MODE_ZH.get(a.get('mode', ''), a.get('mode', ''))}    "
                            f"生成时间：{_dt.datetime.now():%Y-%m-%d %H:%M}    来源：{len(a.get('sources') or [])}条")
    meta_run.font.size = Pt(10)
    q = doc.add_paragraph()
    q.add_run("问题：").bold = True
    q.add_run((a.get("question") or "").strip())

    mode = a.get("mode")
    doc.add_heading("正文" if mode == "draft" else "回答", level=1)
    if a.get("refused"):
        for ln in _text_lines(a):
            if ln.strip():
                doc.add_paragraph(ln)
    elif mode == "compare" and a.get("compare"):
        first = _text_lines(a)[0] if a.get("text") else ""
        if first:
            doc.add_paragraph(first)
        table = doc.add_table(rows=1, cols=5)
        table.style = "Table Grid"
        for cell, label in zip(table.rows[0].cells, ("单位", "年份", "做法", "关键数字", "来源")):
            cell.text = ""
            cell.paragraphs[0].add_run(label).bold = True
        for r in a["compare"]:
            cells = table.add_row().cells
            cells[0].text = r.get("agency") or ""
            cells[1].text = str(r.get("year") or "")
            cells[2].text = ""
            _add_marked(cells[2].paragraphs[0], "".join(
                f"{t}[{n}]" for t, n in zip(r.get("practice") or [], r.get("sources") or [])))
            cells[3].text = "、".join(r.get("figures") or [])
            cells[4].text = _cites(r.get("sources"))
    elif mode == "check" and a.get("claims"):
        if a.get("verdict"):
            p = doc.add_paragraph()
            r = p.add_run(f"总体结论：{VERDICT_ZH.get(a['verdict'], a['verdict'])}")
            _set_font(r, "黑体", bold=True, color=VERDICT_RGB.get(a["verdict"]))
        for i, c in enumerate(a["claims"], 1):
            p = doc.add_paragraph()
            r = p.add_run(f"{i}. 【{VERDICT_ZH.get(c.get('verdict'), c.get('verdict'))}】")
            _set_font(r, "黑体", bold=True, color=VERDICT_RGB.get(c.get("verdict")))
            p.add_run(c.get("claim") or "")
            if c.get("reason"):
                doc.add_paragraph(f"说明：{c['reason']}")
            for e in c.get("evidence") or []:
                _add_marked(doc.add_paragraph(), f"依据：{e.get('text', '')}[{e.get('source')}]")
            for rq in c.get("requirements") or []:
                _add_marked(doc.add_paragraph(), f"相关要求（{rq.get('doc_number') or rq.get('title') or ''}）："
                                                 f"{rq.get('text', '')}[{rq.get('source')}]")
    elif mode == "quiz" and a.get("quiz"):
        for i, item in enumerate(a["quiz"], 1):
            p = doc.add_paragraph()
            p.add_run(f"{i}. （{QUIZ_TYPE_ZH.get(item.get('type'), '题目')}）").bold = True
            p.add_run(item.get("question") or "")
            for j, o in enumerate(item.get("options") or []):
                doc.add_paragraph(f"{'ABCD'[j]}. {o}")
            doc.add_paragraph(f"答案：{item.get('answer', '')}")
            _add_marked(doc.add_paragraph(), f"依据：{item.get('evidence', '')}[{item.get('source')}]")
    else:
        for ln in _text_lines(a):
            if ln.strip():
                p = doc.add_paragraph()
                if mode == "draft":
                    p.paragraph_format.first_line_indent = Pt(24)
                _add_marked(p, ln.strip())

    flags = _flags(a)
    if flags:
        doc.add_heading("核验提示", level=2)
        for f in flags:
            p = doc.add_paragraph()
            r = p.add_run(f"{FLAG_ACTION_ZH.get(f.get('action'), f.get('action'))}"
                          f"（{FLAG_REASON_ZH.get(f.get('reason'), f.get('reason'))}）：")
            r.bold = True
            r2 = p.add_run(f["sentence"])
            r2.font.strike = f.get("action") == "dropped"

    sources = a.get("sources") or []
    if sources:
        doc.add_heading("参考来源", level=1)
        for s in sources:
            p = doc.add_paragraph()
            p.paragraph_format.left_indent = Pt(24)
            p.paragraph_format.first_line_indent = Pt(-24)
            p.add_run(f"[{s['number']}] ").bold = True
            p.add_run(reference_line(s))
            quote = (s.get("quote") or "").strip()
            if quote:
                qr = p.add_run(f"\n“{quote}”")
                qr.italic = True
                qr.font.size = Pt(10.5)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
