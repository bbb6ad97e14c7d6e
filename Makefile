# VoxTray — the two commands a newcomer needs are `make run` and `make test`; both set up
# everything (system packages, virtual environment, Python dependencies) on Debian/Ubuntu.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# `make test` ends with the frozen-app test (about 45 s: build ~30 s, test ~15 s); 0 skips it.
TEST_PACKAGE ?= 1
FROZEN := dist/voxtray/voxtray
PACKAGE_STAMP := $(VENV)/.package-installed
FROZEN_INPUTS := pyproject.toml $(shell find core desktop resources packaging -type f \
	-not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: run test lint bench screenshots system-deps test-deps venv clean package test-package \
	install-desktop

run: system-deps venv
	$(BIN)/voxtray

# The Qt widget tests run the engine on qasync loops that they create and close themselves; they
# get a process of their own, so nothing they leave to Qt's event queue can reach other tests.
DESKTOP_TESTS := tests/integration/desktop

test: test-deps venv lint
	$(BIN)/python -m pytest $(PYTEST_ARGS) --ignore=$(DESKTOP_TESTS)
	$(BIN)/python -m pytest $(PYTEST_ARGS) $(DESKTOP_TESTS)
ifeq ($(TEST_PACKAGE),1)
	@$(MAKE) --no-print-directory test-package
endif

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: test-deps venv
	$(BIN)/python -m bench

# The README's pictures: the tests that take them (real X server and tray for the menu, the
# statistics during playback and the settings; the reading window's own test), then copied.
SCREENSHOTS := tray-menu stats-window settings-dialog reading-window
screenshots: test-deps venv
	$(BIN)/python -m pytest -q tests/system/test_tray_app.py
	$(BIN)/python -m pytest -q tests/integration/desktop/test_reader_window.py -k screenshot
	for name in $(SCREENSHOTS); do cp artifacts/screenshots/$$name.png docs/screenshots/; done

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

# The frozen one-folder app (packaging/voxtray.spec), rebuilt when a source changed.
package: venv $(FROZEN)

$(PACKAGE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,package]'
	@touch $(PACKAGE_STAMP)

$(FROZEN): $(PACKAGE_STAMP) $(FROZEN_INPUTS)
	$(BIN)/python packaging/build.py freeze

# Start the frozen app under Xvfb with a tray host, speak into the null sink, quit.
test-package: test-deps package
	$(BIN)/python -m pytest -m package tests/package

# The launcher, AppStream data and icons for the current user (~/.local/share).
install-desktop:
	packaging/install-linux.sh

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
