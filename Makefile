# lead-sla: `make test` and `make demo` do all of their own set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: help venv lint typecheck test test-unit test-integration demo bench clean readmodel-deps \
	ops-tools recipe-tools stack stack-stop \
	kafka-fetch kafka-start kafka-stop kafka-status

help:
	@echo "make test   lint, types, unit and integration tests (starts its own Kafka broker)"
	@echo "make demo   local broker + worker + sample leads, prints what came out"
	@echo "make bench  benchmarks (not part of make test)"
	@echo "make stack / stack-stop   local broker + worker with metrics, health and readiness URLs"
	@echo "make kafka-start / kafka-status / kafka-stop   a local broker from Maven jars (no Docker)"
	@echo "            (KAFKA_VERSION=4.1.1 make kafka-start for another version; default 3.9.2)"

venv: $(STAMP)

# The editable install also compiles the replay's hot modules with mypyc (setup.py: about a
# minute on 2 cores), with the pinned setuptools and mypy of the lock, and again whenever one
# of them changes (stale extensions are never loaded: leadsla/__init__.py). LEADSLA_COMPILE=0
# installs without compiling; LEADSLA_PURE=1 runs the pure Python modules. PYTHONHASHSEED=0: mypy's
# type inference can vary with the hash seed (python/mypy#1850); with it fixed, the same sources,
# interpreter and packages compile the same C (setup.py records the seed in leadsla/_native.json,
# and tests/unit/test_native_types.py checks that no inferred type is one that varies).
NATIVE_SOURCES := $(wildcard $(shell sed -n 's/^    "\(leadsla\/.*\.py\)",$$/\1/p' setup.py)) \
	$(wildcard leadsla/*.c)

$(STAMP): pyproject.toml requirements.lock setup.py $(NATIVE_SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==24.3.1
	$(PY) -m pip install --quiet -r requirements.lock
	@if [ "$${LEADSLA_COMPILE:-1}" != 0 ] && ! command -v cc >/dev/null && ! command -v gcc >/dev/null; then \
		echo "venv: no C compiler for the compiled modules (apt-get install gcc; or LEADSLA_COMPILE=0 make venv)"; exit 2; fi
	@start=$$(date +%s); \
	PYTHONHASHSEED=0 timeout 900 $(PY) -m pip install --quiet --no-deps --no-build-isolation -e . && \
	echo "venv: lead-sla installed in $$(( $$(date +%s) - start )) s ($$($(PY) -c 'import leadsla; print(leadsla.NATIVE)'))"
	touch $(STAMP)

# ruff sees `leadsla` (and its symlinked sub-packages) as first-party; lint-imports checks the
# layer contracts of pyproject.toml's [tool.importlinter].
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# Every module of the package under the name it runs as (leadsla.domain.engine), plus the tools
# and the tests.
typecheck: venv
	$(VENV)/bin/mypy -p leadsla
	$(VENV)/bin/mypy devtools bench examples/notifier/notifier.py
	$(VENV)/bin/mypy tests

test-unit: venv
	$(PY) -m pytest tests/unit -q

test-integration: venv kafka-fetch
	$(PY) -m pytest tests/integration -q

# One pytest session: the integration tests start one local broker for the whole session.
test: lint typecheck kafka-fetch readmodel-deps ops-tools recipe-tools
	$(PY) -m pytest tests -q

# The read-model tests need a PostgreSQL server (initdb/pg_ctl on the PATH or under
# `pg_config --bindir`) and Chromium (the HTML report check): installed from Debian's packages
# when missing, as root, non-interactive. Not root: the tests skip them (fail under CI=true).
readmodel-deps:
	@missing=""; \
	bindir=$$(pg_config --bindir 2>/dev/null || true); \
	if ! { command -v initdb >/dev/null && command -v pg_ctl >/dev/null; } && \
	   ! { [ -n "$$bindir" ] && [ -x "$$bindir/initdb" ] && [ -x "$$bindir/pg_ctl" ]; }; then \
		missing="$$missing postgresql"; fi; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "== installing$$missing (apt)"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing </dev/null; \
		else echo "readmodel-deps: missing$$missing (install as root: apt-get install$$missing)"; fi; \
	fi

# kcat and jq for the README's kcat recipes (tests/integration/test_kcat_recipes.py), openssl
# for the local broker's SASL_SSL listener (tests/integration/test_security.py): Debian's
# packages, installed when missing and apt-get can (as root). Without them those tests skip, and
# fail under CI=true.
recipe-tools:
	@missing=""; for tool in kcat jq openssl; do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "recipe-tools: installing$$missing (apt-get)"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing </dev/null >/dev/null; \
		else \
			echo "recipe-tools: missing$$missing (apt-get install$$missing)"; \
		fi; \
	fi

# The local broker's jars (Maven Central -> .cache/kafka/<version>/lib, reused). Skipped when
# KAFKA_BOOTSTRAP_SERVERS names a broker; without Maven outside CI the tests fall back to
# testcontainers or skip, under CI=true a missing broker fails them.
kafka-fetch: venv
	@if [ -n "$${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then \
		echo "kafka-fetch: skipped, using KAFKA_BOOTSTRAP_SERVERS=$$KAFKA_BOOTSTRAP_SERVERS"; \
	elif ! command -v mvn >/dev/null && [ "$${CI:-}" != "true" ]; then \
		echo "kafka-fetch: skipped, no mvn on PATH (integration tests will try Docker or skip)"; \
	else \
		$(PY) -m devtools.kafka_local fetch >/dev/null; \
	fi

kafka-start: venv
	$(PY) -m devtools.kafka_local start
	@echo "(export LEADSLA_BOOTSTRAP_SERVERS=... KAFKA_BOOTSTRAP_SERVERS=... with the address above)"

kafka-status:
	$(if $(wildcard $(PY)),$(PY),$(PYTHON)) -m devtools.kafka_local status

kafka-stop:
	$(if $(wildcard $(PY)),$(PY),$(PYTHON)) -m devtools.kafka_local stop

demo: venv kafka-fetch
	PY=$(PY) bash devtools/demo.sh

bench: venv
	$(PY) bench/bench_replay.py
	$(PY) bench/bench_projection.py

# Live worker benchmarks (issue 6; minutes each, own local broker; README "Worker benchmarks").
.PHONY: bench-worker
bench-worker: venv kafka-fetch
	$(PY) bench/bench_worker.py delay
	$(PY) bench/bench_worker.py throughput --workload sim
	$(PY) bench/bench_worker.py throughput --workload history --history 50 --events 50000
	$(PY) bench/bench_worker.py recovery --leads $${RECOVERY_LEADS:-300000} --repeat 1

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info leadsla/_native.json
	find . -path ./.venv -prune -o -path ./.cache -prune -o -name '*.so' -print -delete

# The contract and operations checks' tools: @asyncapi/parser and ajv (npm, pinned by
# devtools/asyncapi/package-lock.json, into .cache/node), promtool and docker-compose (apt).
# Under CI=true a tool that cannot be installed fails; elsewhere its tests are skipped.
ops-tools:
	bash devtools/ops_tools.sh

# The stack without Docker (docker-compose.yml is the same with Docker): a local broker, the
# worker with /metrics, /healthz and /readyz on LEADSLA_METRICS_PORT (default 9108); prints the
# URLs and keeps running until `make stack-stop` (README.md, "The stack").
stack: venv kafka-fetch
	PY=$(PY) bash devtools/stack.sh start

stack-stop:
	PY=$(if $(wildcard $(PY)),$(PY),$(PYTHON)) bash devtools/stack.sh stop
