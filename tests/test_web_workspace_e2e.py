"""End-to-end in headless Chromium: the feedback bar under each answer and the saved conversations (历史对话),
over a server that is stopped and started again in the middle (the same knowledge-base folder).

What a user sees is asserted (the bar's recorded state, the list's titles, the reopened turns) and what was
stored is read back from the knowledge base's database. Screenshots go to tests/artifacts/ and docs/screenshots/.
"""
from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT

ARTIFACTS = ROOT / "tests" / "artifacts"
DOCS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
Q1 = "镇巴县2019年受理了多少件行政复议申请？"
Q2 = "那划转了多少项行政审批事项？"
Q3 = "天津市人防办的行政执法监督平台是什么时候上线运行的？"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The real app (as `fazhi serve` builds it) on 127.0.0.1; ``restart()`` stops it and builds a new app over
    the same knowledge-base folder (new Service, new Workspace, new database connections)."""

    def __init__(self, kb, auth: str | None = None) -> None:
        self.kb, self.port, self.auth = kb, _free_port(), auth
        self.start()

    def start(self) -> None:
        import uvicorn

        from assistant.delivery.web import create_app
        from assistant.service import Assistant
        from assistant.settings import Settings

        self.app = create_app(Assistant(Settings(kb=self.kb.store.folder, corpus=str(CORPUS)), kb=self.kb), self.auth)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the web app did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.app.state.service._workspace.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def data(self):
        return self.app.state.service._workspace.data


@pytest.fixture(scope="module")
def server(corpus_kb):
    kb, _ = corpus_kb
    srv = Server(kb)
    for c in srv.data.conversations("local"):  # a reused test knowledge base: start from no saved conversation
        srv.data.delete_conversation(c.id, "local")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def page(server):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"the playwright python package is missing ({exc}); run `make install`")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (`make install` does)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
        outside: list[str] = []

        def guard(route):
            if route.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
                return route.continue_()
            outside.append(route.request.url)
            return route.abort()

        context.route("**/*", guard)
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.outside, pg.errors = outside, errors
        pg.goto(server.url)
        pg.wait_for_selector("#fz-conv .fz-welcome", timeout=60000)
        yield pg
        context.close()
        browser.close()


def ask(pg, question: str, timeout: float = 180):
    n = pg.locator(".fz-turn").count()
    pg.fill("#fz-input textarea", question)
    pg.click("#fz-send")
    pg.wait_for_function(
        f"document.querySelectorAll('.fz-turn').length > {n} && "
        f"['done', 'error'].includes(document.querySelectorAll('.fz-turn')[{n}].dataset.status)", timeout=timeout * 1000)
    turn = pg.locator(".fz-turn").nth(n)
    assert turn.get_attribute("data-status") == "done", turn.inner_text()
    return turn


def listed(pg) -> list[str]:
    return [x.strip() for x in pg.locator("#fz-conv-list label").all_inner_texts()]


def wait_listed(pg, count: int, timeout: float = 30) -> list[str]:
    pg.wait_for_function(f"document.querySelectorAll('#fz-conv-list label').length === {count}", timeout=timeout * 1000)
    return listed(pg)


def shot(pg, name: str, docs_name: str | None = None) -> None:
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    if docs_name:
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS / docs_name)


def test_feedback_buttons_record_the_answer_with_its_sources(page, server):
    turn = ask(page, Q1)
    bar = page.locator(f'.fz-fb[data-turn="1"]')
    assert bar.count() == 1 and "这个回答" in bar.inner_text()
    assert [b.strip() for b in bar.locator(".fz-fb-btn").all_inner_texts()] == ["有帮助", "没帮助", "引用有误", "提交说明"]
    # the finished answer saved the conversation, titled by its question
    assert wait_listed(page, 1)[0].startswith(Q1[:30])
    bar.locator('[data-action="up"]').click()
    page.wait_for_selector('.fz-fb[data-turn="1"] .fz-fb-saved', timeout=30000)
    assert "已记录：有帮助" in page.locator('.fz-fb[data-turn="1"] .fz-fb-saved').inner_text()
    assert page.locator('.fz-fb[data-turn="1"] [data-action="up"]').get_attribute("aria-pressed") == "true"
    conv_id = server.data.conversations("local")[0].id  # this run's (a reused knowledge base keeps older feedback)
    (entry,) = [e for e in server.data.feedback("local") if e.question == Q1 and e.conversation_id == conv_id]
    assert entry.rating == "up" and not entry.citation_error
    assert "3件" in entry.answer_text and entry.sources and entry.sources[0]["quote"]
    assert entry.settings["request"]["n"] == 5 and entry.settings["assistant"]["llm_backend"] == "extractive"
    answer_sources = turn.locator(".fz-a-side .fz-src").count()
    assert len(entry.sources) == answer_sources

    # a wrong citation, with a note (Enter submits it): the same entry, changed
    page.locator('.fz-fb[data-turn="1"] [data-action="citation"]').click()
    page.wait_for_function("document.querySelector('.fz-fb[data-turn=\"1\"] .fz-fb-saved')?.innerText.includes('引用有误')")
    page.fill('.fz-fb[data-turn="1"] .fz-fb-note', "来源[1]的段落没有写办结数")
    page.locator('.fz-fb[data-turn="1"] [data-action="comment"]').click()
    page.wait_for_function("document.querySelector('.fz-fb[data-turn=\"1\"] .fz-fb-saved')?.innerText.includes('已附说明')")
    (entry2,) = [e for e in server.data.feedback("local") if e.question == Q1 and e.conversation_id == conv_id]
    assert entry2.id == entry.id and entry2.citation_error and entry2.comment == "来源[1]的段落没有写办结数"
    assert page.locator('.fz-fb[data-turn="1"] .fz-fb-note').input_value() == "来源[1]的段落没有写办结数"
    shot(page, "e2e-20-feedback", "feedback.png")


def test_conversations_are_listed_reopened_renamed_and_survive_a_restart(page, server):
    ask(page, Q2)  # a follow-up continues the same saved conversation
    page.wait_for_function("document.querySelector('#fz-conv-list label')?.innerText.includes('2 问')")
    assert len(listed(page)) == 1
    page.click("#fz-conv-new")
    page.wait_for_selector("#fz-conv .fz-welcome")
    ask(page, Q3)
    titles = wait_listed(page, 2)
    assert titles[0].startswith(Q3[:30]) and titles[1].startswith(Q1[:30])

    # reopen the first conversation: both turns, the feedback as it was recorded
    page.locator("#fz-conv-list label", has_text=Q1[:20]).click()
    page.wait_for_function("document.querySelectorAll('#fz-conv .fz-turn').length === 2")
    assert Q1 in page.locator(".fz-turn").nth(0).inner_text() and "233" in page.locator(".fz-turn").nth(1).inner_text()
    assert page.locator('.fz-fb[data-turn="1"] [data-action="citation"]').get_attribute("aria-pressed") == "true"
    assert page.locator("#fz-conv-title input, #fz-conv-title textarea").input_value().startswith(Q1[:20])
    page.fill("#fz-conv-title input, #fz-conv-title textarea", "镇巴县行政复议与审批")
    page.click("#fz-conv-rename")
    page.wait_for_function("document.querySelector('#fz-conv-msg').innerText.includes('已重命名')")
    assert listed(page)[0].startswith("镇巴县行政复议与审批")  # the most recently changed first
    shot(page, "e2e-21-conversations", "conversations.png")

    # the server stops and a new one starts over the same folder: the page, reloaded, lists the same
    server.restart()
    page.goto(server.url)
    page.wait_for_selector("#fz-conv .fz-welcome", timeout=60000)
    titles = wait_listed(page, 2)
    assert titles[0].startswith("镇巴县行政复议与审批") and titles[1].startswith(Q3[:30])
    page.locator("#fz-conv-list label", has_text="镇巴县行政复议与审批").click()
    page.wait_for_function("document.querySelectorAll('#fz-conv .fz-turn').length === 2")
    assert page.locator('.fz-fb[data-turn="1"] .fz-fb-saved').inner_text().startswith("已记录：有帮助、引用有误")
    assert any(e.question == Q1 and e.citation_error for e in server.data.feedback("local"))

    # delete it: asked to confirm, then gone from the list and from the page
    page.click("#fz-conv-delete")
    page.wait_for_selector("#fz-conv-confirm", state="visible")
    assert "确定删除对话“镇巴县行政复议与审批”" in page.inner_text("#fz-conv-msg")
    page.click("#fz-conv-confirm")
    titles = wait_listed(page, 1)
    assert titles[0].startswith(Q3[:30])
    page.wait_for_selector("#fz-conv .fz-welcome")
    from assistant.delivery.workspace import title_for

    assert [c.title for c in server.data.conversations("local")] == [title_for(Q3)]


def test_with_login_each_account_sees_only_its_own_conversations(page, corpus_kb):
    """FAZHI_AUTH with two accounts: what alice saves and rates is hers; bob, logged in beside her, sees none of it."""
    kb, _ = corpus_kb
    srv = Server(kb, "alice:pw-a,bob:pw-b")
    for user in ("alice", "bob"):
        for c in srv.data.conversations(user):
            srv.data.delete_conversation(c.id, user)
    try:
        browser = page.context.browser  # the module's browser; a context (own cookies) per account

        def login(user: str, password: str):
            pg = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN").new_page()
            pg.goto(srv.url)
            pg.locator("input[type=text], input:not([type])").first.fill(user)
            pg.locator("input[type=password]").fill(password)
            pg.get_by_role("button", name="登录").click()
            pg.wait_for_selector("#fz-conv .fz-welcome", timeout=60000)
            return pg

        alice = login("alice", "pw-a")
        ask(alice, Q3)
        assert wait_listed(alice, 1)[0].startswith(Q3[:20])
        alice.locator('.fz-fb[data-turn="1"] [data-action="down"]').click()
        alice.wait_for_selector('.fz-fb[data-turn="1"] .fz-fb-saved', timeout=30000)
        from vectorstore.userdata import Conversation

        srv.data.save_conversation(Conversation(user_name="bob", title="鲍勃自己的对话", turns=[]))
        bob = login("bob", "pw-b")
        assert wait_listed(bob, 1)[0].startswith("鲍勃自己的对话")  # his own, not alice's
        assert [c.title for c in srv.data.conversations("alice")] == [Q3]
        alice_conv = srv.data.conversations("alice")[0].id
        assert [e.rating for e in srv.data.feedback("alice") if e.conversation_id == alice_conv] == ["down"]
        assert not [e for e in srv.data.feedback("bob") if e.conversation_id == alice_conv]
        alice.reload()
        alice.wait_for_selector("#fz-conv .fz-welcome", timeout=60000)
        assert wait_listed(alice, 1)[0].startswith(Q3[:20])  # still hers after a reload
        shot(alice, "e2e-22-login-alice")
        alice.context.close()
        bob.context.close()
    finally:
        srv.stop()


def test_nothing_was_fetched_from_outside(page):
    assert page.outside == [], page.outside
    assert page.errors == [], page.errors
