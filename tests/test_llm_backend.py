"""The OpenAI-compatible LLM path against ScriptedOpenAIServer, a test double of an LLM server
(a real model cannot run here): real knowledge base, real retrieval, scripted model replies."""
from __future__ import annotations

import json
import os
import socket
import urllib.request

import pytest

import prompts
from assistant import citations
from assistant.generate import llm_answer, number_passages, render_prompt
from assistant.llm import LLMConfigError, LLMError, OpenAIBackend, make_backend, normalize_base_url
from assistant.records import REFUSAL_TEXT, Source
from assistant.settings import Settings

try:
    from tests.llm_server import ScriptedOpenAIServer, ScriptedReply
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from llm_server import ScriptedOpenAIServer, ScriptedReply

DOC_A = """甲市司法局关于2022年法治政府建设情况的报告

一、主要举措
2022年，我局全面推行行政执法公示制度，全年办理行政复议案件3件，全部在法定期限内办结。
我局组织执法人员培训12次，参训人员达480人次。

二、存在问题
基层执法力量仍然不足，执法规范化水平有待提升。
"""

DOC_B = """乙县人民政府关于2023年法治政府建设情况的报告

一、重大行政决策
2023年，我县严格落实重大行政决策程序，开展合法性审核28件，组织听证会2场。
我县聘请法律顾问6名，为县政府决策提供法律意见。
"""

QUESTION = "甲市司法局2022年办理了多少件行政复议案件？"
GOOD = "甲市司法局2022年全年办理行政复议案件3件，全部在法定期限内办结。"
MODEL = "qwen-scripted-test"


# ---- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    from vectorstore.kb import KnowledgeBase

    root = tmp_path_factory.mktemp("llm-kb")
    docs = root / "docs"
    docs.mkdir()
    (docs / "jiashi-sifaju-2022.txt").write_text(DOC_A, encoding="utf-8")
    (docs / "yixian-zhengfu-2023.txt").write_text(DOC_B, encoding="utf-8")
    base = KnowledgeBase(root / "kb")
    report = base.ingest([docs], progress=False)
    assert report.count("added") == 2, report.to_dict()
    yield base
    base.close()


@pytest.fixture(scope="module")
def retriever(kb):
    from vectorstore.retrieve import Retriever

    return Retriever(kb)


@pytest.fixture
def server():
    with ScriptedOpenAIServer(models=(MODEL,)) as srv:
        yield srv


@pytest.fixture
def settings(server):
    return Settings(llm_backend="openai", llm_base_url=server.base_url, llm_model=MODEL, llm_timeout=10)


@pytest.fixture
def backend(settings):
    return make_backend(settings)


def hits_for(retriever, question=QUESTION):
    hits = retriever.search(question)
    assert hits
    return hits


def number_of(hits, store, needle: str) -> int:
    """The passage number (as the prompt shows it) whose text contains ``needle``."""
    sources, _ = number_passages(hits, store)
    return next(s.number for s in sources if needle in s.quote)


def reasons(answer) -> list[str]:
    return [f.reason for f in answer.flags]


# ---- (a) a good, correctly cited answer ---------------------------------------------------------
@pytest.mark.slow
def test_good_answer_kept_with_verbatim_sources(kb, retriever, server, backend):
    hits = hits_for(retriever)
    n = number_of(hits, kb.store, "行政复议案件3件")
    server.push(f"{GOOD}[{n}]")
    ans = llm_answer(backend, "ask", QUESTION, hits, kb.store)
    assert not ans.refused
    assert ans.text == f"{GOOD}[1]"
    assert ans.flags == []
    assert ans.backend == "openai" and ans.mode == "ask" and ans.question == QUESTION
    assert [s.number for s in ans.sources] == [1]
    for s in ans.sources:
        assert kb.store.document(s.doc_id).text[s.start:s.end] == s.quote
        assert "行政复议案件3件" in s.quote
    assert citations.verify_sources(ans.sources, {s.doc_id: kb.store.document(s.doc_id).text for s in ans.sources}) == []
    assert ans.passages == [{"doc_id": h.chunk.doc_id, "chunk_id": h.chunk.id, "rank": h.rank} for h in hits]


# ---- (b) a marker pointing at no passage ----------------------------------------------------------
@pytest.mark.slow
def test_dangling_marker_removed_and_flagged(kb, retriever, server, backend):
    hits = hits_for(retriever)
    n = number_of(hits, kb.store, "行政复议案件3件")
    sources, _ = number_passages(hits, kb.store)
    assert 7 > len(sources)  # [7] points at nothing
    server.push(f"{GOOD}[{n}][7]\n乙县开展合法性审核28件，组织听证会2场。[7]")
    ans = llm_answer(backend, "ask", QUESTION, hits, kb.store)
    assert not ans.refused
    assert ans.text == f"{GOOD}[1]"
    assert "[7]" not in ans.text
    dangling = [f for f in ans.flags if f.reason == "dangling_marker"]
    assert len(dangling) == 2 and all(f.markers == [7] and f.action == "marker_removed" for f in dangling)
    # the second sentence had nothing left to stand on
    assert any(f.reason == "uncited" and "合法性审核" in f.sentence and f.action == "dropped" for f in ans.flags)


# ---- (c) a figure the cited passage does not contain ------------------------------------------------
@pytest.mark.slow
def test_number_mismatch_dropped(kb, retriever, server, backend):
    hits = hits_for(retriever)
    n = number_of(hits, kb.store, "行政复议案件3件")
    server.push(f"甲市司法局全年办理行政复议案件5件。[{n}]\n{GOOD}[{n}]")
    ans = llm_answer(backend, "ask", QUESTION, hits, kb.store)
    assert not ans.refused
    assert "5件" not in ans.text
    assert ans.text == f"{GOOD}[1]"
    [flag] = [f for f in ans.flags if f.reason == "number_mismatch"]
    assert "5件" in flag.sentence and flag.action == "dropped" and flag.markers == [n]


# ---- (d) a statement without any citation ------------------------------------------------------------
@pytest.mark.slow
def test_uncited_statement_dropped(kb, retriever, server, backend):
    hits = hits_for(retriever)
    n = number_of(hits, kb.store, "行政复议案件3件")
    server.push(f"{GOOD}[{n}]\n甲市司法局的复议工作多次受到上级机关的高度肯定和表扬。")
    ans = llm_answer(backend, "ask", QUESTION, hits, kb.store)
    assert ans.text == f"{GOOD}[1]"
    assert reasons(ans) == ["uncited"]
    assert "高度肯定" in ans.flags[0].sentence and ans.flags[0].action == "dropped"


# ---- (e) streaming ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_streaming_feeds_on_token_and_enforces_the_joined_text(kb, retriever, server, backend):
    hits = hits_for(retriever)
    n = number_of(hits, kb.store, "行政复议案件3件")
    pieces = ["甲市司法局2022年", "全年办理行政复议案件", "3件，全部在法定", "期限内办结。[", f"{n}]",
              "\n这句话没有任何出处，", "所以应当删除。"]
    server.push(pieces)
    tokens: list[str] = []
    ans = llm_answer(backend, "ask", QUESTION, hits, kb.store, on_token=tokens.append)
    assert ans.model_reply == "".join(pieces)
    sources, _ = number_passages(hits, kb.store)
    enforced, _ = citations.enforce(ans.model_reply, sources)
    expected, _ = citations.renumber(enforced, sources)
    assert ans.text == expected == f"{GOOD}[1]"
    # only verified text is streamed: the uncited line never reaches the listener
    assert "".join(tokens) == ans.text
    assert reasons(ans) == ["uncited"]
    assert server.last_request.body.get("stream") is True


@pytest.mark.slow
def test_streaming_multiline_reply_streams_verified_lines_only(kb, retriever, server, backend):
    hits = hits_for(retriever)
    n = number_of(hits, kb.store, "行政复议案件3件")
    m = number_of(hits, kb.store, "培训12次")
    reply = (f"## 行政复议\n{GOOD}\n[{n}]\n编造的一句话，没有任何出处。\n"
             f"我局组织执法人员培训12次，参训人员达480人次。[{m}][9]\n培训共25次。[{m}]\n")
    server.push([reply[i: i + 3] for i in range(0, len(reply), 3)])
    tokens: list[str] = []
    ans = llm_answer(backend, "ask", QUESTION, hits, kb.store, on_token=tokens.append)
    assert len(tokens) >= 2  # lines arrived one after another, not all at the end
    assert "".join(tokens) == ans.text
    assert "编造" not in ans.text and "25次" not in ans.text and "[9]" not in ans.text
    assert ans.text.startswith(f"## 行政复议\n{GOOD}[")
    assert sorted(reasons(ans)) == ["dangling_marker", "number_mismatch", "uncited"]


@pytest.mark.slow
def test_streaming_of_an_unverified_reply_streams_nothing(kb, retriever, server, backend):
    hits = hits_for(retriever)
    server.push(["## 标题\n", "没有出处的一句话。\n", "另一句没有出处的话。\n"])
    tokens: list[str] = []
    ans = llm_answer(backend, "ask", QUESTION, hits, kb.store, on_token=tokens.append)
    assert ans.refused and tokens == []


# ---- (f) the model refuses ------------------------------------------------------------------------------
@pytest.mark.slow
def test_refusal_sentence_gives_refused_answer(kb, retriever, server, backend):
    hits = hits_for(retriever, "甲市的环境保护工作情况如何？")
    server.push("知识库中未找到相关依据。")
    ans = llm_answer(backend, "ask", "甲市的环境保护工作情况如何？", hits, kb.store)
    assert ans.refused
    assert ans.sources == [] and ans.flags == []
    assert ans.text == REFUSAL_TEXT


@pytest.mark.slow
def test_nothing_verifiable_left_is_a_refusal_with_flags(kb, retriever, server, backend):
    hits = hits_for(retriever)
    n = number_of(hits, kb.store, "行政复议案件3件")
    server.push(f"甲市司法局全年办理行政复议案件9件。[{n}]\n甲市司法局的工作成效显著，群众满意度很高。")
    ans = llm_answer(backend, "ask", QUESTION, hits, kb.store)
    assert ans.refused and ans.sources == []
    assert ans.text.startswith(REFUSAL_TEXT) and "核验" in ans.text
    assert sorted(reasons(ans)) == ["number_mismatch", "uncited"]


# ---- (g) the server is down / fails -------------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_server_down_raises_clear_llm_error(kb, retriever):
    port = _closed_port()
    down = make_backend(Settings(llm_backend="openai", llm_base_url=f"http://127.0.0.1:{port}/v1",
                                 llm_model=MODEL, llm_timeout=5))
    with pytest.raises(LLMError) as err:
        llm_answer(down, "ask", QUESTION, hits_for(retriever), kb.store)
    msg = str(err.value)
    assert "无法连接大模型服务" in msg and "cannot reach the LLM server" in msg
    assert f"127.0.0.1:{port}" in msg
    assert "Traceback" not in msg


def test_timeout_raises_clear_llm_error(server):
    slow = make_backend(Settings(llm_backend="openai", llm_base_url=server.base_url, llm_model=MODEL,
                                 llm_timeout=0.5))
    server.push(ScriptedReply("太慢了。", delay=2.0))
    with pytest.raises(LLMError) as err:
        slow.complete("系统", "问题")
    assert "没有响应" in str(err.value) and "did not answer within 0.5 s" in str(err.value)


@pytest.mark.parametrize("status,zh", [(500, "HTTP 500"), (401, "API 密钥"), (404, "/v1")])
def test_http_error_raises_clear_llm_error(server, backend, status, zh):
    server.push(ScriptedReply("scripted failure text", status=status))
    with pytest.raises(LLMError) as err:
        backend.complete("系统", "问题")
    assert zh in str(err.value) and f"HTTP {status}" in str(err.value)
    assert "scripted failure text" in str(err.value)


def test_streaming_error_is_an_llm_error(server, backend):
    server.push(ScriptedReply("overloaded", status=503))
    with pytest.raises(LLMError, match="HTTP 503"):
        backend.complete("系统", "问题", on_token=lambda t: None)


# ---- (h) what the server received ---------------------------------------------------------------------
@pytest.mark.slow
def test_request_holds_passages_question_and_model(kb, retriever, server, backend, settings):
    hits = hits_for(retriever)
    n = number_of(hits, kb.store, "行政复议案件3件")
    server.push(f"{GOOD}[{n}]")
    llm_answer(backend, "ask", QUESTION, hits, kb.store)
    req = server.last_request
    assert req.path == "/v1/chat/completions"
    assert req.body["model"] == settings.llm_model == MODEL
    assert req.body.get("stream") in (None, False)
    assert req.header("authorization") == "Bearer EMPTY"
    assert [m["role"] for m in req.messages] == ["system", "user"]
    system, user = req.message("system"), req.message("user")
    assert "法治政府建设报告助手" in system and "知识库中未找到相关依据。" in system
    assert QUESTION in user
    sources, _ = number_passages(hits, kb.store)
    for s in sources:  # every passage, numbered, with its verbatim text
        assert f"[{s.number}] 《{s.title}》" in user
        assert s.quote.strip() in user
    assert "[1] 《甲市司法局关于2022年法治政府建设情况的报告》（甲市司法局，2022年）" in user or \
        "[1] 《乙县人民政府关于2023年法治政府建设情况的报告》（乙县人民政府，2023年）" in user
    assert "行政复议案件3件" in user
    # passages are data in the user message; the system message holds only the rules
    assert "行政复议案件3件" not in system


# ---- other modes --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_compare_table_keeps_header_and_drops_bad_rows(kb, retriever, server, backend):
    hits = hits_for(retriever, "各单位法治政府建设的主要做法")
    a = number_of(hits, kb.store, "行政复议案件3件")
    b = number_of(hits, kb.store, "合法性审核28件")
    server.push("| 单位 | 做法 | 关键数字 | 出处 |\n|---|---|---|---|\n"
                f"| 甲市司法局 | 全面推行行政执法公示制度，办理行政复议案件 | 行政复议案件3件 | [{a}] |\n"
                f"| 乙县人民政府 | 严格落实重大行政决策程序，开展合法性审核 | 合法性审核99件 | [{b}] |\n\n"
                f"两地都重视法治政府建设。")
    ans = llm_answer(backend, "compare", "各单位法治政府建设的主要做法", hits, kb.store)
    lines = ans.text.split("\n")
    assert lines[0] == "| 单位 | 做法 | 关键数字 | 出处 |"
    assert lines[1] == "|---|---|---|---|"
    assert lines[2].startswith("| 甲市司法局") and lines[2].endswith("[1] |")
    assert "99件" not in ans.text and "两地都重视" not in ans.text
    assert sorted(reasons(ans)) == ["number_mismatch", "uncited"]
    assert [s.number for s in ans.sources] == [1]


@pytest.mark.slow
def test_draft_prompt_carries_agency_and_topic(kb, retriever, server, backend):
    hits = hits_for(retriever, "重大行政决策程序")
    b = number_of(hits, kb.store, "合法性审核28件")
    server.push(f"## 严格落实重大行政决策程序\n丙区司法局严格落实重大行政决策程序，开展合法性审核【数字】件。[{b}]")
    ans = llm_answer(backend, "draft", "重大行政决策程序", hits, kb.store,
                     variables={"agency": "丙区司法局", "topic": "重大行政决策"})
    user = server.last_request.message("user")
    assert "丙区司法局" in user and "“重大行政决策”" in user and "【数字】" in user
    assert ans.text.startswith("## 严格落实重大行政决策程序\n")
    assert "【数字】件。[1]" in ans.text and not ans.refused


@pytest.mark.slow
def test_quiz_drops_items_without_verified_explanation(kb, retriever, server, backend):
    hits = hits_for(retriever, "行政复议")
    a = number_of(hits, kb.store, "行政复议案件3件")
    item = "### 第{k}题\n题目：甲市司法局2022年办理行政复议案件多少件？\nA. 1件\nB. 3件\nC. 5件\nD. 7件\n答案：B\n解析：{why}"
    server.push(item.format(k=1, why="甲市司法局全年办理行政复议案件9件。[%d]" % a) + "\n\n"
                + item.format(k=2, why="甲市司法局全年办理行政复议案件3件。[%d]" % a))
    ans = llm_answer(backend, "quiz", "行政复议", hits, kb.store, variables={"count": 2})
    assert "出 2 道单项选择题" in server.last_request.message("user")
    assert ans.text.startswith("### 第1题\n题目：")
    assert "第2题" not in ans.text and "9件" not in ans.text
    assert ans.text.endswith("解析：甲市司法局全年办理行政复议案件3件。[1]")
    assert reasons(ans) == ["number_mismatch"]


# ---- backend construction, prompts, privacy --------------------------------------------------------------
def test_make_backend_choices(server):
    assert make_backend(Settings(llm_backend="extractive")) is None
    b = make_backend(Settings(llm_backend="openai", llm_base_url=server.base_url, llm_model=MODEL))
    assert isinstance(b, OpenAIBackend) and b.name == "openai"
    with pytest.raises(LLMConfigError, match="FAZHI_LLM_BASE_URL"):
        make_backend(Settings(llm_backend="openai", llm_base_url=None, llm_model=MODEL))
    with pytest.raises(LLMConfigError, match="FAZHI_LLM_MODEL"):
        make_backend(Settings(llm_backend="openai", llm_base_url=server.base_url, llm_model=None))
    with pytest.raises(LLMConfigError, match="unknown llm_backend"):
        make_backend(Settings(llm_backend="gpt"))
    with pytest.raises(LLMConfigError, match="invalid LLM base_url"):
        make_backend(Settings(llm_backend="openai", llm_base_url="localhost:8000", llm_model=MODEL))


def test_base_url_gets_v1_when_given_bare_host(server):
    assert normalize_base_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/v1"
    assert normalize_base_url("http://127.0.0.1:8000/v1/") == "http://127.0.0.1:8000/v1"
    bare = f"http://127.0.0.1:{server.port}"
    b = make_backend(Settings(llm_backend="openai", llm_base_url=bare, llm_model=MODEL))
    server.push("好。")
    assert b.complete("系统", "问题") == "好。"
    assert server.last_request.path == "/v1/chat/completions"


def test_no_tracing_and_no_proxy_detour(server, monkeypatch):
    assert os.environ["LANGCHAIN_TRACING_V2"] == "false"
    # a proxy in the environment must not receive the prompt: requests go to base_url directly
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(var, f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    b = make_backend(Settings(llm_backend="openai", llm_base_url=server.base_url, llm_model=MODEL))
    server.push("直连。")
    assert b.complete("系统", "问题") == "直连。"
    assert len(server.chat_requests) == 1


def test_scripted_server_lists_models(server):
    with urllib.request.urlopen(f"{server.base_url}/models", timeout=5) as resp:
        data = json.loads(resp.read())
    assert [m["id"] for m in data["data"]] == [MODEL]


def test_prompts_load_and_render():
    with pytest.raises(prompts.PromptNotFoundError, match="unknown prompt 'nope'"):
        prompts.load("nope")
    with pytest.raises(prompts.PromptNotFoundError):
        prompts.load("../settings")
    assert "知识库中未找到相关依据。" in prompts.load("system")
    assert "单位 | 做法 | 关键数字 | 出处" in prompts.load("compare")
    assert "check" not in prompts.available()  # check decides verdicts in code, never by a model
    for mode in ("ask", "compare", "draft", "quiz"):
        system, user = render_prompt(mode, "问题{不是占位符}", "[1] 《标题》\n正文{x}")
        assert "法治政府建设报告助手" in system
        assert "问题{不是占位符}" in user and "正文{x}" in user  # values are never re-parsed
    with pytest.raises(prompts.PromptNotFoundError):
        render_prompt("system", "q", "p")


@pytest.mark.slow
def test_no_passages_no_call(kb, server, backend):
    ans = llm_answer(backend, "ask", QUESTION, [], kb.store)
    assert ans.refused and server.chat_requests == []


def test_reply_cleanup_reasoning_and_marker_variants():
    from assistant.generate import clean_reply

    assert clean_reply("<think>先想一想[9]</think>\n答案。【1】") == "答案。[1]"
    assert clean_reply("答案。[1, 2]") == "答案。[1][2]"
    assert clean_reply("答案。［2］") == "答案。[2]"
    assert clean_reply("答案。\n[1]") == "答案。[1]"
    assert clean_reply("开展审核【数字】件。[1]") == "开展审核【数字】件。[1]"


def test_number_check_is_not_fooled_by_substrings():
    src = Source(number=1, doc_id="d", title="t", issuer="", year=None, kind="", heading_path=[], page=None,
                 start=0, end=30, quote="全年办理行政复议案件3件，参训人员达450人次。")
    text, flags = citations.enforce("全年办理行政复议案件5件。[1]", [src])
    assert [f.reason for f in flags] == ["number_mismatch"]


@pytest.mark.slow
def test_only_the_configured_server_is_contacted(kb, retriever, server, backend, monkeypatch):
    contacted: list = []
    real_connect = socket.socket.connect

    def spy(self, address):
        contacted.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    hits = hits_for(retriever)
    n = number_of(hits, kb.store, "行政复议案件3件")
    server.push(f"{GOOD}[{n}]", [f"{GOOD}[{n}]"])
    llm_answer(backend, "ask", QUESTION, hits, kb.store)
    llm_answer(backend, "ask", QUESTION, hits, kb.store, on_token=lambda t: None)
    assert contacted, "the spy saw no connection"
    assert {tuple(a[:2]) for a in contacted} == {("127.0.0.1", server.port)}


def test_on_token_errors_are_not_disguised(server, backend):
    server.push(["第一段", "第二段"])

    def broken(_piece):
        raise RuntimeError("UI went away")

    with pytest.raises(RuntimeError, match="UI went away"):
        backend.complete("系统", "问题", on_token=broken)


# ---- prompts cut to the context window (counted with tiktoken) ------------------------------------------
@pytest.mark.slow
def test_prompt_cut_to_the_context_window(kb, retriever, server, settings):
    from assistant.budget import prompt_tokens

    hits = hits_for(retriever, "各单位法治政府建设的主要做法")
    sources, passages = number_passages(hits, kb.store)
    assert len(sources) >= 2
    from assistant.generate import format_passage

    first = prompt_tokens(*render_prompt("ask", QUESTION, format_passage(sources[0])), settings)
    small = settings.with_overrides(llm_max_tokens=50, llm_prompt_margin=10, llm_context_tokens=first + 60)
    server.push(f"{GOOD}[1]")
    llm_answer(make_backend(small), "ask", QUESTION, hits, kb.store)
    user = server.last_request.message("user")
    assert "[1] 《" in user and "[2] 《" not in user  # the lower-ranked passage went
    assert server.last_request.body["max_tokens"] == 50
    # one passage alone too long: its end is cut, the quote stays verbatim at its offsets
    from dataclasses import replace

    head = replace(sources[0], quote=sources[0].quote[:30])
    tiny = small.with_overrides(llm_context_tokens=prompt_tokens(*render_prompt("ask", QUESTION, format_passage(head)),
                                                                 small) + 60)
    server.push("回答。[1]")
    ans = llm_answer(make_backend(tiny), "ask", QUESTION, hits, kb.store)
    sent = server.last_request.message("user")
    assert prompt_tokens(server.last_request.message("system"), sent, tiny) <= tiny.llm_context_tokens - 60
    assert "[1] 《" in sent and sources[0].quote.strip() not in sent and sources[0].quote[:25] in sent
    for s in ans.sources:
        assert kb.store.document(s.doc_id).text[s.start:s.end] == s.quote


def test_context_window_asked_from_the_server(server, settings):
    from assistant.llm import _window_in_models, _window_in_props

    assert _window_in_models({"data": [{"id": "m", "max_model_len": 32768}]}, "m") == 32768
    assert _window_in_models({"data": [{"id": "m", "meta": {"n_ctx": 8192}}]}, "other") == 8192
    assert _window_in_models({"data": [{"id": "a"}, {"id": "b", "context_length": 5}]}, "m") is None
    assert _window_in_props({"default_generation_settings": {"n_ctx": 4096}}, "m") == 4096
    b = make_backend(settings)
    assert b.context_window() == settings.llm_context_fallback  # the double reports no window
    assert any(r.path == "/v1/models" for r in server.requests)
    assert make_backend(settings.with_overrides(llm_context_tokens=1234)).context_window() == 1234


def test_context_overflow_400_is_a_clear_llm_error(server, backend):
    server.push(ScriptedReply("Requested tokens (3000) exceed context window of 2048", status=400))
    with pytest.raises(LLMError) as err:
        backend.complete("系统", "问题")
    assert "上下文窗口" in err.value.zh and "FAZHI_LLM_CONTEXT_TOKENS" in err.value.zh


@pytest.mark.slow
def test_llm_failure_gives_the_extractive_answer_with_a_notice(kb, server, settings):
    from assistant.service import Assistant

    server.push(ScriptedReply("overloaded", status=503))
    ans = Assistant(settings.with_overrides(kb=kb.store.folder), kb=kb).run("ask", QUESTION)
    want = Assistant(Settings(kb=kb.store.folder), kb=kb).run("ask", QUESTION)
    assert "HTTP 503" in ans.notice and ans.text == f"{ans.notice}\n{want.text}"
    assert ans.backend == "extractive" and [s.quote for s in ans.sources] == [s.quote for s in want.sources]


@pytest.mark.slow
def test_rules_alone_over_the_window_send_nothing(kb, retriever, server, settings):
    hits = hits_for(retriever)
    with pytest.raises(LLMError, match="规则和问题本身") as err:
        llm_answer(make_backend(settings.with_overrides(llm_context_tokens=300, llm_max_tokens=100)),
                   "ask", QUESTION, hits, kb.store)
    assert "FAZHI_LLM_CONTEXT_TOKENS" in err.value.zh and server.chat_requests == []


def test_echoed_prompt_scaffolding_is_dropped():
    from assistant.generate import enforce_lines

    src = Source(number=1, doc_id="d", title="t", issuer="", year=None, kind="", heading_path=[], page=None,
                 start=0, end=30, quote="全年办理行政复议案件3件，全部在法定期限内办结。")
    text, _ = enforce_lines("ask", "资料：\n<资料>\n全年办理行政复议案件3件，全部在法定期限内办结。[1]\n</资料>\n资料（编号段落）：",
                            [src], "问题")
    assert text == "全年办理行政复议案件3件，全部在法定期限内办结。[1]"
