"""Evidence units: sentences of retrieved passages with document offsets, and the numbered
source list an answer cites (every quote cut verbatim from the stored document text)."""
from __future__ import annotations

from dataclasses import dataclass

from vectorstore.retrieve import Hit
from vectorstore.store import Store

from .records import Source

CONTEXT_CHARS = 120


@dataclass
class Sentence:
    hit: Hit
    start: int  # absolute offsets in the document text
    end: int
    text: str

    @property
    def doc_id(self) -> str:
        return self.hit.chunk.doc_id


def heading_path_at(path: list[str], before: str) -> list[str]:
    """The heading path at a quote that starts later in its passage than the passage's own heading:
    the headings of the passage's text before the quote (3.行政应诉案件有序办理。 after 2.…) replace those
    of their level and below."""
    from ingest.chunking import heading_of

    def level(h: str) -> int:
        found = heading_of(h)
        return found[0] if found else 99

    out = list(path)
    for line in before.split("\n")[1:] if "\n" in before else []:
        found = heading_of(line)
        if found is None:
            continue
        lv, title = found
        while out and level(out[-1]) >= lv:
            out.pop()
        out.append(title.strip())
    return out


class SourceBook:
    """Numbered sources, deduplicated by (document, offsets)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.sources: list[Source] = []
        self._by_key: dict[tuple[str, int, int], int] = {}
        self._texts: dict[str, str] = {}

    def doc_text(self, doc_id: str) -> str:
        if doc_id not in self._texts:
            doc = self.store.document(doc_id)
            self._texts[doc_id] = doc.text if doc else ""
        return self._texts[doc_id]

    def cite(self, hit: Hit, start: int | None = None, end: int | None = None) -> int:
        """Number of the source for ``hit`` (whole passage, or the span start..end of its document)."""
        ch = hit.chunk
        start = ch.start if start is None else start
        end = ch.end if end is None else end
        key = (ch.doc_id, start, end)
        if key in self._by_key:
            return self._by_key[key]
        text = self.doc_text(ch.doc_id)
        quote = text[start:end] if text else ch.text
        number = len(self.sources) + 1
        d = hit.doc
        path = heading_path_at(list(ch.heading_path), text[ch.start: start] if text else "")
        self.sources.append(Source(
            number=number, doc_id=ch.doc_id, title=d.get("title") or ch.doc_id, issuer=d.get("issuer") or "",
            year=d.get("year"), kind=d.get("kind") or "", heading_path=path, page=ch.page,
            start=start, end=end, quote=quote, chunk_id=ch.id,
            context_before=text[max(0, start - CONTEXT_CHARS): start] if text else "",
            context_after=text[end: end + CONTEXT_CHARS] if text else "", doc_number=d.get("doc_number") or "",
        ))
        self._by_key[key] = number
        return number

    def cite_sentence(self, s: Sentence) -> int:
        return self.cite(s.hit, s.start, s.end)
