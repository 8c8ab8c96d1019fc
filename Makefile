# BondFlow developer commands. `make run` and `make test` work on a fresh clone: they create .venv
# and install what is missing first.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=

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
	$(BIN)/ruff check bondflow commands projections tests
	$(BIN)/ruff format --check bondflow commands projections tests
	$(BIN)/mypy

format: $(STAMP) ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix bondflow commands projections tests
	$(BIN)/ruff format bondflow commands projections tests

test: lint ## lint, then the whole suite against real PostgreSQL, chDB and Kafka
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP) ## benchmarks, each against a baseline measured in the same run
	$(BIN)/python -m bondflow.bench
	$(BIN)/python -m bondflow.bench.order_paths
	$(BIN)/python -m bondflow.bench.order_to_filled
	$(BIN)/python -m bondflow.bench.audit

.PHONY: help install run lint format test bench
