#!/usr/bin/env bash
# A throwaway OpenSSH server for the SFTP tests and benchmarks, on 127.0.0.1:<free port>.
#
#   scripts/services/sshd-up.sh                      key authentication only
#   SFTP_PASSWORD=… scripts/services/sshd-up.sh      also password authentication
#
# Everything lives in a fresh temporary directory: its own host key, a client key that is
# authorised and one that is not, a known_hosts file pinning the host key, and the data
# directory SFTP sessions start in. Nothing on the host changes: as root, sshd runs in a
# private mount namespace with a tmpfs on /run (its privilege separation directory) and, for
# password authentication, a copy of /etc/shadow giving the login user that password.
#
# Prints KEY=VALUE lines (set -a; eval "$(…)"; set +a):
#   SFTP_HOST SFTP_PORT SFTP_USER SFTP_KEY SFTP_WRONG_KEY SFTP_KNOWN_HOSTS SFTP_HOST_PUB SFTP_ROOT SFTP_WORK
# Stop it with scripts/services/sshd-down.sh "$SFTP_WORK". Needs openssh-server, openssh-client, openssl.
set -euo pipefail

SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] || { echo "sshd-up: $SSHD is missing (apt-get install openssh-server)" >&2; exit 1; }
command -v ssh-keygen >/dev/null && command -v ssh-keyscan >/dev/null || { echo "sshd-up: ssh-keygen/ssh-keyscan missing (openssh-client)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/plakar-sshd.XXXXXX")
chmod 700 "$work"
mkdir "$work/data"
user=$(id -un)
fail() { echo "sshd-up: $*" >&2; [ -f "$work/log" ] && tail -n 20 "$work/log" >&2; kill_server; rm -rf "$work"; exit 1; }
kill_server() { [ -f "$work/pid" ] && kill -TERM -- "-$(cat "$work/pid")" 2>/dev/null || true; }

ssh-keygen -q -t ed25519 -N '' -C plakar-test-host -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -C plakar-test-client -f "$work/client_key"
ssh-keygen -q -t ed25519 -N '' -C plakar-test-stranger -f "$work/wrong_key"
cp "$work/client_key.pub" "$work/authorized_keys"

password_auth=no
if [ -n "${SFTP_PASSWORD:-}" ]; then
  [ "$(id -u)" = 0 ] || fail "password authentication needs root (a private copy of /etc/shadow is mounted)"
  password_auth=yes
  hash=$(printf '%s' "$SFTP_PASSWORD" | openssl passwd -6 -stdin)
  awk -F: -v OFS=: -v u="$user" -v h="$hash" '$1 == u { $2 = h } { print }' /etc/shadow >"$work/shadow"
  chmod 600 "$work/shadow"
fi

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

started=
for attempt in 1 2 3 4 5; do
  port=$(free_port)
  cat >"$work/sshd_config" <<EOF
ListenAddress 127.0.0.1:$port
HostKey $work/host_key
PidFile none
AuthorizedKeysFile $work/authorized_keys
StrictModes no
UsePAM no
AllowUsers $user
PermitRootLogin $([ "$password_auth" = yes ] && echo yes || echo prohibit-password)
PubkeyAuthentication yes
PasswordAuthentication $password_auth
KbdInteractiveAuthentication no
PermitEmptyPasswords no
MaxAuthTries 10
MaxStartups 64:30:128
MaxSessions 32
UseDNS no
# ProxyJump tests open direct-tcpip channels through this server to itself.
AllowTcpForwarding local
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
PrintMotd no
LogLevel VERBOSE
Subsystem sftp internal-sftp
# Every session is SFTP and starts in the data directory. It is a start directory, not a jail:
# ChrootDirectory refuses anything below the world-writable /tmp.
ForceCommand internal-sftp -d $work/data
EOF
  : >"$work/log"
  if [ "$(id -u)" = 0 ]; then
    # $0 is the work directory inside the namespace script.
    setsid unshare --mount --propagation private sh -c '
      mount -t tmpfs -o mode=755 tmpfs /run || exit 90
      mkdir -m 755 /run/sshd || exit 91
      if [ -f "$0/shadow" ]; then mount --bind "$0/shadow" /etc/shadow || exit 92; fi
      exec /usr/sbin/sshd -D -e -f "$0/sshd_config"' "$work" >>"$work/log" 2>&1 </dev/null &
  else
    setsid "$SSHD" -D -e -f "$work/sshd_config" >>"$work/log" 2>&1 </dev/null &
  fi
  echo $! >"$work/pid"
  # Ready when it answers with our host key; ssh-keyscan also writes the known_hosts line.
  # Polled until it answers or exits; the cap only catches a hung server (a loaded machine).
  for _ in $(seq 1 1200); do
    if ssh-keyscan -T 2 -t ed25519 -p "$port" 127.0.0.1 >"$work/known_hosts" 2>/dev/null && [ -s "$work/known_hosts" ]; then
      started=1
      break
    fi
    kill -0 "$(cat "$work/pid")" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$started" ] && break
  kill_server
  echo "sshd-up: attempt $attempt on port $port failed: $(tail -n 3 "$work/log" | tr '\n' ' ')" >&2
done
[ -n "$started" ] || fail "sshd did not start"
grep -qF "$(cut -d' ' -f2 "$work/host_key.pub")" "$work/known_hosts" || fail "the server on port $port is not ours (host key differs)"

cat <<EOF
SFTP_HOST=127.0.0.1
SFTP_PORT=$port
SFTP_USER=$user
SFTP_KEY=$work/client_key
SFTP_WRONG_KEY=$work/wrong_key
SFTP_KNOWN_HOSTS=$work/known_hosts
SFTP_HOST_PUB=$work/host_key.pub
SFTP_ROOT=$work/data
SFTP_WORK=$work
EOF
