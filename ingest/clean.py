"""Remove page chrome from a document body (``ingest.chrome``) and keep what it says as metadata.

The body keeps its original characters; only whole junk lines are dropped.  Normalisation
(NFKC, whitespace) is a separate function used for matching and indexing only.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .chrome import is_chrome, is_nav_item, site_header

# Labels of the 政务公开 information tables and "来源/发布时间" lines.
FIELD_LABELS = (
    "索引号", "主题分类", "体裁分类", "组配分类", "服务对象", "来源", "信息来源", "发文机构", "发布机构",
    "发文字号", "文号", "发文日期", "成文日期", "有效性", "发布日期", "发布时间", "内容概述", "废止日期",
    "关键词", "主题词", "作者", "浏览次数", "点击数", "访问量", "生效日期", "时效",
    "文章来源", "来源单位", "发文机关", "发布单位", "责任编辑", "编辑", "阅读次数", "浏览量", "信息提供",
)
_LABEL_RE = "|".join(sorted(FIELD_LABELS, key=len, reverse=True))
_BULLET = r"[•·●◆▪■□\-\*]"
# "  • 索引号:" optionally followed by a value on the same line
_BULLET_FIELD = re.compile(rf"^(?P<indent>\s*){_BULLET}\s*(?P<label>{_LABEL_RE})\s*[:：]\s*(?P<value>.*)$")
# "索引号: | 0058… | 发布机构: | 市政府办公室 |"
# (an empty cell is an empty value: the next cell's label is never taken as the value)
_PIPE_FIELD = re.compile(
    rf"(?P<label>{_LABEL_RE})\s*[:：]\s*\|?\s*(?P<value>(?:(?!(?:{_LABEL_RE})\s*[:：])[^|\s][^|]*?)?)\s*(?=\||$)")
# "来源：xx  发布时间：2020-01-09" (short line made only of fields)
_INLINE_FIELD = re.compile(rf"(?P<label>{_LABEL_RE})\s*[:：]\s*(?P<value>.*?)(?=\s+(?:{_LABEL_RE})\s*[:：]|$)")
_JUNK_LINE = re.compile(
    r"^\s*(返回顶部|回到顶部|打印本页|打印|关闭窗口|关闭本页|【?打印】?|【?关闭】?|分享到[:：]?.*|"
    r"字号[:：]?\s*\[?\s*大\s*\]?\s*\[?\s*中\s*\]?\s*\[?\s*小\s*\]?.*|当前位置[:：].*|您现在的位置[:：].*|"
    r"上一篇[:：].*|下一篇[:：].*|相关链接.*|扫一扫.*|首页\s*[>›»].*|" + _BULLET + r")\s*$"
)


@dataclass
class Cleaned:
    text: str
    fields: dict[str, str] = field(default_factory=dict)  # label -> value found in junk
    removed_lines: int = 0


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t\u3000"))


def _is_field_line(line: str) -> bool:
    return bool(_BULLET_FIELD.match(line))


def _field_value(value: str) -> str:
    """A field's value without the page buttons that follow it on the line (【打印】, [关闭], 字体: 大 中 小)."""
    value = re.split(r"\s*[【\[]|\s+(?:字体|字号|分享到|打印|关闭)", value.strip())[0]
    return value.strip(" |｜")


def _keep_first(fields: dict[str, str], pairs: list[tuple[str, str]]) -> None:
    """Record label -> value; the first non-empty value of a label wins."""
    for label, value in pairs:
        value = _field_value(value)
        if value and label not in fields:
            fields[label] = value


MIN_MENU_RUN = 3  # this many single menu labels on consecutive lines are a flattened menu


def _menu_runs(lines: list[str]) -> set[int]:
    """Indices of lines inside runs of single menu labels (blank lines between them allowed)."""
    out: set[int] = set()
    run: list[int] = []
    for i, line in enumerate(lines + [" \x00"]):
        if not line.strip():
            continue
        if is_nav_item(line):
            run.append(i)
            continue
        if len(run) >= MIN_MENU_RUN:
            out.update(run)
        run = []
    return out


def clean_text(text: str) -> Cleaned:
    lines = text.split("\n")
    kept: list[str] = []
    fields: dict[str, str] = {}
    removed = 0
    menus = _menu_runs(lines)
    i = 0
    while i < len(lines):
        line = lines[i]
        if i in menus:
            removed += 1
            i += 1
            continue
        m = _BULLET_FIELD.match(line)
        if m:
            label, value = m.group("label"), m.group("value").strip()
            removed += 1
            j = i + 1
            if not value:
                # value on the following, deeper-indented lines (web menus flattened to text)
                while j < len(lines):
                    nxt = lines[j]
                    if not nxt.strip():
                        j += 1
                        continue
                    if _is_field_line(nxt) or _indent(nxt) <= _indent(line):
                        break
                    value = (value + " " + nxt.strip()).strip()
                    removed += 1
                    j += 1
            if value and label not in fields:
                fields[label] = value
            i = j
            continue
        stripped = line.strip()
        if "|" in stripped and re.search(rf"({_LABEL_RE})\s*[:：]", stripped):
            pairs = [(pm.group("label"), pm.group("value").strip()) for pm in _PIPE_FIELD.finditer(stripped)]
            if pairs:
                _keep_first(fields, pairs)
                removed += 1
                i += 1
                continue
        if stripped and len(stripped) <= 120 and re.match(rf"^({_LABEL_RE})\s*[:：]", stripped):
            pairs = [(pm.group("label"), pm.group("value").strip()) for pm in _INLINE_FIELD.finditer(stripped)]
            # only a line made of metadata fields, not a sentence that starts with 来源: …。
            if pairs and not re.search(r"[。；;！？]$", stripped):
                _keep_first(fields, pairs)
                removed += 1
                i += 1
                continue
        if _JUNK_LINE.match(line) or is_chrome(line):
            removed += 1
            i += 1
            continue
        kept.append(line)
        i += 1
    header = site_header(kept)
    if header is not None:  # the site's banner: who publishes the page, not text of the document
        fields.setdefault("网站名称", kept[header].strip().lstrip("#").strip())
        del kept[header]
        removed += 1
    # collapse the blank runs left behind and trim
    out: list[str] = []
    blank = 0
    for line in kept:
        if line.strip():
            blank = 0
            out.append(line)
        else:
            blank += 1
            if blank <= 1 and out:
                out.append("")
    while out and not out[-1].strip():
        out.pop()
    return Cleaned(text="\n".join(out), fields=fields, removed_lines=removed)


_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """For matching and indexing only: NFKC (full-/half-width), whitespace removed."""
    return _WS.sub("", unicodedata.normalize("NFKC", text))


def normalize_keep_space(text: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip()
