"""BM25 over jieba tokens (bm25s), kept in step with the committed chunks.

The tokens of every chunk are stored with the chunk in SQLite at commit time, so the index is
rebuilt from committed state only (never from a half-written ingest), and persisted next to it
stamped with the generation it was built from.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np

logging.getLogger("bm25s").setLevel(logging.WARNING)


class BM25Index:
    def __init__(self, generation: int, ids: list[str], token_lists: list[list[str]]):
        import bm25s

        self.generation = generation
        self.ids = ids
        self._vocab: dict[str, int] = {}
        corpus_ids = []
        for toks in token_lists:
            row = []
            for t in toks:
                idx = self._vocab.get(t)
                if idx is None:
                    idx = self._vocab[t] = len(self._vocab)
                row.append(idx)
            corpus_ids.append(row)
        self._bm25 = bm25s.BM25(k1=1.2, b=0.75)
        if ids:
            tokenized = bm25s.tokenization.Tokenized(ids=corpus_ids, vocab=self._vocab)
            self._bm25.index(tokenized, show_progress=False)

    def __len__(self) -> int:
        return len(self.ids)

    def doc_freqs(self) -> dict[str, int]:
        """How many chunks each token occurs in, read off the index (column sizes of its CSC score
        matrix: one stored score per chunk containing the token), so nothing re-reads the tokens."""
        if not self.ids:
            return {}
        counts = np.diff(np.asarray(self._bm25.scores["indptr"]))
        return {t: int(counts[i]) for t, i in self._bm25.vocab_dict.items() if i < len(counts) and counts[i]}

    def scores(self, tokens: list[str]) -> np.ndarray:
        known = [t for t in tokens if t in self._vocab]
        if not self.ids or not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def search(self, tokens: list[str], k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (row, score) with score > 0; rows outside ``mask`` are never returned."""
        s = self.scores(tokens)
        if mask is not None:
            s = np.where(mask, s, 0.0)
        if not len(s):
            return []
        k = min(k, len(s))
        top = np.argpartition(-s, k - 1)[:k]
        top = top[np.argsort(-s[top], kind="stable")]
        return [(int(i), float(s[i])) for i in top if s[i] > 0]

    # persistence: bm25s' own format plus our id list and vocabulary
    def save(self, folder: Path) -> None:
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.ids:
            self._bm25.save(str(tmp / "index"))
        (tmp / "meta.json").write_text(json.dumps(
            {"generation": self.generation, "ids": self.ids, "vocab": self._vocab}, ensure_ascii=False),
            encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)

    @classmethod
    def load(cls, folder: Path, generation: int) -> "BM25Index | None":
        """The saved index if it was built from ``generation``, else None."""
        import bm25s

        meta_path = folder / "meta.json"
        if not meta_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("generation") != generation:
                return None
            obj = cls.__new__(cls)
            obj.generation = generation
            obj.ids = meta["ids"]
            obj._vocab = meta["vocab"]
            obj._bm25 = bm25s.BM25.load(str(folder / "index")) if obj.ids else bm25s.BM25()
            return obj
        except (OSError, ValueError, KeyError):
            return None
