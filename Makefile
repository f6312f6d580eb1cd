# alarm-callback: `make run` serves locally, `make test` is the whole gate (lint, types, tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test lint types security pytest schema chaos clean
.DEFAULT_GOAL := help
# Extra steps a deployment target needs before pytest (e.g. node tools); mk/*.mk append to it.
TEST_PREREQS :=
-include mk/*.mk
# Alertmanager for the alertmanager:// tests, installed as CI does (Debian package; root only).
TEST_PREREQS += alertmanager
.PHONY: alertmanager
alertmanager:
	@bash .ci/alertmanager.sh || echo "alertmanager: not installed; its tests skip locally (fail under CI=true)"

help:
	@echo "make run    - serve http://127.0.0.1:8080/callback locally (SQLite under .data/)"
	@echo "make test   - ruff, mypy and pytest"
	@echo "make schema - regenerate schema/alarm-event.schema.json from the model"
	@echo "make chaos  - 10,000 alarms through faulted backends; prints the loss/repeat table"
	@echo "make bench  - cold start, warm cost, local server, package sizes, memory (benchmarks/RESULTS.md)"

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements-scf.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

run: venv
	$(BIN)/alarm-callback serve

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types: venv
	$(BIN)/mypy alarm_callback handler.py

security: venv
	$(BIN)/bandit -q -r alarm_callback handler.py

pytest: venv $(TEST_PREREQS)
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint types security $(TEST_PREREQS) pytest

schema: venv
	$(BIN)/python -m alarm_callback.ops.schema > schema/alarm-event.schema.json

CHAOS_N ?= 10000
CHAOS_FAULT_RATE ?= 0.2
chaos: venv
	$(BIN)/python -m alarm_callback.testing.chaos --n $(CHAOS_N) --fault-rate $(CHAOS_FAULT_RATE) 2>/dev/null
	$(BIN)/python -m alarm_callback.testing.chaos --n $(CHAOS_N) --fault-rate $(CHAOS_FAULT_RATE) --store sqlite:///$$(mktemp -d)/chaos.db 2>/dev/null

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
