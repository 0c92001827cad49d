#!/usr/bin/env bash
# Makes sure a Docker Engine answers: installs Debian's docker.io and starts dockerd if needed.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null; then
  echo "installing docker.io"
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd (log: /var/log/jenv-dockerd.log)"
  nohup dockerd >/var/log/jenv-dockerd.log 2>&1 &
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
fi
if ! docker info >/dev/null 2>&1; then
  echo "dockerd did not come up; last log lines:" >&2
  tail -n 30 /var/log/jenv-dockerd.log >&2 || true
  exit 1
fi
echo "Docker engine is up"
