"""One analysis of a request: ``analyse(text, catalog) -> Query``, run once per request.

The ``Query`` carries everything retrieval, reranking, the refusal gate and the modes need: weighted
terms (of the whole question and of its topic without names and years), the answer type asked for
(quantity with its unit, list, yes/no, time, period, definition, who), the focus (the thing asked about),
the documents, agencies, places, 《titles》, 文号 and years it names, names the knowledge base holds nothing
of, its values, sub-questions and, for a check, the claims."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .catalog import Catalog
from .text import bigrams, nfkc, nfkc_compact
from .tokenize import tokenize
from .values import Value, canonical_unit, figures, unit_kind

QUANTITY, LIST, YESNO, TIME, PERIOD, DEFINITION, WHO, OPEN = (
    "quantity", "list", "yesno", "time", "period", "definition", "who", "open")

_UNITS = r"个工作日|工作日|个月|小时|人次|万元|亿元|件|项|名|人|个|次|条|宗|份|家|起|卷|元|天|日|年|月|倍|部|场|批|例|所"
ASK_PERIOD = re.compile(rf"多长|多久|期限|时限|(?:多少|几)(?:个)?(?:工作日|天|日|个月|小时)(?:内|以内)?|几天|几日")
ASK_TIME = re.compile(r"什么时候|何时|哪一?年|哪天|哪一天|哪个月|日期|什么时间|时间前|几月几日")
ASK_QUANTITY = re.compile(rf"多少|几(?:{_UNITS})|比例|比率|百分之几|百分比|数量|金额|数额|多大|[率额]是?(?:多少|几)")
ASK_WHO = re.compile(r"谁|哪个(?:部门|机关|单位|机构)|哪一级|哪级|由哪|什么(?:部门|机关|单位|机构)|哪家|哪些(?:部门|机关|单位|机构)")
ASK_YESNO = re.compile(r"是否|能否|可否|可以吗|能不能|可不可以|有没有|是不是|会不会|需不需要|要不要|用不用|吗[？?。]?$")
_YESNO_WORD = re.compile(r"是否|能否|可否|能不能|可不可以|是不是|会不会|需不需要|要不要|用不用")
ASK_LIST = re.compile(r"哪些|哪几|哪[一二三四五六七八九十两\d]{1,2}[个项部条类种件方面]|包括什么|包括哪|有什么|有哪|分别|什么内容|几个方面|哪方面")
ASK_WHICH = re.compile(r"哪几|哪些|哪[一二三四五六七八九十两\d]{1,2}[个项部条类种件方面]")
ASK_DEFINITION = re.compile(r"是什么|指什么|什么是|何谓|含义|定义|是指|什么叫|指的是")
# the question word a focus stands next to
_QWORD = re.compile(rf"(?:是|为|有|达到?|共|了|的)?(?:多少(?:{_UNITS})?|几(?:{_UNITS})|多长时间|多长|多久|是什么|指什么|什么是|哪一天|哪天|哪个月|几月几日|"
                    r"有哪些|是哪些|包括哪些|哪些|哪几|是否|能否|可否|什么时候|何时|哪一?年|如何|怎样|怎么)")
_UNIT_ASKED = re.compile(rf"(?:多少|几)(?P<u>{_UNITS})")
_FILLER = re.compile(r"^(?:请问|请|问|关于|对于|在|根据|按照|依照|依据)|(?:请问)")
_YEAR_RE = re.compile(r"((?:19|20)\d{2})\s*年度?")
TITLE_RE = re.compile(r"《([^》]{2,60})》")
_CLAIM_SPLIT = re.compile(r"(?<=[。！？!?；;])")
_QUOTE_CLAIM = re.compile(r"[“\"「『]([^”\"」』]{6,})[”\"」』]")
_TOPIC_QUOTE = re.compile(r"[“\"「]([^”\"」]{2,40})[”\"」]")
_SUBQ_SPLIT = re.compile(r"(?<=[。？！?!；;])")
MAX_SUB_QUERIES = 4  # a pasted page must not fan out into hundreds of searches
_AGENCY_SUFFIX = r"(?:人民政府|政府|委员会|管理局|办公室|办公厅|局|委|办|厅|署|院|中心)"
# a ministry (生态环境部)
_MINISTRY = re.compile(r"(?<![\u4e00-\u9fa5])(?P<org>[^\W\d_的哪这那每各一本该其][^\W\d_的哪这那每各]{1,5}部)(?![门分署长队委件条法])")
_NOT_MINISTRY = ("全部", "内部", "局部", "干部", "各部", "本部", "有关部", "相关部", "外部", "基层干部", "职能部")
_NOT_PLACE_PREFIX = ("县级", "市级", "区级", "省级", "各省", "各市", "各县", "各区", "本市", "本县", "本区", "全市",
                     "全县", "全区", "全省", "地市", "城市", "市场", "社区", "园区")


@dataclass(frozen=True)
class Terms:
    """What sentence scoring needs of a text: IDF-weighted terms, bigrams and the answer kind asked."""
    text: str
    tokens: tuple[str, ...]
    weights: dict[str, float]
    grams: frozenset[str]
    wants_number: bool = False
    wants_time: bool = False
    wants_list: bool = False
    wants_period: bool = False


@dataclass(frozen=True)
class Query:
    text: str  # what is searched (for draft: the quoted topic)
    request: str  # the user's input as given
    mode: str
    terms: Terms  # the whole question
    topic: Terms  # the question without the names of the documents it names and without years
    answer_type: str
    unit: str | None  # the unit a quantity question asks for (件, 日, %, 元 …), canonical
    focus: str  # the thing asked about (行政执法经费, 纠错率, 合法性审核内容 …)
    focus_weights: dict[str, float]
    focus_unknown: str | None  # the focus's head noun when the knowledge base never uses it (纠错率)
    bm25_tokens: tuple[str, ...]
    named: dict[str, float]  # documents the question names, scored (document prior)
    docs: frozenset[str]  # the documents it names clearly (>= half the best score)
    agencies: tuple[str, ...]
    places: tuple[str, ...]
    titles: tuple[str, ...]
    doc_numbers: tuple[str, ...]
    years: tuple[int, ...]
    unresolved: tuple[str, ...]  # places and 《titles》 no document's metadata gives (the gate looks in the passages)
    foreign_agencies: tuple[str, ...]  # agencies the question is about that no document is issued by
    values: tuple[Value, ...]
    has_known_terms: bool  # a Chinese term of the question occurs in the knowledge base
    parts: tuple["Query", ...] = ()  # sub-questions of a question of several sentences
    claims: tuple["Query", ...] = ()  # check: the claims to verify
    extra: dict = field(default_factory=dict)

    @property
    def wants_value(self) -> bool:
        return self.answer_type in (QUANTITY, PERIOD, TIME)


def answer_type(text: str) -> str:
    t = nfkc(text)
    if _YESNO_WORD.search(t) and not ASK_QUANTITY.search(t):
        return YESNO
    if ASK_WHICH.search(t) and not ASK_WHO.search(t):
        return LIST  # 哪几个等次 / 哪三部文件 ask which ones, not how many
    if ASK_PERIOD.search(t):
        return PERIOD
    if ASK_TIME.search(t):
        return TIME
    if ASK_QUANTITY.search(t):
        return QUANTITY
    if ASK_WHO.search(t):
        return WHO
    if ASK_YESNO.search(t.strip()):
        return YESNO
    if ASK_LIST.search(t):
        return LIST
    if ASK_DEFINITION.search(t):
        return DEFINITION
    return OPEN


def asked_unit(text: str, kind: str) -> str | None:
    t = nfkc(text)
    m = re.search(r"(?:多少|几)个(人|工作日|月|小时)", t)
    if m:
        return canonical_unit(m.group(1) if m.group(1) == "人" else "个" + m.group(1) if m.group(1) != "小时" else "小时")
    m = _UNIT_ASKED.search(t)
    if m:
        return canonical_unit(m.group("u"))
    if re.search(r"比例|比率|百分|[率]", t) and kind == QUANTITY:
        return "%"
    if re.search(r"金额|经费|资金|费用|多少钱|数额", t) and kind == QUANTITY:
        return "元"
    return None


# what kind of sentence can answer (scoring bonus): broader than the one answer type, several may hold
_WANTS_NUMBER = re.compile(r"多少|几[个项件名天日次人条年宗份家]?|比例|百分之|数量|金额|标准分别")
_WANTS_PERIOD = re.compile(r"多长|多久|期限|时限|期间|多少天|多少日|几天|几日|多少个工作日|多少个月")
_WANTS_TIME = re.compile(r"什么时候|何时|哪一?年|哪天|日期|时间前|什么时间")
_WANTS_LIST = re.compile(r"哪些|包括|分别|有什么|什么是|具体指")


def terms(text: str, catalog: Catalog) -> Terms:
    """Weighted terms of ``text`` (single characters and words the knowledge base never uses only
    dilute coverage), with the kinds of sentence that can answer it."""
    idf = catalog.get_idf()
    toks = tuple(t for t in dict.fromkeys(tokenize(text, search_mode=False))
                 if (len(t) > 1 or t.isdigit()) and idf.known(t))
    return Terms(text, toks, {t: idf(t) for t in toks}, frozenset(bigrams(text)),
                 wants_number=bool(_WANTS_NUMBER.search(text)), wants_time=bool(_WANTS_TIME.search(text)),
                 wants_list=bool(_WANTS_LIST.search(text)), wants_period=bool(_WANTS_PERIOD.search(text)))


# How a question frames "how did others do X" (其他单位是如何……的, 各地在……方面有哪些做法): the framing
# names no topic, and on a small knowledge base its words (其他, 单位) would be the rarest terms
_OTHERS_FRAME = re.compile(r"^(?:请问|请|想了解|了解一下)?(?:其他|其它|别的|兄弟|各|有关|相关)(?:的)?"
                           r"(?:单位|部门|机关|地方|地区|地市|区县|县区|城市|省份|省市|地)(?:都|又|分别)?(?:在|对|是|就)?")
_HOW_FRAME = re.compile(r"(?:方面|上|中)?(?:都|又|分别)?(?:是)?(?:如何|怎样|怎么)(?:做|干|搞|开展|落实|推进)?的?[？?。]?$"
                        r"|(?:方面|上|中)?(?:有|采取了|采取|形成了)(?:哪些|什么|何种)(?:好的|典型|具体)?(?:做法|经验|举措|措施)[？?。]?$")


# "在X方面做了哪些工作": 方面 and the generic noun after the question word frame the topic X, they are not it
_ASPECT_FRAME = re.compile(r"方面(?:都|还|又|主要)?(?:做了|开展了|采取了|推进了|取得了|有)?(?:哪些|什么|何种)"
                           r"(?:工作|举措|措施|做法|成效|进展)?")


def _strip_names(text: str, catalog: Catalog, docs: frozenset[str]) -> str:
    out = _ASPECT_FRAME.sub(" 哪些 ", text)
    framed = _OTHERS_FRAME.sub("", out.strip())
    if framed != out.strip():  # only a question framed as others' practice loses its "how" tail too
        out = _HOW_FRAME.sub("", framed) or framed
    for doc_id in docs:
        for alias in sorted(catalog.aliases.get(doc_id, ()), key=len, reverse=True):
            out = out.replace(alias, " ")
    return _YEAR_RE.sub(" ", out)


def focus_of(text: str) -> str:
    """The thing asked about: the noun phrase next to the question word (after it when a unit word
    follows 多少/几, e.g. 划转了多少项行政审批事项 -> 行政审批事项; else before it, e.g. 经费是多少 -> 经费)."""
    t = re.sub(r"[？?。！!，,\s]+$", "", nfkc(text))
    m = None
    for m in _QWORD.finditer(t):
        pass
    if m is None:
        return _last_phrase(t)
    after = re.sub(r"^(?:以下|以上|以内|之内|内(?![容部])|左右)?(?:的|是|为)?", "", t[m.end():])
    after = re.split(r"[，,；;。（(]", after)[0]
    after = re.sub(r"(?:呢|吗|啊|的情况|情况|分别)$", "", after)
    before = _last_phrase(t[: m.start()])
    if re.fullmatch(r"(?:具体|主要)?(?:内容|方面|措施|事项|要求|做法|规定|情形|环节|工作|问题|举措)", after):
        return f"{before}{after}"  # 合法性审核具体审核 + 内容: a generic head needs what it is of
    if len(after) >= 2 and not re.match(r"^(?:上线|开始|完成|实施|施行|生效|办理|进行|作出|提出)", after):
        return after[:20]
    return before


def _last_phrase(text: str) -> str:
    parts = [p for p in re.split(r"[，,；;：:、的对在向将把被由从关于中]", text) if len(p.strip()) >= 2]
    if not parts:
        return text.strip()[-12:]
    p = parts[-1].strip()
    p = re.sub(r"^(?:要求|规定|明确|共|全年|当年|年度|其|该|本)", "", p)
    p = re.sub(r"(?:是|为|有|达到|达|共|了|要求|规定|应当|需要|要)$", "", p)
    return p[-14:]


# words that name the kind of value, not the thing (a value of the asked unit stands for them), and
# degree words of a question (最少 / 最长 / 一般)
_MEASURE_WORDS = frozenset("金额 数额 数量 数目 人数 次数 件数 总数 总额 规模 多少 时间 期限 时限 日期 时候 天数".split())
_DEGREE = re.compile(r"^(?:最少|最多|最长|最短|最晚|最早|最高|最低|一般|大概|大约|总共|一共|共|要|能|需要|应当|可以)+|"
                     r"(?:最少|最多|最长|最短|最晚|最早|最高|最低|一般|大概|大约|总共|一共|要|能|需要|应当|可以)+$")


def _focus_terms(focus: str, catalog: Catalog) -> tuple[str, dict[str, float], str | None]:
    """(focus, IDF weights of its terms the knowledge base knows, its head noun when the knowledge base
    never uses it — 纠错率, 律师费 — else None)."""
    import jieba.posseg as pseg

    focus = _DEGREE.sub("", focus.strip()) or focus.strip()
    idf = catalog.get_idf()
    toks = [t for t in dict.fromkeys(tokenize(focus, search_mode=False)) if len(t) > 1 and t not in _MEASURE_WORDS]
    weights = {t: idf(t) for t in toks if idf.known(t)}
    if toks and not weights:
        return focus, weights, focus  # nothing of what is asked occurs in the knowledge base
    head = None
    words = [(w, f) for w, f in pseg.cut(focus) if len(w.strip()) > 0]
    if words:
        w, flag = words[-1]
        if len(w) >= 2 and flag.startswith("n") and w not in _MEASURE_WORDS and not idf.known(nfkc(w).lower()):
            head = w
    return focus, weights, head


def _places(text: str) -> list[str]:
    """Place names (jieba POS ``ns``) of at least three characters, e.g. 北京市, 海淀区."""
    import jieba.posseg as pseg

    tokenize("")  # make sure jieba carries the field dictionary
    return [w for w, flag in pseg.cut(text) if flag == "ns" and len(w) >= 3]


def _agencies(text: str, known: str) -> list[str]:
    """Agencies the question names whose place no document of the knowledge base is of (北京市海淀区应急管理局
    when no document is of 海淀区, or 镇巴县公安局 when only the county's own report is), and ministries
    (生态环境部). Whether a document is issued by it is decided by the catalogue (``_unresolved``)."""
    import jieba.posseg as pseg

    tokenize("")  # make sure jieba carries the field dictionary
    toks = list(pseg.cut(text))
    out = []
    for i, (w, flag) in enumerate(toks):
        if flag != "ns" or len(w) < 2 or w.startswith(_NOT_PLACE_PREFIX):
            continue
        name = w
        for w2, _ in toks[i + 1: i + 6]:
            if not re.fullmatch(r"[\u4e00-\u9fa5]+", w2):
                break
            name += w2
            if re.search(r"多少|几|哪|什么|怎么|如何|是否", w2):
                break  # a question, not a name (镇巴县组织多少个镇办…)
            if re.search(rf"{_AGENCY_SUFFIX}$", name):
                # of a place the knowledge base knows, only a department counts (镇巴县公安局): the place's
                # government is the place's own report, found by the document prior
                if w not in known or not re.search(r"(?:人民政府|政府)$", name):
                    out.append(name)
                break
    for m in _MINISTRY.finditer(text):
        if not m.group("org").endswith(_NOT_MINISTRY):
            out.append(m.group("org"))
    return out


def _unresolved(catalog: Catalog, titles: list[str], places: list[str], agencies: list[str]) -> tuple[list[str], list[str]]:
    """(names no document's metadata gives, agencies no document is issued by). A 《title》 or a place
    still counts as known when the retrieved passages mention it (the refusal gate checks that); an
    agency the question is about must be a document's issuer or alias: one mentioned in passing in
    another agency's report is not its report."""
    known = catalog.known_names()
    joined = "|".join(known)
    unresolved = []
    for t in titles:
        core = re.sub(r"^中华人民共和国", "", t)
        if core not in joined:
            unresolved.append(f"《{t}》")
    for name in places:
        stem = name[:-1] if len(name) >= 3 else name
        if name not in joined and stem not in joined:
            unresolved.append(name)
    foreign = []
    for ag in agencies:
        if any(ag in m or m in ag for m in unresolved):
            continue
        if not catalog.agency_documents(ag, kind=None) and ag not in joined and not catalog.abbreviates_issuer(ag):
            foreign.append(ag)
    return unresolved, foreign


# what follows a 《title》 a question takes as its source (《X》规定… / 《X》中… / 《X》第十条…)
_CITED_AS_SOURCE = re.compile(r"^(?:中|里|中的|里面|第[^，。？]{1,8}条)?(?:规定|明确|要求|提出|指出|载明|写明|列明|是怎么|怎么|如何|对|关于)")


def unknown_names(query: "Query", passages: str) -> list[str]:
    """The names of ``query`` the knowledge base holds nothing of, given the retrieved passages' text."""
    text = nfkc_compact(passages)
    asked = nfkc_compact(query.request)
    out = []
    for name in query.unresolved:
        core = re.sub(r"^《(?:中华人民共和国)?|》$", "", name)
        stem = core[:-1] if not name.startswith("《") and len(core) >= 3 else core
        if name.startswith("《") and _CITED_AS_SOURCE.search(asked.split(name, 1)[-1][:12]):
            # 《X》规定的… asks what a document says: a passage that only mentions it does not hold it
            out.append(name)
        elif core not in text and stem not in text:
            out.append(name)
    return out + [a for a in query.foreign_agencies if a not in out]


def _sub_texts(text: str) -> list[str]:
    parts = [p.strip() for p in _SUBQ_SPLIT.split(text) if len(p.strip()) >= 8]
    return parts[:MAX_SUB_QUERIES] if len(parts) >= 2 else []


def split_claims(text: str) -> list[str]:
    """The claim(s) to check: quoted text if the request quotes it, else each sentence."""
    m = _QUOTE_CLAIM.search(text)
    body = m.group(1) if m else re.sub(r"^(请)?(核对|核查|核实|检查)[^：:]{0,20}[：:]", "", text.strip())
    claims = [c.strip() for c in _CLAIM_SPLIT.split(body) if len(c.strip()) >= 6]
    return claims or [body.strip()]


def _one(text: str, catalog: Catalog, mode: str, request: str, with_parts: bool = True) -> Query:
    kind = answer_type(text)
    named = catalog.named(text)
    top = max(named.values()) if named else 0.0
    # the documents named most clearly, and every law or outline named by its title or 文号 (a question
    # about a report may ask what a law it cites requires)
    docs = frozenset(d for d, p in named.items() if p >= 0.5 * top or catalog.kind_of(d) in ("law", "outline"))
    topic_text = _strip_names(text, catalog, docs)
    q_nfkc = nfkc_compact(text)
    titles = TITLE_RE.findall(q_nfkc)
    rest = TITLE_RE.sub("", q_nfkc)
    places = _places(rest)
    agencies = _agencies(rest, "|".join(catalog.known_names()))
    unresolved, foreign = _unresolved(catalog, titles, places, agencies)
    full = terms(text, catalog)
    focus = focus_of(topic_text).strip()
    focus, focus_weights, focus_unknown = _focus_terms(focus, catalog)
    from ingest.metadata import DOC_NUMBER_RE

    parts = tuple(_one(p, catalog, mode, request, with_parts=False) for p in _sub_texts(text)) if with_parts else ()
    return Query(
        text=text, request=request, mode=mode, terms=full, topic=terms(topic_text, catalog),
        answer_type=kind, unit=asked_unit(text, kind), focus=focus, focus_weights=focus_weights, focus_unknown=focus_unknown,
        bm25_tokens=tuple(tokenize(text)), named=named, docs=docs, agencies=tuple(agencies),
        places=tuple(places), titles=tuple(titles), doc_numbers=tuple(DOC_NUMBER_RE.findall(q_nfkc)),
        years=tuple(int(y) for y in _YEAR_RE.findall(q_nfkc)), unresolved=tuple(unresolved),
        foreign_agencies=tuple(foreign),
        values=tuple(figures(text)), has_known_terms=any(re.search(r"[\u4e00-\u9fff]", t) for t in full.weights),
        parts=parts)


def analyse(text: str, catalog: Catalog, mode: str = "ask") -> Query:
    """The one analysis of a request. For ``check`` the claims are analysed too (``Query.claims``); for
    ``draft`` a quoted topic (“…”) is what is searched."""
    request = (text or "").strip()
    if mode == "draft":
        m = _TOPIC_QUOTE.search(request)
        q = _one(m.group(1) if m else request, catalog, mode, request)
        return q
    q = _one(request, catalog, mode, request)
    if mode == "check":
        claims = tuple(_one(c, catalog, mode, request, with_parts=False) for c in split_claims(request))
        q = Query(**{**q.__dict__, "claims": claims})
    return q


def unit_kind_of(query: Query) -> str | None:
    return unit_kind(query.unit)
