"""Review a whole draft annual report: required structure, every factual claim checked, governing
requirements covered.  Renderers (Markdown, Word) live in ``review_export``."""
from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingest.chunking import heading_of
from ingest.clean import clean_text
from ingest.loaders import load_bytes
from ingest.metadata import DOC_NUMBER_RE, guess_issuer, guess_title
from ingest.records import IngestError
from vectorstore.query import analyse
from vectorstore.retrieve import Filters
from vectorstore.text import split_sentences

from .evidence import SourceBook
from .modes.base import Context, score_sentences
from .modes.check import check_one
from .records import Source
from .requirements import coverage, requirements_of

TEMPLATE = Path(__file__).with_name("data") / "report_structure.toml"
CLAIM_RE = re.compile(r"\d|[一二三四五六七八九十百千两]+(?:个|项|件|名|次|宗|份|条|家|起|卷|人|日|天|月)|《[^》]+》|%|％")
CONCRETE_RE = re.compile(r"\d|《[^》]+》|〔\d{4}〕|制度|办法|方案|机制|清单|平台|培训|审查|审核")
SELF_RE = re.compile(r"(?:我|本)(?:办|局|委|县|区|市|镇|乡|厅|部|中心|单位|部门)|全年|今年|年内")
# names of agencies in a draft's first lines: 罗湖区应急管理局 / 区应急管理局 / 天津市人民防空办公室
_AGENCY_NAME = re.compile(r"[\u4e00-\u9fa5]{1,20}?(?:人民政府|委员会|管理局|办公室|办公厅|局|委|办|厅|署|中心)")
_SELF_UNIT = re.compile(r"(?:我|本)(?:局|委|办|厅|中心|单位)[（(]([^）)]{2,30})[）)]")


@dataclass
class PartFinding:
    id: str
    name: str
    status: str  # present | thin | missing
    how: str  # heading | content | none
    headings: list[str] = field(default_factory=list)
    excerpt: str = ""
    chars: int = 0
    examples: list[dict] = field(default_factory=list)  # cited passages from other agencies
    required: bool = True  # an optional part (其他需要报告的情况) that is missing is no finding against the draft


@dataclass
class ClaimFinding:
    sentence: str
    verdict: str  # supported | contradicted | not_found | needs_agency_records
    reason: str = ""
    evidence: list[dict] = field(default_factory=list)


@dataclass
class RequirementFinding:
    doc_id: str
    title: str
    requirement: str
    source: int
    addressed_by: list[str] = field(default_factory=list)
    heading: str = ""  # the governing document's heading the requirement stands under


@dataclass
class Review:
    title: str
    agency: str
    template_source: str
    parts: list[PartFinding]
    claims: list[ClaimFinding]
    requirements: list[RequirementFinding]
    sources: list[Source]
    seconds: float = 0.0

    def summary(self) -> dict:
        count = lambda items, attr, value: sum(1 for x in items if getattr(x, attr) == value)
        return {
            "parts_present": count(self.parts, "status", "present"),
            "parts_thin": count(self.parts, "status", "thin"),
            "parts": len(self.parts),
            "parts_missing": sum(1 for p in self.parts if p.status == "missing" and p.required),
            "parts_optional_missing": sum(1 for p in self.parts if p.status == "missing" and not p.required),
            "claims": len(self.claims),
            "supported": count(self.claims, "verdict", "supported"),
            "contradicted": count(self.claims, "verdict", "contradicted"),
            "not_found": count(self.claims, "verdict", "not_found"),
            "needs_agency_records": count(self.claims, "verdict", "needs_agency_records"),
            "requirements": len(self.requirements),
            "requirements_addressed": sum(1 for r in self.requirements if r.addressed_by),
        }

    def to_dict(self) -> dict:
        d = asdict(self)
        d["summary"] = self.summary()
        return d


def load_template(path: Path | None = None) -> dict:
    with open(path or TEMPLATE, "rb") as fh:
        data = tomllib.load(fh)
    if not data.get("part"):
        raise ValueError(f"review template {path or TEMPLATE} defines no [[part]]")
    return data


def read_draft(path: str | Path) -> str:
    p = Path(path)
    if not p.is_file():
        raise IngestError(f"no such file: {p}")
    loaded = load_bytes(p.read_bytes(), p.suffix)
    return clean_text(loaded.text).text


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


@dataclass
class _Section:
    level: int
    heading: str
    start: int
    end: int


def sections(text: str) -> list[_Section]:
    out: list[_Section] = []
    pos = 0
    for line in text.split("\n"):
        h = heading_of(line)
        if h and h[0] <= 2:
            out.append(_Section(h[0], h[1], pos, len(text)))
        pos += len(line) + 1
    for i, s in enumerate(out):  # a section ends where the next one of its level or higher starts
        nxt = next((t for t in out[i + 1:] if t.level <= s.level), None)
        s.end = nxt.start if nxt else len(text)
    return out


def _is_thin(text: str, limit: int) -> bool:
    body = re.sub(r"\s+", "", text)
    return len(body) < limit or not CONCRETE_RE.search(body)


def find_parts(text: str, template: dict, ctx: Context | None, book: SourceBook | None,
               own_docs: list[str] = ()) -> list[PartFinding]:
    secs = sections(text)
    limit = int(template.get("thin_chars", 120))
    findings = []
    for part in template["part"]:
        matched = [s for s in secs if any(k in _nfkc(s.heading) for k in part.get("heading_keywords", []))]
        keys = part.get("content_keywords", [])
        # whole paragraphs: "存在很多不足，主要表现在：一是…二是…" carries on past the keyword's sentence
        mentions = [ln for ln in text.split("\n") if keys and any(k in ln for k in keys)
                    and not (heading_of(ln) and len(ln.strip()) <= 40)]
        heading_body = "\n".join(text[s.start: s.end] for s in matched)
        content_body = "".join(mentions)
        heads = [s.heading for s in matched]
        if not matched and not mentions:
            status, how, body = "missing", "none", ""
        elif matched and not _is_thin(heading_body, limit):
            status, how, body = "present", "heading", heading_body
        elif mentions and not _is_thin(content_body, limit // 2):
            # the part is written into the running text (or its own heading is thin)
            status, how, body = "present", "content", content_body
        else:
            status, how = "thin", ("heading" if matched else "content")
            body = heading_body or content_body
        f = PartFinding(part["id"], part["name"], status, how, heads, body.strip()[:160], len(body),
                        required=part.get("required", True))
        if status != "present" and f.required and ctx is not None and book is not None:
            f.examples = part_examples(part.get("example_query") or part["name"], ctx, book, exclude=own_docs,
                                       headings=part.get("heading_keywords", []))
        findings.append(f)
    return findings


def part_examples(query: str, ctx: Context, book: SourceBook, n: int = 3, exclude: list[str] = (),
                  headings: list[str] = ()) -> list[dict]:
    """Cited example passages of other agencies' reports for a missing or thin part: from each agency's
    section of that part (a heading holding one of ``headings``) when it has one."""
    retriever = ctx.retriever
    others = [d for d in ctx.catalog.reports() if d not in exclude]
    filters = Filters(doc_ids=others) if others else None
    analysed = analyse(query, ctx.catalog)
    pool = retriever.search_by_agency(analysed, filters, per_agency=4)
    own_part = [h for h in pool if any(k in _nfkc(x) for x in h.chunk.heading_path for k in headings)]
    hits, seen = [], set()
    for h in own_part + pool:  # one passage per agency, its part's own section first
        key = h.doc.get("issuer") or h.chunk.doc_id
        if key not in seen:
            seen.add(key)
            hits.append(h)
    hits = hits[:n]
    q = analysed.terms
    out = []
    for h in hits:
        best = score_sentences(q, [h])
        if not best:
            continue
        s = best[0].sentence
        out.append({"agency": h.doc.get("issuer"), "text": s.text, "source": book.cite_sentence(s)})
    return out


def claim_sentences(text: str) -> list[str]:
    out = []
    for a, b in split_sentences(text):
        s = text[a:b].strip()
        if len(s) < 8 or heading_of(s) and len(s) <= 40:
            continue
        if len(s) <= 40 and not re.search(r"[。！？；;!?，,]", s):  # a title or label line, not a statement
            continue
        if CLAIM_RE.search(s) or DOC_NUMBER_RE.search(s):
            out.append(s)
    return out


def agency_candidates(text: str, title: str, agency: str | None = None) -> list[str]:
    """Names the draft gives for its own agency, most telling first: ``--agency``, the title's issuer,
    我局（unit name）, agency names in the title and the first lines (an addressee line ``…：`` last)."""
    head = [ln.strip() for ln in text.split("\n")[:8] if ln.strip()]
    names: list[str] = [agency] if agency else []
    names.append(guess_issuer(title, text, {}))
    names += _SELF_UNIT.findall(text[:2000])
    lines = [title] + [ln for ln in head if not ln.endswith(("：", ":"))] + [ln for ln in head if ln.endswith(("：", ":"))]
    for ln in lines:
        names += _AGENCY_NAME.findall(re.sub(r"(?:19|20)\d{2}\s*年度?", " ", ln))
    return [n for n in dict.fromkeys(x.strip() for x in names if x) if len(n) >= 3]


def agency_documents(agency: str, title: str, ctx: Context, text: str = "") -> list[str]:
    """The knowledge base's reports by the reviewed agency (its own earlier or current reports), matched
    on the normalised agency name (区应急管理局 ↔ 深圳市罗湖区应急管理局); the draft's first lines tell
    the place when the name leaves it out."""
    catalog = ctx.catalog
    head = "\n".join(text.split("\n")[:8]) if text else title
    for name in agency_candidates(text or title, title, agency):
        found = catalog.agency_documents(name, kind="report", context=head)
        if found:
            return found
    probe = f"{agency or ''} {title}".strip()
    if not probe:
        return []
    named = catalog.named(probe)
    if not named:
        return []
    top = max(named.values())
    return sorted(d for d, p in named.items() if p >= 0.5 * top and catalog.kind_of(d) == "report")


def check_claims(text: str, own: list[str], ctx: Context, book: SourceBook) -> list[ClaimFinding]:
    findings = []
    for s in claim_sentences(text):
        names_governing = bool(re.search(r"《[^》]+》", s) or DOC_NUMBER_RE.search(s))
        if own:
            row, _ = check_one(analyse(s, ctx.catalog), ctx, Filters(doc_ids=own), book)
        elif names_governing:
            row, _ = check_one(analyse(s, ctx.catalog), ctx, Filters(kind=["outline", "law"]), book)
        else:
            row = {"verdict": "not_found", "reason": "", "evidence": []}
        verdict = row["verdict"]
        reason = row.get("reason", "")
        if verdict == "not_found" and (SELF_RE.search(s) or not names_governing):
            verdict, reason = "needs_agency_records", "知识库无法知晓本单位本年度的情况，需以本单位台账核实"
        findings.append(ClaimFinding(s, verdict, reason, row.get("evidence", [])))
    return findings


def requirements_coverage(text: str, doc_ids: list[str], ctx: Context, book: SourceBook,
                          year: int | None = None) -> list[RequirementFinding]:
    """The governing documents' requirements (``assistant.requirements``), each with the draft sentences
    that address it."""
    out = []
    for doc_id in doc_ids:
        reqs = requirements_of(doc_id, ctx, year)
        for req, addressed in zip(reqs, coverage(reqs, text, ctx)):
            s = req.sentence
            out.append(RequirementFinding(doc_id, s.hit.doc.get("title") or doc_id, s.text, book.cite_sentence(s),
                                          [t for t, _ in addressed], heading=req.heading))
    return out


def review_text(text: str, ctx: Context, agency: str | None = None, governing: list[str] | None = None,
                template_path: Path | None = None) -> Review:
    import time

    t0 = time.perf_counter()
    template = load_template(template_path)
    title = guess_title(text, "", "")
    agency = agency or guess_issuer(title, text, {})
    book = SourceBook(ctx.store)
    own = agency_documents(agency, title, ctx, text)
    parts = find_parts(text, template, ctx, book, own)
    claims = check_claims(text, own, ctx, book)
    year = next((int(y) + 1 for y in re.findall(r"((?:19|20)\d{2})\s*年", title)), None)  # the report is written the year after
    reqs = requirements_coverage(text, governing or [], ctx, book, year)
    return Review(title, agency, template.get("source", ""), parts, claims, reqs, book.sources,
                  round(time.perf_counter() - t0, 2))
