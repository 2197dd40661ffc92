"""Temporary files of the web app removed: page uploads and exports under ``<kb>/web-uploads`` older than
``WEB_FILES_MAX_AGE`` are swept when the app starts and whenever a new export is written, so they never pile up."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

WEB_FILES_MAX_AGE = 3600.0  # seconds an uploaded or exported file is kept (time enough to download it)


def sweep(folder: Path, max_age: float = WEB_FILES_MAX_AGE) -> int:
    """Remove entries of ``folder`` (files and folders) last changed more than ``max_age`` seconds ago."""
    now, n = time.time(), 0
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return 0
    for p in entries:
        try:
            if now - p.lstat().st_mtime <= max_age:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            n += 1
        except OSError:
            continue
    return n


def export_folder(root: Path) -> Path:
    """A new folder for one export under ``root`` (old exports swept first)."""
    root.mkdir(parents=True, exist_ok=True)
    sweep(root)
    return Path(tempfile.mkdtemp(dir=root))
