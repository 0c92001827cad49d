#!/usr/bin/env bash
# Installs, from Debian's packages, the real parts the tests run against instead of mocks:
# a registry (docker-registry, htpasswd from apache2-utils), a terminal (tmux), an ssh server
# (openssh-server, with its client), openssl for a TLS engine's certificates, Podman, headless
# Chromium, and debootstrap for the test images: one apt transaction.
# Idempotent; as root only (tests that need a part they do not find skip, saying so).
set -euo pipefail

packages=()
need() { command -v "$1" >/dev/null 2>&1 || packages+=("$2"); }
need docker-registry docker-registry
need htpasswd apache2-utils
need tmux tmux
need sshd openssh-server
need ssh openssh-client
need openssl openssl
need debootstrap debootstrap
# Podman and Chromium as their own scripts installed them, with what Debian recommends.
full=()
command -v podman >/dev/null 2>&1 || full+=(podman)
command -v chromium >/dev/null 2>&1 || full+=(chromium)

if [ $((${#packages[@]} + ${#full[@]})) -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-test-deps.sh: not root, so ${packages[*]} ${full[*]} stay missing; the tests that need them skip" >&2
  exit 0
fi
echo "installing ${packages[*]} ${full[*]}"
export DEBIAN_FRONTEND=noninteractive
apt=(apt-get -o DPkg::Lock::Timeout=300)
"${apt[@]}" update -qq
[ "${#packages[@]}" -eq 0 ] || "${apt[@]}" install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
[ "${#full[@]}" -eq 0 ] || "${apt[@]}" install -y -qq "${full[@]}" >/dev/null
