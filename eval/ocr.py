"""`python -m eval ocr`: seconds per page and character accuracy (1 − CER) of the offline OCR of scanned PDFs.

Pages are rendered here from corpus texts (a CJK font at 150–200 dpi, slight rotation, scanner noise,
image-only PDF, as ``tests/fixtures_docs.py`` also uses them), then read back through the product's own
path: PDFium renders each page at ``ingest.ocr.OCR_DPI``, RapidOCR reads it, ``ingest.layout`` rebuilds
lines and paragraphs.  Accuracy compares the OCR text with the rendered text (NFKC, whitespace ignored).
"""
from __future__ import annotations

import io
import json
import random
import statistics
import sys
import time
import unicodedata
from pathlib import Path

FONT_PATHS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def cjk_font_path() -> str | None:
    return next((p for p in FONT_PATHS if Path(p).is_file()), None)


def _wrap(text: str, width: float, indent: int, measure=len) -> list[str]:
    """Lines of at most ``width`` (characters, or pixels with a font's ``measure``), first line indented."""
    lines, line = [], "\u3000" * indent
    for ch in text:
        if measure(line + ch) > width:
            lines.append(line)
            line = ""
        line += ch
    if line.strip():
        lines.append(line)
    return lines


def render_pages(title: str, paragraphs: list[str], dpi: int = 180, seed: int = 0, font_pt: float = 15,
                 max_pages: int | None = None) -> list[tuple[object, str]]:
    """A4 page images of a document (title centred, paragraphs indented two characters, page number at the
    foot), each slightly rotated with scanner noise; returns (image, text drawn on that page)."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    rng = random.Random(seed)
    w, h = int(8.27 * dpi), int(11.69 * dpi)
    px = int(font_pt / 72 * dpi)
    font = ImageFont.truetype(cjk_font_path(), px)
    margin = int(0.9 * dpi)
    step = int(px * 1.7)
    rows: list[tuple[str, bool]] = [(title, True)]
    for para in paragraphs:
        rows += [(ln, False) for ln in _wrap(para, w - 2 * margin, 2, font.getlength)]
    pages: list[tuple[object, str]] = []
    i = 0
    number = 1
    while i < len(rows) and (max_pages is None or len(pages) < max_pages):
        img = Image.new("L", (w, h), 255)
        draw = ImageDraw.Draw(img)
        y = margin
        drawn: list[str] = []
        while i < len(rows) and y + step < h - margin - step:
            text, centred = rows[i]
            x = (w - int(font.getlength(text))) // 2 if centred else margin
            draw.text((x, y), text, font=font, fill=rng.randint(0, 40))
            drawn.append((text, centred))
            y += step + (step // 2 if centred else 0)
            i += 1
        foot = f"- {number} -"
        draw.text(((w - len(foot) * px // 2) // 2, h - margin), foot, font=font, fill=30)
        img = img.rotate(rng.uniform(-1.0, 1.0), resample=Image.BICUBIC, fillcolor=255)
        noise = Image.effect_noise((w, h), 18)
        img = Image.blend(img, noise, 0.12).filter(ImageFilter.GaussianBlur(0.4))
        draw = ImageDraw.Draw(img)
        for _ in range(300):  # dust specks
            cx, cy = rng.randrange(w), rng.randrange(h)
            draw.point((cx, cy), fill=rng.randint(60, 160))
        truth = "\n".join(t.replace("\u3000", "") for t, _ in drawn) + "\n" + foot
        pages.append((img, truth))
        number += 1
    return pages


def images_to_pdf(images: list, dpi: int = 180) -> bytes:
    """An image-only PDF (no text layer), one JPEG page per image, as a scanner writes it."""
    buf = io.BytesIO()
    rgb = [im.convert("L") for im in images]
    rgb[0].save(buf, "PDF", resolution=dpi, save_all=True, append_images=rgb[1:], quality=80)
    return buf.getvalue()


def _norm(s: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", s) if not ch.isspace())


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def default_corpus() -> Path:
    here = Path(__file__).resolve().parents[1]
    for p in (Path("/work/shared/corpus"), here.parent / "shared" / "corpus", here / "corpus"):
        if p.is_dir():
            return p
    return here / "corpus"


def document_texts(corpus: Path) -> list[tuple[str, list[str]]]:
    """(title, paragraphs) of every corpus text, reports first (the lines as they stand)."""
    out = []
    for path in sorted(corpus.rglob("*.txt"), key=lambda p: (not p.parent.name.startswith("report"), p.name)):
        from ingest.clean import clean_text

        text = clean_text(path.read_text(encoding="utf-8")).text  # a printed page carries no web chrome
        lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
        lines = [ln for ln in lines if len(ln) > 1]
        if len(lines) > 3:
            out.append((lines[0][:40], lines[1:]))
    return out


def run(corpus: Path, pages: int, dpi_values: list[int], progress: bool = True) -> dict:
    from ingest.ocr import OCR_DPI, OCR_MAX_SIDE, engine, ocr_image, render_pdf_pages

    t0 = time.perf_counter()
    engine()
    load_s = time.perf_counter() - t0
    docs = document_texts(corpus)
    rows = []
    k = 0
    while len(rows) < pages and docs:
        title, paras = docs[k % len(docs)]
        dpi = dpi_values[k % len(dpi_values)]
        image, truth = render_pages(title, paras, dpi=dpi, seed=k, max_pages=1)[0]
        pdf = images_to_pdf([image], dpi)
        start, cpu = time.perf_counter(), time.process_time()
        (page_image,) = list(render_pdf_pages(pdf, [0]))
        text = ocr_image(page_image)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        a, b = _norm(text), _norm(truth)
        dist = edit_distance(a, b)
        rows.append({"page": len(rows) + 1, "title": title, "scan_dpi": dpi, "seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2),
                     "chars": len(b), "edits": dist, "accuracy": round(1 - dist / max(len(b), 1), 4)})
        if progress:
            print(f"page {len(rows)}/{pages}: {seconds:.1f} s, accuracy {rows[-1]['accuracy']:.4f} "
                  f"({len(b)} chars, {dpi} dpi)", file=sys.stderr)
        k += 1
    secs = [r["seconds"] for r in rows]
    chars = sum(r["chars"] for r in rows)
    edits = sum(r["edits"] for r in rows)
    return {"pages": len(rows), "ocr_dpi": OCR_DPI, "max_side": OCR_MAX_SIDE, "model_load_s": round(load_s, 2),
            "median_s_per_page": round(statistics.median(secs), 2),
            "median_cpu_s_per_page": round(statistics.median(r["cpu_seconds"] for r in rows), 2), "pages_per_s": round(1 / statistics.median(secs), 3),
            "accuracy": round(1 - edits / max(chars, 1), 4), "median_page_accuracy": statistics.median(r["accuracy"] for r in rows),
            "chars": chars, "rows": rows}


def main(args) -> int:
    if cjk_font_path() is None:
        print("error: no CJK font (Debian fonts-wqy-microhei) to render pages", file=sys.stderr)
        return 2
    result = run(args.corpus or default_corpus(), args.pages, args.dpi, progress=not args.json)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "ocr.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(f"{result['pages']} pages: median {result['median_s_per_page']} s/page ({result['pages_per_s']} pages/s), "
          f"CPU {result['median_cpu_s_per_page']} s/page, "
          f"character accuracy {result['accuracy']:.4f} (1 − CER over {result['chars']} chars), "
          f"model load {result['model_load_s']} s")
    print("| page | document | scan dpi | chars | s | CPU s | accuracy |")
    print("|---|---|---|---|---|---|---|")
    for r in result["rows"]:
        print(f"| {r['page']} | {r['title'][:24]} | {r['scan_dpi']} | {r['chars']} | {r['seconds']} | {r['cpu_seconds']} | {r['accuracy']:.4f} |")
    return 0
