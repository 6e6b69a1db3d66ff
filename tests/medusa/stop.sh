#!/usr/bin/env bash
# Stops what tests/medusa/start.sh started: its Medusa process (by the pid it wrote) and its
# private PostgreSQL cluster. The installed node_modules stay, so the next start is quick.
set -euo pipefail
PEER_DIR=${CSCONSOLE_MEDUSA_DIR:-/var/tmp/csconsole-medusa}
PGBIN=/usr/lib/postgresql/15/bin
if [ -f "$PEER_DIR/medusa.pid" ]; then
    pid=$(cat "$PEER_DIR/medusa.pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$PEER_DIR/medusa.pid" "$PEER_DIR/peer.json"
fi
if [ -f "$PEER_DIR/pgdata/postmaster.pid" ]; then
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PEER_DIR/pgdata" -m fast -w stop >/dev/null
    else
        "$PGBIN/pg_ctl" -D "$PEER_DIR/pgdata" -m fast -w stop >/dev/null
    fi
fi
