# Horus: `make help` lists the targets. The README's two commands are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.DEFAULT_GOAL := help
.PHONY: help install run test lint unit integration contract bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed ## Create .venv and install Horus with its test tools

run: install ## Install and start Horus on http://127.0.0.1:8080 with SQLite (./horus.db)
	$(BIN)/horus serve

lint: install ## ruff, mypy (strict on domain and ports) and the layer contract
	$(BIN)/ruff check horus tests bench
	$(BIN)/ruff format --check horus tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install lint ## Install and run everything: lint, unit, integration and contract tests
	$(BIN)/pytest

unit: install ## Only the fast unit tests (no services, no processes)
	$(BIN)/pytest tests/unit

integration: install ## Only the integration tests (real SQLite files, real server processes)
	$(BIN)/pytest tests/integration

contract: install ## Only the contract tests (schemathesis against openapi/horus.yaml)
	$(BIN)/pytest tests/contract

bench: install ## The token-endpoint benchmark (server on CPU 0, wrk on CPU 1; about 16 minutes; needs root for apt-get wrk)
	$(BIN)/python bench/run.py

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
