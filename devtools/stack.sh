#!/usr/bin/env bash
# `make stack` / `make stack-stop`: the compose stack's core without Docker. A local Kafka broker
# (devtools/kafka_local.py, Maven jars), the worker with its metrics port (/metrics, /healthz,
# /readyz), and the read-model projector when LEADSLA_STACK_DB names a database; they keep running
# in the background until `make stack-stop`. Prints the URLs.
#
#   bash devtools/stack.sh start | stop | status
#
# Environment: LEADSLA_POLICY (default examples/policy.toml), LEADSLA_METRICS_PORT (default 9108),
# LEADSLA_STACK_DIR (state and logs, default out/stack), LEADSLA_STACK_BOOTSTRAP (use this broker
# instead of starting one), LEADSLA_STACK_DB (sqlite:///PATH or postgresql://...: also start
# `lead-sla project --db` on it), and any other LEADSLA_* setting for the worker.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY=${PY:-.venv/bin/python}
DIR=${LEADSLA_STACK_DIR:-out/stack}
PORT=${LEADSLA_METRICS_PORT:-9108}
HOST=${LEADSLA_WEB_HOST:-127.0.0.1}

# A pid file whose process runs (a zombie nobody reaped counts as gone).
alive() {
    [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null \
        && [[ "$(ps -o stat= -p "$(cat "$1")" 2>/dev/null)" != Z* ]]
}

stop_pid() {  # stop_pid NAME PIDFILE
    local pidfile=$2 pid
    if alive "$pidfile"; then
        pid=$(cat "$pidfile")
        echo "stack: stopping the $1 (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 150); do alive "$pidfile" || break; sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

urls() {
    local bootstrap
    bootstrap=$(cat "$DIR/bootstrap")
    cat <<TEXT
stack: running (state and logs in $DIR)
  broker      $bootstrap          export LEADSLA_BOOTSTRAP_SERVERS=$bootstrap KAFKA_BOOTSTRAP_SERVERS=$bootstrap
  metrics     http://$HOST:$PORT/metrics
  liveness    http://$HOST:$PORT/healthz
  readiness   http://$HOST:$PORT/readyz
  worker log  $DIR/worker.log
TEXT
    if [[ -s "$DIR/projector.pid" ]]; then
        echo "  projector   $DIR/projector.log"
    fi
    echo "  stop with   make stack-stop"
}

start() {
    mkdir -p "$DIR"
    if alive "$DIR/worker.pid"; then
        urls
        return
    fi
    if [[ -n "${LEADSLA_STACK_BOOTSTRAP:-}" ]]; then
        echo "$LEADSLA_STACK_BOOTSTRAP" >"$DIR/bootstrap"
    else
        echo "stack: starting a local Kafka broker"
        "$PY" -m devtools.kafka_local start --state-file "$DIR/broker.json" >"$DIR/bootstrap"
    fi
    local bootstrap
    bootstrap=$(cat "$DIR/bootstrap")
    export LEADSLA_BOOTSTRAP_SERVERS="$bootstrap"
    export LEADSLA_POLICY=${LEADSLA_POLICY:-examples/policy.toml}
    export LEADSLA_METRICS_PORT="$PORT" LEADSLA_WEB_HOST="$HOST"
    export LEADSLA_DATA_DIR=${LEADSLA_DATA_DIR:-$DIR/worker-data}
    echo "stack: starting the worker (policy $LEADSLA_POLICY)"
    setsid "$PY" -m leadsla.cli worker >"$DIR/worker.log" 2>&1 </dev/null &
    echo $! >"$DIR/worker.pid"
    local ready=""
    for _ in $(seq 1 300); do
        alive "$DIR/worker.pid" || break
        if "$PY" - "http://$HOST:$PORT/readyz" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=1)
PY
            ready=1
            break
        fi
        sleep 0.3
    done
    if [[ -z "$ready" ]]; then
        echo "stack: the worker did not become ready; its log:" >&2
        tail -n 30 "$DIR/worker.log" >&2 || true
        stop
        return 1
    fi
    if [[ -n "${LEADSLA_STACK_DB:-}" ]]; then
        echo "stack: starting the projector"
        setsid "$PY" -m leadsla.cli project --db "$LEADSLA_STACK_DB" >"$DIR/projector.log" 2>&1 </dev/null &
        echo $! >"$DIR/projector.pid"
    fi
    urls
}

stop() {
    stop_pid projector "$DIR/projector.pid"
    stop_pid worker "$DIR/worker.pid"
    if [[ -f "$DIR/broker.json" ]]; then
        echo "stack: stopping the broker"
        "$PY" -m devtools.kafka_local stop --state-file "$DIR/broker.json" || true
    fi
    rm -f "$DIR/bootstrap"
    echo "stack: stopped"
}

status() {
    if alive "$DIR/worker.pid"; then
        urls
    else
        echo "stack: not running"
        return 1
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: devtools/stack.sh start|stop|status" >&2; exit 2 ;;
esac
