#!/usr/bin/env bash
# `make demo`: a local Kafka broker, the worker, and a story of eight leads whose whole life plays
# out in seconds (timers, a warning, a breach with its reason, escalation to the backup then the
# manager, a review request, a held lead, an answer that closes tasks, a late reply that retracts
# a breach); prints every output in the order it was published and a line per lead, then stops
# everything it started (trap on exit, also on Ctrl-C or a failure half-way).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY=${PY:-.venv/bin/python}
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

# The story's policy: calendar clock, windows of a few seconds, a small roster.
"$PY" -m devtools.demo_story policy "$WORK/policy.toml"

export LEADSLA_BOOTSTRAP_SERVERS="$BOOTSTRAP"
export LEADSLA_TOPIC_PREFIX="demo-"
export LEADSLA_APP_ID="lead-sla-demo"
export LEADSLA_DATA_DIR="$WORK/worker-data"
export LEADSLA_POLICY="$WORK/policy.toml"
export LEADSLA_SESSION_TIMEOUT_S=6 LEADSLA_REBALANCE_TIMEOUT_S=6 LEADSLA_HEARTBEAT_INTERVAL_S=0.5

echo "== starting the worker (log: $WORK/worker.log); it creates its topics (prefix $LEADSLA_TOPIC_PREFIX)"
"$PY" -m leadsla.cli worker --loglevel warning >"$WORK/worker.log" 2>&1 &
WORKER_PID=$!
"$PY" -m devtools.demo_io wait-ready --timeout 60 --worker-pid "$WORKER_PID"

echo "== playing the story: eight leads, windows of 6-9 seconds (see devtools/demo_story.py)"
"$PY" -m devtools.demo_story play
echo "== projecting the output topics into SQLite read models; the manager's short list"
"$PY" -m leadsla.cli project --db "sqlite:///$WORK/read-models.db" --policy "$WORK/policy.toml" --until-caught-up
"$PY" -m leadsla.cli report --db "sqlite:///$WORK/read-models.db" --limit 10
echo "== demo done"
