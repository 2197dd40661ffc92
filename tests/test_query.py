"""The one query analysis (answer types, focus, values, names), the catalogue, and what the answering core
does with them: lead-in expansion, checks by value, refusal by focus, review's agency matching."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import needs_governing_texts
from vectorstore.query import (DEFINITION, LIST, OPEN, PERIOD, QUANTITY, TIME, WHO, YESNO, answer_type, asked_unit,
                               focus_of, split_claims)
from vectorstore.values import figures, values

ROOT = Path(__file__).resolve().parents[1]


# ---- without a knowledge base ------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("应当自作出决定之日起十五日内送达", [(15, "日")]),
    ("自作出决定之日起十日内", [(10, "日")]),
    ("全年无一起行政复议或诉讼案件发生", [(0, "起")]),
    ("发生了2起行政复议案件", [(2, "起")]),
    ("比例达到百分之五", [(5, "%")]),
    ("纠错率为12.5%", [(12.5, "%")]),
    ("共受理行政复议申请3件，办结2件", [(3, "件"), (2, "件")]),
    ("罚款二十万元", [(200000, "元")]),
    ("三个工作日内", [(3, "个工作日")]),
    ("两名法律顾问", [(2, "名")]),
])
def test_values_read_arabic_and_chinese_numerals(text, expected):
    assert [(v.value, v.unit) for v in figures(text)] == expected


def test_numeral_words_are_not_values_and_dates_are_dates():
    assert figures("统一部署，一是明确职责，进一步规范，一般程序") == []
    assert [v.unit for v in values("2015年5月20日正式上线运行")] == ["date"]
    assert figures("2019年受理3件") [0].value == 3


def test_same_unit_groups_cases():
    a, b = figures("2起")[0], figures("3件")[0]
    assert a.same_unit(b) and not a.same_unit(figures("3日")[0])


@pytest.mark.parametrize("question,kind,unit", [
    ("镇巴县2019年受理了多少件行政复议申请？", QUANTITY, "件"),
    ("某县行政复议纠错率是多少？", QUANTITY, "%"),
    ("某单位的行政执法经费是多少？", QUANTITY, "元"),
    ("申请行政复议的期限是多长时间？", PERIOD, None),
    ("行政执法监督平台是什么时候上线运行的？", TIME, None),
    ("合法性审核具体审核哪些内容？", LIST, None),
    ("行政机关能否委托其他组织实施行政处罚？", YESNO, None),
    ("当事人可以申请听证吗？", YESNO, None),
    ("什么是重大行政决策？", DEFINITION, None),
    ("“三项制度”指什么？", DEFINITION, None),
    ("规范性文件由哪个部门负责合法性审核？", WHO, None),
    ("如何推进严格规范公正文明执法？", OPEN, None),
])
def test_answer_types(question, kind, unit):
    assert answer_type(question) == kind
    assert asked_unit(question, kind) == unit


@pytest.mark.parametrize("question,focus", [
    ("的行政执法经费是多少？", "行政执法经费"),
    ("行政复议纠错率是多少？", "行政复议纠错率"),
    ("划转了多少项行政审批事项？", "行政审批事项"),
    ("对行政规范性文件的合法性审核具体审核哪些内容？", "合法性审核具体审核内容"),
    ("什么是重大行政决策？", "重大行政决策"),
    ("简易程序适用于多少元以下的罚款？", "罚款"),
])
def test_focus(question, focus):
    assert focus_of(question) == focus


def test_split_claims():
    assert split_claims("核对：甲县受理3件。乙县办结2件。") == ["甲县受理3件。", "乙县办结2件。"]
    assert split_claims("请核实“某县全年受理复议申请5件”是否属实") == ["某县全年受理复议申请5件"]


# ---- on the bundled corpus ---------------------------------------------------------------------------

def _doc(assistant, fragment: str) -> str:
    return next(d for d in assistant.catalog.documents() if fragment in d)


def test_catalog_tables_and_agency_matching(assistant):
    cat = assistant.catalog
    luohu = _doc(assistant, "luohu")
    baodi = _doc(assistant, "baodi")
    assert cat.agency_documents("区应急管理局") == [luohu]
    assert cat.agency_documents("深圳市罗湖区应急管理局") == [luohu]
    assert cat.agency_documents("罗湖区应急管理局") == [luohu]
    assert cat.agency_documents("区城市管理委员会") == [baodi]
    assert cat.agency_documents("北京市朝阳区应急管理局") == []  # same kind of agency, another place
    assert cat.agency_documents("应急管理局", context="广东省深圳市罗湖区") == [luohu]
    assert "镇巴" in cat.known_names() and cat.get_idf().known("行政复议")


def test_analysis_names_documents_years_and_unknown_agencies(assistant):
    q = assistant.analyse("镇巴县2019年受理了多少件行政复议申请？")
    assert _doc(assistant, "zhenba") in q.docs and q.years == (2019,)
    assert q.answer_type == QUANTITY and q.unit == "件" and "行政复议申请" in q.focus
    assert "镇巴" not in q.topic.text and "2019" not in q.topic.text
    far = assistant.analyse("北京市海淀区应急管理局2020年开展了多少次执法检查？")
    assert far.unresolved or far.foreign_agencies
    ministry = assistant.analyse("生态环境部2021年查处了多少件环境违法案件？")
    assert "生态环境部" in ministry.foreign_agencies
    two = assistant.analyse("镇巴县受理了多少件行政复议申请？其中办结了几件行政复议申请？")
    assert len(two.parts) == 2


@pytest.mark.parametrize("question,topic_terms", [
    ("其他单位是如何建立和发挥法律顾问作用的？", {"法律顾问"}),
    ("各地在行政执法公示方面有哪些做法？", {"行政执法", "公示"}),
    ("兄弟部门是怎么开展普法宣传的", {"普法"}),
    ("镇巴县在深化行政审批制度改革方面做了哪些工作？", {"行政审批"}),
])
def test_others_practice_framing_is_not_the_topic(assistant, question, topic_terms):
    """"How did other agencies do X": 其他/单位/做法 name no topic (on a small knowledge base they would be its
    rarest terms and pick the evidence); the topic keeps X."""
    topic = set(assistant.analyse(question, "compare" if "其他" in question or "各地" in question
                                  or "兄弟" in question else "ask").topic.weights)
    assert not topic & {"其他", "单位", "各地", "兄弟", "部门", "做法", "方面"}, topic
    assert all(any(t in w for w in topic) for t in topic_terms), topic


def test_request_is_analysed_once(assistant, monkeypatch):
    """Every mode analyses the request's text exactly once (counted at the one analysis function)."""
    import vectorstore.query as query

    calls: list[str] = []
    real = query._one

    def counting(text, *args, **kwargs):
        calls.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(query, "_one", counting)
    for mode, text in [("ask", "镇巴县2019年受理了多少件行政复议申请？"), ("compare", "其他单位是如何开展行政执法公示的？"),
                       ("draft", "“法律顾问”"), ("quiz", "行政处罚的简易程序"),
                       ("check", "核对：镇巴县2019年受理的行政复议申请已全部办结。")]:
        calls.clear()
        assistant.run(mode, text, n=2)
        request_text = {"draft": "法律顾问", "check": "核对：镇巴县2019年受理的行政复议申请已全部办结。"}.get(mode, text)
        assert calls.count(request_text) == 1, (mode, calls)
        if mode == "check":  # the claim is analysed once too, and nothing else is
            assert calls.count("镇巴县2019年受理的行政复议申请已全部办结。") == 1 and len(calls) == 2, calls


def test_lead_in_brings_its_items(assistant):
    ans = assistant.run("ask", "天津市人防办对行政规范性文件的合法性审核具体审核哪些内容？")
    assert not ans.refused
    assert "制定主体是否合法" in ans.text and "是否超越制定机关法定职权" in ans.text, ans.text


@needs_governing_texts  # the 国家赔偿法 is a governing text, not a sample
def test_check_compares_values(assistant):
    law = assistant.run("check", "核对：赔偿义务机关决定赔偿的，应当自作出决定之日起十五日内送达赔偿请求人。")
    assert law.verdict == "contradicted", law.text
    assert "十日" in law.claims[0]["reason"] and any("十日" in e["text"] for e in law.claims[0]["evidence"])
    ok = assistant.run("check", "核对：赔偿义务机关决定赔偿的，应当自作出决定之日起十日内送达赔偿请求人。")
    assert ok.verdict == "supported", ok.text


def test_check_compares_none_with_some(assistant):
    none = assistant.run("check", "核对：宝坻区城管委2021年发生了2起行政复议案件。")
    assert none.verdict == "contradicted" and "无一起" in none.claims[0]["reason"], none.text


@pytest.mark.parametrize("question", [
    "镇巴县2019年的行政执法经费是多少？",
    "天津市人防办2019年行政复议纠错率是多少？",
    "北京市海淀区应急管理局2020年开展了多少次执法检查？",
    "生态环境部2021年查处了多少件环境违法案件？",
])
def test_refusal_by_focus_and_unknown_agency(assistant, question):
    ans = assistant.run("ask", question)
    assert ans.refused, ans.text
    assert "以下是最接近的段落" in ans.text or "没有关于" in ans.text


def test_answerable_quantity_is_answered_with_a_value_of_the_unit(assistant):
    ans = assistant.run("ask", "镇巴县2019年受理了多少件行政复议申请？")
    assert not ans.refused and "3件" in ans.text, ans.text


def test_review_finds_the_agency_by_normalised_name(assistant):
    from assistant.review import read_draft, review_text

    luohu = _doc(assistant, "luohu")
    text = read_draft(ROOT / "corpus" / luohu)
    ctx = assistant.context()
    for agency in ("区应急管理局", None):
        r = review_text(text, ctx, agency)
        checked = [c for c in r.claims if c.verdict in ("supported", "contradicted")]
        assert checked and all(e["doc_id"] == luohu for c in checked for e in c.evidence), agency
        assert sum(c.verdict == "supported" for c in r.claims) >= len(r.claims) // 2, r.summary()


def test_judge_compares_none_and_all_claims_by_value():
    from assistant.modes.check import judge, value_conflict

    assert judge("清理的规范性文件全部确认继续有效，没有废止的。", "宣布某规定等3件规范性文件废止")[0] == "contradicted"
    verdict, reason = judge("对原有的3份规范性文件全部予以废止。", "对原来的3份规范性文件进行清理,修改两份,废止1份")
    assert verdict == "contradicted" and "1份" in reason
    assert judge("案件79起，全部录入平台。", "案件79起,结案79件,全部录入平台")[0] == "supported"
    assert "十日" in value_conflict("应当自作出决定之日起十五日内送达", "应当自作出决定之日起十日内送达")
    assert value_conflict("比例为百分之五", "比例为5%") is None
