#!/usr/bin/env bash
# Installs the peers the benchmark compares plakar with, restic and borgbackup, from Debian when
# either is missing (the same way scripts/install-debian-packages.sh installs test services).
# Prints nothing when both are already there.
set -euo pipefail
need=()
command -v restic >/dev/null 2>&1 || need+=(restic)
command -v borg >/dev/null 2>&1 || need+=(borgbackup)
[ ${#need[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null 2>&1 || { echo "bench: ${need[*]} missing and no apt-get to install them" >&2; exit 1; }
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "bench: installing Debian packages: ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
