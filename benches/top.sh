#!/usr/bin/env bash
# `jenv top --json` against the command it stands beside, with many notebooks running:
#   `jenv top --json`  vs  `docker stats --no-stream ID...` (this run's notebooks; run it on an
#   engine with no other jenv notebooks, since `jenv top` shows every one on the engine)
# Starts N notebooks (default 30) of the offline test image, then times the two commands in turn,
# RUNS times each, and prints each run, the medians and their ratio (goal: at most 1.0), then a
# markdown row for docs/benchmarks.md. Everything it starts is removed on exit, even on failure
# or Ctrl-C (jenv containers by the label jenv.home=<this run's JENV_HOME>).
#
# Usage: benches/top.sh    (as root on Debian)
#   N=30           notebooks
#   RUNS=10        runs per side
#   JENV_TEST_IMAGE  image (default jenv-test/notebook:bookworm, built offline)
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

N=${N:-30}
RUNS=${RUNS:-10}
IMAGE=${JENV_TEST_IMAGE:-jenv-test/notebook:bookworm}

prepare_jenv
TMP=$(realpath "$(mktemp -d /tmp/jenv-bench-top.XXXXXX)")
export JENV_HOME=$TMP/jenv-home
export JENV_PORT_RANGE=${JENV_PORT_RANGE:-31000-31199}

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  local ids
  ids=$(docker ps -aq --filter "label=jenv.home=$JENV_HOME")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
  rm -rf "$TMP"
  exit "$status"
}
trap_cleanup

log "starting $N notebooks"
started=$(now_us)
for i in $(seq 1 "$N"); do
  mkdir -p "$TMP/nb$i"
  (cd "$TMP/nb$i" && "$JENV" init --image "$IMAGE" >/dev/null 2>&1 && "$JENV" -q up >/dev/null) &
done
wait
log "$N notebooks up in $(( ($(now_us) - started) / 1000 )) ms"
ids=$(docker ps -q --filter "label=jenv.home=$JENV_HOME")
running=$(echo "$ids" | wc -w)
[ "$running" -eq "$N" ] || die "only $running of $N notebooks run"
# The figures jenv reads must be there: one sample's memory and kernels for every notebook.
"$JENV" top --json >"$TMP/sample.json"
python3 - "$TMP/sample.json" "$N" <<'PY'
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["state"] == "running"]
assert len(rows) >= int(sys.argv[2]), len(rows)
assert all(r["memory"]["used_bytes"] > 0 and r["kernels"] is not None for r in rows), rows
PY

jenv_ms=()
docker_ms=()
for run in $(seq 1 "$RUNS"); do
  t=$(now_us); "$JENV" top --json >/dev/null; j=$(( ($(now_us) - t) / 1000 ))
  # shellcheck disable=SC2086 # one argument per container
  t=$(now_us); docker stats --no-stream $ids >/dev/null; d=$(( ($(now_us) - t) / 1000 ))
  jenv_ms+=("$j"); docker_ms+=("$d")
  log "run $run: jenv top --json ${j} ms, docker stats --no-stream ${d} ms"
done
mj=$(median "${jenv_ms[@]}")
md=$(median "${docker_ms[@]}")
log "medians: jenv top --json ${mj} ms, docker stats --no-stream ${md} ms, ratio $(ratio "$mj" "$md")"
echo "| $N notebooks, $RUNS runs | ${mj} ms | ${md} ms | $(ratio "$mj" "$md") |"
