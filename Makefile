# The two commands of the README: `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: serve test install kb eval clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU torch first (a bare `torch` pulls GBs of CUDA); sentence-transformers then finds it satisfied
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[st,web,dev]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	GRADIO_ANALYTICS_ENABLED=False $(VENV)/bin/fazhi serve --corpus corpus

test: $(STAMP)
	GRADIO_ANALYTICS_ENABLED=False $(PY) -m pytest -q

kb: $(STAMP)
	$(VENV)/bin/fazhi ingest corpus

eval: $(STAMP)
	$(PY) -m eval retrieval --questions eval/questions.jsonl

clean:
	rm -rf $(VENV) .pytest_cache
