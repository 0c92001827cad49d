#!/usr/bin/env bash
# The test command: builds the offline test image once, then runs every test against the engine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-test-image.sh
cargo test --locked "$@"
