"""Loaders for every supported format, on files generated in the test, and their error messages."""
from __future__ import annotations

import io
import zipfile

import pytest

from conftest import make_cjk_pdf, make_image_only_pdf
from ingest.loaders import decode_text, load_bytes
from ingest.pipeline import prepare
from ingest.records import IngestError

REPORT_TEXT = "某区司法局2020年法治政府建设情况报告\n一、加强组织领导\n全年召开专题会议6次，研究解决重点问题12个。\n"


# ---- plain text in every encoding ------------------------------------------------------------------

@pytest.mark.parametrize("encoding,data", [
    ("utf-8", REPORT_TEXT.encode("utf-8")),
    ("utf-8-sig", REPORT_TEXT.encode("utf-8-sig")),
    ("gb18030", REPORT_TEXT.encode("gb18030")),
    ("utf-16-le+bom", b"\xff\xfe" + REPORT_TEXT.encode("utf-16-le")),
    ("utf-16-be+bom", b"\xfe\xff" + REPORT_TEXT.encode("utf-16-be")),
])
def test_txt_encodings_decode_to_the_same_text(encoding, data):
    loaded = load_bytes(data, ".txt")
    assert loaded.fmt == "txt"
    assert loaded.text == REPORT_TEXT
    assert "\ufeff" not in loaded.text


def test_gb18030_only_characters_survive():
    text = "镕基同志主持会议，䶮字与𠀀字均应保留。依法行政。"  # 䶮 and 𠀀 exist in GB18030 but not in GBK
    assert decode_text(text.encode("gb18030")) == text


def test_crlf_and_cr_line_ends_are_normalised():
    loaded = load_bytes("第一行。\r\n第二行。\r第三行。".encode("utf-8"), ".txt")
    assert loaded.text == "第一行。\n第二行。\n第三行。"


def test_txt_document_prepared_end_to_end_from_gb18030():
    prep = prepare("r/report.txt", REPORT_TEXT.encode("gb18030"), ".txt")
    assert prep.document.title == "某区司法局2020年法治政府建设情况报告"
    assert prep.document.year == 2020
    assert prep.document.source_format == "txt"
    assert any("12个" in c.text for c in prep.chunks)


# ---- Markdown ---------------------------------------------------------------------------------------

MD = (
    "# 某区2022年法治政府建设情况报告\n\n"
    "## 一、主要成效\n\n全年办理行政复议案件45件，纠错率达到12%。\n\n"
    "### 行政执法监督\n\n开展执法检查200次，通报典型问题5个。\n\n"
    "## 二、存在问题\n\n执法队伍专业化水平有待提高。\n"
)


def test_markdown_headings_are_recognised_with_levels():
    loaded = load_bytes(MD.encode("utf-8"), ".md")
    assert loaded.fmt == "md"
    assert loaded.text == MD  # original characters kept, '#' marks included
    assert "## 一、主要成效" in loaded.heading_lines
    assert "### 行政执法监督" in loaded.heading_lines


def test_markdown_heading_paths_and_title():
    prep = prepare("m/report.md", MD.encode("utf-8"), ".md")
    assert prep.document.title == "某区2022年法治政府建设情况报告"  # no '#' in the title
    by_text = {c.text.split("\n")[-1]: c for c in prep.chunks}
    sub = next(c for c in prep.chunks if "执法检查200次" in c.text)
    assert sub.heading_path[-2:] == ["一、主要成效", "行政执法监督"]
    problems = next(c for c in prep.chunks if "专业化水平" in c.text)
    assert problems.heading_path[-1] == "二、存在问题"
    assert "行政执法监督" not in problems.heading_path
    assert by_text  # every chunk has text


# ---- PDF ---------------------------------------------------------------------------------------------

PDF_PAGES = [
    ["某市司法局2021年法治政府建设情况报告", "一、加强党对法治政府建设的领导",
     "全年召开党组会议研究法治建设12次。", "严格落实第一责任人职责。"],
    ["二、规范行政执法", "全市共办理行政复议案件356件。", "行政机关负责人出庭应诉率达到100%。"],
]


def test_pdf_with_cjk_cid_font_extracts_text_per_page():
    # pypdf extracts STSong-Light (UniGB-UCS2-H) text correctly, so no other font is needed
    loaded = load_bytes(make_cjk_pdf(PDF_PAGES, title="某市司法局2021年法治政府建设情况报告"), ".pdf")
    assert loaded.fmt == "pdf"
    assert "全年召开党组会议研究法治建设12次。" in loaded.text
    assert "行政机关负责人出庭应诉率达到100%。" in loaded.text
    assert loaded.title_hint == "某市司法局2021年法治政府建设情况报告"
    assert [n for _, n in loaded.pages] == [1, 2]
    page2_start = loaded.pages[1][0]
    assert loaded.text[page2_start:].startswith("二、规范行政执法")
    assert "356件" not in loaded.text[:page2_start]


def test_pdf_placeholder_metadata_title_is_ignored():
    # reportlab (like many tools) writes "untitled" when no title is set: the first line is the title
    loaded = load_bytes(make_cjk_pdf(PDF_PAGES), ".pdf")
    assert loaded.title_hint == ""
    assert prepare("p/x.pdf", make_cjk_pdf(PDF_PAGES), ".pdf").document.title == PDF_PAGES[0][0]


def test_pdf_chunks_carry_their_page_numbers():
    prep = prepare("p/report.pdf", make_cjk_pdf(PDF_PAGES), ".pdf")
    doc = prep.document
    assert doc.source_format == "pdf"
    assert doc.title == "某市司法局2021年法治政府建设情况报告"
    pages = {c.page for c in prep.chunks}
    assert pages == {1, 2}
    for c in prep.chunks:
        assert c.text == doc.text[c.start:c.end]
        expected = 2 if c.start >= doc.pages[1][0] else 1
        assert c.page == expected
    assert next(c for c in prep.chunks if "356件" in c.text).page == 2
    assert next(c for c in prep.chunks if "12次" in c.text).page == 1


def test_pdf_page_numbers_survive_junk_line_removal():
    pages = [["返回顶部", "某市司法局2021年法治政府建设情况报告", "一、加强领导", "全年召开会议12次。"],
             ["打印本页", "二、规范执法", "办理行政复议案件356件。"]]
    prep = prepare("p/web.pdf", make_cjk_pdf(pages), ".pdf")
    assert "返回顶部" not in prep.document.text and "打印本页" not in prep.document.text
    assert next(c for c in prep.chunks if "356件" in c.text).page == 2
    assert next(c for c in prep.chunks if "12次" in c.text).page == 1


def test_encrypted_pdf_is_refused_with_a_clear_message():
    data = make_cjk_pdf([["保密文件内容。"]], encrypt="pw")
    with pytest.raises(IngestError, match="encrypted PDF"):
        load_bytes(data, ".pdf")


def test_pdf_without_text_layer_asks_for_ocr():
    with pytest.raises(IngestError, match="OCR"):
        load_bytes(make_image_only_pdf(), ".pdf")


def test_binary_file_renamed_pdf():
    with pytest.raises(IngestError, match="not a PDF"):
        load_bytes(bytes(range(256)) * 8, ".pdf")


def test_truncated_pdf():
    data = make_cjk_pdf(PDF_PAGES)
    with pytest.raises(IngestError, match="damaged or truncated PDF"):
        load_bytes(data[: len(data) // 3], ".pdf")


def test_pdf_with_an_unknown_stream_filter_is_an_ingest_error():
    data = make_cjk_pdf(PDF_PAGES).replace(b"/FlateDecode", b"/FlateDecodX")
    with pytest.raises(IngestError, match="PDF"):
        load_bytes(data, ".pdf")


# ---- DOCX --------------------------------------------------------------------------------------------

def make_docx() -> bytes:
    import docx

    d = docx.Document()
    d.core_properties.title = "某区司法局2020年法治政府建设年度报告"
    d.add_heading("某区司法局2020年法治政府建设年度报告", level=0)
    d.add_heading("加强组织领导", level=1)
    d.add_paragraph("区司法局坚持把法治政府建设摆在全局工作的重要位置。全年召开专题会议6次，研究解决重点问题12个。")
    d.add_heading("健全工作机制", level=2)
    d.add_paragraph("建立法治政府建设季度调度机制。按季度通报各单位工作进展情况，督促问题整改落实到位。")
    d.add_heading("深化放管服改革", level=1)
    d.add_paragraph("全面推行证明事项告知承诺制。共取消证明事项23项，群众办事更加便捷。")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "指标", "数量"
    table.cell(1, 0).text, table.cell(1, 1).text = "行政复议案件", "15件"
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def test_docx_text_headings_tables_and_title():
    loaded = load_bytes(make_docx(), ".docx")
    assert loaded.fmt == "docx"
    assert loaded.title_hint == "某区司法局2020年法治政府建设年度报告"
    assert "全年召开专题会议6次" in loaded.text
    assert "行政复议案件 | 15件" in loaded.text  # table rows become text lines
    assert {"加强组织领导", "健全工作机制", "深化放管服改革"} <= set(loaded.heading_lines)
    assert loaded.heading_lines["加强组织领导"] < loaded.heading_lines["健全工作机制"]


def test_docx_heading_styles_become_heading_paths():
    prep = prepare("d/report.docx", make_docx(), ".docx")
    assert prep.document.source_format == "docx"
    assert prep.document.title == "某区司法局2020年法治政府建设年度报告"
    first = next(c for c in prep.chunks if "专题会议6次" in c.text)
    assert first.heading_path[-1] == "加强组织领导"
    nested = next(c for c in prep.chunks if "季度调度机制" in c.text)
    assert nested.heading_path[-2:] == ["加强组织领导", "健全工作机制"]  # Heading 2 under Heading 1
    last = next(c for c in prep.chunks if "证明事项23项" in c.text)
    assert last.heading_path[-1] == "深化放管服改革"
    assert "健全工作机制" not in last.heading_path


def test_docx_zip_without_document_xml():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "not a word document")
    with pytest.raises(IngestError, match="word/document.xml"):
        load_bytes(buf.getvalue(), ".docx")


def test_docx_that_is_not_a_zip():
    with pytest.raises(IngestError, match="not a .docx zip"):
        load_bytes("这是一个改了扩展名的文本文件。".encode("utf-8"), ".docx")


# ---- HTML --------------------------------------------------------------------------------------------

GOV_PAGE = """<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>某县人民政府2020年法治政府建设情况报告_某县人民政府门户网站</title>
<script>var _hmt = _hmt || []; document.write('统计代码');</script><style>.nav{color:red}</style></head>
<body><header><div class="logo">某县人民政府门户网站</div></header>
<nav><ul><li>首页</li><li>政务公开</li><li>互动交流</li></ul></nav>
<div class="breadcrumb">当前位置：首页 > 政务公开 > 法治政府建设</div>
<div class="article">
<h1>某县人民政府2020年法治政府建设情况报告</h1>
<div class="info">来源：县司法局 发布时间：2021-01-15</div>
<div class="zoom">字号：[大] [中] [小]</div>
<p>2020年，我县深入贯彻落实法治政府建设实施纲要，各项工作取得新成效。现将有关情况报告如下。</p>
<h2>一、依法全面履行政府职能</h2>
<p>深化“放管服”改革，全年取消行政许可事项18项。推行“一网通办”，政务服务事项网上可办率达到98%。</p>
<h2>二、完善依法行政制度体系</h2>
<p>严格规范性文件合法性审核，全年审核规范性文件26件，纠正问题3个。</p>
<p>某县人民政府</p><p>2021年1月10日</p>
</div>
<div>打印本页</div><div>关闭窗口</div>
<footer>版权所有：某县人民政府 网站标识码：1234567890</footer>
<script>console.log('junk')</script>
</body></html>"""


def test_html_government_page_keeps_the_article_only():
    loaded = load_bytes(GOV_PAGE.encode("gb18030"), ".html")  # declared gb2312, decoded as GB18030
    assert loaded.fmt == "html"
    assert loaded.title_hint == "某县人民政府2020年法治政府建设情况报告"
    for junk in ("统计代码", "console.log", ".nav", "互动交流", "门户网站", "版权所有"):
        assert junk not in loaded.text
    assert "全年取消行政许可事项18项" in loaded.text
    assert "一、依法全面履行政府职能" in loaded.heading_lines


def test_html_document_prepared_without_page_furniture():
    prep = prepare("web/report.html", GOV_PAGE.encode("gb18030"), ".htm")
    doc = prep.document
    assert doc.title == "某县人民政府2020年法治政府建设情况报告"
    assert doc.text.startswith("某县人民政府2020年法治政府建设情况报告\n")
    for junk in ("当前位置", "字号", "打印本页", "关闭窗口", "来源：", "发布时间"):
        assert junk not in doc.text
    assert doc.year == 2020
    assert doc.kind == "report"
    sec = next(c for c in prep.chunks if "18项" in c.text)
    assert sec.heading_path[-1] == "一、依法全面履行政府职能"


# ---- refusals ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".txt", ".md", ".pdf", ".docx", ".html"])
def test_empty_files_are_refused(suffix):
    with pytest.raises(IngestError, match="empty file"):
        load_bytes(b"", suffix)
    with pytest.raises(IngestError, match="empty file"):
        load_bytes(b"  \n\r\n\t ", suffix)


def test_mixed_encoding_garbage_is_refused():
    data = "法治政府建设".encode("utf-8") + bytes([0x80, 0xFF, 0xFE, 0x81, 0x00, 0x9F]) * 6 + "依法行政".encode("gb18030")
    with pytest.raises(IngestError, match="encoding"):
        load_bytes(data, ".txt")


def test_half_utf8_half_gb18030_is_refused_not_turned_into_mojibake():
    # these bytes also decode "cleanly" as GB18030 (as 娉曟不鏀垮簻…): only a mixed-encoding check sees it
    data = "法治政府建设报告".encode("utf-8") + "依法行政".encode("gb18030")
    data.decode("gb18030")
    with pytest.raises(IngestError, match="mixed text encodings"):
        load_bytes(data, ".txt")


def test_latin1_text_is_refused():
    with pytest.raises(IngestError, match="unrecognised text encoding"):
        load_bytes("Rapport annuel, été 2020, résumé".encode("latin-1"), ".txt")


def test_binary_renamed_txt_is_refused():
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    with pytest.raises(IngestError):
        load_bytes(png, ".txt")


def test_unsupported_suffix_names_the_supported_ones():
    with pytest.raises(IngestError, match=r"unsupported file type \.xlsx.*\.docx"):
        load_bytes(b"PK\x03\x04 data", ".xlsx")


def test_prepare_refuses_a_page_that_is_only_furniture():
    with pytest.raises(IngestError, match="no body text"):
        prepare("x.txt", "返回顶部\n打印本页\n关闭窗口\n".encode("utf-8"), ".txt")
