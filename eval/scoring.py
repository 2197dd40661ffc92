"""Scoring rules of the evaluation format (see the questions file's README)."""
from __future__ import annotations

import json
import math
import re
import unicodedata
from pathlib import Path


def norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def load_questions(path: str | Path) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                q = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{n}: not valid JSON ({exc.msg})")
            if "question" not in q:
                raise SystemExit(f"{path}:{n}: missing 'question'")
            q.setdefault("id", f"line{n}")
            q.setdefault("type", "unknown")
            q.setdefault("mode", "ask")
            q.setdefault("gold", [])
            q.setdefault("gold_mode", "all")
            q.setdefault("must_include", [])
            q.setdefault("expect_refusal", False)
            out.append(q)
    return out


def hits_gold(chunk_doc: str, chunk_text_with_heading: str, gold: dict) -> bool:
    if chunk_doc != gold["doc"]:
        return False
    ev = norm(gold["evidence"])
    text = norm(chunk_text_with_heading)
    if not ev:
        return False
    need = min(len(ev), max(8, math.ceil(len(ev) / 2)))
    return any(ev[i: i + need] in text for i in range(0, len(ev) - need + 1))


def retrieval_scores(q: dict, ranked: list[tuple[str, str]]) -> dict | None:
    """ranked: (doc id, heading path + text) in presentation order. None when no gold."""
    gold = q.get("gold") or []
    if not gold:
        return None
    first_hit = None
    hit_at: list[int | None] = []
    for g in gold:
        pos = next((i + 1 for i, (d, t) in enumerate(ranked) if hits_gold(d, t, g)), None)
        hit_at.append(pos)
    for i, (d, t) in enumerate(ranked):
        if any(hits_gold(d, t, g) for g in gold):
            first_hit = i + 1
            break
    out = {}
    for k in (1, 5, 10):
        found = [p is not None and p <= k for p in hit_at]
        if q.get("gold_mode") == "any":
            out[f"recall@{k}"] = 1.0 if any(found) else 0.0
        else:
            out[f"recall@{k}"] = sum(found) / len(found)
    out["mrr"] = 1.0 / first_hit if first_hit else 0.0
    return out


def answer_correct(q: dict, answer_text: str) -> bool | None:
    must = q.get("must_include") or []
    if not must:
        return None
    t = norm(answer_text)
    return all(norm(m) in t for m in must)


def average(rows: list[dict], keys: tuple[str, ...]) -> dict:
    return {k: (round(sum(r[k] for r in rows) / len(rows), 4) if rows else None) for k in keys}
