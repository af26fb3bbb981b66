# The two set-up commands are `make train` and `make test`; both install into .venv first when needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
TORCH := torch==2.14.1 torchvision==0.29.1
UI_PORT ?= 5000
SERVER_PORT ?= 5000
SERVER_ARGS ?=

.PHONY: help install train test test-fast check lint format types docs docs-serve ui server bench clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

install: $(INSTALLED)  ## Create .venv and install torch, then this package (editable) with its dev extra

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

train: install  ## LOSO sweep on the synthetic default set; prints pooled UF1/UAR and where the summary run is
	$(VENV)/bin/mer-train -m

test: install  ## The whole test suite, slow tests included
	$(PY) -m pytest

test-fast: install  ## The test suite without the slow end-to-end tests
	$(PY) -m pytest -m "not slow"

check: lint types docs  ## What CI checks besides the tests: lint, types, the docs build

lint: install  ## ruff's lint rules and the formatter's layout over the code (configured in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install  ## ruff format over the tree (or FILES=...), then ruff's safe lint fixes
	$(VENV)/bin/ruff format $(or $(FILES),.)
	$(VENV)/bin/ruff check --fix --quiet $(or $(FILES),.)

types: install  ## mypy: strict on the pure floors, the rest not yet checked (pyproject.toml says which and why)
	$(VENV)/bin/mypy

docs: install  ## Build the documentation site into site/, warnings as errors
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

docs-serve: install  ## Serve the documentation on http://127.0.0.1:8000, rebuilt on every change
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

ui: install  ## MLflow UI on 127.0.0.1 over the store training writes ($$MER_ROOT/mlruns, MER_ROOT defaulting to here)
	$(VENV)/bin/mer-ui --port $(UI_PORT)

server: install  ## MLflow tracking server for folds on many nodes (logger=server); SERVER_ARGS="--host 0.0.0.0 ..."
	$(VENV)/bin/mer-server --port $(SERVER_PORT) $(SERVER_ARGS)

bench: install  ## Speed benchmarks (prints figures; a script's arguments: BENCH_LOSO_ARGS="--epochs 5 25", ...)
	$(PY) -m benchmarks

clean:  ## Remove generated data, caches and logs (keeps .venv and mlruns/)
	rm -rf data/synthetic cache logs site .pytest_cache .mypy_cache .ruff_cache
