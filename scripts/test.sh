#!/usr/bin/env bash
# The test command: builds the two offline test images once (the Debian image and the
# docker-stacks fixture), sets up Podman for tests/podman.rs and Chromium for tests/browser.rs,
# then runs every test against the engine.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
scripts/build-test-image.sh
scripts/build-stacks-fixture.sh
# tests/podman.rs runs a rootful Podman service of its own; without root it skips, saying so.
if [ "$(id -u)" = 0 ]; then
  scripts/podman.sh --setup
else
  echo "test.sh: not root, so podman is not installed and tests/podman.rs will skip" >&2
fi
# tests/browser.rs opens notebooks in headless Chromium; without root it skips, saying so.
scripts/ensure-chromium.sh
cargo test --locked --no-fail-fast "$@"
