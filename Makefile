# lead-sla: `make test` and `make demo` do all of their own set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: help venv lint typecheck test test-unit test-integration demo bench clean \
	kafka-fetch kafka-start kafka-stop kafka-status

help:
	@echo "make test   lint, types, unit and integration tests (starts its own Kafka broker)"
	@echo "make demo   local broker + worker + sample leads, prints what came out"
	@echo "make bench  benchmarks (not part of make test)"
	@echo "make kafka-start / kafka-status / kafka-stop   a local broker from Maven jars (no Docker)"
	@echo "            (KAFKA_VERSION=4.1.1 make kafka-start for another version; default 3.9.2)"

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==24.3.1
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# ruff sees `leadsla` (and its symlinked sub-packages) as first-party; lint-imports checks the
# layer contracts of pyproject.toml's [tool.importlinter].
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# Every module of the package under the name it runs as (leadsla.domain.engine), plus the tools.
typecheck: venv
	$(VENV)/bin/mypy -p leadsla
	$(VENV)/bin/mypy devtools bench

test-unit: venv
	$(PY) -m pytest tests/unit -q

test-integration: venv kafka-fetch
	$(PY) -m pytest tests/integration -q

# One pytest session: the integration tests start one local broker for the whole session.
test: lint typecheck kafka-fetch
	$(PY) -m pytest tests -q

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

# Live worker benchmarks (issue 6; minutes each, own local broker; README "Worker benchmarks").
.PHONY: bench-worker
bench-worker: venv kafka-fetch
	$(PY) bench/bench_worker.py delay
	$(PY) bench/bench_worker.py throughput --workload sim
	$(PY) bench/bench_worker.py throughput --workload history --history 50 --events 50000
	$(PY) bench/bench_worker.py recovery --leads $${RECOVERY_LEADS:-300000} --repeat 1

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
