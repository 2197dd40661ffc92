"""Answers written by an LLM backend, held to the same citation rules as the extractive answerer.

Passages are numbered 1..n (each a Source whose quote is the verbatim stored chunk), the prompt is
``prompts/system.md`` + ``prompts/<mode>.md``, and the reply goes through ``citations.enforce``
(unsupported statements dropped, dangling markers removed) and ``citations.renumber``
(only cited sources kept, numbered in order of first citation).
"""
from __future__ import annotations

import re

import prompts
from vectorstore.retrieve import Hit
from vectorstore.store import Store

from . import budget, citations
from .evidence import SourceBook
from .llm import LLMBackend, TokenCallback
from .records import REFUSAL_TEXT, Answer, Flag, Source

REFUSAL_PHRASE = "知识库中未找到相关依据"  # what the system prompt tells the model to reply
UNVERIFIED_NOTE = ("（大模型生成的回答未能通过引文核验：其中的陈述在所给资料中找不到依据或引用有误，"
                   "已全部删除，详见核验记录。）")
MODE_DEFAULTS: dict[str, dict] = {"draft": {"agency": "本单位", "leaders": "【上级党委、政府】", "skeleton": "（无，请按资料自行组织）"},
                                   "quiz": {"count": 5}}

_THINK_RE = re.compile(r"<think>.*?</think>", re.S | re.I)
_FENCE_RE = re.compile(r"^\s*```[\w-]*\s*$", re.M)
_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s+\S")
_TABLE_SEP_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_ECHO_RE = re.compile(r"^(?:</?(?:资料|待核查)>|资料(?:[（(][^）)]{0,30}[）)])?\s*[:：])$")
_QUIZ_ITEM_RE = re.compile(r"^(\s{0,3}#{0,6}\s*)第\s*(\d+)\s*题")
_QUIZ_LINE_RE = re.compile(r"^\s*(?:[-*]\s*)?(?:题目|题干|问题|答案|正确答案)\s*[:：]|^\s*(?:[-*]\s*)?[A-DＡ-Ｄ]\s*[.．、)）]")


# ---- passages and prompt ------------------------------------------------------------------------
def format_passage(source: Source) -> str:
    """``[n] 《title》（issuer，year年）heading > path`` then the verbatim passage text."""
    meta = "，".join(x for x in (source.issuer, f"{source.year}年" if source.year else "") if x)
    head = f"[{source.number}] 《{source.title}》" + (f"（{meta}）" if meta else "")
    if source.heading_path:
        head += " " + " > ".join(source.heading_path)
    return f"{head}\n{source.quote.strip()}"


def number_passages(hits: list[Hit], store: Store) -> tuple[list[Source], str]:
    """Sources 1..n for the hits (whole chunks, quotes cut from the stored document) and the prompt text."""
    book = SourceBook(store)
    for hit in hits:
        book.cite(hit)
    return list(book.sources), "\n\n".join(format_passage(s) for s in book.sources)


def render_prompt(mode: str, question: str, passages: str, variables: dict | None = None) -> tuple[str, str]:
    """(system, user) messages of ``mode``, rendered through the ChatPromptTemplate of prompts/."""
    if mode == prompts.SYSTEM:
        raise prompts.PromptNotFoundError(f"{mode!r} is not a mode")
    template = prompts.chat_prompt(mode)
    values: dict = dict(MODE_DEFAULTS.get(mode, {}))
    if mode == "draft":
        values["topic"] = question
    values.update({k: v for k, v in (variables or {}).items() if v is not None})
    values.update(question=question, passages=passages)
    missing = [v for v in template.input_variables if v not in values]
    if missing:
        raise ValueError(f"prompt {mode!r} needs the variables: {', '.join(sorted(missing))}")
    system, user = template.format_messages(**values)
    return str(system.content), str(user.content)


# ---- the reply ----------------------------------------------------------------------------------
def _expand_marker_list(m: re.Match) -> str:
    nums: list[int] = []
    for part in re.split(r"\s*[,，、]\s*", m.group(1)):
        if "-" in part or "–" in part:
            a, b = (int(x) for x in re.split(r"\s*[-–]\s*", part))
            nums.extend(range(a, b + 1) if 0 < b - a <= 10 else (a, b))
        else:
            nums.append(int(part))
    return "".join(f"[{n}]" for n in nums)


def clean_reply(text: str) -> str:
    """Remove reasoning blocks and code fences; write citation markers as ``[n]``."""
    text = _THINK_RE.sub("", text or "")
    if "</think>" in text:  # opening tag swallowed by the server
        text = text.split("</think>", 1)[1]
    text = _FENCE_RE.sub("", text)
    text = re.sub(r"[［【]\s*(\d{1,3})\s*[］】]", r"[\1]", text)  # 【1】 ［1］ (not 【数字】)
    text = re.sub(r"\[\^(\d{1,3})\]", r"[\1]", text)  # footnote style [^1]
    text = re.sub(r"\[(\d{1,3}(?:\s*(?:[,，、]|[-–])\s*\d{1,3})+)\]", _expand_marker_list, text)  # [1, 2] [1-3]
    # a line holding only markers belongs to the line before it
    text = re.sub(r"\n[ \t]*((?:\[\d{1,3}\])+)[ \t]*(?=\n|$)", r"\1", text)
    return text.strip()


def is_refusal(text: str, sources: list[Source]) -> bool:
    """The model said the passages hold no answer (and cited nothing real)."""
    body = citations.norm(citations.strip_markers(text))
    numbers = {s.number for s in sources}
    return body.startswith(REFUSAL_PHRASE) and not any(n in numbers for n in citations.markers(text))


def _heading_exempt(line: str) -> bool:
    """A short Markdown heading states nothing to cite (a figure in it would, so it must not hold one)."""
    if not _HEADING_RE.match(line) or citations.markers(line):
        return False
    body = re.sub(r"第\s*\d+\s*[题条章节部分]", "", line)
    return len(citations.norm(body)) <= 40 and not re.search(r"\d", body)


def _exempt(mode: str, line: str, next_line: str, question: str) -> bool:
    """Structural lines kept as they are: headings, table headers and the labels of a mode's format."""
    if _heading_exempt(line):
        return True
    if citations.markers(line):
        return False
    if line.lstrip().startswith("|") and _TABLE_SEP_RE.match(next_line or ""):
        return True  # table header row
    if mode == "quiz" and (_QUIZ_LINE_RE.match(line) or _QUIZ_ITEM_RE.match(line)):
        return True  # question, options and answer letter; the 解析 line carries the citation
    return False


def enforce_lines(mode: str, text: str, sources: list[Source], question: str) -> tuple[str, list[Flag]]:
    """``citations.enforce`` line by line, so paragraphs, lists and tables keep their line breaks."""
    lines = text.split("\n")
    out: list[str] = []
    flags: list[Flag] = []
    for i, line in enumerate(lines):
        if not line.strip():
            out.append("")
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if _exempt(mode, line, nxt, question):
            out.append(line.rstrip())
            continue
        body = citations.strip_markers(line).strip()
        if citations.norm(body).startswith(REFUSAL_PHRASE) and not citations.markers(line):
            continue  # a partial refusal next to cited content is not a claim
        if _ECHO_RE.match(body):
            continue  # the prompt's own scaffolding echoed back (<资料>, 资料：) is no part of an answer
        clean, fl = citations.enforce(line, sources)
        flags.extend(fl)
        if clean:
            lead = line[: len(line) - len(line.lstrip())]
            out.append(lead + clean)
    return "\n".join(out), flags


def _drop_table_without_rows(text: str) -> str:
    """A header + separator with no body row left is not a table."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if (i + 1 < len(lines) and lines[i].lstrip().startswith("|") and _TABLE_SEP_RE.match(lines[i + 1])
                and not (i + 2 < len(lines) and lines[i + 2].lstrip().startswith("|"))):
            i += 2
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def _quiz_items(text: str) -> str:
    """Keep quiz items whose explanation kept a citation; renumber them 第1题..."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if _QUIZ_ITEM_RE.match(line)]
    if not starts:
        return text
    head = lines[: starts[0]]
    items = [lines[a:b] for a, b in zip(starts, starts[1:] + [len(lines)])]
    kept = [it for it in items if any(citations.markers(line) for line in it)]
    out = list(head)
    for k, item in enumerate(kept, start=1):
        item = [_QUIZ_ITEM_RE.sub(lambda m: f"{m.group(1)}第{k}题", item[0], count=1)] + item[1:]
        out.extend(item)
    return "\n".join(out)


def _tidy(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _has_citation(text: str) -> bool:
    return bool(citations.markers(text))


def verify(mode: str, raw: str, sources: list[Source], question: str) -> tuple[str, list[Flag], list[Source], str]:
    """The reply held to the citation rules: (text, flags, cited sources renumbered, refusal kind).
    The refusal kind is "" for an answer, "model" when the model said the passages hold no answer,
    "unverified" when nothing it said survived the check."""
    text = clean_reply(raw)
    if is_refusal(text, sources):
        return REFUSAL_TEXT, [], [], "model"
    text, flags = enforce_lines(mode, text, sources, question)
    if mode == "quiz":
        text = _quiz_items(text)
    text = _tidy(_drop_table_without_rows(text))
    if not _has_citation(text):
        return f"{REFUSAL_TEXT}\n{UNVERIFIED_NOTE}", flags, [], "unverified"
    text, cited = citations.renumber(text, sources)
    return text, flags, cited, ""


class VerifiedStream:
    """Streams only verified text: each time a line of the reply completes, the reply so far (less its
    last complete line, which a marker-only line or a table separator may still change) goes through
    ``verify`` and what it adds is passed on. The final text extends what was streamed, so the streamed
    answer is the final answer."""

    def __init__(self, mode: str, sources: list[Source], question: str, out: TokenCallback) -> None:
        self.mode, self.sources, self.question, self.out = mode, sources, question, out
        self.raw: list[str] = []
        self.sent = ""

    def __call__(self, piece: str) -> None:
        self.raw.append(piece)
        if "\n" not in piece:
            return
        raw = "".join(self.raw)
        if "<think>" in raw.lower() and "</think>" not in raw.lower():
            return  # reasoning still open
        done = "\n".join(raw.split("\n")[:-2])
        if done.strip():
            text, _, _, refused = verify(self.mode, done, self.sources, self.question)
            if not refused:
                self._send(text)

    def finish(self, text: str, refused: str) -> None:
        if not refused:
            self._send(text)

    def _send(self, text: str) -> None:
        if len(text) > len(self.sent) and text.startswith(self.sent):
            self.out(text[len(self.sent):])
            self.sent = text


# ---- entry point --------------------------------------------------------------------------------
def llm_answer(backend: LLMBackend, mode: str, question: str, hits: list[Hit], store: Store,
               variables: dict | None = None, on_token: TokenCallback | None = None) -> Answer:
    """Ask ``backend`` to answer ``question`` in ``mode`` from ``hits``; keep only what the passages support.
    With ``on_token``, the verified answer is streamed to it as the model writes (see ``VerifiedStream``).

    Raises ``LLMError`` when the server fails and ``PromptNotFoundError`` for an unknown mode.
    """
    passages_meta = [{"doc_id": h.chunk.doc_id, "chunk_id": h.chunk.id, "rank": h.rank} for h in hits]
    sources, _ = number_passages(hits, store)
    base = dict(mode=mode, question=question, backend=backend.name, passages=passages_meta)
    if not sources:  # nothing to answer from: do not ask the model to invent
        return Answer(text=REFUSAL_TEXT, refused=True, **base)

    def render(ss: list[Source]) -> tuple[str, str]:
        return render_prompt(mode, question, "\n\n".join(format_passage(s) for s in ss), variables)

    # the prompt fits the model's window: the lowest-ranked passages go first (markers to them dangle)
    sources = budget.fit(sources, render, budget.prompt_budget(backend.context_window(), backend.settings),
                         backend.settings)
    system, user = render(sources)
    stream = VerifiedStream(mode, sources, question, on_token) if on_token is not None else None
    raw = backend.complete(system, user, on_token=stream)
    text, flags, cited, refused = verify(mode, raw, sources, question)
    if stream is not None:
        stream.finish(text, refused)
    return Answer(text=text, sources=cited, flags=flags, refused=bool(refused), model_reply=raw, **base)
