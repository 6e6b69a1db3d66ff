#!/usr/bin/env bash
# Stop the RT test server that tests/rt/start.sh started (only that one, by its pid file).
set -euo pipefail

STATE="${CSCONSOLE_RT_STATE:-/var/lib/csconsole-rt}"
PID_FILE="$STATE/rt-server.pid"

[ -f "$PID_FILE" ] || exit 0
pid="$(cat "$PID_FILE")"
if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
fi
rm -f "$PID_FILE"
