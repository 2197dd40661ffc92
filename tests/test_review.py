"""Whole-report review on the bundled reports and on a deliberately broken draft."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import needs_governing_texts

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "corpus" / "reports"


@pytest.fixture(scope="module")
def ctx(corpus_kb):
    from assistant.service import Assistant
    from assistant.settings import Settings

    kb, _ = corpus_kb
    return Assistant(Settings(kb=kb.store.folder), kb=kb).context()


_CACHE: dict = {}


def _review(ctx, name, agency=None, governing=None, text=None):
    """Reviews are deterministic: each distinct input is reviewed once per module."""
    from assistant.review import read_draft, review_text

    key = (name, agency, tuple(governing or ()), text)
    if key not in _CACHE:
        _CACHE[key] = review_text(text if text is not None else read_draft(REPORTS / name), ctx, agency, governing)
    return _CACHE[key]


def _status(review):
    return {p.id: p.status for p in review.parts}


def test_baodi_has_the_first_four_parts_under_their_own_headings(ctx):
    r = _review(ctx, "2021-baodi-qu-chengguanwei-report.txt")
    parts = {p.id: p for p in r.parts}
    for pid in ("measures", "shortcomings", "leaders", "next_year"):
        assert parts[pid].status == "present" and parts[pid].how == "heading", parts[pid]
    assert "存在的不足和原因" in parts["shortcomings"].headings[0]


def test_luohu_structure(ctx):
    parts = {p.id: p for p in _review(ctx, "2019-luohu-qu-yingjiju-report.txt").parts}
    assert parts["measures"].how == "heading" and parts["shortcomings"].how == "heading"
    assert parts["next_year"].how == "heading"
    assert parts["leaders"].status == "present" and parts["leaders"].how == "content"


def test_tianjin_structure(ctx):
    parts = {p.id: p for p in _review(ctx, "2019-tianjin-renfangban-report.txt").parts}
    assert all(p.status == "present" for p in parts.values() if p.required)
    assert parts["shortcomings"].headings == parts["next_year"].headings  # one section covers both
    assert any("第一责任人" in h for h in parts["leaders"].headings)


def test_zhenba_parts_are_in_running_text(ctx):
    parts = {p.id: p for p in _review(ctx, "2019-zhenba-xian-report.txt").parts}
    assert parts["measures"].how == "heading"
    for pid in ("shortcomings", "leaders", "next_year"):
        assert parts[pid].status == "present" and parts[pid].how == "content", parts[pid]


def test_bundled_report_claims_are_supported_by_itself(ctx):
    r = _review(ctx, "2019-zhenba-xian-report.txt")
    verdicts = {c.verdict for c in r.claims}
    assert "contradicted" not in verdicts
    assert sum(c.verdict == "supported" for c in r.claims) >= 0.6 * len(r.claims)


def _broken_baodi() -> str:
    text = (REPORTS / "2021-baodi-qu-chengguanwei-report.txt").read_text(encoding="utf-8")
    start = text.index("二、法治政府建设中存在的不足和原因")
    end = text.index("三、第一责任人履职情况")
    text = text[:start] + text[end:]  # the shortcomings part removed
    assert "聘请职业律师2名" in text
    text = text.replace("聘请职业律师2名", "聘请职业律师5名")  # a figure changed
    text += "\n全年一般程序行政处罚案件79起，结案均未完成。\n本委2021年新建执法记录仪管理平台1个。\n"
    return text


def test_broken_draft_findings(ctx):
    r = _review(ctx, "", agency="天津市宝坻区城市管理委员会", text=_broken_baodi())
    status = _status(r)
    assert status["shortcomings"] == "missing"
    assert status["measures"] == status["leaders"] == status["next_year"] == "present"
    missing = next(p for p in r.parts if p.id == "shortcomings")
    assert missing.examples and all(e["source"] for e in missing.examples)
    assert all(e["agency"] != "天津市宝坻区城市管理委员会" for e in missing.examples)  # other agencies' wording
    assert not any(c.sentence.startswith("区城管委2021年法治政府建设情况报告") for c in r.claims)  # the title
    changed = next(c for c in r.claims if "聘请职业律师5名" in c.sentence)
    assert changed.verdict == "contradicted"
    assert any("2名" in e["text"] for e in changed.evidence)
    own = next(c for c in r.claims if "执法记录仪管理平台" in c.sentence)
    assert own.verdict == "needs_agency_records"
    by_number = {s.number: s for s in r.sources}
    for c in r.claims:
        for e in c.evidence:
            src = by_number[e["source"]]
            assert ctx.store.document(src.doc_id).text[src.start: src.end] == src.quote


@needs_governing_texts
def test_requirements_coverage_lists_cited_requirements(ctx):
    r = _review(ctx, "2019-zhenba-xian-report.txt",
                governing=["outlines/2018-guobanfa-118-sanxiang-zhidu-yijian.txt"])
    assert len(r.requirements) >= 10
    assert all(re.search(r"要|应当|必须|不得|不少于|不超过|负责|严禁|禁止", q.requirement) for q in r.requirements)
    addressed = [q for q in r.requirements if q.addressed_by]
    assert addressed and len(addressed) < len(r.requirements)
    assert any("法制审核" in q.requirement and q.addressed_by for q in r.requirements)


def test_review_sheet_exports(ctx, tmp_path):
    import docx

    from assistant.delivery.review_export import to_docx, to_markdown

    r = _review(ctx, "", agency="天津市宝坻区城市管理委员会", text=_broken_baodi())
    md = to_markdown(r)
    assert "结构完整性" in md and "缺失" in md and "与来源不符" in md
    path = to_docx(r, tmp_path / "review.docx")
    d = docx.Document(str(path))
    assert d.tables and [c.text for c in d.tables[0].rows[0].cells] == ["项目", "结果"] and d.tables[0].rows[1].cells[0].text == "报告"
    body = "\n".join(p.text for p in d.paragraphs)
    assert "参考来源" in body and "[1]" in body


def test_review_cli_json(corpus_kb, tmp_path, capsys):
    import json

    from assistant.delivery.cli import main

    kb, _ = corpus_kb
    draft = tmp_path / "draft.txt"
    draft.write_text(_broken_baodi(), encoding="utf-8")
    rc = main(["--kb", str(kb.store.folder), "review", str(draft), "--agency", "天津市宝坻区城市管理委员会",
               "--json", "--docx", str(tmp_path / "sheet.docx")])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["parts_missing"] == 1 and out["summary"]["contradicted"] >= 1
    assert (tmp_path / "sheet.docx").is_file()
    assert main(["--kb", str(kb.store.folder), "review", str(tmp_path / "nope.docx")]) == 2
