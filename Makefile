# Two commands on a fresh clone (Python 3.11, no conda needed):
#   make reproduce   build every dataset, claim and figure of config.yaml
#   make test        run the whole test suite
# Both create .venv from the pinned requirements.lock when it is missing or out of date.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all

.PHONY: reproduce test lint report bench lock clean-results

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

reproduce: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests workflow/scripts
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

# results/report.html (claims table first, then every figure; no JavaScript), and a screenshot
# of it rendered by headless Chromium (apt install chromium) in results/report.png to look at.
report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) results/report.html
	@command -v chromium >/dev/null || { echo "chromium not found: skipping the screenshot (apt install chromium)"; exit 0; }; \
	chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,2400 \
	  --screenshot=results/report.png file://$(CURDIR)/results/report.html 2>/dev/null && echo "screenshot: results/report.png"

bench: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_engine.py --threads 2
	$(BIN)/python tests/benchmarks/bench_prior.py --threads 2
	$(BIN)/python tests/benchmarks/bench_papers.py --threads 2
	$(BIN)/python tests/benchmarks/bench_krylov.py
	$(BIN)/python tests/benchmarks/bench_krylov_deep.py
	$(BIN)/python tests/benchmarks/bench_sirignano.py

# Regenerate the lock and environment.yml from the current .venv (after changing a dependency).
lock:
	{ sed -n '1,/^# environment.yml/p' requirements.lock; $(BIN)/python -m pip freeze --exclude-editable \
	  | grep -v '^deeplinear' | sed 's/^torch==\(.*\)+cpu$$/torch==\1/' | sort -f; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
	$(BIN)/python tests/environment_sync.py --write

clean-results:
	rm -rf results figures report.html
