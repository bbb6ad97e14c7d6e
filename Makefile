# VoxTray — the two commands a newcomer needs are `make run` and `make test`; both set up
# everything (system packages, virtual environment, Python dependencies) on Debian/Ubuntu.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test lint bench system-deps test-deps venv clean

run: system-deps venv
	$(BIN)/voxtray

test: test-deps venv lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: test-deps venv
	$(BIN)/python -m bench

system-deps:
	@packaging/linux-deps.sh

test-deps:
	@packaging/linux-deps.sh --test

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "voxtray needs Python 3.11 or newer (set PYTHON=python3.12 …)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
