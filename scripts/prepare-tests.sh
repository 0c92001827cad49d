#!/usr/bin/env bash
# Everything the tests need besides the code, each part once. Two parts that can run side by side:
#   first   Debian's packages (one apt transaction), the Debian test image, Podman's
#           configuration and its copy of that image, Chromium: what most tests need
#   stacks  the docker-stacks fixture image (the slow build) and Podman's copy of it
# With no argument, both, side by side. Idempotent; a second run of a part started meanwhile
# waits for the first and then finds everything done. Each step says how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."

part=${1:-all}
say() { echo "prepare-tests: $*" >&2; }
timed() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  say "$name: $((SECONDS - start)) s"
}
root() { [ "$(id -u)" = 0 ]; }
lock() { echo "${TMPDIR:-/tmp}/jenv-prepare-tests.$(id -u).$1.lock"; }
STACKS_IMAGE=jenv-fixture/base-notebook:bookworm

# Podman's own store gets a copy of an image once, here, rather than in the first test needing it
# (tests/podman.rs runs a rootful Podman service of its own).
podman_copy() {
  root || return 0
  podman image exists "$1" || timed "copy $1 into podman" sh -c "docker save '$1' | podman load -q >/dev/null"
}

case $part in
all)
  "$0" first & first=$!
  "$0" stacks & stacks=$!
  trap 'kill $first $stacks 2>/dev/null || true' EXIT
  wait $first
  wait $stacks
  ;;
first)
  exec 9>"$(lock first)"
  flock 9
  # The image build needs debootstrap before anything else; the rest of apt runs beside it.
  if root && ! command -v debootstrap >/dev/null; then
    timed debootstrap sh -c 'apt-get -o DPkg::Lock::Timeout=300 update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq debootstrap >/dev/null'
  fi
  timed "packages (apt)" scripts/install-test-deps.sh & apt=$!
  timed "image jenv-test/notebook" scripts/build-test-image.sh >/dev/null & image=$!
  trap 'kill $apt $image 2>/dev/null || true' EXIT
  wait $apt
  wait $image
  trap - EXIT
  if root; then
    timed "podman setup" scripts/podman.sh --setup
    podman_copy "${JENV_TEST_IMAGE:-jenv-test/notebook:bookworm}"
  else
    say "not root: podman is not set up and tests/podman.rs will skip"
  fi
  ;;
stacks)
  exec 9>"$(lock stacks)"
  flock 9
  timed "image $STACKS_IMAGE" scripts/build-stacks-fixture.sh >/dev/null
  # Podman is installed and set up by the first part.
  if root; then
    flock "$(lock first)" true
    podman_copy "$STACKS_IMAGE"
  fi
  ;;
*)
  echo "usage: $0 [first|stacks]" >&2
  exit 2
  ;;
esac
