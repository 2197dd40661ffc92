"""Word documents laid out the way a government office expects (GB/T 9704-2012《党政机关公文格式》).

A4 paper; margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm (the 156 × 225 mm type area); body in
仿宋_GB2312 三号 (16 pt) at a fixed 29 pt line pitch (22 lines a page), first line indented two characters;
the title in 方正小标宋简体 二号, centred; first-level headings 一、 in 黑体, second-level （一） in 楷体_GB2312,
third-level in 仿宋 bold, all 三号; page numbers 4号 in the form “— 1 —” at the foot. Fonts a computer lacks
fall back through the font table (仿宋_GB2312 → 仿宋, 楷体_GB2312 → 楷体, 方正小标宋简体 → 宋体). Tables get
column widths from their content (``column_widths``); their text is 仿宋 小四 at single spacing.
"""
from __future__ import annotations

import re

BODY_FONT, HEI, KAI, TITLE_FONT, SONG = "仿宋_GB2312", "黑体", "楷体_GB2312", "方正小标宋简体", "宋体"
ALT_NAMES = {BODY_FONT: "仿宋", KAI: "楷体", TITLE_FONT: SONG, HEI: "SimHei", SONG: "SimSun"}
PAGE_MM = (210, 297)
MARGINS_MM = {"top": 37, "bottom": 35, "left": 28, "right": 26}
TYPE_WIDTH_MM = PAGE_MM[0] - MARGINS_MM["left"] - MARGINS_MM["right"]  # 156
BODY_PT, TITLE_PT, TABLE_PT, NOTE_PT = 16, 22, 12, 14  # 三号, 二号, 小四, 四号
LINE_PT = 29  # 225 mm / 22 lines
CN_DIGITS = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    """1 -> 一, 10 -> 十, 12 -> 十二, 25 -> 二十五 (heading numbers up to 99)."""
    if n < 10:
        return CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")


def set_font(target, name: str, size_pt: float | None = None, bold: bool | None = None, color=None) -> None:
    """Font of a run or a style, East Asian and Latin alike (theme fonts removed so they do not win)."""
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    target.font.name = name
    rpr = target.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, rfonts)
    for attr in ("w:asciiTheme", "w:eastAsiaTheme", "w:hAnsiTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), name)
    if size_pt:
        target.font.size = Pt(size_pt)
    if bold is not None:
        target.font.bold = bold
    if color is not None:
        target.font.color.rgb = RGBColor(*color)


def _paragraph_format(style, size_pt: float, indent_chars: float = 0, align=None, line_pt: float | None = LINE_PT) -> None:
    from docx.enum.text import WD_LINE_SPACING
    from docx.shared import Pt

    pf = style.paragraph_format
    pf.space_before = Pt(0)
    pf.space_after = Pt(0)
    if line_pt:
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.line_spacing = Pt(line_pt)
    else:
        pf.line_spacing = 1.0
    pf.first_line_indent = Pt(size_pt * indent_chars) if indent_chars else Pt(0)
    if align is not None:
        pf.alignment = align


def _font_table(doc) -> None:
    """Fallbacks in the font table: a computer without 仿宋_GB2312 shows 仿宋, and so on."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    part = next((r.target_part for r in doc.part.rels.values() if r.reltype == RT.FONT_TABLE), None)
    if part is None:
        return
    xml = part.blob.decode("utf-8")
    entries = "".join(f'<w:font w:name="{name}"><w:altName w:val="{alt}"/><w:charset w:val="86"/>'
                      f'<w:family w:val="modern"/><w:pitch w:val="fixed"/></w:font>' for name, alt in ALT_NAMES.items())
    part._blob = xml.replace("</w:fonts>", entries + "</w:fonts>").encode("utf-8")


def _page_number_footer(section) -> None:
    """“— 1 —” centred at the foot of every page (a PAGE field)."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    p = section.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.first_line_indent = 0

    def run(text: str | None = None, field: str | None = None):
        r = p.add_run(text or "")
        set_font(r, SONG, NOTE_PT)
        if field is not None:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), field)
            r._r.append(el)
        return r

    run("— ")
    run(field="begin")
    instr = run()
    it = OxmlElement("w:instrText")
    it.set(qn("xml:space"), "preserve")
    it.text = " PAGE "
    instr._r.append(it)
    run(field="separate")
    run("1")
    run(field="end")
    run(" —")


def new_document(title: str, subject: str = ""):
    """An empty A4 document with the 公文 page, fonts and heading styles."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Mm

    doc = Document()
    for section in doc.sections:
        section.page_width, section.page_height = Mm(PAGE_MM[0]), Mm(PAGE_MM[1])
        section.top_margin, section.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
        section.left_margin, section.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])
        section.header_distance, section.footer_distance = Mm(15), Mm(25)
        _page_number_footer(section)
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:  # the template's theme fonts (Calibri/宋体) would win over the styles' own
        for rfonts in defaults.iter(qn("w:rFonts")):
            for attr in ("w:asciiTheme", "w:eastAsiaTheme", "w:hAnsiTheme", "w:cstheme"):
                rfonts.attrib.pop(qn(attr), None)
            for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
                rfonts.set(qn(attr), BODY_FONT)
    normal = doc.styles["Normal"]
    set_font(normal, BODY_FONT, BODY_PT, color=(0, 0, 0))
    _paragraph_format(normal, BODY_PT, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    t = doc.styles["Title"]
    set_font(t, TITLE_FONT, TITLE_PT, bold=False, color=(0, 0, 0))
    _paragraph_format(t, TITLE_PT, align=WD_ALIGN_PARAGRAPH.CENTER, line_pt=35)
    for el in t.element.findall(qn("w:pPr") + "/" + qn("w:pBdr")):  # the template's rule under the title
        el.getparent().remove(el)
    for name, font, bold in (("Heading 1", HEI, False), ("Heading 2", KAI, False), ("Heading 3", BODY_FONT, True)):
        st = doc.styles[name]
        set_font(st, font, BODY_PT, bold=bold, color=(0, 0, 0))
        st.font.italic = False
        _paragraph_format(st, BODY_PT, indent_chars=2, align=WD_ALIGN_PARAGRAPH.LEFT)
    doc.core_properties.title = title
    doc.core_properties.subject = subject
    doc.core_properties.author = "法治政府建设报告助手"
    _font_table(doc)
    return doc


def add_title(doc, title: str, subtitle: str = ""):
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    doc.add_paragraph(title, style="Title")
    if subtitle:
        p = doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.first_line_indent = Pt(0)
        set_font(p.add_run(subtitle), KAI, BODY_PT)
    doc.add_paragraph()  # one blank line under the title block


def add_heading(doc, number: int, text: str, level: int = 1):
    """一、text (黑体) at level 1, （一）text (楷体) at level 2."""
    label = f"{cn_number(number)}、" if level == 1 else f"（{cn_number(number)}）"
    return doc.add_paragraph(label + text, style=f"Heading {level}")


def body(doc, text: str = "", indent: bool = True):
    from docx.shared import Pt

    p = doc.add_paragraph()
    p.paragraph_format.first_line_indent = Pt(BODY_PT * 2) if indent else Pt(0)
    if text:
        add_marked(p, text)
    return p


MARKER_RE = re.compile(r"\[(\d{1,3})\]")


def add_marked(paragraph, text: str, font: str | None = None, size_pt: float | None = None, color=None) -> None:
    """Text with its [n] citation markers as superscript runs."""
    pos = 0

    def plain(s: str) -> None:
        r = paragraph.add_run(s)
        if font or size_pt or color:
            set_font(r, font or BODY_FONT, size_pt, color=color)

    for m in MARKER_RE.finditer(text):
        if m.start() > pos:
            plain(text[pos:m.start()])
        r = paragraph.add_run(m.group(0))
        r.font.superscript = True
        pos = m.end()
    if pos < len(text):
        plain(text[pos:])


# ---- tables ---------------------------------------------------------------------------------------------

def text_width(s: str) -> float:
    """Width in em: a CJK character or full-width mark is 1, a Latin letter, digit or space about 0.55."""
    return sum(1.0 if ord(ch) > 0x2E7F else 0.55 for ch in s)


def _unbreakable(s: str) -> float:
    """The widest piece a line cannot be broken inside (a number, a Latin word)."""
    pieces = re.findall(r"[A-Za-z0-9.%\-]+", s)
    return max([text_width(p) for p in pieces] + [1.0])


def column_widths(rows: list[list[str]], total_mm: float = TYPE_WIDTH_MM, size_pt: float = TABLE_PT,
                  padding_mm: float = 4.0, short_share: float = 0.12, label_share: float = 0.22) -> list[float]:
    """Column widths (mm) that follow the content. A column whose longest line fits in ``short_share`` of the
    width keeps it (years, short labels stay on one line); the other columns share what is left in proportion
    to their longest line, each between its narrowest and its longest line. The narrowest is its header, its
    widest number or Latin word, and half its longest line up to ``label_share`` of the width (a name wraps
    to two lines at most while prose takes the room). ``padding_mm``: Word's cell margins (2 × 0.19 cm).
    A table of short columns is widened to the type area in proportion."""
    em_mm = size_pt * 25.4 / 72
    cols = max(len(r) for r in rows)
    natural, minimum = [], []
    for c in range(cols):
        cells = [str(r[c]) if c < len(r) else "" for r in rows]
        lines = [ln for cell in cells for ln in cell.split("\n")]
        longest = max(text_width(ln) for ln in lines) * em_mm
        least = max(text_width(cells[0]), max(_unbreakable(ln) for ln in lines)) * em_mm
        minimum.append(max(least, min(longest / 2, total_mm * label_share - padding_mm)) + padding_mm)
        natural.append(max(minimum[-1], longest + padding_mm))
    widths = [natural[c] if natural[c] <= total_mm * short_share else None for c in range(cols)]
    free = [c for c in range(cols) if widths[c] is None]
    while free:  # share the room left by longest line; a column held at its bounds leaves the share
        room = total_mm - sum(w for w in widths if w is not None)
        weight = sum(min(natural[c], total_mm) for c in free)
        share = {c: room * min(natural[c], total_mm) / weight for c in free}
        held = [c for c in free if not minimum[c] <= share[c] <= natural[c]]
        if not held:
            for c in free:
                widths[c] = share[c]
            break
        for c in held:
            widths[c] = minimum[c] if share[c] < minimum[c] else natural[c]
            free.remove(c)
    total = sum(widths)
    if total < total_mm or total > total_mm:  # all short (widen) or the minimums overflow (narrow)
        widths = [w * total_mm / total for w in widths]
    return [round(w, 1) for w in widths]


def add_table(doc, header: list[str], rows: list[list[str]], widths_mm: list[float] | None = None,
              marked_columns: tuple[int, ...] = ()):
    """A bordered table with a bold repeated header row and widths by content; [n] superscript in
    ``marked_columns``."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    widths_mm = widths_mm or column_widths([header] + rows)
    table = doc.add_table(rows=0, cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    tbl_pr = table._tbl.tblPr
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    tbl_pr.append(layout)
    for i, w in enumerate(widths_mm):
        table.columns[i].width = Mm(w)
    for r, values in enumerate([header] + rows):
        row = table.add_row()
        if r == 0:
            tr_pr = row._tr.get_or_add_trPr()
            el = OxmlElement("w:tblHeader")
            el.set(qn("w:val"), "true")
            tr_pr.append(el)
        for c, cell in enumerate(row.cells):
            cell.width = Mm(widths_mm[c])
            text = str(values[c]) if c < len(values) else ""
            for k, line in enumerate(text.split("\n")):  # one paragraph a line: never a justified forced break
                p = cell.paragraphs[0] if k == 0 else cell.add_paragraph()
                p.alignment = WD_ALIGN_PARAGRAPH.LEFT
                p.paragraph_format.first_line_indent = Pt(0)
                p.paragraph_format.line_spacing = 1.15
                if r == 0:
                    set_font(p.add_run(line), HEI, TABLE_PT)
                elif c in marked_columns:
                    add_marked(p, line, BODY_FONT, TABLE_PT)
                else:
                    set_font(p.add_run(line), BODY_FONT, TABLE_PT)
    return table


def add_references(doc, number: int, refs: list[tuple[int, str, str]]) -> None:
    """The numbered references at the end: heading, then “[n] citation” with the quote under it in 楷体."""
    from docx.shared import Pt

    if not refs:
        return
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    add_heading(doc, number, "参考来源")
    for n, citation, quote in refs:
        p = doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.LEFT  # a justified line before a break would be spread out
        p.paragraph_format.left_indent = Pt(BODY_PT * 2)
        p.paragraph_format.first_line_indent = Pt(-BODY_PT * 2)
        p.add_run(f"[{n}] ")
        p.add_run(citation)
        if quote:
            p.add_run().add_break()
            set_font(p.add_run(f"“{quote}”"), KAI, NOTE_PT)
