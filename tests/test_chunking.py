"""Chunk boundaries, sizes, heading paths and ids on every corpus file and on synthetic edge cases."""
from __future__ import annotations

import re
import statistics

import pytest

from conftest import CORPUS, manifest_rows, needs_governing_texts
from ingest.chunking import HEADING_MAX, MAX_CHARS, MAX_TOKENS, chunk_document, count_tokens, heading_of
from ingest.clean import normalize_keep_space
from ingest.metadata import read_manifest
from ingest.pipeline import prepare
from ingest.records import Document

MANIFEST = manifest_rows()
TIANJIN = "reports/2019-tianjin-renfangban-report.txt"
XUKE = "outlines/law-xingzheng-xuke-fa-2019.txt"

_SENT_END = "。！？；!?;"
_CLOSERS = "”’」』）)"


@pytest.fixture(scope="module")
def prepared():
    rows = read_manifest(CORPUS)
    return {rel: prepare(rel, (CORPUS / rel).read_bytes(), ".txt", rows[rel]) for rel in sorted(MANIFEST)}


def _ends_cleanly(text: str, end: int) -> bool:
    """A chunk ends at a sentence end (closing quotes/brackets allowed after it) or at a line end."""
    if end >= len(text) or text[end] == "\n":
        return True
    tail = text[:end].rstrip(_CLOSERS)
    return bool(tail) and tail[-1] in _SENT_END


def _starts_cleanly(text: str, start: int) -> bool:
    """A chunk starts a line (after its indentation) or a sentence."""
    line_start = text.rfind("\n", 0, start) + 1
    if not text[line_start:start].strip():
        return True
    before = text[:start].rstrip(" \t\u3000\u00a0").rstrip(_CLOSERS)
    return bool(before) and before[-1] in _SENT_END


@pytest.mark.parametrize("rel", sorted(MANIFEST))
def test_chunk_offsets_boundaries_and_coverage(prepared, rel):
    prep = prepared[rel]
    doc, chunks = prep.document, prep.chunks
    assert chunks
    prev_end = 0
    for i, c in enumerate(chunks):
        assert c.doc_id == doc.id
        assert c.ordinal == i
        assert c.text == doc.text[c.start:c.end]
        assert c.text == c.text.strip()
        assert c.start >= prev_end  # in order, never overlapping
        # nothing but whitespace is ever left out between chunks
        assert not doc.text[prev_end:c.start].strip(" \t\n\u3000\u00a0\u200b")
        assert _ends_cleanly(doc.text, c.end), (c.ordinal, c.text[-20:], doc.text[c.end:c.end + 10])
        assert _starts_cleanly(doc.text, c.start), (c.ordinal, c.text[:20])
        # never inside a number
        assert not (c.start > 0 and doc.text[c.start - 1].isdigit() and doc.text[c.start].isdigit())
        assert not (c.end < len(doc.text) and doc.text[c.end - 1].isdigit() and doc.text[c.end].isdigit())
        prev_end = c.end
    assert not doc.text[prev_end:].strip()


@pytest.mark.parametrize("rel", sorted(MANIFEST))
def test_chunk_sizes_are_bounded(prepared, rel):
    chunks = prepared[rel].chunks
    for c in chunks:
        assert len(c.text) <= MAX_CHARS + HEADING_MAX
        assert count_tokens(c.text) <= MAX_TOKENS
    sizes = [len(c.text) for c in chunks]
    assert statistics.median(sizes) >= 150
    assert sum(120 <= s <= MAX_CHARS + HEADING_MAX for s in sizes) / len(sizes) >= 0.6


def test_chunk_sizes_over_the_whole_corpus(prepared):
    sizes = [len(c.text) for p in prepared.values() for c in p.chunks]
    assert 190 <= statistics.median(sizes) <= 320
    assert sum(200 <= s <= 400 for s in sizes) / len(sizes) >= 0.55  # mostly 200–400 characters
    assert sum(s < 60 for s in sizes) / len(sizes) <= 0.05


@pytest.mark.parametrize("rel", sorted(MANIFEST))
def test_index_text_has_the_contextual_header(prepared, rel):
    prep = prepared[rel]
    title = normalize_keep_space(prep.document.title)
    for c in prep.chunks:
        header, body = c.index_text.split("\n", 1)
        assert header.startswith(title)
        if c.heading_path:
            assert header == normalize_keep_space(prep.document.title + "｜" + " > ".join(c.heading_path))
        else:
            assert header == title
        assert body == normalize_keep_space(c.text)


def test_chunk_ids_are_stable_and_unique(prepared):
    rows = read_manifest(CORPUS)
    for rel, prep in prepared.items():
        again = prepare(rel, (CORPUS / rel).read_bytes(), ".txt", rows[rel])
        assert [c.id for c in again.chunks] == [c.id for c in prep.chunks]
        ids = [c.id for c in prep.chunks]
        assert len(set(ids)) == len(ids)
        assert all(i.startswith(rel + "#") for i in ids)


def test_chunk_ids_change_with_the_text_only_where_it_changed():
    text = (CORPUS / TIANJIN).read_text(encoding="utf-8")
    a = prepare(TIANJIN, text.encode("utf-8"), ".txt")
    b = prepare(TIANJIN, (text + "\n附件：无").encode("utf-8"), ".txt")
    assert [c.id for c in a.chunks][:-1] == [c.id for c in b.chunks][: len(a.chunks) - 1]
    assert a.chunks[-1].id not in {c.id for c in b.chunks}


# ---- heading paths ------------------------------------------------------------------------------------

def _chunk_with(prep, needle):
    return next(c for c in prep.chunks if needle in c.text)


def test_tianjin_report_heading_paths(prepared):
    prep = prepared[TIANJIN]
    c = _chunk_with(prep, "行政执法监督平台于2015年5月20日正式上线运行")
    # the real text uses ASCII commas/parentheses; the heading text is kept as written (without 。)
    assert c.heading_path == ["三、严格规范公正文明执法,深入推进行政执法“三项制度”改革,强化对行政权力的制约和监督",
                              "(一)整合队伍,强化执法监督"]
    c = _chunk_with(prep, "设置法制审核人员3人")
    assert c.heading_path == ["三、严格规范公正文明执法,深入推进行政执法“三项制度”改革,强化对行政权力的制约和监督",
                              "(二)全面推行行政执法三项制度"]
    c = _chunk_with(prep, "自规范性文件公布之日起20日内")
    assert c.heading_path == ["二、构建系统完备、科学规范、运行有效的依法行政制度体系和健全科学、民主、依法决策机制",
                              "(二)不折不扣整改落实备案审查中发现的问题"]
    # a 56-character section heading without sentence punctuation is still a heading
    c = _chunk_with(prep, "(一)切实履行推进法治建设第一责任人职责,扎实推进法治政府建设")
    assert c.heading_path[0].startswith("四、认真贯彻落实《党政主要负责人履行推进法治建设第一责任人职责规定》")
    assert c.heading_path[1] == "(一)切实履行推进法治建设第一责任人职责,扎实推进法治政府建设"
    c = _chunk_with(prep, "进一步提高干部职工依法行政的意识")
    assert c.heading_path == ["五、法治政府建设工作存在问题及下一步工作考虑"]
    assert prep.chunks[0].heading_path == []


def test_every_report_section_chunk_is_under_its_numbered_heading(prepared):
    for rel, prep in prepared.items():
        if MANIFEST[rel]["kind"] != "report":
            continue
        for c in prep.chunks:
            for h in c.heading_path:
                assert len(h) <= 80
                assert h in prep.document.text[: c.start + len(h) + 1] or h in c.text


@needs_governing_texts
def test_law_chunks_carry_chapter_section_and_article(prepared):
    prep = prepared[XUKE]
    c = _chunk_with(prep, "第三十条 行政机关应当将法律、法规、规章规定的有关行政许可的事项")
    assert c.heading_path[:2] == ["第四章 行政许可的实施程序", "第一节 申请与受理"]
    assert re.fullmatch(r"第三十条(至第[一二三四五六七八九十百]+条)?", c.heading_path[2])
    # 第X节 inside a chapter is a section heading, not an article's list item
    c = _chunk_with(prep, "第四十六条 法律、法规、规章规定实施行政许可应当听证的事项")
    assert c.heading_path[:2] == ["第四章 行政许可的实施程序", "第四节 听 证"]
    c = _chunk_with(prep, "第一条 为了规范行政许可的设定和实施")
    assert c.heading_path[0] == "第一章 总 则"
    assert c.heading_path[1].startswith("第一条")


@pytest.mark.parametrize("rel", sorted(r for r, row in MANIFEST.items() if row["kind"] == "law"))
def test_every_law_chunk_names_its_articles(prepared, rel):
    prep = prepared[rel]
    for c in prep.chunks[1:]:  # chunk 0 is the title and promulgation header
        assert c.heading_path, c.text[:30]
        assert re.fullmatch(r"第[一二三四五六七八九十百零〇\d]+条(至第[一二三四五六七八九十百零〇\d]+条)?",
                            c.heading_path[-1]), (c.heading_path, c.text[:30])
        if re.search(r"(?m)^第[一二三四五六七八九十]+章", prep.document.text):
            assert re.match(r"第[一二三四五六七八九十]+章", c.heading_path[0])
        art = c.heading_path[-1].split("至")[0]  # the article named is in the chunk or just before it
        assert art in c.text or art in prep.document.text[: c.start]


@needs_governing_texts
def test_table_of_contents_is_not_taken_for_sections(prepared):
    prep = prepared["outlines/law-fazhi-xuanchuan-jiaoyu-fa-2025.txt"]
    c = _chunk_with(prep, "第一条\u3000为了加强法治宣传教育")
    assert c.heading_path[0] == "第一章\u3000总\u3000\u3000则"
    assert "目\u3000\u3000录" in prep.chunks[0].text and prep.chunks[0].heading_path == []


@needs_governing_texts
def test_the_title_starts_every_index_text_for_laws_too(prepared):
    prep = prepared[XUKE]
    assert prep.document.title == "中华人民共和国行政许可法（2019年修正）"
    assert all(c.index_text.startswith("中华人民共和国行政许可法(2019年修正)") for c in prep.chunks)


# ---- synthetic edge cases -----------------------------------------------------------------------------

def _doc(text: str, kind: str = "report", title: str = "测试文档") -> Document:
    return Document(id="t.txt", title=title, text=text, content_hash="x", kind=kind)


def test_long_sentence_splits_at_commas_never_inside_numbers():
    clause = "全年共办理行政许可事项12345678件，"
    text = "一、总体情况\n" + clause * 40 + "全部按期办结。"
    chunks = chunk_document(_doc(text))
    assert len(chunks) > 2
    for c in chunks:
        assert c.text == text[c.start:c.end]
        assert len(c.text) <= MAX_CHARS + HEADING_MAX
        assert not (c.end < len(text) and text[c.end - 1].isdigit() and text[c.end].isdigit())
    assert "".join(c.text for c in chunks).replace("\n", "") == text.replace("\n", "")


def test_text_without_any_punctuation_is_cut_between_digits_only():
    text = "甲" * 10 + "1234567890" * 60
    chunks = chunk_document(_doc(text))
    assert "".join(c.text for c in chunks) == text
    for c in chunks:
        assert len(c.text) <= MAX_CHARS


def test_sentences_are_never_cut_in_a_long_paragraph():
    sentences = [f"第{i}项工作已经完成，成效明显；" if i % 3 else f"第{i}项工作正在推进。" for i in range(1, 60)]
    text = "二、主要工作\n" + "".join(sentences)
    chunks = chunk_document(_doc(text))
    assert len(chunks) >= 3
    for c in chunks:
        assert c.text[-1] in "。；" or c.end == len(text)
        assert c.heading_path == ["二、主要工作"]


def test_heading_of_rules():
    assert heading_of("一、总体要求") == (1, "一、总体要求")
    assert heading_of("（二）基本原则。坚持依法规范。") == (2, "（二）基本原则")
    assert heading_of("第三章 合法性审查") == (1, "第三章 合法性审查")
    assert heading_of("第二节 公众参与", in_article=True) == (2, "第二节 公众参与")
    assert heading_of("（一）决策事项是否符合法定权限；", in_article=True) is None
    assert heading_of("（一）制定有关公共服务的重大公共政策和措施；") is None  # a list item ending in ；
    assert heading_of("1.加强组织领导") == (3, "1.加强组织领导")
    assert heading_of("2019年以来，我县深入贯彻。") is None
    assert heading_of("加强组织领导", styled=True, styled_level=2) == (2, "加强组织领导")
    long_heading = "四、" + "认真贯彻落实法治建设第一责任人职责规定全面提高依法行政能力" * 2
    assert heading_of(long_heading)[0] == 1
    assert heading_of(long_heading + "。这是一句正文。") is None
