"""What every LLM backend shares: the interface, the user-facing errors and the reply callback."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

from .settings import Settings

TokenCallback = Callable[[str], None]


class LLMError(RuntimeError):
    """A user-facing LLM failure (server unreachable, timeout, HTTP error, bad configuration)."""

    def __init__(self, zh: str, en: str) -> None:
        self.zh, self.en = zh, en
        super().__init__(f"{zh} / {en}")


class LLMConfigError(LLMError):
    """The LLM backend is misconfigured (raised before any request)."""


class LLMBackend(ABC):
    name: str = "llm"
    settings: Settings

    def context_window(self) -> int:
        """The model's context window in tokens (prompts are cut to it)."""
        return self.settings.llm_context_tokens or self.settings.llm_context_fallback

    @abstractmethod
    def complete(self, system: str, user: str, on_token: TokenCallback | None = None) -> str:
        """The model's reply to (system, user); with ``on_token``, stream pieces to it as they arrive."""


def _short(text: str, limit: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
