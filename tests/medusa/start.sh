#!/usr/bin/env bash
# A real Medusa v2 store on 127.0.0.1 for the `medusa` integration tests (tests/test_medusa.py).
#
# Installs from the npm registry and Debian only (no git clone, no create-medusa-app), runs a
# private PostgreSQL 15 cluster on 127.0.0.1, rebuilds and seeds the database on every start
# (seed.ts: a US region, a warehouse, shipping and return options, two products, a publishable
# key), then starts Medusa on 127.0.0.1 and waits until an admin can log in. Measured in
# ../shared/reference/medusa-local-server.md: about 2 minutes on a bare machine, about 35 s
# when node_modules is still there. Stop it with tests/medusa/stop.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PEER_DIR=${CSCONSOLE_MEDUSA_DIR:-/var/tmp/csconsole-medusa}
PG_PORT=${CSCONSOLE_MEDUSA_PG_PORT:-54329}
MEDUSA_PORT=${CSCONSOLE_MEDUSA_PORT:-9123}
MEDUSA_VERSION=2.21.2
ADMIN_EMAIL=admin@example.test
ADMIN_PASSWORD=supersecret123
PGBIN=/usr/lib/postgresql/15/bin
export MEDUSA_DISABLE_TELEMETRY=true NODE_ENV=development
T0=$(date +%s)
phase() { echo "[medusa +$(( $(date +%s) - T0 ))s] $*"; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ -f "$PEER_DIR/medusa.pid" ] && kill -0 "$(cat "$PEER_DIR/medusa.pid")" 2>/dev/null; then
    "$HERE/stop.sh"
fi
if [ ! -x "$PGBIN/initdb" ] || ! command -v node >/dev/null || ! command -v curl >/dev/null; then
    phase "apt-get install postgresql nodejs npm curl"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends postgresql nodejs npm curl >/dev/null
fi
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if(!(a>22||(a===22&&b>=12)||(a===20&&b>=19))){console.error("Medusa needs Node ^20.19 || >=22.12, found "+process.version);process.exit(1)}'

mkdir -p "$PEER_DIR/src/scripts"
cd "$PEER_DIR"
cp "$HERE/package.json" package.json
[ -f "$HERE/package-lock.json" ] && cp "$HERE/package-lock.json" package-lock.json
cp "$HERE/seed.ts" src/scripts/seed.ts
cat > medusa-config.ts <<'TS'
import { loadEnv, defineConfig } from "@medusajs/framework/utils"
loadEnv(process.env.NODE_ENV || "development", process.cwd())
module.exports = defineConfig({
  projectConfig: {
    databaseUrl: process.env.DATABASE_URL,
    http: {
      storeCors: process.env.STORE_CORS!, adminCors: process.env.ADMIN_CORS!, authCors: process.env.AUTH_CORS!,
      jwtSecret: process.env.JWT_SECRET!, cookieSecret: process.env.COOKIE_SECRET!,
    },
  },
  admin: { disable: true },
})
TS
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "target": "ES2021", "esModuleInterop": true, "module": "Node16", "moduleResolution": "Node16",
    "emitDecoratorMetadata": true, "experimentalDecorators": true, "skipLibCheck": true, "declaration": false,
    "inlineSourceMap": true, "outDir": "./.medusa/server", "rootDir": "./", "baseUrl": ".", "resolveJsonModule": true,
    "checkJs": false, "strictNullChecks": true },
  "ts-node": { "swc": true },
  "include": ["**/*", ".medusa/types/*"], "exclude": ["node_modules", ".medusa/server", ".medusa/admin", ".cache"] }
JSON
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat > .env <<ENV
DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/medusa
STORE_CORS=http://127.0.0.1:$MEDUSA_PORT
ADMIN_CORS=http://127.0.0.1:$MEDUSA_PORT
AUTH_CORS=http://127.0.0.1:$MEDUSA_PORT
JWT_SECRET=$secret
COOKIE_SECRET=$secret
MEDUSA_DISABLE_TELEMETRY=true
ENV

phase "npm install @medusajs/medusa@$MEDUSA_VERSION"
# `npm install`, not `npm ci`: a lockfile made on Linux fails `npm ci` with npm 11 (optional darwin binaries).
npm install --no-audit --no-fund --loglevel=error
[ -f "$HERE/package-lock.json" ] || cp package-lock.json "$HERE/package-lock.json"

if [ ! -f pgdata/PG_VERSION ]; then
    mkdir -p pgdata pgsock
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres pgdata pgsock; fi
    chmod 700 pgdata
    as_pg "$PGBIN/initdb" -D "$PEER_DIR/pgdata" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
as_pg "$PGBIN/pg_ctl" -D "$PEER_DIR/pgdata" -l "$PEER_DIR/pgsock/pg.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PEER_DIR/pgsock -c fsync=off -c synchronous_commit=off" start >/dev/null
psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "drop database if exists medusa with (force)" -c "create database medusa"
phase "postgres on 127.0.0.1:$PG_PORT"

node_modules/.bin/medusa db:migrate > migrate.log 2>&1 || { tail -40 migrate.log; exit 1; }
node_modules/.bin/medusa user -e "$ADMIN_EMAIL" -p "$ADMIN_PASSWORD" > user.log 2>&1 || { tail -40 user.log; exit 1; }
SEED_OUT="$PEER_DIR/seed-output.json" node_modules/.bin/medusa exec ./src/scripts/seed.ts > seed.log 2>&1 \
    || { tail -40 seed.log; exit 1; }
phase "migrated and seeded"

nohup node_modules/.bin/medusa start -H 127.0.0.1 -p "$MEDUSA_PORT" > server.log 2>&1 &
echo $! > medusa.pid
for _ in $(seq 240); do
    curl -sf -o /dev/null "http://127.0.0.1:$MEDUSA_PORT/health" && break
    kill -0 "$(cat medusa.pid)" 2>/dev/null || { tail -40 server.log; exit 1; }
    sleep 0.5
done
curl -sf -X POST "http://127.0.0.1:$MEDUSA_PORT/auth/user/emailpass" -H 'content-type: application/json' \
    -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" | grep -q '"token"'
cat > peer.json <<JSON
{"url": "http://127.0.0.1:$MEDUSA_PORT", "email": "$ADMIN_EMAIL", "password": "$ADMIN_PASSWORD",
 "seed": "$PEER_DIR/seed-output.json"}
JSON
phase "Medusa $MEDUSA_VERSION on http://127.0.0.1:$MEDUSA_PORT (pid $(cat medusa.pid))"
