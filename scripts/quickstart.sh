#!/usr/bin/env bash
# Installs plakar from this clone, then backs up docs/ into the default repository (~/.plakar,
# or $PLAKAR_REPOSITORY), restores the latest snapshot into a temporary directory and compares.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules/@oclif/core ]; then npm ci --no-audit --no-fund; fi
npm run build --silent
plakar() { node bin/run.js "$@"; }
if [ -z "${PLAKAR_PASSPHRASE:-}" ] && [ -z "${PLAKAR_KEYFILE:-}" ] && ! [ -t 0 ]; then
  echo "quickstart: set PLAKAR_PASSPHRASE (or run on a terminal to be asked for one)" >&2
  exit 1
fi
repo="${PLAKAR_REPOSITORY:-$HOME/.plakar}"
if ! plakar info --quiet >/dev/null 2>&1; then
  if [ -e "$repo" ]; then echo "quickstart: $repo exists but cannot be opened" >&2; plakar info; exit 1; fi
  plakar create
fi
plakar backup --tag quickstart docs
target=$(mktemp -d "${TMPDIR:-/tmp}/plakar-quickstart-XXXXXX")
plakar restore --to "$target"
diff -r docs "$target"
echo "quickstart: docs/ backed up into $repo and restored bit-exact into $target"
plakar ls
echo "quickstart: run 'npm link' to put the plakar command on your PATH"
