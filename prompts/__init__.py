"""Prompt templates for the LLM backend, one Markdown file per prompt (UTF-8, Chinese).

``system.md`` holds the rules every mode shares; ``<mode>.md`` is the user message of a mode.
Templates use str.format-style placeholders (``{question}``, ``{passages}`` and mode-specific
ones such as ``{agency}``, ``{topic}``, ``{count}``) rendered through langchain's
``ChatPromptTemplate``; a literal brace is written ``{{`` / ``}}``.
"""
from __future__ import annotations

import re
from pathlib import Path

from langchain_core.prompts import ChatPromptTemplate

PROMPT_DIR = Path(__file__).resolve().parent
SYSTEM = "system"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class PromptNotFoundError(LookupError):
    """No prompt file of that name."""


def available() -> list[str]:
    """Names of the prompt files (without ``.md``)."""
    return sorted(p.stem for p in PROMPT_DIR.glob("*.md") if _NAME_RE.match(p.stem))


def load(name: str) -> str:
    """The text of ``prompts/<name>.md``."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise PromptNotFoundError(f"invalid prompt name {name!r}; available: {', '.join(available())}")
    path = PROMPT_DIR / f"{name}.md"
    if not path.is_file():
        raise PromptNotFoundError(f"unknown prompt {name!r} (no file {path.name} in {PROMPT_DIR}); "
                                  f"available: {', '.join(available())}")
    return path.read_text(encoding="utf-8")


def chat_prompt(mode: str) -> ChatPromptTemplate:
    """System rules + the user message of ``mode``, as one chat prompt template."""
    return ChatPromptTemplate.from_messages([("system", load(SYSTEM)), ("human", load(mode))])


def variables(mode: str) -> list[str]:
    """Placeholders the prompt of ``mode`` needs."""
    return sorted(chat_prompt(mode).input_variables)
