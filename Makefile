# The two commands of the README: `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LLAMA_CMAKE_ARGS := -DGGML_BLAS=OFF -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF

.PHONY: serve test install system-deps kb eval clean

# Debian packages for the browser tests and CJK screenshots: chromium (driven by Playwright's python
# client; no browser is ever downloaded) and a Chinese font (also used to render the OCR test pages);
# LibreOffice Writer (headless) and antiword read .doc/.wps files; the AR PL 楷/明 fonts stand in for 楷体 and
# 仿宋/宋体 when the Word exports are rendered to PDF (tests/gongwen-fonts.conf); PostgreSQL for the scale-out
# tests (several app servers on one database: the tests start and stop their own cluster in a temporary folder,
# nothing runs as a service). Skipped when already installed.
SYSTEM_PKGS := chromium fonts-wqy-microhei libreoffice-writer-nogui antiword fonts-arphic-ukai fonts-arphic-uming \
  postgresql

$(STAMP): pyproject.toml Makefile
	@$(MAKE) --no-print-directory system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU torch first (a bare `torch` pulls GBs of CUDA); sentence-transformers then finds it satisfied
	$(PY) -m pip install -q torch==2.13.0
	# llama-cpp-python compiles from source (about 4 min on two cores): no BLAS, no curl (it never downloads
	# a model), no -march=native (the build stays usable on another CPU)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install -q -e '.[st,web,dev,formats,llm,postgres]'
	touch $(STAMP)

install: $(STAMP)

system-deps:
	@if dpkg -s $(SYSTEM_PKGS) >/dev/null 2>&1; then \
	  echo "system packages already installed: $(SYSTEM_PKGS)"; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "installing $(SYSTEM_PKGS) with apt-get"; \
	  ( $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $(SYSTEM_PKGS) ) \
	    || echo "warning: could not install $(SYSTEM_PKGS); the browser and .doc/.wps tests will fail until they are installed" >&2; \
	else \
	  echo "warning: apt-get not found: install $(SYSTEM_PKGS) yourself for the browser test" >&2; \
	fi

# The corpus: ../shared/corpus (the provided samples plus the governing texts) where it exists, else the
# provided samples in corpus/ (the same search order as `fazhi serve`; FAZHI_CORPUS overrides both).
CORPUS ?= $(firstword $(wildcard ../shared/corpus) corpus)

serve: $(STAMP)
	GRADIO_ANALYTICS_ENABLED=False $(VENV)/bin/fazhi serve

test: $(STAMP) system-deps
	GRADIO_ANALYTICS_ENABLED=False $(PY) -m pytest -q

kb: $(STAMP)
	$(VENV)/bin/fazhi ingest $(CORPUS)

eval: $(STAMP)
	$(PY) -m eval retrieval --questions eval/questions.jsonl --corpus $(CORPUS)

clean:
	rm -rf $(VENV) .pytest_cache
