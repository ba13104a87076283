#!/usr/bin/env bash
# Stops the verdaccio started by verdaccio-up.sh and removes its temp dir. Usage: verdaccio-down.sh $VERDACCIO_WORK
set -uo pipefail
W=${1:?usage: verdaccio-down.sh VERDACCIO_WORK}
case "$W" in */plakar-verdaccio.*) ;; *) echo "refusing to remove $W" >&2; exit 1 ;; esac
if P=$(cat "$W/pid" 2>/dev/null); then
  kill "$P" 2>/dev/null
  for i in $(seq 50); do kill -0 "$P" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$P" 2>/dev/null
fi
rm -rf "$W"
