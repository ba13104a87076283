#!/usr/bin/env bash
# Benchmark, not a test: backup and restore throughput of plakar and restic over SFTP, to and
# from the same throwaway OpenSSH sshd on loopback (scripts/services/sshd-up.sh), same tree,
# same run, runs interleaved so that both tools meet the same machine load.
#
#   npm run build && test/bench/sftp.sh            # RUNS=3, a 1.07 GB tree
#   RUNS=5 TREE_MB=2048 test/bench/sftp.sh
#
# Each run: a new repository for each tool; first backup of the tree (new data), a second
# backup (unchanged data), a full restore into an empty directory (verified by size and a
# checksum of every file). Prints every run, then the medians of wall time, throughput, CPU
# time (user + sys: what the machine's load changes least) and peak RSS. Needs restic,
# openssh-server and GNU time (/usr/bin/time).
# The source tree lives in the page cache for both tools (24 GiB RAM; caches are not dropped:
# the machine is shared). Environment: RUNS, TREE_MB, KEEP=1 (keep the work directory).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}
TREE_MB=${TREE_MB:-1024}
command -v restic >/dev/null || { echo "restic is missing (apt-get install restic)" >&2; exit 1; }
[ -f "$ROOT/plugins/sftp/dist/storage.js" ] || { echo "build first: npm run build" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/plakar-bench-sftp.XXXXXX")
SFTP_WORK=
cleanup() {
  [ -n "$SFTP_WORK" ] && bash "$ROOT/scripts/services/sshd-down.sh" "$SFTP_WORK"
  [ "${KEEP:-}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

set -a
eval "$(bash "$ROOT/scripts/services/sshd-up.sh")"
set +a
echo "sshd on 127.0.0.1:$SFTP_PORT, data in $SFTP_ROOT" >&2

# The tree: 3/4 in 128 MiB files, 1/4 in 100 KiB files, random bytes (incompressible, no
# duplicates: every byte is new data for both tools).
SRC=$WORK/src
mkdir -p "$SRC/big" "$SRC/small"
big=$((TREE_MB * 3 / 4 / 128))
small=$((TREE_MB / 4 * 10))
for i in $(seq 1 "$big"); do openssl rand -out "$SRC/big/file-$i.bin" $((128 * 1024 * 1024)); done
for d in $(seq 0 19); do
  mkdir -p "$SRC/small/d$d"
  for i in $(seq "$d" 20 $((small - 1))); do openssl rand -out "$SRC/small/d$d/f$i.bin" 102400; done
done
BYTES=$(du -sb "$SRC" | cut -f1)
FILES=$(find "$SRC" -type f | wc -l)
SUM=$(cd "$SRC" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
echo "tree: $FILES files, $BYTES bytes" >&2

export HOME=$WORK/home PLAKAR_PASSPHRASE=bench-passphrase RESTIC_PASSWORD=bench-passphrase NO_COLOR=1
mkdir -p "$HOME"
SSH_OPTS="-o BatchMode=yes -o UserKnownHostsFile=$SFTP_KNOWN_HOSTS -i $SFTP_KEY"
verify() { # restored dir -> fails unless bit-exact
  local got
  got=$(cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  [ "$got" = "$SUM" ] || { echo "restore in $1 differs from the source" >&2; exit 1; }
}
RESULTS=$WORK/results.tsv
: >"$RESULTS"
TIMES=$WORK/time.out
# timed TOOL OPERATION COMMAND…: wall time, CPU time (user + sys, children included: restic's
# ssh client) and peak RSS of the command, recorded; its stdout goes to $WORK/stdout.
timed() {
  local tool=$1 op=$2
  shift 2
  /usr/bin/time -o "$TIMES" -f '%e %U %S %M' "$@" >"$WORK/stdout"
  read -r wall user sys rss <"$TIMES"
  local cpu
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  echo -e "$tool\t$op\t$wall\t$cpu\t$rss" >>"$RESULTS"
  printf '  %-7s %-9s %7.2f s  %7.1f MB/s  cpu %7.2f s  rss %5d MiB\n' "$tool" "$op" "$wall" \
    "$(awk -v b="$BYTES" -v t="$wall" 'BEGIN { print b / t / 1e6 }')" "$cpu" $((rss / 1024)) >&2
}

for run in $(seq 1 "$RUNS"); do
  echo "run $run/$RUNS" >&2
  # plakar
  repo="sftp://$SFTP_USER@127.0.0.1:$SFTP_PORT$SFTP_ROOT/plakar-$run"
  p=(node "$ROOT/bin/run.js" --config-dir "$WORK/plakar-config" --cache-dir "$WORK/plakar-cache-$run" at "$repo" -o "identity=$SFTP_KEY" -o "known_hosts=$SFTP_KNOWN_HOSTS")
  "${p[@]}" create >/dev/null 2>&1
  timed plakar backup "${p[@]}" backup --json --quiet "$SRC"
  id=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).id)' "$WORK/stdout")
  timed plakar rebackup "${p[@]}" backup --quiet "$SRC"
  timed plakar restore "${p[@]}" restore --quiet --to "$WORK/restore-plakar-$run" "$id"
  verify "$WORK/restore-plakar-$run"
  rm -rf "$WORK/restore-plakar-$run" "$SFTP_ROOT/plakar-$run" "$WORK/plakar-cache-$run"
  # restic
  rrepo="sftp:$SFTP_USER@127.0.0.1:$SFTP_ROOT/restic-$run"
  r=(restic --cache-dir "$WORK/restic-cache-$run" -o sftp.command="ssh $SSH_OPTS -p $SFTP_PORT $SFTP_USER@127.0.0.1 -s sftp" -r "$rrepo")
  "${r[@]}" init >/dev/null
  timed restic backup "${r[@]}" backup --quiet "$SRC"
  timed restic rebackup "${r[@]}" backup --quiet "$SRC"
  timed restic restore "${r[@]}" restore latest --quiet --target "$WORK/restore-restic-$run"
  verify "$WORK/restore-restic-$run$SRC"
  rm -rf "$WORK/restore-restic-$run" "$SFTP_ROOT/restic-$run" "$WORK/restic-cache-$run"
done

echo
echo "medians of $RUNS runs, $FILES files, $BYTES bytes, sshd on loopback ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)):"
python3 - "$RESULTS" "$BYTES" <<'EOF'
import statistics, sys
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if l.strip()]
size = int(sys.argv[2])
print(f"{'tool':8} {'operation':10} {'wall s':>8} {'MB/s':>7} {'cpu s':>7} {'rss MiB':>8}   wall of each run (s)")
for tool in ('plakar', 'restic'):
    for op in ('backup', 'rebackup', 'restore'):
        r = [x for x in rows if x[0] == tool and x[1] == op]
        if not r:
            continue
        wall = statistics.median(float(x[2]) for x in r)
        cpu = statistics.median(float(x[3]) for x in r)
        rss = statistics.median(int(x[4]) for x in r) / 1024
        print(f"{tool:8} {op:10} {wall:8.2f} {size / wall / 1e6:7.1f} {cpu:7.2f} {rss:8.0f}   {' '.join(x[2] for x in r)}")
EOF
