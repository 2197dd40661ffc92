"""Rules that carry to questions nobody tuned for: which-questions are lists, a law named beside a report
is an evidence source too, a 《title》 asked about must be in the knowledge base, a claim is supported
only by evidence giving its values, and paraphrased questions are answered by the sentence that means
the same (embedding similarity) rather than the one sharing most words.

The questions here are written for these tests (not taken from the eval files)."""
from __future__ import annotations

import pytest

from assistant.modes.check import values_found
from vectorstore.catalog import doc_aliases
from vectorstore.query import LIST, answer_type

from conftest import needs_governing_texts


@pytest.mark.parametrize("question", [
    "年度考核的结果分为哪几个等次？",
    "该局制定了哪两项制度？",
    "报告提到了哪三部规章？",
    "哪些事项需要法制审核？",
])
def test_which_questions_are_lists_not_counts(question):
    assert answer_type(question) == LIST


def test_an_abbreviated_agency_name_is_an_alias_of_its_report():
    d = {"title": "区城管委2021年法治政府建设情况报告", "issuer": "天津市宝坻区城市管理委员会",
         "region": "天津市宝坻区", "kind": "report"}
    aliases = doc_aliases(d)
    assert {"区城管委", "城管委", "宝坻区"} <= aliases


def test_values_found_needs_every_figure_of_the_claim():
    assert values_found("共办理案件12件", "全年办理案件十二件。")
    assert not values_found("处分期为十二个月", "处分期满后自动解除。")
    assert not values_found("受理3件，办结2件", "受理3件，办结1件。")
    assert values_found("处罚金额有所增加", "行政处罚金额同比增加。")  # no figure: nothing to find


@needs_governing_texts
def test_a_law_named_beside_a_report_is_searched_too(assistant):
    q = assistant.analyse("宝坻区城管委提到了行政处罚法。按行政处罚法，哪些情形适用听证？")
    kinds = {assistant.catalog.kind_of(d) for d in q.docs}
    assert {"report", "law"} <= kinds


@needs_governing_texts
def test_a_title_asked_about_that_the_kb_lacks_is_refused_even_if_quoted_elsewhere(assistant):
    # 公务员法 is cited inside other laws of the corpus but is not itself in the knowledge base
    ans = assistant.run("ask", "《公务员法》规定公务员的级别有多少级？")
    assert ans.refused and "公务员法" in ans.text
    # a document the knowledge base holds is answered
    ok = assistant.run("ask", "《中华人民共和国行政强制法》规定查封、扣押的期限是多久？")
    assert not ok.refused and "三十日" in ok.text


@needs_governing_texts
def test_paraphrase_is_answered_by_the_sentence_that_means_the_same(assistant):
    ans = assistant.run("ask", "执法人员能不能半夜去居民家里强制执行？")
    assert not ans.refused
    assert "不得在夜间" in ans.text  # shares almost no word with the question


@needs_governing_texts
def test_when_at_the_latest_is_answered_by_a_time_limit(assistant):
    ans = assistant.run("ask", "不服处罚想申请复议，最晚什么时候要提出？")
    assert not ans.refused  # refused before: the gate took "when" for a date only
    assert "行政复议法" in ans.text


@needs_governing_texts
def test_a_claim_whose_figure_no_source_gives_is_not_supported(assistant):
    ans = assistant.run("check", "核对：公职人员受到记过处分的，处分期为九个月。")
    assert ans.verdict in ("contradicted", "not_found")


@pytest.mark.parametrize("question", [
    "镇巴县公安局2019年办理了多少起行政案件？",  # a department of a place whose own report is in the KB
    "天津市司法局如何推进法治政府建设？",
])
def test_a_department_without_its_own_report_is_refused(assistant, question):
    ans = assistant.run("ask", question)
    assert ans.refused


@pytest.mark.parametrize("question", [
    "镇巴县政府2019年受理了多少件行政复议申请？",  # the place's government is its own report
    "宝坻区城管委2021年聘请了几名法律顾问？",
])
def test_the_place_government_and_known_agencies_are_answered(assistant, question):
    assert not assistant.run("ask", question).refused


@pytest.mark.parametrize("question", [
    "罗湖区应急局2019年立案多少宗？",  # 应急局 for 应急管理局
    "宝坻城管委2021年聘请了几名法律顾问？",  # place without its 区
    "镇巴县组织了多少个镇办参加规范性文件培训？",  # a question word is not part of a name
])
def test_short_forms_of_an_issuer_are_that_issuer(assistant, question):
    q = assistant.analyse(question)
    assert q.foreign_agencies == ()
    assert not assistant.run("ask", question).refused


def test_an_agency_of_another_place_is_not_a_short_form(assistant):
    assert not assistant.catalog.abbreviates_issuer("天津市应急管理局")
    assert assistant.catalog.abbreviates_issuer("罗湖区应急局")


def test_an_article_number_is_not_a_count_against_a_none_claim():
    from assistant.modes.check import judge

    verdict, _ = judge("全年无一起行政复议或诉讼案件发生。", "第八十八条 行政复议期间的计算和行政复议文书的送达，依照民事诉讼法。")
    assert verdict != "contradicted"
    verdict, reason = judge("全年没有废止规范性文件。", "对3件规范性文件予以废止，修改1件。")
    assert verdict == "contradicted"


def test_a_thing_named_only_in_a_quoted_title_has_no_count(assistant):
    """罗湖区应急管理局's report names 公职律师 only inside a document's title (《关于推行法律顾问制度和公职律师…》)
    and counts 法律顾问: asked how many 公职律师 it has, the assistant refuses instead of giving that count."""
    ans = assistant.run("ask", "罗湖区应急管理局有多少名公职律师？")
    assert ans.refused and "公职律师" in ans.text, ans.text
    counted = assistant.run("ask", "罗湖区应急管理局督促街道公共安全办公室配备了几名专职法律顾问？")
    assert not counted.refused and "1名" in counted.text, counted.text


def test_how_others_did_it_finds_every_agency_on_a_small_corpus(assistant):
    """The compare framing (其他单位是如何……的) is not the topic, whatever the corpus's size."""
    ans = assistant.run("compare", "其他单位是如何建立和发挥法律顾问作用的？")
    assert len({r["agency"] for r in ans.compare}) >= 3, ans.text
    absent = assistant.run("compare", "其他单位在量子计算机采购方面是怎么做的？")
    assert absent.refused, absent.text


def test_what_was_done_is_not_answered_from_next_years_plans(assistant):
    """"在X方面做了哪些工作" is about practice: 方面/工作 frame the topic, and the report's plans section
    (在今后的工作中…) does not answer it while the section titled with X does."""
    ans = assistant.run("ask", "天津市宝坻区城市管理委员会在强化组织领导方面做了哪些工作？")
    assert not ans.refused and "领导小组" in ans.text, ans.text
    assert "今后" not in ans.text, ans.text
