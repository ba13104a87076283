#!/usr/bin/env bash
# Benchmark, not a test: the figures of issue 13 (sync, data in and out) at the issue's scale.
#
#   npm run build && test/bench/sync-data.sh                 # TREE_MB=1536, KILLS=10
#   TREE_MB=256 KILLS=3 PARTS=sync,kill test/bench/sync-data.sh   # smaller, some parts
#
# Parts (PARTS, comma-separated, default all):
#   sync    a random tree of TREE_MB (3/4 in 64 MiB files, 1/4 in 100 KiB files) backed up into
#           an fs repository; `sync to` its peers (create --from) on SFTP (sshd) and S3 (radosgw);
#           a second backup after a few changed files; the second syncs' bytes measured at the
#           storage (du of the SFTP directory, radosgw-admin bucket stats) against the bytes of
#           the new packfiles; restores from both sides checked bit-exact (sha256 of every file).
#           Then a sync to a repository with another passphrase and chunking (re-encode) and one
#           to a peer (copy), with their CPU time (user + sys, GNU time).
#   kill    KILLS rounds: a sync to a new local peer killed with SIGKILL at a random moment, then
#           run again; both repositories must pass `check`; the bytes written by the sync
#           processes (wchar of /proc/PID/io, read just before the kill and until the rerun
#           ends) summed over each round against one uninterrupted sync.
#   stdin   STDIN_MB (default 1024) of generated data piped into `backup stdin:db.sql`: peak RSS.
#   tar     a TAR_MB (default 2048) tar of random files imported with `backup tar:`, restored and
#           compared bit-exact.
#   archive `archive` of the tree as tar and zip: peak RSS, extracted with GNU tar and unzip and
#           compared bit-exact.
# Prints one line per figure and writes them to test/bench/results/DATE-HOST-sync-data.md.
# Needs openssh-server, radosgw (scripts/services), GNU time, unzip. KEEP=1 keeps the work dir.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TREE_MB=${TREE_MB:-1536}
KILLS=${KILLS:-10}
PARTS=${PARTS:-sync,kill,stdin,tar,archive}
STDIN_MB=${STDIN_MB:-1024}
TAR_MB=${TAR_MB:-2048}
PLAKAR="node $ROOT/bin/run.js"
has() { [[ ",$PARTS," == *",$1,"* ]]; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/plakar-bench-sync.XXXXXX")
OUT=$ROOT/test/bench/results/$(date -u +%F)-$(hostname)-sync-data-${PARTS//,/-}.md
SFTP_WORK=
CEPH_WORK=
cleanup() {
  [ -n "$SFTP_WORK" ] && bash "$ROOT/scripts/services/sshd-down.sh" "$SFTP_WORK" >/dev/null 2>&1
  [ -n "$CEPH_WORK" ] && bash "$ROOT/scripts/services/ceph-rgw-down.sh" "$CEPH_WORK" >/dev/null 2>&1
  [ "${KEEP:-}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
export HOME=$WORK/home PLAKAR_PASSPHRASE=bench-passphrase NO_COLOR=1
mkdir -p "$HOME"
{
  echo "# sync, data in and out at scale ($(date -u +%F), $(hostname), $(nproc) cores)"
  echo
  echo "Command: \`TREE_MB=$TREE_MB KILLS=$KILLS PARTS=$PARTS test/bench/sync-data.sh\` at commit $(git -C "$ROOT" rev-parse --short HEAD); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
} >"$OUT"
say() { echo "[sync-bench $(date -u +%T)] $*" >&2; }
figure() { echo "- $*" | tee -a "$OUT"; }
# Runs a command under GNU time; sets WALL, CPU (user+sys seconds) and RSS_MB.
timed() {
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@"
  read -r WALL user sys rss <"$WORK/time"
  CPU=$(python3 -c "print(round($user + $sys, 1))")
  RSS_MB=$((rss / 1024))
}
tree_sum() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16); }
mb() { python3 -c "print(f'{$1 / 1048576:.1f} MiB')"; }

SRC=$WORK/src
make_tree() { # dir MB
  local dir=$1 total=$2
  mkdir -p "$dir/big" "$dir/small"
  local big=$((total * 3 / 4 / 64)) small=$((total / 4 * 10))
  for i in $(seq 1 "$big"); do openssl rand -out "$dir/big/file-$i.bin" $((64 * 1024 * 1024)); done
  for d in $(seq 0 19); do
    mkdir -p "$dir/small/d$d"
    for i in $(seq "$d" 20 $((small - 1))); do openssl rand -out "$dir/small/d$d/f$i.bin" 102400; done
  done
}
if has sync || has kill || has archive; then
  make_tree "$SRC" "$TREE_MB"
  BYTES=$(du -sb "$SRC" | cut -f1)
  SUM=$(tree_sum "$SRC")
  say "tree: $(find "$SRC" -type f | wc -l) files, $BYTES bytes"
  A=$WORK/a
  $PLAKAR at "$A" create >/dev/null 2>&1
  timed $PLAKAR at "$A" backup --quiet "$SRC"
  figure "backup of the $(mb "$BYTES") tree into fs: ${WALL} s, CPU ${CPU} s, peak RSS ${RSS_MB} MiB"
fi
packs() { find "$1/packfiles" -type f ! -name '*.tmp' -printf '%s %f\n' 2>/dev/null | sort -k2; }

if has sync; then
  set -a
  eval "$(bash "$ROOT/scripts/services/sshd-up.sh")"
  eval "$(CEPH_MEMSTORE_BYTES=$((8 * 1024 * 1024 * 1024)) bash "$ROOT/scripts/services/ceph-rgw-up.sh")"
  set +a
  export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY AWS_REGION=us-east-1
  SFTP_DIR=$SFTP_ROOT/peer
  SFTP="sftp://$SFTP_USER@127.0.0.1:$SFTP_PORT$SFTP_DIR"
  SFTP_OPTS=(--peer-option "identity=$SFTP_KEY" --peer-option "known_hosts=$SFTP_KNOWN_HOSTS")
  BUCKET=bench-sync-$RANDOM
  S3="s3://${S3_ENDPOINT#http://}/$BUCKET/peer"
  S3_OPTS=(--peer-option use_tls=false)
  s3_bytes() { radosgw-admin -c "$CEPH_CONF" bucket stats --bucket="$BUCKET" 2>/dev/null | python3 -c 'import json,sys; u=json.load(sys.stdin)["usage"]; print(sum(v.get("size", 0) for v in u.values()))'; }
  sftp_bytes() { du -sb "$SFTP_DIR" | cut -f1; }
  $PLAKAR at "$SFTP" -o "identity=$SFTP_KEY" -o "known_hosts=$SFTP_KNOWN_HOSTS" create --from "$A" >/dev/null 2>&1
  $PLAKAR at "$S3" -o use_tls=false create --from "$A" >/dev/null 2>&1
  timed $PLAKAR at "$A" sync --quiet "${SFTP_OPTS[@]}" to "$SFTP"
  figure "first sync fs → SFTP peer ($(mb "$BYTES")): ${WALL} s, CPU ${CPU} s, peak RSS ${RSS_MB} MiB; stored $(mb "$(sftp_bytes)")"
  timed $PLAKAR at "$A" sync --quiet "${S3_OPTS[@]}" to "$S3"
  figure "first sync fs → S3 peer: ${WALL} s, CPU ${CPU} s, peak RSS ${RSS_MB} MiB; stored $(mb "$(s3_bytes)")"

  # A few changed files: 5 small ones rewritten, one big one with 1 MiB overwritten in the middle.
  packs "$A" >"$WORK/packs-before"
  for i in 0 1 2 3 4; do openssl rand -out "$SRC/small/d$i/f$i.bin" 102400; done
  dd if=/dev/urandom of="$SRC/big/file-1.bin" bs=1M count=1 seek=20 conv=notrunc status=none
  SUM=$(tree_sum "$SRC")
  $PLAKAR at "$A" backup --quiet "$SRC"
  packs "$A" >"$WORK/packs-after"
  NEW=$(join -1 2 -2 2 -v 2 "$WORK/packs-before" "$WORK/packs-after" | awk '{s += $2} END {print s + 0}')
  before_sftp=$(sftp_bytes)
  before_s3=$(s3_bytes)
  timed $PLAKAR at "$A" sync --quiet "${SFTP_OPTS[@]}" to "$SFTP"
  moved_sftp=$(($(sftp_bytes) - before_sftp))
  figure "second sync → SFTP after 6 changed files: ${WALL} s; stored $(mb "$moved_sftp") at the storage for $(mb "$NEW") of new packfiles: ratio $(python3 -c "print(round($moved_sftp / $NEW, 3))") (limit 1.2)"
  timed $PLAKAR at "$A" sync --quiet "${S3_OPTS[@]}" to "$S3"
  moved_s3=$(($(s3_bytes) - before_s3))
  figure "second sync → S3: ${WALL} s; stored $(mb "$moved_s3") at the storage for $(mb "$NEW") of new packfiles: ratio $(python3 -c "print(round($moved_s3 / $NEW, 3))") (limit 1.2)"
  for side in fs sftp s3; do
    out=$WORK/restore-$side
    case $side in
      fs) $PLAKAR at "$A" restore --quiet --to "$out" latest ;;
      sftp) $PLAKAR at "$SFTP" -o "identity=$SFTP_KEY" -o "known_hosts=$SFTP_KNOWN_HOSTS" restore --quiet --to "$out" latest ;;
      s3) $PLAKAR at "$S3" -o use_tls=false restore --quiet --to "$out" latest ;;
    esac
    got=$(tree_sum "$out")
    [ "$got" = "$SUM" ] && figure "restore of the latest snapshot from $side: bit-exact" || figure "restore from $side: DIFFERS"
    rm -rf "$out"
  done

  # Re-encode (another passphrase and chunking) against copy (a peer), both into local fs.
  R=$WORK/other
  PLAKAR_PASSPHRASE=another-passphrase $PLAKAR at "$R" create --chunking 65536:262144:1048576 >/dev/null 2>&1
  timed env PLAKAR_PEER_PASSPHRASE=another-passphrase $PLAKAR at "$A" sync --json to "$R" >"$WORK/reencode.json"
  method=$(python3 -c "import json; print(json.load(open('$WORK/reencode.json'))['directions'][0]['method'])")
  figure "sync to a repository with another passphrase and chunking (${method}): ${WALL} s, CPU ${CPU} s, peak RSS ${RSS_MB} MiB"
  P=$WORK/peer-local
  $PLAKAR at "$P" create --from "$A" >/dev/null 2>&1
  timed $PLAKAR at "$A" sync --json to "$P" >"$WORK/copy.json"
  method=$(python3 -c "import json; print(json.load(open('$WORK/copy.json'))['directions'][0]['method'])")
  figure "sync to a peer made with create --from (${method}): ${WALL} s, CPU ${CPU} s, peak RSS ${RSS_MB} MiB"
fi

if has kill; then
  # The bytes one whole sync writes, and then each killed round's total.
  wchar_run() { # args…: runs plakar in the background, prints its wchar when it ends
    $PLAKAR "$@" >/dev/null 2>&1 &
    local pid=$! last=0 now
    while now=$(awk '/^wchar/ {print $2}' "/proc/$pid/io" 2>/dev/null); do
      [ -n "$now" ] && last=$now
      sleep 0.02
    done
    wait "$pid" || true
    echo "$last"
  }
  base_dir=$WORK/kill-base
  $PLAKAR at "$base_dir" create --from "$A" >/dev/null 2>&1
  start=$(date +%s.%N)
  BASE=$(wchar_run at "$A" sync --quiet to "$base_dir")
  FULL=$(python3 -c "print($(date +%s.%N) - $start)")
  say "an uninterrupted sync writes $BASE bytes in $FULL s"
  ok=0
  worst=0
  ratios=()
  for round in $(seq 1 "$KILLS"); do
    T=$WORK/kill-$round
    $PLAKAR at "$T" create --from "$A" >/dev/null 2>&1
    at=$(python3 -c "import random; print(round(random.uniform(0.05, 0.95) * $FULL, 2))")
    $PLAKAR at "$A" sync --quiet to "$T" >/dev/null 2>&1 &
    pid=$!
    sleep "$at"
    killed=$(awk '/^wchar/ {print $2}' "/proc/$pid/io" 2>/dev/null || true)
    [ -n "$killed" ] || { say "round $round: the sync ended before ${at} s; not counted"; killed=0; }
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rerun=$(wchar_run at "$A" sync --quiet to "$T")
    pass=yes
    $PLAKAR at "$T" check --quiet >/dev/null 2>&1 || pass=no
    $PLAKAR at "$A" check --fast --quiet >/dev/null 2>&1 || pass=no
    [ "$pass" = yes ] && ok=$((ok + 1))
    ratio=$(python3 -c "print(round(($killed + $rerun) / $BASE, 3))")
    ratios+=("$ratio")
    say "round $round: killed at ${at} s, then rerun: written $(((killed + rerun) / 1048576)) MiB (${ratio}× an uninterrupted sync), check $pass"
    rm -rf "$T"
  done
  figure "SIGKILL at $KILLS random moments of a $(mb "$BYTES") sync, then rerun: $ok/$KILLS rounds where both repositories pass check; bytes written per round against an uninterrupted sync (${FULL%.*} s, $(mb "$BASE")): ${ratios[*]}"
fi

if has stdin; then
  $PLAKAR at "$WORK/stdin-repo" create >/dev/null 2>&1
  # GNU time measures the shell and its children; the peak is plakar's (the generator is small).
  timed bash -c "head -c $((STDIN_MB * 1024 * 1024)) /dev/urandom | $PLAKAR at $WORK/stdin-repo backup --quiet stdin:db.sql"
  figure "backup stdin:db.sql of $STDIN_MB MiB generated: ${WALL} s, peak RSS ${RSS_MB} MiB (limit 300)"
  rm -rf "$WORK/stdin-repo"
fi

if has tar; then
  T=$WORK/tar-src
  make_tree "$T" "$TAR_MB"
  TSUM=$(tree_sum "$T")
  tar -C "$T" -cf "$WORK/big.tar" .
  rm -rf "$T"
  $PLAKAR at "$WORK/tar-repo" create >/dev/null 2>&1
  timed $PLAKAR at "$WORK/tar-repo" backup --quiet "tar:$WORK/big.tar"
  figure "backup tar: of a $(mb "$(stat -c %s "$WORK/big.tar")") tar: ${WALL} s, peak RSS ${RSS_MB} MiB"
  rm -f "$WORK/big.tar"
  $PLAKAR at "$WORK/tar-repo" restore --quiet --to "$WORK/tar-out" latest
  [ "$(tree_sum "$WORK/tar-out")" = "$TSUM" ] && figure "restore of the tar import: bit-exact" || figure "restore of the tar import: DIFFERS"
  rm -rf "$WORK/tar-out" "$WORK/tar-repo"
fi

if has archive; then
  LATEST=$($PLAKAR at "$A" ls --json | python3 -c 'import json,sys; print(max((json.loads(l) for l in sys.stdin), key=lambda s: s["time"])["id"])')
  for format in tar zip; do
    timed $PLAKAR at "$A" archive --format "$format" -o "$WORK/out.$format" "$LATEST:$SRC"
    mkdir -p "$WORK/x-$format"
    if [ "$format" = tar ]; then tar -xf "$WORK/out.$format" -C "$WORK/x-$format"; else unzip -q "$WORK/out.$format" -d "$WORK/x-$format"; fi
    # The archive holds the folder itself (src/…) or its content, as archive(1) names them.
    x=$WORK/x-$format
    [ -d "$x/src" ] && x=$x/src
    got=$(tree_sum "$x")
    [ "$got" = "$(tree_sum "$SRC")" ] && exact=bit-exact || exact=DIFFERS
    figure "archive --format $format of the $(mb "$BYTES") tree: ${WALL} s, peak RSS ${RSS_MB} MiB (limit 300); extracted with $([ "$format" = tar ] && echo GNU tar || echo unzip): $exact"
    rm -rf "$WORK/x-$format" "$WORK/out.$format"
  done
fi
say "figures: $OUT"
