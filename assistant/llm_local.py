"""A local GGUF model file as the LLM backend, run in-process by llama.cpp (``llama_cpp.Llama``).

For users who hold a model file (e.g. a Qwen instruct GGUF) but run no server:
``FAZHI_LLM_BACKEND=llamacpp FAZHI_LLM_MODEL_PATH=/path/model.gguf`` (or ``fazhi --llm-model PATH``).
The model's own chat template (from the GGUF metadata) formats the messages. Nothing is downloaded:
the file is opened where it lies. One reply is generated at a time (a llama.cpp context is not
thread-safe); the context window opened is ``llm_context_tokens`` or, unset, ``llm_context_fallback``.
"""
from __future__ import annotations

import threading
from pathlib import Path

from .llm_base import LLMBackend, LLMConfigError, LLMError, TokenCallback, _short
from .settings import Settings

INSTALL_HINT = "pip install 'fazhi-assistant[llm]'"


class LlamaCppBackend(LLMBackend):
    name = "llamacpp"

    def __init__(self, settings: Settings, *, temperature: float = 0.1) -> None:
        path = Path(settings.llm_model_path).expanduser() if settings.llm_model_path else None
        if path is None:
            raise LLMConfigError("使用 llamacpp 后端需要设置模型文件路径（FAZHI_LLM_MODEL_PATH 或 --llm-model）",
                                 "the 'llamacpp' backend needs llm_model_path (FAZHI_LLM_MODEL_PATH or --llm-model)")
        if not path.is_file():
            raise LLMConfigError(f"找不到模型文件 {path}", f"model file not found: {path}")
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMConfigError(f"未安装 llama-cpp-python，无法加载本地模型（请运行 {INSTALL_HINT}）",
                                 f"llama-cpp-python is not installed ({INSTALL_HINT}): {exc}") from exc
        self.settings = settings
        self.path = path
        self.model = path.name
        self.temperature = temperature
        n_ctx = settings.llm_context_tokens or settings.llm_context_fallback
        try:
            self.llm = Llama(model_path=str(path), n_ctx=n_ctx, verbose=False)
        except Exception as exc:  # noqa: BLE001 - a broken or foreign file
            raise LLMConfigError(f"无法加载模型文件 {path}（应为 llama.cpp 支持的 GGUF 文件）：{_short(str(exc))}",
                                 f"cannot load model file {path} (expected a GGUF file llama.cpp reads): {exc}") from exc
        self._lock = threading.Lock()

    def context_window(self) -> int:
        return int(self.llm.n_ctx())

    def complete(self, system: str, user: str, on_token: TokenCallback | None = None) -> str:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        opts = dict(messages=messages, max_tokens=self.settings.llm_max_tokens, temperature=self.temperature)
        with self._lock:
            if on_token is None:
                try:
                    out = self.llm.create_chat_completion(**opts)
                except Exception as exc:  # noqa: BLE001
                    raise self._error(exc) from exc
                text = out["choices"][0]["message"].get("content") or ""
            else:
                text = self._stream(opts, on_token)
        if not text.strip():
            raise LLMError(f"本地模型 {self.model} 返回了空回答", f"the local model {self.model} returned an empty reply")
        return text

    def _stream(self, opts: dict, on_token: TokenCallback) -> str:
        parts: list[str] = []
        try:
            chunks = self.llm.create_chat_completion(stream=True, **opts)
            for chunk in chunks:
                piece = chunk["choices"][0].get("delta", {}).get("content")
                if piece:
                    parts.append(piece)
                    try:
                        on_token(piece)
                    except Exception as exc:  # the caller's own error propagates unchanged
                        raise _CallerError(exc) from exc
        except _CallerError as wrapped:
            raise wrapped.inner from None
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc) from exc
        return "".join(parts)

    def _error(self, exc: Exception) -> LLMError:
        msg = _short(str(exc))
        if "context window" in msg or "exceed" in msg:
            return LLMError(f"提示词超出了本地模型 {self.model} 的上下文窗口（{self.context_window()} 个词元）：{msg}，"
                            "请调大 FAZHI_LLM_CONTEXT_TOKENS",
                            f"the prompt exceeds the context window of the local model {self.model}: {msg}")
        return LLMError(f"本地模型 {self.model} 生成回答时出错：{type(exc).__name__}: {msg}",
                        f"the local model {self.model} failed: {type(exc).__name__}: {msg}")


class _CallerError(Exception):
    def __init__(self, inner: BaseException) -> None:
        self.inner = inner
