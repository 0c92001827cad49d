#!/usr/bin/env bash
# Rootful Podman for trying jenv on it by hand (tests/podman.rs starts its own service):
# installs Debian's podman if missing, gives containers workable default ulimits, starts
# `podman system service` on a socket of its own, copies jenv's test images from Docker into
# Podman's store, and prints the DOCKER_HOST to use. Idempotent: a service already answering
# on the socket is reused. Stop it with `kill $(cat DIR/service.pid)`.
#
# Usage: scripts/podman.sh [DIR]    (default /run/jenv-podman; the socket is DIR/podman.sock)
#        scripts/podman.sh --setup  (only install podman and write containers.conf; scripts/test.sh)
set -euo pipefail

setup_only=false
if [ "${1:-}" = --setup ]; then
  setup_only=true
  shift
fi
dir=${1:-/run/jenv-podman}
socket="$dir/podman.sock"
say() { echo "podman.sh: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  say "run as root: this starts a rootful service (rootless Podman: see docs/images-and-engines.md)"
  exit 1
fi

if ! command -v podman >/dev/null; then
  say "installing podman"
  install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null; }
  install || { apt-get update -qq && install; }
fi

# Podman's default rlimits (nofile 1048576) are refused in some sandboxes and nested containers;
# only written when no containers.conf exists, so a real configuration is never touched.
if [ ! -e /etc/containers/containers.conf ]; then
  say "writing /etc/containers/containers.conf (default_ulimits)"
  mkdir -p /etc/containers
  printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]\n' \
    > /etc/containers/containers.conf
fi
if $setup_only; then
  exit 0
fi

mkdir -p "$dir"
if curl -fsS --unix-socket "$socket" http://podman/_ping >/dev/null 2>&1; then
  say "a service already answers on $socket"
else
  rm -f "$socket"
  nohup podman system service --time=0 "unix://$socket" >"$dir/service.log" 2>&1 &
  echo $! >"$dir/service.pid"
  for _ in $(seq 300); do
    curl -fsS --unix-socket "$socket" http://podman/_ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS --unix-socket "$socket" http://podman/_ping >/dev/null || {
    say "the service did not answer; see $dir/service.log"
    exit 1
  }
  say "started the service (pid $(cat "$dir/service.pid"))"
fi

# Podman keeps its own images: copy the offline test images over once.
for image in "${JENV_TEST_IMAGE:-jenv-test/notebook:bookworm}" jenv-fixture/base-notebook:bookworm; do
  if podman image exists "$image"; then
    continue
  elif docker image inspect "$image" >/dev/null 2>&1; then
    say "copying $image from Docker"
    docker save "$image" | podman load -q >/dev/null
  else
    say "$image is not in Docker either (scripts/test.sh builds it); skipped"
  fi
done

echo "export DOCKER_HOST=unix://$socket"
