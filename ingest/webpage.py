"""Web pages (.html): the article by ``trafilatura`` (main-content extraction, title and date), the page's
metadata lines (来源, 发布时间, 索引号, 文号…) and the site's name kept as fields.

When trafilatura finds too little (a bare page, an unusual layout) the whole page text is used and the
general chrome filter (``ingest.chrome``, applied by ``clean_text``) removes the portal's furniture.
"""
from __future__ import annotations

import re

from .encoding import decode_text
from .records import IngestError, Loaded

MIN_HTML_BODY_CHARS = 20  # characters outside links: fewer is a menu page, not a document
# trafilatura's article must hold at least this share of the page's non-link text, else it missed the
# body (seen on pages whose article is split over table cells) and the whole page text is used
MIN_ARTICLE_SHARE = 0.3
_BLOCK_TAGS = ("p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "br", "section", "article", "table",
               "ul", "ol")
_TITLE_SEP = re.compile(r"\s*[_|｜]\s*|\s+[-–—]\s+")
_ORG_END = ("人民政府", "政府", "委员会", "办公室", "办公厅", "管理局", "局", "委", "厅", "院", "署", "中心")


def _decode(data: bytes) -> str:
    meta_charset = re.search(rb"charset=[\"']?([A-Za-z0-9_-]+)", data[:2048])
    if meta_charset:
        enc = meta_charset.group(1).decode("ascii").lower()
        enc = "gb18030" if enc in ("gb2312", "gbk") else enc
        try:
            return data.decode(enc)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(data)


def _page_lines(soup) -> list[str]:
    """Visible text, one line per block; the cells of a table row side by side (" | ")."""
    for tag in soup.find_all(["td", "th"]):
        tag.insert_after(" | ")
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = [re.sub(r"[ \t\u00a0]+", " ", ln).strip() for ln in soup.get_text().split("\n")]
    lines = [re.sub(r"^(?:\|\s*)+|(?:\s*\|)+$", "", ln).strip() for ln in lines]
    return [ln for ln in lines if ln]


def _article(html: str) -> tuple[list[str], dict[str, int], dict[str, str]]:
    """(lines, heading lines -> level, attributes) of trafilatura's article; empty when it finds none."""
    try:
        import trafilatura
        from lxml import etree
    except ImportError:
        return [], {}, {}
    # favor_recall: the default precision mode drops section headings of short government pages; the
    # residual metadata/button lines it then keeps are removed by the line-level chrome filter
    xml = trafilatura.extract(html, output_format="xml", include_tables=True, include_formatting=True,
                              with_metadata=True, include_comments=False, include_links=False,
                              include_images=False, deduplicate=False, favor_recall=True)
    if not xml:
        return [], {}, {}
    root = etree.fromstring(xml.encode("utf-8"))
    main = root.find("main")
    lines: list[str] = []
    headings: dict[str, int] = {}
    for el in main.iter() if main is not None else []:
        if el.tag == "row":
            cells = [re.sub(r"\s+", " ", "".join(c.itertext())).strip() for c in el.iter("cell")]
            lines.append(" | ".join(c for c in cells if c))
            continue
        if el.tag not in ("head", "p", "item", "quote"):
            continue
        if any(a.tag in ("row", "p", "item", "head") for a in el.iterancestors()):
            continue  # already read with its block
        for br in el.iter("lb"):
            br.tail = "\n" + (br.tail or "")
        for part in "".join(el.itertext()).split("\n"):
            text = re.sub(r"[ \t\u00a0]+", " ", part).strip()
            if not text:
                continue
            lines.append(text)
            if el.tag == "head":
                m = re.match(r"h(\d)", el.get("rend", "h2"))
                headings.setdefault(text, min(int(m.group(1)) - 1, 4) if m else 1)
    return [ln for ln in lines if ln], headings, dict(root.attrib)


MIN_MATCH_CHARS = 8  # page lines shorter than this are not used to locate the article (too ambiguous)


def _article_span(page: list[str], article: list[str]) -> tuple[int, int] | None:
    """(first, last + 1) page lines that belong to trafilatura's article, or None when it found none
    or too little of the page (then the whole page is kept and the chrome filter does all the work)."""
    blob = "\n".join(re.sub(r"\s+", "", ln) for ln in article)
    if not blob:
        return None
    hits = [i for i, ln in enumerate(page)
            if len(re.sub(r"\s+", "", ln)) >= MIN_MATCH_CHARS and re.sub(r"\s+", "", ln) in blob]
    if not hits:
        return None
    first, last = hits[0], hits[-1] + 1
    kept = sum(len(re.sub(r"\s+", "", ln)) for ln in page[first:last])
    if kept < MIN_ARTICLE_SHARE * sum(len(re.sub(r"\s+", "", ln)) for ln in page):
        return None
    return first, last


def _site_name(title_full: str, attrs: dict[str, str], page: list[str], title: str) -> str:
    """The site's name: trafilatura's sitename, the <title>'s site part, or a header line naming an office."""
    for cand in [attrs.get("sitename", "")] + _TITLE_SEP.split(title_full)[1:]:
        cand = cand.strip()
        if cand and cand != title and cand.endswith(_ORG_END) and len(cand) <= 30:
            return cand
    for line in page[:40]:
        if title and title in line:
            break
        if 4 <= len(line) <= 30 and line.endswith(_ORG_END) and not re.search(r"[:：\s|]", line):
            return line
    return ""


def load_html(data: bytes):
    from bs4 import BeautifulSoup

    from .clean import clean_text
    html = _decode(data)
    soup = BeautifulSoup(html, "html.parser")
    title_full = soup.title.get_text(strip=True) if soup.title else ""
    # <title> is usually "document title_site name": keep the document part
    title = _TITLE_SEP.split(title_full)[0].strip() or title_full
    for tag in soup(["title", "script", "style", "noscript", "iframe", "template"]):
        tag.decompose()
    page = _page_lines(BeautifulSoup(str(soup), "html.parser"))
    page_fields = clean_text("\n".join(page)).fields  # 来源 / 发布时间 / 索引号 … wherever they sit
    # the page without its explicit furniture: what is left when trafilatura finds no article
    for tag in soup(["nav", "header", "footer", "form"]):
        tag.decompose()
    headings: dict[str, int] = {}
    for h in soup.find_all(["h1", "h2", "h3", "h4"]):
        heading = re.sub(r"[ \t\u00a0]+", " ", h.get_text(" ", strip=True)).strip()
        if heading:
            headings.setdefault(heading, int(h.name[1]) - 1)  # <h1> is the page title: level 0
    body_chars = len(re.sub(r"\s+", "", soup.get_text()))
    in_links = sum(len(re.sub(r"\s+", "", a.get_text())) for a in soup.find_all("a"))
    if body_chars - in_links < MIN_HTML_BODY_CHARS:
        raise IngestError("no body text: the HTML page holds only navigation and links "
                          "(save the article page itself)")
    article, _, attrs = _article(html)
    lines = _page_lines(soup)
    span = _article_span(lines, article)
    if span is not None:
        # trafilatura locates the article; the page's own lines inside it are kept (trafilatura's output
        # drops section headings of some layouts), the chrome filter then cleans what sits inside
        lines = lines[span[0]:span[1]]
        doc_title = _TITLE_SEP.split(attrs.get("title", "").strip())[0].strip() or title
        if doc_title and not any(doc_title in ln for ln in lines[:15]):
            lines = [doc_title] + lines  # the page's headline, shown above the article
            headings.setdefault(doc_title, 0)
        title = doc_title or title
    fields = dict(page_fields)
    if attrs.get("date") and not any(k in fields for k in ("发布日期", "发布时间", "发文日期", "成文日期")):
        fields["发布日期"] = attrs["date"]
    site = _site_name(title_full, attrs, page, title)
    if site:
        fields["网站名称"] = site
    return Loaded(text="\n".join(lines), fmt="html", heading_lines=headings, title_hint=title, fields=fields)
