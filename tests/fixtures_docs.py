"""Realistic documents made in the tests from corpus texts, in the forms users hold them.

Scanned PDFs (pages rendered with a CJK font at 150–200 dpi, slightly rotated, with scanner noise,
image-only), a mixed PDF, .docx with and without heading styles, .doc and .wps (made by LibreOffice
from a generated .docx), .ofd (a minimal OFD package built here) and web pages wrapped in the chrome of
several invented site templates (.html, and .txt/.md copies as a browser saves them).

The corpus texts are read from /work/shared/corpus (or ../shared/corpus beside the checkout); nothing
made here is committed.
"""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from eval.ocr import _wrap, cjk_font_path, images_to_pdf, render_pages  # noqa: F401  (the benchmark's renderer)

ROOT = Path(__file__).resolve().parents[1]


def shared_corpus() -> Path | None:
    for p in (Path("/work/shared/corpus"), ROOT.parent / "shared" / "corpus"):
        if (p / "MANIFEST.tsv").is_file():
            return p
    return None


def corpus_lines(rel: str) -> list[str]:
    """The non-empty lines of a corpus text, whitespace-trimmed."""
    corpus = shared_corpus()
    assert corpus is not None
    return [ln.strip() for ln in (corpus / rel).read_text(encoding="utf-8").split("\n") if ln.strip()]


def body_from(rel: str, start: str, max_chars: int) -> list[str]:
    """Lines of a corpus text from the first line containing ``start``, whole lines up to ``max_chars``."""
    lines = corpus_lines(rel)
    i = next(k for k, ln in enumerate(lines) if start in ln)
    out, total = [], 0
    for ln in lines[i:]:
        if out and total + len(ln) > max_chars:
            break
        out.append(ln)
        total += len(ln)
    return out


# ---- scanned pages -----------------------------------------------------------------------------------

def scanned_pdf(title: str, paragraphs: list[str], dpi: int = 180, seed: int = 0,
                max_pages: int | None = None) -> tuple[bytes, list[str]]:
    pages = render_pages(title, paragraphs, dpi=dpi, seed=seed, max_pages=max_pages)
    return images_to_pdf([im for im, _ in pages], dpi), [t for _, t in pages]


def mixed_pdf(text_pages: list[list[str]], scan_title: str, scan_paragraphs: list[str], dpi: int = 180,
              seed: int = 1) -> bytes:
    """Text-layer pages first, then one scanned page (an attachment printed and scanned into the file)."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842))
    for lines in text_pages:
        c.setFont("STSong-Light", 12)
        y = 780
        for line in lines:
            for k in range(0, len(line), 38):
                c.drawString(60, y, line[k:k + 38])
                y -= 20
        c.showPage()
    img, _ = render_pages(scan_title, scan_paragraphs, dpi=dpi, seed=seed, max_pages=1)[0]
    jpg = io.BytesIO()
    img.convert("L").save(jpg, "JPEG", quality=80)
    jpg.seek(0)
    c.drawImage(ImageReader(jpg), 0, 0, width=595, height=842)
    c.showPage()
    c.save()
    return buf.getvalue()


# ---- Word --------------------------------------------------------------------------------------------

_HEADING_1 = re.compile(r"^[一二三四五六七八九十]+、")
_HEADING_2 = re.compile(r"^[（(][一二三四五六七八九十]+[）)]")


def docx_bytes(title: str, paragraphs: list[str], styled: bool) -> bytes:
    """A .docx; with ``styled`` the title and the 一、/（一） lines carry Title / Heading styles."""
    import docx

    d = docx.Document()
    d.core_properties.title = ""
    if styled:
        d.add_heading(title, level=0)
    else:
        d.add_paragraph(title)
    for para in paragraphs:
        if styled and _HEADING_1.match(para) and len(para) < 60:
            d.add_heading(para, level=1)
        elif styled and _HEADING_2.match(para) and len(para) < 60:
            d.add_heading(para, level=2)
        else:
            d.add_paragraph(para)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def soffice_convert(data: bytes, suffix: str, target: str) -> bytes:
    """Convert with LibreOffice headless (the test's own conversion, separate from the product's)."""
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    assert exe, "LibreOffice is needed to make .doc/.wps fixtures"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"in{suffix}"
        src.write_bytes(data)
        subprocess.run([exe, f"-env:UserInstallation=file://{tmp}/profile", "--headless", "--norestore",
                        "--convert-to", target, "--outdir", tmp, str(src)], check=True, capture_output=True,
                       timeout=180)
        return (Path(tmp) / f"in.{target.split(':')[0]}").read_bytes()


def doc_bytes(title: str, paragraphs: list[str]) -> bytes:
    """A Word 97 .doc (what a .wps from WPS Office also is: an OLE Word-97-compatible binary)."""
    return soffice_convert(docx_bytes(title, paragraphs, styled=False), ".docx", 'doc:MS Word 97')


# ---- OFD ---------------------------------------------------------------------------------------------

def ofd_bytes(title: str, paragraphs: list[str], chars_per_line: int = 30, lines_per_page: int = 28) -> bytes:
    """A minimal valid OFD package (GB/T 33190): OFD.xml, Document.xml, PublicRes.xml with a font, one
    Content.xml per page with one TextObject per line (Boundary in mm, TextCode with DeltaX)."""
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    size = 4.2  # mm: about 12 pt
    rows = [title] + [ln for p in paragraphs for ln in _wrap(p, chars_per_line, 2)]
    pages = [rows[i:i + lines_per_page] for i in range(0, len(rows), lines_per_page)]
    files: dict[str, str] = {
        "OFD.xml": (f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD {ns} Version="1.0" DocType="OFD">'
                    '<ofd:DocBody><ofd:DocInfo><ofd:DocID>0C1D4F7159954EEEDE517F7285E84DC4</ofd:DocID>'
                    f'<ofd:Title>{escape(title)}</ofd:Title><ofd:CreationDate>2020-03-01</ofd:CreationDate></ofd:DocInfo>'
                    '<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>'),
        "Doc_0/PublicRes.xml": (f'<?xml version="1.0" encoding="UTF-8"?><ofd:Res {ns} BaseLoc="Res"><ofd:Fonts>'
                                '<ofd:Font ID="2" FontName="宋体" FamilyName="宋体"/></ofd:Fonts></ofd:Res>'),
    }
    page_refs = []
    next_id = 10
    for n, page_rows in enumerate(pages):
        page_refs.append(f'<ofd:Page ID="{n + 3}" BaseLoc="Pages/Page_{n}/Content.xml"/>')
        objs = []
        y = 25.0
        for row in page_rows:
            indent = (len(row) - len(row.lstrip("\u3000"))) * size  # a paragraph's first line is indented
            row = row.lstrip("\u3000")
            x = 25.0 + indent
            w = size * len(row)
            delta = " ".join([f"{size}"] * (len(row) - 1))
            objs.append(f'<ofd:TextObject ID="{next_id}" Boundary="{x:.2f} {y:.2f} {w:.2f} {size * 1.2:.2f}" '
                        f'Font="2" Size="{size}"><ofd:FillColor Value="0 0 0"/>'
                        f'<ofd:TextCode X="0" Y="{size:.2f}" DeltaX="{delta}">{escape(row)}</ofd:TextCode></ofd:TextObject>')
            next_id += 1
            y += size * 1.8
        files[f"Doc_0/Pages/Page_{n}/Content.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page {ns}><ofd:Content><ofd:Layer ID="{next_id}">'
            + "".join(objs) + "</ofd:Layer></ofd:Content></ofd:Page>")
        next_id += 1
    files["Doc_0/Document.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document {ns}><ofd:CommonData><ofd:MaxUnitID>{next_id}'
        '</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>'
        '<ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData><ofd:Pages>' + "".join(page_refs)
        + "</ofd:Pages></ofd:Document>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, xml in files.items():
            zf.writestr(name, xml)
    return buf.getvalue()


# ---- web pages in invented site templates ----------------------------------------------------------------

def _html_paragraphs(paragraphs: list[str]) -> str:
    out = []
    for p in paragraphs:
        if (_HEADING_1.match(p) or re.match(r"^第[一二三四五六七八九十]+章", p)) and len(p) < 60:
            out.append(f"<h2>{escape(p)}</h2>")
        else:
            out.append(f'<p style="text-indent:2em">{escape(p)}</p>')
    return "\n".join(out)


def page_template_a(title: str, paragraphs: list[str], site: str, source: str, published: str) -> str:
    """A provincial-style portal: date bar, accessibility/language switches, menu, breadcrumb, info line,
    font-size/print/close bar, footer with 主办单位 / 网站标识码 / ICP备."""
    return f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<title>{escape(title)}_{escape(site)}</title><link rel="stylesheet" href="/css/main.css">
<script>var _hmt=_hmt||[];</script></head><body>
<div class="topbar"><span class="today">2024年6月18日 星期二</span>
<span class="tools"><a href="#">无障碍</a> <a href="#">简体</a>| <a href="#">繁体</a> <a href="#">长者模式</a></span></div>
<div class="banner"><div class="logo">{escape(site)}</div></div>
<div class="menu"><a href="/">首页</a> <a href="/zwgk/">政务公开</a> <a href="/zwfw/">政务服务</a>
<a href="/hdjl/">互动交流</a> <a href="/zjbq/">走进本区</a></div>
<div class="position">您所在的位置：<a href="/">首页</a> &gt; <a href="/zwgk/">政务公开</a> &gt; <a>工作报告</a></div>
<div class="detail"><div class="detail-title">{escape(title)}</div>
<div class="detail-info">来源：{escape(source)} 发布时间：{published} 浏览次数：1024</div>
<div class="detail-content">{_html_paragraphs(paragraphs)}</div>
<div class="detail-tools">【字体：<a>大</a> <a>中</a> <a>小</a>】 【<a>打印</a>】 【<a>关闭</a>】</div></div>
<div class="foot"><p><a>网站地图</a> | <a>联系我们</a> | <a>网站声明</a></p>
<p>主办单位：{escape(site)}办公室 网站标识码：1200000032 津ICP备05004624号-1 津公网安备 12011502000001号</p></div>
</body></html>"""


def page_template_b(title: str, paragraphs: list[str], site: str, issuer: str, number: str, date: str) -> str:
    """An old table-layout site: 政务公开 information table (索引号 / 发文机关 / 发文字号 / 成文日期),
    breadcrumb with >>, 我要纠错/打印本页/关闭窗口, previous/next links, counter and browser advice."""
    number_row = f"<td>发文字号：</td><td>{escape(number)}</td>" if number else "<td>发文字号：</td><td></td>"
    return f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{escape(title)} - {escape(site)}</title></head><body>
<table width="1000"><tr><td><a href="/">设为首页</a> | <a href="#">加入收藏</a> | <a href="/m/">手机版</a></td></tr>
<tr><td class="sitename">{escape(site)}</td></tr>
<tr><td><a>首页</a> <a>信息公开</a> <a>政策文件</a> <a>政策解读</a> <a>公众参与</a> <a>数据开放</a></td></tr></table>
<table><tr><td>当前位置：首页&gt;&gt;信息公开&gt;&gt;法定主动公开内容</td></tr></table>
<table class="xxgk"><tr><td>索引号：</td><td>000014349/2019-00061</td><td>主题分类：</td><td>其他</td></tr>
<tr><td>发文机关：</td><td>{escape(issuer)}</td><td>成文日期：</td><td>{date}</td></tr>
<tr>{number_row}<td>发布日期：</td><td>{date}</td></tr></table>
<table width="1000"><tr><td align="center"><h1>{escape(title)}</h1></td></tr><tr><td>
{_html_paragraphs(paragraphs)}
</td></tr></table>
<table><tr><td>【<a>我要纠错</a>】【<a>打印本页</a>】【<a>关闭窗口</a>】</td></tr>
<tr><td>上一篇：关于公布第二批行政许可事项目录的通知</td></tr><tr><td>下一篇：无</td></tr></table>
<table><tr><td>版权所有：{escape(site)} 技术支持：某某信息技术有限公司</td></tr>
<tr><td>建议使用1920×1080分辨率 IE10以上浏览器浏览本站 您是本站第1283470位访客</td></tr></table>
</body></html>"""


def page_template_c(title: str, paragraphs: list[str], site: str, source: str, published: str) -> str:
    """A modern portal: login/search bar, 今天是… date line, share bar and QR-code prompt, footer address."""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}｜{escape(site)}</title></head>
<body><header class="hd"><div class="hd-top"><span>今天是：2025年11月3日 星期一</span>
<span><a>智能问答</a> | <a>登录</a> | <a>注册</a></span><form><input placeholder="请输入关键字"><button>搜索</button></form></div>
<div class="hd-site">{escape(site)}</div>
<ul class="nav"><li>首页</li><li>新闻中心</li><li>政务公开</li><li>政务服务</li><li>互动交流</li></ul></header>
<main><div class="crumbs">当前位置：<a>首页</a> › <a>政策文件</a> › <a>法律法规</a></div>
<article><h1>{escape(title)}</h1>
<div class="meta"><span>文章来源：{escape(source)}</span> <span>发布日期：{published}</span> <span>阅读次数：88</span></div>
{_html_paragraphs(paragraphs)}
</article>
<div class="share">分享到：<a>微信</a> <a>微博</a> <a>QQ空间</a></div>
<div class="qr">扫一扫在手机打开当前页</div></main>
<footer><p><a>联系我们</a> | <a>网站地图</a> | <a>隐私声明</a></p>
<p>地址：某某路1号 邮编：100001 电话：010-12345678</p>
<p>网站标识码：bm00000001 京ICP备05070218号 政府网站找错</p></footer></body></html>"""


def text_copy(html: str) -> str:
    """What a browser's "save as text" / select-all-copy gives: every block's visible text on its own line."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "title", "head"]):
        tag.decompose()
    for tag in soup.find_all("td"):
        tag.insert_after("\t")  # table cells side by side, rows on their own lines
    for tag in soup.find_all(["p", "div", "li", "tr", "h1", "h2", "header", "footer", "ul", "form"]):
        tag.insert_after("\n")
    lines = [re.sub(r"[ \t]+", " ", ln).strip() for ln in soup.get_text().split("\n")]
    return "\n".join(ln for ln in lines if ln) + "\n"


def markdown_copy(html: str) -> str:
    """A web clipper's Markdown: links kept as [text](url), headings as #/##."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for a in soup.find_all("a"):
        a.replace_with(f"[{a.get_text()}](/c/{len(a.get_text())}.html)")
    for h in soup.find_all("h1"):
        h.insert_before("\n# ")
    for h in soup.find_all("h2"):
        h.insert_before("\n## ")
    return text_copy(str(soup)).replace("\n# \n", "\n# ").replace("\n## \n", "\n## ")


# ---- the fixture set ----------------------------------------------------------------------------------------

TIANJIN = "reports/2019-tianjin-renfangban-report.txt"
ZHENBA = "reports/2019-zhenba-xian-report.txt"
LUOHU = "reports/2019-luohu-qu-yingjiju-report.txt"
BAODI = "reports/2021-baodi-qu-chengguanwei-report.txt"


def make_fixtures() -> dict[str, bytes]:
    """File name -> bytes of every realistic fixture (corpus texts in users' forms).  Slow parts (OCR
    rendering, LibreOffice) are a few seconds each."""
    out: dict[str, bytes] = {}
    tj = body_from(TIANJIN, "天津市人防办关于2019年度", 700)
    out["scan-report.pdf"], _ = scanned_pdf(tj[0], tj[1:], dpi=180, seed=3, max_pages=1)
    qz = body_from("outlines/law-xingzheng-qiangzhi-fa-2011.txt", "中华人民共和国行政强制法", 650)
    out["scan-law-150dpi.pdf"], _ = scanned_pdf(qz[0], qz[1:], dpi=150, seed=4, max_pages=1)
    zb = body_from(ZHENBA, "2019年以来", 2600)
    k = next(i for i, ln in enumerate(zb) if ln.startswith("二、"))
    # page 1 has a text layer; page 2 (section 二) was printed, stamped and scanned back in
    out["mixed-report.pdf"] = mixed_pdf([["镇巴县人民政府2019年法治政府建设工作总结"] + zb[:2]], zb[k], zb[k + 1:k + 3])
    lh = body_from(LUOHU, "区法治政府建设领导小组办公室", 1600)
    out["luohu-report.doc"] = doc_bytes("罗湖区应急管理局2019年法治政府建设工作总结", lh)
    g115 = body_from("outlines/2018-guobanfa-115-guifanxing-wenjian-hefaxing-shenhe.txt", "国务院办公厅关于", 1500)
    out["guobanfa-115.wps"] = doc_bytes(g115[0], g115[1:])
    g118 = body_from("outlines/2018-guobanfa-118-sanxiang-zhidu-yijian.txt", "国务院办公厅关于", 1800)
    out["guobanfa-118.ofd"] = ofd_bytes(g118[0], g118[1:])
    zd = body_from("outlines/2019-zhongda-xingzheng-juece-chengxu-tiaoli.txt", "重大行政决策程序暂行条例", 1500)
    out["zhongda-styled.docx"] = docx_bytes(zd[0], zd[1:], styled=True)
    sq = body_from("outlines/2017-shangqiu-shi-fazhi-zhengfu-yijian.txt", "各县(区)人民政府", 1500)
    sq += corpus_lines("outlines/2017-shangqiu-shi-fazhi-zhengfu-yijian.txt")[-1:]  # the date under the text
    out["shangqiu-plain.docx"] = docx_bytes("商丘市人民政府关于进一步加强法治政府建设的意见", sq, styled=False)
    bd = body_from(BAODI, "一年来", 1500)
    page_a = page_template_a("区城管委2021年法治政府建设情况报告", bd, "天津市宝坻区人民政府",
                             "宝坻区城市管理委员会", "2022-03-23 12:03")
    out["baodi-page.html"] = page_a.encode("utf-8")
    out["baodi-page.txt"] = text_copy(page_a).encode("utf-8")
    xk = body_from("outlines/law-xingzheng-xuke-fa-2019.txt", "2003年8月27日", 1500)
    page_b = page_template_b("中华人民共和国行政许可法", xk, "某省人民政府门户网站", "全国人民代表大会常务委员会",
                             "", "2019-04-23")
    out["xuke-page.html"] = page_b.encode("utf-8")
    out["xuke-page.txt"] = text_copy(page_b).encode("utf-8")
    yh = body_from("outlines/reg-youhua-yingshang-huanjing-tiaoli-2019.txt", "2019年10月8日", 1500)
    page_c = page_template_c("优化营商环境条例", yh, "某市人民政府", "国务院", "2019-10-23")
    out["yingshang-page.html"] = page_c.encode("utf-8")
    out["yingshang-page.md"] = markdown_copy(page_c).encode("utf-8")
    return out
