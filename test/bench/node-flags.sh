#!/usr/bin/env bash
# Benchmark (not a test): plakar alone on the /usr/lib-shaped tree of usr-lib.sh, started with
# different node flags; peak RSS and CPU (user, sys) of backup, restore and check. Each
# argument is one variant (a quoted list of node flags, "" for none); the order of the variants
# is reversed every round; every variant gets a fresh repository; the page cache is dropped
# (as root) before every step.
#
#   npm run build && ROUNDS=2 test/bench/node-flags.sh "" "--max-semi-space-size=1"
#
# Run usr-lib.sh once first: it copies the tree.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PLAKAR=${PLAKAR:-$ROOT/bin/run.js}
ROUNDS=${ROUNDS:-2}
BENCH=${PLAKAR_BENCH_DIR:-$HOME/.cache/plakar-bench}
SRC=$BENCH/corpora/usr-lib
W=$BENCH/work/node-flags
export PLAKAR_PASSPHRASE=bench-only-passphrase
[ -d "$SRC" ] || { echo "no tree at $SRC: run test/bench/usr-lib.sh once" >&2; exit 2; }
[ $# -gt 0 ] || { echo "usage: $0 FLAGS... (one quoted argument per variant)" >&2; exit 2; }
drop() { sync; if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; fi; }
variants=("$@")
for i in $(seq "$ROUNDS"); do
  order=("${variants[@]}")
  if [ $((i % 2)) = 0 ]; then order=(); for ((j = ${#variants[@]} - 1; j >= 0; j--)); do order+=("${variants[j]}"); done; fi
  for v in "${order[@]}"; do
    rm -rf "$W" && mkdir -p "$W"
    # shellcheck disable=SC2206 # the flags are split on purpose
    p=(node $v "$PLAKAR" --cache-dir "$W/pc" --config-dir "$W/pc/config" --quiet at "$W/repo")
    "${p[@]}" create >/dev/null 2>&1
    for s in backup restore check; do
      case $s in backup) a=(backup --json "$SRC") ;; restore) a=(restore --json --to "$W/r") ;; check) a=(check --json) ;; esac
      drop
      /usr/bin/time -f "[${v:-none}] $s %e s wall, %U s user, %S s sys, %M KB peak" "${p[@]}" "${a[@]}" 2>&1 >/dev/null | tail -1
    done
  done
  echo "round $i, load $(cut -d' ' -f1-3 /proc/loadavg)"
done
rm -rf "$W"
