#!/usr/bin/env bash
# `make demo`: a local Kafka broker, the topics, the worker, ~10 sample leads; prints every
# output record read back from Kafka, then stops everything it started (trap on exit, also on
# Ctrl-C or a failure half-way).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY=${PY:-.venv/bin/python}
SAMPLE=${SAMPLE:-examples/sample-leads.jsonl}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/leadsla-demo-XXXXXX")
STATE="$WORK/broker.json"
WORKER_PID=""

cleanup() {
    local code=$?
    trap - EXIT INT TERM
    if [[ -n "$WORKER_PID" ]] && kill -0 "$WORKER_PID" 2>/dev/null; then
        echo "== stopping the worker (pid $WORKER_PID)"
        kill -TERM "$WORKER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$WORKER_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$WORKER_PID" 2>/dev/null || true
        wait "$WORKER_PID" 2>/dev/null || true
    fi
    if [[ $code -ne 0 && -s "$WORK/worker.log" ]]; then
        echo "== worker log (tail)"; tail -n 40 "$WORK/worker.log"
    fi
    echo "== stopping the broker"
    "$PY" -m devtools.kafka_local stop --state-file "$STATE" || true
    rm -rf "$WORK"
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== starting a local Kafka broker (${KAFKA_VERSION:-default version})"
BOOTSTRAP=$("$PY" -m devtools.kafka_local start --state-file "$STATE")

# A demo policy: calendar clock, short targets, a small roster.
cat > "$WORK/policy.toml" <<'TOML'
version = "demo-1"
clock = "calendar"
default_manager = "claudia-weber"
warn_at = 0.75

[[targets]]
source = "chat"
minutes = 10

[[targets]]
priority = "urgent"
minutes = 15

[[targets]]
source = "pricing_page"
minutes = 15

[[targets]]
source = "demo_request"
minutes = 30

[[targets]]
minutes = 60

[roster.anna-keller]
backup = "jonas-becker"
manager = "claudia-weber"

[roster.jonas-becker]
backup = "lea-hoffmann"
manager = "claudia-weber"

[roster.lea-hoffmann]
backup = "david-okafor"
manager = "claudia-weber"

[roster.david-okafor]
backup = "anna-keller"
manager = "claudia-weber"

[roster.lukas-brandt]
backup = "mia-fischer"
manager = "claudia-weber"

[roster.mia-fischer]
backup = "anna-keller"
manager = "claudia-weber"
TOML

export LEADSLA_BOOTSTRAP_SERVERS="$BOOTSTRAP"
export LEADSLA_TOPIC_PREFIX="demo-"
export LEADSLA_APP_ID="lead-sla-demo"
export LEADSLA_DATA_DIR="$WORK/worker-data"
export LEADSLA_POLICY="$WORK/policy.toml"
export LEADSLA_SESSION_TIMEOUT_S=6 LEADSLA_REBALANCE_TIMEOUT_S=6

echo "== creating topics (prefix $LEADSLA_TOPIC_PREFIX) on $BOOTSTRAP"
"$PY" -m leadsla.cli topics create

echo "== starting the worker (log: $WORK/worker.log)"
"$PY" -m leadsla.cli worker --loglevel warning >"$WORK/worker.log" 2>&1 &
WORKER_PID=$!

echo "== feeding $SAMPLE (times shifted so that the latest event is now)"
"$PY" -m devtools.demo_io feed "$SAMPLE" --shift-to-now

CREATED=$(grep -c '"type":"lead.created"' "$SAMPLE")
echo "== output read back from Kafka (waiting for $CREATED sla.timer_started)"
"$PY" -m devtools.demo_io read --expect "$CREATED" --timeout 90 --quiet 4 --worker-pid "$WORKER_PID"
echo "== demo done"
