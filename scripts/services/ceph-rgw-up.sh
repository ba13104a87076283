#!/usr/bin/env bash
# Starts a throwaway single-node Ceph cluster with an S3 gateway, for tests and benchmarks:
#   1 monitor (msgr v1, no cephx) + 1 OSD on memstore (objects in RAM) + radosgw (beast),
#   everything bound to 127.0.0.1 on free ports, every file under one temporary directory.
# Prints KEY=VALUE lines on stdout (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION,
# CEPH_WORK, CEPH_CONF); stop it with: scripts/services/ceph-rgw-down.sh "$CEPH_WORK".
# Debian packages: radosgw ceph-mon ceph-osd ceph-common uuid-runtime python3 curl.
# Environment: CEPH_MEMSTORE_BYTES (RAM cap of the OSD, default 4 GiB), TRACE=1 (timestamps).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${TRACE:-}" ]; then PS4='+ $(date +%s.%N | cut -c7-14) '; set -x; fi
for tool in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph uuidgen python3 curl; do
  command -v "$tool" >/dev/null || { echo "ceph-rgw-up: $tool is missing (apt-get install radosgw ceph-mon ceph-osd ceph-common uuid-runtime python3 curl)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/plakar-ceph.XXXXXX")
mkdir -p "$work"/{run,log,mon,osd,rgw,crash}
fail() {
  echo "ceph-rgw-up: $1; last log lines:" >&2
  tail -n 15 "$work"/log/*.log >&2 2>/dev/null || true
  "$here/ceph-rgw-down.sh" "$work" >&2 || true
  # Last, so that a caller showing the end of stderr shows why.
  echo "ceph-rgw-up: $1" >&2
  exit 1
}
# Readiness is polled until the daemon answers or dies; the cap only catches a hung daemon. On a
# loaded machine (the test suite beside CPU-bound work) starting the OSD took over 20 s.
READY_CAP_S=${CEPH_READY_CAP_S:-180}
alive() { local pid; pid=$(cat "$1" 2>/dev/null || true); [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null; }
trap 'fail "a step failed (line $LINENO)"' ERR

pick_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
random_token() { python3 -c "import secrets, string; a = string.ascii_uppercase + string.digits; print(''.join(secrets.choice(a) for _ in range($1)))"; }

mon_port=$(pick_port)
fsid=$(uuidgen)
access_key=PLK$(random_token 17)
secret_key=$(python3 -c 'import secrets; print(secrets.token_urlsafe(30))')
conf=$work/ceph.conf

write_conf() { # $1 = radosgw port
  cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr2 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
keyring = /dev/null
run dir = $work/run
admin socket = $work/run/\$name.asok
pid file = $work/run/\$name.pid
log file = $work/log/\$name.log
crash dir = $work/crash
# one OSD: pools of one replica and one placement group, no autoscaler, no health noise
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 1
osd pool default pgp num = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
# every map change waits for a paxos round (1 s by default): this is most of the start-up time
paxos propose interval = 0.05

[mon]
mon data = $work/mon/\$id

[osd]
osd data = $work/osd/\$id
osd objectstore = memstore
memstore device bytes = ${CEPH_MEMSTORE_BYTES:-4294967296}
osd max object name len = 460
osd max object namespace len = 64
# without cephx the OSD's own boot-time crush update is refused ("wrong fsid"): placed by hand below
osd crush update on start = false
osd class update on start = false

[client.rgw.a]
# tcp_nodelay: without it every small request waits ~40 ms (Nagle + delayed ACK)
rgw frontends = beast endpoint=127.0.0.1:$1 tcp_nodelay=1
rgw data = $work/rgw
rgw enable usage log = false
# deleted objects' data is freed by a garbage collector, 2 h later by default: with the data in
# RAM, a busy test run would fill the OSD (a full OSD blocks every write without an error)
rgw gc obj min wait = 10
rgw gc processor period = 10
CONF
}

export CEPH_CONF=$conf
write_conf 0

# monitor
monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$mon_port]" "$work/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$work/monmap"
ceph-mon -i a
# A monitor that has just started can refuse the first command ("handle_command on fsid 0000…
# != …", seen once in CI): asked again until it answers, dies or the cap passes.
mon_deadline=$((SECONDS + READY_CAP_S))
until ceph status --connect-timeout "$READY_CAP_S" >/dev/null 2>&1; do
  alive "$work/run/mon.a.pid" || fail "the monitor exited while starting"
  [ "$SECONDS" -lt "$mon_deadline" ] || fail "the monitor did not answer in $READY_CAP_S s"
  sleep 0.5
done

# one OSD
osd_uuid=$(uuidgen)
osd_id=$(ceph osd new "$osd_uuid")
mkdir -p "$work/osd/$osd_id"
ceph-osd -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >>"$work/log/osd-mkfs.log" 2>&1
ceph osd crush add "osd.$osd_id" 1.0 root=default host=localnode >/dev/null 2>&1
ceph-osd -i "$osd_id"
up=""
for _ in $(seq $((READY_CAP_S * 10))); do
  if ceph osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1'; then up=1; break; fi
  alive "$work/run/osd.$osd_id.pid" || fail "the OSD exited while starting"
  sleep 0.1
done
[ -n "$up" ] || fail "the OSD did not come up"

# S3 user (the first radosgw-admin call also creates the default realm, zonegroup and zone),
# and the GLACIER_IR / GLACIER / DEEP_ARCHIVE storage classes so that StorageClass headers are accepted.
radosgw-admin user create --uid=plakar-test --display-name="plakar tests" \
  --access-key="$access_key" --secret-key="$secret_key" >/dev/null
for class in GLACIER_IR GLACIER DEEP_ARCHIVE; do
  pool=default.rgw.$(echo "$class" | tr 'A-Z_' 'a-z-').data
  radosgw-admin zonegroup placement add --rgw-zonegroup default --placement-id default-placement --storage-class "$class" >/dev/null
  radosgw-admin zone placement add --rgw-zone default --placement-id default-placement --storage-class "$class" --data-pool "$pool" >/dev/null
done

# the gateway; the port is free when picked but may be taken before radosgw binds it: retry
rgw_port=""
for attempt in 1 2 3 4 5; do
  port=$(pick_port)
  write_conf "$port"
  rm -f "$work/run/client.rgw.a.pid"
  radosgw -n client.rgw.a
  for _ in $(seq $((READY_CAP_S * 10))); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" || true)
    if [ "$code" = 200 ] || [ "$code" = 403 ]; then rgw_port=$port; break 2; fi
    pid=$(cat "$work/run/client.rgw.a.pid" 2>/dev/null || true)
    [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && break
    sleep 0.1
  done
  pid=$(cat "$work/run/client.rgw.a.pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
done
[ -n "$rgw_port" ] || fail "radosgw did not answer"
trap - ERR

cat <<OUT
S3_ENDPOINT=http://127.0.0.1:$rgw_port
S3_ACCESS_KEY=$access_key
S3_SECRET_KEY=$secret_key
S3_REGION=us-east-1
CEPH_CONF=$conf
CEPH_WORK=$work
OUT
