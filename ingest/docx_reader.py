"""Word .docx files (python-docx): paragraphs with their heading styles, table rows, the core title."""
from __future__ import annotations

import io
import re
import zipfile

from .records import IngestError, Loaded


_PLACEHOLDER_TITLES = {"untitled", "无标题", "anonymous", "document", "untitled document", "(anonymous)",
                       "word document", "microsoft word document", "文档", "新建文档", "wps文字"}


def title_hint(title: str) -> str:
    """The metadata title unless it is a tool's placeholder ("untitled", "Microsoft Word - x.doc")."""
    title = re.sub(r"^Microsoft Word\s*-\s*", "", title.strip())
    title = re.sub(r"\.(docx?|wps|pdf)$", "", title, flags=re.I).strip()
    return "" if title.lower() in _PLACEHOLDER_TITLES else title


def load_docx(data: bytes) -> Loaded:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if "word/document.xml" not in zf.namelist():
                raise IngestError("not a Word document (.docx zip without word/document.xml)")
    except zipfile.BadZipFile as exc:
        raise IngestError("not a Word document (file is not a .docx zip)") from exc
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds on malformed parts
        raise IngestError(f"damaged Word document: {exc}") from exc
    lines: list[str] = []
    headings: dict[str, int] = {}
    for para in document.paragraphs:
        line = para.text
        style = (para.style.name if para.style is not None else "") or ""
        if line.strip() and (style.lower().startswith(("heading", "title")) or style.startswith("标题")):
            # "Title" -> 0, "Heading 2" / "标题 2" -> 2
            m = re.search(r"(\d)\s*$", style)
            level = min(int(m.group(1)), 4) if m else (0 if style.lower().startswith("title") or style == "标题" else 1)
            headings.setdefault(line.strip(), level)
        lines.append(line)
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells]
            lines.append(" | ".join(c for c in cells if c))
    title = title_hint(document.core_properties.title or "")
    text = "\n".join(lines)
    return Loaded(text=text, fmt="docx", heading_lines=headings, title_hint=title)
