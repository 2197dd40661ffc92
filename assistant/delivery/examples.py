"""The web page's example questions, taken from the knowledge base's own documents (never a fixed list naming
documents or agencies the user may not have): a report's issuer and section headings, a sentence with a figure,
a law's title. With an empty knowledge base the page shows no examples and generic placeholders."""
from __future__ import annotations

import re

_ORDINAL = re.compile(r"^\s*(?:[（(][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+[、.．]|\d+[、.．]|第[一二三四五六七八九十]+[章节部分])\s*")
_FIGURE = re.compile(r"\d")
_SENTENCE = re.compile(r"[^。！？\n]+[。！？]")

GENERIC_PLACEHOLDER = {
    "ask": "输入问题（Enter 发送，可继续追问）",
    "compare": "输入要对比的做法，例如：其他单位是如何……的？",
    "draft": "输入要起草的部分（报告的一个章节或工作主题）",
    "check": "粘贴要核对的表述，例如：核对：……",
    "quiz": "输入出题主题（一部法规或一项工作）",
}


def _topic(heading: str) -> str | None:
    """A section heading as a topic: ordinal removed, its first clause, without years, figures or self-references."""
    t = _ORDINAL.sub("", heading.strip())
    t = re.split(r"[,，;；。:：]", t)[0].strip()
    if not 4 <= len(t) <= 16 or _FIGURE.search(t) or re.search(r"我[局委办县区市]|工作总结|情况报告|存在|问题|下一步|计划", t):
        return None
    return t


def _report_topics(store, doc_id: str, limit: int = 3) -> list[str]:
    out: list[str] = []
    for ch in store.doc_chunks(doc_id):
        for h in ch.heading_path[1:2] or ch.heading_path[:1]:  # the second level, else the first
            t = _topic(h)
            if t and t not in out:
                out.append(t)
        if len(out) >= limit:
            break
    return out


def _figure_sentence(store, doc_id: str) -> str | None:
    for ch in store.doc_chunks(doc_id)[1:]:
        for m in _SENTENCE.finditer(ch.text):
            s = _ORDINAL.sub("", m.group(0).strip())
            if 16 <= len(s) <= 60 and re.search(r"\d+(?:\.\d+)?\s*(?:件|项|人|名|次|场|个|%|万元|家|卷)", s) \
                    and not re.search(r"我[局委办县区]|[《》]", s):
                return s
    return None


def kb_examples(kb) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(placeholder per mode, examples per mode) from ``kb`` (a KnowledgeBase)."""
    docs = kb.documents()
    reports = sorted((d for d in docs if d.get("kind") == "report"), key=lambda d: (-(d.get("year") or 0), d["id"]))
    laws = [d for d in docs if d.get("kind") == "law" and d.get("title")]
    examples: dict[str, list[str]] = {m: [] for m in GENERIC_PLACEHOLDER}
    for i, d in enumerate(reports[:2]):
        topics = _report_topics(kb.store, d["id"])
        if not topics:
            continue
        pick = [topics[(i + j) % len(topics)] for j in range(3)]  # the two reports' examples differ
        if d.get("issuer"):
            examples["ask"].append(f"{d['issuer']}在{pick[0]}方面做了哪些工作？")
        examples["compare"].append(f"其他单位是如何{pick[1]}的？")
        examples["draft"].append(pick[2])
        sentence = _figure_sentence(kb.store, d["id"])
        if sentence:
            examples["check"].append(f"核对：{sentence}")
    for d in laws[:2]:
        title = re.sub(r"[（(].*?[)）]", "", d["title"]).replace("中华人民共和国", "").strip("《》 ")
        if title:
            examples["quiz"].append(title)
    if not examples["quiz"]:
        examples["quiz"] = examples["draft"][:1]
    placeholder = dict(GENERIC_PLACEHOLDER)
    for mode, found in examples.items():
        if found:
            tail = "（Enter 发送，可继续追问）" if mode == "ask" else ""
            placeholder[mode] = f"{GENERIC_PLACEHOLDER[mode].split('，例如')[0].split('（')[0]}，例如：{found[0]}{tail}"
    return placeholder, examples
