"""Document metadata: title, issuer, region, level, year, 发文字号, kind.

Extracted from the text and the web-page fields; a ``MANIFEST.tsv`` beside the files overrides.
"""
from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

DOC_NUMBER_RE = re.compile(
    r"[\u4e00-\u9fa5]{1,10}[〔\[［【(（]\s*(?:19|20)\d{2}\s*[〕\]］】)）]\s*第?\s*\d{1,4}\s*号"
    r"|[\u4e00-\u9fa5]{1,8}令第\s*\d{1,4}\s*号"
)
_TYPE_WORDS = ("报告", "总结", "意见", "纲要", "方案", "决定", "办法", "条例", "规定", "通知", "法", "规则", "细则", "计划")
_ORG_END = ("人民政府", "政府", "办公厅", "办公室", "委员会", "管理局", "局", "委", "办", "厅", "部", "院", "署", "中心", "常务委员会", "代表大会")
# a place name's own characters never include a lower level's suffix ("宝坻区城市管理…" is 宝坻区, not a 市)
_PLACE_RE = re.compile(
    r"^((?:(?:(?![市区县])[\u4e00-\u9fa5]){2,7}?(?:省|自治区|特别行政区))?"
    r"(?:(?:(?![区县旗省])[\u4e00-\u9fa5]){1,7}?(?:市|自治州|州|盟|地区))?"
    r"(?:(?:(?![市省])[\u4e00-\u9fa5]){1,7}?(?:县|区|旗))?(?:[\u4e00-\u9fa5]{1,7}?(?:镇|乡|街道))?)"
)
_NATIONAL = ("国务院", "全国人民代表大会", "中共中央", "中华人民共和国", "国家", "司法部", "最高人民")
_DATE_RE = re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_ISO_DATE_RE = re.compile(r"((?:19|20)\d{2})[-/.](\d{1,2})[-/.](\d{1,2})")

MANIFEST_NAME = "MANIFEST.tsv"
MANIFEST_FIELDS = ("title", "issuer", "region", "level", "year", "kind", "doc_number")


@dataclass
class Meta:
    title: str = ""
    issuer: str = ""
    region: str = ""
    level: str = ""
    year: int | None = None
    doc_number: str = ""
    kind: str = ""


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


def guess_title(body: str, title_hint: str, fallback: str) -> str:
    if title_hint and len(title_hint) >= 4:
        return title_hint.strip()
    candidates = []
    for line in body.split("\n")[:20]:
        s = re.sub(r"^#{1,6}\s+", "", line.strip())  # a Markdown heading's marks are not in the title
        if not s or len(s) > 80 or len(s) < 4 or s[-1] in "。：:；;，," or DOC_NUMBER_RE.fullmatch(s):
            continue
        if _DATE_RE.fullmatch(s):
            continue
        candidates.append(s)
    for s in candidates:
        if any(w in s for w in _TYPE_WORDS):
            return s
    return candidates[0] if candidates else fallback


def guess_doc_number(body: str, title: str, fields: dict[str, str]) -> str:
    for key in ("发文字号", "文号"):
        if fields.get(key) and DOC_NUMBER_RE.search(fields[key]):
            return DOC_NUMBER_RE.search(fields[key]).group(0).replace(" ", "")
    m = DOC_NUMBER_RE.search(title)
    if m and "《" not in title[: m.start()]:
        return m.group(0).replace(" ", "")
    # a line made only of the number near the top (the 文号 line under a title)
    for line in body.split("\n")[:8]:
        s = line.strip().strip("()（）")
        if DOC_NUMBER_RE.fullmatch(s):
            return s.replace(" ", "")
    return ""


# fields of a page or a 政务公开 table that name who issued the document, most specific first
_ISSUER_FIELDS = ("发文机关", "发文机构", "发布机构", "发布单位", "来源单位", "文章来源", "信息来源", "来源", "网站名称")
_COUNTY_END = ("县", "区", "旗")
_CITY_RE = r"[\u4e00-\u9fa5]{1,6}?(?:市|自治州|州|盟|地区)"
_LEFT_EDGE = r"(?:^|(?<=[\s《（(“:：、，,。]))"


def _place(name: str) -> str:
    m = _PLACE_RE.match(name)
    return m.group(1) if m and m.group(1) else ""


def _org_value(value: str) -> str:
    """A field value that names an organisation ("宝坻区城市管理委员会"), not "本网" or a newspaper."""
    value = re.split(r"[\s,，;；|]", value.strip())[0]
    if 3 <= len(value) <= 30 and value.endswith(_ORG_END) and not value.startswith(("本", "新华", "人民网")):
        return value
    return ""


def _issuer_candidates(title: str, body: str, fields: dict[str, str]) -> list[str]:
    """Who issued the document, by source: the title, the fields, the signature block, the title's place."""
    out: list[str] = []
    t = re.sub(r"[（(].*?[）)]", "", title)
    m = re.match(r"^(.{2,30}?)关于", t)
    if m:
        out.append(m.group(1))
    m = re.match(r"^(.{2,30}?)(?:19|20)\d{2}\s*年", t)
    if m and m.group(1).endswith(_ORG_END):
        out.append(m.group(1))
    if t.startswith("中华人民共和国") or re.search(r"(法|条例)$", t):
        m = re.search(r"(全国人民代表大会常务委员会|全国人民代表大会|国务院)", body[:600])
        if m:
            out.append(m.group(1))
    for key in _ISSUER_FIELDS[:-1]:
        if _org_value(fields.get(key, "")):
            out.append(_org_value(fields[key]))
    # signature: the last short organisation line before a date at the end
    lines = [ln.strip() for ln in body.split("\n") if ln.strip()]
    for k in range(len(lines) - 1, max(len(lines) - 4, 0) - 1, -1):
        if _DATE_RE.fullmatch(lines[k]) and k > 0:
            cand = lines[k - 1]
            if len(cand) <= 30 and cand.endswith(_ORG_END):
                out.append(cand)
                break
    # a report titled by its place ("2020年某某区法治政府建设情况报告") is that place's government's
    rest = re.sub(r"^(?:19|20)\d{2}\s*年度?", "", t)
    place = _place(rest)
    if place and rest[len(place):].startswith(("法治政府", "全面依法", "依法行政", "法治建设")):
        out.append(place + "人民政府")
    return out


def complete_place(issuer: str, body: str, fields: dict[str, str]) -> str:
    """A district or county issuer without its city, completed from the same document's other lines
    ("宝坻区城市管理委员会" + a line "天津市宝坻区…" -> "天津市宝坻区城市管理委员会")."""
    place = _place(issuer)
    if not place or not place.endswith(_COUNTY_END) or re.search(r"(市|州|盟|地区|省|自治区)", place):
        return issuer
    sources = [v for v in fields.values() if v] + body.split("\n")
    pattern = re.compile(_LEFT_EDGE + "(" + _CITY_RE + ")" + re.escape(place))
    for text in sources:
        m = pattern.search(text.strip())
        if m:
            return m.group(1) + issuer
    return issuer


def guess_issuer(title: str, body: str, fields: dict[str, str]) -> str:
    """The most specific candidate: one that names its place wins over an abbreviation ("区城管委"); the
    site's name (the government hosting the page) only when the document names no issuer at all."""
    cands = _issuer_candidates(title, body, fields)
    if not cands:
        site = _org_value(fields.get("网站名称", ""))
        return re.sub(r"(门户网站|政府网|网站|网)$", "", site) if site else ""
    best = next((c for c in cands if _place(c) or c.startswith(_NATIONAL)), cands[0])
    return complete_place(best, body, fields)


def guess_region(issuer: str) -> str:
    if not issuer:
        return ""
    if issuer.startswith(_NATIONAL):
        return "全国"
    m = _PLACE_RE.match(issuer)
    return m.group(1) if m and m.group(1) else ""


def guess_level(issuer: str, region: str) -> str:
    if not issuer:
        return ""
    if issuer.startswith(_NATIONAL):
        return "national"
    is_government = issuer.endswith("人民政府") or issuer.endswith("政府")
    if not is_government:
        return "department"
    if region.endswith(("镇", "乡", "街道")):
        return "town"
    if region.endswith(("县", "区", "旗")):
        return "county"
    if region.endswith(("市", "州", "盟", "地区")):
        return "city"
    if region.endswith(("省", "自治区")):
        return "province"
    return ""


def guess_year(title: str, body: str, fields: dict[str, str]) -> int | None:
    m = re.search(r"((?:19|20)\d{2})\s*年度?", _nfkc(title))
    if m and not re.search(r"[—\-–]\s*(?:19|20)\d{2}", _nfkc(title)[m.end(): m.end() + 8]):
        return int(m.group(1))
    # law/regulation: the latest 通过/修正/修订/公布 date in the header lines
    # (a "2020年1月1日 施行" line is when it takes effect, not the year of the text)
    head = [ln.strip() for ln in body.split("\n")[:14]]
    # a header line may be wrapped (OCR, narrow pages): read each with the start of the next
    dates = [int(y) for k, line in enumerate(head[:12])
             if re.search(r"(通过|修正|修订|公布|发布)", line + (head[k + 1][:12] if k + 1 < len(head) else ""))
             for y, _, _ in _DATE_RE.findall(line)]
    if dates:
        return max(dates)
    # a report opens with its year: "2019年，…" / "2019年以来，…" / "2019年度，…"
    for line in [ln.strip() for ln in body.split("\n") if ln.strip()][:6]:
        m = re.match(r"^((?:19|20)\d{2})\s*年(?:度|以来|全年|上半年)?\s*[,，、是我全]", _nfkc(line))
        if m:
            return int(m.group(1))
    # the year of a 文号 (国办发〔2018〕115号) is the year the document was issued
    number = guess_doc_number(body, title, fields)
    m = re.search(r"[〔\[［【(（]\s*((?:19|20)\d{2})\s*[〕\]］】)）]", number)
    if m and "令第" not in number:
        return int(m.group(1))
    for key in ("成文日期", "发文日期", "发布日期", "发布时间"):
        v = fields.get(key, "")
        m = _DATE_RE.search(v) or _ISO_DATE_RE.search(v)
        if m:
            return int(m.group(1))
    tail = body[-300:]
    found = _DATE_RE.findall(tail)
    if found:
        return int(found[-1][0])
    m = re.search(r"(?:19|20)\d{2}", _nfkc(title))
    return int(m.group(0)) if m else None


def guess_kind(title: str, body: str) -> str:
    t = re.sub(r"[（(].*?[）)]", "", title)
    if re.search(r"(报告|总结|情况)$", t) or re.search(r"(年度?|建设)(工作)?(情况)?(报告|总结)", t):
        return "report"
    articles = len(re.findall(r"(?m)^\s*第[一二三四五六七八九十百零〇]+条", body))
    if articles >= 5 and re.search(r"(法|条例|规定|办法|规则|细则)$", t):
        return "law"
    return "outline"


def extract(body: str, fields: dict[str, str], title_hint: str, fallback_title: str) -> Meta:
    title = guess_title(body, title_hint, fallback_title)
    issuer = guess_issuer(title, body, fields)
    region = guess_region(issuer)
    return Meta(
        title=title,
        issuer=issuer,
        region=region,
        level=guess_level(issuer, region),
        year=guess_year(title, body, fields),
        doc_number=guess_doc_number(body, title, fields),
        kind=guess_kind(title, body),
    )


def read_manifest(folder: Path) -> dict[str, dict[str, str]]:
    """Rows of ``folder/MANIFEST.tsv`` keyed by the file path relative to ``folder``."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return {}
    rows: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            key = (row.get("file") or "").strip()
            if key:
                rows[key.replace("\\", "/")] = {k: (v or "").strip() for k, v in row.items() if k}
    return rows


def apply_manifest(meta: Meta, row: dict[str, str] | None) -> Meta:
    if not row:
        return meta
    for name in MANIFEST_FIELDS:
        value = row.get(name, "")
        if not value:
            continue
        if name == "year":
            try:
                meta.year = int(value)
            except ValueError:
                continue
        else:
            setattr(meta, name, value)
    if "doc_number" not in row or not row.get("doc_number"):
        # the manifest title may carry the number in parentheses
        m = DOC_NUMBER_RE.search(meta.title)
        if m and not meta.doc_number:
            meta.doc_number = m.group(0)
    return meta
