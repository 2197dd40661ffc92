"""check: split a claim or passage into claims; verdict per claim with quoted, cited evidence;
and, for a practice described in a report, the governing requirement that applies."""
from __future__ import annotations

import re

from vectorstore.query import Query, split_claims  # noqa: F401  (split_claims: re-exported)
from vectorstore.retrieve import Filters
from vectorstore.values import Value, figures

from ..evidence import SourceBook
from ..labels import VERDICT_ZH
from ..records import Answer
from .base import Context, Scored, passages_of, semantic_order, topic_sentences
from .explain import about_subject, explain

_UP = re.compile(r"增加|增长|上升|提高|提升|增多|上涨")
_DOWN = re.compile(r"减少|下降|降低|减|下滑|回落")
_ALL = re.compile(r"全部|均已|一律|所有|全都|100%|百分之百|无一例外")
_PARTIAL = re.compile(r"正在|尚未|未(?:能|完成|办结)|部分|其中|除[^。]{0,20}外")
_QUALIFIER = re.compile(r"\d+\s*(?:个工作日|日|天|个月|月|年)\s*(?:后|内|以内|以上|以下|前)")
_REQUIREMENT = re.compile(r"要|应当|必须|不得|不少于|不超过|严禁|禁止")


def numbers(text: str) -> list[tuple[float, str]]:
    """(value, unit) of each figure of ``text`` (Arabic and Chinese numerals, 无一起 = 0)."""
    return [(v.value, v.unit) for v in figures(text)]


def _shown(vals: list[Value]) -> str:
    return "、".join(dict.fromkeys(f"“{v.text}”" for v in vals))


# a claim that something did not happen at all: 没有废止的 / 无一件撤销 / 未发生
_NONE_CLAIM = re.compile(r"(?:没有|无|未|零)(?:任何|一[件起项个份宗])?([\u4e00-\u9fa5]{2})")


def _predicate_counts(predicate: str, evidence: str) -> list[Value]:
    """Counts the evidence gives right next to ``predicate`` (等3件规范性文件废止 / 废止1份); an ordinal
    (第八十八条) is a number, not a count."""
    def counts(a: int, b: int) -> list[Value]:
        a, b = max(a, 0), min(b, len(evidence))
        window = evidence[a:b]
        out = []
        for v in figures(window):
            at = window.find(v.text)
            if v.kind == "count" and not (at >= 0 and evidence[a + at - 1: a + at] == "第") \
                    and not (at == 0 and a > 0 and evidence[a - 1] in "第一二三四五六七八九十百"):
                out.append(v)
        return out

    out = []
    for m in re.finditer(re.escape(predicate), evidence):
        out += counts(m.end(), m.end() + 6) or counts(m.start() - 14, m.start())[-1:]
    return out


def value_conflict(claim: str, evidence: str) -> str | None:
    """A value of the claim that the evidence states differently in the same unit (十五日 vs 十日,
    2起 vs 无一起, 50% vs 百分之四十): the reason, quoting the evidence's value; None when they agree."""
    e_vals = figures(evidence)
    for cv in figures(claim):
        same = [ev for ev in e_vals if ev.same_unit(cv)]
        if same and not any(abs(ev.value - cv.value) < 1e-9 for ev in same):
            return f"数值不符：说法为“{cv.text}”，来源中为{_shown(same)}"
    return None


def values_found(claim: str, evidence: str) -> bool:
    """Whether every figure of the claim (a count, period, amount, percentage) is one the evidence states:
    a claim is supported only by evidence that gives its values, not by a sentence on the same topic."""
    e_vals = figures(evidence)
    return all(any(ev.same_unit(cv) and abs(ev.value - cv.value) < 1e-9 for ev in e_vals) for cv in figures(claim))


def judge(claim: str, evidence: str) -> tuple[str, str]:
    """(verdict, reason) comparing one claim with its best evidence sentence(s)."""
    conflict = value_conflict(claim, evidence)
    if conflict:
        return "contradicted", conflict
    e_nums = numbers(evidence)
    c_units = {u for _, u in numbers(claim)}
    if (_UP.search(claim) and _DOWN.search(evidence) and not _UP.search(evidence)) or \
            (_DOWN.search(claim) and _UP.search(evidence) and not _DOWN.search(evidence)):
        return "contradicted", "增减方向与来源相反"
    none = _NONE_CLAIM.search(claim)
    if none:
        counts = [v for v in _predicate_counts(none.group(1), evidence) if v.value > 0]
        if counts:
            return "contradicted", f"说法为“{none.group(0)}”，来源中为{_shown(counts)}"
    m_all = _ALL.search(claim)
    predicate = re.sub(r"^(?:予以|进行|[由被已都均是在])+", "", claim[m_all.end(): m_all.end() + 6])[:2] if m_all else ""
    if m_all and len(predicate) == 2:
        claimed = [v for v in figures(claim) if v.kind == "count"]
        told = _predicate_counts(predicate, evidence)
        other = [v for v in told if claimed and all(v.same_unit(c) and v.value != c.value for c in claimed)]
        if other:
            return "contradicted", f"来源显示并非全部：{predicate}{_shown(other)}"
    # "全部/一律 X" is contradicted only by evidence about the same X (办结, 自公布…)
    if m_all and (len(predicate) < 2 or predicate[:2] in evidence):
        counts = [v for v, u in e_nums if u in ("件", "项", "宗", "个", "份", "名")]
        if _PARTIAL.search(evidence) or (len(counts) >= 2 and len(set(counts)) > 1 and not c_units):
            return "contradicted", "来源显示并非全部/一律如此"
        q = _QUALIFIER.search(evidence)
        if q and q.group(0) not in claim:
            return "contradicted", f"来源附有条件：{q.group(0)}"
    return "supported", ""


_CTX_NUM = re.compile(r"([\u4e00-\u9fa5]{2})\s*(\d+(?:\.\d+)?)\s*(万|亿)?\s*"
                      r"(%|个工作日|件|项|名|人|个|日|天|月|年|宗|份|次|条|家|起|卷|元|倍)")


def figure_conflict(claim: str, candidates: list[Scored]) -> tuple[Scored, str] | None:
    """A figure of the claim that a source states differently for the same thing: the two
    characters before the number and its unit agree (评查案卷50卷 vs 评查案卷46卷)."""
    for m in _CTX_NUM.finditer(claim):
        ctx, value, unit = m.group(1), float(m.group(2)), m.group(4)
        same, other = [], []
        for c in candidates:
            for e in _CTX_NUM.finditer(c.sentence.text):
                if e.group(1) == ctx and e.group(4) == unit:
                    (same if float(e.group(2)) == value else other).append((c, e.group(0)))
        if other and not same:
            c, text = other[0]
            return c, f"数字不符：来源中为“{text}”"
    return None


def scope_conflict(claim: str, candidates: list[Scored]) -> tuple[Scored, str] | None:
    """A "none" or "all" claim (没有废止的 / 全部予以废止) that a sentence of the same document counts
    otherwise (3件…废止 / 废止1份)."""
    if not (_NONE_CLAIM.search(claim) or _ALL.search(claim)):
        return None
    for c in candidates:
        verdict, reason = judge(claim, c.sentence.text)
        if verdict == "contradicted" and reason.startswith(("说法为", "来源显示并非全部：")):
            return c, reason
    return None


def governing_requirements(claim: Query, ctx: Context, book: SourceBook, k: int = 2) -> list[dict]:
    """Requirement sentences (要/应当/必须/不得…) of governing documents that address the claim."""
    hits = ctx.retriever.search(claim, Filters(kind=["outline", "law"], level=["national"]), k=6)
    if not hits:
        return []
    scored = [s for s in topic_sentences(claim, hits) if _REQUIREMENT.search(s.sentence.text)
              and about_subject(claim, s.sentence.text, ctx.settings.requirement_subject_min)]
    out = []
    for s in scored[:k]:
        if s.score < ctx.settings.requirement_min:
            break
        n = book.cite_sentence(s.sentence)
        out.append({"text": s.sentence.text, "source": n, "doc_id": s.sentence.doc_id,
                    "title": s.sentence.hit.doc.get("title"), "doc_number": s.sentence.hit.doc.get("doc_number")})
    return out


def check_one(query: Query, ctx: Context, filters: Filters | None, book: SourceBook) -> tuple[dict, list]:
    """Verdict on one analysed claim."""
    claim = query.text
    st = ctx.settings
    hits = ctx.retriever.search(query, filters, k=ctx.k)
    scored: list[Scored] = topic_sentences(query, hits) if hits else []
    if not scored or scored[0].score < st.related_min:
        return {"claim": claim, "verdict": "not_found", "reason": "没有找到足以判断的来源", "evidence": []}, hits
    # the claim's own wording decides which sentence is its evidence, as in ask (after the gate above)
    scored = semantic_order(query, scored, ctx)
    best = scored[0]
    # judge against the best sentence and the close runners-up of the same passage
    related = [best] + [s for s in scored[1:4] if s.sentence.hit is best.sentence.hit and s.score >= 0.8 * best.score]
    verdict, reason = judge(claim, " ".join(s.sentence.text for s in related))
    if verdict == "supported":
        # a sentence with several figures: each figure against what the same document says of it
        same_doc = [s for s in scored[:12] if s.sentence.doc_id == best.sentence.doc_id]
        conflict = figure_conflict(claim, same_doc) or scope_conflict(claim, same_doc[:6])
        if conflict:
            c, reason = conflict
            verdict = "contradicted"
            related = [c] + [s for s in related if s is not c]
    if verdict == "contradicted":  # the explanation quotes the evidence about the claim's own predicate
        pool = [s for s in scored[:12] if s.sentence.doc_id == best.sentence.doc_id]
        reason, related = explain(claim, verdict, reason, related, pool)
    if verdict == "supported" and not values_found(claim, " ".join(s.sentence.text for s in related)):
        return {"claim": claim, "verdict": "not_found", "reason": "来源中没有该说法的数值，无法确认", "evidence": []}, hits
    if verdict == "supported" and max(s.evidence_score for s in related) < st.support_min:
        return {"claim": claim, "verdict": "not_found", "reason": "来源与该说法只部分相关，无法确认", "evidence": []}, hits
    evidence = []
    for s in related[:2]:
        n = book.cite_sentence(s.sentence)
        evidence.append({"text": s.sentence.text, "source": n, "doc_id": s.sentence.doc_id})
    return {"claim": claim, "verdict": verdict, "reason": reason, "evidence": evidence}, hits


def overall(verdicts: list[str]) -> str:
    if "contradicted" in verdicts:
        return "contradicted"
    if verdicts and all(v == "supported" for v in verdicts):
        return "supported"
    return "not_found" if "supported" not in verdicts else "supported"


def check(query: Query, ctx: Context, filters: Filters | None = None, with_requirements: bool = True) -> Answer:
    """``query``: analysed for mode ``check`` (its ``claims`` are what is verified)."""
    request = query.request
    book = SourceBook(ctx.store)
    rows, all_hits, lines = [], [], []
    for cq in query.claims or (query,):
        c = cq.text
        row, hits = check_one(cq, ctx, filters, book)
        if with_requirements and row["verdict"] != "not_found" and any(
                ctx.catalog.kind_of(e["doc_id"]) == "report" for e in row["evidence"]):
            row["requirements"] = governing_requirements(cq, ctx, book)
        rows.append(row)
        all_hits.extend(h for h in hits if h not in all_hits)
        lines.append(f"【{VERDICT_ZH[row['verdict']]}】{c}")
        if row["reason"]:
            lines.append(f"说明：{row['reason']}")
        for e in row["evidence"]:
            lines.append(f"依据：{e['text']}[{e['source']}]")
        for r in row.get("requirements", []):
            lines.append(f"相关要求（{r['doc_number'] or r['title']}）：{r['text']}[{r['source']}]")
    verdict = overall([r["verdict"] for r in rows])
    return Answer(mode="check", question=request, text="\n".join(lines), sources=book.sources,
                  claims=rows, verdict=verdict, passages=passages_of(all_hits),
                  requirements=[r for row in rows for r in row.get("requirements", [])])
