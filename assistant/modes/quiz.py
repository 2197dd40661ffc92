"""quiz: training questions from real passages, spread over the sub-topics (the chapters and sections)
of the asked topic — fill-in, multiple choice with distractors from the same document, true/false
statements — on who must do what, by when and under which conditions; each with its answer and citation.
When fewer items than asked can be made, the answer says so and why."""
from __future__ import annotations

import random
import re

from vectorstore.query import Query
from vectorstore.retrieve import Filters, Hit
from vectorstore.text import bigrams

from ..evidence import SourceBook
from ..records import Answer
from .base import Context, Scored, gate, passages_of, score_sentences

FACT = re.compile(r"(\d+(?:\.\d+)?\s*(?:个工作日|%|日|天|个月|年|件|项|名|宗|份|次|条|元))"
                  r"|([一二三四五六七八九十百千两]+(?:个工作日|日|个月|年|周岁|元))")
# a duty, a permission or a prohibition: the sentences a trainer asks about
DUTY = re.compile(r"应当|不得|必须|应|须|负责|可以|有权|禁止")
ACTOR = re.compile(r"(?:^|(?<=[，。；：:、\s]))(?:由|对|经)?([\u4e00-\u9fa5、]{2,20}?(?:机关|单位|部门|政府|机构|委员会|组织|人员|专家|法院|负责人))"
                   r"(?=应当|应|不得|必须|须|负责|可以|有权)")
MODAL_SWAP = (("不得", "可以"), ("应当", "可以"), ("可以", "应当"))
YEAR = re.compile(r"(?:\d{4}|[一二三四五六七八九十〇零]{1,4})年")
ENTRY_INTO_FORCE = re.compile(r"施行|生效|起实施")
ARTICLE = re.compile(r"^\s*第[一二三四五六七八九十百零〇]+条\s*")


_NOT_ACTOR = re.compile(r"^(?:要|应|须|设立|明确|建立|组织|开展|加强|负责|依法|按照|根据)")


def _actors(text: str) -> list[str]:
    """The subjects of duties in ``text`` (决策承办单位应当… -> 决策承办单位), not verb phrases."""
    out = [re.sub(r"^(?:由|对|经|的|和|或者)", "", m.group(1)) for m in ACTOR.finditer(text)]
    return [a for a in out if not _NOT_ACTOR.match(a)]


_PART = re.compile(r"^\s*第[一二三四五六七八九十百零〇\d]+[编章节]|^\s*[一二三四五六七八九十]+、|^\s*[(（][一二三四五六七八九十]+[)）]")
# chapters that hold no procedure of the topic: trained last
_GENERAL = re.compile(r"总\s*则|附\s*则|法律责任")
LIST_ITEM = re.compile(r"^\s*(?:[(（][一二三四五六七八九十\d]+[)）]|\d{1,2}[.．、])")


def _subtopic(h: Hit) -> str:
    """The chapter and section (章/节, or 一、/（一）) a passage stands in, not its article."""
    path = [p for p in h.chunk.heading_path if _PART.match(p)] or h.chunk.heading_path[:1]
    return " > ".join(path[:2]) if path else h.chunk.doc_id


def _candidates(query: Query, hits: list[Hit], ctx: Context) -> list[Scored]:
    """Duty sentences on the topic, from the retrieved passages and, when a document is about the
    topic as a whole (its title shares the topic's words), from all of that document's passages."""
    pool = list(hits)
    seen = {h.chunk.id for h in hits}
    topic = bigrams(query.text)
    whole: set[str] = set()  # documents about the topic as a whole
    for h in hits[:3]:
        title = bigrams(h.doc.get("title") or "")
        if topic and len(topic & title) / len(topic) >= ctx.settings.quiz_title_share and h.chunk.doc_id not in whole:
            whole.add(h.chunk.doc_id)
            for ch in ctx.store.doc_chunks(h.chunk.doc_id):
                if ch.id not in seen:
                    seen.add(ch.id)
                    pool.append(Hit(chunk=ch, doc=h.doc, rank=len(pool) + 1, score=0.0))
    out = []
    for s in score_sentences(query.topic, pool):
        t = ARTICLE.sub("", s.sentence.text)
        if not 14 <= len(t) <= 170 or t.endswith(("：", ":")):
            continue
        governing = s.sentence.hit.doc.get("kind") in ("law", "outline")
        if not (DUTY.search(t) or (FACT.search(t) and not governing)) or LIST_ITEM.match(t):
            continue  # a duty (of a governing text), a report's figure; a list item needs its lead-in
        on_topic = s.score >= ctx.settings.quiz_topic_min or s.sentence.doc_id in whole
        if on_topic:
            out.append(s)
    return out


def _spread(cands: list[Scored], n: int) -> list[Scored]:
    """Round-robin over sub-topics (best sentence of each first); at most one item on entry into force."""
    found: dict[str, list[Scored]] = {}
    for s in cands:
        found.setdefault(_subtopic(s.sentence.hit), []).append(s)
    groups = dict(sorted(found.items(), key=lambda kv: bool(_GENERAL.search(kv[0]))))
    order, layer, dates, texts = [], 0, 0, set()
    while len(order) < n and any(layer < len(g) for g in groups.values()):
        for g in groups.values():
            if layer < len(g) and len(order) < n:
                s = g[layer]
                if s.sentence.text in texts:
                    continue
                if ENTRY_INTO_FORCE.search(s.sentence.text) and FACT.search(s.sentence.text):
                    if dates:
                        continue
                    dates += 1
                texts.add(s.sentence.text)
                order.append(s)
        layer += 1
    return order


def _blank(text: str, actors: list[str]) -> tuple[str, str, str] | None:
    """(kind, answer, stem): a figure or period, else the actor, else the modal word."""
    m = next((f for f in FACT.finditer(text) if not YEAR.fullmatch(f.group(0))), None)
    if m:
        return "fact", m.group(0), text[: m.start()] + "____" + text[m.end():]
    for a in _actors(text):
        if a in text and len(a) >= 3:
            i = text.index(a)
            return "actor", a, text[:i] + "____" + text[i + len(a):]
    for w, _ in MODAL_SWAP:
        if w in text:
            i = text.index(w)
            return "modal", w, text[:i] + "____" + text[i + len(w):]
    return None


def _alternatives(kind: str, answer: str, doc_facts: list[str], doc_actors: list[str], sentence: str = "") -> list[str]:
    """Real alternatives from the same document: its other figures of the same unit (none the sentence
    itself states elsewhere), its other actors, the other modal words."""
    if kind == "fact":
        unit = re.sub(r"[\d.一二三四五六七八九十百千两\s]", "", answer)
        return [f for f in dict.fromkeys(doc_facts) if f != answer and f.endswith(unit) and f not in sentence
                and not YEAR.fullmatch(f)]
    if kind == "actor":
        return [a for a in dict.fromkeys(doc_actors) if a != answer and answer not in a and a not in answer]
    return [w for w in ("应当", "可以", "不得") if w != answer]


def quiz(query: Query, ctx: Context, filters: Filters | None = None, n: int = 5, seed: int = 7,
         backend=None, on_token=None) -> Answer:
    topic = query.request
    hits = ctx.retriever.search(query, filters, k=10)
    refused, _ = gate(query, "quiz", ctx, hits)
    if refused:
        return refused
    if backend is not None:
        from ..generate import llm_answer

        return llm_answer(backend, "quiz", topic, hits, ctx.store, variables={"count": n}, on_token=on_token)
    rng = random.Random(seed)
    cands = _candidates(query, hits, ctx)
    by_doc_text: dict[str, str] = {}
    for s in cands:
        by_doc_text[s.sentence.doc_id] = by_doc_text.get(s.sentence.doc_id, "") + s.sentence.text
    book = SourceBook(ctx.store)
    items, lines = [], []
    kinds = ["choice", "judge", "fill"]
    for s in _spread(cands, n * 2):
        if len(items) >= n:
            break
        text = re.sub(r"[；;，,]$", "。", ARTICLE.sub("", s.sentence.text).strip())
        doc_all = by_doc_text[s.sentence.doc_id]
        facts = [m.group(0) for m in FACT.finditer(doc_all)]
        actors = _actors(doc_all)
        blank = _blank(text, actors)
        if blank is None:
            continue
        what, answer, stem = blank
        kind = kinds[len(items) % 3]
        title = s.sentence.hit.doc.get("title") or ""
        prefix = f"根据《{title}》，" if s.sentence.hit.doc.get("kind") in ("law", "outline") and title else ""
        src = book.cite_sentence(s.sentence)
        item = {"type": kind, "answer": answer, "source": src, "evidence": s.sentence.text,
                "subtopic": _subtopic(s.sentence.hit)}
        others = _alternatives(what, answer, facts, actors, text)
        if kind == "choice" and len(others) < 3:
            kind = item["type"] = "judge" if others else "fill"
        if kind == "choice":
            rng.shuffle(others)
            options = others[:3] + [answer]
            rng.shuffle(options)
            item["options"] = options
            item["question"] = f"选择：{prefix}{stem}"
        elif kind == "judge":
            truthful = rng.random() < 0.5 or not others
            shown = answer if truthful else rng.choice(others)
            item["question"] = f"判断：{prefix}{stem.replace('____', shown, 1)}"
            item["answer"] = "正确" if truthful else f"错误（应为“{answer}”）"
        else:
            item["question"] = f"填空：{prefix}{stem}"
        items.append(item)
        lines.append(f"{len(items)}. {item['question']}")
        if item.get("options"):
            lines.append("   " + "  ".join(f"{'ABCD'[i]}. {o}" for i, o in enumerate(item["options"])))
        lines.append(f"   答案：{item['answer']}。依据：{s.sentence.text}[{src}]")
    if not items:
        lines.append("检索到的段落中没有适合出题的具体规定，请换一个主题。")
    elif len(items) < n:
        lines.append(f"说明：要求出{n}题，知识库中关于该主题可据以出题的规定只够出{len(items)}题；"
                     "可换一个更宽的主题，或导入相关法规后再出题。")
    return Answer(mode="quiz", question=topic, text="\n".join(lines), sources=book.sources, quiz=items,
                  passages=passages_of(hits))
