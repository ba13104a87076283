#!/usr/bin/env bash
# Benchmark (not a test): restores only, on radosgw, of frozen builds alternated with restic's,
# against one repository each backed up once: the tree of s3.sh (three quarters in 128 MiB
# files, a quarter in 100 KiB files; random). Each argument is one variant, the command that
# starts plakar ("node /a/bin/run.js"); the repository is created and backed up by the first.
# The order of the variants and restic is reversed every round; each restore is checked
# bit-exact. Prints wall, user, sys seconds and peak KB per restore, then medians.
#
#   A=$(test/bench/build-snapshot.sh HEAD~1) B=$(test/bench/build-snapshot.sh HEAD)
#   ROUNDS=3 TREE_MB=512 test/bench/s3-restore-ab.sh "node $A" "node $B"
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND... (one quoted command per variant)" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=${ROUNDS:-3}
TREE_MB=${TREE_MB:-512}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/plakar-bench-s3ab.XXXXXX")
CEPH_WORK=
stop() {
  [ -n "$CEPH_WORK" ] && bash "$ROOT/scripts/services/ceph-rgw-down.sh" "$CEPH_WORK"
  rm -rf "$WORK"
}
trap stop EXIT
export CEPH_MEMSTORE_BYTES=$(( (TREE_MB * 3 + 1024) * 1024 * 1024 ))
while IFS='=' read -r key value; do
  [ -n "$key" ] && export "$key=$value"
done < <(bash "$ROOT/scripts/services/ceph-rgw-up.sh" 2>/dev/null)
HOSTPORT=${S3_ENDPOINT#http://}
SRC=$WORK/tree
. "$ROOT/test/bench/lib/synthetic-tree.sh"
build_tree "$SRC" "$TREE_MB"
WANT=$(tree_digest "$SRC")
export HOME=$WORK/home NO_COLOR=1 PLAKAR_PASSPHRASE=bench-only-passphrase RESTIC_PASSWORD=bench-only-passphrase
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY AWS_REGION=us-east-1
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
unset AWS_CA_BUNDLE
mkdir -p "$HOME"
AT=(at "s3://$HOSTPORT/plakar-ab/repo" -o use_tls=false)
# shellcheck disable=SC2206 # the command is split on purpose
first=($1)
"${first[@]}" --cache-dir "$WORK/seed-cache" --config-dir "$WORK/config" "${AT[@]}" create >/dev/null 2>&1
ID=$("${first[@]}" --cache-dir "$WORK/seed-cache" --config-dir "$WORK/config" "${AT[@]}" backup --json --quiet "$SRC" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).id))')
R=(restic --quiet -r "s3:http://$HOSTPORT/restic-ab")
"${R[@]}" init >/dev/null
"${R[@]}" --cache-dir "$WORK/restic-cache" backup "$SRC" >/dev/null
TIMES=$WORK/times.tsv
: >"$TIMES"
restore_one() { # label command...
  local label=$1 out=$WORK/out
  shift
  rm -rf "$out"
  /usr/bin/time -o "$WORK/time.out" -f '%e\t%U\t%S\t%M' "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
  local got=$out
  [ "$label" != restic ] || got=$out$SRC
  [ "$(tree_digest "$got")" = "$WANT" ] || { echo "s3-restore-ab: $label's restore differs" >&2; exit 1; }
  printf '%s\t%s\n' "$label" "$(cat "$WORK/time.out")" | tee -a "$TIMES"
  # A request counter preloaded into a variant (node -r) prints its line on stderr.
  grep -h '^requests ' "$WORK/err" || true
}
variants=("$@" restic)
for i in $(seq "$ROUNDS"); do
  order=("${variants[@]}")
  if [ $((i % 2)) = 0 ]; then order=(); for ((j = ${#variants[@]} - 1; j >= 0; j--)); do order+=("${variants[j]}"); done; fi
  for v in "${order[@]}"; do
    if [ "$v" = restic ]; then
      restore_one restic "${R[@]}" --cache-dir "$WORK/restic-cache" restore latest --target "$WORK/out"
    else
      # shellcheck disable=SC2206
      p=($v)
      # The backup's cache, as in s3.sh (restic keeps its own).
      restore_one "$v" "${p[@]}" --cache-dir "$WORK/seed-cache" --config-dir "$WORK/config" "${AT[@]}" restore --quiet --to "$WORK/out" "$ID"
    fi
  done
  echo "round $i, load $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "medians over $ROUNDS rounds (wall s, user+sys s, peak KB):"
for v in "${variants[@]}"; do
  med() { awk -F'\t' -v v="$v" -v f="$1" '$1 == v { split($0, c, "\t"); print (f == "cpu" ? c[3] + c[4] : c[f]) }' "$TIMES" | sort -n | awk '{ x[NR] = $1 } END { print x[int((NR + 1) / 2)] }'; }
  printf '%s\t%s\t%s\t%s\n' "$v" "$(med 2)" "$(med cpu)" "$(med 5)"
done
