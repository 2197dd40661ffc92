"""Records the assistant returns: Source (what a citation shows) and Answer (every mode)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

REFUSAL_TEXT = "知识库中未找到相关依据，无法回答这个问题。"


@dataclass
class Source:
    number: int  # the n of [n]
    doc_id: str
    title: str
    issuer: str
    year: int | None
    kind: str
    heading_path: list[str]
    page: int | None
    start: int  # quote offsets in the document text
    end: int
    quote: str  # verbatim Document.text[start:end]
    chunk_id: str = ""
    context_before: str = ""  # surrounding text for display
    context_after: str = ""
    doc_number: str = ""


@dataclass
class Flag:
    """A statement the citation check could not stand behind."""
    sentence: str
    reason: str  # unsupported | dangling_marker | uncited | number_mismatch
    action: str  # dropped | marked | marker_removed
    markers: list[int] = field(default_factory=list)


@dataclass
class Answer:
    mode: str
    question: str
    text: str  # with [n] markers
    sources: list[Source] = field(default_factory=list)
    refused: bool = False
    flags: list[Flag] = field(default_factory=list)
    backend: str = "extractive"
    passages: list[dict] = field(default_factory=list)  # retrieval presented (ranked), for eval/explain
    compare: list[dict] = field(default_factory=list)  # compare rows
    claims: list[dict] = field(default_factory=list)  # check verdicts
    verdict: str | None = None  # overall check verdict
    quiz: list[dict] = field(default_factory=list)
    draft: list[dict] = field(default_factory=list)  # draft paragraphs
    requirements: list[dict] = field(default_factory=list)  # governing requirements shown by check
    model_reply: str = ""  # the LLM's reply as received, before the citation rules (empty: no model call)
    notice: str = ""  # why the answer is not what was asked for (the LLM failed: extractive answer instead)

    def to_dict(self) -> dict:
        return asdict(self)
