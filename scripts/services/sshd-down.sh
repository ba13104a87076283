#!/usr/bin/env bash
# Stops the sshd of scripts/services/sshd-up.sh and removes its directory.
# Usage: scripts/services/sshd-down.sh "$SFTP_WORK"
set -uo pipefail
work=${1:?usage: sshd-down.sh SFTP_WORK}
case "$work" in */plakar-sshd.*) ;; *) echo "sshd-down: $work is not an sshd-up.sh directory" >&2; exit 2 ;; esac
if pid=$(cat "$work/pid" 2>/dev/null); then
  # The process group started by setsid: the listener and the per-connection sshd processes.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
fi
rm -rf "$work"
