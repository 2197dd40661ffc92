"""One loader per format: file bytes -> text, page starts and format hints.

Every loader raises ``IngestError`` with a message a user can act on; nothing here writes anything.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from typing import Callable

from .records import IngestError

Progress = Callable[[int, int, float], None]  # (pages done, pages in all, pages per second)

SUPPORTED_SUFFIXES = (".txt", ".md", ".pdf", ".docx", ".doc", ".wps", ".ofd", ".html", ".htm")


@dataclass
class Loaded:
    text: str
    fmt: str
    pages: list[tuple[int, int]] = field(default_factory=list)  # (start offset, page number)
    # lines styled as headings (docx, html, md), stripped -> level (0 document title, 1 section, 2 subsection…)
    heading_lines: dict[str, int] = field(default_factory=dict)
    title_hint: str = ""  # <title>, docx core title, PDF metadata title
    ocr_pages: int = 0  # pages read by OCR (scanned PDF pages)
    # metadata found outside the main text (a web page's 来源 / 发布时间 lines, site name, date)
    fields: dict[str, str] = field(default_factory=dict)


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


def _visible_chars(text: str) -> int:
    return sum(1 for ch in text if not ch.isspace())


def load_pdf(data: bytes, progress: Progress | None = None) -> Loaded:
    """Text layer per page; a page without one (a scan) is read by OCR.  Offsets and page numbers are kept
    the same way for both kinds of page, so a mixed PDF reads as one text."""
    if not data.startswith(b"%PDF"):
        raise IngestError("not a PDF file (no %PDF header)")
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    from .ocr import OCR_MIN_PAGE_CHARS

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise IngestError("encrypted PDF: remove the password and try again")
        page_texts: list[str] = []
        for page in reader.pages:
            page_texts.append((page.extract_text() or "").replace("\r\n", "\n").strip("\n"))
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
    scanned = [i for i, t in enumerate(page_texts) if _visible_chars(t) < OCR_MIN_PAGE_CHARS]
    if scanned:
        from .ocr import ocr_pages, render_pdf_pages

        for i, text in zip(scanned, ocr_pages(render_pdf_pages(data, scanned), len(scanned), progress)):
            if _visible_chars(text) > _visible_chars(page_texts[i]):
                page_texts[i] = text
    parts: list[str] = []
    pages: list[tuple[int, int]] = []
    offset = 0
    for number, page_text in enumerate(page_texts, start=1):
        pages.append((offset, number))
        parts.append(page_text)
        offset += len(page_text) + 1
    text = "\n".join(parts)
    if not text.strip():
        raise IngestError("no text found: the PDF has no text layer and OCR read no text on its "
                          f"{len(scanned)} scanned page(s) (blank or unreadable scan)")
    return Loaded(text=text, fmt="pdf", pages=pages, title_hint=_pdf_title(str(title)), ocr_pages=len(scanned))


_PLACEHOLDER_TITLES = {"untitled", "无标题", "anonymous", "document", "untitled document", "(anonymous)",
                       "word document", "microsoft word document", "文档", "新建文档", "wps文字"}


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
    title = _pdf_title(document.core_properties.title or "")
    text = "\n".join(lines)
    return Loaded(text=text, fmt="docx", heading_lines=headings, title_hint=title)


def load_html(data: bytes) -> Loaded:
    from .webpage import load_html as _load_html

    return _load_html(data)


def load_bytes(data: bytes, suffix: str, progress: Progress | None = None) -> Loaded:
    """One file's bytes -> ``Loaded`` (raises IngestError).  A plain function of its arguments, so a worker
    process can run it; ``progress(done, total, pages/s)`` reports OCR of scanned pages."""
    suffix = suffix.lower()
    if not data.strip():
        raise IngestError("empty file")
    if suffix in (".txt", ".md"):
        return load_text(data, "md" if suffix == ".md" else "txt")
    if suffix == ".pdf":
        return load_pdf(data, progress)
    if suffix == ".docx":
        return load_docx(data)
    if suffix in (".doc", ".wps"):
        from .office import load_word_binary

        return load_word_binary(data, suffix)
    if suffix == ".ofd":
        from .ofd import load_ofd

        return load_ofd(data)
    if suffix in (".html", ".htm"):
        return load_html(data)
    raise IngestError(f"unsupported file type {suffix or '(none)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
