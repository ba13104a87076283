#!/usr/bin/env bash
# Installs verdaccio (the private npm registry of the plugin tests) into its own folder, once.
# It needs an override of node-fetch that must not leak into plakar's own dependency tree, so it
# never goes into the project's package.json. Usage: verdaccio-install.sh [DIR]
# DIR defaults to test/.verdaccio (gitignored). Prints the path of the verdaccio binary.
set -euo pipefail
VERSION=6.8.0
DIR=${1:-$(cd "$(dirname "$0")/../.." && pwd)/test/.verdaccio}
BIN="$DIR/node_modules/.bin/verdaccio"
if [ -x "$BIN" ] && grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/verdaccio/package.json" 2>/dev/null; then
  echo "$BIN"; exit 0
fi
mkdir -p "$DIR"
# verdaccio 6.9+ needs Node 22; 6.8 needs node-fetch 2 (its 3.x is ESM-only and breaks it).
cat >"$DIR/package.json" <<JSON
{
  "name": "plakar-test-verdaccio",
  "version": "1.0.0",
  "private": true,
  "description": "verdaccio for plakar's plugin tests (scripts/services/verdaccio-install.sh)",
  "dependencies": {"verdaccio": "$VERSION"},
  "overrides": {"node-fetch": "2.7.0"}
}
JSON
(cd "$DIR" && npm install --no-audit --no-fund --loglevel=error >&2)
[ -x "$BIN" ] || { echo "verdaccio did not install into $DIR" >&2; exit 1; }
echo "$BIN"
