#!/usr/bin/env bash
# Snapshot benchmark: `jenv snapshot` against the raw `docker commit` it replaces.
#
# Each round makes the same small change in two running notebooks of the same image, then commits:
#   (a) jenv: `jenv exec -- pip install` a fresh tiny wheel (jenv_probe 1.<round>), then
#       `jenv snapshot --json`, timed end to end (wall clock); its paused_ms and size_added kept.
#   (b) raw:  `docker cp` the same wheel into a plain `docker run -d` notebook, `docker exec` the
#       same pip install, then `docker commit` (pauses the container by default), timed wall clock;
#       size added = committed image size - parent image size (`docker image inspect -f {{.Size}}`).
# Rounds alternate which side goes first. One untimed warm-up round per side (jenv_probe 1.0)
# comes first. Each side keeps committing its one container, as a user snapshotting a notebook
# several times would, so both sides' container layers grow the same way.
# Prints each round, the medians, the ratios, then a markdown table for docs/benchmarks.md.
#
# Usage: benches/snapshot.sh        (as root on Debian, like benches/core.sh)
#   RUNS=5           rounds (each side commits once per round; commits take seconds here)
#   JENV_TEST_IMAGE  image (default jenv-test/notebook:bookworm, built offline)
#
# Everything it starts is removed on exit, even on failure or Ctrl-C: jenv containers and
# snapshot images by the label jenv.home=<this run's private JENV_HOME>, the raw container by
# its own name and label, raw commits by this run's own repository name. Nothing else on the
# engine is touched.
set -euo pipefail
shopt -s inherit_errexit # errors inside $(...) stop the script too
export LC_ALL=C # $EPOCHREALTIME and printf must use '.' as the decimal point
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

RUNS=${RUNS:-5}
IMAGE=${JENV_TEST_IMAGE:-jenv-test/notebook:bookworm}
PROBE=jenv_probe


[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"

# --- set up ------------------------------------------------------------------------------

if ! command -v jq >/dev/null; then
  log "installing jq"
  apt-get update -qq
  apt-get install -y -qq jq >/dev/null
fi
prepare_jenv

RUN_ID=$$-$(od -An -tx1 -N3 /dev/urandom | tr -d ' \n')
TMP=$(realpath "$(mktemp -d /tmp/jenv-bench-snap.XXXXXX)")
export JENV_HOME=$TMP/jenv-home
RAW_NAME=jenv-bench-snap-raw-$RUN_ID
RAW_REPO=jenv-bench-snap-raw-$RUN_ID # docker commit's repository for the raw images
PROJECT=$TMP/snap-project
RAW_DIR=$TMP/raw-project

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  local ids
  # Stop jenv's notebook through jenv first (releases its lease), then remove by label anyway.
  [ -f "$PROJECT/.jupyter-env" ] && (cd "$PROJECT" && "$JENV" down --discard >/dev/null 2>&1)
  ids=$(docker ps -aq --filter "label=jenv.home=$JENV_HOME")
  [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1
  ids=$(docker ps -aq --filter "label=jenv.bench.run=$RUN_ID" --filter "name=$RAW_NAME")
  [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1
  ids=$( (docker images -q --filter "label=jenv.home=$JENV_HOME"; docker images -q "$RAW_REPO") | sort -u)
  [ -z "$ids" ] || docker rmi -f $ids >/dev/null 2>&1
  rm -rf "$TMP"
  exit "$status"
}
trap_cleanup

ms() { awk -v us="$1" 'BEGIN { printf "%.0f", us / 1000 }'; } # microseconds -> "1234"
kb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000 }'; }   # bytes -> "12.3" (kB)
image_size() { docker image inspect -f '{{.Size}}' "$1"; }

# The wheel builder of tests/common/mod.rs: a minimal pure-Python wheel, written from inside the
# notebook so the host needs no Python.
MAKE_WHEEL=$(cat tests/data/make_wheel.py)
wheel_of() { echo "dist/$PROBE-1.$1-py3-none-any.whl"; } # $1: round (0 = warm-up)

# --- the two notebooks -------------------------------------------------------------------

mkdir -p "$PROJECT" "$RAW_DIR/dist"
cd "$PROJECT"
"$JENV" init --image "$IMAGE" >/dev/null
log "starting the jenv notebook"
"$JENV" up >/dev/null 2>"$TMP/up.err" || { cat "$TMP/up.err" >&2; die "jenv up failed"; }
NAME=$("$JENV" status --json | jq -r .name)
JENV_REPO=jenv/$NAME

# The hand-written alias jenv replaces: same image, same user, the folder mounted, Jupyter as CMD.
log "starting the raw notebook $RAW_NAME"
docker run -d --name "$RAW_NAME" --label jenv.managed=bench --label "jenv.bench.run=$RUN_ID" \
  --user "$uid:$gid" -v "$RAW_DIR:/home/jovyan/work" -w /home/jovyan/work \
  "$IMAGE" jupyter notebook --ip=0.0.0.0 --port=8888 --no-browser "${allow_root[@]}" >/dev/null
for _ in $(seq 1 600); do # Jupyter writes its runtime files as it starts: let it settle, as jenv up does
  docker logs "$RAW_NAME" 2>&1 | grep 'http://' >/dev/null && break
  sleep 0.2
done
docker logs "$RAW_NAME" 2>&1 | grep 'http://' >/dev/null || { docker logs --tail 20 "$RAW_NAME" >&2; die "raw notebook did not start"; }

log "making $((RUNS + 1)) wheels"
for i in $(seq 0 "$RUNS"); do
  "$JENV" exec -- python3 -c "$MAKE_WHEEL" "$PROBE" "1.$i" "$(wheel_of "$i")" >/dev/null \
    || die "cannot make $(wheel_of "$i")"
done

BASE_SIZE=$(image_size "$IMAGE")
RAW_PARENT=$(docker inspect -f '{{.Image}}' "$RAW_NAME")
RAW_PARENT_SIZE=$(image_size "$RAW_PARENT")

# (a) Installs round $1's wheel with jenv exec (untimed), then times `jenv snapshot --json`.
# Sets j_wall (us), j_paused (ms), j_total (ms), j_added (bytes, as jenv reports: since the
# previous snapshot), j_image_added (bytes: snapshot image size - base image size).
jenv_round() {
  local wheel out t0 t1 image
  wheel=$(wheel_of "$1")
  out=$TMP/snapshot.json
  "$JENV" exec -- python3 -m pip install --no-index --quiet "$wheel" >/dev/null 2>"$TMP/pip.err" \
    || { cat "$TMP/pip.err" >&2; die "jenv exec pip install $wheel failed"; }
  t0=$(now_us)
  "$JENV" snapshot --json -m "bench round $1" >"$out" 2>"$TMP/snapshot.err" \
    || { cat "$TMP/snapshot.err" >&2; die "jenv snapshot failed"; }
  t1=$(now_us)
  j_wall=$((t1 - t0))
  j_paused=$(jq -er .paused_ms "$out")
  j_total=$(jq -er .total_ms "$out")
  j_added=$(jq -er .size_added "$out")
  j_layers=$(jq -er .layers "$out")
  j_changes=$(jq -er '.changes | length' "$out")
  image=$(jq -er .image "$out")
  j_image_added=$(($(image_size "$image") - BASE_SIZE))
  [ "$j_changes" = 1 ] || log "  (jenv snapshot saw $j_changes package changes, expected 1: $(jq -c .changes "$out"))"
}

# (b) Copies round $1's wheel into the raw container and installs it with docker exec (untimed),
# then times `docker commit`. Sets r_wall (us) and r_added (bytes: committed - parent size).
raw_round() {
  local wheel t0 t1 image
  wheel=$(wheel_of "$1")
  docker cp "$PROJECT/$wheel" "$RAW_NAME:/home/jovyan/work/dist/" >/dev/null
  docker exec -u "$uid:$gid" -w /home/jovyan/work "$RAW_NAME" \
    python3 -m pip install --no-index --quiet "$wheel" >/dev/null 2>"$TMP/pip.err" \
    || { cat "$TMP/pip.err" >&2; die "docker exec pip install $wheel failed"; }
  t0=$(now_us)
  image=$(docker commit -m "bench round $1" "$RAW_NAME" "$RAW_REPO:r$1")
  t1=$(now_us)
  r_wall=$((t1 - t0))
  r_added=$(($(image_size "$image") - RAW_PARENT_SIZE))
}

# --- rounds --------------------------------------------------------------------------------

log ""
log "== jenv snapshot vs docker commit ($RUNS rounds, alternating; 1 untimed warm-up each) =="
jenv_round 0
raw_round 0
log "  warm-up: jenv snapshot $(ms "$j_wall") ms (paused $j_paused ms)   docker commit $(ms "$r_wall") ms"
jw=() jp=() jt=() ja=() ji=() rw=() ra=()
for i in $(seq 1 "$RUNS"); do
  if ((i % 2)); then
    jenv_round "$i"
    raw_round "$i"
    first=jenv
  else
    raw_round "$i"
    jenv_round "$i"
    first=raw
  fi
  jw+=("$j_wall") jp+=("$j_paused") jt+=("$j_total") ja+=("$j_added") ji+=("$j_image_added")
  rw+=("$r_wall") ra+=("$r_added")
  log "  round $i ($first first): jenv snapshot $(ms "$j_wall") ms (paused $j_paused ms, total_ms $j_total," \
    "added $j_added B, image +$j_image_added B, $j_layers layers)   docker commit $(ms "$r_wall") ms (added $r_added B)"
done

# What each side's container layer holds besides the package (docker diff; jenv mounts /tmp as tmpfs
# and removes pip's caches before committing, the raw alias does neither).
JENV_CONTAINER=$(docker ps -q --filter "label=jenv.home=$JENV_HOME" --filter "label=jenv.name=$NAME" | head -n 1)
strip_probe() { grep -v "$PROBE" | awk '{ print $2 }' | sort; }
log ""
log "  changed paths other than $PROBE's, jenv container: $(docker diff "$JENV_CONTAINER" | strip_probe | tr '\n' ' ')"
log "  changed paths other than $PROBE's, raw container:  $(docker diff "$RAW_NAME" | strip_probe | tr '\n' ' ')"

med_jw=$(median "${jw[@]}")
med_jp=$(median "${jp[@]}")
med_jt=$(median "${jt[@]}")
med_ja=$(median "${ja[@]}")
med_ji=$(median "${ji[@]}")
med_rw=$(median "${rw[@]}")
med_ra=$(median "${ra[@]}")
ratio_time=$(ratio "$med_jw" "$med_rw")
ratio_pause=$(ratio "$((med_jp * 1000))" "$med_rw")
ratio_size=$(ratio "$med_ji" "$med_ra")
ratio_reported=$(ratio "$med_ja" "$med_ra")

log ""
log "  median: jenv snapshot $(ms "$med_jw") ms (its total_ms $med_jt, paused_ms $med_jp)   docker commit $(ms "$med_rw") ms"
log "  median size added: jenv reports $med_ja B, jenv image - base image $med_ji B, raw commit - parent $med_ra B"
log "  jenv snapshot / docker commit time: $ratio_time (goal <= 1.05)"
log "  jenv paused_ms / docker commit time: $ratio_pause (goal <= 1.0)"
log "  jenv size added / raw size added: $ratio_size (image - base; goal <= 1.0), $ratio_reported (as jenv reports it)"

verdict() { awk -v v="$1" -v limit="$2" 'BEGIN { print (v != "n/a" && v <= limit) ? "yes" : "no" }'; }
ok_time=$(verdict "$ratio_time" 1.05)
ok_pause=$(verdict "$ratio_pause" 1.0)
ok_size=$(verdict "$ratio_size" 1.0)

cat <<EOF

| Measure, median of $RUNS rounds | jenv | \`docker commit\` | jenv / raw | Goal | Met |
| --- | ---: | ---: | ---: | --- | --- |
| Snapshot time, wall clock | $(ms "$med_jw") ms | $(ms "$med_rw") ms | $ratio_time | ≤ 1.05 | $ok_time |
| Notebook paused (jenv \`paused_ms\` vs whole raw commit) | $med_jp ms | $(ms "$med_rw") ms | $ratio_pause | ≤ 1.0 | $ok_pause |
| Size added (image − base image) | $(kb "$med_ji") kB | $(kb "$med_ra") kB | $ratio_size | ≤ 1.0 | $ok_size |
| Size added as jenv reports it (\`size_added\`: the commit's own layer) | $(kb "$med_ja") kB | – | – | – | – |
EOF
