"""Positioned text pieces (OCR boxes, OFD text objects) -> reading-order lines -> paragraphs.

Page geometry only: nothing here knows a site, an agency or a document.  A piece is
``(x0, y0, x1, y1, text)`` in any unit with y growing downwards.
"""
from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

# Ratios of the median character height (the page's own text size): geometry, not tuning to a corpus.
SAME_LINE_OVERLAP = 0.5  # two pieces share a line when their vertical overlap exceeds this share of the smaller
WORD_GAP = 1.2  # a horizontal gap wider than this many character heights is kept as a space
MARGIN_SLACK = 1.5  # a line ending this close to the right margin runs on into the next line
INDENT = 1.0  # a line starting this far right of the left margin begins a new paragraph

# A line that opens a numbered section never continues the previous paragraph.
_SECTION_START = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)]|\d{1,2}[.．、](?!\d)|[（(]\d{1,2}[）)]"
    r"|第[一二三四五六七八九十百零〇]+[章节条])"
)
_LATIN_END = re.compile(r"[A-Za-z0-9]$")
_LATIN_START = re.compile(r"^[A-Za-z0-9]")


@dataclass
class Line:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str

    @property
    def height(self) -> float:
        return max(self.y1 - self.y0, 1e-6)


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def group_lines(pieces: list[tuple[float, float, float, float, str]]) -> list[Line]:
    """Pieces on the same text line joined left to right; lines top to bottom."""
    pieces = [p for p in pieces if p[4] and p[4].strip()]
    if not pieces:
        return []
    heights = [max(p[3] - p[1], 1e-6) for p in pieces]
    char_h = statistics.median(heights)
    rows: list[list[tuple[float, float, float, float, str]]] = []
    for p in sorted(pieces, key=lambda p: ((p[1] + p[3]) / 2, p[0])):
        placed = False
        for row in reversed(rows[-3:]):  # only the last few rows can still be open
            r0 = min(q[1] for q in row)
            r1 = max(q[3] for q in row)
            smaller = min(p[3] - p[1], r1 - r0) or 1e-6
            if _overlap(p[1], p[3], r0, r1) / smaller > SAME_LINE_OVERLAP:
                row.append(p)
                placed = True
                break
        if not placed:
            rows.append([p])
    lines = []
    for row in rows:
        row.sort(key=lambda p: p[0])
        text = row[0][4].strip()
        for prev, cur in zip(row, row[1:]):
            gap = cur[0] - prev[2]
            piece = cur[4].strip()
            spaced = gap > WORD_GAP * char_h or (_LATIN_END.search(text) and _LATIN_START.match(piece) and gap > 0.2 * char_h)
            text += (" " if spaced else "") + piece
        lines.append(Line(min(p[0] for p in row), min(p[1] for p in row), max(p[2] for p in row),
                          max(p[3] for p in row), text))
    lines.sort(key=lambda ln: ((ln.y0 + ln.y1) / 2, ln.x0))
    return lines


def paragraphs(lines: list[Line]) -> list[str]:
    """Wrapped lines joined into paragraphs: a line that reaches the right margin runs on, unless the next
    one is indented or opens a numbered section; short lines (titles, headings, signatures) stay alone."""
    if not lines:
        return []
    char_h = statistics.median(ln.height for ln in lines)
    lefts = sorted(ln.x0 for ln in lines)
    rights = sorted(ln.x1 for ln in lines)
    left = lefts[len(lefts) // 10]  # robust margins: ignore the odd outlier line
    right = rights[min(len(rights) - 1, (len(rights) * 9) // 10)]
    out: list[str] = []
    prev: Line | None = None
    for ln in lines:
        joins = (
            prev is not None
            and prev.x1 >= right - MARGIN_SLACK * char_h
            and ln.x0 <= left + INDENT * char_h
            and not _SECTION_START.match(ln.text)
            and ln.y0 - prev.y1 < 1.5 * char_h  # no paragraph gap
        )
        if joins and out:
            out[-1] += ln.text
        else:
            out.append(ln.text)
        prev = ln
    return out


def page_text(pieces: list[tuple[float, float, float, float, str]]) -> str:
    return "\n".join(paragraphs(group_lines(pieces)))
