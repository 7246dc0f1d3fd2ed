#!/usr/bin/env bash
# The tools the contract and operations checks use, installed when missing (called by `make test`):
#   - @asyncapi/parser and ajv (npm, versions pinned by devtools/asyncapi/package-lock.json)
#     into .cache/node, reinstalled only when the lock changes;
#   - promtool (Debian package `prometheus`) and docker-compose (Debian package `docker-compose`)
#     through apt-get when run as root.
# Under CI=true anything that cannot be installed fails the run; elsewhere it says so and the
# tests that need it are skipped with that reason.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

failed=0
problem() {
    echo "ops-tools: $*" >&2
    failed=1
}

node_tools() {
    local dir=.cache/node lock=devtools/asyncapi/package-lock.json
    if ! command -v npm >/dev/null; then
        problem "npm not found: the AsyncAPI and sample-event validators cannot be installed"
        return
    fi
    if [ -f "$dir/node_modules/.lead-sla-lock" ] && cmp -s "$lock" "$dir/node_modules/.lead-sla-lock"; then
        return
    fi
    mkdir -p "$dir"
    cp devtools/asyncapi/package.json "$lock" "$dir/"
    # --ignore-scripts: no package needs a build step, and one would phone home.
    if (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null); then
        cp "$lock" "$dir/node_modules/.lead-sla-lock"
    else
        problem "npm ci in $dir failed"
    fi
}

apt_tool() {  # apt_tool COMMAND PACKAGE
    command -v "$1" >/dev/null && return
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        problem "$1 not found and cannot be installed here (apt-get install $2 as root)"
        return
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${OPS_TOOLS_APT_UPDATED:-}" ]; then
        apt-get update -qq </dev/null >/dev/null || true
        OPS_TOOLS_APT_UPDATED=1
    fi
    apt-get install -y -qq --no-install-recommends "$2" </dev/null >/dev/null \
        || problem "apt-get install $2 failed"
    command -v "$1" >/dev/null || problem "$1 still not found after installing $2"
}

node_tools
apt_tool promtool prometheus
apt_tool docker-compose docker-compose

if [ "$failed" != 0 ]; then
    if [ "${CI:-}" = "true" ]; then
        echo "ops-tools: a tool the tests need is missing (CI=true: failing)" >&2
        exit 1
    fi
    echo "ops-tools: continuing; the tests that need the missing tool will be skipped" >&2
fi
exit 0
