"""Files that cannot be read (damaged .doc/.wps/.ofd, scanned PDFs without OCR models) get a clear error
naming the file and leave the knowledge base unchanged; OCR and OFD never touch the network; the general
chrome filter and the metadata rules on lines of pages no test fixture comes from."""
from __future__ import annotations

import io
import zipfile

import pytest

from conftest import TINY_REPORT, make_image_only_pdf
from ingest import ocr
from ingest.chrome import is_chrome
from ingest.clean import clean_text
from ingest.loaders import load_bytes
from ingest.metadata import complete_place, extract, guess_issuer, guess_year
from ingest.records import IngestError


# ---- chrome: lines of pages of any site -----------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "2019年12月3日星期二", "今天是：2024年5月20日 星期一 农历四月十三", "无障碍 简体| 繁体", "简体 | 繁體 | English",
    "返回顶部 | 网站地图 | 联系我们", "您所在的位置：首页 > 政务公开 > 通知公告", "首页 > 信息公开 > 规划计划",
    "【字体：大 中 小】【打印】【关闭】", "分享到：微信 微博 QQ空间", "扫一扫在手机打开当前页",
    "主办单位：某某市人民政府办公室  承办单位：某某市大数据中心", "网站标识码：3301000001 浙ICP备05012345号",
    "版权所有 © 2024 某某县人民政府", "您是本站第1283470位访客", "浏览次数：1024", "- 3 -", "第2页 共5页",
    "登录 | 注册 | 智能问答", "[首页](/index.html) | [政务公开](/zwgk/) | [政务服务](/zwfw/) | [互动交流](/hdjl/)",
    "建议使用1920×1080分辨率 IE10以上浏览器浏览本站",
])
def test_chrome_lines_of_any_site(line):
    assert is_chrome(line), line


@pytest.mark.parametrize("line", [
    "一、加强组织领导", "（二）深化政务公开", "2020年1月8日", "某某县人民政府",
    "全年共办理行政复议案件12件，其中维持8件。", "第三条 行政机关应当依法公开政府信息。",
    "政务公开工作扎实推进，全年主动公开政府信息1200余条。", "建立网站地图和联系我们栏目，方便群众查询。",
])
def test_body_lines_are_not_chrome(line):
    assert not is_chrome(line), line


def test_a_txt_copy_of_a_page_loses_its_chrome_and_keeps_its_fields():
    page = (
        "2019年12月3日星期二\n无障碍 简体| 繁体\n首页\n政务公开\n政务服务\n互动交流\n"
        "某某区人民政府\n您所在的位置：首页 > 政务公开\n某某区司法局2019年法治政府建设工作总结\n"
        "发布时间：2019-12-03 来源：某某区司法局 浏览次数：321 【字体：大 中 小】【打印】\n"
        "2019年，区司法局坚持依法行政，全年审核规范性文件15件。\n一、主要工作\n开展法治宣传120场次。\n"
        "上一篇：关于开展普法宣传的通知\n返回顶部 | 网站地图 | 联系我们\n主办单位：某某区人民政府办公室 网站标识码：1100000001\n"
    )
    cleaned = clean_text(page)
    assert cleaned.text == ("某某区司法局2019年法治政府建设工作总结\n"
                            "2019年，区司法局坚持依法行政，全年审核规范性文件15件。\n一、主要工作\n开展法治宣传120场次。")
    assert cleaned.fields["来源"] == "某某区司法局"
    assert cleaned.fields["发布时间"] == "2019-12-03"
    assert cleaned.fields["网站名称"] == "某某区人民政府"


# ---- metadata on unseen documents --------------------------------------------------------------------------

def test_reporting_year_from_the_title_or_first_lines_not_the_chrome_date():
    assert guess_year("2020年某海区法治政府建设情况报告", "正文。", {"发布时间": "2021-03-02"}) == 2020
    assert guess_year("区应急管理局法治政府建设工作总结", "区法治办：\n2019年，我局……\n", {"发布时间": "2020-01-15"}) == 2019
    assert guess_year("关于加强某项工作的意见", "某政发〔2018〕7号\n各区县：\n……", {}) == 2018


def test_issuer_from_fields_header_and_title_place():
    meta = extract("2020年某海区法治政府建设情况报告\n2020年，全区上下……", {}, "", "x")
    assert meta.issuer == "某海区人民政府" and meta.year == 2020 and meta.kind == "report"
    # an abbreviation in the title loses to the 来源 field that names the place
    assert guess_issuer("区城管委2021年法治政府建设情况报告", "一年来……",
                        {"来源": "某坻区城市管理委员会"}) == "某坻区城市管理委员会"
    # a county named without its city is completed from another line of the same document
    assert complete_place("某坻区城市管理委员会", "正文\n某津市某坻区城市管理委员会\n2022年3月1日", {}) == \
        "某津市某坻区城市管理委员会"
    assert complete_place("某坻区城市管理委员会", "正文", {"网站名称": "某津市某坻区人民政府"}) == "某津市某坻区城市管理委员会"
    assert guess_issuer("关于某事的通知", "正文。", {"来源": "本网"}) == ""  # not an organisation
    # the site hosting a department's page is not its issuer; it is one only when nothing else names one
    assert guess_issuer("区城管委2021年法治政府建设情况报告", "一年来……", {"网站名称": "某津市某坻区人民政府"}) == "区城管委"
    assert guess_issuer("关于某事的通知", "正文。", {"网站名称": "某津市某坻区人民政府"}) == "某津市某坻区人民政府"


# ---- unreadable files -------------------------------------------------------------------------------------

def _ole_garbage() -> bytes:
    return bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 504 + bytes(range(256)) * 40


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    return buf.getvalue()


BAD = {
    "damaged.doc": (_ole_garbage(), "cannot read this .doc file"),
    "renamed.doc": (b"just some text pretending to be Word " * 20, "not a Word or WPS document"),
    "damaged.wps": (_ole_garbage(), "cannot read this .wps file"),
    "not-ofd.ofd": (_zip({"hello.txt": b"hi"}), "not an OFD file (no OFD.xml"),
    "truncated.ofd": (_zip({"OFD.xml": b"<ofd:OFD"})[:40], "not an OFD file (not a zip package)"),
    "broken-xml.ofd": (_zip({"OFD.xml": b"<ofd:OFD><ofd:DocBody>"}), "damaged OFD file"),
}


@pytest.fixture(scope="module")
def small_kb(tmp_path_factory):
    from ingest.limits import Limits
    from vectorstore.kb import KnowledgeBase

    root = tmp_path_factory.mktemp("bad-formats")
    (root / "good").mkdir()
    (root / "good" / "ok.txt").write_text(TINY_REPORT, encoding="utf-8")
    # parsed in this process (no worker): the OCR test below takes the models away with monkeypatch
    kb = KnowledgeBase(root / "kb", limits=Limits(parse_timeout=0))
    kb.ingest([root / "good"], progress=False)
    yield kb, root
    kb.close()


@pytest.mark.parametrize("name", sorted(BAD))
def test_unreadable_file_gets_a_clear_error_naming_it_and_the_kb_is_unchanged(small_kb, name):
    kb, root = small_kb
    data, message = BAD[name]
    before = kb.documents()
    folder = root / name.replace(".", "-")
    folder.mkdir()
    (folder / name).write_bytes(data)
    report = kb.ingest([folder], progress=False)
    (res,) = report.files
    assert res.status == "error" and message in res.message, res.message
    assert res.path.endswith(f"/{name}")  # the result names the file
    assert kb.documents() == before
    up = kb.ingest_bytes(f"uploads/{name}", data)
    assert up.status == "error" and message in up.message
    assert kb.documents() == before


def test_scanned_pdf_without_ocr_models_is_refused_by_name(small_kb, monkeypatch):
    kb, root = small_kb
    monkeypatch.setattr(ocr, "MODEL_FILES", ("missing_det.onnx", "missing_rec.onnx", "missing_cls.onnx"))
    monkeypatch.setattr(ocr, "_engine", None)
    before = kb.documents()
    (root / "scans").mkdir()
    (root / "scans" / "scan.pdf").write_bytes(make_image_only_pdf())
    report = kb.ingest([root / "scans"], progress=False)
    (res,) = report.files
    assert res.status == "error" and res.path.endswith("scan.pdf")
    assert "OCR models missing" in res.message and "missing_det.onnx" in res.message
    assert kb.documents() == before


def test_blank_scan_says_ocr_found_no_text():
    with pytest.raises(IngestError, match="OCR read no text"):
        load_bytes(make_image_only_pdf(), ".pdf")


# ---- offline -------------------------------------------------------------------------------------------

def test_ocr_ofd_and_web_extraction_never_touch_the_network(no_network, monkeypatch):
    from PIL import Image, ImageDraw, ImageFont

    import fixtures_docs as fx

    if fx.cjk_font_path() is None:
        pytest.skip("no CJK font to render a test line")
    monkeypatch.setattr(ocr, "_engine", None)  # load the models under the guard
    img = Image.new("L", (900, 120), 255)
    ImageDraw.Draw(img).text((20, 30), "全年办理行政复议案件12件", font=ImageFont.truetype(fx.cjk_font_path(), 48), fill=0)
    assert "行政复议案件12件" in ocr.ocr_image(img)
    assert ocr.check_models().is_dir()
    loaded = load_bytes(fx.ofd_bytes("某局关于某事的通知", ["第一段正文内容，" * 5]), ".ofd")
    assert "第一段正文内容" in loaded.text
    page = fx.page_template_c("某局2020年法治政府建设情况报告", ["2020年，某局扎实推进法治建设。" * 6] * 6,
                              "某市人民政府", "某局", "2021-01-05")
    assert "扎实推进法治建设" in load_bytes(page.encode("utf-8"), ".html").text
    assert no_network == []


# ---- .doc without LibreOffice --------------------------------------------------------------------------

def test_doc_falls_back_to_antiword_and_says_when_neither_is_there(monkeypatch):
    import shutil

    import fixtures_docs as fx
    from ingest import office

    if not (shutil.which("soffice") and shutil.which("antiword")):
        pytest.skip("LibreOffice and antiword are both needed here (make system-deps)")
    data = fx.doc_bytes("某县司法局2020年法治政府建设情况报告",
                        ["2020年，某县司法局全年办理行政复议案件12件。", "一、加强组织领导"]
                        + ["召开专题会议研究法治建设工作，制定年度工作要点，明确责任分工。"] * 30)  # antiword refuses tiny files
    monkeypatch.setattr(office, "soffice_path", lambda: None)  # LibreOffice absent: antiword reads it
    loaded = load_bytes(data, ".doc")
    assert "全年办理行政复议案件12件" in loaded.text and "一、加强组织领导" in loaded.text
    assert loaded.fmt == "doc"
    monkeypatch.setattr(office, "antiword_path", lambda: None)
    with pytest.raises(IngestError, match="neither LibreOffice .* nor antiword is installed"):
        load_bytes(data, ".wps")
