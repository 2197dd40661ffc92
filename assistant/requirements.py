"""Requirements of a governing document that a reviewed agency must meet, and whether a draft covers them.

A requirement is an operative sentence: an obligation (要 / 应当 / 必须 / 不得 …) that applies to the
reviewed agency's level — not a background or principle sentence, not a duty of another level (国务院有关
部门, 省级人民政府, 司法部 …), not a fragment, not a deadline already past. Repeated requirements are
merged; each keeps the document heading it stands under. Coverage is judged by meaning: the draft
sentence closest to the requirement by the embedding model and by shared terms together."""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

import numpy as np

from ingest.chunking import heading_of
from vectorstore.query import terms
from vectorstore.rerank import sentence_score
from vectorstore.retrieve import Hit
from vectorstore.text import bigrams, split_sentences

from .evidence import Sentence

# 要 as a modal verb, not inside 重要/主要/纲要/摘要/概要/简要/提要/需要/要求/要点
OBLIGATION = re.compile(r"(?<![重主纲摘概简提需只])要(?![点求素件])|应当|必须|不得|严禁|禁止|负责|不少于|不超过")
# the subject of a duty of another level: 国务院有关部门要… / 司法部负责… / 省级人民政府要…
OTHER_LEVEL = re.compile(r"^(?:[^，。；]{0,4})(?:国务院(?:有关|各)?部门|国务院各部委|国务院|党中央|中央|司法部|国家[\u4e00-\u9fa5]{0,8}(?:部|局|委)"
                         r"|省级(?:人民)?政府|省、自治区、直辖市(?:人民)?政府|省级[\u4e00-\u9fa5]{0,6}(?:部门|机关))"
                         r"(?:[、和及][^，。；]{0,12})?(?:要|应当|负责|可以|会同|牵头|统筹|研究|制定|加强)")
# principle and background headings (指导思想 / 基本原则 / 重要意义): what they say is no duty
BACKGROUND_HEADING = re.compile(r"指导思想|基本原则|重要意义|工作目标|总体目标|目的依据|适用范围")
DEADLINE = re.compile(r"((?:19|20)\d{2})\s*年(?:\s*\d{1,2}\s*月)?(?:底|末|中)?(?:前|以前|之前)")
# a sentence that quotes another document's demand (《…决定》提出，要…) is background, not this one's requirement
QUOTED = re.compile(r"^(?:[^，。]{0,12}《[^》]+》|中共中央[^，。]{0,12}|党中央[^，。]{0,12})(?:提出|要求|明确|强调|指出)")
CONTINUATION = re.compile(r"^(?:并|和|及|以及|或者|或|同时|其中|但|对此|为此|此外)")
_FULL_SENT = re.compile(r"[^。！？\n]*[。！？]|[^。！？\n]+$")


@dataclass
class Requirement:
    sentence: Sentence
    heading: str  # the document heading it stands under
    merged: int = 1  # how many sentences of the document say the same


def _heading(path: list[str]) -> str:
    return " > ".join(path[-2:]) if path else ""


def is_requirement(s: str, heading_path: list[str], year: int) -> bool:
    t = s.strip()
    if len(t) < 15 or len(t) > 260 or CONTINUATION.match(t):
        return False
    if heading_of(t) and len(t) <= 40:
        return False
    if any(BACKGROUND_HEADING.search(h) for h in heading_path):
        return False
    if not OBLIGATION.search(t) or OTHER_LEVEL.search(t) or QUOTED.search(t):
        return False
    for m in DEADLINE.finditer(t):
        if int(m.group(1)) < year:
            return False  # a deadline already past at the time of the review
    return True


def requirements_of(doc_id: str, ctx, year: int | None = None, merge_min: float | None = None) -> list[Requirement]:
    """The requirements of one governing document, in document order, repeats merged."""
    doc = ctx.catalog.document(doc_id)
    if doc is None:
        raise ValueError(f"no document {doc_id!r} in the knowledge base")
    year = year or datetime.date.today().year
    merge_min = ctx.settings.requirement_merge_min if merge_min is None else merge_min
    out: list[Requirement] = []
    for ch in ctx.store.doc_chunks(doc_id):
        hit = Hit(ch, doc, 0, 0.0)
        for m in _FULL_SENT.finditer(ch.text):
            raw = m.group(0)
            s = raw.strip()
            if not is_requirement(s, ch.heading_path, year):
                continue
            a = ch.start + m.start() + (len(raw) - len(raw.lstrip()))
            grams = bigrams(s)
            same = next((r for r in out if grams and len(grams & bigrams(r.sentence.text)) / len(grams) >= merge_min), None)
            if same is not None:
                same.merged += 1
                continue
            out.append(Requirement(Sentence(hit, a, a + len(s), s), _heading(ch.heading_path)))
    return out


def _draft_sentences(text: str) -> list[str]:
    return [text[a:b].strip() for a, b in split_sentences(text) if len(text[a:b].strip()) >= 8]


def key_terms(q, n: int) -> list[str]:
    """The requirement's ``n`` rarest terms of two characters or more (公示, 音像记录, 目录清单 …)."""
    ranked = sorted(((w, t) for t, w in q.weights.items() if len(t) >= 2), reverse=True)
    return [t for _, t in ranked[:n]]


def coverage(reqs: list[Requirement], draft_text: str, ctx) -> list[list[tuple[str, float]]]:
    """For each requirement, the draft sentences that address it (best first) with their score.

    A draft sentence addresses a requirement when it shares enough of its terms (the lexical score reaches
    ``addressed_min``), or when it holds most of the requirement's rarest terms, or when the embedding model
    puts it far nearer the requirement than the draft's other sentences (``addressed_z`` standard
    deviations) and it shares some of the requirement's terms."""
    draft = _draft_sentences(draft_text)
    if not draft or not reqs:
        return [[] for _ in reqs]
    emb = ctx.retriever.kb.embedder
    dv = np.asarray(emb.embed_passages(draft), dtype=np.float32)
    rv = np.asarray(emb.embed_passages([r.sentence.text for r in reqs]), dtype=np.float32)
    dv /= np.linalg.norm(dv, axis=1, keepdims=True) + 1e-9
    rv /= np.linalg.norm(rv, axis=1, keepdims=True) + 1e-9
    cos = rv @ dv.T
    st = ctx.settings
    out = []
    for i, r in enumerate(reqs):
        q = terms(r.sentence.text, ctx.catalog)
        keys = key_terms(q, st.requirement_key_terms)
        mean, std = float(cos[i].mean()), float(cos[i].std()) or 1.0
        scored = []
        for j in range(len(draft)):
            lex = sentence_score(q, draft[j])
            z = (float(cos[i, j]) - mean) / std
            share = sum(1 for k in keys if k in draft[j]) / len(keys) if keys else 0.0
            if lex >= st.addressed_min or share >= st.addressed_key_share or (z >= st.addressed_z and lex >= st.addressed_min / 2):
                scored.append((draft[j], round(lex + share + z / 10, 3)))
        scored.sort(key=lambda x: -x[1])
        out.append(scored[:3])
    return out
