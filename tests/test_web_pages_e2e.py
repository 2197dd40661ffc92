"""End-to-end, in headless Chromium (Debian's chromium through Playwright's python client): the 检索测试 page,
the 文档查看 page opened from a source card, a retrieval hit and the knowledge-base list, chunk editing in the
browser surviving a re-ingest, the source cards' metadata and 详情 toggle, and the knowledge-base page's fixes
(buttons inactive until a document is chosen, columns that do not wrap). Each assertion is on what a user
sees. Screenshots go to tests/artifacts/ (and docs/screenshots/ with FAZHI_UPDATE_SCREENSHOTS=1)."""
from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT, make_cjk_pdf
from test_web_e2e import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, _free_port, ask

PDF_NAME = "wuxian-sfj-2022-scan.pdf"
PDF_ID = f"uploads/{PDF_NAME}"
OCR_WRONG = "评查案卷四十陆卷"  # what a poor OCR made of the scan
OCR_RIGHT = "评查案卷四十六卷"
PDF_PAGES = [
    ["戊县司法局2022年法治政府建设情况报告", "一、加强组织领导", "局党组全年召开专题会议研究法治政府建设工作6次。"],
    ["二、严格规范公正文明执法", f"全年开展行政执法案卷评查3次，{OCR_WRONG}，发现并整改问题9个。",
     "三、下一步工作打算", "继续深化法治宣传教育，推动领导干部学法用法常态化。"],
]


@pytest.fixture(scope="module")
def web(corpus_kb):
    import uvicorn

    from assistant.delivery.web import create_app
    from assistant.service import Assistant
    from assistant.settings import Settings

    kb, _ = corpus_kb
    app = create_app(Assistant(Settings(kb=kb.store.folder, corpus=str(CORPUS)), kb=kb), None)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the web app did not start"
        time.sleep(0.05)
    service = app.state.service
    try:
        yield f"http://127.0.0.1:{port}", service
    finally:
        if any(d["id"] == PDF_ID for d in service.documents()):  # leave the shared knowledge base as found
            service.delete(PDF_ID)
        server.should_exit = True
        thread.join(15)


@pytest.fixture(scope="module")
def page(web):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (`make install` does)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
        outside: list[str] = []

        def guard(route):
            url = route.request.url
            if url.startswith(("http://127.0.0.1", "data:", "blob:")):
                return route.continue_()
            outside.append(url)
            return route.abort()

        context.route("**/*", guard)
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.outside, pg.errors = outside, errors
        pg.goto(web[0] + "/")
        pg.wait_for_selector("#fz-conv .fz-welcome", timeout=60000)
        yield pg
        context.close()
        browser.close()


def shot(pg, name: str, full: bool = False) -> None:
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


def tab(pg, name: str) -> None:
    pg.get_by_role("tab", name=name).click()


def in_viewport(pg, selector: str) -> bool:
    return pg.evaluate(f"""() => {{ const r = document.querySelector('{selector}').getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0; }}""")


def wait_doc_view(pg, doc_title_part: str) -> None:
    pg.wait_for_function(f"(document.querySelector('#fz-d-meta')?.innerText || '').includes({doc_title_part!r})",
                         timeout=60000)
    pg.wait_for_selector("#fz-d-view .fz-chunk")


def test_source_card_shows_metadata_and_opens_the_quote_in_its_document(page, web):
    _, service = web
    turn = ask(page, "镇巴县划转了多少项行政审批事项？")
    card = turn.locator(".fz-a-side .fz-src").first
    assert card.locator(".fz-src-title").inner_text().startswith("《镇巴县")
    meta = card.locator(".fz-src-meta").inner_text()
    assert "2019年" in meta and "工作报告" in meta
    assert card.locator(".fz-src-path").inner_text().startswith("章节：")
    # file id and character offsets are not shown until 详情 is opened
    ident = card.locator(".fz-src-id")
    assert not ident.is_visible()
    assert ".txt" not in card.inner_text() and "字符" not in card.inner_text()
    # the export buttons are in view without scrolling
    page.evaluate("window.scrollTo(0, 0)")
    assert in_viewport(page, "#fz-export-docx") and page.locator("#fz-export-docx").is_enabled()
    shot(page, "pages-01-chat-sources")
    card.locator(".fz-src-more summary").click()
    assert ident.is_visible() and "reports/" in ident.inner_text() and "位置：第" in ident.inner_text()
    quote = card.locator("mark").inner_text().strip()
    card.locator(".fz-open-doc").click()
    wait_doc_view(page, "镇巴县")
    page.wait_for_selector("#fz-quote")
    page.wait_for_timeout(600)  # the scroll into view runs after the render
    assert page.locator("#fz-quote").inner_text().strip() == quote
    assert page.locator("#fz-quote").is_visible() and in_viewport(page, "#fz-quote")
    focus = page.locator("#fz-d-view .fz-chunk-focus")
    assert focus.count() == 1 and quote in focus.inner_text()
    # the editor shows that chunk
    assert quote.replace("\n", "")[:20] in page.locator("#fz-d-text textarea").input_value().replace("\n", "")
    shot(page, "pages-02-document-quote")


def test_retrieval_page_shows_each_retrievers_ranks_and_opens_a_passage(page, web):
    _, service = web
    from vectorstore.retrieve import Filters

    tab(page, "检索测试")
    page.fill("#fz-r-query textarea", "行政执法公示制度")
    page.locator("#fz-r-kind label", has_text="工作报告").click()
    page.click("#fz-r-go")
    page.wait_for_selector("#fz-r-results .fz-hit", timeout=120000)
    rows = page.locator("#fz-r-results .fz-hit")
    expected = service.retrieval_trace("行政执法公示制度", Filters.parse({"kind": ["report"]}), 10)
    assert rows.count() == len(expected) == 10
    head = page.locator("#fz-r-results thead").inner_text()
    for col in ("BM25", "向量", "融合", "最终分"):
        assert col in head
    for i in (0, 1, 4):  # the figures a user reads are the retriever's own
        cells = rows.nth(i).locator("td")
        t = expected[i]["trace"]
        assert cells.nth(0).inner_text().strip() == str(expected[i]["rank"])
        bm25 = cells.nth(2).inner_text()
        assert (str(t["bm25_rank"]) in bm25 and f"{t['bm25_score']:.2f}" in bm25) if t["bm25_rank"] else "未命中" in bm25
        dense = cells.nth(3).inner_text()
        assert (f"{t['dense_score']:.3f}" in dense) if t["dense_rank"] else "未命中" in dense
        assert f"{t['final_score']:.3f}" in cells.nth(6).inner_text()
        assert expected[i]["title"] in cells.nth(1).inner_text()
    # the filter held: every passage is from a report
    kinds = {service.document(rows.nth(i).get_attribute("data-doc"))["kind"] for i in range(rows.count())}
    assert kinds == {"report"}
    summary = page.locator(".fz-hits-summary").inner_text()
    assert "共 10 个段落" in summary
    shot(page, "pages-03-retrieval")
    second = expected[1]
    rows.nth(1).locator(".fz-hit-text").click()
    wait_doc_view(page, second["title"][:8])
    page.wait_for_selector("#fz-quote")
    assert page.locator("#fz-quote").inner_text().replace("\n", "") == second["text"].replace("\n", "")
    page.wait_for_timeout(600)
    assert in_viewport(page, "#fz-quote")


def test_knowledge_base_buttons_and_columns(page, web):
    tab(page, "知识库管理")
    page.wait_for_selector("#fz-docs [role=gridcell]")
    page.fill("#fz-doc-search textarea, #fz-doc-search input", "")
    page.wait_for_timeout(800)
    for b in ("#fz-save", "#fz-reingest", "#fz-delete", "#fz-open-doc-kb"):
        assert page.locator(b).is_disabled(), b
    # the id, year, kind and date never wrap: each cell of those columns is one line high
    heights = page.evaluate("""() => [...document.querySelectorAll('#fz-docs [role=gridcell]')]
        .filter(c => ['0', '4', '5', '7'].includes(c.dataset.col) && c.innerText.trim())
        .map(c => { const s = c.querySelector('span'); const lh = parseFloat(getComputedStyle(s).lineHeight) || 20;
                    return [c.innerText.trim(), s.getBoundingClientRect().height / lh]; })""")
    assert heights and all(h < 1.5 for _, h in heights), [x for x in heights if x[1] >= 1.5]
    # and the year, kind, chunk count and date are shown whole (not cut off)
    cut = page.evaluate("""() => [...document.querySelectorAll('#fz-docs [role=gridcell]')]
        .filter(c => ['4', '5', '6', '7'].includes(c.dataset.col) && c.innerText.trim())
        .filter(c => { const s = c.querySelector('span'); return s.scrollWidth > s.clientWidth + 1 ||
                       s.getBoundingClientRect().right > c.getBoundingClientRect().right + 1; })
        .map(c => c.innerText.trim())""")
    assert cut == [], cut
    assert any(t == "纲要/指导文件" for t, _ in heights) or any(t == "法律法规" for t, _ in heights)
    page.locator("#fz-docs [role=gridcell]").first.click()
    page.wait_for_function("document.querySelector('#fz-e-id textarea, #fz-e-id input').value !== ''")
    for b in ("#fz-save", "#fz-reingest", "#fz-delete", "#fz-open-doc-kb"):
        assert page.locator(b).is_enabled(), b
    shot(page, "pages-04-knowledge-base")


def test_review_page_governing_choices_do_not_repeat_the_doc_number(web):
    from assistant.delivery.web_review import governing_choices

    _, service = web
    docs = {d["id"]: d for d in service.documents()}
    choices = governing_choices(service)
    assert choices
    for label, doc_id in choices:
        number = docs[doc_id].get("doc_number")
        if number:
            assert label.count(number) == 1, label


def test_chunk_edit_in_the_browser_survives_reingest(page, web):
    _, service = web
    res = service.upload(PDF_NAME, make_cjk_pdf(PDF_PAGES), {"kind": "report"})
    assert res["status"] == "added", res
    tab(page, "知识库管理")
    page.fill("#fz-doc-search textarea, #fz-doc-search input", "wuxian")  # the list refreshed with this search
    page.wait_for_timeout(500)
    page.click("text=刷新列表")
    page.wait_for_function("[...document.querySelectorAll('#fz-docs [role=gridcell]')].length > 0 && "
                           "[...document.querySelectorAll('#fz-docs [role=gridcell][data-col=\"0\"]')]"
                           ".every(c => c.innerText.includes('wuxian'))", timeout=60000)
    page.locator("#fz-docs [role=gridcell]", has_text=PDF_ID).first.click()
    page.wait_for_function(f"document.querySelector('#fz-e-id textarea, #fz-e-id input').value === '{PDF_ID}'")
    page.click("#fz-open-doc-kb")
    wait_doc_view(page, "戊县司法局")
    target = page.locator("#fz-d-view .fz-chunk", has_text=OCR_WRONG)
    assert target.count() == 1 and "第2页" in target.locator(".fz-chunk-head").inner_text()
    target.click()
    page.wait_for_function(f"(document.querySelector('#fz-d-text textarea')?.value || '').includes({OCR_WRONG!r})")
    assert page.locator("#fz-d-revert").is_disabled()
    text = page.locator("#fz-d-text textarea").input_value()
    page.fill("#fz-d-text textarea", text.replace(OCR_WRONG, OCR_RIGHT))
    page.click("#fz-d-save")
    page.wait_for_selector("#fz-d-msg .fz-msg-ok", timeout=120000)
    assert "重新向量化" in page.locator("#fz-d-msg").inner_text()
    edited = page.locator("#fz-d-view .fz-chunk-edited")
    assert edited.count() == 1 and OCR_RIGHT in edited.inner_text() and "已修改" in edited.inner_text()
    assert OCR_WRONG not in page.locator("#fz-d-view").inner_text()
    assert page.locator("#fz-d-revert").is_enabled()
    shot(page, "pages-05-document-edited")
    # re-ingest from the original file in the knowledge-base page: the correction stays
    tab(page, "知识库管理")
    page.click("#fz-reingest")
    page.wait_for_function("(document.querySelector('#fz-kb-msg')?.innerText || '').includes('已重新导入')",
                          timeout=180000)
    page.click("#fz-open-doc-kb")
    wait_doc_view(page, "戊县司法局")
    edited = page.locator("#fz-d-view .fz-chunk-edited")
    assert edited.count() == 1 and OCR_RIGHT in edited.inner_text()
    assert OCR_WRONG not in page.locator("#fz-d-view").inner_text()
    # and an answer quotes the corrected text, verbatim from the stored document
    tab(page, "智能问答")
    turn = ask(page, "戊县司法局2022年评查了多少卷行政执法案卷？")
    side = turn.locator(".fz-a-side").inner_text()
    assert OCR_RIGHT in side and OCR_WRONG not in side


def test_nothing_was_fetched_from_outside(page):
    assert page.outside == [], page.outside
    assert page.errors == [], page.errors


def test_copy_screenshots_for_docs():
    """Refresh docs/screenshots from this run when asked (FAZHI_UPDATE_SCREENSHOTS=1)."""
    if os.environ.get("FAZHI_UPDATE_SCREENSHOTS") != "1":
        pytest.skip("set FAZHI_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots from this run")
    out = ROOT / "docs" / "screenshots"
    for src, dst in (("pages-01-chat-sources", "chat-sources.png"), ("pages-02-document-quote", "document.png"),
                     ("pages-03-retrieval", "retrieval.png"), ("pages-04-knowledge-base", "knowledge-base.png"),
                     ("pages-05-document-edited", "document-edited.png")):
        shutil.copy(ARTIFACTS / f"{src}.png", out / dst)
