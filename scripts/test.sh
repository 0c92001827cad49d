#!/usr/bin/env bash
# The test command: prepares what the tests run against (scripts/prepare-tests.sh: Debian's
# packages, the two offline test images, Podman, Chromium) while the tests compile, then runs
# every test against the engine, with cargo-nextest when it is installed (each test in its own
# process, several at once: most of a test's time is spent waiting for the engine and for
# Jupyter), else with cargo test, one file after another.
#
# On a machine without the test images, the tests that need the docker-stacks fixture (nextest
# profile `stacks`, see .config/nextest.toml) run as a group of their own, started once that
# image is built, beside the others (profile `first`), which start as soon as the Debian image is
# there: the slow fixture build no longer holds them up.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
since() { echo "test.sh: $1 after $((SECONDS - start)) s" >&2; }
compile() {
  cargo test --locked --no-run --quiet "$@" 2>&1 | { grep -v '^  Executable' >&2 || true; }
  since "tests compiled"
}
threads=${JENV_TEST_THREADS:-4}
images_present() {
  docker image inspect "${JENV_TEST_IMAGE:-jenv-test/notebook:bookworm}" jenv-fixture/base-notebook:bookworm \
    >/dev/null 2>&1
}

if ! cargo nextest --version >/dev/null 2>&1 || images_present; then
  scripts/prepare-tests.sh & prepare=$!
  trap 'kill $prepare 2>/dev/null || true' EXIT
  compile "$@"
  wait $prepare
  trap - EXIT
  since "ready to test"
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked --no-fail-fast --test-threads "$threads" "$@"
  else
    cargo test --locked --no-fail-fast "$@"
  fi
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
# About as many tests at once as in one group: the machine's CPU, not the waiting, sets the pace
# once both groups run.
group first first $((threads > 1 ? threads - 1 : 1)) "$@" & first=$!
group stacks stacks 2 "$@" & stacks=$!
trap 'kill $first $stacks 2>/dev/null || true; rm -f "$compiled"' EXIT
compile "$@"
exec 8>&-
failed=0
wait $first || failed=1
wait $stacks || failed=1
since done
exit $failed
