# Performance (issue 6): `make bench` prints one table, every figure a median of several
# runs with its spread, every goal a ratio against a baseline measured in the same run.
# It installs what it needs (the Powertools baseline and pyinstrument into the venv, wrk via
# apt-get when root) and degrades with a message where it cannot (no wrk: a Python load
# generator; no moto/redis-server: "not available"). benchmarks/RESULTS.md keeps a run.
#
#   make bench              - every section (~4-8 minutes on 2 cores)
#   make bench BENCH_ONLY=warm,cold   - some sections (python -m benchmarks --help lists them)
#   make bench-smoke        - every section at tiny sizes (what tests/test_bench_smoke.py runs)
BENCH_ONLY ?=
BENCH_JSON ?= .data/bench.json

.PHONY: bench bench-smoke bench-tools

bench-tools: venv
	@$(BIN)/python -c "import aws_lambda_powertools, pyinstrument" 2>/dev/null || \
		$(BIN)/python -m pip install -q "aws-lambda-powertools>=3,<4" "pyinstrument>=4" || \
		echo "bench: could not install aws-lambda-powertools / pyinstrument: no baseline or profile" >&2
	@command -v wrk >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			(apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1; }) || true; \
		fi; \
		command -v wrk >/dev/null 2>&1 || echo "bench: wrk is not installed and could not be (apt-get install wrk): the local-server section uses the Python load generator" >&2; }
	@command -v redis-server >/dev/null 2>&1 || echo "bench: no redis-server: the Tencent cold start is not measured" >&2

bench: bench-tools
	@mkdir -p $(dir $(BENCH_JSON))
	$(BIN)/python -m benchmarks $(if $(BENCH_ONLY),--only $(BENCH_ONLY)) --json $(BENCH_JSON)

bench-smoke: venv
	$(BIN)/python -m benchmarks --smoke
