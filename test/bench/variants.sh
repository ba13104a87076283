#!/usr/bin/env bash
# Benchmark (not a test): plakar alone on the harness's source-tree corpus (the /usr/lib-shaped
# tree of issue 15, built once by corpus.mjs), run as several variants; peak RSS and CPU (user,
# sys) of backup, restore and check. Each argument is one variant: the command that starts
# plakar, split on spaces (a frozen build of build-snapshot.sh, node flags, an environment:
# "node /a/bin/run.js", "env MALLOC_ARENA_MAX=2 node /b/bin/run.js"). The order of the variants
# is reversed every round; every variant gets a fresh repository; the page cache is dropped (as
# root) before every step. STEPS chooses the steps (default "backup restore check"), CORPUS
# another corpus of corpus.mjs (default source-tree).
#
#   A=$(test/bench/build-snapshot.sh HEAD~1) B=$(test/bench/build-snapshot.sh HEAD)
#   ROUNDS=3 test/bench/variants.sh "node $A" "node $B"
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND... (one quoted command per variant)" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=${ROUNDS:-2}
STEPS=${STEPS:-backup restore check}
BENCH=${PLAKAR_BENCH_DIR:-$HOME/.cache/plakar-bench}
SRC=$(node "$ROOT/test/bench/corpus.mjs" --dir "$BENCH/corpora" "${CORPUS:-source-tree}" | cut -f4)
W=$BENCH/work/variants-$$
export PLAKAR_PASSPHRASE=bench-only-passphrase
trap 'rm -rf "$W"' EXIT
drop() { sync; if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; fi; }
variants=("$@")
for i in $(seq "$ROUNDS"); do
  order=("${variants[@]}")
  if [ $((i % 2)) = 0 ]; then order=(); for ((j = ${#variants[@]} - 1; j >= 0; j--)); do order+=("${variants[j]}"); done; fi
  for v in "${order[@]}"; do
    rm -rf "$W" && mkdir -p "$W"
    # shellcheck disable=SC2206 # the command is split on purpose
    p=($v --cache-dir "$W/pc" --config-dir "$W/pc/config" --quiet at "$W/repo")
    "${p[@]}" create >/dev/null 2>&1
    for s in $STEPS; do
      case $s in backup) a=(backup --json "$SRC") ;; restore) a=(restore --json --to "$W/r") ;; check) a=(check --json) ;; ls) a=(ls) ;; esac
      drop
      /usr/bin/time -f "[$v] $s %e s wall, %U s user, %S s sys, %M KB peak" "${p[@]}" "${a[@]}" 2>&1 >/dev/null | tail -1
    done
    [ ! -d "$W/r" ] || diff -r -q --no-dereference "$SRC" "$W/r" >/dev/null || echo "[$v] restore differs from the source" >&2
  done
  echo "round $i, load $(cut -d' ' -f1-3 /proc/loadavg)"
done
