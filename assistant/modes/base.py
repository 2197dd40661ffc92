"""Shared machinery of the modes: the context they run in, sentence picking and the refusal gate."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from vectorstore.rerank import Question, analyse, sentence_contexts, sentence_score, split_sentences
from vectorstore.retrieve import Hit, Retriever, doc_aliases

from ..evidence import Sentence, SourceBook
from ..records import REFUSAL_TEXT, Answer

TITLE_RE = re.compile(r"《([^》]{2,60})》")
MIN_EVIDENCE = 0.31  # best topic-sentence score below which the KB "holds no answer" (measured: answerable >= 0.35, unanswerable 0.27 on the shared questions)


@dataclass
class Context:
    retriever: Retriever
    k: int = 8

    @property
    def store(self):
        return self.retriever.kb.store


@dataclass
class Scored:
    sentence: Sentence
    score: float
    lead: str = ""


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s).replace(" ", "")


def score_sentences(q: Question, hits: list[Hit], per_hit: int | None = None) -> list[Scored]:
    out: list[Scored] = []
    for h in hits:
        text = h.chunk.text
        spans = split_sentences(text)
        leads = sentence_contexts(text, spans)
        ctx = f"{h.doc.get('title', '')} {' '.join(h.chunk.heading_path)}"
        scored = []
        headings = {_nfkc(x).rstrip("。") for x in h.chunk.heading_path}
        for (a, b), lead in zip(spans, leads):
            if is_heading(text[a:b], headings):
                continue
            s = Sentence(h, h.chunk.start + a, h.chunk.start + b, text[a:b])
            sc = sentence_score(q, s.text, f"{ctx} {lead}") + 0.08 / h.rank
            scored.append(Scored(s, sc, lead))
        scored.sort(key=lambda x: -x.score)
        out.extend(scored[:per_hit] if per_hit else scored)
    out.sort(key=lambda x: -x.score)
    return out


def is_heading(sentence: str, headings: set[str]) -> bool:
    """A section heading states nothing to quote as evidence (一、… / (六)… / 1.合同审查。)."""
    from ingest.chunking import heading_of

    s = _nfkc(sentence).rstrip("。；;")
    if s in headings:
        return True
    h = heading_of(sentence)
    return h is not None and len(s) <= 30 and len(_nfkc(h[1]).rstrip("。")) >= len(s) - 1


def following_items(hit: Hit, after: Sentence, limit: int = 8) -> list[Sentence]:
    """List items (（一）… / 1. …) that follow a lead-in sentence ending with '：'."""
    text = hit.chunk.text
    out = []
    for a, b in split_sentences(text):
        start = hit.chunk.start + a
        if start < after.end:
            continue
        s = text[a:b]
        if not re.match(r"^\s*(?:[(（][一二三四五六七八九十\d]+[)）]|\d{1,2}[.．、]|[一二三四五六七八九十]+是)", s):
            break
        out.append(Sentence(hit, start, hit.chunk.start + b, s))
        if len(out) >= limit:
            break
    return out


def unknown_names(question: str, retriever: Retriever, hits: list[Hit]) -> list[str]:
    """Places/agencies and 《titles》 the question names that nothing in the knowledge base mentions."""
    known = retriever.known_names()  # built once per knowledge-base generation
    corpus = _nfkc("".join(h.chunk.text for h in hits)) + "|".join(known)
    missing = []
    q = _nfkc(question)
    for m in TITLE_RE.finditer(q):
        t = m.group(1)
        core = re.sub(r"^中华人民共和国", "", t)
        if core not in corpus and t not in corpus:
            missing.append(f"《{t}》")
    for name in place_names(TITLE_RE.sub("", q)):
        stem = name[:-1] if len(name) >= 3 else name
        if name not in corpus and stem not in corpus:
            missing.append(name)
    return missing


def place_names(text: str) -> list[str]:
    """Place names (jieba POS ``ns``) of at least three characters, e.g. 北京市, 海淀区."""
    import jieba.posseg as pseg

    from vectorstore.tokenize import tokenize

    tokenize("")  # make sure jieba carries the field dictionary
    return [w for w, flag in pseg.cut(text) if flag == "ns" and len(w) >= 3]


def refusal(question: str, mode: str, hits: list[Hit], best: float | None, missing: list[str]) -> Answer:
    if missing:
        why = f"知识库中没有关于{'、'.join(missing)}的文件。"
    elif not hits:
        why = "没有检索到任何相关段落。"
    else:
        why = "检索到的段落与问题的相关度不足，无法据此作答。"
    text = REFUSAL_TEXT + why
    if hits:
        text += "\n以下是最接近的段落，仅供参考（未据此作答）："
        for h in hits[:3]:
            text += f"\n- 《{h.doc.get('title')}》{' > '.join(h.chunk.heading_path)}：{h.chunk.text[:80]}…"
    return Answer(mode=mode, question=question, text=text, refused=True,
                  passages=passages_of(hits))


def passages_of(hits: list[Hit]) -> list[dict]:
    return [{"rank": h.rank, "doc_id": h.chunk.doc_id, "chunk_id": h.chunk.id, "title": h.doc.get("title"),
             "issuer": h.doc.get("issuer"), "heading_path": h.chunk.heading_path, "start": h.chunk.start,
             "end": h.chunk.end, "text": h.chunk.text, "score": round(h.score, 4)} for h in hits]


def attribution(hit: Hit) -> str:
    d = hit.doc
    issuer = d.get("issuer") or ""
    title = d.get("title") or hit.chunk.doc_id
    return f"{issuer}《{title}》：" if issuer and issuer not in title else f"《{title}》："


def gate(question: str, mode: str, ctx: Context, hits: list[Hit]) -> tuple[Answer | None, list[Scored]]:
    """Decide refusal from retrieval evidence (before any LLM call).

    Returns (refusal or None, the evidence sentences scored against the question's topic)."""
    missing = unknown_names(question, ctx.retriever, hits)
    scored = topic_sentences(question, ctx, hits[: ctx.k]) if hits else []
    best = scored[0].score if scored else 0.0
    # not one word of the question occurs in the knowledge base (code, another language, noise)
    no_terms = not any(re.search(r"[\u4e00-\u9fff]", t) for t in analyse(question, ctx.retriever.idf).weights)
    if missing or not hits or no_terms or best < MIN_EVIDENCE:
        return refusal(question, mode, hits, best, missing), scored
    return None, scored


def named_docs(question: str, retriever: Retriever) -> set[str]:
    """Documents the question names (agency, place, title, 文号), if any."""
    prior = retriever.doc_prior(question)
    if not prior:
        return set()
    top = max(prior.values())
    return {d for d, p in prior.items() if p >= 0.5 * top}


def topic_of(question: str, retriever: Retriever, named: set[str]) -> str:
    """The question without the names of the documents it names, and without years."""
    topic = question
    for doc_id in named:
        for alias in sorted(doc_aliases(retriever.docs[doc_id]), key=len, reverse=True):
            topic = topic.replace(alias, " ")
    return re.sub(r"(?:19|20)\d{2}\s*年度?", " ", topic)


def topic_sentences(question: str, ctx: Context, hits: list[Hit]) -> list[Scored]:
    """Sentences scored for the question's topic (names are checked apart), from the documents
    the question names when it names some."""
    retriever = ctx.retriever
    named = named_docs(question, retriever)
    pool = [h for h in hits if h.chunk.doc_id in named] if named else hits
    return score_sentences(analyse(topic_of(question, retriever, named), retriever.idf), pool or hits)


@dataclass
class Composer:
    """Builds answer text grouped by document, each sentence cited."""
    book: SourceBook
    lines: list[str] = field(default_factory=list)
    exempt: list[str] = field(default_factory=list)

    def header(self, line: str) -> None:
        self.lines.append(line)
        self.exempt.append(line.strip())

    def cite(self, s: Sentence, text: str | None = None) -> int:
        n = self.book.cite_sentence(s)
        self.lines.append(f"{text if text is not None else s.text}[{n}]")
        return n

    def text(self) -> str:
        return "\n".join(self.lines)
