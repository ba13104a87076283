#!/usr/bin/env bash
# Benchmark (not a test): plakar and restic backing up a local tree into a repository on S3
# (a throwaway Ceph radosgw on loopback, scripts/services/ceph-rgw-up.sh) and restoring it,
# same server, same tree, same run. Runs alternate between the tools so that both meet the
# same machine load; medians are printed at the end.
#
#   npm run build && test/bench/s3.sh                 # 3 runs over a ≈1.07 GB tree
#   RUNS=5 TREE_MB=2048 test/bench/s3.sh
#   SOURCE=s3 test/bench/s3.sh                        # the bucket is the source (see below)
#
# SOURCE=s3: the tree is put in a bucket once (plakar restore --to s3://…), then each run backs
# the bucket up into a local repository (S3 importer: every object streamed, chunked, MACed and
# sealed), and the same tree from the local disk, and restic backs the local tree up; the report
# gives wall time and the CPU the backup process used (user+sys: 2 × wall is both cores busy).
# restic has no S3 source, so its local backup is the reference for the machine's load.
# BASELINE=/other/checkout (built; test/bench/build-snapshot.sh REV makes one) adds its plakar to
# each run, in both modes, the order of the tools rotating between runs: before/after figures
# from one run, under the same load. Every operation is reported with its wall time, the CPU it
# used (user + sys) and its peak RSS.
#
# Per run and tool: a fresh bucket; backup of the tree (all new data), backup again (nothing
# changed), restore into an empty directory (checked bit-exact against the source), then the
# bucket is purged (the OSD keeps objects in RAM). Both tools encrypt; the data is random, so
# compression plays no part. The tree stays in the page cache (caches are not dropped: the
# machine is shared). Needs: restic, and radosgw ceph-mon ceph-osd ceph-common (Debian).
# Environment: RUNS, TREE_MB, KEEP=1 (keep the work directory).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}
TREE_MB=${TREE_MB:-1024}
command -v restic >/dev/null || { echo "s3 bench: restic is missing (apt-get install restic)" >&2; exit 1; }
[ -f "$ROOT/plugins/s3/dist/storage.js" ] || { echo "s3 bench: build first (npm run build)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/plakar-bench-s3.XXXXXX")
CEPH_WORK=
stop() {
  [ -n "$CEPH_WORK" ] && bash "$ROOT/scripts/services/ceph-rgw-down.sh" "$CEPH_WORK"
  [ "${KEEP:-}" = 1 ] || rm -rf "$WORK"
}
trap stop EXIT

# Room for one run of both repositories (2 × the tree) in the OSD's RAM, plus slack.
export CEPH_MEMSTORE_BYTES=$(( (TREE_MB * 3 + 1024) * 1024 * 1024 ))
t0=$(date +%s.%N)
while IFS='=' read -r key value; do
  [ -n "$key" ] && export "$key=$value"
done < <(bash "$ROOT/scripts/services/ceph-rgw-up.sh" 2>/dev/null)
echo "radosgw at $S3_ENDPOINT (started in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s)" >&2
HOSTPORT=${S3_ENDPOINT#http://}

SRC=$WORK/tree
. "$ROOT/test/bench/lib/synthetic-tree.sh"
build_tree "$SRC" "$TREE_MB"
BYTES=$(du -sb "$SRC" | cut -f1)
WANT=$(tree_digest "$SRC")
echo "tree: $(find "$SRC" -type f | wc -l) files, $BYTES bytes" >&2

export HOME=$WORK/home NO_COLOR=1 PLAKAR_PASSPHRASE=bench-only-passphrase RESTIC_PASSWORD=bench-only-passphrase
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY AWS_REGION=us-east-1
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
unset AWS_CA_BUNDLE # plain http on loopback: a CA bundle has nothing to do here (STACK.md)
mkdir -p "$HOME"

TIMES=$WORK/times.tsv
: >"$TIMES"
check_restore() {
  [ "$(tree_digest "$1")" = "$WANT" ] || { echo "s3 bench: the restore in $1 differs from the tree" >&2; exit 1; }
  rm -rf "$1"
}
# Removes a bucket and frees its data now (radosgw's garbage collector would wait): the OSD
# keeps objects in RAM, and a full OSD blocks writes.
purge() {
  radosgw-admin bucket rm --bucket="$1" --purge-objects >/dev/null 2>&1 || true
  radosgw-admin gc process --include-all >/dev/null 2>&1 || true
}

# Times one operation: wall, CPU (user + sys) and peak RSS, recorded and printed.
measure() { # tool operation command...
  local tool=$1 op=$2
  shift 2
  /usr/bin/time -o "$WORK/time.out" -f '%e %U %S %M' "$@" >"$WORK/stdout.out" 2>"$WORK/stderr.out" || { cat "$WORK/stderr.out" >&2; exit 1; }
  read -r wall user sys rss <"$WORK/time.out"
  printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$op" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$((rss / 1024))" >>"$TIMES"
  awk -v t="$tool" -v o="$op" -v w="$wall" -v c="$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" -v m="$((rss / 1024))" -v b="$BYTES" \
    'BEGIN { printf "  %-8s %-9s %8.2f s %8.1f MB/s  cpu %6.2f s  peak %5d MiB\n", t, o, w, b / w / 1e6, c, m }' >&2
}

run_plakar() { # label root run
  local label=$1 root=$2 bucket=$1-bench-$3
  local at=(at "s3://$HOSTPORT/$bucket/repo" -o use_tls=false)
  local p=(node "$root/bin/run.js" --cache-dir "$WORK/plakar-cache-$3" --config-dir "$WORK/plakar-config")
  "${p[@]}" "${at[@]}" create >/dev/null 2>&1
  local id
  measure "$label" backup "${p[@]}" "${at[@]}" backup --json --quiet "$SRC"
  id=$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).id)' "$WORK/stdout.out")
  measure "$label" rebackup "${p[@]}" "${at[@]}" backup --quiet "$SRC"
  measure "$label" restore "${p[@]}" "${at[@]}" restore --quiet --to "$WORK/restored-plakar" "$id"
  check_restore "$WORK/restored-plakar"
  rm -rf "$WORK/plakar-cache-$3"
  purge "$bucket"
}

run_restic() {
  local bucket=restic-bench-$1
  local r=(restic --quiet --cache-dir "$WORK/restic-cache-$1" -r "s3:http://$HOSTPORT/$bucket")
  "${r[@]}" init >/dev/null
  measure restic backup "${r[@]}" backup "$SRC"
  measure restic rebackup "${r[@]}" backup "$SRC"
  measure restic restore "${r[@]}" restore latest --target "$WORK/restored-restic"
  # restic restores under the tree's absolute path
  mv "$WORK/restored-restic$SRC" "$WORK/restored-restic-tree" && rm -rf "$WORK/restored-restic"
  check_restore "$WORK/restored-restic-tree"
  rm -rf "$WORK/restic-cache-$1"
  purge "$bucket"
}

# Times a command: wall, user and sys seconds of it and its children, tab-separated.
timed() { # tool operation command...
  local tool=$1 op=$2 out
  shift 2
  /usr/bin/time -o "$WORK/time.out" -f '%e\t%U\t%S' "$@" >/dev/null 2>"$WORK/stderr.out" || { cat "$WORK/stderr.out" >&2; exit 1; }
  out=$(tail -1 "$WORK/time.out")
  printf '%s\t%s\t%s\n' "$tool" "$op" "$out" >>"$TIMES"
  awk -F'\t' -v t="$tool" -v o="$op" -v line="$out" -v b="$BYTES" 'BEGIN { split(line, f, "\t"); printf "  %-7s %-13s %8.2f s %8.1f MB/s  cpu %6.2f s (%.2f cores)\n", t, o, f[1], b / f[1] / 1e6, f[2] + f[3], (f[2] + f[3]) / f[1] }' >&2
}

if [ "${SOURCE:-local}" = s3 ]; then
  P=(node "$ROOT/bin/run.js" --config-dir "$WORK/plakar-config")
  FROM="s3://$HOSTPORT/source"
  "${P[@]}" --cache-dir "$WORK/seed-cache" at "$WORK/seed-repo" create >/dev/null 2>&1
  seed=$("${P[@]}" --cache-dir "$WORK/seed-cache" at "$WORK/seed-repo" backup --json --quiet "$SRC" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).id))')
  "${P[@]}" --cache-dir "$WORK/seed-cache" at "$WORK/seed-repo" restore --quiet --to "$FROM" -o use_tls=false "$seed" >/dev/null
  rm -rf "$WORK/seed-repo" "$WORK/seed-cache"
  echo "the tree is in $FROM" >&2
  plakar_s3() { # label root run
    local B=(node "$2/bin/run.js" --config-dir "$WORK/plakar-config")
    "${B[@]}" --cache-dir "$WORK/c-$3" at "$WORK/r-$3" create >/dev/null 2>&1
    timed "$1" backup-s3 "${B[@]}" --cache-dir "$WORK/c-$3" at "$WORK/r-$3" backup --quiet -o use_tls=false "$FROM"
    rm -rf "$WORK/c-$3" "$WORK/r-$3"
  }
  s3_plakar() {
    if [ -z "${BASELINE:-}" ]; then plakar_s3 plakar "$ROOT" "$1"
    elif [ $(($1 % 2)) -eq 1 ]; then plakar_s3 plakar "$ROOT" "$1"; plakar_s3 baseline "$BASELINE" "$1"
    else plakar_s3 baseline "$BASELINE" "$1"; plakar_s3 plakar "$ROOT" "$1"; fi
    "${P[@]}" --cache-dir "$WORK/l-$1" at "$WORK/q-$1" create >/dev/null 2>&1
    timed plakar backup-local "${P[@]}" --cache-dir "$WORK/l-$1" at "$WORK/q-$1" backup --quiet "$SRC"
    rm -rf "$WORK/l-$1" "$WORK/q-$1"
  }
  s3_restic() {
    restic --quiet -r "$WORK/restic-$1" init >/dev/null
    timed restic backup-local restic --quiet --cache-dir "$WORK/restic-cache-$1" -r "$WORK/restic-$1" backup "$SRC"
    rm -rf "$WORK/restic-$1" "$WORK/restic-cache-$1"
  }
  for run in $(seq 1 "$RUNS"); do
    echo "run $run of $RUNS" >&2
    if [ $((run % 2)) -eq 1 ]; then s3_plakar "$run"; s3_restic "$run"; else s3_restic "$run"; s3_plakar "$run"; fi
  done
  echo
  echo "medians over $RUNS runs, $BYTES bytes, source: bucket on radosgw $(radosgw --version | awk '{print $3}'), repository: local; $(restic version | cut -d' ' -f1-2), node $(node --version)"
  for row in "plakar backup-s3" ${BASELINE:+"baseline backup-s3"} "plakar backup-local" "restic backup-local"; do
    set -- $row
    awk -F'\t' -v t="$1" -v o="$2" '$1 == t && $2 == o { print $3, $4 + $5 }' "$TIMES" | sort -n | awk -v t="$1" -v o="$2" -v b="$BYTES" '
      { w[NR] = $1; c[NR] = $2 }
      END { i = int((NR + 1) / 2); printf "%-7s %-13s %8.2f s %8.1f MB/s  cpu %6.2f s (%.2f cores)\n", t, o, w[i], b / w[i] / 1e6, c[i], c[i] / w[i] }'
  done
  exit 0
fi

# One round: the tools in an order that alternates between rounds (BASELINE, when given, too).
round() {
  local run=$1
  local tools=(plakar restic ${BASELINE:+baseline})
  local n=${#tools[@]} i
  for i in $(seq 0 $((n - 1))); do
    case ${tools[$(((i + run) % n))]} in
      plakar) run_plakar plakar "$ROOT" "$run" ;;
      baseline) run_plakar baseline "$BASELINE" "$run" ;;
      restic) run_restic "$run" ;;
    esac
  done
}
for run in $(seq 1 "$RUNS"); do
  echo "run $run of $RUNS" >&2
  round "$run"
done

echo
echo "medians over $RUNS runs, $BYTES bytes, radosgw $(radosgw --version | awk '{print $3}'), $(restic version | cut -d' ' -f1-2), node $(node --version)"
for op in backup rebackup restore; do
  for tool in plakar ${BASELINE:+baseline} restic; do
    awk -F'\t' -v t="$tool" -v o="$op" '$1 == t && $2 == o { print $3, $4, $5 }' "$TIMES" | awk -v t="$tool" -v o="$op" -v b="$BYTES" '
      function median(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
      { w[NR] = $1; c[NR] = $2; m[NR] = $3 }
      END { mw = median(w, NR); mc = median(c, NR); mm = median(m, NR)
        printf "%-8s %-9s %8.2f s %8.1f MB/s  cpu %6.2f s  peak %5d MiB\n", t, o, mw, b / mw / 1e6, mc, mm }'
  done
done
