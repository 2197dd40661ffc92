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
    q = re.sub(r"^核对\s*[:：]\s*", "", q) if a.get("mode") == "check" else q  # not 核对：核对：…
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

VERDICT_RGB = {"supported": (0x1B, 0x7F, 0x3B), "contradicted": (0xC0, 0x26, 0x26), "not_found": (0x6B, 0x72, 0x80)}


def _date_zh() -> str:
    d = _dt.date.today()
    return f"{d.year}年{d.month}月{d.day}日"


def to_docx(answer, title: str | None = None) -> bytes:
    """The answer as an A4 .docx in 公文 layout (``docx_style``): title, question, 一、回答 (a table with widths
    by content for compare), 二、核验提示, and the numbered references last."""
    from . import docx_style as ds

    a = as_dict(answer)
    head = title or doc_title(a)
    doc = ds.new_document(head, a.get("question") or "")
    sources = a.get("sources") or []
    ds.add_title(doc, head, f"（{MODE_ZH.get(a.get('mode', ''), '回答')} · {_date_zh()} · 引用来源{len(sources)}条）")
    q = ds.body(doc)
    ds.set_font(q.add_run("问题："), ds.HEI)
    q.add_run((a.get("question") or "").strip())

    mode = a.get("mode")
    section = 1
    ds.add_heading(doc, section, "正文" if mode == "draft" else "回答")
    if a.get("refused"):
        for ln in _text_lines(a):
            if ln.strip():
                ds.body(doc, ln.strip())
    elif mode == "compare" and a.get("compare"):
        first = _text_lines(a)[0] if a.get("text") else ""
        if first:
            ds.body(doc, first)
        rows = [[r.get("agency") or "", str(r.get("year") or ""),
                 "\n".join(f"{t}[{n}]" for t, n in zip(r.get("practice") or [], r.get("sources") or [])),
                 "、".join(r.get("figures") or []), _cites(r.get("sources"))] for r in a["compare"]]
        ds.add_table(doc, ["单位", "年份", "做法", "关键数字", "来源"], rows, marked_columns=(2,))
    elif mode == "check" and a.get("claims"):
        if a.get("verdict"):
            p = ds.body(doc)
            ds.set_font(p.add_run(f"总体结论：{VERDICT_ZH.get(a['verdict'], a['verdict'])}"), ds.HEI,
                        color=VERDICT_RGB.get(a["verdict"]))
        for i, c in enumerate(a["claims"], 1):
            ds.add_heading(doc, i, c.get("claim") or "", level=2)
            p = ds.body(doc)
            ds.set_font(p.add_run(f"结论：{VERDICT_ZH.get(c.get('verdict'), c.get('verdict'))}"), ds.HEI,
                        color=VERDICT_RGB.get(c.get("verdict")))
            if c.get("reason"):
                ds.body(doc, f"说明：{c['reason']}")
            for e in c.get("evidence") or []:
                ds.body(doc, f"依据：{e.get('text', '')}[{e.get('source')}]")
            for rq in c.get("requirements") or []:
                ds.body(doc, f"相关要求（{rq.get('doc_number') or rq.get('title') or ''}）：{rq.get('text', '')}[{rq.get('source')}]")
    elif mode == "quiz" and a.get("quiz"):
        for i, item in enumerate(a["quiz"], 1):
            p = ds.body(doc)
            ds.set_font(p.add_run(f"{i}．（{QUIZ_TYPE_ZH.get(item.get('type'), '题目')}）"), ds.HEI)
            p.add_run(item.get("question") or "")
            for j, o in enumerate(item.get("options") or []):
                ds.body(doc, f"{'ABCD'[j]}. {o}")
            ds.body(doc, f"答案：{item.get('answer', '')}")
            ds.body(doc, f"依据：{item.get('evidence', '')}[{item.get('source')}]")
    else:
        for ln in _text_lines(a):
            if ln.strip():
                ds.body(doc, ln.strip())

    flags = _flags(a)
    if flags:
        section += 1
        ds.add_heading(doc, section, "核验提示")
        for f in flags:
            p = ds.body(doc)
            ds.set_font(p.add_run(f"{FLAG_ACTION_ZH.get(f.get('action'), f.get('action'))}"
                                  f"（{FLAG_REASON_ZH.get(f.get('reason'), f.get('reason'))}）："), ds.HEI)
            r2 = p.add_run(f["sentence"])
            r2.font.strike = f.get("action") == "dropped"
    ds.add_references(doc, section + 1, [(s["number"], reference_line(s), (s.get("quote") or "").strip())
                                         for s in sources])
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
