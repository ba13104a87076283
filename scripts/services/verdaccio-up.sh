#!/usr/bin/env bash
# A throwaway private npm registry: verdaccio on 127.0.0.1:<free port>, with its config, storage
# and users in a fresh temp dir, no uplink (it serves only what is published to it, so nothing
# can come from the public registry by mistake), and a user "ci" whose token it prints.
# Prints KEY=VALUE lines: VERDACCIO_URL (ends with /), VERDACCIO_TOKEN, VERDACCIO_WORK.
# Stop it with verdaccio-down.sh "$VERDACCIO_WORK".
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(bash "$HERE/verdaccio-install.sh" "${VERDACCIO_DIR:-}")
W=$(mktemp -d "${TMPDIR:-/tmp}/plakar-verdaccio.XXXXXX")
mkdir -p "$W/storage"
cat >"$W/config.yaml" <<CFG
storage: $W/storage
auth:
  htpasswd:
    file: $W/htpasswd
    max_users: 100
    algorithm: bcrypt
    rounds: 4
uplinks: {}
packages:
  '**':
    access: \$all
    publish: \$authenticated
    unpublish: \$authenticated
web:
  enable: false
publish:
  allow_offline: true
log: {type: stdout, format: pretty, level: warn}
CFG
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
for attempt in 1 2 3 4 5; do
  PORT=$(free_port)
  : >"$W/log"
  setsid "$BIN" --config "$W/config.yaml" --listen "127.0.0.1:$PORT" >"$W/log" 2>&1 </dev/null &
  echo $! >"$W/pid"
  up=0
  # Polled until it answers or exits; the cap (180 s) only catches a hung server: on a loaded
  # machine verdaccio takes well over the 10 s it takes on a quiet one.
  for i in $(seq 1 3600); do
    if curl -sf "http://127.0.0.1:$PORT/-/ping" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$(cat "$W/pid")" 2>/dev/null || break
    sleep 0.05
  done
  [ "$up" = 1 ] && break
  kill "$(cat "$W/pid")" 2>/dev/null || true
  # The port may have been taken between the probe and verdaccio's bind: try another.
  grep -q EADDRINUSE "$W/log" || { cat "$W/log" >&2; rm -rf "$W"; exit 1; }
done
[ "$up" = 1 ] || { echo "verdaccio did not start" >&2; cat "$W/log" >&2; rm -rf "$W"; exit 1; }
URL="http://127.0.0.1:$PORT/"
TOKEN=$(curl -sf -X PUT -H 'content-type: application/json' \
  -d '{"name":"ci","password":"ci-password-123","email":"ci@example.invalid"}' \
  "${URL}-/user/org.couchdb.user:ci" | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).token))')
[ -n "$TOKEN" ] || { echo "verdaccio: could not create the test user" >&2; exit 1; }
echo "VERDACCIO_URL=$URL"
echo "VERDACCIO_TOKEN=$TOKEN"
echo "VERDACCIO_WORK=$W"
