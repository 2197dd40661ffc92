"""Word 97 ``.doc`` and Kingsoft ``.wps``: converted by LibreOffice headless, ``antiword`` as the light fallback.

A ``.wps`` saved by WPS Office is a Word-97-compatible OLE file (or, from newer versions, a .docx zip);
both are read as such.  Plain functions on bytes: a worker process can call them.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from .docx_reader import load_docx
from .records import IngestError, Loaded

CONVERT_TIMEOUT_S = 120  # longest a LibreOffice conversion may take before the file is given up
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_WORD_STREAM = "WordDocument".encode("utf-16-le")

_profile_lock = threading.Lock()  # one LibreOffice instance per profile at a time
_profile_dir: str | None = None


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def antiword_path() -> str | None:
    return shutil.which("antiword")


def sniff(data: bytes) -> str:
    """The container: "ole-word" (Word 97 binary), "ole" (another OLE file), "zip" (OOXML) or "unknown"."""
    if data.startswith(OLE_MAGIC):
        return "ole-word" if _WORD_STREAM in data else "ole"
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    return "unknown"


def _profile() -> str:
    """A LibreOffice user profile private to this process (never the user's own), made once."""
    global _profile_dir
    if _profile_dir is None:
        _profile_dir = tempfile.mkdtemp(prefix=f"fazhi-lo-{os.getpid()}-")
    return _profile_dir


def convert_with_soffice(data: bytes, suffix: str, target: str = "docx") -> bytes:
    """The file converted by ``soffice --headless --convert-to``; raises IngestError on failure."""
    exe = soffice_path()
    if not exe:
        raise IngestError("LibreOffice (soffice) is not installed")
    with tempfile.TemporaryDirectory(prefix="fazhi-convert-") as tmp:
        src = Path(tmp) / f"input{suffix}"
        src.write_bytes(data)
        out = Path(tmp) / "out"
        with _profile_lock:
            cmd = [exe, f"-env:UserInstallation=file://{_profile()}", "--headless", "--norestore", "--nologo",
                   "--nodefault", "--nolockcheck", "--convert-to", target, "--outdir", str(out), str(src)]
            try:
                proc = subprocess.run(cmd, capture_output=True, timeout=CONVERT_TIMEOUT_S,
                                      env={**os.environ, "HOME": tmp})
            except subprocess.TimeoutExpired as exc:
                raise IngestError(f"LibreOffice did not finish converting the file within {CONVERT_TIMEOUT_S} s "
                                  "(damaged or password-protected?)") from exc
        produced = out / f"input.{target.split(':')[0]}"
        if proc.returncode != 0 or not produced.is_file() or produced.stat().st_size == 0:
            detail = (proc.stderr or proc.stdout or b"").decode("utf-8", "replace").strip().splitlines()
            raise IngestError("LibreOffice could not read the file (damaged, password-protected or not a Word "
                              f"document){': ' + detail[-1][:200] if detail else ''}")
        return produced.read_bytes()


def text_with_antiword(data: bytes) -> str:
    exe = antiword_path()
    if not exe:
        raise IngestError("antiword is not installed")
    with tempfile.TemporaryDirectory(prefix="fazhi-antiword-") as tmp:
        src = Path(tmp) / "input.doc"
        src.write_bytes(data)
        try:
            # -w 0: one line per paragraph (no re-wrapping); UTF-8 output
            proc = subprocess.run([exe, "-m", "UTF-8.txt", "-w", "0", str(src)], capture_output=True,
                                  timeout=CONVERT_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise IngestError("antiword did not finish") from exc
    err = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0 or not proc.stdout.strip():
        if "encrypt" in err.lower():
            raise IngestError("encrypted Word document: remove the password and try again")
        raise IngestError(f"antiword could not read the file (damaged or not a Word 97 document){': ' + err[:200] if err else ''}")
    return proc.stdout.decode("utf-8", "replace")


def load_word_binary(data: bytes, suffix: str):
    """A .doc / .wps file as a ``Loaded``: LibreOffice -> .docx (keeps heading styles), else antiword -> text."""
    fmt = suffix.lstrip(".").lower() or "doc"
    kind = sniff(data)
    if kind == "zip":  # a .docx under another name (newer WPS Office saves so)
        loaded = load_docx(data)
        loaded.fmt = fmt
        return loaded
    if kind == "unknown":
        raise IngestError(f"not a Word or WPS document (.{fmt} file without the OLE/Word 97 signature: "
                          "damaged, or another format renamed)")
    problems: list[str] = []
    if soffice_path():
        try:
            # an OLE Word stream is converted as .doc whatever its name (LibreOffice guesses .wps as MS Works)
            loaded = load_docx(convert_with_soffice(data, ".doc" if kind == "ole-word" else suffix))
            loaded.fmt = fmt
            if loaded.text.strip():
                return loaded
            problems.append("LibreOffice found no text")
        except IngestError as exc:
            problems.append(str(exc))
    if kind == "ole-word" and antiword_path():
        try:
            text = text_with_antiword(data).replace("\r\n", "\n").replace("\r", "\n")
            return Loaded(text=text, fmt=fmt)
        except IngestError as exc:
            problems.append(str(exc))
    if not problems:
        raise IngestError(f"cannot read .{fmt} files here: neither LibreOffice (Debian package "
                          "libreoffice-writer-nogui) nor antiword is installed")
    if any("encrypted" in p for p in problems):
        raise IngestError("encrypted Word document: remove the password and try again")
    raise IngestError(f"cannot read this .{fmt} file: " + "; ".join(dict.fromkeys(problems)))
