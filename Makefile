# PolyFlup — two commands: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= aggressive
# `make run`: a few windows of the embedded sim on an accelerated clock, then a summary.
SPEED ?= 40
WINDOWS ?= 3
# pip's own chatter (and any machine-wide find-links warnings) is not our output.
PIP := $(PY) -m pip -q --disable-pip-version-check
PIP_NOISE := is ignored: it is neither

.PHONY: help install run test lint format bench chaos soak release clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# The stamp is rebuilt only when the dependency list or the package metadata changes,
# so a second `make run` starts immediately.
$(STAMP): requirements.txt setup.cfg
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "📦 Installing dependencies into $(VENV) …"
	@set -o pipefail; $(PIP) install --upgrade pip setuptools wheel 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	@set -o pipefail; $(PIP) install -r requirements.txt 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	@set -o pipefail; $(PIP) install --no-deps --no-build-isolation -e . 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install PolyFlup (idempotent)

run: $(STAMP) ## Run the bot on the embedded sim (aggressive, ×40, 3 windows), then a summary
	$(BIN)/polyflup run --sim --profile $(PROFILE) --speed $(SPEED) --windows $(WINDOWS)

test: $(STAMP) ## Run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## Check style with ruff
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

chaos: $(STAMP) ## Full chaos run: faults + 20 SIGKILLs over 200 coin-windows, ledger checked
	$(PY) -m tests.chaos $(CHAOS_ARGS)

soak: $(STAMP) ## Memory soak: 24 simulated hours of sim ×600, 4 coins, RSS every hour
	$(PY) -m tests.soak.run_soak --hours 24 --speed 600 $(SOAK_ARGS)

bench: $(STAMP) ## Run the benchmarks (results go to docs/BENCHMARKS.md by hand)
	$(PY) -m tests.benchmarks $(BENCH_ARGS)

# Checks (clean tree, semver > current, a CHANGELOG.md section for it), bumps
# src/__init__.py, commits "Release X.Y.Z" and tags vX.Y.Z; never pushes.
# RELEASE_ARGS=--dry-run only checks and prints the tag message.
release: ## Cut a release: make release VERSION=x.y.z (needs its CHANGELOG.md section)
	@scripts/release.sh $(RELEASE_ARGS) "$(VERSION)"

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis *.egg-info
