"""Values in Chinese text — counts, periods, percentages, money, dates — read as numbers with their unit
(Arabic and Chinese numerals: 十日, 十五日, 百分之五, 3件, 无一起 = 0), for answering and checking by value.

Chinese numerals are converted by ``cn2an``; this module only finds where a value is and what unit
it carries."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_CN = "零〇一二三四五六七八九十百千万两"
_NUM = rf"\d+(?:\.\d+)?|[{_CN}]+(?:点[零一二三四五六七八九]+)?"
UNITS = ("个工作日", "工作日", "个月", "周岁", "小时", "分钟", "人次", "万元", "亿元", "日", "天", "月", "年",
         "件", "项", "名", "人", "个", "宗", "份", "次", "条", "家", "起", "卷", "元", "倍", "部", "场", "批", "例", "所")
_UNIT = "|".join(UNITS)
_QUAL = r"(?:以内|之内|以上|以下|以前|以后|内|前|后)?"
VALUE_RE = re.compile(rf"(?P<num>{_NUM})\s*(?P<scale>万|亿)?\s*(?:余|多)?\s*(?P<unit>{_UNIT})(?P<qual>{_QUAL})")
PERCENT_RE = re.compile(rf"百分之(?P<cn>[{_CN}点\d.]+)|(?P<ar>\d+(?:\.\d+)?)\s*[%％]")
DATE_RE = re.compile(r"(?:19|20)\d{2}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?|\d{1,2}\s*月\s*\d{1,2}\s*日")
# zero/none words: 无一起, 没有一件, 零投诉, 未发生一起
ZERO_RE = re.compile(r"(?:无|没有|未发生|未出现|零)一?(?P<unit>起|件|例|宗|项|个|次|人|名)")
# Chinese numerals that are words, not values: 一是, 统一, 一般, 一律, 一体, 进一步, 一起研究…
_CN_WORD_BEFORE = re.compile(r"[统唯同单逐进之万第初其专合划]$")
_CN_WORD_AFTER = ("是", "般", "律", "体", "致", "些", "直", "定", "旦", "并", "同", "道", "线", "把手", "站式", "网通办")
_CANON = {"天": "日", "工作日": "个工作日", "月": "个月"}
PERIOD_UNITS = frozenset({"日", "个工作日", "个月", "年", "小时", "分钟", "周岁"})
COUNT_UNITS = frozenset({"件", "项", "名", "人", "个", "宗", "份", "次", "条", "家", "起", "卷", "人次", "倍", "部",
                         "场", "批", "例", "所"})
MONEY_UNITS = frozenset({"元", "万元", "亿元"})
# units that count the same things (3件 ≈ 3起 of cases)
_SAME = [frozenset({"件", "起", "宗", "例"}), frozenset({"人", "名"})]


@dataclass(frozen=True)
class Value:
    value: float
    unit: str  # canonical: 日 (also 天), 个工作日, 个月, %, 元 (万元/亿元 scaled), 件, …
    text: str  # as written
    start: int
    end: int
    qualifier: str = ""  # 内 / 以上 / 以下 / 前 / 后

    @property
    def kind(self) -> str:
        if self.unit == "%":
            return "percent"
        if self.unit == "date":
            return "date"
        if self.unit in MONEY_UNITS:
            return "money"
        if self.unit in PERIOD_UNITS:
            return "period"
        return "count"

    def same_unit(self, other: "Value") -> bool:
        return self.unit == other.unit or any(self.unit in g and other.unit in g for g in _SAME)

    def shown(self) -> str:
        return self.text


def unit_kind(unit: str | None) -> str | None:
    if not unit:
        return None
    return Value(0, canonical_unit(unit), "", 0, 0).kind


def canonical_unit(unit: str) -> str:
    return _CANON.get(unit, unit)


def to_number(s: str) -> float | None:
    """Arabic or Chinese numeral -> number (cn2an for Chinese; None when not a numeral)."""
    s = s.strip()
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        pass
    return _cn_number(s)


@functools.lru_cache(maxsize=4096)
def _cn_number(s: str) -> float | None:
    import cn2an

    try:
        v = cn2an.cn2an(s.replace("〇", "零"), "smart")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return float(v)


def _is_word(text: str, start: int, end: int) -> bool:
    """A Chinese numeral that is part of a word (统一, 一是, 一般) rather than a value."""
    if _CN_WORD_BEFORE.search(text[max(0, start - 1): start]):
        return True
    return text[end: end + 3].startswith(_CN_WORD_AFTER)


@functools.lru_cache(maxsize=4096)
def _values(text: str) -> tuple[Value, ...]:
    out: list[Value] = []
    taken: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return not any(a < y and x < b for x, y in taken)

    for m in DATE_RE.finditer(text):
        out.append(Value(0.0, "date", m.group(0), m.start(), m.end()))
        taken.append((m.start(), m.end()))
    for m in ZERO_RE.finditer(text):
        if free(m.start(), m.end()):
            out.append(Value(0.0, canonical_unit(m.group("unit")), m.group(0), m.start(), m.end()))
            taken.append((m.start(), m.end()))
    for m in PERCENT_RE.finditer(text):
        if not free(m.start(), m.end()):
            continue
        v = to_number(m.group("cn") or m.group("ar"))
        if v is not None:
            out.append(Value(v, "%", m.group(0), m.start(), m.end()))
            taken.append((m.start(), m.end()))
    for m in VALUE_RE.finditer(text):
        a, b = m.start(), m.end()
        num, unit = m.group("num"), m.group("unit")
        if not free(a, b):
            continue
        if not num[0].isdigit():
            if _is_word(text, m.start("num"), m.end("num")) or (num == "一" and unit in ("个", "次", "部", "场", "批")):
                continue  # 一个平台, 一次性: an article, not a figure
        v = to_number(num)
        if v is None:
            continue
        scale = m.group("scale")
        v *= 10000 if scale == "万" else 1e8 if scale == "亿" else 1
        u = canonical_unit(unit)
        if u in ("万元", "亿元"):
            v *= 10000 if u == "万元" else 1e8
            u = "元"
        out.append(Value(v, u, m.group(0), a, b, m.group("qual") or ""))
        taken.append((a, b))
    out.sort(key=lambda x: x.start)
    return tuple(out)


def values(text: str) -> list[Value]:
    """Every value in ``text``, in order (dates as unit ``date``)."""
    return list(_values(text or ""))


def figures(text: str) -> list[Value]:
    """Values that are figures (not dates)."""
    return [v for v in values(text) if v.unit != "date"]
