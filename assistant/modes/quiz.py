"""quiz: training questions from real passages — fill-in, multiple choice with real distractors,
true/false from real figures — each with its answer and citation."""
from __future__ import annotations

import random
import re

from vectorstore.query import Query
from vectorstore.retrieve import Filters

from ..evidence import SourceBook
from ..records import Answer
from .base import Context, gate, passages_of, score_sentences

FACT = re.compile(r"(\d+(?:\.\d+)?\s*(?:个工作日|%|日|天|个月|年|件|项|名|宗|份|次|条|元))"
                  r"|([一二三四五六七八九十百千两]+(?:个工作日|日|个月|年|周岁|元))")


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
    q = query.terms
    scored = [s for s in score_sentences(q, hits) if FACT.search(s.sentence.text) and 12 <= len(s.sentence.text) <= 160]
    pool_facts = [m.group(0) for s in score_sentences(q, hits) for m in FACT.finditer(s.sentence.text)]
    book = SourceBook(ctx.store)
    items, lines, seen = [], [], set()
    kinds = ["fill", "choice", "judge"]
    for s in scored:
        if len(items) >= n:
            break
        m = FACT.search(s.sentence.text)
        fact = m.group(0)
        if s.sentence.text in seen:
            continue
        seen.add(s.sentence.text)
        src = book.cite_sentence(s.sentence)
        kind = kinds[len(items) % 3]
        stem = s.sentence.text[: m.start()] + "____" + s.sentence.text[m.end():]
        item = {"type": kind, "answer": fact, "source": src, "evidence": s.sentence.text}
        if kind == "fill":
            item["question"] = f"填空：{stem}"
        elif kind == "choice":
            unit = re.sub(r"[\d.一二三四五六七八九十百千两\s]", "", fact)
            others = [f for f in dict.fromkeys(pool_facts) if f != fact and f.endswith(unit)]
            rng.shuffle(others)
            options = others[:3]
            if len(options) < 3:
                item["type"] = kind = "fill"
                item["question"] = f"填空：{stem}"
            else:
                options.append(fact)
                rng.shuffle(options)
                item["options"] = options
                item["question"] = f"选择：{stem}"
        else:
            others = [f for f in dict.fromkeys(pool_facts) if f != fact]
            truthful = rng.random() < 0.5 or not others
            shown = fact if truthful else rng.choice(others)
            item["question"] = "判断：" + s.sentence.text[: m.start()] + shown + s.sentence.text[m.end():]
            item["answer"] = "正确" if truthful else f"错误（应为{fact}）"
        items.append(item)
        lines.append(f"{len(items)}. {item['question']}")
        if item.get("options"):
            lines.append("   " + "  ".join(f"{'ABCD'[i]}. {o}" for i, o in enumerate(item["options"])))
        lines.append(f"   答案：{item['answer']}。依据：{s.sentence.text}[{src}]")
    if not items:
        lines.append("检索到的段落中没有适合出题的具体规定或数字，请换一个主题。")
    return Answer(mode="quiz", question=topic, text="\n".join(lines), sources=book.sources, quiz=items,
                  passages=passages_of(hits))
