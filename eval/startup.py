"""First and warm start of `fazhi serve`, as a user meets them.

    python -m eval.startup [--kb PATH] [--corpus DIR] [--port 7861] [--runs 1]

Starts `fazhi serve` on an empty knowledge base (first start: the corpus is built while a notice page
answers), then again on the built one (warm start), each as its own process, and reports for each run:
seconds from process start to the first page answering `GET /` (the notice or the app), to the app
itself answering (`/api/health` ok), and for the first start the build's own duration. Loopback only.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from assistant.settings import default_corpus_paths

ROOT = Path(__file__).resolve().parents[1]


def _status(url: str) -> tuple[int, dict | None]:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            body = r.read()
            status = r.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def one_start(kb: Path, corpus: list[Path], port: int, limit_s: float = 900) -> dict:
    env = dict(os.environ, FAZHI_KB=str(kb), FAZHI_CORPUS=os.pathsep.join(map(str, corpus)),
               FAZHI_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "assistant.delivery.cli", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_page = app = None
    building_seen = False
    try:
        while time.monotonic() - t0 < limit_s and proc.poll() is None:
            try:
                page_status, _ = _status(f"http://127.0.0.1:{port}/")
                if first_page is None and page_status == 200:
                    first_page = time.monotonic() - t0
                status, data = _status(f"http://127.0.0.1:{port}/api/health")
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
                continue
            if data and data.get("status") == "building":
                building_seen = True
            if status == 200 and data and data.get("status") == "ok":
                app = time.monotonic() - t0
                break
            time.sleep(0.2)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {"first_page_s": round(first_page, 1) if first_page else None,
            "app_ready_s": round(app, 1) if app else None, "notice_seen": building_seen}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.startup")
    p.add_argument("--kb", type=Path, default=None, help="knowledge-base folder (default: a new temporary one)")
    p.add_argument("--corpus", type=Path, nargs="+", default=default_corpus_paths() or [ROOT / "corpus"])
    p.add_argument("--port", type=int, default=7861)
    p.add_argument("--runs", type=int, default=1, help="first+warm pairs (medians are reported)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    corpus = [c.resolve() for c in args.corpus]
    firsts, warms = [], []
    for _ in range(args.runs):
        kb = args.kb or Path(tempfile.mkdtemp(prefix="fazhi-startup-"))
        shutil.rmtree(kb, ignore_errors=True)
        firsts.append(one_start(kb, corpus, args.port))
        warms.append(one_start(kb, corpus, args.port))
        if args.kb is None:
            shutil.rmtree(kb, ignore_errors=True)

    def med(rows: list[dict], key: str):
        vals = [r[key] for r in rows if r[key] is not None]
        return round(statistics.median(vals), 1) if vals else None

    out = {"corpus": [str(c) for c in corpus], "runs": args.runs,
           "first_start": {"first_page_s": med(firsts, "first_page_s"), "app_ready_s": med(firsts, "app_ready_s"),
                           "notice_seen": all(r["notice_seen"] for r in firsts)},
           "warm_start": {"first_page_s": med(warms, "first_page_s"), "app_ready_s": med(warms, "app_ready_s")},
           "raw": {"first": firsts, "warm": warms}}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        f, w = out["first_start"], out["warm_start"]
        print(f"corpus: {', '.join(out['corpus'])}  (runs: {args.runs}, medians)")
        print(f"first start: a page after {f['first_page_s']} s (notice seen: {f['notice_seen']}), "
              f"the app after {f['app_ready_s']} s")
        print(f"warm start:  a page after {w['first_page_s']} s, the app after {w['app_ready_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
