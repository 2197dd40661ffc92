"""Typed records produced by ingest and consumed downstream (vectorstore, assistant).

Offsets always index into ``Document.text``: the document's original characters with web junk
lines removed (never normalised), so every quote can be checked verbatim.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

KINDS = ("report", "outline", "law")
LEVELS = ("national", "province", "city", "county", "department", "town", "")


@dataclass
class Document:
    id: str  # path relative to the ingested root, "/"-separated
    title: str
    text: str  # original text, cleaned of web junk; offsets point here
    content_hash: str  # sha256 of the raw file bytes
    issuer: str = ""
    region: str = ""
    level: str = ""
    year: int | None = None
    doc_number: str = ""  # 发文字号, e.g. 镇政字〔2020〕2号
    kind: str = "report"
    source_format: str = "txt"
    pages: list[tuple[int, int]] = field(default_factory=list)  # (start offset, page number), PDF only
    # what the stored version was made from: file hash + manifest row / metadata overrides + pipeline version
    fingerprint: str = ""

    def meta(self) -> dict:
        """Metadata without the text (what lists and citations show)."""
        d = asdict(self)
        d.pop("text")
        d.pop("pages")
        return d

    def page_at(self, offset: int) -> int | None:
        page = None
        for start, number in self.pages:
            if start <= offset:
                page = number
            else:
                break
        return page


@dataclass
class Chunk:
    id: str  # stable: document id + offsets + short text hash
    doc_id: str
    heading_path: list[str]
    start: int
    end: int
    text: str  # Document.text[start:end], as stored and quoted
    index_text: str  # contextual header + normalised text, what retrievers index
    page: int | None = None
    ordinal: int = 0  # position within the document

    @property
    def heading(self) -> str:
        return " > ".join(self.heading_path)


class IngestError(Exception):
    """A file that cannot be ingested; the message is meant for the user."""


@dataclass
class Loaded:
    """What a loader makes of one file's bytes: the text and what the format tells besides it."""

    text: str
    fmt: str
    pages: list[tuple[int, int]] = field(default_factory=list)  # (start offset, page number)
    # lines styled as headings (docx, html, md), stripped -> level (0 document title, 1 section, 2 subsection…)
    heading_lines: dict[str, int] = field(default_factory=dict)
    title_hint: str = ""  # <title>, docx core title, PDF metadata title
    ocr_pages: int = 0  # pages read by OCR (scanned PDF pages)
    # metadata found outside the main text (a web page's 来源 / 发布时间 lines, site name, date)
    fields: dict[str, str] = field(default_factory=dict)
