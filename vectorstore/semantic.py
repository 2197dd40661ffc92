"""Sentence-level semantic similarity with the knowledge base's own embedder (no extra model).

Lexical sentence scoring (``vectorstore.rerank``) misses questions worded in other words than the text
(老百姓找政府要信息，政府能收钱吗？ ↔ 行政机关依申请提供政府信息，不收取费用). The answerer therefore
re-orders its best lexical candidates by the cosine of each sentence to the question, embedded as
``passage`` and ``query`` by the same model as retrieval. Sentence vectors are kept in a bounded
in-process cache (a session asks about the same passages again and again); nothing is written to the
knowledge base from this read path."""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from .embeddings import Embedder


class SentenceVectors:
    """Cosine of sentences to a question, with sentence vectors cached (LRU, ``capacity`` entries)."""

    def __init__(self, embedder: Embedder, capacity: int = 20000) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self._vecs: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, sentences: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(s for s in sentences if s not in self._vecs))
        if missing:
            fresh = self.embedder.embed_passages(missing)
            with self._lock:
                for s, v in zip(missing, fresh):
                    self._vecs[s] = np.asarray(v, dtype=np.float32)
                while len(self._vecs) > self.capacity:
                    self._vecs.popitem(last=False)
        with self._lock:
            out = []
            for s in sentences:
                v = self._vecs.get(s)
                if v is None:  # evicted by a concurrent request between the two steps: embed again
                    v = np.asarray(self.embedder.embed_passages([s])[0], dtype=np.float32)
                else:
                    self._vecs.move_to_end(s)
                out.append(v)
        return np.stack(out) if out else np.zeros((0, 0), dtype=np.float32)

    def similarity(self, question_vec: np.ndarray, sentences: list[str]) -> np.ndarray:
        """(n,) cosines (the embedder's vectors are L2-normalised)."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        return self.vectors(sentences) @ np.asarray(question_vec, dtype=np.float32)
