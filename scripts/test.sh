#!/usr/bin/env bash
# The test command: prepares what the tests run against (scripts/prepare-tests.sh: Debian's
# packages, the two offline test images, Podman, Chromium) while the tests compile, then runs
# every test against the engine.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
scripts/prepare-tests.sh &
prepare=$!
trap 'kill $prepare 2>/dev/null || true' EXIT
cargo test --locked --no-run --quiet "$@" 2>&1 | grep -v '^  Executable' >&2 || true
echo "test.sh: tests compiled after $((SECONDS - start)) s" >&2
wait $prepare
trap - EXIT
echo "test.sh: ready to test after $((SECONDS - start)) s" >&2
if cargo nextest --version >/dev/null 2>&1; then
  # Each test in its own process, JENV_TEST_THREADS at once: most of a test's time is spent
  # waiting for the engine and for Jupyter, not on the CPU. Without cargo-nextest, cargo test
  # runs the files one after another.
  cargo nextest run --locked --no-fail-fast --test-threads "${JENV_TEST_THREADS:-4}" "$@"
else
  cargo test --locked --no-fail-fast "$@"
fi
echo "test.sh: done after $((SECONDS - start)) s" >&2
