"""The assistant: one object a CLI, web page, API or eval calls; modes dispatch from here."""
from __future__ import annotations

from vectorstore.kb import KnowledgeBase
from vectorstore.retrieve import Filters, Retriever

from .modes.base import Context
from .records import Answer
from .settings import Settings

MODES = ("ask", "compare", "draft", "check", "quiz")
MAX_QUESTION_CHARS = 1000
MAX_CHECK_CHARS = 4000


class Assistant:
    def __init__(self, settings: Settings | None = None, kb: KnowledgeBase | None = None) -> None:
        self.settings = settings or Settings()
        self.kb = kb or KnowledgeBase(self.settings.kb_path, self.settings.embedder, self.settings.chroma_url,
                                      self.settings.max_bytes)
        self.retriever = Retriever(self.kb)
        self._backend = None
        self._backend_ready = False

    @property
    def backend(self):
        """None for the extractive default; an LLMBackend when FAZHI_LLM_BACKEND=openai."""
        if not self._backend_ready:
            if self.settings.llm_backend != "extractive":
                from .llm import make_backend

                self._backend = make_backend(self.settings)
            self._backend_ready = True
        return self._backend

    def context(self) -> Context:
        return Context(self.retriever, k=self.settings.k)

    def run(self, mode: str, question: str, filters: Filters | None = None, on_token=None, **options) -> Answer:
        question = (question or "").strip()
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        if not question:
            return Answer(mode=mode, question="", text="请输入问题。", refused=True)
        limit = MAX_CHECK_CHARS if mode == "check" else MAX_QUESTION_CHARS
        if len(question) > limit:  # a pasted page is cut, not refused (whole reports go to `review`)
            question = question[:limit]
        ctx = self.context()
        if mode == "ask":
            from .modes.ask import ask

            return ask(question, ctx, filters, self.backend, on_token)
        if mode == "compare":
            from .modes.compare import compare

            return compare(question, ctx, filters, self.backend, on_token)
        if mode == "draft":
            from .modes.draft import draft

            return draft(question, ctx, filters, agency=options.get("agency"), backend=self.backend, on_token=on_token)
        if mode == "check":
            from .modes.check import check

            return check(question, ctx, filters, claim=options.get("claim"))
        from .modes.quiz import quiz

        return quiz(question, ctx, filters, n=int(options.get("n") or 5))
