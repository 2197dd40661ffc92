"""The structure of a report section, read from agencies' reports: which passages belong to the asked
section (by heading path, or by the running text's own lead-in), and the enumerated items in them, each
one idea with its document offsets (a (一) sub-heading with its body, an 一是 clause, a 1. paragraph).

A draft is written from these items; this module only reads and cuts, it never words anything."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.chunking import heading_of
from vectorstore.retrieve import Hit
from vectorstore.text import bigrams, nfkc

SHORTCOMING, PLAN, PRACTICE = "shortcoming", "plan", "practice"

# what the asked section is about (the topic the user typed)
_TOPIC_SHORT = re.compile(r"不足|存在.{0,3}问题|差距|短板|薄弱环节")
_TOPIC_PLAN = re.compile(r"下一步|下一年|下年度|明年|工作计划|工作打算|工作安排|工作思路|今后|展望|打算|计划")
# the headings of such sections in a report
_HEAD_SHORT = re.compile(r"存在.{0,6}(?:不足|问题|差距)|不足[和及与]|问题[和及与]不足|差距|短板|薄弱")
_HEAD_PLAN = re.compile(r"下一步|下一年|下年度|明年|工作计划|工作打算|工作安排|工作思路|工作考虑|今后|展望"
                        r"|(?:19|20)\d{2}年(?:度)?(?:工作)?(?:计划|打算|安排|重点|思路)")
# a running-text lead-in: …还存在一些不足，主要表现在：
_LEAD_SHORT = re.compile(r"(?:存在|还有|仍有|面临)[^。；]{0,16}(?:不足|问题|差距|短板|困难)[^。；]{0,12}[：:]")
_LEAD_PLAN = re.compile(r"^(?:下一步|下一年度|今后|明年)[，,]?")
CAUSE = re.compile(r"受[^，。；]{1,14}(?:影响|所限|制约|限制)|由于|因为|导致|原因|造成|源于")
# an inline enumeration marker: 一是… 二是…
_INLINE = re.compile(r"(?:(?<=^)|(?<=[。；;：:\s]))([一二三四五六七八九十]+是)")
_ITEM_HEAD = re.compile(r"^\s*(?:[(（][一二三四五六七八九十\d]+[)）]|\d{1,2}[.．、]|[一二三四五六七八九十]+[、是])")
_SENT = re.compile(r"[^。！？；;\n]*[。！？；;]|[^。！？；;\n]+$")


def section_kind(topic: str) -> str:
    """The kind of section asked for: shortcomings (and their causes), next year's plans, or practice."""
    if _TOPIC_SHORT.search(topic):
        return SHORTCOMING
    if _TOPIC_PLAN.search(topic):
        return PLAN
    return PRACTICE


def heading_matches(kind: str, heading_path: list[str]) -> bool:
    pat = _HEAD_SHORT if kind == SHORTCOMING else _HEAD_PLAN if kind == PLAN else None
    return pat is not None and any(pat.search(nfkc(h)) for h in heading_path)


def off_section(heading_path: list[str]) -> bool:
    """A passage of a shortcomings or plans section (not practice, unless that is asked)."""
    return heading_matches(SHORTCOMING, heading_path) or heading_matches(PLAN, heading_path)


@dataclass
class Item:
    """One enumerated unit of a section: a title (its first clause or sub-heading) and body sentences."""
    doc_id: str
    start: int  # document offsets of the whole item
    end: int
    title: str
    body: list[str]
    hit: Hit  # a passage of the item (its chunk: heading path shown with the citation)

    @property
    def text(self) -> str:
        return "".join([self.title, *self.body])


def _sentences(text: str) -> list[str]:
    return [m.group(0).strip() for m in _SENT.finditer(text) if len(m.group(0).strip()) >= 2]


def strip_marker(s: str) -> str:
    return re.sub(r"^\s*(?:[(（][一二三四五六七八九十\d]+[)）]|\d{1,2}[.．、]|[一二三四五六七八九十]+[、是])\s*", "", s).strip()


def _split_inline(text: str) -> list[tuple[int, int]]:
    """(start, end) of each 一是/二是… clause of a paragraph; [] when it has no such enumeration."""
    marks = [m.start(1) for m in _INLINE.finditer(text)]
    if len(marks) < 2:
        return []
    ends = marks[1:] + [len(text)]
    return [(a, b) for a, b in zip(marks, ends)]


def items_of(text: str, base: int, doc_id: str, hit_at) -> list[Item]:
    """The items of a section body ``text`` (document offset ``base``). ``hit_at(offset)``: a passage
    holding that offset. A (一) sub-heading and its paragraphs are one item (an enumeration in its body
    stays in it, whole); an 一是 clause or a numbered paragraph is one item; a plain paragraph is one only
    when the body has no enumerated item."""
    items: list[Item] = []
    plain: list[Item] = []
    current: Item | None = None
    pos = 0
    for line in text.split("\n"):
        a = pos
        pos += len(line) + 1
        s = line.strip()
        if not s:
            continue
        a += len(line) - len(line.lstrip())
        head = heading_of(s)
        if head is not None and (_HEAD_SHORT.search(nfkc(s)) or _HEAD_PLAN.search(nfkc(s))) and len(s) <= 40:
            current = None  # the section's own title (二、存在的不足和原因) is no item of it
            continue
        if head is not None and head[0] >= 1 and len(head[1].rstrip("。.；;")) >= len(s.rstrip("。.；; ")):
            current = Item(doc_id, base + a, base + a + len(s), s, [], hit_at(base + a))
            items.append(current)
            continue
        if current is not None and not _ITEM_HEAD.match(s):
            current.body.extend(_sentences(s))
            current.end = base + a + len(s)
            continue
        current = None
        clauses = _split_inline(s)
        if clauses:
            for ca, cb in clauses:
                piece = s[ca:cb].strip()
                sents = _sentences(piece)
                if sents:
                    items.append(Item(doc_id, base + a + ca, base + a + ca + len(piece), sents[0], sents[1:],
                                      hit_at(base + a + ca)))
            continue
        sents = _sentences(s)
        if not sents:
            continue
        it = Item(doc_id, base + a, base + a + len(s), sents[0], sents[1:], hit_at(base + a))
        (items if _ITEM_HEAD.match(s) else plain).append(it)
    return items or plain


def _lead_split(text: str) -> tuple[str, int] | None:
    """The part of a running paragraph after its shortcomings lead-in, up to its plans (下一步…)."""
    m = _LEAD_SHORT.search(text)
    if not m:
        return None
    rest = text[m.end():]
    stop = re.search(r"(?:(?<=[。；])|\n)\s*(?:下一步|今后|下一年度|明年)", rest)
    return (rest[: stop.start()] if stop else rest), m.end()


def section_items(kind: str, doc_text: str, hits: list[Hit], chunks: list) -> list[Item]:
    """Items of the ``kind`` section of one report: the chunks under a heading of that kind, else the
    running text after a lead-in of that kind. ``chunks``: the document's chunks; ``hits``: a passage of
    the document retrieved (its metadata)."""
    if not chunks or not hits:
        return []
    doc_id = hits[0].chunk.doc_id
    meta = hits[0].doc

    def hit_at(offset: int) -> Hit:
        ch = next((c for c in chunks if c.start <= offset < c.end), chunks[-1])
        return Hit(chunk=ch, doc=meta, rank=0, score=0.0)

    inside = [c for c in chunks if heading_matches(kind, c.heading_path)]
    if inside:
        a, b = min(c.start for c in inside), max(c.end for c in inside)
        region = doc_text[a:b]
        # a section titled "problems and next steps" holds both: cut it where the plans begin
        stop = re.search(r"\n\s*(?:下一步|今后|下一年度|明年)", region)
        if kind == SHORTCOMING and stop:
            region = region[: stop.start()]
        if kind == PLAN and stop and heading_matches(SHORTCOMING, inside[0].heading_path):
            a, region = a + stop.start(), region[stop.start():]
        found = items_of(region, a, doc_id, hit_at)
        if kind == SHORTCOMING:
            lead = _lead_split(region)
            if lead and _split_inline(lead[0]):
                found = items_of(lead[0], a + lead[1], doc_id, hit_at)
        if found:
            return [it for it in found if not _is_frame(it)]
    if kind == SHORTCOMING:
        for c in chunks:
            lead = _lead_split(c.text)
            if lead:
                return items_of(lead[0], c.start + lead[1], doc_id, hit_at)
    if kind == PLAN:
        for c in chunks:
            m = _LEAD_PLAN.search(c.text.strip())
            if m and len(c.text) > 40:
                return [it for it in items_of(c.text, c.start, doc_id, hit_at) if not _is_frame(it)]
    return []


def _is_frame(it: Item) -> bool:
    """A section's framing sentence (…主要体现在： / 下一步，…将…) is no item of its own."""
    t = it.title.rstrip()
    return t.endswith(("：", ":")) or (not it.body and bool(_LEAD_PLAN.match(t)) and "将" in t)


_OPENING = re.compile(r"(?:[省市县区旗]委|党委)[、和及与]?[^，。]{0,6}政府[^，。]{0,4}(?:的)?(?:正确)?领导下")


def is_frame_sentence(s: str) -> bool:
    """A report's opening (…年，某局在市委、市政府的正确领导下，以…为指导) or a shortcomings lead-in
    (…取得了一定的成绩，但依然存在很多不足): framing, not a practice."""
    return bool(_OPENING.search(s) or _LEAD_SHORT.search(s) or re.search(r"存在[^。]{0,8}(?:不足|问题|差距)", s))


def causes_of(items: list[Item]) -> list[tuple[Item, str]]:
    """Sentences of the shortcomings that give a cause (受…所限 / 由于… / 导致…)."""
    out = []
    for it in items:
        for s in [it.title, *it.body]:
            if CAUSE.search(s):
                out.append((it, s))
                break
    return out


def _kernel(title: str) -> str:
    return re.split(r"[，,。；;：:]", strip_marker(title), maxsplit=1)[0]


def similar(a: str, b: str, threshold: float) -> bool:
    """Whether two items' titles say the same: one's first clause is the other's, or their character
    bigrams overlap (Jaccard) by ``threshold``."""
    ka, kb = _kernel(a), _kernel(b)
    if len(ka) >= 4 and ka == kb:
        return True
    ga, gb = bigrams(strip_marker(a)), bigrams(strip_marker(b))
    if not ga or not gb:
        return False
    return len(ga & gb) / len(ga | gb) >= threshold


def after_frame(text: str) -> bool:
    """Whether a passage's text (up to a sentence) already runs in shortcomings or plans (…存在很多不足，
    主要表现在： / 下一步，…): its sentences are no practice."""
    return bool(_LEAD_SHORT.search(text) or re.search(r"(?:^|[。\n])\s*(?:下一步|今后|下一年度|明年)", text))
