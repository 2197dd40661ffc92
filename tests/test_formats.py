"""Documents as users hold them (issue 12): scanned and mixed PDFs read by OCR, .doc/.wps, .ofd, web pages
of several invented site templates (.html and their .txt/.md copies), .docx with and without heading
styles — all made in the test from corpus texts (tests/fixtures_docs.py).

Asserted is what a reader sees: no page chrome in any chunk, title/issuer/year/kind, headings, page
numbers, one retrieved answer per document, the same chunks through the web/API upload as through the
CLI, and a clear error naming the file (with the knowledge base unchanged) when a file cannot be read.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

import fixtures_docs as fx

if fx.shared_corpus() is None:
    pytest.skip("the shared corpus (/work/shared/corpus or ../shared/corpus) is absent: its texts make the fixtures",
                allow_module_level=True)
if fx.cjk_font_path() is None:
    pytest.skip("no CJK font (Debian fonts-wqy-microhei) to render scanned pages", allow_module_level=True)
pytest.importorskip("rapidocr_onnxruntime", reason="the [formats] extra (OCR) is not installed")
pytest.importorskip("easyofd", reason="the [formats] extra (OFD) is not installed")
if not (Path("/usr/bin/soffice").exists() or __import__("shutil").which("soffice")):
    pytest.skip("LibreOffice (libreoffice-writer-nogui) is needed to make the .doc/.wps fixtures", allow_module_level=True)

from ingest.loaders import SUPPORTED_SUFFIXES  # noqa: E402
from vectorstore.kb import KnowledgeBase  # noqa: E402

# name -> (title, issuer, year, kind): what a reader of each document finds on it
EXPECTED = {
    "scan-report.pdf": ("天津市人防办关于2019年度法治政府建设情况的报告", "天津市人防办", 2019, "report"),
    "scan-law-150dpi.pdf": ("中华人民共和国行政强制法", "全国人民代表大会常务委员会", 2011, "law"),
    "mixed-report.pdf": ("镇巴县人民政府2019年法治政府建设工作总结", "镇巴县人民政府", 2019, "report"),
    "luohu-report.doc": ("罗湖区应急管理局2019年法治政府建设工作总结", "深圳市罗湖区应急管理局", 2019, "report"),
    "guobanfa-115.wps": ("国务院办公厅关于全面推行行政规范性文件合法性审核机制的指导意见", "国务院办公厅", 2018, "outline"),
    "guobanfa-118.ofd": ("国务院办公厅关于全面推行行政执法公示制度执法全过程记录制度重大执法决定法制审核制度的指导意见",
                         "国务院办公厅", 2018, "outline"),
    "zhongda-styled.docx": ("重大行政决策程序暂行条例", "国务院", 2019, "law"),
    "shangqiu-plain.docx": ("商丘市人民政府关于进一步加强法治政府建设的意见", "商丘市人民政府", 2017, "outline"),
    # a district department named without its city in the title and 来源; the page's site names the city
    "baodi-page.html": ("区城管委2021年法治政府建设情况报告", "天津市宝坻区城市管理委员会", 2021, "report"),
    "baodi-page.txt": ("区城管委2021年法治政府建设情况报告", "天津市宝坻区城市管理委员会", 2021, "report"),
    "xuke-page.html": ("中华人民共和国行政许可法", "全国人民代表大会常务委员会", 2019, "law"),
    "xuke-page.txt": ("中华人民共和国行政许可法", "全国人民代表大会常务委员会", 2019, "law"),
    "yingshang-page.html": ("优化营商环境条例", "国务院", 2019, "law"),
    "yingshang-page.md": ("优化营商环境条例", "国务院", 2019, "law"),
}
# a heading (as a reader sees it in the chunk's heading path) of each document
HEADINGS = {
    "scan-report.pdf": "一、认真学习贯彻落实习近平总书记关于法治政府建设的重要指示",
    "scan-law-150dpi.pdf": "第一章",
    "mixed-report.pdf": "二、法治政府建设工作开展情况",
    "luohu-report.doc": "（一）加强组织领导",
    "guobanfa-115.wps": "一、总体要求",
    "guobanfa-118.ofd": "二、全面推行行政执法公示制度",
    "zhongda-styled.docx": "第二章 决策草案的形成",
    "shangqiu-plain.docx": "一、突出重点",
    "baodi-page.html": "一、法治政府建设的主要举措和成效",
    "baodi-page.txt": "一、法治政府建设的主要举措和成效",
    "xuke-page.html": "第二章 行政许可的设定",
    "xuke-page.txt": "第二章 行政许可的设定",
    "yingshang-page.html": "第二章 市场主体保护",
    "yingshang-page.md": "第二章 市场主体保护",
}
# what the templates wrap around every page: none of it may reach a chunk
CHROME = ("星期", "无障碍", "繁体", "长者模式", "首页", "您所在的位置", "当前位置", "浏览次数", "阅读次数", "字体：",
          "【打印】", "打印本页", "关闭窗口", "我要纠错", "分享到", "扫一扫", "网站地图", "联系我们", "网站声明", "隐私声明",
          "主办单位", "网站标识码", "ICP备", "公网安备", "版权所有", "技术支持", "分辨率", "访客", "智能问答", "登录",
          "请输入关键字", "上一篇", "下一篇", "邮编", "政府网站找错", "设为首页", "手机版", "门户网站", "- 1 -",
          "索引号", "发布时间：", "来源：", "文章来源")
TWINS = {"baodi-page.html": "baodi-page.txt", "xuke-page.html": "xuke-page.txt", "yingshang-page.html": "yingshang-page.md"}
TWINS |= {v: k for k, v in TWINS.items()}


def _nospace(s: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, bytes]:
    return fx.make_fixtures()


@pytest.fixture(scope="module")
def built(files, tmp_path_factory):
    """The fixtures ingested through the CLI path (KnowledgeBase.ingest on a folder)."""
    root = tmp_path_factory.mktemp("formats")
    src = root / "src"
    src.mkdir()
    for name, data in files.items():
        (src / name).write_bytes(data)
    kb = KnowledgeBase(root / "kb")
    report = kb.ingest([src], progress=False)
    yield kb, report, root
    kb.close()


def test_at_least_twelve_fixtures_in_every_form(files):
    assert len(files) >= 12
    assert {Path(n).suffix for n in files} >= {".pdf", ".doc", ".wps", ".ofd", ".docx", ".html", ".txt", ".md"}
    assert set(files) == set(EXPECTED)
    assert files["luohu-report.doc"][:8] == files["guobanfa-115.wps"][:8] == bytes.fromhex("d0cf11e0a1b11ae1")
    assert {".doc", ".wps", ".ofd"} <= set(SUPPORTED_SUFFIXES)


def test_every_fixture_is_ingested_and_ocr_pages_are_counted(built):
    kb, report, _ = built
    by_name = {Path(f.path).name: f for f in report.files}
    assert set(by_name) == set(EXPECTED)
    bad = {n: f.message for n, f in by_name.items() if f.status != "added"}
    assert not bad, bad
    assert by_name["scan-report.pdf"].ocr_pages == 1
    assert by_name["scan-law-150dpi.pdf"].ocr_pages == 1
    assert by_name["mixed-report.pdf"].ocr_pages == 1  # page 1 has a text layer, page 2 is a scan
    assert all(by_name[n].ocr_pages == 0 for n in EXPECTED if not n.endswith(".pdf"))
    assert report.to_dict()["files"][0]["ocr_pages"] is not None


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_metadata_a_reader_would_give(built, name):
    kb, _, _ = built
    doc = kb.store.document(name)
    title, issuer, year, kind = EXPECTED[name]
    assert (doc.title, doc.issuer, doc.year, doc.kind) == (title, issuer, year, kind)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_page_chrome_in_any_chunk_and_headings_kept(built, name):
    kb, _, _ = built
    chunks = kb.store.doc_chunks(name)
    assert chunks
    for ch in chunks:
        for junk in CHROME:
            assert junk not in ch.text, (junk, ch.text[:200])
    doc = kb.store.document(name)
    for junk in CHROME:
        assert junk not in doc.text, junk
    paths = [" > ".join(ch.heading_path) for ch in chunks]
    assert any(_nospace(HEADINGS[name]) in _nospace(p) for p in paths), paths


def test_page_numbers_of_ofd_and_mixed_pdf(built):
    kb, _, _ = built
    ofd = kb.store.document("guobanfa-118.ofd")
    assert [n for _, n in ofd.pages] == [1, 2, 3]
    assert {ch.page for ch in kb.store.doc_chunks("guobanfa-118.ofd")} == {1, 2, 3}
    mixed = kb.store.doc_chunks("mixed-report.pdf")
    scanned = [ch for ch in mixed if "深化行政审批制度改革" in _nospace(ch.text) or "划转行政审批事项233" in _nospace(ch.text)]
    assert scanned and all(ch.page == 2 for ch in scanned)  # the OCR'd page keeps its number
    assert any(ch.page == 1 for ch in mixed)
    for ch in mixed:  # offsets index the stored text, OCR'd or not
        assert kb.store.document("mixed-report.pdf").text[ch.start:ch.end] == ch.text


def _cer(ocr: str, truth: str) -> float:
    a, b = _nospace(ocr), _nospace(truth)
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1] / max(len(b), 1)


def test_scanned_page_reads_as_its_text(built):
    kb, _, _ = built
    lines = fx.body_from(fx.TIANJIN, "天津市人防办关于2019年度", 700)
    truth = "".join(lines)
    text = kb.store.document("scan-report.pdf").text
    # the rendered page holds the start of the text; OCR must read it nearly verbatim
    assert _cer(text, truth[: len(_nospace(text)) + 5]) < 0.05
    assert "扎实推进法治政府建设各项工作任务" in _nospace(text)  # a sentence wrapped over two scanned lines


def _probe(text: str) -> str:
    """A distinctive clause from the middle of a document (what a user would ask about)."""
    sentences = [s for s in re.split(r"[。；]", text) if 25 <= len(s) <= 80]
    return sentences[len(sentences) // 2]


def test_one_retrieved_answer_per_document(built):
    from vectorstore.retrieve import Retriever

    kb, _, _ = built
    retriever = Retriever(kb)
    for name in EXPECTED:
        q = _probe(kb.store.document(name).text)
        hits = retriever.search(q, k=1)
        assert hits and hits[0].chunk.doc_id in (name, TWINS.get(name)), (name, q, hits[0].chunk.doc_id)
        assert _nospace(q) in _nospace(hits[0].chunk.text) or hits[0].chunk.doc_id == TWINS.get(name)


def test_web_api_upload_gives_the_same_chunks_as_the_cli(built, files):
    fastapi = pytest.importorskip("fastapi", reason="the web extra is not installed")  # noqa: F841
    from fastapi.testclient import TestClient

    from assistant.delivery.api import Service, create_api
    from assistant.service import Assistant
    from assistant.settings import Settings

    kb_cli, _, root = built
    kb = KnowledgeBase(root / "kb-upload")
    try:
        client = TestClient(create_api(Service(Assistant(Settings(kb=root / "kb-upload", corpus=root / "none"), kb=kb))),
                            base_url="http://127.0.0.1")  # no login: writes from this machine
        names = ["mixed-report.pdf", "luohu-report.doc", "guobanfa-115.wps", "guobanfa-118.ofd"]
        r = client.post("/api/documents", files=[("files", (n, files[n], "application/octet-stream")) for n in names])
        assert r.status_code == 200, r.text
        results = {Path(f["path"]).name: f for f in r.json()["files"]}
        assert all(results[n]["status"] == "added" for n in names), results
        assert results["mixed-report.pdf"]["ocr_pages"] == 1
        for n in names:
            up = kb.store.doc_chunks(f"uploads/{n}")
            cli = kb_cli.store.doc_chunks(n)
            assert [(c.text, c.heading_path, c.page, c.start, c.end) for c in up] == \
                   [(c.text, c.heading_path, c.page, c.start, c.end) for c in cli], n
            assert kb.store.document(f"uploads/{n}").issuer == kb_cli.store.document(n).issuer
    finally:
        kb.close()
