# alarm-callback: `make run` serves locally, `make test` is the whole gate (lint, types, tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv run test lint types security pytest schema chaos clean clean-data
.DEFAULT_GOAL := help
# Extra steps a deployment target needs before pytest (e.g. node tools); mk/*.mk append to it.
TEST_PREREQS :=
-include mk/*.mk
# Alertmanager for the alertmanager:// tests, installed as CI does (Debian package; root only).
TEST_PREREQS += alertmanager
.PHONY: alertmanager
alertmanager: ## install Alertmanager for the alertmanager:// tests (Debian package; root only)
	@bash .ci/alertmanager.sh || echo "alertmanager: not installed; its tests skip locally (fail under CI=true)"

# Every target: described by its `## ` comment here, or by the `#   make TARGET - ...` lines
# that head mk/*.mk; a target with neither is still listed.
help: ## list every target
	@awk ' \
		/^[A-Za-z0-9_.-]+:.*## / { t = $$1; sub(/:.*/, "", t); d = $$0; sub(/.*## /, "", d); desc[t] = d } \
		/^#   make [A-Za-z0-9_.-]+/ { t = $$3; d = $$0; if (!sub(/.* - /, "", d)) { d = $$0; sub(/^#   make [^ ]+ */, "", d) } \
			if (!(t in desc)) desc[t] = d } \
		/^\.PHONY:/ { for (i = 2; i <= NF; i++) if (!($$i in seen)) { seen[$$i] = 1; order[++n] = $$i; file[$$i] = FILENAME } } \
		END { for (i = 1; i <= n; i++) { t = order[i]; d = (t in desc) ? desc[t] : "(see " file[t] ")"; \
			printf "  make %-20s %s\n", t, d } }' $(MAKEFILE_LIST)

venv: $(STAMP) ## create .venv and install the project and its dev tools

# A too-old Python fails before .venv exists; a failed install removes the half-built .venv
# (otherwise the next `make` would find bin/python and skip straight to a broken install).
$(STAMP): requirements.txt requirements-dev.txt requirements-scf.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || { \
		echo "alarm-callback needs Python 3.10 or newer; $(PYTHON) is $$($(PYTHON) -V 2>&1 || echo missing)." \
			"Run e.g. make venv PYTHON=python3.12" >&2; exit 2; }
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || rm -rf $(VENV)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	{ $(BIN)/python -m pip install -q --upgrade pip && \
	  $(BIN)/python -m pip install -q -r requirements-dev.txt && \
	  $(BIN)/python -m pip install -q --no-deps -e . ; } || { rm -rf $(VENV); echo "install failed: removed $(VENV)" >&2; exit 1; }
	touch $(STAMP)

HOST ?= 127.0.0.1
PORT ?= 8080
run: venv ## serve http://127.0.0.1:8080/callback locally on SQLite under .data/ (HOST=, PORT= to change)
	$(BIN)/alarm-callback serve --host $(HOST) --port $(PORT)

lint: venv ## ruff check, ruff format --check, lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types: venv ## mypy (strict) on the package
	$(BIN)/mypy alarm_callback handler.py

security: venv ## bandit on the package
	$(BIN)/bandit -q -r alarm_callback handler.py

pytest: venv $(TEST_PREREQS) ## pytest (PYTEST_ARGS=...)
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint types security $(TEST_PREREQS) pytest ## the whole gate: lint, types, security, pytest

schema: venv ## regenerate schema/alarm-event.schema.json from the model
	$(BIN)/python -m alarm_callback.ops.schema > schema/alarm-event.schema.json

CHAOS_N ?= 10000
CHAOS_FAULT_RATE ?= 0.2
# Stores to run, by name: memory sqlite redis dynamodb (DynamoDB on a local moto server).
CHAOS_STORES ?= memory sqlite redis dynamodb
CHAOS_REDIS_URL ?= redis://127.0.0.1:6379/0
CHAOS_ARGS ?=
chaos: venv ## N alarms through faulted backends, markers, reconciler and sweepers; the table per store (CHAOS_N=, CHAOS_FAULT_RATE=, CHAOS_STORES=)
	@status=0; for store in $(CHAOS_STORES); do \
		case $$store in \
			memory) url=memory:// ;; \
			sqlite) url=sqlite:///$$(mktemp -d)/chaos.db ;; \
			redis) url=$(CHAOS_REDIS_URL) ;; \
			dynamodb) url=dynamodb-moto:// ;; \
			*) echo "unknown chaos store $$store (memory sqlite redis dynamodb)" >&2; exit 2 ;; \
		esac; \
		$(BIN)/python -m alarm_callback.testing.chaos --n $(CHAOS_N) --fault-rate $(CHAOS_FAULT_RATE) \
			--store $$url $(CHAOS_ARGS) 2>/dev/null || status=1; echo; \
	done; exit $$status

# .data (the local queue, outbox and quarantine) is kept: `make clean-data` removes it.
clean: ## remove build artefacts: .venv, build, .serverless, node_modules, caches (not .data)
	rm -rf $(VENV) build .serverless node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -prune -not -path './.git/*' -exec rm -rf {} +

clean-data: ## delete .data: the local queue, dedup store/outbox and quarantine
	@if [ -d .data ]; then echo "Deleting .data/ (local queue, outbox and quarantine):"; ls -la .data; rm -rf .data; \
	else echo "no .data/ to delete"; fi
