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
        ("用时", f"{r.seconds} 秒"),
    ]


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
    import docx
    from docx.shared import RGBColor

    d = docx.Document()
    d.add_heading("法治政府建设年度报告审阅意见", level=0)
    table = d.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for k, v in _summary_rows(r):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = k, str(v)
    colours = {"missing": RGBColor(0xC0, 0x00, 0x00), "thin": RGBColor(0xB0, 0x6B, 0x00),
               "contradicted": RGBColor(0xC0, 0x00, 0x00), "supported": RGBColor(0x00, 0x80, 0x00)}
    d.add_heading("一、结构完整性", level=1)
    d.add_paragraph(f"依据：{r.template_source}")
    for p in r.parts:
        para = d.add_paragraph(style="List Bullet")
        run = para.add_run(f"{p.name}：{STATUS_ZH[p.status]}（{HOW_ZH[p.how]}）")
        if p.status in colours:
            run.font.color.rgb = colours[p.status]
        for e in p.examples:
            d.add_paragraph(f"可参考 {e['agency']}：{e['text']}[{e['source']}]", style="List Bullet 2")
    d.add_heading("二、事实性表述核对", level=1)
    for c in r.claims:
        para = d.add_paragraph(style="List Bullet")
        run = para.add_run(f"【{VERDICT_ZH[c.verdict]}】")
        if c.verdict in colours:
            run.font.color.rgb = colours[c.verdict]
        para.add_run(c.sentence + (f"（{c.reason}）" if c.reason else ""))
        for e in c.evidence:
            d.add_paragraph(f"依据：{e['text']}[{e['source']}]", style="List Bullet 2")
    d.add_heading("三、上级要求覆盖情况", level=1)
    if not r.requirements:
        d.add_paragraph("未选择上级文件。")
    for q in r.requirements:
        d.add_paragraph(f"【{'已覆盖' if q.addressed_by else '未见对应表述'}】{q.requirement}[{q.source}]",
                        style="List Bullet")
        for s in q.addressed_by:
            d.add_paragraph(f"报告表述：{s}", style="List Bullet 2")
    d.add_heading("参考来源", level=1)
    for line in _refs(r):
        d.add_paragraph(line)
    out = Path(path)
    d.save(out)
    return out
