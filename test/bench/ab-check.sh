#!/bin/bash
# Benchmark (not a test): A/B full check with frozen builds, alternated. One untimed backup of
# SRC (with the first build) makes a repository and cache; every build then checks that same
# repository (a check changes neither), the page cache dropped before each run (DROP=0 keeps
# it), the order reversed every round. Prints wall, user, sys and peak RSS per run.
#
#   A=$(test/bench/build-snapshot.sh HEAD~1) B=$(test/bench/build-snapshot.sh HEAD)
#   ROUNDS=5 test/bench/ab-check.sh ~/.cache/plakar-bench/corpora/full/source-tree $A $B
#
# KEEP=DIR keeps the repository and cache in DIR, and reuses them when DIR already has them
# (the backup of many-small takes longer than a round of checks).
#
# Each build checks with a copy of the cache of its own (opened once, untimed, before the
# rounds): builds of different cache schemas would otherwise rebuild or migrate it every run.
SRC=$1; shift; ROUNDS=${ROUNDS:-3}; DROP=${DROP:-1}
if [ -n "${KEEP:-}" ]; then W=$KEEP; else
  W=${PLAKAR_BENCH_DIR:-$HOME/.cache/plakar-bench}/work/abc-$$
  trap 'rm -rf "$W"' EXIT
fi
export PLAKAR_PASSPHRASE=x
mkdir -p $W
p=(--cache-dir $W/pc --config-dir $W/pc/config --quiet at $W/repo)
if [ ! -d $W/repo ]; then
  node $1 "${p[@]}" create >/dev/null 2>&1
  node $1 "${p[@]}" backup $SRC >/dev/null 2>&1
fi
cache() { echo "$W/pc-$(basename "$(dirname "$(dirname "$1")")")"; }
for b in "$@"; do
  [ -d "$(cache "$b")" ] || cp -a "$W/pc" "$(cache "$b")"
  node "$b" --cache-dir "$(cache "$b")" "${p[@]:2}" ls >/dev/null 2>&1
done
for i in $(seq $ROUNDS); do
  order=("$@"); [ $((i%2)) = 0 ] && order=($(printf '%s\n' "$@" | tac))
  for b in "${order[@]}"; do
    if [ "$DROP" = 1 ]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi
    /usr/bin/time -f "$(basename $(dirname $(dirname $b))) %e s wall %U u %S s %M KB" node $b --cache-dir "$(cache "$b")" "${p[@]:2}" check 2>&1 >/dev/null | tail -1
  done
  echo "round $i load $(cut -d' ' -f1 /proc/loadavg)"
done
