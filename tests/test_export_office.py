"""Office-ready Word exports (GB/T 9704 公文 layout): the page, fonts and headings in the .docx, column widths by
content, no timing lines, references last — and each export kind rendered to PDF by LibreOffice headless,
checked to be A4, with page 1 saved as a PNG in docs/screenshots/ (rendered with pypdfium2)."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from docx import Document
from docx.shared import Mm

from conftest import CORPUS, HAS_GOVERNING_TEXTS, ROOT

DOCS = ROOT / "docs" / "screenshots"
FONTS_CONF = ROOT / "tests" / "gongwen-fonts.conf"
A4_PT = (595.3, 841.9)
QUESTIONS = {
    "ask": "镇巴县划转了多少项行政审批事项？",
    "compare": "其他单位是如何建立和发挥法律顾问作用的？",
    "check": "核对：镇巴县2019年受理的行政复议申请已全部办结。",
    "draft": "第一责任人履职情况",
    # the 政府信息公开条例 is a governing text; on the provided samples alone a topic they hold rules on
    "quiz": "政府信息公开" if HAS_GOVERNING_TEXTS else "行政规范性文件合法性审核",
}


def _font_of(style) -> str:
    from docx.oxml.ns import qn

    rfonts = style.element.rPr.find(qn("w:rFonts"))
    return rfonts.get(qn("w:eastAsia"))


@pytest.fixture(scope="module")
def exports(assistant):
    """One Word file of each kind, from real answers over the corpus knowledge base and a real review."""
    from assistant.delivery import export
    from assistant.delivery.review_export import to_docx as review_docx
    from assistant.review import review_text

    out = {}
    for mode, question in QUESTIONS.items():
        answer = assistant.run(mode, question, None, agency="某某区司法局" if mode == "draft" else None,
                               claim=question if mode == "check" else None, n=5).to_dict()
        assert answer["sources"], (mode, answer["text"])
        out[mode] = (answer, export.to_docx(answer))
    text = (CORPUS / "reports/2019-luohu-qu-yingjiju-report.txt").read_text(encoding="utf-8")
    governing = ["outlines/2018-guobanfa-118-sanxiang-zhidu-yijian.txt"] if HAS_GOVERNING_TEXTS else []
    review = review_text(text, assistant.context(), "深圳市罗湖区应急管理局", governing)
    with tempfile.TemporaryDirectory() as tmp:
        out["review"] = (review, review_docx(review, Path(tmp) / "review.docx").read_bytes())
    return out


def test_word_files_have_the_gongwen_page_fonts_and_headings(exports):
    for kind, (_, data) in exports.items():
        doc = Document(io.BytesIO(data))
        s = doc.sections[0]
        assert round(s.page_width.mm) == 210 and round(s.page_height.mm) == 297, kind  # A4, not US Letter
        assert [round(x.mm) for x in (s.top_margin, s.bottom_margin, s.left_margin, s.right_margin)] == [37, 35, 28, 26]
        normal = doc.styles["Normal"]
        assert normal.font.size.pt == 16 and _font_of(normal) == "仿宋_GB2312", kind  # 三号 仿宋
        assert _font_of(doc.styles["Heading 1"]) == "黑体" and _font_of(doc.styles["Heading 2"]) == "楷体_GB2312"
        assert doc.styles["Title"].font.size.pt == 22
        headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
        assert headings[0].startswith("一、") and headings[-1].endswith("、参考来源"), (kind, headings)
        paras = [p.text for p in doc.paragraphs]
        refs = paras[paras.index(headings[-1]) + 1:]
        assert refs and refs[0].startswith("[1] 《") and all(p.startswith("[") for p in refs if p.strip()), kind
        text = "\n".join(paras + [c.text for t in doc.tables for r in t.rows for c in r.cells])
        assert "用时" not in text and "秒" not in text, kind  # no timing lines
        assert "— " in doc.sections[0].footer.paragraphs[0].text  # page numbers “— 1 —”
        from docx.opc.constants import RELATIONSHIP_TYPE as RT

        table_xml = doc.part.part_related_by(RT.FONT_TABLE).blob.decode("utf-8")  # the fallbacks of missing fonts
        assert '<w:font w:name="仿宋_GB2312"><w:altName w:val="仿宋"/>' in table_xml


def test_check_claims_are_second_level_headings_and_review_has_no_timing(exports):
    doc = Document(io.BytesIO(exports["check"][1]))
    level2 = [p.text for p in doc.paragraphs if p.style.name == "Heading 2"]
    assert level2 and level2[0].startswith("（一）")
    review, data = exports["review"]
    doc = Document(io.BytesIO(data))
    summary = [(r.cells[0].text, r.cells[1].text) for r in doc.tables[0].rows]
    assert summary[0] == ("项目", "结果") and summary[1][0] == "报告"
    assert not any("用时" in k for k, _ in summary)
    from assistant.delivery.review_export import to_markdown
    from assistant.delivery.web_review import review_html

    assert "用时" not in to_markdown(review) and "用时" not in review_html(review)


def test_compare_table_columns_follow_their_content(exports):
    from assistant.delivery.docx_style import TYPE_WIDTH_MM, column_widths, text_width

    answer, data = exports["compare"]
    table = Document(io.BytesIO(data)).tables[0]
    widths = [c.width.mm for c in table.rows[0].cells]
    assert [c.text for c in table.rows[0].cells] == ["单位", "年份", "做法", "关键数字", "来源"]
    assert abs(sum(widths) - TYPE_WIDTH_MM) < 1  # the type area's width, not more
    assert len(set(round(w) for w in widths)) > 2  # not equal widths
    assert widths[2] == max(widths) and widths[1] < 15  # the practice text takes the room, the year little
    em = 12 * 25.4 / 72  # mm of one character at 小四
    longest_agency = max(text_width(r["agency"]) for r in answer["compare"])
    pad = 3.8  # Word's cell margins, 2 × 0.19 cm
    assert 2 * (widths[0] - pad) >= longest_agency * em - 0.1  # an agency's name takes two lines at most
    # the rule itself: short columns keep their width, a column is never narrower than its header
    w = column_widths([["单位", "年份", "做法"], ["甲县司法局", "2019", "长" * 300]])
    assert w[1] < w[0] < w[2] and abs(sum(w) - TYPE_WIDTH_MM) < 0.5
    assert 2 * (w[0] - 3.8) >= text_width("甲县司法局") * em  # two lines at most beside long prose
    assert column_widths([["项目", "结果"], ["报告", "某局"]])[0] > 10


@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice (soffice) is not installed: `make install` installs it")
def test_each_export_renders_to_a4_pdf_with_libreoffice(exports, tmp_path):
    import pypdf
    import pypdfium2

    for kind, (_, data) in exports.items():
        (tmp_path / f"{kind}.docx").write_bytes(data)
    profile = tmp_path / "lo-profile"
    env = dict(os.environ, HOME=str(tmp_path), FONTCONFIG_FILE=str(FONTS_CONF))
    proc = subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                           "--convert-to", "pdf", "--outdir", str(tmp_path / "pdf")]
                          + [str(tmp_path / f"{k}.docx") for k in exports], capture_output=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    DOCS.mkdir(parents=True, exist_ok=True)
    for kind in exports:
        pdf = tmp_path / "pdf" / f"{kind}.pdf"
        assert pdf.is_file(), (kind, proc.stdout, proc.stderr)
        reader = pypdf.PdfReader(str(pdf))
        for page in reader.pages:
            w, h = float(page.mediabox.width), float(page.mediabox.height)
            assert abs(w - A4_PT[0]) < 2 and abs(h - A4_PT[1]) < 2, (kind, w, h)
        text = "".join(p.extract_text() for p in reader.pages)
        squeezed = "".join(text.split())
        assert "一、" in squeezed and "参考来源" in squeezed and "用时" not in squeezed, kind
        assert squeezed.rindex("参考来源") > squeezed.index("一、"), kind  # the references come last
        fonts = {str(f.get("/BaseFont")) for p in reader.pages for f in (p["/Resources"].get("/Font") or {}).values()
                 for f in [f.get_object()]}
        assert any("UMing" in f for f in fonts) and any("WenQuanYi" in f for f in fonts), (kind, fonts)
        # page 1 as the reader sees it
        doc = pypdfium2.PdfDocument(str(pdf))
        image = doc[0].render(scale=1.4).to_pil()
        image.save(DOCS / f"word-{kind}.png")
        assert image.size[0] > 700 and image.size[1] / image.size[0] == pytest.approx(297 / 210, rel=0.01)
        doc.close()
