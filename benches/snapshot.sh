#!/usr/bin/env bash
# Snapshot benchmark: `jenv snapshot` against the raw `docker commit` it replaces.
#
# Each round makes the same small change in two running notebooks of the same image, then commits:
#   (a) jenv: `jenv exec -- pip install` a fresh tiny wheel (jenv_probe 1.<round>), then
#       `jenv snapshot --json`, timed end to end (wall clock); its commit_ms and size_added kept.
#   (b) raw:  `docker cp` the same wheel into a plain `docker run -d` notebook (the seed's alias:
#       the image's own user and command), `docker exec` the same pip install, then
#       `docker commit` (pauses the container by default), timed wall clock;
#       size added = committed image size - parent image size (`docker image inspect -f {{.Size}}`).
# While each side commits, benches/freeze_probe.py asks that notebook's Jupyter /api every 50 ms
# from the host; the longest time between two answers is how long the notebook was frozen.
# Then each side commits the same container once more with no probe running (jenv: a second
# `jenv snapshot`; raw: a second `docker commit`): those commit times are the ones compared, since
# a notebook answering a probe 20 times a second competes with the commit for the 2 cores, while
# the raw notebook, paused, does not.
# Rounds alternate which side goes first. One untimed warm-up round per side (jenv_probe 1.0)
# comes first. Each side keeps committing its one container, as a user snapshotting a notebook
# several times would, so both sides' container layers grow the same way.
# Prints each round, the medians, the ratios, then a markdown table for docs/benchmarks.md.
#
# Usage: benches/snapshot.sh        (as root on Debian, like benches/core.sh)
#   RUNS=5           rounds (each side commits once per round; commits take seconds here)
#   JENV_TEST_IMAGE  image (default jenv-fixture/base-notebook:bookworm, the docker-stacks
#                    fixture; jenv-test/notebook:bookworm for the plain Debian image)
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
REPO=$PWD

RUNS=${RUNS:-5}
IMAGE=${JENV_TEST_IMAGE:-jenv-fixture/base-notebook:bookworm}
PROBE=jenv_probe


[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"

# --- set up ------------------------------------------------------------------------------

if ! command -v jq >/dev/null; then
  log "installing jq"
  apt-get update -qq
  apt-get install -y -qq jq >/dev/null
fi
prepare_jenv
scripts/build-stacks-fixture.sh >&2

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
JENV_PORT=$("$JENV" status --json | jq -r .ports.jupyter.host)
JENV_REPO=jenv/$NAME

# The hand-written alias jenv replaces: same image, the folder mounted. A docker-stacks image runs
# as the seed's alias runs it (its own user and command); a plain one as us, Jupyter as CMD.
log "starting the raw notebook $RAW_NAME"
raw_run=(docker run -d --name "$RAW_NAME" --label jenv.managed=bench --label "jenv.bench.run=$RUN_ID"
  -p 127.0.0.1::8888 -v "$RAW_DIR:/home/jovyan/work" -w /home/jovyan/work)
if docker image inspect -f '{{json .Config.Env}}' "$IMAGE" | grep -q '"NB_UID='; then
  chown -R 1000:100 "$RAW_DIR"
  raw_user=()
  "${raw_run[@]}" "$IMAGE" >/dev/null
else
  raw_user=(-u "$uid:$gid")
  "${raw_run[@]}" --user "$uid:$gid" "$IMAGE" jupyter notebook --ip=0.0.0.0 --port=8888 --no-browser "${allow_root[@]}" >/dev/null
fi
RAW_PORT=$(docker port "$RAW_NAME" 8888/tcp | head -n 1 | sed 's/.*://')
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
# Sets j_wall (us), j_commit (ms), j_frozen (ms), j_total (ms), j_added (bytes, as jenv reports: since the
# previous snapshot), j_image_added (bytes: snapshot image size - base image size).
jenv_round() {
  local wheel out t0 t1 image
  wheel=$(wheel_of "$1")
  out=$TMP/snapshot.json
  "$JENV" exec -- python3 -m pip install --no-index --quiet "$wheel" >/dev/null 2>"$TMP/pip.err" \
    || { cat "$TMP/pip.err" >&2; die "jenv exec pip install $wheel failed"; }
  probe_start "$JENV_PORT"
  t0=$(now_us)
  "$JENV" snapshot --json -m "bench round $1" >"$out" 2>"$TMP/snapshot.err" \
    || { cat "$TMP/snapshot.err" >&2; die "jenv snapshot failed"; }
  t1=$(now_us)
  probe_stop
  j_frozen=$frozen
  j_wall=$((t1 - t0))
  j_commit=$(jq -er .commit_ms "$out")
  j_total=$(jq -er .total_ms "$out")
  j_added=$(jq -er .size_added "$out")
  j_layers=$(jq -er .layers "$out")
  j_changes=$(jq -er '.changes | length' "$out")
  image=$(jq -er .image "$out")
  j_image_added=$(($(image_size "$image") - BASE_SIZE))
  [ "$j_changes" = 1 ] || log "  (jenv snapshot saw $j_changes package changes, expected 1: $(jq -c .changes "$out"))"
  # The same commit again with no probe asking the notebook: the commit time compared with raw.
  "$JENV" snapshot --json -m "bench round $1, unprobed" >"$out" 2>"$TMP/snapshot.err" \
    || { cat "$TMP/snapshot.err" >&2; die "jenv snapshot (unprobed) failed"; }
  j_commit_quiet=$(jq -er .commit_ms "$out")
}

# (b) Copies round $1's wheel into the raw container and installs it with docker exec (untimed),
# then times `docker commit`. Sets r_wall (us), r_frozen (ms) and r_added (bytes: committed - parent size).
raw_round() {
  local wheel t0 t1 image
  wheel=$(wheel_of "$1")
  docker cp "$PROJECT/$wheel" "$RAW_NAME:/home/jovyan/work/dist/" >/dev/null
  docker exec "${raw_user[@]}" -w /home/jovyan/work "$RAW_NAME" \
    python3 -m pip install --no-index --quiet "$wheel" >/dev/null 2>"$TMP/pip.err" \
    || { cat "$TMP/pip.err" >&2; die "docker exec pip install $wheel failed"; }
  probe_start "$RAW_PORT"
  t0=$(now_us)
  image=$(docker commit -m "bench round $1" "$RAW_NAME" "$RAW_REPO:r$1")
  t1=$(now_us)
  probe_stop
  r_frozen=$frozen
  r_wall=$((t1 - t0))
  r_added=$(($(image_size "$image") - RAW_PARENT_SIZE))
  t0=$(now_us)
  docker commit -m "bench round $1, unprobed" "$RAW_NAME" "$RAW_REPO:r$1-unprobed" >/dev/null
  t1=$(now_us)
  r_wall_quiet=$((t1 - t0))
}

# The freeze probe runs on the host while one side commits; probe_stop reads its longest gap (ms).
probe_start() {
  python3 "$REPO/benches/freeze_probe.py" "$1" "$TMP/frozen" &
  PROBE_PID=$!
  sleep 0.2 # a few answers before the commit starts, so the gap measured is the commit's
}
probe_stop() { # sets frozen (ms); not in $(...): only this shell can wait for the probe
  rm -f "$TMP/frozen"
  kill -TERM "$PROBE_PID"
  wait "$PROBE_PID" || true
  frozen=$(cat "$TMP/frozen")
}

# --- rounds --------------------------------------------------------------------------------

log ""
log "== jenv snapshot vs docker commit ($RUNS rounds, alternating; 1 untimed warm-up each) =="
jenv_round 0
raw_round 0
log "  warm-up: jenv snapshot $(ms "$j_wall") ms (commit $j_commit ms, frozen $j_frozen ms)   docker commit $(ms "$r_wall") ms (frozen $r_frozen ms)"
jw=() jc=() jf=() jt=() ja=() ji=() rw=() rf=() ra=() jq_=() rq=()
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
  jw+=("$j_wall") jc+=("$j_commit") jf+=("$j_frozen") jt+=("$j_total") ja+=("$j_added") ji+=("$j_image_added")
  rw+=("$r_wall") rf+=("$r_frozen") ra+=("$r_added") jq_+=("$j_commit_quiet") rq+=("$r_wall_quiet")
  log "  round $i ($first first): jenv snapshot $(ms "$j_wall") ms (commit $j_commit ms, frozen $j_frozen ms," \
    "total_ms $j_total, added $j_added B, image +$j_image_added B, $j_layers layers)" \
    "  docker commit $(ms "$r_wall") ms (frozen $r_frozen ms, added $r_added B);" \
    "unprobed commits: jenv $j_commit_quiet ms, raw $(ms "$r_wall_quiet") ms"
done

# What each side's container layer holds besides the package (docker diff; jenv mounts /tmp as tmpfs
# and removes pip's caches before committing, the raw alias does neither).
JENV_CONTAINER=$(docker ps -q --filter "label=jenv.home=$JENV_HOME" --filter "label=jenv.name=$NAME" | head -n 1)
strip_probe() { grep -v "$PROBE" | awk '{ print $2 }' | sort; }
log ""
log "  changed paths other than $PROBE's, jenv container: $(docker diff "$JENV_CONTAINER" | strip_probe | tr '\n' ' ')"
log "  changed paths other than $PROBE's, raw container:  $(docker diff "$RAW_NAME" | strip_probe | tr '\n' ' ')"

med_jw=$(median "${jw[@]}")
med_jc=$(median "${jc[@]}")
med_jf=$(median "${jf[@]}")
med_rf=$(median "${rf[@]}")
med_jt=$(median "${jt[@]}")
med_ja=$(median "${ja[@]}")
med_ji=$(median "${ji[@]}")
med_rw=$(median "${rw[@]}")
med_ra=$(median "${ra[@]}")
med_jq=$(median "${jq_[@]}")
med_rq=$(median "${rq[@]}")
ratio_time=$(ratio "$med_jw" "$med_rw")
ratio_commit=$(ratio "$((med_jq * 1000))" "$med_rq")
ratio_commit_probed=$(ratio "$((med_jc * 1000))" "$med_rw")
ratio_frozen=$(ratio "$med_jf" "$med_rf")
ratio_size=$(ratio "$med_ji" "$med_ra")
ratio_reported=$(ratio "$med_ja" "$med_ra")

log ""
log "  median: jenv snapshot $(ms "$med_jw") ms (its total_ms $med_jt, commit_ms $med_jc, frozen $med_jf ms)" \
  "  docker commit $(ms "$med_rw") ms (frozen $med_rf ms)"
log "  median size added: jenv reports $med_ja B, jenv image - base image $med_ji B, raw commit - parent $med_ra B"
log "  jenv snapshot / docker commit time: $ratio_time (whole snapshot, wall clock)"
log "  jenv commit_ms / docker commit time, unprobed: $ratio_commit (goal <= 1.05); while probed: $ratio_commit_probed"
log "  notebook frozen, jenv / docker commit: $ratio_frozen (goal <= 0.05)"
log "  jenv size added / raw size added: $ratio_size (image - base; goal <= 1.0), $ratio_reported (as jenv reports it)"

verdict() { awk -v v="$1" -v limit="$2" 'BEGIN { print (v != "n/a" && v <= limit) ? "yes" : "no" }'; }
ok_commit=$(verdict "$ratio_commit" 1.05)
ok_frozen=$(verdict "$ratio_frozen" 0.05)
ok_size=$(verdict "$ratio_size" 1.0)

cat <<EOF

| Measure, median of $RUNS rounds | jenv | \`docker commit\` | jenv / raw | Goal | Met |
| --- | ---: | ---: | ---: | --- | --- |
| Notebook frozen (longest gap between /api answers while committing) | $med_jf ms | $med_rf ms | $ratio_frozen | ≤ 0.05 | $ok_frozen |
| Commit time, notebook idle (jenv \`commit_ms\` vs the whole raw commit) | $med_jq ms | $(ms "$med_rq") ms | $ratio_commit | ≤ 1.05 | $ok_commit |
| Commit time while the probe asks the notebook every 50 ms | $med_jc ms | $(ms "$med_rw") ms | $ratio_commit_probed | – | – |
| Whole snapshot, wall clock (listings, installer checks, commit) | $(ms "$med_jw") ms | $(ms "$med_rw") ms | $ratio_time | – | – |
| Size added (image − base image) | $(kb "$med_ji") kB | $(kb "$med_ra") kB | $ratio_size | ≤ 1.0 | $ok_size |
| Size added as jenv reports it (\`size_added\`: the commit's own layer) | $(kb "$med_ja") kB | – | – | – | – |
EOF
