#!/usr/bin/env bash
# Sharing benchmark: `jenv push` / `jenv pull` against the raw `docker push` / `docker pull` of the
# same snapshot image, through a real registry (Debian's docker-registry on a free loopback port).
#
# Set-up: a jenv notebook on the test image, a tiny wheel and 64 MB of random data added,
# `jenv snapshot` (untimed).
# Each round, alternating which side goes first:
#   push: the registry's storage is emptied, then `jenv push` (the snapshot tag and latest) is
#         timed; emptied again, then `docker push REPO:TAG && docker push REPO:latest` is timed.
#   pull: the snapshot's tags are removed locally (its base stays, as on a machine that has the
#         base image), then `jenv pull` is timed; removed again, then `docker pull REPO:TAG`.
# Prints each round, the medians and ratios, then a markdown table for docs/benchmarks.md.
#
# Usage: benches/share.sh       (as root, like the other benches)
#   RUNS=9            rounds (push rounds differ by up to ±900 ms: 5 do not decide 5 %)
#   JENV_TEST_IMAGE   image (default jenv-test/notebook:bookworm)
#
# Everything it starts is removed on exit, even on failure: the registry process and its folder,
# jenv's container and images by the label jenv.home=<this run's JENV_HOME>, and the snapshot's
# tags (a pulled snapshot, like anything pushed, carries no jenv.home).
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=benches/lib.sh
source benches/lib.sh

RUNS=${RUNS:-9}
IMAGE=${JENV_TEST_IMAGE:-jenv-test/notebook:bookworm}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"

command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }
scripts/install-test-deps.sh >&2
prepare_jenv

TMP=$(realpath "$(mktemp -d /tmp/jenv-bench-share.XXXXXX)")
export JENV_HOME=$TMP/jenv-home
export JENV_CONFIG=$TMP/no-config.toml
PROJECT=$TMP/project
REGISTRY_PID=
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HOST=127.0.0.1:$PORT
REPO=$HOST/bench/share-$$

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  [ -f "$PROJECT/.jupyter-env" ] && (cd "$PROJECT" && "$JENV" down --discard >/dev/null 2>&1)
  local ids
  ids=$(docker ps -aq --filter "label=jenv.home=$JENV_HOME")
  [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1
  ids=$(docker images -q --filter "label=jenv.home=$JENV_HOME" | sort -u)
  [ -z "$ids" ] || docker rmi -f $ids >/dev/null 2>&1
  [ -z "${TAG:-}" ] || drop_local
  [ -z "$REGISTRY_PID" ] || kill "$REGISTRY_PID" 2>/dev/null
  rm -rf "$TMP"
  exit "$status"
}
trap_cleanup

# (Re)starts the registry on $HOST with empty storage.
fresh_registry() {
  [ -z "$REGISTRY_PID" ] || { kill "$REGISTRY_PID"; wait "$REGISTRY_PID" 2>/dev/null || true; }
  rm -rf "$TMP/registry"
  mkdir -p "$TMP/registry"
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
    "$TMP/registry/data" "$HOST" >"$TMP/registry/config.yml"
  docker-registry serve "$TMP/registry/config.yml" >"$TMP/registry/log" 2>&1 &
  REGISTRY_PID=$!
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
    sleep 0.05
  done
  die "the registry did not start on $HOST"
}

# Removes the snapshot's local tags (the layers only it holds go with them).
drop_local() { docker rmi "$REPO:$TAG" "$REPO:latest" >/dev/null 2>&1 || true; }

timed() { local t0; t0=$(now_us); "$@" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; die "$* failed"; }; echo $(($(now_us) - t0)); }

# --- a snapshot to share --------------------------------------------------------------------
fresh_registry
mkdir -p "$PROJECT"
cd "$PROJECT"
"$JENV" init --image "$IMAGE" >/dev/null
sed -i "s|^repository = .*|repository = \"$REPO\"|" .jupyter-env
"$JENV" trust >/dev/null
log "starting the notebook and taking a snapshot"
"$JENV" up >/dev/null 2>"$TMP/up.err" || { cat "$TMP/up.err" >&2; die "jenv up failed"; }
"$JENV" exec -- python3 -c "$(cat "$ROOT/tests/data/make_wheel.py")" jenv_share 1.0 dist/jenv_share-1.0-py3-none-any.whl >/dev/null
"$JENV" exec -- python3 -m pip install --no-index --quiet dist/jenv_share-1.0-py3-none-any.whl >/dev/null
# Data of the size a real environment adds (a model, a dataset cache), incompressible, so the pull
# moves the snapshot's own layer and not only its manifest.
"$JENV" exec -- sh -c 'head -c 64000000 /dev/urandom > "$HOME/jenv-bench-blob"'
TAG=$("$JENV" snapshot --json -m bench | jq -er .tag)
"$JENV" down >/dev/null
SIZE=$(docker image inspect -f '{{.Size}}' "$REPO:$TAG")
log "snapshot $REPO:$TAG ($((SIZE / 1000000)) MB)"

jpush=() rpush=() jpull=() rpull=()
for round in $(seq 1 "$RUNS"); do
  for side in $( ((round % 2)) && echo "jenv raw" || echo "raw jenv"); do
    fresh_registry
    if [ "$side" = jenv ]; then
      jpush+=("$(timed "$JENV" push)")
    else
      rpush+=("$(timed sh -c "docker push '$REPO:$TAG' && docker push '$REPO:latest'")")
    fi
  done
  for side in $( ((round % 2)) && echo "jenv raw" || echo "raw jenv"); do
    drop_local
    if [ "$side" = jenv ]; then
      jpull+=("$(timed "$JENV" pull)")
    else
      rpull+=("$(timed docker pull "$REPO:$TAG")")
      docker tag "$REPO:$TAG" "$REPO:latest"
    fi
  done
  log "round $round: push jenv $((jpush[-1] / 1000)) ms, raw $((rpush[-1] / 1000)) ms;" \
    "pull jenv $((jpull[-1] / 1000)) ms, raw $((rpull[-1] / 1000)) ms"
done

mjpush=$(median "${jpush[@]}") mrpush=$(median "${rpush[@]}") mjpull=$(median "${jpull[@]}") mrpull=$(median "${rpull[@]}")
push_ratio=$(ratio "$mjpush" "$mrpush")
pull_ratio=$(ratio "$mjpull" "$mrpull")
met() { awk -v r="$1" -v goal="$2" 'BEGIN { print (r <= goal ? "yes" : "no") }'; }
cat <<TABLE

| Measure, median of $RUNS rounds | jenv | raw docker | jenv / raw | Goal | Met |
|---|---|---|---|---|---|
| push the snapshot (tag + latest) to an empty registry | $((mjpush / 1000)) ms | $((mrpush / 1000)) ms | $push_ratio | ≤ 1.05 | $(met "$push_ratio" 1.05) |
| pull the snapshot (its 64 MB layer; base layers present) | $((mjpull / 1000)) ms | $((mrpull / 1000)) ms | $pull_ratio | ≤ 1.05 | $(met "$pull_ratio" 1.05) |
TABLE
