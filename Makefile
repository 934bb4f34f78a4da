# Two commands on a fresh machine: `make run` (install, start the app) and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TORCH_VERSION := 2.13.0
LLAMA_VERSION := 0.3.36
# This CPU advertises AMX, and llama.cpp's AMX kernels crash on it (SIGILL): build without.
LLAMA_CFLAGS := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
# Built once per machine, keyed by version, flags and the CPU (a native build uses every
# instruction the CPU has: a wheel from an AVX-512 machine would crash on an AVX2-only one),
# so a second `make test` never rebuilds and a home shared by two machines never mixes them.
CPU_KEY := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | md5sum | cut -c1-8)
WHEEL_DIR ?= $(HOME)/.cache/quire/wheels/llama-cpp-python-$(LLAMA_VERSION)-noamx-$(CPU_KEY)
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install prepare ocr browser run dev test test-unit lint clean

install: $(STAMP) ocr prepare

# What Quire would otherwise make on first use (the ONNX export of the embedder, fp32 for
# queries and int8 for ingest, both whatever this CPU would choose: tests force each), into
# the cache folder outside the checkout, keyed by the model's contents: instant once made,
# reused by every later install and clone. No question or test waits for it.
prepare: $(STAMP)
	$(VENV)/bin/quire prepare

# OCR of scans and images is Debian's Tesseract (chosen in BENCHMARKS.md, "OCR"); more
# languages: apt-get install tesseract-ocr-deu ... and QUIRE_OCR_LANGUAGES=eng+deu.
ocr:
	@command -v tesseract >/dev/null || { echo "installing Debian tesseract-ocr for OCR"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    tesseract-ocr tesseract-ocr-eng >/dev/null; }

$(STAMP): pyproject.toml constraints.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==$(TORCH_VERSION)
	@if ls $(WHEEL_DIR)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
	  echo "llama-cpp-python: reusing the wheel in $(WHEEL_DIR)"; \
	else \
	  echo "llama-cpp-python: building $(LLAMA_VERSION) without AMX (about 5 minutes)"; \
	  rm -rf $(WHEEL_DIR).tmp && mkdir -p $(WHEEL_DIR).tmp && \
	  CMAKE_ARGS="-DCMAKE_C_FLAGS='$(LLAMA_CFLAGS)' -DCMAKE_CXX_FLAGS='$(LLAMA_CFLAGS)'" \
	    $(PIP) wheel -q --no-deps --no-cache-dir -w $(WHEEL_DIR).tmp llama-cpp-python==$(LLAMA_VERSION) && \
	  mkdir -p $(WHEEL_DIR) && mv $(WHEEL_DIR).tmp/*.whl $(WHEEL_DIR)/ && rm -rf $(WHEEL_DIR).tmp; \
	fi
	$(PIP) install -q --find-links $(WHEEL_DIR) --only-binary llama-cpp-python \
	  -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The browser tests drive Debian's chromium (Playwright cannot download browsers here).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser:
	@test -x $(CHROMIUM) || { echo "installing Debian chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: install
	$(VENV)/bin/streamlit run app.py --server.address 127.0.0.1 --browser.gatherUsageStats false

# The app for development: reloads itself when its source changes (`make run` never does:
# .streamlit/config.toml turns Streamlit's file watcher off).
dev: install
	$(VENV)/bin/streamlit run app.py --server.fileWatcherType auto --server.runOnSave true

test: install browser
	$(PY) -m pytest -q --durations=15

test-unit: install
	$(PY) -m pytest -q tests/unit tests/contract

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache
