#!/usr/bin/env bash
# Remote-engine benchmark: `jenv up` through an ssh engine against `jenv up` on the local socket,
# on this machine's engine both ways (a real sshd on a free loopback port with a key made for the
# run, as in tests/remote.rs), so the difference is what ssh adds: the `docker system dial-stdio`
# connections and jenv's own port forward.
#
# Each round, alternating which side goes first: a fresh container each time (`jenv down`
# first, untimed), then `jenv up` timed wall clock until it printed the URL (Jupyter answers).
# Prints each round, the medians and the ratio, then a markdown table for docs/benchmarks.md.
#
# Usage: benches/remote.sh      (as root)
#   RUNS=5            rounds
#   JENV_TEST_IMAGE   image (default jenv-test/notebook:bookworm)
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

RUNS=${RUNS:-5}
IMAGE=${JENV_TEST_IMAGE:-jenv-test/notebook:bookworm}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"
[ "$uid" -eq 0 ] || die "run as root: the ssh engine logs in as root"

scripts/install-test-deps.sh >&2
prepare_jenv

TMP=$(realpath "$(mktemp -d /tmp/jenv-bench-remote.XXXXXX)")
export JENV_HOME=$TMP/jenv-home JENV_CONFIG=$TMP/no-config.toml JENV_TRUST_ALL=1
SSHD_PID=
cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  for dir in "$TMP/local" "$TMP/remote"; do
    [ -f "$dir/.jupyter-env" ] && (cd "$dir" && "$JENV" down --discard >/dev/null 2>&1)
  done
  local ids
  ids=$(docker ps -aq --filter "label=jenv.home=$JENV_HOME")
  [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1
  [ -z "$SSHD_PID" ] || kill "$SSHD_PID" 2>/dev/null
  rm -rf "$TMP"
  exit "$status"
}
trap_cleanup

# --- an sshd on loopback and an ssh that uses its key ---------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N '' -f "$TMP/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$TMP/client_key"
cp "$TMP/client_key.pub" "$TMP/authorized_keys"
mkdir -p /run/sshd "$TMP/bin"
cat >"$TMP/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $TMP/host_key
PidFile $TMP/sshd.pid
AuthorizedKeysFile $TMP/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
StrictModes no
CONF
cat >"$TMP/ssh_config" <<CONF
Host jenv-bench-engine
  HostName 127.0.0.1
  Port $PORT
  User root
  IdentityFile $TMP/client_key
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
CONF
printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$TMP/ssh_config" >"$TMP/bin/ssh"
chmod +x "$TMP/bin/ssh"
/usr/sbin/sshd -D -e -f "$TMP/sshd_config" 2>"$TMP/sshd.log" &
SSHD_PID=$!
for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done

mkdir -p "$TMP/local" "$TMP/remote"
(cd "$TMP/local" && "$JENV" init --image "$IMAGE" >/dev/null)
(cd "$TMP/remote" && "$JENV" init --image "$IMAGE" >/dev/null)
remote_env=(env "PATH=$TMP/bin:$PATH" DOCKER_HOST=ssh://jenv-bench-engine)

# Times `jenv up` in folder $1 (a fresh container: down first, untimed); prints microseconds.
up_in() {
  local dir=$1 t0
  shift
  (cd "$dir" && "$@" "$JENV" down --discard >/dev/null 2>&1)
  t0=$(now_us)
  (cd "$dir" && "$@" "$JENV" up >/dev/null 2>"$TMP/up.err") || { cat "$TMP/up.err" >&2; die "jenv up in $dir failed"; }
  echo $(($(now_us) - t0))
}

log "warming up"
up_in "$TMP/local" env >/dev/null
up_in "$TMP/remote" "${remote_env[@]}" >/dev/null
local_us=() remote_us=()
for round in $(seq 1 "$RUNS"); do
  for side in $( ((round % 2)) && echo "local remote" || echo "remote local"); do
    if [ "$side" = local ]; then
      local_us+=("$(up_in "$TMP/local" env)")
    else
      remote_us+=("$(up_in "$TMP/remote" "${remote_env[@]}")")
    fi
  done
  log "round $round: local $((local_us[-1] / 1000)) ms, ssh $((remote_us[-1] / 1000)) ms"
done
ml=$(median "${local_us[@]}") mr=$(median "${remote_us[@]}")
cat <<TABLE

| Measure, median of $RUNS rounds | jenv up, ssh engine | jenv up, local socket | ssh / local |
|---|---|---|---|
| fresh container until Jupyter answers (test image) | $((mr / 1000)) ms | $((ml / 1000)) ms | $(ratio "$mr" "$ml") |
TABLE
