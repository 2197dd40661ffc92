"""One loader per format: file bytes -> text, page starts and format hints.

Every loader raises ``IngestError`` with a message a user can act on; nothing here writes anything.
"""
from __future__ import annotations

import io
import re

from typing import Callable

from .docx_reader import load_docx, title_hint
from .encoding import decode_text
from .records import IngestError, Loaded

Progress = Callable[[int, int, float], None]  # (pages done, pages in all, pages per second)

SUPPORTED_SUFFIXES = (".txt", ".md", ".pdf", ".docx", ".doc", ".wps", ".ofd", ".html", ".htm")


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
    return Loaded(text=text, fmt="pdf", pages=pages, title_hint=title_hint(str(title)), ocr_pages=len(scanned))


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
