#!/usr/bin/env bash
# Start-up time of the CLI (SPEC §8: under 300 ms), measured, never asserted in a test.
# `plakar --help` and `plakar version` with the first-party plugins and one installed plugin,
# against `node -e 0` as the floor. Uses hyperfine when installed (Debian: apt-get install
# hyperfine), else a loop of its own. Usage: test/bench/startup.sh [RUNS]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-30}
[ -f oclif.manifest.json ] && [ -f core/dist/index.js ] || npm run build >/dev/null

W=$(mktemp -d "${TMPDIR:-/tmp}/plakar-bench-startup.XXXXXX")
trap 'rm -rf "$W"' EXIT
# An isolated plakar: its own HOME and data directory, so the user's plugins are not measured.
export HOME=$W/home PLAKAR_DATA_DIR=$W/data PLAKAR_CONFIG_DIR=$W/config PLAKAR_CACHE_DIR=$W/cache NO_COLOR=1
mkdir -p "$HOME" "$PLAKAR_DATA_DIR"
for v in $(env | sed -n 's/^\(npm_[^=]*\)=.*/\1/p'); do unset "$v"; done

# One installed plugin, declared as any third-party one (an importer with its schema).
P=$W/plugin && mkdir -p "$P"
cat >"$P/package.json" <<'JSON'
{"name": "@bench/plakar-importer-bench", "version": "1.0.0", "type": "module", "oclif": {},
 "plakar": {"contract": 1, "connectors": [{"kind": "importer", "schemes": ["bench"], "module": "./index.js",
  "schema": {"type": "object", "properties": {"token": {"type": "string", "writeOnly": true}}, "additionalProperties": false}}]}}
JSON
echo 'export default async function create() { throw new Error("not used") }' >"$P/index.js"
node bin/run.js plugins install "file:$P" >/dev/null 2>&1
node bin/run.js version | grep -q '@bench/plakar-importer-bench' || { echo "the bench plugin did not install" >&2; exit 1; }

CMDS=("node -e 0" "node bin/run.js --help" "node bin/run.js version")
echo "plakar start-up, $RUNS runs each, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$W/h.json" "${CMDS[@]}" >/dev/null 2>&1
  node -e '
    const r = require(process.argv[1]).results
    for (const x of r) {
      const t = [...x.times].sort((a, b) => a - b), ms = (s) => (s * 1000).toFixed(0).padStart(4)
      console.log(`${x.command.padEnd(26)} median ${ms(x.median)} ms   min ${ms(t[0])}   p90 ${ms(t[Math.floor(t.length * 0.9)])}`)
    }' "$W/h.json"
else
  for c in "${CMDS[@]}"; do
    for i in 1 2 3; do $c >/dev/null 2>&1; done
    for i in $(seq "$RUNS"); do
      s=$(date +%s%N); $c >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))
    done | sort -n | awk -v c="$c" '{a[NR]=$1} END {printf "%-26s median %4d ms   min %4d   p90 %4d\n", c, a[int((NR+1)/2)], a[1], a[int(NR*0.9)]}'
  done
fi
