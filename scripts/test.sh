#!/usr/bin/env bash
# The whole test suite: builds, starts the real services the tests need, runs every test.
# Usage: npm test [-- vitest arguments, e.g. a file filter]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/@oclif/core ] || npm ci --no-audit --no-fund
bash scripts/install-debian-packages.sh
npm run build
npx vitest run "$@"
