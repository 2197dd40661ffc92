"""Plain-text decoding shared by the loaders: UTF-8, UTF-16 (BOM) or GB18030, nothing guessed beyond that."""
from __future__ import annotations

import re

from .records import IngestError


def decode_text(data: bytes) -> str:
    """Decode UTF-8 / UTF-16 (BOM) / GB18030 text; refuse what is none of them."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise IngestError(f"UTF-16 text is damaged near byte {exc.start}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"unrecognised text encoding (not UTF-8, UTF-16 or GB18030; bad byte at {exc.start})"
        ) from exc
    # GB18030 decodes almost any byte string; require that the result looks like text.
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    odd = sum(1 for ch in text if ("\u0080" <= ch <= "\u2fff" and not ch.isspace()) or "\ue000" <= ch <= "\uf8ff")
    if cjk == 0 or odd > cjk * 0.2:
        raise IngestError("unrecognised text encoding (mixed or binary content)")
    # part UTF-8, part GB18030 decodes "cleanly" as GB18030 mojibake; a run of real UTF-8 Chinese
    # (never produced by chance from GB18030 bytes) gives it away
    if re.search(r"[\u4e00-\u9fff]{6,}", data.decode("utf-8", errors="replace")):
        raise IngestError("mixed text encodings (part UTF-8, part GB18030): save the file in one encoding")
    return text
