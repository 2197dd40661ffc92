"""Review sheet renderers: Markdown and Word (summary table first, then structure, claims,
requirements; every finding with its citation; numbered references at the end)."""
from __future__ import annotations

from pathlib import Path

from ..labels import PART_HOW_ZH as HOW_ZH, PART_STATUS_ZH as STATUS_ZH, REVIEW_VERDICT_ZH as VERDICT_ZH
from ..review import Review


def _summary_rows(r: Review) -> list[tuple[str, str]]:
    s = r.summary()
    return [
        ("报告", r.title or "（无标题）"),
        ("报告单位", r.agency or "（未识别）"),
        (f"结构（{s['parts']}个部分）", f"具备 {s['parts_present']}，单薄 {s['parts_thin']}，缺失 {s['parts_missing']}"
                                       + (f"，未写（非必需）{s['parts_optional_missing']}" if s["parts_optional_missing"] else "")),
        ("事实性表述", f"共 {s['claims']} 句：一致 {s['supported']}，不符 {s['contradicted']}，"
                   f"未找到 {s['not_found']}，需本单位核实 {s['needs_agency_records']}"),
        ("上级要求覆盖", f"{s['requirements_addressed']}/{s['requirements']} 条有对应表述" if s["requirements"] else "未选择上级文件"),
    ]  # no timing line: how long the review took is no finding about the report


def _refs(r: Review) -> list[str]:
    out = []
    for s in r.sources:
        loc = " > ".join(s.heading_path)
        out.append(f"[{s.number}] 《{s.title}》 {s.issuer} {s.year or ''}{'｜' + loc if loc else ''}：{s.quote}")
    return out


def to_markdown(r: Review) -> str:
    lines = ["# 法治政府建设年度报告审阅意见", "", "| 项目 | 结果 |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in _summary_rows(r)]
    lines += ["", f"## 一、结构完整性", f"依据：{r.template_source}", ""]
    for p in r.parts:
        lines.append(f"- **{p.name}**：{STATUS_ZH[p.status]}（{HOW_ZH[p.how]}）"
                     + (f"，标题：{'；'.join(p.headings)}" if p.headings else ""))
        for e in p.examples:
            lines.append(f"  - 可参考 {e['agency']}：{e['text']}[{e['source']}]")
    lines += ["", "## 二、事实性表述核对", ""]
    for c in r.claims:
        lines.append(f"- 【{VERDICT_ZH[c.verdict]}】{c.sentence}" + (f"（{c.reason}）" if c.reason else ""))
        for e in c.evidence:
            lines.append(f"  - 依据：{e['text']}[{e['source']}]")
    lines += ["", "## 三、上级要求覆盖情况", ""]
    if not r.requirements:
        lines.append("未选择上级文件。")
    for q in r.requirements:
        mark = "已覆盖" if q.addressed_by else "未见对应表述"
        lines.append(f"- 【{mark}】{q.requirement}[{q.source}]")
        for s in q.addressed_by:
            lines.append(f"  - 报告表述：{s}")
    lines += ["", "## 参考来源", ""] + _refs(r)
    return "\n".join(lines) + "\n"


def to_docx(r: Review, path: str | Path) -> Path:
    """The review sheet as an A4 .docx in 公文 layout (``docx_style``): the summary table (widths by content),
    一、结构完整性 二、事实性表述核对 三、上级要求覆盖情况 (（一） per governing document), references last."""
    from . import docx_style as ds

    colours = {"missing": (0xC0, 0x00, 0x00), "thin": (0xB0, 0x6B, 0x00), "contradicted": (0xC0, 0x00, 0x00),
               "supported": (0x00, 0x80, 0x00)}
    title = "法治政府建设年度报告审阅意见"
    d = ds.new_document(title, r.title or "")
    ds.add_title(d, title, f"（{r.agency}）" if r.agency else "")
    ds.add_table(d, ["项目", "结果"], [[k, str(v)] for k, v in _summary_rows(r)])
    ds.add_heading(d, 1, "结构完整性")
    ds.body(d, f"依据：{r.template_source}")
    for i, p in enumerate(r.parts, 1):
        para = ds.body(d)
        para.add_run(f"{i}．{p.name}：")
        ds.set_font(para.add_run(f"{STATUS_ZH[p.status]}"), ds.HEI, color=colours.get(p.status) if p.required else None)
        para.add_run(f"（{HOW_ZH[p.how]}）" + (f"，标题：{'；'.join(p.headings)}" if p.headings else ""))
        for e in p.examples:
            ds.add_marked(ds.body(d), f"可参考 {e['agency']}：{e['text']}[{e['source']}]", ds.KAI)
    ds.add_heading(d, 2, "事实性表述核对")
    for i, c in enumerate(r.claims, 1):
        para = ds.body(d)
        para.add_run(f"{i}．")
        ds.set_font(para.add_run(f"【{VERDICT_ZH[c.verdict]}】"), ds.HEI, color=colours.get(c.verdict))
        para.add_run(c.sentence + (f"（{c.reason}）" if c.reason else ""))
        for e in c.evidence:
            ds.add_marked(ds.body(d), f"依据：{e['text']}[{e['source']}]", ds.KAI)
    ds.add_heading(d, 3, "上级要求覆盖情况")
    if not r.requirements:
        ds.body(d, "未选择上级文件。")
    doc_n, title_seen, item = 0, None, 0
    for q in r.requirements:
        if q.title != title_seen:
            doc_n, title_seen, item = doc_n + 1, q.title, 0
            ds.add_heading(d, doc_n, f"《{q.title}》", level=2)
        item += 1
        para = ds.body(d)
        para.add_run(f"{item}．")
        ds.set_font(para.add_run("【已覆盖】" if q.addressed_by else "【未见对应表述】"), ds.HEI,
                    color=None if q.addressed_by else colours["thin"])
        ds.add_marked(para, f"{q.requirement}[{q.source}]")
        for s in q.addressed_by:
            ds.add_marked(ds.body(d), f"报告表述：{s}", ds.KAI)
    ds.add_references(d, 4, [(s.number, f"《{s.title}》，{s.issuer}{'，' + str(s.year) + '年' if s.year else ''}"
                              + (f"，{' > '.join(s.heading_path)}" if s.heading_path else ""), s.quote)
                             for s in r.sources])
    out = Path(path)
    d.save(out)
    return out
