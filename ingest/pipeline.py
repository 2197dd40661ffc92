"""Files -> (Document, chunks): discovery, hashing, loading, cleaning, metadata, chunking.

Pure: nothing here writes to the knowledge base; the store commits what this prepares.
"""
from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .chunking import chunk_document
from .clean import clean_text
from .limits import DEFAULT_LIMITS, Limits, check_docx_text, check_unpacked, text_too_long, too_many_chunks
from .loaders import SUPPORTED_SUFFIXES, Progress, load_bytes
from .metadata import MANIFEST_NAME, Meta, apply_manifest, extract, read_manifest
from .records import Chunk, Document, IngestError

DEFAULT_MAX_BYTES = 50 * 2**20
# Bump when loading, cleaning, metadata or chunking changes what a file becomes: stored documents
# made by an older pipeline are then re-processed (unchanged chunk texts reuse their cached vectors).
PIPELINE_VERSION = "2026-12-03.1"  # general chrome filter, trafilatura, OCR, .doc/.wps/.ofd, issuer/year


@dataclass
class Candidate:
    path: Path
    root: Path  # doc id is the path relative to this folder

    @property
    def doc_id(self) -> str:
        return self.path.relative_to(self.root).as_posix()


@dataclass
class Prepared:
    document: Document
    chunks: list[Chunk]
    ocr_pages: int = 0  # pages of the file read by OCR


def discover(paths: list[Path]) -> tuple[list[Candidate], list[tuple[Path, str]]]:
    """Supported files under the given files/folders (recursive, symlink loops ignored).

    Returns (candidates, problems) where problems are (path, message) for what was skipped.
    """
    found: list[Candidate] = []
    problems: list[tuple[Path, str]] = []
    for given in paths:
        given = Path(given)
        if not given.exists():
            problems.append((given, "no such file or folder"))
            continue
        if given.is_file():
            if given.suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(Candidate(given.absolute(), given.absolute().parent))
            else:
                problems.append((given, f"unsupported file type {given.suffix or '(none)'}"))
            continue
        root = given.absolute()
        seen_dirs: set[tuple[int, int]] = set()

        def unreadable(err: OSError) -> None:
            problems.append((Path(err.filename or root), f"cannot read folder: {err.strerror or err}"))

        for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=unreadable):
            st = os.stat(dirpath)
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:  # symlink loop or a folder reached twice
                dirnames[:] = []
                problems.append((Path(dirpath), "folder already visited (symlink loop): skipped"))
                continue
            seen_dirs.add(key)
            dirnames.sort()
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in sorted(filenames):
                if name.startswith(".") or name == MANIFEST_NAME:
                    continue
                p = Path(dirpath) / name
                if p.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.append(Candidate(p, root))
    return found, problems


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint(content_hash: str, manifest_row: dict[str, str] | None = None, overrides: Meta | None = None) -> str:
    """Identity of what a stored document was made from; a change in any part means re-processing."""
    import json

    meta = {k: v for k, v in sorted((manifest_row or {}).items()) if k != "file"}
    extra = {k: v for k, v in sorted(vars(overrides).items()) if v not in ("", None)} if overrides else {}
    payload = json.dumps([PIPELINE_VERSION, content_hash, meta, extra], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ManifestCache:
    """MANIFEST.tsv rows for a file: the nearest manifest in its folder or a parent up to the root."""

    def __init__(self) -> None:
        self._cache: dict[Path, dict[str, dict[str, str]]] = {}

    def row_for(self, cand: Candidate) -> dict[str, str] | None:
        folder = cand.path.parent
        while True:
            if folder not in self._cache:
                self._cache[folder] = read_manifest(folder)
            rows = self._cache[folder]
            rel = cand.path.relative_to(folder).as_posix()
            if rel in rows:
                return rows[rel]
            if folder == cand.root or folder.parent == folder:
                return None
            folder = folder.parent


def _human(n_bytes: float, decimals: int) -> str:
    if n_bytes >= 2**20:
        return f"{n_bytes / 2**20:.{decimals}f} MB"
    return f"{n_bytes / 1024:.{decimals}f} KB"


def too_large(size: int, max_bytes: int) -> str:
    return (f"file too large: {_human(size, 1)} exceeds the {_human(max_bytes, 0)} limit "
            "(FAZHI_MAX_FILE_MB / --max-file-mb)")


def read_candidate(cand: Candidate, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The file's bytes; the size limit is checked on the file's size before anything is read."""
    try:
        size = cand.path.stat().st_size
    except OSError as exc:
        raise IngestError(f"cannot read file: {exc.strerror}") from exc
    if size > max_bytes:
        raise IngestError(too_large(size, max_bytes))
    with cand.path.open("rb") as fh:  # read at most the limit: a file growing meanwhile is still refused
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise IngestError(too_large(len(data), max_bytes))
    return data


_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')


NAME_BYTES = 200  # longest file-name part kept (UTF-8 bytes; file systems allow 255, a Chinese character is 3)


def _short_name(part: str) -> str:
    """A name part within NAME_BYTES: a longer one keeps its start and extension and gets a hash of the whole
    name, so two long names that share a prefix never become the same id."""
    if len(part.encode("utf-8")) <= NAME_BYTES:
        return part
    stem, dot, ext = part.rpartition(".")
    if not dot or len(ext) > 10:
        stem, ext = part, ""
    tail = "-" + hashlib.sha256(part.encode("utf-8")).hexdigest()[:12] + ("." + ext if ext else "")
    room = NAME_BYTES - len(tail.encode("utf-8"))
    cut = stem.encode("utf-8")[:room].decode("utf-8", "ignore")
    return cut + tail


def safe_doc_id(name: str) -> str:
    """A document id from a name a user supplied (an upload's file name): ``/``-separated parts with
    no ``..``/``.``, no leading ``/`` or drive letter, no control or reserved characters.  Spaces and
    Chinese are kept; the result can never point outside the folder it is joined to."""
    name = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/")
    parts = []
    for part in name.split("/"):
        part = _UNSAFE_CHARS.sub("_", part).strip().rstrip(".")
        if part in ("", ".", "..") or re.fullmatch(r"[A-Za-z]_", part) and not parts:
            continue  # empty, dot parts and a leading drive letter ("C:" became "C_")
        part = part.lstrip(".") or "_"  # no hidden names
        parts.append(_short_name(part))
    if not parts:
        raise IngestError(f"invalid file name {name!r}")
    return "/".join(parts)


def prepare(doc_id: str, data: bytes, suffix: str, manifest_row: dict[str, str] | None = None,
            overrides: Meta | None = None, progress: Progress | bool | None = None,
            limits: Limits = DEFAULT_LIMITS) -> Prepared:
    """Turn one file's bytes into a Document and its chunks (raises IngestError).

    ``progress``: a callable ``(pages done, total, pages/s)`` for OCR, or True for a terminal bar.
    ``limits``: the unpacked size, extracted text and chunk count allowed (time and memory are bounded
    by ``ingest.worker.prepare_bounded``, which runs this in a worker process)."""
    check_unpacked(data, limits.max_unpacked_bytes)
    if suffix.lower() == ".docx":
        check_docx_text(data, limits.max_text_chars)
    close = None
    if progress is True:
        from .ocr import terminal_progress

        progress, close = terminal_progress(f"OCR {Path(doc_id).name}")
    try:
        loaded = load_bytes(data, suffix, progress or None)
    finally:
        if close is not None:
            close()
    if len(loaded.text) > limits.max_text_chars:
        raise text_too_long(len(loaded.text), limits.max_text_chars)
    cleaned = clean_text(loaded.text)
    for label, value in loaded.fields.items():  # metadata lines found outside the article (web pages)
        cleaned.fields.setdefault(label, value)
    if not cleaned.text.strip():
        raise IngestError("no body text left after removing navigation and page furniture")
    pages = loaded.pages
    if pages and cleaned.removed_lines:
        pages = _remap_pages(loaded.text, cleaned.text, pages)
    stem = Path(doc_id).stem
    meta = extract(cleaned.text, cleaned.fields, loaded.title_hint, stem)
    meta = apply_manifest(meta, manifest_row)
    if overrides is not None:
        for name, value in vars(overrides).items():
            if value not in ("", None):
                setattr(meta, name, value)
    doc = Document(
        id=doc_id, title=meta.title, text=cleaned.text, content_hash=file_hash(data),
        issuer=meta.issuer, region=meta.region, level=meta.level, year=meta.year,
        doc_number=meta.doc_number, kind=meta.kind or "outline", source_format=loaded.fmt, pages=pages,
    )
    chunks = chunk_document(doc, loaded.heading_lines)
    if not chunks:
        raise IngestError("no text to index")
    if len(chunks) > limits.max_chunks:
        raise too_many_chunks(len(chunks), limits.max_chunks)
    return Prepared(doc, chunks, loaded.ocr_pages)


def extract_text(data: bytes, suffix: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """One file's text, cleaned of page furniture, within the unpacked-size and text limits (IngestError)."""
    check_unpacked(data, limits.max_unpacked_bytes)
    if suffix.lower() == ".docx":
        check_docx_text(data, limits.max_text_chars)
    loaded = load_bytes(data, suffix)
    if len(loaded.text) > limits.max_text_chars:
        raise text_too_long(len(loaded.text), limits.max_text_chars)
    return clean_text(loaded.text).text


def _remap_pages(raw: str, cleaned: str, pages: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Page start offsets after junk-line removal: each page starts at its first line that was kept."""
    out = []
    pos = 0
    bounds = [p[0] for p in pages[1:]] + [len(raw)]
    for (start, number), end in zip(pages, bounds):
        for line in raw[start:end].split("\n"):
            line = line.strip()
            if len(line) < 2:
                continue
            idx = cleaned.find(line, pos)
            if idx >= 0:
                out.append((idx, number))
                pos = idx
                break
    return out or [(0, pages[0][1])]
