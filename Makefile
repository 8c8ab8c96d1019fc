# BondFlow developer commands. `make run` and `make test` work on a fresh clone: they create .venv
# and install what is missing first.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=
FUZZ_ARGS ?=

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP) ## create .venv and install BondFlow with its dev tools

run: $(STAMP) ## serve the API on 127.0.0.1:8000 with every follower (embedded PostgreSQL and chDB under ./var)
	$(BIN)/bondflow serve

lint: $(STAMP) ## ruff (lint and format check) and mypy --strict
	$(BIN)/ruff check bondflow commands projections tests tools
	$(BIN)/ruff format --check bondflow commands projections tests tools
	$(BIN)/mypy

format: $(STAMP) ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix bondflow commands projections tests tools
	$(BIN)/ruff format bondflow commands projections tests tools

test: lint ## lint, then the whole suite against real PostgreSQL, chDB and Kafka
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP) ## benchmarks, each against a baseline measured in the same run
	$(BIN)/python -m tools.bench
	$(BIN)/python -m tools.bench.order_paths
	$(BIN)/python -m tools.bench.order_to_filled
	$(BIN)/python -m tools.bench.audit
	$(BIN)/python -m tools.bench.audit --events 1000000 --skip-kafka
	$(BIN)/python -m tools.bench.query_waits
	$(BIN)/python -m tools.bench.live_updates
	$(BIN)/python -m tools.bench.filled_at_rate --rates 10,20,50 --seconds 30 --profile zero
	$(BIN)/python -m tools.bench.filled_at_rate --rates 10,15,20,25,50 --seconds 60 --profile realistic

bench-rebuild: $(STAMP) ## the rebuild of every read model from 1,000,000 events vs reading them raw (about 6 min)
	$(BIN)/python -m tools.bench.audit --events 1000000 --skip-kafka

chaos: $(STAMP) ## the killed-worker settlement chaos run (minutes, both latency profiles): workers SIGKILLed under every fault
	$(BIN)/pytest -m chaos tests/integration/test_settlement_killed_workers.py $(PYTEST_ARGS)

fuzz: $(STAMP) ## schemathesis against the served /openapi.json with the real stack (minutes; FUZZ_ARGS=...)
	$(BIN)/python -m tools.fuzz $(FUZZ_ARGS)

fuzz-short: $(STAMP) ## the short fuzz tier CI runs after the suite: every operation, 3 cases per phase, as an investor (~1 min)
	$(BIN)/python -m tools.fuzz --max-examples 3 --role investor --report-dir .fuzz/short

ISO20022_XSD_DIR ?= $(abspath ../shared/iso20022-xsd)
iso20022: $(STAMP) ## ISO 20022 feeds against the published XSDs (default ../shared/iso20022-xsd; see schemas/iso20022/SOURCES.md)
	BONDFLOW_ISO20022_XSD_DIR=$${BONDFLOW_ISO20022_XSD_DIR:-$(ISO20022_XSD_DIR)} $(BIN)/pytest -m xsd tests/integration/test_iso20022.py

.PHONY: help install run lint format test bench bench-rebuild chaos fuzz-short fuzz iso20022
