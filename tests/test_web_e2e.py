"""End-to-end: the real web app over the bundled-corpus knowledge base, driven in headless Chromium
(Debian's ``chromium`` through Playwright's python client — no browser is ever downloaded).

One question in each mode (answer, citation markers and the sources beside it), a follow-up that is
rewritten with the chat history, clicking a marker, Word/Markdown export opened again with
python-docx, and the knowledge-base page: upload a document, find it answered, edit its metadata and
delete it. Screenshots go to tests/artifacts/. A browser that cannot start fails the test loudly.
"""
from __future__ import annotations

import io
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
UPLOAD_NAME = "jixian-scjgj-2023-report.docx"
UPLOAD_ID = f"uploads/{UPLOAD_NAME}"
UPLOAD_LINES = [
    "己县市场监督管理局2023年法治政府建设情况报告",
    "2023年，己县市场监督管理局深入贯彻落实法治政府建设实施纲要，现将有关情况报告如下。",
    "一、严格规范公正文明执法",
    "全年办理行政处罚案件137件，罚没款合计296万元，全部案件均经法制审核。",
    "推行“首违不罚”清单，对48家首次轻微违法的经营主体免予处罚。",
    "二、加强普法宣传",
    "开展“3·15”消费维权普法活动12场，发放宣传资料8600份。",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def web(corpus_kb):
    """The real app (Gradio UI + API, as `fazhi serve` builds it) on a free 127.0.0.1 port."""
    import uvicorn

    from assistant.service import Assistant
    from assistant.settings import Settings
    from assistant.delivery.web import create_app

    kb, _ = corpus_kb
    assistant = Assistant(Settings(kb=kb.store.folder, corpus=str(CORPUS)), kb=kb)
    app = create_app(assistant, None)
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
        if any(d["id"] == UPLOAD_ID for d in service.documents()):  # leave the shared knowledge base as found
            service.delete(UPLOAD_ID)
        server.should_exit = True
        thread.join(15)


@pytest.fixture(scope="module")
def page(web):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # a missing client is a broken set-up, not a reason to skip
        pytest.fail(f"the playwright python package is missing ({exc}); run `make install`")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (`make install` does) — the browser test cannot run")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        except Exception as exc:
            pytest.fail(f"headless chromium would not start: {exc}")
        context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN", accept_downloads=True)
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
        base, _ = web
        pg.goto(base + "/")
        pg.wait_for_selector("#fz-conv .fz-welcome", timeout=60000)
        yield pg
        context.close()
        browser.close()


def shot(pg, name: str) -> None:
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def choose_mode(pg, label: str) -> None:
    pg.locator("#fz-mode label", has_text=label).click()
    pg.wait_for_function(f"document.querySelector('#fz-mode-help').innerText.startsWith('{label}')")


def ask(pg, question: str, timeout: float = 180, enter: bool = False) -> "object":
    """Type a question, send it (button, or the Enter key), wait for the answer; returns the new turn's locator."""
    turns = pg.locator(".fz-turn")
    n = turns.count()
    pg.fill("#fz-input textarea", question)
    if enter:
        pg.press("#fz-input textarea", "Enter")
    else:
        pg.click("#fz-send")
    pg.wait_for_function(
        f"document.querySelectorAll('.fz-turn').length > {n} && "
        f"['done', 'error'].includes(document.querySelectorAll('.fz-turn')[{n}].dataset.status)",
        timeout=timeout * 1000)
    turn = turns.nth(n)
    assert turn.get_attribute("data-status") == "done", turn.inner_text()
    return turn


def assert_cited(turn, min_sources: int = 1) -> None:
    """Markers in the answer, each pointing to a source card beside it with a highlighted quote."""
    markers = turn.locator(".fz-a-main .fz-cite")
    cards = turn.locator(".fz-a-side .fz-src")
    assert markers.count() >= 1, turn.inner_text()
    assert cards.count() >= min_sources
    numbers = {m.get_attribute("data-n") for m in markers.all()}
    card_numbers = {c.get_attribute("data-n") for c in cards.all()}
    assert numbers <= card_numbers, (numbers, card_numbers)
    first = cards.first
    assert first.locator(".fz-src-title").inner_text().startswith("《")
    assert first.locator("mark").inner_text().strip()
    assert first.locator(".fz-src-meta").inner_text().strip()


def test_ask_mode_answers_with_sources_and_marker_click(page):
    turn = ask(page, "天津市人防办的行政执法监督平台是什么时候上线运行的？")
    main = turn.locator(".fz-a-main").inner_text()
    assert "2015年5月20日" in main
    assert_cited(turn)
    side = turn.locator(".fz-a-side").inner_text()
    assert "天津市人防办" in side or "天津市人民防空办公室" in side
    # clicking a marker shows (highlights) that source beside the answer
    marker = turn.locator(".fz-a-main .fz-cite").first
    n = marker.get_attribute("data-n")
    marker.click()
    card = turn.locator(f'.fz-a-side .fz-src[data-n="{n}"]')
    page.wait_for_function(
        f"document.querySelector('#{turn.get_attribute('id')} .fz-src[data-n=\"{n}\"]').classList.contains('fz-active')")
    assert "2015年5月20日" in card.locator("mark").inner_text() or "2015年5月20日" in card.inner_text()
    shot(page, "e2e-01-ask")


def test_follow_up_is_rewritten_with_history(page):
    ask(page, "镇巴县2019年受理了多少件行政复议申请？")
    turn = ask(page, "那划转了多少项行政审批事项？", enter=True)
    rewrite = turn.locator(".fz-rewrite").inner_text()
    assert "镇巴县" in rewrite
    assert "233" in turn.locator(".fz-a-main").inner_text()
    assert_cited(turn)
    shot(page, "e2e-02-followup")


def test_compare_mode_renders_a_table(page):
    choose_mode(page, "对比")
    turn = ask(page, "其他单位是如何建立和发挥法律顾问作用的？")
    assert turn.locator(".fz-rewrite").count() == 0
    rows = turn.locator(".fz-a-main table.fz-table tbody tr")
    assert rows.count() >= 2, turn.inner_text()
    assert turn.locator(".fz-a-main table.fz-table th").first.inner_text() == "单位"
    assert_cited(turn, min_sources=2)
    shot(page, "e2e-03-compare")


def test_draft_mode_with_agency(page):
    choose_mode(page, "起草")
    page.fill("#fz-agency textarea, #fz-agency input", "某某区司法局")
    turn = ask(page, "第一责任人履职情况")
    body = turn.locator(".fz-a-main .fz-draft")
    assert body.count() == 1
    assert "说明" in body.inner_text()
    assert_cited(turn)
    shot(page, "e2e-04-draft")


def test_check_mode_shows_coloured_verdicts(page):
    choose_mode(page, "核对")
    turn = ask(page, "核对：镇巴县2019年受理的行政复议申请已全部办结。")
    claims = turn.locator(".fz-a-main .fz-claim")
    assert claims.count() >= 1
    cls = claims.first.get_attribute("class")
    assert "fz-v-contradicted" in cls, turn.inner_text()
    color = claims.first.evaluate("e => getComputedStyle(e).borderLeftColor")
    assert color == "rgb(220, 38, 38)"  # red for 与来源不符
    assert "与来源不符" in turn.locator(".fz-verdict").inner_text()
    assert_cited(turn)
    shot(page, "e2e-05-check")


def test_quiz_mode_items_with_answers(page):
    choose_mode(page, "出题")
    turn = ask(page, "行政处罚的简易程序")
    assert turn.locator(".fz-rewrite").count() == 0  # a new mode starts afresh: the topic is not rewritten
    items = turn.locator(".fz-a-main .fz-quiz > li")
    assert items.count() >= 1, turn.inner_text()
    items.first.locator("summary").click()
    assert "答案" in items.first.inner_text()
    assert_cited(turn)
    shot(page, "e2e-06-quiz")


def test_export_docx_and_markdown(page, tmp_path):
    from docx import Document

    choose_mode(page, "问答")
    turn = ask(page, "镇巴县划转了多少项行政审批事项？")
    assert_cited(turn)
    with page.expect_download() as dl:
        page.click("#fz-export-docx")
    path = tmp_path / "answer.docx"
    dl.value.save_as(path)
    assert dl.value.suggested_filename.endswith(".docx")
    doc = Document(io.BytesIO(path.read_bytes()))
    paras = [p.text for p in doc.paragraphs]
    assert any("镇巴县划转了多少项行政审批事项" in p for p in paras)
    assert any(re.search(r"233[^\n]*\[\d+\]", p) for p in paras)
    refs = paras[next(i for i, p in enumerate(paras) if p.endswith("、参考来源")) + 1:]
    assert refs and refs[0].startswith("[1] 《")
    with page.expect_download() as dl:
        page.click("#fz-export-md")
    md = Path(dl.value.path()).read_text(encoding="utf-8")
    assert "## 参考来源" in md and "[1] 《" in md


def test_knowledge_base_upload_answer_edit_delete(page, web, tmp_path):
    from docx import Document

    _, service = web
    src = tmp_path / UPLOAD_NAME
    d = Document()
    for line in UPLOAD_LINES:
        d.add_paragraph(line)
    d.save(src)
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"this is not a pdf")

    page.get_by_role("tab", name="知识库管理").click()
    page.wait_for_selector("#fz-docs [role=gridcell]")
    page.locator("#fz-upload-files input[type=file]").set_input_files([str(src), str(bad)])
    page.wait_for_timeout(1500)
    page.click("#fz-upload-btn")
    page.wait_for_selector("#fz-upload-result .fz-upload-summary", timeout=180000)
    result = page.locator("#fz-upload-result")
    added = result.locator(".fz-file-added")
    assert added.count() == 1 and UPLOAD_NAME in added.inner_text() and "个段落" in added.inner_text()
    failed = result.locator(".fz-file-error")
    assert failed.count() == 1 and "不是有效的 PDF 文件" in failed.inner_text()
    shot(page, "e2e-07-kb-upload")
    page.fill("#fz-doc-search textarea, #fz-doc-search input", "己县")
    page.wait_for_timeout(1000)
    assert page.locator("#fz-docs [role=gridcell]", has_text=UPLOAD_ID).count() == 1

    # the new document answers, cited
    page.get_by_role("tab", name="智能问答").click()
    choose_mode(page, "问答")
    turn = ask(page, "己县市场监督管理局2023年办理了多少件行政处罚案件？")
    assert "137件" in turn.locator(".fz-a-main").inner_text()
    assert_cited(turn)
    assert "己县市场监督管理局" in turn.locator(".fz-a-side .fz-src").first.inner_text()
    shot(page, "e2e-08-uploaded-answered")

    # edit its metadata, then delete it, all in the page
    page.get_by_role("tab", name="知识库管理").click()
    page.fill("#fz-doc-search textarea, #fz-doc-search input", "己县")
    page.wait_for_timeout(1000)
    page.locator("#fz-docs [role=gridcell]", has_text=UPLOAD_ID).first.click()
    page.wait_for_function(f"document.querySelector('#fz-e-id textarea, #fz-e-id input').value === '{UPLOAD_ID}'")
    page.fill("#fz-e-region textarea, #fz-e-region input", "某省己县")
    page.fill("#fz-e-year textarea, #fz-e-year input", "2023")
    page.click("#fz-save")
    page.wait_for_selector("#fz-kb-msg .fz-msg-ok", timeout=60000)
    doc = next(x for x in service.documents() if x["id"] == UPLOAD_ID)
    assert doc["region"] == "某省己县" and doc["year"] == 2023
    page.click("#fz-delete")
    page.click("#fz-confirm-delete")
    page.wait_for_function("document.querySelector('#fz-kb-msg').innerText.includes('已删除')", timeout=60000)
    assert not any(x["id"] == UPLOAD_ID for x in service.documents())
    shot(page, "e2e-09-kb-deleted")


def test_review_page_reviews_an_uploaded_draft(page, tmp_path):
    text = (CORPUS / "reports/2021-baodi-qu-chengguanwei-report.txt").read_text(encoding="utf-8")
    start, end = text.index("二、法治政府建设中存在的不足和原因"), text.index("三、第一责任人履职情况")
    draft = tmp_path / "宝坻区城管委2021年报告草稿.txt"
    draft.write_text((text[:start] + text[end:]).replace("聘请职业律师2名", "聘请职业律师5名"), encoding="utf-8")
    page.locator("#fz-tabs button[role=tab]", has_text="报告审阅").click()
    page.set_input_files("#fz-review-file input[type=file]", str(draft))
    page.fill("#fz-review-agency textarea, #fz-review-agency input", "天津市宝坻区城市管理委员会")
    page.click("#fz-review-run")
    page.wait_for_selector("#fz-review-result .fz-review", timeout=240000)
    result = page.inner_text("#fz-review-result")
    assert "存在的不足和原因" in result and "缺失" in result
    assert "与来源不符" in result and "聘请职业律师5名" in result
    assert page.locator("#fz-review-result .fz-badge.fz-bad").count() >= 2
    shot(page, "e2e-10-review")
    with page.expect_download() as dl:
        page.click("#fz-review-docx")
    path = tmp_path / "review.docx"
    dl.value.save_as(path)
    import docx

    assert docx.Document(str(path)).tables[0].rows[1].cells[0].text == "报告"  # under the 项目|结果 header


def test_draft_section_in_the_browser(page):
    """A drafter's section: lead-in with the county's leadership, 一是/二是/三是 none dropped, each cited,
    causes, no half-width punctuation."""
    import re

    page.locator("#fz-tabs button[role=tab]", has_text="智能问答").click()  # back from the other tabs
    choose_mode(page, "起草")
    page.fill("#fz-agency textarea, #fz-agency input", "某某县司法局")
    turn = ask(page, "存在的不足和原因")
    body = turn.locator(".fz-a-main .fz-draft")
    text = body.inner_text()
    assert "县委、县政府" in text and "市委、市政府" not in text
    points = re.findall(r"^([一二三四五六七八九十])是", text, flags=re.M)
    assert points[:3] == ["一", "二", "三"], text
    assert "产生上述问题的原因主要有" in text
    for line in text.split("\n"):
        if re.match(r"^[一二三四五六七八九十]是", line):
            assert re.search(r"\[\d+\]", line), line
    assert not re.search(r"[,;:!?()]", re.sub(r"\[\d+\]", "", text)), text
    assert_cited(turn, min_sources=3)
    shot(page, "e2e-11-draft-section")


def test_quiz_gives_the_items_asked_in_the_browser(page):
    choose_mode(page, "出题")
    turn = ask(page, "政府信息公开")
    items = turn.locator(".fz-a-main .fz-quiz > li")
    assert items.count() == 5, turn.inner_text()  # the slider's default
    assert_cited(turn)
    shot(page, "e2e-12-quiz-5")


def test_review_page_shows_its_sources(page, tmp_path):
    text = (CORPUS / "reports/2019-luohu-qu-yingjiju-report.txt").read_text(encoding="utf-8")
    draft = tmp_path / "罗湖区应急管理局2019年报告草稿.txt"
    draft.write_text(text, encoding="utf-8")
    page.locator("#fz-tabs button[role=tab]", has_text="报告审阅").click()
    clear = page.locator("#fz-review-file button[aria-label='Clear'], #fz-review-file button[aria-label='清除']")
    if clear.count():  # the draft of an earlier review is still there
        clear.first.click()
    page.set_input_files("#fz-review-file input[type=file]", str(draft))
    governing = page.locator("#fz-review-governing input")
    if (CORPUS / "outlines/2018-guobanfa-118-sanxiang-zhidu-yijian.txt").is_file():
        governing.click()
        page.locator("[role=option]", has_text="国办发〔2018〕118号").first.click()
        page.keyboard.press("Escape")
    page.click("#fz-review-run")
    page.wait_for_function("document.querySelector('#fz-review-result .fz-review') && "
                           "document.querySelector('#fz-review-result').innerText.includes('罗湖')", timeout=240000)
    result = page.locator("#fz-review-result")
    assert result.locator("h3", has_text="来源").count() == 1
    sources = result.locator(".fz-review-sources .fz-src")
    assert sources.count() >= 1
    assert sources.first.locator("mark").inner_text().strip()
    assert "结构（5个部分）" in result.inner_text()
    shot(page, "e2e-13-review-sources")


def test_nothing_was_fetched_from_outside(page):
    assert page.outside == [], page.outside
    assert page.errors == [], page.errors


def test_copy_screenshots_for_docs():
    """Refresh docs/screenshots from this run when asked (FAZHI_UPDATE_SCREENSHOTS=1)."""
    import os

    if os.environ.get("FAZHI_UPDATE_SCREENSHOTS") != "1":
        pytest.skip("set FAZHI_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots from this run")
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for src, dst in (("e2e-01-ask", "chat.png"), ("e2e-03-compare", "chat-compare.png"), ("e2e-05-check", "chat-check.png"),
                     ("e2e-07-kb-upload", "knowledge-base.png"), ("e2e-10-review", "review.png")):
        shutil.copy(ARTIFACTS / f"{src}.png", out / dst)
