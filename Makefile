# The two commands of the README: `make demo` and `make test`. Each creates (or reuses) a local
# virtual environment in .venv and installs otmodel into it with what it needs.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-all lint bench docs docs-check clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/otmodel demo --compare

test: $(VENV)/.installed
	$(PY) -m pytest

test-all: $(VENV)/.installed   # includes the slow large-scale runs
	$(PY) -m pytest -m ''

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check otmodel tests benchmarks examples
	$(VENV)/bin/mypy otmodel

$(VENV)/.docs-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev,docs]'
	touch $@

# the documentation site into docs/_build/html (tutorials and examples executed; warnings are errors)
docs: $(VENV)/.docs-installed
	$(PY) docs/build.py

# the site, then the browser check in headless Chromium (Debian's chromium + chromium-driver)
docs-check: $(VENV)/.docs-installed
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get install -y -q chromium chromium-driver >/dev/null || \
	   (apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null))
	$(PY) docs/build.py --check

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_exact.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info docs/_build docs/auto_examples docs/auto_tutorials docs/generated
