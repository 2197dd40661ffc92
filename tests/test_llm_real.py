"""The LLM path against a REAL llama.cpp server running a REAL model (SmolLM2-135M-Instruct, see
eval/llama_server.py): nothing is scripted. The model is small, English-only and ignores instructions, so
the tests assert only what must hold whatever it says: every citation valid, every statement it made
either kept (and then supported by its cited passages) or dropped / flagged, no marker pointing at a
source not returned, refusals decided before the model is called, the answer's text and its sources
consistent, the streamed answer equal to the final one; and, for a server that fails, a Chinese notice
with the extractive answer instead of an error."""
from __future__ import annotations

import re
import time

import pytest

from assistant import citations
from assistant.generate import REFUSAL_PHRASE, UNVERIFIED_NOTE, clean_reply
from assistant.records import REFUSAL_TEXT
from assistant.settings import Settings

from eval.llama_server import SMOLLM2_TOKENS_PER_TIKTOKEN, LlamaServer, free_port, smollm2_gguf, unavailable

REASON = unavailable()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

N_CTX = 3072  # the rules with draft's instructions and skeleton alone take ~2300 SmolLM2 tokens
MAX_TOKENS = 64  # short replies keep the suite quick
ASK = "镇巴县划转了多少项行政审批事项？"
COMPARE = "其他单位是如何建立和发挥法律顾问作用的？"
DRAFT = "法律顾问制度"
UNANSWERABLE = {"ask": "上海市浦东新区的法律顾问聘请了几名？",
                "compare": "各地区的量子计算机采购情况如何？",
                "draft": "量子计算机采购"}


def llm_settings(kb_folder, server: LlamaServer | None = None, **over) -> Settings:
    values = dict(kb=kb_folder, llm_backend="openai", llm_base_url=server.base_url if server else None,
                  llm_model=server.alias if server else "smollm2", llm_max_tokens=MAX_TOKENS,
                  llm_context_tokens=N_CTX, llm_tokens_per_tiktoken=SMOLLM2_TOKENS_PER_TIKTOKEN, llm_timeout=180)
    values.update(over)
    return Settings(**values)


@pytest.fixture(scope="module")
def server():
    with LlamaServer(n_ctx=N_CTX) as srv:
        yield srv


@pytest.fixture(scope="module")
def kb(corpus_kb):
    return corpus_kb[0]


@pytest.fixture(scope="module")
def assistant(kb, server):
    from assistant.service import Assistant

    return Assistant(llm_settings(kb.store.folder, server), kb=kb)


@pytest.fixture(scope="module")
def extractive(kb):
    from assistant.service import Assistant

    return Assistant(Settings(kb=kb.store.folder), kb=kb)


def run(assistant, mode, question, stream: bool, **options):
    tokens: list[str] = []
    ans = assistant.run(mode, question, on_token=tokens.append if stream else None, **options)
    return ans, "".join(tokens)


# ---- what must hold whatever the model says ------------------------------------------------------
def _body(text: str) -> str:
    return citations.norm(citations.strip_markers(text))


def _structural(line: str) -> bool:
    """Lines the rules keep without a citation: Markdown headings and table header/separator rows."""
    s = line.strip()
    return s.startswith("#") or s.startswith("|") or not citations.is_statement(s)


def assert_holds(ans, kb, model_called: bool = True):
    store = kb.store
    numbers = [s.number for s in ans.sources]
    assert numbers == list(range(1, len(numbers) + 1))
    for s in ans.sources:  # every source verbatim from its document
        assert store.document(s.doc_id).text[s.start: s.end] == s.quote
    cited = citations.markers(ans.text)
    # no marker pointing at a source not returned; every source returned is cited, in order of first citation
    assert set(cited) <= set(numbers)
    assert list(dict.fromkeys(cited)) == numbers
    if model_called:
        assert ans.backend == "openai" and ans.model_reply.strip(), "the model was not asked"
    if ans.refused:  # the model said so, or nothing it said held: the refusal alone, no source
        assert ans.text in (REFUSAL_TEXT, f"{REFUSAL_TEXT}\n{UNVERIFIED_NOTE}") and ans.sources == []
    by_number = {s.number: s for s in ans.sources}
    # every statement kept carries a citation and is supported by the passages it cites
    for line in ans.text.split("\n"):
        if line in (REFUSAL_TEXT, UNVERIFIED_NOTE):
            continue
        for piece in citations.split_statements(line):
            if not citations.is_statement(piece):
                continue
            ns = citations.markers(piece)
            if not ns:
                assert _structural(line), f"uncited statement kept: {piece!r}"
                continue
            share, missing = citations.support(piece, [by_number[n].quote for n in ns])
            assert share >= citations.SUPPORT_MIN and not missing, (piece, share, missing)
    # every statement the model made is kept, or dropped / flagged with the reason
    kept = _body(ans.text)
    flagged = {_body(f.sentence) for f in ans.flags}
    for line in clean_reply(ans.model_reply).split("\n"):
        for piece in citations.split_statements(line):
            if not citations.is_statement(piece) or _structural(line) and not citations.markers(line):
                continue
            body = _body(piece)
            if body.startswith(REFUSAL_PHRASE) or not body:
                continue
            assert body in kept or body in flagged or any(body in f or f in body for f in flagged if f), \
                f"model statement neither kept nor flagged: {piece!r}"
    for f in ans.flags:
        assert f.reason in ("unsupported", "dangling_marker", "uncited", "number_mismatch")
        assert f.action in ("dropped", "marked", "marker_removed")
        if f.action == "dropped":
            assert _body(f.sentence) not in kept or not _body(f.sentence)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("mode,question,options", [
    ("ask", ASK, {}), ("compare", COMPARE, {}), ("draft", DRAFT, {"agency": "某某区司法局"})])
def test_real_model_answers_hold_the_citation_rules(assistant, kb, server, mode, question, options, stream):
    before = server.chat_requests()
    ans, streamed = run(assistant, mode, question, stream, **options)
    assert server.chat_requests() == before + 1  # one model call per answer
    assert ans.mode == mode and not ans.notice
    assert_holds(ans, kb)
    if stream:  # only verified text is streamed: the stream is the final answer (nothing for a refusal)
        assert streamed == ("" if ans.refused else ans.text)


@pytest.mark.parametrize("mode", ["ask", "compare", "draft"])
def test_refusal_is_decided_before_the_model_is_called(assistant, extractive, server, mode):
    assert extractive.run(mode, UNANSWERABLE[mode]).refused  # the retrieval gate refuses it
    before = server.chat_requests()
    for stream in (False, True):
        ans, streamed = run(assistant, mode, UNANSWERABLE[mode], stream)
        assert ans.refused and ans.text.startswith(REFUSAL_TEXT) and ans.sources == []
        assert ans.model_reply == "" and streamed == ""
    assert server.chat_requests() == before, "an unanswerable question reached the model"


def test_prompt_is_cut_to_the_context_window(assistant, kb):
    """Eight long passages do not fit the test window (N_CTX SmolLM2 tokens): the lowest-ranked go, the server accepts."""
    from assistant.budget import prompt_tokens
    from assistant.generate import number_passages, render_prompt

    query = assistant.analyse(COMPARE, "compare")
    from assistant.modes.gather import gather

    hits = gather(assistant.retriever, "compare", query, k=12)
    sources, passages = number_passages(hits, kb.store)
    st = assistant.settings
    whole = prompt_tokens(*render_prompt("compare", COMPARE, passages), st)
    assert whole > N_CTX  # the uncut prompt would be refused by the server
    ans = assistant.run("compare", COMPARE)
    assert ans.backend == "openai" and not ans.notice  # no HTTP 400: the prompt sent was cut
    assert_holds(ans, kb)


def test_web_app_streams_the_final_answer(assistant, kb, server):
    from assistant.delivery.serving import Service
    from assistant.delivery.web import WebApp

    service = Service(assistant)
    finals = []
    real_ask = service.ask

    def spy(*a, **kw):
        finals.append(real_ask(*a, **kw))
        return finals[-1]

    service.ask = spy
    app = WebApp(service)
    partials = []
    turns = None
    for out in app.submit(ASK, "ask", [], [], None, None, [], "", 5, []):
        turns = out[1] if isinstance(out[1], list) else turns
        if turns and turns[-1].get("status") == "streaming":
            partials.append(turns[-1]["partial"])
    final = turns[-1]
    assert final["status"] == "done", final
    [ans] = finals
    assert ans.model_reply  # the real model answered
    assert final["answer"]["text"] == ans.text
    assert_holds(ans, kb)
    if not ans.refused:
        assert partials and partials[-1] == ans.text  # what streamed is what stays
        assert all(ans.text.startswith(p) for p in partials)  # nothing shown was taken back


# ---- faults of a real server: a Chinese notice and the extractive answer, never an error ------------
def _fallback_holds(ans, extractive, mode, question, zh: str, **options):
    want = extractive.run(mode, question, **options)
    assert ans.notice and zh in ans.notice, ans.notice
    assert "摘录知识库原文" in ans.notice and "Traceback" not in ans.text
    assert ans.text == f"{ans.notice}\n{want.text}"
    assert [s.quote for s in ans.sources] == [s.quote for s in want.sources]
    assert ans.backend == "extractive"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_server_down_at_start(kb, extractive, stream):
    from assistant.service import Assistant

    port = free_port()
    st = llm_settings(kb.store.folder, None, llm_base_url=f"http://127.0.0.1:{port}/v1", llm_timeout=5)
    ans, _ = run(Assistant(st, kb=kb), "ask", ASK, stream)
    _fallback_holds(ans, extractive, "ask", ASK, "无法连接大模型服务")


def test_server_killed_in_mid_stream(kb, extractive, monkeypatch):
    from assistant.service import Assistant

    with LlamaServer(n_ctx=N_CTX) as doomed:
        helper = Assistant(llm_settings(kb.store.folder, doomed, llm_max_tokens=300), kb=kb)
        backend = helper.backend
        real_complete = backend.complete
        raw: list[str] = []

        def complete(system, user, on_token=None):
            def tap(piece):
                raw.append(piece)
                if len(raw) == 1:
                    doomed.kill()  # the server dies while the reply is streaming
                on_token(piece)
            return real_complete(system, user, on_token=tap)

        monkeypatch.setattr(backend, "complete", complete)
        started = time.monotonic()
        ans, _ = run(helper, "ask", ASK, True)
        assert time.monotonic() - started < 60
        assert raw, "the reply never started"
    _fallback_holds(ans, extractive, "ask", ASK, "中途断开")


def test_prompt_over_the_context_window_gets_a_400(kb, extractive, server):
    from assistant.service import Assistant

    # told the window is 16 times larger than it is, the cut lets the whole prompt through: HTTP 400
    st = llm_settings(kb.store.folder, server, llm_context_tokens=N_CTX * 16)
    before = server.chat_requests()
    ans, _ = run(Assistant(st, kb=kb), "compare", COMPARE, False)
    assert server.chat_requests() == before + 1
    _fallback_holds(ans, extractive, "compare", COMPARE, "上下文窗口")
    assert "HTTP 400" in ans.notice and "FAZHI_LLM_CONTEXT_TOKENS" in ans.notice


def test_slow_first_token_past_the_timeout_in_the_web_app(kb, extractive, server):
    """The server accepts the request but gives no first token (SIGSTOP): the page is not left hanging."""
    from assistant.delivery.serving import Service
    from assistant.delivery.web import WebApp
    from assistant.service import Assistant

    app = WebApp(Service(Assistant(llm_settings(kb.store.folder, server, llm_timeout=2), kb=kb)))
    server.pause()
    try:
        started = time.monotonic()
        outs = list(app.submit(ASK, "ask", [], [], None, None, [], "", 5, []))
        took = time.monotonic() - started
    finally:
        server.resume()
    assert took < 30
    turn = outs[-1][1][-1]
    assert turn["status"] == "done"
    answer = turn["answer"]
    assert "没有响应" in answer["notice"] and "FAZHI_LLM_TIMEOUT" in answer["notice"]
    assert answer["text"].startswith(answer["notice"])
    assert answer["text"].split("\n", 1)[1] == extractive.run("ask", ASK).text
    assert re.search(r"\[1\]", answer["text"])  # the extractive answer, cited


# ---- a local GGUF file, in-process ------------------------------------------------------------------
def test_llamacpp_backend_runs_a_local_model_file(kb, no_network):
    from assistant.service import Assistant

    st = Settings(kb=kb.store.folder, llm_backend="llamacpp", llm_model_path=smollm2_gguf(),
                  llm_max_tokens=MAX_TOKENS, llm_context_tokens=N_CTX,
                  llm_tokens_per_tiktoken=SMOLLM2_TOKENS_PER_TIKTOKEN)
    helper = Assistant(st, kb=kb)
    assert helper.backend.name == "llamacpp" and helper.backend.context_window() == N_CTX
    for stream in (False, True):
        ans, streamed = run(helper, "ask", ASK, stream)
        assert ans.backend == "llamacpp" and ans.model_reply.strip() and not ans.notice
        assert_holds(ans, kb, model_called=False)
        if stream:
            assert streamed == ("" if ans.refused else ans.text)
    assert no_network == []  # the model file is read where it lies: no connection was tried


def test_llm_model_flag_selects_the_local_model(kb, capsys, monkeypatch):
    from assistant.delivery.cli import main

    for name, value in (("MAX_TOKENS", MAX_TOKENS), ("CONTEXT_TOKENS", N_CTX),
                        ("TOKENS_PER_TIKTOKEN", SMOLLM2_TOKENS_PER_TIKTOKEN)):
        monkeypatch.setenv(f"FAZHI_LLM_{name}", str(value))
    monkeypatch.delenv("FAZHI_LLM_BACKEND", raising=False)
    rc = main(["--kb", str(kb.store.folder), "--llm-model", str(smollm2_gguf()), "ask", ASK, "--json"])
    assert rc == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["backend"] == "llamacpp" and out["model_reply"]


def test_llamacpp_backend_needs_an_existing_file(tmp_path):
    from assistant.llm import LLMConfigError, make_backend

    with pytest.raises(LLMConfigError, match="找不到模型文件"):
        make_backend(Settings(llm_backend="llamacpp", llm_model_path=tmp_path / "none.gguf"))
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")
    with pytest.raises(LLMConfigError, match="无法加载模型文件"):
        make_backend(Settings(llm_backend="llamacpp", llm_model_path=bad))
