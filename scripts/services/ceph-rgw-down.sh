#!/usr/bin/env bash
# Stops a cluster started by ceph-rgw-up.sh and removes its directory: ceph-rgw-down.sh "$CEPH_WORK".
# The cluster is disposable, so no graceful shutdown (the memstore OSD would spend seconds saving
# RAM to disk): TERM, a short grace, then KILL, by the pids recorded in its run directory only.
set -uo pipefail
work=${1:?usage: ceph-rgw-down.sh CEPH_WORK}
case "$work" in */plakar-ceph.*) ;; *) echo "ceph-rgw-down: $work is not a directory made by ceph-rgw-up.sh" >&2; exit 2 ;; esac
[ -d "$work" ] || exit 0
pids=$(cat "$work"/run/*.pid 2>/dev/null | tr '\n' ' ')
# a daemon re-parented to PID 1 may stay a zombie for a while: that counts as stopped
running() {
  local p state
  for p in $pids; do
    state=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) || continue
    [ "$state" != Z ] && return 0
  done
  return 1
}
wait_gone() { for _ in $(seq "$1"); do running || return 0; sleep 0.1; done; return 1; }
if [ -n "$pids" ]; then
  kill $pids 2>/dev/null
  if ! wait_gone 15; then
    kill -9 $pids 2>/dev/null
    wait_gone 30
  fi
fi
rm -rf "$work"
