# signalement: `make run` to start the platform, `make test` to run every check.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .cache/uv/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install install-dev run test lint typecheck unit bench clean

help:  ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target .cache/uv uv==$(UV_VERSION)

install: $(UV)  ## Create .venv with the locked dependencies and the `signalement` command
	$(UV) sync --frozen --no-dev

install-dev: $(UV)
	$(UV) sync --frozen

run: install  ## Start signalement on http://127.0.0.1:8000 (SQLite and ./data)
	$(VENV)/bin/signalement serve

lint: install-dev  ## ruff
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

typecheck: install-dev  ## mypy (strict for the core)
	$(VENV)/bin/mypy

test: install-dev lint typecheck  ## Lint, type-check, then the whole suite (starts its own PostgreSQL)
	$(VENV)/bin/pytest

unit: install-dev  ## The fast tests only
	$(VENV)/bin/pytest tests/unit

bench: install-dev  ## Ingest benchmark against a server it starts (see benchmarks/README.md)
	$(VENV)/bin/python -m benchmarks.ingest --start-server

clean:
	rm -rf $(VENV) .cache .mypy_cache .pytest_cache .ruff_cache
