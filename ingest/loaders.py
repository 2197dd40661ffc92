"""One loader per format: file bytes -> text, page starts and format hints.

Every loader raises ``IngestError`` with a message a user can act on; nothing here writes anything.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from .records import IngestError

SUPPORTED_SUFFIXES = (".txt", ".md", ".pdf", ".docx", ".html", ".htm")


@dataclass
class Loaded:
    text: str
    fmt: str
    pages: list[tuple[int, int]] = field(default_factory=list)  # (start offset, page number)
    # lines styled as headings (docx, html, md), stripped -> level (0 document title, 1 section, 2 subsection…)
    heading_lines: dict[str, int] = field(default_factory=dict)
    title_hint: str = ""  # <title>, docx core title, PDF metadata title


def decode_text(data: bytes) -> str:
    """Decode UTF-8 / UTF-16 (BOM) / GB18030 text; refuse what is none of them."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise IngestError(f"UTF-16 text is damaged near byte {exc.start}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"unrecognised text encoding (not UTF-8, UTF-16 or GB18030; bad byte at {exc.start})"
        ) from exc
    # GB18030 decodes almost any byte string; require that the result looks like text.
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    odd = sum(1 for ch in text if ("\u0080" <= ch <= "\u2fff" and not ch.isspace()) or "\ue000" <= ch <= "\uf8ff")
    if cjk == 0 or odd > cjk * 0.2:
        raise IngestError("unrecognised text encoding (mixed or binary content)")
    # part UTF-8, part GB18030 decodes "cleanly" as GB18030 mojibake; a run of real UTF-8 Chinese
    # (never produced by chance from GB18030 bytes) gives it away
    if re.search(r"[\u4e00-\u9fff]{6,}", data.decode("utf-8", errors="replace")):
        raise IngestError("mixed text encodings (part UTF-8, part GB18030): save the file in one encoding")
    return text


def _looks_binary(text: str) -> bool:
    if not text:
        return False
    ctrl = sum(1 for ch in text[:4000] if ord(ch) < 32 and ch not in "\r\n\t\f")
    return ctrl > len(text[:4000]) * 0.01


def load_text(data: bytes, fmt: str = "txt") -> Loaded:
    text = decode_text(data)
    if _looks_binary(text):
        raise IngestError("file is binary, not text")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    headings: dict[str, int] = {}
    if fmt == "md":
        for line in text.split("\n"):
            m = re.match(r"^(#{1,6})\s", line)
            if m:
                headings.setdefault(line.strip(), min(len(m.group(1)) - 1, 4))
    return Loaded(text=text, fmt=fmt, heading_lines=headings)


def load_pdf(data: bytes) -> Loaded:
    if not data.startswith(b"%PDF"):
        raise IngestError("not a PDF file (no %PDF header)")
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise IngestError("encrypted PDF: remove the password and try again")
        parts: list[str] = []
        pages: list[tuple[int, int]] = []
        offset = 0
        for number, page in enumerate(reader.pages, start=1):
            page_text = (page.extract_text() or "").replace("\r\n", "\n").strip("\n")
            pages.append((offset, number))
            parts.append(page_text)
            offset += len(page_text) + 1
        title = ""
        try:
            title = (reader.metadata.title or "") if reader.metadata else ""
        except Exception:
            title = ""
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise IngestError(f"damaged or truncated PDF: {exc}") from exc
    except Exception as exc:  # pypdf raises many kinds on malformed files (NotImplementedError for bad filters…)
        raise IngestError(f"damaged or unsupported PDF: {type(exc).__name__}: {exc}") from exc
    text = "\n".join(parts)
    if not text.strip():
        raise IngestError("no text layer: needs OCR (the PDF holds only scanned images; run OCR first)")
    return Loaded(text=text, fmt="pdf", pages=pages, title_hint=_pdf_title(str(title)))


_PLACEHOLDER_TITLES = {"untitled", "无标题", "anonymous", "document", "untitled document", "(anonymous)"}


def _pdf_title(title: str) -> str:
    """The metadata title unless it is a tool's placeholder ("untitled", "Microsoft Word - x.doc")."""
    title = re.sub(r"^Microsoft Word\s*-\s*", "", title.strip())
    title = re.sub(r"\.(docx?|wps|pdf)$", "", title, flags=re.I).strip()
    return "" if title.lower() in _PLACEHOLDER_TITLES else title


def load_docx(data: bytes) -> Loaded:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if "word/document.xml" not in zf.namelist():
                raise IngestError("not a Word document (.docx zip without word/document.xml)")
    except zipfile.BadZipFile as exc:
        raise IngestError("not a Word document (file is not a .docx zip)") from exc
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds on malformed parts
        raise IngestError(f"damaged Word document: {exc}") from exc
    lines: list[str] = []
    headings: dict[str, int] = {}
    for para in document.paragraphs:
        line = para.text
        style = (para.style.name if para.style is not None else "") or ""
        if line.strip() and (style.lower().startswith(("heading", "title")) or style.startswith("标题")):
            # "Title" -> 0, "Heading 2" / "标题 2" -> 2
            m = re.search(r"(\d)\s*$", style)
            level = min(int(m.group(1)), 4) if m else (0 if style.lower().startswith("title") or style == "标题" else 1)
            headings.setdefault(line.strip(), level)
        lines.append(line)
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells]
            lines.append(" | ".join(c for c in cells if c))
    title = (document.core_properties.title or "").strip()
    text = "\n".join(lines)
    return Loaded(text=text, fmt="docx", heading_lines=headings, title_hint=title)


MIN_HTML_BODY_CHARS = 20  # characters outside links: fewer is a menu page, not a document
_BLOCK_TAGS = ("p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "br", "section", "article", "td", "th", "table", "ul", "ol")


def load_html(data: bytes) -> Loaded:
    from bs4 import BeautifulSoup

    meta_charset = re.search(rb"charset=[\"']?([A-Za-z0-9_-]+)", data[:2048])
    text_raw = None
    if meta_charset:
        enc = meta_charset.group(1).decode("ascii").lower()
        enc = "gb18030" if enc in ("gb2312", "gbk") else enc
        try:
            text_raw = data.decode(enc)
        except (LookupError, UnicodeDecodeError):
            text_raw = None
    if text_raw is None:
        text_raw = decode_text(data)
    soup = BeautifulSoup(text_raw, "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else ""
    # <title> is usually "document title_site name": keep the document part
    title = re.split(r"\s*[_|｜]\s*|\s+[-–—]\s+", title)[0].strip() or title
    # <title> is metadata, not body text (it would otherwise be read as the first line)
    for tag in soup(["title", "script", "style", "noscript", "nav", "header", "footer", "iframe", "form"]):
        tag.decompose()
    headings: dict[str, int] = {}
    for h in soup.find_all(["h1", "h2", "h3", "h4"]):
        heading = re.sub(r"[ \t\u00a0]+", " ", h.get_text(" ", strip=True)).strip()
        if heading:
            headings.setdefault(heading, int(h.name[1]) - 1)  # <h1> is the page title: level 0
    body = re.sub(r"\s+", "", soup.get_text())
    in_links = sum(len(re.sub(r"\s+", "", a.get_text())) for a in soup.find_all("a"))
    if len(body) - in_links < MIN_HTML_BODY_CHARS:
        raise IngestError("no body text: the HTML page holds only navigation and links "
                          "(save the article page itself)")
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    text = soup.get_text()
    lines = [re.sub(r"[ \t\u00a0]+", " ", ln).strip() for ln in text.split("\n")]
    text = "\n".join(ln for ln in lines if ln)
    return Loaded(text=text, fmt="html", heading_lines=headings, title_hint=title)


def load_bytes(data: bytes, suffix: str) -> Loaded:
    suffix = suffix.lower()
    if not data.strip():
        raise IngestError("empty file")
    if suffix in (".txt", ".md"):
        return load_text(data, "md" if suffix == ".md" else "txt")
    if suffix == ".pdf":
        return load_pdf(data)
    if suffix == ".docx":
        return load_docx(data)
    if suffix in (".html", ".htm"):
        return load_html(data)
    raise IngestError(f"unsupported file type {suffix or '(none)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
