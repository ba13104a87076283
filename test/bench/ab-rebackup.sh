#!/bin/bash
# A/B unchanged re-backup with frozen builds, alternated: one untimed first backup (with the
# first build) makes a base repository and cache; each timed run starts from a copy of that base,
# with the page cache dropped (DROP=0 to keep it). EACH=1: one base per build, made by that build
# (builds whose cache or repository formats differ, where a base made by one would cost the
# other a migration or a cache rebuild in every timed run).
# MAIN_CPU=1: each plakar line ends with its main thread's CPU time (main-cpu.cjs), apart from
# the walk's, the workers' and V8's helper threads. RESTIC=1: restic's unchanged re-backup of the
# same source (its own base repository and cache, made once) is timed in the same alternation.
SRC=$1; shift; ROUNDS=${ROUNDS:-3}; DROP=${DROP:-1}; EACH=${EACH:-0}
W=/root/.cache/plakar-bench/work/abr-$$; export PLAKAR_PASSPHRASE=x RESTIC_PASSWORD=x
mkdir -p $W
PRE=(); [ "${MAIN_CPU:-0}" = 1 ] && PRE=(-r "$(cd "$(dirname "$0")" && pwd)/main-cpu.cjs")
base() { [ "$EACH" = 1 ] && echo $W/base-$(echo "$1" | md5sum | cut -c1-8) || echo $W/base; }
for b in "$@"; do
  B=$(base $b); [ -d $B ] && continue
  node $b --cache-dir $B/pc --config-dir $B/pc/config --quiet at $B/repo create >/dev/null 2>&1
  node $b --cache-dir $B/pc --config-dir $B/pc/config --quiet at $B/repo backup $SRC >/dev/null 2>&1
done
tools=("$@")
if [ "${RESTIC:-0}" = 1 ]; then
  restic --repo $W/restic/repo --cache-dir $W/restic/cache --quiet init >/dev/null
  restic --repo $W/restic/repo --cache-dir $W/restic/cache --quiet backup $SRC >/dev/null
  tools+=(restic)
fi
for i in $(seq $ROUNDS); do
  # Rotated, so that each tool runs first, in the middle and last in turn.
  order=(); n=${#tools[@]}; for ((j = 0; j < n; j++)); do order+=("${tools[(i + j) % n]}"); done
  for b in "${order[@]}"; do
    rm -rf $W/run
    if [ "$b" = restic ]; then cp -a $W/restic $W/run; cmd=(restic --repo $W/run/repo --cache-dir $W/run/cache --quiet backup $SRC); label=restic; lines=1
    else cp -a $(base $b) $W/run; cmd=(node "${PRE[@]}" $b --cache-dir $W/run/pc --config-dir $W/run/pc/config --quiet at $W/run/repo backup $SRC); label=$(basename $(dirname $(dirname $b))); lines=$((1 + ${#PRE[@]} / 2)); fi
    if [ "$DROP" = 1 ]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi
    /usr/bin/time -f "$label %e s wall %U u %S s %M KB" "${cmd[@]}" 2>&1 >/dev/null | tail -$lines | paste -sd' '
  done
  echo "round $i load $(cut -d' ' -f1 /proc/loadavg)"
done
rm -rf $W
