# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create or refresh the local virtual environment in .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo report test lint typecheck bench clean browser

# Two installs into the one .venv. The demo needs the core with the serve, plot and report
# extras: no torch, no test tools. The tests and the benchmarks need everything; torch goes
# in through pip, which finds the local CPU wheel of 2.13.0 (pip's configuration points at
# it), and uv then sees the pin satisfied and installs the rest in seconds.
DEMO_STAMP := $(VENV)/.demo-installed

$(VENV)/bin/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv

$(DEMO_STAMP): pyproject.toml | $(VENV)/bin/uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e ".[serve,plot,report]"
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml | $(VENV)/bin/uv
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/uv pip install -q --python $(BIN)/python -e ".[dev,train,serve,plot]"
	touch $(STAMP) $(DEMO_STAMP)

# The server, its dashboard and eight live patients, until Ctrl-C (PORT=8000 by default).
PORT ?= 8000
demo: $(DEMO_STAMP)
	$(BIN)/cardiostream demo --port $(PORT)

# The offline counterpart: a bundled AF excerpt on ECG paper, then every bundled sample.
report: $(DEMO_STAMP)
	$(BIN)/cardiostream report --sample mitdb-201-af --plot out/demo.png
	$(BIN)/cardiostream analyze src/cardiostream/samples/data --summary out/demo_summary.csv

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

# The dashboard tests drive Debian's Chromium (and record video with Debian's ffmpeg); the
# Holter report's tests look at its PDF with poppler-utils (pdftoppm, pdftotext); the scale-out
# tests start a real redis-server. They skip,
# saying why, where these cannot be installed.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/ffmpeg ] || [ ! -x /usr/bin/pdftoppm ] || [ ! -x /usr/bin/redis-server ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -q chromium ffmpeg poppler-utils redis-server >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null 2>&1 && $$SUDO apt-get install -y -q chromium ffmpeg poppler-utils redis-server >/dev/null 2>&1; } || \
	  echo "could not install chromium, ffmpeg, poppler-utils and redis-server: the browser, PDF page and Redis tests will be skipped"; \
	fi

test: lint typecheck browser
	$(BIN)/python -m pytest -n 2

# The data folder of `cardiostream download` (README, "Get the PhysioNet data").
DATA ?= $(or $(CARDIOSTREAM_DATA),../shared/data)
bench: $(STAMP)
	$(BIN)/cardiostream bench rpeaks --data $(DATA)/mitdb
	$(BIN)/cardiostream bench pipeline --data $(DATA)/mitdb

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
