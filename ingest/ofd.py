"""OFD (GB/T 33190, the national e-document format): text per page through ``easyofd``'s parser.

easyofd's own entry point (``OFD().read``) writes the file into the current working directory and
unpacks it there; here the package is unpacked in memory into the same file tree its parser reads,
so nothing is written anywhere.  Text objects are ordered by position (``ingest.layout``).
"""
from __future__ import annotations

import base64
import io
import zipfile

from .layout import page_text
from .records import IngestError, Loaded

MAX_UNPACKED_BYTES = 300 * 2**20  # an OFD whose parts unpack to more than this is refused (zip bomb)
_ROOT = "/ofd"


def _file_tree(data: bytes) -> dict:
    import xmltodict

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise IngestError("not an OFD file (not a zip package)") from exc
    with zf:
        names = zf.namelist()
        if not any(n.lower().endswith("ofd.xml") for n in names):
            raise IngestError("not an OFD file (no OFD.xml in the package)")
        if sum(i.file_size for i in zf.infolist()) > MAX_UNPACKED_BYTES:
            raise IngestError("OFD package unpacks to more than 300 MB: refused")
        tree: dict = {}
        for info in zf.infolist():
            if info.is_dir():
                continue
            raw = zf.read(info)
            key = f"{_ROOT}/{info.filename.lstrip('/')}"
            if info.filename.lower().endswith(".xml"):
                tree[key] = xmltodict.parse(raw)
            else:
                tree[key] = base64.b64encode(raw).decode("ascii")
    ofd_xml = next((k for k in tree if k.lower() == f"{_ROOT}/ofd.xml"), "")
    tree["root"] = _ROOT
    tree["pdf_name"] = "document.pdf"
    tree["root_doc"] = ofd_xml
    return tree


def _pieces(page: dict) -> list[tuple[float, float, float, float, str]]:
    out = []
    for cell in page.get("text_list", []):
        text = cell.get("text") or ""
        if text in ("", "None"):
            continue
        try:
            x, y, w, h = (float(v) for v in cell["pos"][:4])
        except (KeyError, ValueError, TypeError):
            continue
        out.append((x, y, x + w, y + h, text))
    return out


def load_ofd(data: bytes):
    import warnings

    try:
        from loguru import logger

        logger.disable("easyofd")  # it logs a warning per font it cannot register, at import
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyMuPDF's "fitz is deprecated", imported by easyofd
            from easyofd.parser_ofd import OFDParser
    except ImportError as exc:
        raise IngestError("cannot read .ofd files here: the easyofd package is not installed "
                          "(install the project's [formats] extra)") from exc
    try:
        tree = _file_tree(data)
    except IngestError:
        raise
    except Exception as exc:  # noqa: BLE001 - malformed XML parts, bad zip members
        raise IngestError(f"damaged OFD file: {type(exc).__name__}: {exc}") from exc
    parser = OFDParser(None)
    parser.file_tree = tree
    import contextlib

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the parser prints its draw parameters
            docs = parser.parser()
    except IngestError:
        raise
    except Exception as exc:  # noqa: BLE001 - easyofd raises anything on a malformed package
        raise IngestError(f"damaged or unsupported OFD file: {type(exc).__name__}: {exc}") from exc
    if not docs:
        raise IngestError("damaged OFD file: no document in the package")
    page_info = docs[0].get("page_info") or {}
    parts: list[str] = []
    pages: list[tuple[int, int]] = []
    offset = 0
    for number, key in enumerate(sorted(page_info), start=1):
        text = page_text(_pieces(page_info[key]))
        pages.append((offset, number))
        parts.append(text)
        offset += len(text) + 1
    text = "\n".join(parts)
    if not text.strip():
        raise IngestError("no text in this OFD file (its pages hold only images: a scan saved as OFD)")
    title = ""
    try:
        ofd_root = tree.get(tree["root_doc"]) or {}
        info = ofd_root.get("ofd:OFD", {}).get("ofd:DocBody", {})
        info = info[0] if isinstance(info, list) else info
        title = str((info.get("ofd:DocInfo") or {}).get("ofd:Title") or "").strip()
    except AttributeError:
        title = ""
    return Loaded(text=text, fmt="ofd", pages=pages, title_hint=title)
