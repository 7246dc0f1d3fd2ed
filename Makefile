# lead-sla: `make test` and `make demo` do all of their own set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: help venv lint typecheck test test-unit test-integration demo bench clean

help:
	@echo "make test   lint, types, unit and integration tests (starts its own Kafka broker)"
	@echo "make demo   local broker + worker + sample leads, prints what came out"
	@echo "make bench  benchmarks (not part of make test)"

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==24.3.1
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check domain schemas

typecheck: venv
	$(VENV)/bin/mypy domain schemas

test-unit: venv
	$(PY) -m pytest tests/unit -q

test: lint typecheck
	$(PY) -m pytest tests -q

bench: venv
	$(PY) bench/bench_replay.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
