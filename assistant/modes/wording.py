"""Rewording another agency's sentence for the user's own report: self-references and the source's own
name become the user's agency, the source's leadership (市委、市政府 …) the leadership of the user's level,
figures and years placeholders, and punctuation full-width."""
from __future__ import annotations

import re

SELF_REF = re.compile(r"(?:我|本)(?:办|局|委|县|区|市|镇|乡|厅|部|中心|院|单位|部门|省)(?![长])")
YEAR = re.compile(r"(?:19|20)\d{2}(?=\s*年)")
FIGURE = re.compile(r"\d+(?:\.\d+)?\s*(?:万|亿)?\s*(?=%|个|件|项|名|人|日|天|月|宗|份|次|条|家|起|卷|元|倍|余|时|分|G|场|期|批|户|所|台|套|部|篇|期|平方米)"
                    r"|(?<=[共达约计])[一二三四五六七八九十百千两]+(?=[个件项名人宗份次条家起])")
# the leadership a report names: 市委、市政府 / 县委、政府 / 区委区政府
LEADERS = re.compile(r"(?:[省市县区旗]委|[乡镇]党委)[、和及与]?(?:[省市县区旗乡镇])?(?:人民)?政府")
_LEVEL_WORDS = (("自治区", "自治区党委、自治区人民政府"), ("省", "省委、省政府"), ("市", "市委、市政府"),
                ("县", "县委、县政府"), ("区", "区委、区政府"), ("旗", "旗委、旗政府"), ("镇", "镇党委、镇政府"),
                ("乡", "乡党委、乡政府"))
_NOT_LEVEL = re.compile(r"市场|城市|都市|区域|社区|园区|小区|街区|景区|辖区|县域|乡村|城乡|城镇|集镇")
LEADERS_PLACEHOLDER = "【上级党委、政府】"
ORDINALS = "一二三四五六七八九十"


def leadership(agency: str | None) -> str:
    """The leadership of the agency's level, from the last administrative level its name gives
    (某某县司法局 -> 县委、县政府; 某某市某某区城管委 -> 区委、区政府), else a placeholder."""
    if not agency:
        return LEADERS_PLACEHOLDER
    name = _NOT_LEVEL.sub("", agency)
    best, at = None, -1
    for word, leaders in _LEVEL_WORDS:
        i = name.rfind(word)
        if i > at:
            best, at = leaders, i
    return best or LEADERS_PLACEHOLDER


def _own_names(text: str, issuer: str) -> list[str]:
    """The source agency's short names in ``text`` (市人防办 for 某市人民防空办公室): a level word followed by
    characters that all occur, in order, in the issuer's name."""
    if not issuer:
        return []
    out = [issuer]
    for m in re.finditer(r"[省市县区][\u4e00-\u9fa5]{1,4}?(?:办|局|委)(?![员会])", text):
        it = iter(issuer)
        if all(ch in it for ch in m.group(0)) and m.group(0) not in out:
            out.append(m.group(0))
    return sorted(out, key=len, reverse=True)


_PLACE = re.compile(r"[\u4e00-\u9fa5]{2,}?(?:自治区|自治州|自治县|省|市|区|县|州|旗|镇|乡)")


def source_places(region: str) -> list[str]:
    """The places of a source's region (陕西省汉中市镇巴县 -> 陕西省, 汉中市, 镇巴县, 陕西, 汉中, 镇巴)."""
    out = []
    for m in _PLACE.finditer(region):
        p = m.group(0)
        out.append(p)
        stem = re.sub(r"(?:自治区|自治州|自治县|省|市|区|县|州|旗|镇|乡)$", "", p)
        if len(stem) >= 2:
            out.append(stem)
    return out


def adapt(text: str, agency: str | None, source: dict | None = None, leaders: str | None = None,
          keep_figures: bool = False) -> str:
    """``source``: the cited document's metadata (its issuer's names become the user's agency)."""
    name = agency or "【单位名称】"
    out = LEADERS.sub(leaders or leadership(agency), text)
    places = source_places((source or {}).get("region") or "")
    if places:  # the source's own local documents and places are none of the user's
        out = re.sub(r"《[^》]*》", lambda m: "《【文件名称】》" if any(p in m.group(0) for p in places) else m.group(0), out)
        out = re.sub(r"(《【文件名称】》)\s*[（(][^）)]{0,20}〔\d{4}〕[^）)]{0,8}号[）)]", r"\1", out)
        for p in sorted(places, key=len, reverse=True):
            out = re.sub(rf"{re.escape(p)}(?![^《]*》)", "【地名】", out)
    for own in _own_names(out, (source or {}).get("issuer") or ""):
        out = out.replace(own, name)
    out = SELF_REF.sub(name, out)
    if not keep_figures:
        out = YEAR.sub("【年份】", out)
        out = FIGURE.sub("【数字】", out)
    return re.sub(r"^\s*(?:[一二三四五六七八九十]+是|\d+[.．、]|[(（][一二三四五六七八九十\d]+[)）])", "", out).strip()


_CJK = "\u3000-\u303f\u4e00-\u9fa5\uff00-\uffef“”‘’《》【】"
_PAIRS = {",": "，", ";": "；", ":": "：", "!": "！", "?": "？", "(": "（", ")": "）"}


def full_width(text: str) -> str:
    """Chinese punctuation for half-width ,;:!?() (a colon or comma between digits stays: 12:30, 1,000),
    and no spaces between Chinese characters and figures."""
    out = re.sub(r"(?<=\d)[,:](?=\d)", lambda m: "\0" + m.group(0), text)
    out = re.sub(r"(?<!\0)[,;:!?()]", lambda m: _PAIRS[m.group(0)], out).replace("\0", "")
    out = re.sub(r"(?<=[\u4e00-\u9fa5】])\s+(?=[\d【])|(?<=[\d】])\s+(?=[\u4e00-\u9fa5【])", "", out)
    out = re.sub(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])", "", out)
    return re.sub(r"\.(?=[\u4e00-\u9fa5])|(?<=[\u4e00-\u9fa5])\.$", "。", out)


def ordinal(i: int) -> str:
    """一是 / 二是 … 十是, then 第十一…"""
    return f"{ORDINALS[i]}是" if i < len(ORDINALS) else f"第{i + 1}，"
