"""Offline OCR of scanned pages: PP-OCR models shipped inside the ``rapidocr-onnxruntime`` wheel.

Plain functions on bytes and images (a worker process can call them); the engine is loaded once per
process.  Nothing is ever downloaded: the models must be the wheel's own files, checked before use.
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from .layout import page_text
from .records import IngestError

OCR_DPI = 200  # rendering resolution of a scanned PDF page for OCR (PP-OCR reads 150–300 dpi best)
# longest side (pixels) a page image is reduced to before detection: an A4 page at about 140 dpi, where
# 10.5 pt body text is still ~20 px high; larger costs time without changing what is read
OCR_MAX_SIDE = 1600
# a PDF page whose text layer has fewer visible characters than this is treated as a scan
OCR_MIN_PAGE_CHARS = 10
MODEL_FILES = ("ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx", "ch_ppocr_mobile_v2.0_cls_infer.onnx")

# progress(done, total, pages_per_second)
Progress = Callable[[int, int, float], None]

_engine = None
_engine_lock = threading.Lock()
_run_lock = threading.Lock()  # one page at a time per process: onnxruntime already uses every core


class OcrUnavailable(IngestError):
    """The OCR package or its bundled models are missing."""


def model_dir() -> Path:
    try:
        import rapidocr_onnxruntime
    except ImportError as exc:
        raise OcrUnavailable(
            "OCR is not installed (package rapidocr-onnxruntime): cannot read scanned pages; "
            "install the project's [formats] extra") from exc
    return Path(rapidocr_onnxruntime.__file__).parent / "models"


def check_models() -> Path:
    folder = model_dir()
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise OcrUnavailable(f"OCR models missing ({', '.join(missing)} not in {folder}): cannot read scanned "
                             "pages; reinstall rapidocr-onnxruntime (its wheel ships the models)")
    return folder


def engine():
    """The process's OCR engine, built from the wheel's model files given explicitly (never fetched)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            folder = check_models()
            from rapidocr_onnxruntime import RapidOCR

            _engine = RapidOCR(
                det_model_path=str(folder / MODEL_FILES[0]),
                rec_model_path=str(folder / MODEL_FILES[1]),
                cls_model_path=str(folder / MODEL_FILES[2]),
                max_side_len=OCR_MAX_SIDE,
                use_cls=False,  # scans are upright; slight skew is handled by the detector's boxes
            )
        return _engine


def ocr_image(image) -> str:
    """Text of one page image (PIL image or numpy array), in reading order with paragraphs rebuilt."""
    import numpy as np

    arr = np.asarray(image.convert("RGB")) if hasattr(image, "convert") else np.asarray(image)
    eng = engine()
    with _run_lock:
        result, _ = eng(arr)
    pieces = []
    for box, text, _score in result or []:
        xs = [pt[0] for pt in box]
        ys = [pt[1] for pt in box]
        pieces.append((min(xs), min(ys), max(xs), max(ys), text))
    return page_text(pieces)


def render_pdf_pages(data: bytes, indices: list[int], dpi: int = OCR_DPI) -> Iterable:
    """PIL images of the given 0-based pages of a PDF (PDFium renders: no external program)."""
    try:
        import pypdfium2 as pdfium
    except ImportError as exc:
        raise OcrUnavailable("PDF page rendering is not installed (package pypdfium2): cannot read scanned "
                             "pages; install the project's [formats] extra") from exc
    try:
        pdf = pdfium.PdfDocument(data)
    except Exception as exc:  # noqa: BLE001 - PDFium refuses what pypdf half-read
        raise IngestError(f"damaged PDF: cannot render its scanned pages ({exc})") from exc
    try:
        for i in indices:
            page = pdf[i]
            try:
                bitmap = page.render(scale=dpi / 72, grayscale=True)
                yield bitmap.to_pil()
            finally:
                page.close()
    finally:
        pdf.close()


def terminal_progress(desc: str = "OCR") -> tuple[Progress, Callable[[], None]]:
    """A tqdm bar on stderr (pages, pages/s, time left) and the function that closes it."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int, rate: float) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="page", desc=desc, file=sys.stderr, dynamic_ncols=True)
        bar.n = done
        bar.refresh()

    def close() -> None:
        if bar is not None:
            bar.close()

    return update, close


def ocr_pages(images: Iterable, total: int, progress: Progress | None = None) -> list[str]:
    """OCR every image; ``progress(done, total, pages/s)`` after each page."""
    engine()  # fail before rendering anything when OCR cannot run
    texts: list[str] = []
    start = time.perf_counter()
    for image in images:
        texts.append(ocr_image(image))
        if progress is not None:
            elapsed = time.perf_counter() - start
            progress(len(texts), total, len(texts) / elapsed if elapsed > 0 else 0.0)
    return texts
