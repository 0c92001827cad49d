#!/usr/bin/env bash
# The test command: builds the two offline test images once (the Debian image and the
# docker-stacks fixture), then runs every test against the engine.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-test-image.sh
scripts/build-stacks-fixture.sh
cargo test --locked "$@"
