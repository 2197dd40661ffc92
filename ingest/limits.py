"""Bounds on the work one input may cause: extracted text, chunks, unpacked size, parse time and memory.

The typed settings (``assistant.settings.Settings``: ``max_text_chars``, ``max_chunks``, ``max_unpacked_mb``,
``parse_timeout``, ``parse_memory_mb``, ``parse_workers``) carry the configured values; ``Limits`` is how they reach ingest
(which never imports the assistant). The defaults here equal the settings' defaults (tests check that).
"""
from __future__ import annotations

from dataclasses import dataclass

from .records import IngestError


@dataclass(frozen=True)
class Limits:
    max_text_chars: int = 2_000_000  # characters of text extracted from one file
    max_chunks: int = 5_000  # chunks of one document
    max_unpacked_bytes: int = 100 * 2**20  # a .docx/.ofd (zip) whose parts unpack to more is refused
    parse_timeout: float = 300.0  # seconds one file may take to parse (0: no worker process, no limit)
    parse_memory_mb: int = 2048  # address space of the parsing worker (0: unlimited)
    parse_workers: int = 2  # parsing workers at once in one process (more uploads wait for a free one)


DEFAULT_LIMITS = Limits()


def text_too_long(n: int, limit: int) -> IngestError:
    return IngestError(f"提取出的文本过长：{n:,} 个字符，超过 {limit:,} 个字符的上限（FAZHI_MAX_TEXT_CHARS） / "
                       f"extracted text too long: {n:,} characters exceeds the {limit:,} limit")


def too_many_chunks(n: int, limit: int) -> IngestError:
    return IngestError(f"文档分段过多：{n:,} 段，超过每个文档 {limit:,} 段的上限（FAZHI_MAX_CHUNKS） / "
                       f"too many chunks: {n:,} exceeds the {limit:,} per-document limit")


def unpacks_too_large(n: int, limit: int) -> IngestError:
    return IngestError(f"压缩包内容解压后过大：{n / 2**20:,.0f} MB，超过 {limit / 2**20:,.0f} MB 的上限"
                       f"（FAZHI_MAX_UNPACKED_MB） / the file unpacks to {n / 2**20:,.0f} MB, over the limit")


def parse_timed_out(seconds: float) -> IngestError:
    return IngestError(f"解析超时：超过 {seconds:g} 秒仍未完成，已停止（FAZHI_PARSE_TIMEOUT） / "
                       f"parsing took longer than {seconds:g} s and was stopped")


def parse_out_of_memory(mb: int) -> IngestError:
    return IngestError(f"解析所需内存超过 {mb} MB 的上限，已停止（FAZHI_PARSE_MEMORY_MB） / "
                       f"parsing needed more than {mb} MB of memory and was stopped")


def check_unpacked(data: bytes, limit: int) -> None:
    """A zip package (.docx, .ofd) whose members declare more than ``limit`` bytes unpacked is refused
    before anything is decompressed (a zip bomb)."""
    if not data.startswith(b"PK") or not limit:
        return
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return  # the format's reader reports a damaged package with its own message
    if total > limit:
        raise unpacks_too_large(total, limit)


def check_docx_text(data: bytes, max_chars: int) -> None:
    """A .docx whose body holds more than ``max_chars`` characters of text, or more than ``max_chars`` XML elements
    (millions of empty paragraphs), is refused by a streaming scan of word/document.xml — before python-docx
    builds its tree, which costs hundreds of bytes per element."""
    import io
    import zipfile

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        fh = zf.open("word/document.xml")
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, RuntimeError):
        return  # the reader reports a damaged package with its own message
    from lxml import etree

    chars = elements = 0
    try:
        for _, el in etree.iterparse(fh, events=("end",), huge_tree=False, resolve_entities=False, no_network=True):
            elements += 1
            if el.text:
                chars += len(el.text)
            if chars > max_chars or elements > max_chars:
                raise text_too_long(max(chars, elements), max_chars)
            el.clear()
    except etree.LxmlError:
        return  # malformed XML: python-docx reports it
    finally:
        fh.close()
        zf.close()


CANCELLED = "已取消 / cancelled"  # the message of an ingest stopped by its user (nothing was committed)
