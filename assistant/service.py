"""The assistant: one object a CLI, web page, API or eval calls; modes dispatch from here."""
from __future__ import annotations

from vectorstore.kb import KnowledgeBase
from vectorstore.retrieve import Filters, Retriever

from vectorstore.query import Query

from .modes import MODES, Request
from .modes import run as run_mode
from .modes.base import Context
from .records import Answer
from .settings import Settings, default

MAX_QUESTION_CHARS = default("max_question_chars")
MAX_CHECK_CHARS = default("max_claim_chars")


class Assistant:
    def __init__(self, settings: Settings | None = None, kb: KnowledgeBase | None = None) -> None:
        self.settings = settings or Settings()
        self.kb = kb or KnowledgeBase(self.settings.kb_path, self.settings.embedder, self.settings.chroma_url,
                                      self.settings.max_bytes, self.settings.limits,
                                      database_url=self.settings.database_url)
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

    @property
    def catalog(self):
        """The knowledge base's catalogue (documents, aliases, 文号, IDF, known names)."""
        return self.retriever.catalog

    def context(self) -> Context:
        return Context(self.retriever, k=self.settings.k, settings=self.settings)

    def analyse(self, text: str, mode: str = "ask") -> Query:
        """The one analysis of a request's text (public: eval and tests count it)."""
        return self.retriever.analyse(text, mode)

    def run(self, mode: str, question: str, filters: Filters | None = None, on_token=None, **options) -> Answer:
        question = (question or "").strip()
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        if not question:
            return Answer(mode=mode, question="", text="请输入问题。", refused=True)
        limit = self.settings.max_claim_chars if mode == "check" else self.settings.max_question_chars
        if len(question) > limit:  # a pasted page is cut, not refused (whole reports go to `review`)
            question = question[:limit]
        # check gives verdicts decided in code (values, directions, scope against the evidence): no model call
        req = Request(mode, question, filters, agency=options.get("agency"), claim=options.get("claim"),
                      n=int(options.get("n") or 5), backend=self.backend if mode != "check" else None,
                      on_token=on_token)
        query = self.analyse(req.analysed_text, mode)
        return run_mode(req, query, self.context())
