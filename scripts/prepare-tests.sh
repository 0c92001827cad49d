#!/usr/bin/env bash
# Everything the tests need besides the code, each part once: Debian's packages (one apt
# transaction), the two offline test images (built side by side), Podman's configuration and
# its copies of the images, Chromium. Idempotent; a second run started meanwhile waits for the
# first and then finds everything done. Each step says how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."

exec 9>"${TMPDIR:-/tmp}/jenv-prepare-tests.$(id -u).lock"
flock 9

say() { echo "prepare-tests: $*" >&2; }
timed() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  say "$name: $((SECONDS - start)) s"
}
root() { [ "$(id -u)" = 0 ]; }

# The image builds need debootstrap before anything else; the rest of apt runs beside them.
if root && ! command -v debootstrap >/dev/null; then
  timed debootstrap sh -c 'apt-get -o DPkg::Lock::Timeout=300 update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq debootstrap >/dev/null'
fi

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
timed "packages (apt)" scripts/install-test-deps.sh & pids+=($!)
timed "image jenv-test/notebook" scripts/build-test-image.sh >/dev/null & pids+=($!)
timed "image jenv-fixture/base-notebook" scripts/build-stacks-fixture.sh >/dev/null & pids+=($!)
for pid in "${pids[@]}"; do
  wait "$pid"
done
pids=()

# tests/podman.rs runs a rootful Podman service of its own, on Podman's store: the images are
# copied there once, here, rather than by the first test that needs them.
if root; then
  timed "podman setup" scripts/podman.sh --setup
  for image in "${JENV_TEST_IMAGE:-jenv-test/notebook:bookworm}" jenv-fixture/base-notebook:bookworm; do
    podman image exists "$image" || timed "copy $image into podman" sh -c "docker save '$image' | podman load -q >/dev/null"
  done
else
  say "not root: podman is not set up and tests/podman.rs will skip"
fi
