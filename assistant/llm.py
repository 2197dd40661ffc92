"""LLM backends: an OpenAI-compatible chat-completions server (vLLM, llama.cpp, Ollama, LM Studio,
a hosted API ...) through langchain-openai. The extractive answerer needs no backend.

Only the configured ``base_url`` is contacted: LangSmith tracing is switched off, the API key
defaults to ``"EMPTY"`` (so an ``OPENAI_API_KEY`` from the environment is never sent to a local
server) and proxy environment variables are ignored unless ``trust_env=True``.
Every failure reaches the caller as an ``LLMError`` with a Chinese and an English message.
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager, nullcontext
from urllib.parse import urlparse, urlunparse

from .llm_base import LLMBackend, LLMConfigError, LLMError, TokenCallback, _short  # noqa: F401  (re-exported)
from .settings import Settings

# No telemetry: LangSmith tracing off (LANGSMITH_* is read before LANGCHAIN_*).
for _var in ("LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING", "LANGSMITH_TRACING_V2", "LANGSMITH_TRACING"):
    os.environ[_var] = "false"

BACKENDS = ("extractive", "openai", "llamacpp")
DEFAULT_API_KEY = "EMPTY"  # local servers accept any key


def normalize_base_url(url: str) -> str:
    """``http://host:port`` -> ``http://host:port/v1`` (the OpenAI-compatible root); validate the scheme."""
    raw = (url or "").strip()
    u = urlparse(raw)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise LLMConfigError(f"大模型服务地址无效：{raw!r}，应形如 http://127.0.0.1:8000/v1",
                             f"invalid LLM base_url {raw!r}; expected e.g. http://127.0.0.1:8000/v1")
    path = u.path.rstrip("/")
    if not path:
        path = "/v1"
    return urlunparse((u.scheme, u.netloc, path, "", u.query, ""))


@contextmanager
def _no_tracing():
    try:
        from langsmith.run_helpers import tracing_context
    except ImportError:  # langsmith absent: nothing can trace
        cm = nullcontext()
    else:
        cm = tracing_context(enabled=False)
    with cm:
        yield


class OpenAIBackend(LLMBackend):
    """Chat completions from an OpenAI-compatible server: ChatPromptTemplate | ChatOpenAI | StrOutputParser."""

    name = "openai"

    def __init__(self, settings: Settings, *, temperature: float | None = 0.1, max_retries: int = 0,
                 max_tokens: int | None = None, trust_env: bool = False) -> None:
        if not settings.llm_base_url or not settings.llm_model:
            raise LLMConfigError(
                "使用 openai 后端需要设置大模型服务地址和模型名称（FAZHI_LLM_BASE_URL、FAZHI_LLM_MODEL）",
                "the 'openai' backend needs llm_base_url and llm_model (FAZHI_LLM_BASE_URL, FAZHI_LLM_MODEL)")
        import openai
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate
        from langchain_openai import ChatOpenAI

        self.settings = settings
        self._window: int | None = None
        self.base_url = normalize_base_url(settings.llm_base_url)
        self.model = settings.llm_model
        self.timeout = float(settings.llm_timeout)
        # trust_env=False: HTTP(S)_PROXY/ALL_PROXY and .netrc are ignored, the request goes to base_url only
        self._http = openai.DefaultHttpxClient(timeout=self.timeout, trust_env=trust_env)
        self.llm = ChatOpenAI(
            model=self.model, base_url=self.base_url, api_key=settings.llm_api_key or DEFAULT_API_KEY,
            timeout=self.timeout, max_retries=max_retries, temperature=temperature,
            # sent as `max_tokens`, which every OpenAI-compatible server reads (langchain's own parameter
            # becomes `max_completion_tokens`, which llama.cpp and older vLLM/Ollama ignore)
            extra_body={"max_tokens": max_tokens or settings.llm_max_tokens},
            http_client=self._http, openai_proxy=None, use_responses_api=False, stream_usage=False,
        )
        prompt = ChatPromptTemplate.from_messages([("system", "{system}"), ("human", "{user}")])
        self.chain = prompt | self.llm | StrOutputParser()

    def context_window(self) -> int:
        """``llm_context_tokens``, else what the server reports (asked once), else ``llm_context_fallback``."""
        if self.settings.llm_context_tokens:
            return self.settings.llm_context_tokens
        if self._window is None:
            self._window = self._reported_window()
        return self._window or self.settings.llm_context_fallback

    def _reported_window(self) -> int | None:
        """vLLM's ``max_model_len`` (or ``context_length``) in /models, llama.cpp's ``n_ctx`` in /props."""
        root = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
        for url, pick in ((f"{self.base_url}/models", _window_in_models), (f"{root}/props", _window_in_props)):
            try:
                resp = self._http.get(url, timeout=min(self.timeout, 5.0))
                found = pick(resp.json(), self.model) if resp.status_code == 200 else None
            except Exception:  # noqa: BLE001 - a server that does not say: the setting decides
                found = None
            if found:
                return found
        return None

    def complete(self, system: str, user: str, on_token: TokenCallback | None = None) -> str:
        inputs = {"system": system, "user": user}
        with _no_tracing():
            if on_token is None:
                try:
                    text = self.chain.invoke(inputs)
                except Exception as exc:  # noqa: BLE001 - every failure becomes a user-facing LLMError
                    raise self._error(exc) from exc
            else:
                text = self._stream(inputs, on_token)
        if not text or not text.strip():
            raise LLMError(f"大模型服务（{self.model}）返回了空回答",
                           f"the LLM server returned an empty reply (model {self.model})")
        return text

    def _stream(self, inputs: dict, on_token: TokenCallback) -> str:
        parts: list[str] = []
        try:
            stream = self.chain.stream(inputs)
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc) from exc
        try:
            while True:
                try:
                    piece = next(stream)
                except StopIteration:
                    break
                except Exception as exc:  # noqa: BLE001
                    raise self._error(exc, mid_reply=bool(parts)) from exc
                if piece:
                    parts.append(piece)
                    on_token(piece)  # the caller's own errors propagate unchanged
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()
        return "".join(parts)

    def _error(self, exc: Exception, mid_reply: bool = False) -> LLMError:
        import openai

        where = f"{self.base_url}（模型 {self.model}）"
        where_en = f"{self.base_url} (model {self.model})"
        if isinstance(exc, LLMError):
            return exc
        if isinstance(exc, openai.APITimeoutError) or "timeout" in type(exc).__name__.lower():
            return LLMError(f"大模型服务 {where} 在 {self.timeout:g} 秒内没有响应，请稍后重试或调大 FAZHI_LLM_TIMEOUT",
                            f"the LLM server at {where_en} did not answer within {self.timeout:g} s")
        if _cut_off(exc) or (mid_reply and isinstance(exc, openai.APIConnectionError)):
            return LLMError(f"大模型服务 {where} 在回答中途断开了连接（服务可能已停止或崩溃）",
                            f"the LLM server at {where_en} closed the connection in mid-reply")
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(f"无法连接大模型服务 {where}，请确认服务已启动、地址和端口正确",
                            f"cannot reach the LLM server at {where_en}")
        if isinstance(exc, openai.APIStatusError):
            detail = _status_detail(exc)
            hint_zh, hint_en = "", ""
            if exc.status_code == 400 and _CONTEXT_RE.search(detail):
                return LLMError(
                    f"提示词超出了大模型 {self.model} 的上下文窗口（{where} 返回 HTTP 400：{detail}），"
                    "请把 FAZHI_LLM_CONTEXT_TOKENS 设为模型实际的上下文长度",
                    f"the prompt exceeds the context window of {where_en} (HTTP 400: {detail}); "
                    "set FAZHI_LLM_CONTEXT_TOKENS to the model's real context length")
            if exc.status_code in (401, 403):
                hint_zh, hint_en = "，请检查 API 密钥（FAZHI_LLM_API_KEY）", "; check the API key (FAZHI_LLM_API_KEY)"
            elif exc.status_code == 404:
                hint_zh, hint_en = ("，请检查模型名称和服务地址（通常以 /v1 结尾）",
                                    "; check the model name and the base_url (usually ending in /v1)")
            return LLMError(f"大模型服务 {where} 返回错误 HTTP {exc.status_code}：{detail}{hint_zh}",
                            f"the LLM server at {where_en} returned HTTP {exc.status_code}: {detail}{hint_en}")
        if isinstance(exc, openai.OpenAIError):
            return LLMError(f"调用大模型服务 {where} 失败：{_short(str(exc))}",
                            f"the LLM call to {where_en} failed: {_short(str(exc))}")
        return LLMError(f"调用大模型服务 {where} 时出错：{type(exc).__name__}: {_short(str(exc))}",
                        f"error while calling the LLM server at {where_en}: {type(exc).__name__}: {_short(str(exc))}")


def _cut_off(exc: BaseException) -> bool:
    """The connection broke while the reply was streaming (httpx's incomplete-body / read errors)."""
    import httpx

    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


_CONTEXT_RE = re.compile(r"context|n_ctx|maximum.{0,20}length|too (?:long|many tokens)|exceed", re.I)


def _window_in_models(data, model: str) -> int | None:
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return None
    entries = [m for m in entries if isinstance(m, dict)]
    ours = [m for m in entries if m.get("id") == model] or (entries if len(entries) == 1 else [])
    for m in ours:
        meta = m.get("meta") if isinstance(m.get("meta"), dict) else {}
        for value in (m.get("max_model_len"), m.get("context_length"), m.get("context_window"), meta.get("n_ctx")):
            if isinstance(value, int) and value > 0:
                return value
    return None


def _window_in_props(data, model: str) -> int | None:
    gen = data.get("default_generation_settings") if isinstance(data, dict) else None
    value = gen.get("n_ctx") if isinstance(gen, dict) else None
    return value if isinstance(value, int) and value > 0 else None


def _status_detail(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = err.get("message") if isinstance(err, dict) else err
        if msg:
            return _short(str(msg))
    return _short(getattr(exc, "message", "") or str(exc))


def make_backend(settings: Settings) -> LLMBackend | None:
    """The configured backend; None for 'extractive' (answers assembled from passages without an LLM)."""
    kind = (settings.llm_backend or "extractive").strip().lower()
    if kind == "extractive":
        return None
    if kind == "openai":
        return OpenAIBackend(settings)
    if kind == "llamacpp":
        from .llm_local import LlamaCppBackend

        return LlamaCppBackend(settings)
    raise LLMConfigError(f"未知的大模型后端 {settings.llm_backend!r}，可选：{'、'.join(BACKENDS)}",
                         f"unknown llm_backend {settings.llm_backend!r}; choose one of: {', '.join(BACKENDS)}")
