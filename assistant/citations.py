"""Citation rules, enforced in code for every backend.

- every statement (sentence or list item) carries at least one ``[n]``;
- every ``[n]`` points to a returned source; a dangling marker is removed;
- every source's quote is verbatim ``Document.text[start:end]``;
- a statement whose cited passages do not support it (too little overlap, or a number, date,
  《title》 or 文号 the passages lack) is flagged and dropped or visibly marked.
"""
from __future__ import annotations

import re
import unicodedata

from .records import Flag, Source
from .settings import default

MARKER_RE = re.compile(r"\[(\d{1,3})\]")
UNSUPPORTED_MARK = "【未经来源证实】"
_STATEMENT_SPLIT = re.compile(r"(?<=[。！？!?；;])")
_NUM_RE = re.compile(r"\d+(?:[.,]\d+)*%?|[零〇一二三四五六七八九十百千万两]{2,}(?=[日天月年个项件名条次人元宗份%])")
_TITLE_RE = re.compile(r"《[^》]{2,60}》")
SUPPORT_MIN = default("citation_support_min")  # share of the statement's character bigrams found in its cited passages


def norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def markers(text: str) -> list[int]:
    return [int(m) for m in MARKER_RE.findall(text)]


def strip_markers(text: str) -> str:
    return MARKER_RE.sub("", text)


def _bigrams(s: str) -> set[str]:
    s = re.sub(r"[\W_]+", "", s)
    return {s[i: i + 2] for i in range(len(s) - 1)}


def support(statement: str, passages: list[str]) -> tuple[float, list[str]]:
    """(overlap share, facts missing from the passages) for one statement."""
    body = norm(strip_markers(statement))
    body = body.replace(norm(UNSUPPORTED_MARK), "")
    joined = norm("".join(passages))
    grams = _bigrams(body)
    share = (len(grams & _bigrams(joined)) / len(grams)) if grams else 1.0
    # a figure must occur as a whole number in the passages ("5件" is not supported by "450人次")
    missing = [n for n in _NUM_RE.findall(body)
               if not re.search(rf"(?<![\d.]){re.escape(n)}(?![\d])" if n[0].isdigit() else re.escape(n), joined)]
    missing += [t for t in _TITLE_RE.findall(body) if t[1:-1] not in joined]
    return share, missing


def is_statement(piece: str) -> bool:
    """Headings, list labels and pure punctuation state nothing to cite."""
    s = norm(strip_markers(piece))
    if len(s) < 6:
        return False
    if re.fullmatch(r"[#>*\-|:：\W]*", s):
        return False
    if s.endswith(("：", ":")) and len(s) <= 30:
        return False
    return True


def split_statements(text: str) -> list[str]:
    """Sentences and list items; newlines are kept as their own pieces."""
    out: list[str] = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        out.extend(_split_line(line))
        if i < len(lines) - 1:
            out.append("\n")
    return out


def _split_line(text: str) -> list[str]:
    parts = [p for p in _STATEMENT_SPLIT.split(text) if p]
    out: list[str] = []
    for p in parts:
        # a marker right after the sentence end belongs to the sentence before it
        m = re.match(r"^(\s*(?:\[\d{1,3}\])+)(.*)$", p, re.S)
        if m and out:
            out[-1] += m.group(1)
            p = m.group(2)
        if p:
            out.append(p)
    return out


def enforce(text: str, sources: list[Source], drop_unsupported: bool = True,
            exempt: tuple[str, ...] = ()) -> tuple[str, list[Flag]]:
    """Apply the rules to ``text``; returns (clean text, flags). ``exempt``: lines kept as-is (headers)."""
    by_number = {s.number: s for s in sources}
    flags: list[Flag] = []
    kept: list[str] = []
    pieces = split_statements(text)
    # a sentence without a marker is covered by the next marker of its own line (一是法治意识不强。依法…[1]):
    # it is checked against those sources like any cited statement
    line_markers: list[list[int]] = [[] for _ in pieces]
    ahead: list[int] = []
    for i in range(len(pieces) - 1, -1, -1):
        if pieces[i] == "\n":
            ahead = []
            continue
        own = [n for n in markers(pieces[i]) if n in by_number]
        ahead = own or ahead
        line_markers[i] = ahead
    for i, piece in enumerate(pieces):
        if piece.strip() in exempt or piece == "\n":
            kept.append(piece)
            continue
        cited = markers(piece) or line_markers[i]
        dangling = [n for n in cited if n not in by_number]
        if dangling:
            piece = MARKER_RE.sub(lambda m: "" if int(m.group(1)) in dangling else m.group(0), piece)
            flags.append(Flag(strip_markers(piece).strip(), "dangling_marker", "marker_removed", dangling))
            cited = [n for n in cited if n in by_number]
        if not is_statement(piece):
            kept.append(piece)
            continue
        if not cited:
            flags.append(Flag(piece.strip(), "uncited", "dropped" if drop_unsupported else "marked"))
            if not drop_unsupported:
                kept.append(UNSUPPORTED_MARK + piece)
            continue
        share, missing = support(piece, [by_number[n].quote for n in cited])
        if share < SUPPORT_MIN or missing:
            reason = "number_mismatch" if missing else "unsupported"
            flags.append(Flag(strip_markers(piece).strip(), reason, "dropped" if drop_unsupported else "marked", cited))
            if not drop_unsupported:
                kept.append(UNSUPPORTED_MARK + piece)
            continue
        kept.append(piece)
    out = "".join(kept)
    out = re.sub(r"\n{3,}", "\n\n", out).strip()
    return out, flags


def renumber(text: str, sources: list[Source]) -> tuple[str, list[Source]]:
    """Keep only cited sources, numbered 1..n in order of first citation."""
    order: list[int] = []
    for n in markers(text):
        if n not in order:
            order.append(n)
    mapping = {old: new for new, old in enumerate(order, start=1)}
    by_number = {s.number: s for s in sources}
    new_sources = []
    for old in order:
        if old in by_number:
            s = by_number[old]
            new_sources.append(type(s)(**{**s.__dict__, "number": mapping[old]}))
    text = MARKER_RE.sub(lambda m: f"[{mapping.get(int(m.group(1)), m.group(1))}]", text)
    return text, new_sources


def verify_sources(sources: list[Source], doc_text: dict[str, str]) -> list[int]:
    """Numbers of sources whose quote is not verbatim at its offsets (should be empty)."""
    bad = []
    for s in sources:
        text = doc_text.get(s.doc_id)
        if text is None or text[s.start: s.end] != s.quote:
            bad.append(s.number)
    return bad
