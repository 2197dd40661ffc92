"""Peak memory of concurrent hostile reviews: ``python -m eval.review_memory [--kb PATH] [--corpus corpus]``.

Three users post ``POST /api/review`` at once with a small .docx that expands hugely (a comment of spaces in
word/document.xml: ``--unpacked-mb`` MB unpacked from about a thousandth of that zipped). The server runs in this
process; its resident memory plus that of every child process (the parsing workers) is sampled every 20 ms
from /proc (Linux). Reports the baseline, the peak and each answer's status.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import threading
import time
import zipfile
from pathlib import Path


CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="word/document.xml"/></Relationships>')


def hostile_docx(unpacked_mb: int, text_paragraphs: int = 0) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", RELS)
        with zf.open("word/document.xml", "w", force_zip64=True) as fh:
            fh.write(b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                     b'wordprocessingml/2006/main"><w:body><!--')
            for _ in range(unpacked_mb):
                fh.write(b" " * 2**20)
            fh.write(b"-->" + "<w:p><w:r><w:t>我局全年办理行政复议案件12件。</w:t></w:r></w:p>".encode() * text_paragraphs
                     + b"</w:body></w:document>")
    return buf.getvalue()


def _rss_tree(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
    return total


def measure(base_url: str, payloads: list[tuple[str, bytes]]) -> dict:
    from .load import request

    peak = {"rss": _rss_tree(os.getpid())}
    baseline = peak["rss"]
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            peak["rss"] = max(peak["rss"], _rss_tree(os.getpid()))
            time.sleep(0.02)

    results: list[dict] = []

    def post(name: str, data: bytes):
        import urllib.request
        import uuid

        boundary = uuid.uuid4().hex
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        req = urllib.request.Request(base_url + "/api/review", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        t = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=900) as r:
                status, text = r.status, r.read()[:300]
        except Exception as exc:  # noqa: BLE001 - HTTPError carries the refusal
            status, text = getattr(exc, "code", 0), (exc.read()[:300] if hasattr(exc, "read") else str(exc).encode())
        results.append({"file": name, "status": status, "seconds": round(time.monotonic() - t, 1),
                        "detail": text.decode("utf-8", "replace")})

    s = threading.Thread(target=sampler, daemon=True)
    s.start()
    threads = [threading.Thread(target=post, args=p) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    s.join()
    request(base_url + "/api/health")
    return {"baseline_mb": round(baseline / 2**20), "peak_mb": round(peak["rss"] / 2**20),
            "growth_mb": round((peak["rss"] - baseline) / 2**20), "results": results}


def main(argv: list[str] | None = None) -> int:
    from assistant.delivery.commands import build_corpus, corpus_to_build
    from assistant.service import Assistant
    from assistant.settings import Settings, default_corpus_paths

    from .load import serve

    p = argparse.ArgumentParser(prog="python -m eval.review_memory", description=__doc__.split("\n\n")[0])
    p.add_argument("--kb", type=Path)
    p.add_argument("--corpus", type=Path, default=(default_corpus_paths() or [Path("corpus")])[0])
    p.add_argument("--unpacked-mb", type=int, nargs="+", default=[1500, 99],
                   help="one run of three concurrent reviews per size (default: the issue's 1.5 GB, and one just under "
                        "the unpacked limit, which is parsed)")
    p.add_argument("--paragraphs", type=int, default=1_300_000,
                   help="also: a .docx of this many short paragraphs (97 MB of XML, 22 M characters; 0: skip)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    assistant = Assistant(Settings().with_overrides(kb=args.kb))
    folders = corpus_to_build(assistant, [args.corpus])
    if folders:
        build_corpus(assistant, folders)
    runs = []
    with serve(assistant, app="api") as base:
        cases = [(mb, 0) for mb in args.unpacked_mb] + ([(0, args.paragraphs)] if args.paragraphs else [])
        for mb, paragraphs in cases:
            data = hostile_docx(mb, paragraphs)
            out = measure(base, [(f"hostile-{mb}-{i}.docx", data) for i in range(3)])
            out.update(unpacked_mb=mb, paragraphs=paragraphs, file_mb=round(len(data) / 2**20, 2))
            runs.append(out)
            if not args.json:
                what = f"{paragraphs:,} paragraphs" if paragraphs else f"unpacking to {mb} MB"
                print(f"3 concurrent reviews of a {out['file_mb']} MB .docx {what}: peak {out['peak_mb']} MB "
                      f"(baseline {out['baseline_mb']} MB, +{out['growth_mb']} MB); answers "
                      + ", ".join(f"{r['status']} in {r['seconds']} s" for r in out["results"]))
                print("   ", out["results"][0]["detail"][:200])
    if args.json:
        print(json.dumps(runs, ensure_ascii=False, indent=2))
    return 0 if all(r["peak_mb"] < 1024 for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
