#!/usr/bin/env bash
# A frozen build of one commit for the benchmark, so that a long run measures one version of
# plakar while others keep editing and rebuilding this working tree:
#
#   test/bench/build-snapshot.sh [REV]        # default HEAD; prints the CLI path
#   npm run bench -- --plakar "$(test/bench/build-snapshot.sh)"
#
# The committed tree of REV is exported (git archive) to $PLAKAR_BENCH_DIR/plakar-<commit>
# (default ~/.cache/plakar-bench), this checkout's node_modules (the root's and the workspaces'
# own) is copied beside it (the workspace links are relative, so they point into the copy), and
# the copy is built.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REV=${1:-HEAD}
COMMIT=$(git -C "$ROOT" rev-parse --short=12 "$REV^{commit}")
DEST=${PLAKAR_BENCH_DIR:-$HOME/.cache/plakar-bench}/plakar-$COMMIT
if [ ! -f "$DEST/.bench-commit" ]; then
  rm -rf "$DEST.tmp" && mkdir -p "$DEST.tmp"
  git -C "$ROOT" archive "$COMMIT" | tar -x -C "$DEST.tmp"
  cp -a "$ROOT/node_modules" "$DEST.tmp/node_modules"
  # A workspace whose dependency's version differs from the root's has its own node_modules
  # (plugins/stream: tar-stream 3 and its types); without it the copy does not type-check.
  (cd "$ROOT" && for nm in core/*/node_modules lib/*/node_modules plugins/*/node_modules ui/node_modules; do
    [ -d "$nm" ] && cp -a "$nm" "$DEST.tmp/$nm"
  done) || true
  (cd "$DEST.tmp" && npm run build >&2)
  echo "$COMMIT" > "$DEST.tmp/.bench-commit"
  rm -rf "$DEST" && mv "$DEST.tmp" "$DEST"
fi
echo "$DEST/bin/run.js"
