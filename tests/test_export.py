"""Export of answers and drafts: Word (.docx, opened again with python-docx) and Markdown."""
from __future__ import annotations

import io
import re

from docx import Document

from assistant.delivery import export
from assistant.records import Answer, Flag, Source


def _source(n: int, quote: str, **kw) -> Source:
    base = dict(number=n, doc_id=f"reports/doc{n}.txt", title=f"甲县司法局2020年法治政府建设情况报告{n}", issuer="甲县司法局",
                year=2020, kind="report", heading_path=["二、严格规范公正文明执法"], page=3 if n == 2 else None,
                start=10 * n, end=10 * n + len(quote), quote=quote, context_before="前文", context_after="后文",
                doc_number="甲司〔2021〕1号" if n == 1 else "")
    base.update(kw)
    return Source(**base)


def ask_answer() -> Answer:
    return Answer(
        mode="ask", question="甲县司法局全年评查了多少卷案卷？",
        text="甲县司法局《报告》：\n全年开展行政执法案卷评查2次，评查案卷46卷[1]。\n发现并整改问题11个[2]。",
        sources=[_source(1, "全年开展行政执法案卷评查2次，评查案卷46卷"), _source(2, "发现并整改问题11个")],
        flags=[Flag(sentence="全年评查案卷100卷。", reason="number_mismatch", action="dropped", markers=[1])])


def test_docx_has_body_markers_and_numbered_references_at_the_end():
    data = export.to_docx(ask_answer())
    doc = Document(io.BytesIO(data))
    paras = [p.text for p in doc.paragraphs]
    text = "\n".join(paras)
    assert "甲县司法局全年评查了多少卷案卷？" in text
    assert "评查案卷46卷[1]" in text
    # references: a heading, then one paragraph per source, in order, after the body
    ref_idx = paras.index("三、参考来源")  # the last numbered heading, after 一、回答 and 二、核验提示
    refs = [p for p in paras[ref_idx + 1:] if p.strip()]
    assert refs[0].startswith("[1] 《甲县司法局2020年法治政府建设情况报告1》")
    assert "甲司〔2021〕1号" in refs[0] and "二、严格规范公正文明执法" in refs[0]
    assert "“全年开展行政执法案卷评查2次，评查案卷46卷”" in refs[0]
    assert refs[1].startswith("[2] ") and "第3页" in refs[1]
    assert ref_idx > paras.index("一、回答")
    # the dropped statement is listed under 核验提示, struck through
    flag_para = next(p for p in doc.paragraphs if "全年评查案卷100卷" in p.text)
    assert "已删除" in flag_para.text and any(r.font.strike for r in flag_para.runs)
    # markers are superscript runs
    body = next(p for p in doc.paragraphs if "评查案卷46卷[1]" in p.text and "参考" not in p.text)
    assert any(r.text == "[1]" and r.font.superscript for r in body.runs)
    assert doc.core_properties.title.startswith("问答：")
    assert round(doc.sections[0].page_width.mm) == 210 and doc.styles["Normal"].font.size.pt == 16  # A4, 三号


def test_docx_compare_is_a_table_and_check_has_coloured_verdicts():
    cmp_answer = Answer(mode="compare", question="其他单位是如何开展案卷评查的？",
                        text="共找到2个单位的相关做法：\n甲县司法局（2020）：\n全年评查案卷46卷[1]",
                        sources=[_source(1, "全年评查案卷46卷"), _source(2, "乙市评查案卷30卷")],
                        compare=[{"agency": "甲县司法局", "year": 2020, "practice": ["全年评查案卷46卷"], "figures": ["46卷"],
                                  "sources": [1]},
                                 {"agency": "乙市司法局", "year": 2021, "practice": ["乙市评查案卷30卷"], "figures": ["30卷"],
                                  "sources": [2]}])
    doc = Document(io.BytesIO(export.to_docx(cmp_answer)))
    assert len(doc.tables) == 1
    t = doc.tables[0]
    assert [c.text for c in t.rows[0].cells] == ["单位", "年份", "做法", "关键数字", "来源"]
    assert [c.text for c in t.rows[1].cells][:2] == ["甲县司法局", "2020"]
    assert t.rows[2].cells[2].text == "乙市评查案卷30卷[2]"

    chk = Answer(mode="check", question="核对：甲县评查案卷50卷。", text="【与来源不符】甲县评查案卷50卷。",
                 sources=[_source(1, "全年评查案卷46卷")], verdict="contradicted",
                 claims=[{"claim": "甲县评查案卷50卷。", "verdict": "contradicted", "reason": "数字不符：来源中为46卷",
                          "evidence": [{"text": "全年评查案卷46卷", "source": 1, "doc_id": "reports/doc1.txt"}]}])
    doc = Document(io.BytesIO(export.to_docx(chk)))
    verdict_run = next(r for p in doc.paragraphs for r in p.runs if "与来源不符" in r.text)
    assert str(verdict_run.font.color.rgb) == "C02626"
    assert any("依据：全年评查案卷46卷[1]" == p.text for p in doc.paragraphs)


def test_markdown_export_and_dict_input():
    ans = ask_answer()
    md = export.to_markdown(ans)
    assert md.startswith("# 问答：甲县司法局全年评查了多少卷案卷？")
    assert "全年开展行政执法案卷评查2次，评查案卷46卷[1]。" in md
    refs = md.split("## 参考来源", 1)[1]
    assert re.search(r"^\[1\] 《甲县司法局2020年法治政府建设情况报告1》", refs, re.M)
    assert re.search(r"^\[2\] .*第3页", refs, re.M)
    assert "~~全年评查案卷100卷。~~" in md
    # the JSON form of an answer (what /api/ask returns) exports the same
    assert export.to_markdown(ans.to_dict()).split("\n", 4)[4] == md.split("\n", 4)[4]


def test_draft_quiz_and_refusal_exports():
    draft = Answer(mode="draft", question="第一责任人履职情况", text="（第一责任人履职情况）\n某某区司法局主要负责人召开专题会议【数字】次[1]\n说明：以上段落改写自所引单位的报告原文。",
                   sources=[_source(1, "召开专题会议8次")], draft=[{"text": "…", "sources": [1], "example_agency": "甲县"}])
    doc = Document(io.BytesIO(export.to_docx(draft)))
    assert "一、正文" in [p.text for p in doc.paragraphs]
    assert any("【数字】次[1]" in p.text for p in doc.paragraphs)
    quiz = Answer(mode="quiz", question="案卷评查", text="1. 填空：…", sources=[_source(1, "评查案卷46卷")],
                  quiz=[{"type": "choice", "question": "选择：评查案卷____", "options": ["30卷", "46卷", "50卷", "12卷"],
                         "answer": "46卷", "source": 1, "evidence": "评查案卷46卷"}])
    md = export.to_markdown(quiz)
    assert "（选择题）选择：评查案卷____" in md and "- B. 46卷" in md and "答案：46卷" in md
    refused = Answer(mode="ask", question="火星上有几个司法局？", text="知识库中未找到相关依据，无法回答这个问题。", refused=True)
    md = export.to_markdown(refused)
    assert "> 知识库中未找到相关依据" in md and "## 参考来源" not in md
    Document(io.BytesIO(export.to_docx(refused)))


def test_filename_is_safe():
    name = export.filename(Answer(mode="check", question='核对: a/b\\c*?"<>| 【x】', text=""), "docx")
    assert name.startswith("核对-") and name.endswith(".docx")
    assert not re.search(r'[\\/:*?"<>|\s]', name)
