"""What a drafter, a trainer, a reviewer and a checker see on the bundled corpus: drafts written as a
report section, quizzes spread over the topic, requirements that are requirements, check explanations
about the same predicate, compare cells on the topic."""
from __future__ import annotations

from assistant.llm_base import LLMBackend
from assistant.settings import Settings

import re

import pytest

from conftest import needs_governing_texts

HALF_WIDTH = re.compile(r"[,;:!?()]")
ORDINALS = "一二三四五六七八九十"
SHORT_HEAD = re.compile(r"不足|存在.{0,6}问题|差距")
PLAN_HEAD = re.compile(r"下一步|下一年|计划|打算|安排|思路|考虑")


def _verbatim(assistant, ans):
    for s in ans.sources:
        assert assistant.kb.store.document(s.doc_id).text[s.start: s.end] == s.quote


def _points(ans, role="point"):
    return [p for p in ans.draft if p.get("role") == role]


# ---- wording (pure) ----------------------------------------------------------------------------------

@pytest.mark.parametrize("agency,leaders", [
    ("某某县司法局", "县委、县政府"), ("某某县市场监督管理局", "县委、县政府"), ("某某市某某区城管委", "区委、区政府"),
    ("某某市人民防空办公室", "市委、市政府"), ("某某省司法厅", "省委、省政府"), ("某某镇人民政府", "镇党委、镇政府"),
    (None, "【上级党委、政府】")])
def test_leadership_of_the_agency_level(agency, leaders):
    from assistant.modes.wording import leadership

    assert leadership(agency) == leaders


def test_adapt_replaces_leadership_self_names_and_local_documents():
    from assistant.modes.wording import adapt, full_width

    src = {"issuer": "天津市人民防空办公室", "region": "天津市"}
    out = full_width(adapt("市人防办在市委、市政府的领导下,制定了《天津市人防法律顾问工作规则》,聘请律师3名;", "某某县司法局", src))
    assert out == "某某县司法局在县委、县政府的领导下，制定了《【文件名称】》，聘请律师【数字】名；"


def test_full_width_keeps_numbers():
    from assistant.modes.wording import full_width

    assert full_width("截至12 月 1 日,共立案 631 宗,同比增加了 29%;时间12:30,金额1,000元(含)") == \
        "截至12月1日，共立案631宗，同比增加了29%；时间12:30，金额1,000元（含）"


# ---- draft --------------------------------------------------------------------------------------------

def test_draft_shortcomings_is_a_section_with_points_and_causes(assistant):
    ans = assistant.run("draft", "存在的不足和原因", agency="某某县司法局")
    lines = ans.text.split("\n")
    assert lines[1].startswith("某某县司法局") and "县委、县政府" in lines[1] and lines[1].endswith("：")
    assert "市委、市政府" not in ans.text
    points = _points(ans)
    assert len(points) >= 3
    # 一是/二是/三是… in order, none dropped, each cited, each one sentence-idea (not a whole section)
    assert [p["text"][:2] for p in points] == [f"{ORDINALS[i]}是" for i in range(len(points))]
    assert all(p["sources"] for p in points)
    assert len({p["example_agency"] for p in points}) >= 3
    by_number = {s.number: s for s in ans.sources}
    for p in points:  # every point is drawn from a shortcomings passage, never from plans or practice
        for n in p["sources"]:
            s = by_number[n]
            assert SHORT_HEAD.search(" ".join(s.heading_path) + s.context_before), (p, s.heading_path)
            assert not re.search(r"下一步|整改", s.quote), s.quote
    assert "产生上述问题的原因主要有：" in ans.text
    causes = _points(ans, "cause")
    assert causes and all(re.search(r"受|由于|导致|原因|所限", c["text"]) for c in causes)
    body = "\n".join(p["text"] for p in ans.draft)
    assert not HALF_WIDTH.search(body), body
    assert not re.search(r"我(办|局|委|县|区)", body)
    assert not re.search(r"[二三四五六七八九十]、|[(（][一二三四五六七八九十][)）]", body)  # no heading copied in
    _verbatim(assistant, ans)


def test_draft_next_year_measures_from_plans_sections(assistant):
    ans = assistant.run("draft", "下一年度工作安排", agency="某某市某某区城市管理委员会")
    assert "区委、区政府" in ans.text.split("\n")[1]
    points = _points(ans)
    assert len(points) >= 3 and all(p["sources"] for p in points)
    by_number = {s.number: s for s in ans.sources}
    for p in points:
        s = by_number[p["sources"][0]]
        assert PLAN_HEAD.search(" ".join(s.heading_path) + s.context_before), s.heading_path
    assert "原因" not in ans.text


def test_draft_practice_topic_stays_on_topic(assistant):
    ans = assistant.run("draft", "法律顾问", agency="某某县司法局")
    points = _points(ans)
    assert len(points) >= 3
    assert all("法律顾问" in p["text"] or "律师" in p["text"] for p in points), [p["text"] for p in points]
    by_number = {s.number: s for s in ans.sources}
    assert not any(SHORT_HEAD.search(" ".join(by_number[n].heading_path)) or PLAN_HEAD.search(" ".join(by_number[n].heading_path))
                   for p in points for n in p["sources"])
    body = "\n".join(p["text"] for p in points)
    assert not re.search(r"镇巴|天津|罗湖|宝坻|深圳", body), body  # the example agencies' places and documents are gone
    assert not HALF_WIDTH.search(body)


# ---- quiz ---------------------------------------------------------------------------------------------

@needs_governing_texts
def test_quiz_spreads_over_the_procedures_of_the_topic(assistant):
    ans = assistant.run("quiz", "重大行政决策程序", n=5)
    assert len(ans.quiz) == 5 and "说明：要求出" not in ans.text
    subtopics = {q["subtopic"] for q in ans.quiz}
    assert len(subtopics) >= 4, subtopics
    assert sum(1 for q in ans.quiz if "施行" in q["evidence"]) <= 1
    assert len({q["type"] for q in ans.quiz}) >= 2
    for q in ans.quiz:
        if q["type"] == "judge":
            assert "____" not in q["question"] and q["answer"].startswith(("正确", "错误"))
        if q["type"] == "choice":
            assert len(set(q["options"])) == 4 and q["answer"] in q["options"]
        assert q["source"] in {s.number for s in ans.sources}
    _verbatim(assistant, ans)


@needs_governing_texts
def test_quiz_on_a_narrower_topic_finds_its_sections(assistant):
    ans = assistant.run("quiz", "重大行政决策的公众参与和专家论证", n=5)
    assert len(ans.quiz) == 5
    joined = " ".join(q["subtopic"] for q in ans.quiz)
    assert "公众参与" in joined and "专家论证" in joined


def test_quiz_says_when_fewer_items_come_out(assistant):
    ans = assistant.run("quiz", "行政执法案卷评查", n=12)
    assert ans.quiz
    if len(ans.quiz) < 12:
        assert f"要求出12题" in ans.text and f"只够出{len(ans.quiz)}题" in ans.text


# ---- review against a governing document ---------------------------------------------------------------

@pytest.fixture(scope="module")
def review_118(assistant):
    from assistant.review import review_text

    text = assistant.kb.store.document("reports/2019-tianjin-renfangban-report.txt").text
    return review_text(text, assistant.context(), governing=["outlines/2018-guobanfa-118-sanxiang-zhidu-yijian.txt"])


@needs_governing_texts
def test_requirements_are_obligations_of_the_agency_level(review_118):
    reqs = review_118.requirements
    assert 20 <= len(reqs) <= 60
    for q in reqs:
        assert re.search(r"要|应当|必须|不得|负责|不少于|不超过|严禁|禁止", q.requirement), q.requirement
        assert not re.match(r"^(?:国务院|司法部|省级|省、自治区、直辖市)", q.requirement), q.requirement
        assert "2019年3月底前" not in q.requirement
        assert len(q.requirement) >= 15 and q.heading
    assert not any(q.requirement.startswith(("行政执法是", "坚持")) for q in reqs)  # background and principles
    assert len({q.requirement for q in reqs}) == len(reqs)


@needs_governing_texts
def test_coverage_judged_by_content(review_118, assistant):
    from assistant.review import review_text

    addressed = [q for q in review_118.requirements if q.addressed_by]
    assert 5 <= len(addressed) < len(review_118.requirements)
    assert any("公示" in q.requirement for q in addressed)
    assert any("法制审核" in q.requirement for q in addressed)
    # a draft about something else covers (almost) nothing of it
    other = review_text("某某县司法局2020年法治政府建设情况报告\n一、主要举措和成效\n全年开展宪法宣传周活动，组织普法讲座12场。\n"
                        "推进公共法律服务体系建设，村（社区）法律顾问实现全覆盖。\n", assistant.context(),
                        governing=["outlines/2018-guobanfa-118-sanxiang-zhidu-yijian.txt"])
    assert sum(1 for q in other.requirements if q.addressed_by) <= 2


@needs_governing_texts
def test_review_page_shows_sources_and_counts_all_parts(review_118):
    from assistant.delivery.review_export import _summary_rows
    from assistant.delivery.web_review import review_html

    html = review_html(review_118)
    cited = set(map(int, re.findall(r"\[(\d+)\]</sup>", html)))
    listed = set(map(int, re.findall(r'class="fz-src" data-n="(\d+)"', html)))
    assert cited and cited <= listed
    assert "<h3>来源</h3>" in html and "<mark>" in html
    rows = dict(_summary_rows(review_118))
    assert "结构（5个部分）" in rows
    assert "未写（非必需）1" in rows["结构（5个部分）"]


def test_next_year_examples_are_from_plans_sections(assistant):
    from assistant.evidence import SourceBook
    from assistant.review import part_examples

    ctx = assistant.context()
    book = SourceBook(ctx.store)
    examples = part_examples("下一年度推进法治政府建设的主要安排", ctx, book,
                             headings=["下一年度", "下一步", "工作计划", "工作安排", "工作打算", "工作考虑"])
    assert len(examples) >= 2
    by_number = {s.number: s for s in book.sources}
    for e in examples:
        assert PLAN_HEAD.search(" ".join(by_number[e["source"]].heading_path)), by_number[e["source"]].heading_path
        assert "第一责任人" not in e["text"]


# ---- check explanations ---------------------------------------------------------------------------------

def test_check_explanation_quotes_the_same_predicate(assistant):
    ans = assistant.run("check", "核对：镇巴县2019年县政府作为被告的行政诉讼案件中政府败诉2件。")
    assert ans.verdict == "contradicted"
    row = ans.claims[0]
    assert "胜诉" in row["reason"] and "7件" not in row["reason"], row["reason"]
    first = next(s for s in ans.sources if s.number == row["evidence"][0]["source"])
    assert "所有审结案件均以政府胜诉结案" in first.quote
    assert first.heading_path[-1].startswith("3.行政应诉案件有序办理"), first.heading_path
    for r in row.get("requirements", []):
        assert re.search(r"诉讼|应诉|败诉", r["text"]), r["text"]


# ---- compare --------------------------------------------------------------------------------------------

def test_compare_cells_on_topic_with_key_figures(assistant):
    ans = assistant.run("compare", "其他单位是如何开展行政执法案件审查的？")
    assert len(ans.compare) >= 3
    by_number = {s.number: s for s in ans.sources}
    for r in ans.compare:
        for n in r["sources"]:
            path = " ".join(by_number[n].heading_path)
            assert not (SHORT_HEAD.search(path) or PLAN_HEAD.search(path)), path
        for text in r["practice"]:
            assert not text.startswith("下一步")
        shown = "".join(r["practice"])
        assert all(f in re.sub(r"\s+", "", shown) for f in r["figures"])
        from vectorstore.values import figures

        if any(v.unit != "date" for v in figures(shown)):
            assert r["figures"], r
    assert any("605宗" in r["figures"] for r in ans.compare)


class RecordingBackendDouble(LLMBackend):
    """Test double of an LLM that follows the structure it is given (the real llama.cpp model of
    tests/test_llm_real.py cannot be made to): records the prompt and replies with the skeleton."""
    name = "recording-double"

    def __init__(self):
        self.settings = Settings(llm_context_tokens=32768)  # a model with a long window (Qwen-class)
        self.user = ""

    def complete(self, system, user, on_token=None):
        self.user = user
        return user.split("<结构>")[1].split("</结构>")[0].strip()


def test_draft_with_llm_gets_the_skeleton_and_keeps_its_citations_with_a_backend_double(assistant):
    from assistant.modes import Request, run

    double = RecordingBackendDouble()
    req = Request("draft", "存在的不足和原因", agency="某某县司法局", backend=double)
    ans = run(req, assistant.analyse(req.question, "draft"), assistant.context())
    assert "<结构>" in double.user and "一是" in double.user and "县委、县政府" in double.user
    assert not ans.refused, ans.text
    assert re.search(r"一是[^\n]+\[\d+\]", ans.text) and re.search(r"二是[^\n]+\[\d+\]", ans.text)
    assert "产生上述问题的原因主要有" in ans.text
    assert not HALF_WIDTH.search(re.sub(r"\[\d+\]", "", ans.text))
    _verbatim(assistant, ans)


def test_compare_key_figures_come_with_the_data_sentence(assistant):
    ans = assistant.run("compare", "其他单位是如何开展行政执法案卷评查的？")
    rows = {r["agency"]: r for r in ans.compare}
    zhenba = next(r for a, r in rows.items() if "镇巴" in a)
    assert "35卷" in zhenba["figures"]
    assert all("三项" not in r["figures"] for r in ans.compare)
    assert not any("监督平台" in "".join(r["practice"]) for r in ans.compare)  # 案卷评查 only


def test_draft_keeps_a_list_whole(assistant):
    """An item whose lead-in announces a list (明确合法性审核具体内容。包括：…) is worded with every item of it."""
    from assistant.evidence import SourceBook
    from assistant.modes.draft import _trim
    from assistant.modes.sections import items_of
    from vectorstore.retrieve import Hit

    store = assistant.kb.store
    doc_id = "reports/2019-tianjin-renfangban-report.txt"
    ch = next(c for c in store.doc_chunks(doc_id) if "明确合法性审核具体内容" in c.text)
    doc = assistant.catalog.document(doc_id)
    items = items_of(ch.text, ch.start, doc_id, lambda _o: Hit(chunk=ch, doc=doc, rank=1, score=0.0))
    item = next(it for it in items if "明确合法性审核具体内容" in it.title)
    text, end = _trim(item, SourceBook(store), set(), assistant.settings.draft_point_chars)
    assert text.startswith("明确合法性审核具体内容。包括") and "制定主体是否合法" in text
    assert "是否违反规范性文件制定程序" in text, text
    assert store.document(doc_id).text[item.start: end].endswith("等。")
