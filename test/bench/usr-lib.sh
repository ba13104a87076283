#!/usr/bin/env bash
# Benchmark (not a test): plakar and restic on the harness's source-tree corpus (interpreter
# libraries, headers and node packages in the shape of /usr/lib: about 300 MB in about 30,000
# files, the tree of issue 15), same machine, same run; a quicker loop than `npm run bench --
# --corpora source-tree --tools plakar,restic`, which is the reference. Reports wall time, CPU
# (user, sys) and peak RSS of every step.
#
#   npm run build && test/bench/usr-lib.sh                  # 3 rounds
#   ROUNDS=5 PLAKAR=/other/checkout/bin/run.js test/bench/usr-lib.sh
#
# The tree is built once by test/bench/corpus.mjs (set source-tree: pinned Debian packages of
# this image and pinned npm packages; see its header) into $PLAKAR_BENCH_DIR/corpora/full
# (default ~/.cache/plakar-bench). Each round: fresh repositories; every step (backup,
# unchanged re-backup, restore into an empty directory, full check: restic --read-data) runs for
# both tools before the next, the order of the tools swapped every round; the page cache is
# dropped (as root) before every step but the re-backup.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PLAKAR=${PLAKAR:-$ROOT/bin/run.js}
ROUNDS=${ROUNDS:-3}
BENCH=${PLAKAR_BENCH_DIR:-$HOME/.cache/plakar-bench}
SRC=$(node "$ROOT/test/bench/corpus.mjs" --dir "$BENCH/corpora" source-tree | cut -f4)
W=$BENCH/work/usr-lib
export PLAKAR_PASSPHRASE=bench-only-passphrase RESTIC_PASSWORD=bench-only-passphrase

echo "tree: $(du -sm "$SRC" | cut -f1) MB, $(find "$SRC" -type f | wc -l) files; plakar: $PLAKAR; $(restic version)"

drop() { sync; if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; fi; }
step() { # tool step
  local tool=$1 s=$2 cmd args
  if [ "$tool" = plakar ]; then
    cmd=(node "$PLAKAR" --cache-dir "$W/pc" --config-dir "$W/pc/config" --quiet at "$W/prepo")
    case $s in backup | rebackup) args=(backup --json "$SRC") ;; restore) rm -rf "$W/pr"; args=(restore --json --to "$W/pr") ;; check) args=(check --json) ;; esac
  else
    cmd=(restic --repo "$W/rrepo" --cache-dir "$W/rc" --quiet)
    case $s in backup | rebackup) args=(backup "$SRC") ;; restore) rm -rf "$W/rr"; args=(restore latest --target "$W/rr") ;; check) args=(check --read-data) ;; esac
  fi
  [ "$s" = rebackup ] || drop
  /usr/bin/time -f "$tool $s %e s wall, %U s user, %S s sys, %M KB peak" "${cmd[@]}" "${args[@]}" 2>&1 >/dev/null | tail -1
}
for i in $(seq "$ROUNDS"); do
  rm -rf "$W" && mkdir -p "$W"
  node "$PLAKAR" --cache-dir "$W/pc" --config-dir "$W/pc/config" --quiet at "$W/prepo" create >/dev/null 2>&1
  restic --repo "$W/rrepo" --cache-dir "$W/rc" --quiet init >/dev/null
  if [ $((i % 2)) = 1 ]; then order="plakar restic"; else order="restic plakar"; fi
  for s in backup rebackup restore check; do for t in $order; do step "$t" "$s"; done; done
  echo "round $i, load $(cut -d' ' -f1-3 /proc/loadavg)"
done
rm -rf "$W"
