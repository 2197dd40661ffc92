"""What each retriever made of one passage of a search: the record the 检索测试 page shows.

``Retriever.search`` fills one ``RetrievalTrace`` per hit while it ranks (nothing is recomputed for it):
the passage's rank and score in the BM25 list and in the dense list (1-based, ``None`` when that retriever
did not return it within its pool), its place after reciprocal-rank fusion (with the document prior and
the sub-question fusion applied), and — when the sentence-level reranker ran — the reranker's passage
score and the final blended score that decides ``Hit.rank``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class RetrievalTrace:
    bm25_rank: int | None = None
    bm25_score: float | None = None  # BM25 (jieba tokens, Okapi) of the question against the passage
    dense_rank: int | None = None
    dense_score: float | None = None  # cosine similarity of the question and passage embeddings
    fused_rank: int | None = None  # place after reciprocal-rank fusion (+ document prior, sub-questions)
    fused_score: float | None = None  # the RRF sum
    rerank_score: float | None = None  # the sentence-level lexical reranker's passage score
    final_score: float | None = None  # what orders the hits (= fused_score when the reranker is off)

    def to_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}
