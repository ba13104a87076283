#!/bin/bash
# A/B unchanged re-backup with frozen builds, alternated: one untimed first backup (with the
# first build) makes a base repository and cache; each timed run starts from a copy of that base,
# with the page cache dropped (DROP=0 to keep it). EACH=1: one base per build, made by that build
# (builds whose cache or repository formats differ, where a base made by one would cost the
# other a migration or a cache rebuild in every timed run).
SRC=$1; shift; ROUNDS=${ROUNDS:-3}; DROP=${DROP:-1}; EACH=${EACH:-0}
W=/root/.cache/plakar-bench/work/abr-$$; export PLAKAR_PASSPHRASE=x
mkdir -p $W
base() { [ "$EACH" = 1 ] && echo $W/base-$(echo "$1" | md5sum | cut -c1-8) || echo $W/base; }
for b in "$@"; do
  B=$(base $b); [ -d $B ] && continue
  node $b --cache-dir $B/pc --config-dir $B/pc/config --quiet at $B/repo create >/dev/null 2>&1
  node $b --cache-dir $B/pc --config-dir $B/pc/config --quiet at $B/repo backup $SRC >/dev/null 2>&1
done
for i in $(seq $ROUNDS); do
  order=("$@"); [ $((i%2)) = 0 ] && order=($(printf '%s\n' "$@" | tac))
  for b in "${order[@]}"; do
    rm -rf $W/run; cp -a $(base $b) $W/run
    if [ "$DROP" = 1 ]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi
    /usr/bin/time -f "$(basename $(dirname $(dirname $b))) %e s wall %U u %S s %M KB" node $b --cache-dir $W/run/pc --config-dir $W/run/pc/config --quiet at $W/run/repo backup $SRC 2>&1 >/dev/null | tail -1
  done
  echo "round $i load $(cut -d' ' -f1 /proc/loadavg)"
done
rm -rf $W
