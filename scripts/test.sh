#!/usr/bin/env bash
# The test command: prepares what the tests run against (scripts/prepare-tests.sh: Debian's
# packages, the two offline test images, Podman, Chromium) while the tests compile, then runs
# every test against the engine.
#
# With cargo-nextest, in two groups side by side: the tests of the docker-stacks fixture (nextest
# profile `stacks`, see .config/nextest.toml) start as soon as that image is there, the others
# (profile `first`) as soon as the Debian image is; on a machine without the images the slow
# fixture build no longer holds up the tests that do not need it. Without cargo-nextest, cargo
# test runs the files one after another once everything is prepared.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
since() { echo "test.sh: $1 after $((SECONDS - start)) s" >&2; }
compile() {
  cargo test --locked --no-run --quiet "$@" 2>&1 | { grep -v '^  Executable' >&2 || true; }
  since "tests compiled"
}

if ! cargo nextest --version >/dev/null 2>&1; then
  scripts/prepare-tests.sh & prepare=$!
  trap 'kill $prepare 2>/dev/null || true' EXIT
  compile "$@"
  wait $prepare
  trap - EXIT
  since "ready to test"
  cargo test --locked --no-fail-fast "$@"
  since done
  exit 0
fi

# Held while the tests compile; each group waits for it once its images are there.
compiled=$(mktemp)
exec 8>"$compiled"
flock 8
group() {
  exec 8>&-
  local profile=$1 part=$2 threads=$3 status=0
  shift 3
  scripts/prepare-tests.sh "$part"
  flock "$compiled" true
  since "ready to test ($profile)"
  cargo nextest run --locked --no-fail-fast --profile "$profile" --test-threads "$threads" "$@" || status=$?
  since "$profile done"
  return $status
}
# Most of a test's time is spent waiting for the engine and for Jupyter, not on the CPU:
# JENV_TEST_THREADS tests of the first group at once, three of the stacks group beside them (the
# export test alone takes five minutes; the others share the other two).
group first first "${JENV_TEST_THREADS:-4}" "$@" & first=$!
group stacks stacks 3 "$@" & stacks=$!
trap 'kill $first $stacks 2>/dev/null || true; rm -f "$compiled"' EXIT
compile "$@"
exec 8>&-
failed=0
wait $first || failed=1
wait $stacks || failed=1
since done
exit $failed
