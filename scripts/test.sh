#!/usr/bin/env bash
# The whole test suite: builds, starts the real services the tests need, runs every test.
# Usage: npm test [-- vitest arguments, e.g. a file filter]
# Without arguments it also checks the layering rules (.dependency-cruiser.cjs) and type-checks
# the tests (tsconfig.tests.json): `npm run check` alone runs just those two.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/@oclif/core ] || npm ci --no-audit --no-fund
bash scripts/install-debian-packages.sh
npm run build
[ $# -gt 0 ] || npm run check
npx vitest run "$@"
