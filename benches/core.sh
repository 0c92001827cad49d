#!/usr/bin/env bash
# Core benchmarks of jenv against the raw Docker commands it replaces:
#   A. `jenv up` until Jupyter answers   vs  `docker run -d ...` + polling /api every 50 ms
#   B. `jenv status --all`               vs  `docker ps`            (3 notebooks running)
#   C. `jenv --version`                  vs  /usr/bin/true          (process start-up floor)
# Prints each run, the medians and ratios, then a markdown table for docs/benchmarks.md.
#
# Usage: benches/core.sh            (as root on Debian; installs what it misses)
#   RUNS=10          runs of A per side (jenv and raw alternate)
#   STATUS_RUNS=30   runs of B per side
#   VERSION_RUNS=50  runs of C per side
#   JENV_TEST_IMAGE  image for A and B (default jenv-test/notebook:bookworm, built offline)
#
# Timing uses bash's $EPOCHREALTIME (microseconds, no fork), so no extra tool is needed.
# Everything it starts is removed on exit, even on failure or Ctrl-C: jenv containers by the
# label jenv.home=<this run's private JENV_HOME>, raw containers by this run's own names.
# It never touches other containers on the engine.
set -euo pipefail
shopt -s inherit_errexit # errors inside $(...) stop the script too
export LC_ALL=C # $EPOCHREALTIME and printf must use '.' as the decimal point
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

RUNS=${RUNS:-10}
STATUS_RUNS=${STATUS_RUNS:-30}
VERSION_RUNS=${VERSION_RUNS:-50}
IMAGE=${JENV_TEST_IMAGE:-jenv-test/notebook:bookworm}
READY_TIMEOUT_S=120 # give up on a raw notebook that never answers (jenv's own default)
POLL_US=50000       # raw baseline polls /api every 50 ms, like jenv's READY_POLL


# --- set up ------------------------------------------------------------------------------

if ! command -v curl >/dev/null; then
  log "installing curl"
  apt-get update -qq
  apt-get install -y -qq curl >/dev/null
fi
prepare_jenv
TRUE_BIN=$(type -P true) # the external binary: a fork+exec floor, unlike the builtin

RUN_ID=$$-$(od -An -tx1 -N3 /dev/urandom | tr -d ' \n')
TMP=$(realpath "$(mktemp -d /tmp/jenv-bench.XXXXXX)")
export JENV_HOME=$TMP/jenv-home
RAW_PREFIX=jenv-bench-raw-$RUN_ID-

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  local ids
  ids=$(docker ps -aq --filter "label=jenv.home=$JENV_HOME")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
  ids=$(docker ps -aq --filter "label=jenv.bench.run=$RUN_ID" --filter "name=$RAW_PREFIX")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
  rm -rf "$TMP"
  exit "$status"
}
trap_cleanup

ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; } # microseconds -> "12.3"
ms2() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
token() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }

# A TCP port in 20000-29999 nobody listens on (jenv itself leases from 8888-8999).
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 10000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  die "no free port found in 20000-29999"
}

api_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/api" || true; }

new_project() { # $1: folder to create; writes its .jupyter-env
  mkdir -p "$1"
  (cd "$1" && "$JENV" init --image "$IMAGE" >/dev/null)
}

# --- A: up to a ready notebook -----------------------------------------------------------

PROJECT_A=$TMP/up-project
RAW_DIR=$TMP/raw-project
mkdir -p "$RAW_DIR"
new_project "$PROJECT_A"

# Times `jenv up` in PROJECT_A (it exits only once /api answers), then `jenv down` untimed.
time_jenv_up() {
  local out=$TMP/up.out t0 t1 url port
  cd "$PROJECT_A"
  t0=$(now_us)
  "$JENV" up >"$out" 2>"$TMP/up.err" || { cat "$TMP/up.err" >&2; die "jenv up failed"; }
  t1=$(now_us)
  url=$(head -n 1 "$out")
  [[ $url =~ ^http://127\.0\.0\.1:([0-9]+)/(lab|tree)\?token=[0-9a-f]+$ ]] || die "jenv up printed '$url', not a URL"
  port=${BASH_REMATCH[1]}
  [ "$(api_code "$port")" = 200 ] || die "jenv up returned but $url does not answer /api"
  "$JENV" down --discard >/dev/null 2>&1 || die "jenv down failed"
  cd "$TMP"
  echo $((t1 - t0))
}

# Times `docker run -d` until a curl of /api sees 200 (polled every 50 ms), then `docker rm -f`
# untimed. $1 makes the container name unique. Prints nothing and returns 75 if the engine
# refused the port (another program took it meanwhile): the caller retries. It runs where
# errexit is off (the caller tests its status), so every step that matters checks itself.
PORT_RACE=75
time_raw_up() {
  local name=$RAW_PREFIX$1 port tok t0 t1 next code now
  port=$(free_port) || exit 1
  tok=$(token)
  t0=$(now_us)
  if ! docker run -d --name "$name" --label jenv.managed=bench --label "jenv.bench.run=$RUN_ID" \
    --user "$uid:$gid" -e "JUPYTER_TOKEN=$tok" -p "127.0.0.1:$port:8888" \
    -v "$RAW_DIR:/home/jovyan/work" -w /home/jovyan/work \
    "$IMAGE" jupyter notebook --ip=0.0.0.0 --port=8888 --no-browser "${allow_root[@]}" \
    >/dev/null 2>"$TMP/raw.err"; then
    docker rm -f "$name" >/dev/null 2>&1 || true
    grep -qiE 'port is already allocated|address already in use' "$TMP/raw.err" && return $PORT_RACE
    cat "$TMP/raw.err" >&2
    die "docker run failed"
  fi
  next=$((t0 + POLL_US))
  while :; do
    code=$(api_code "$port")
    [ "$code" = 200 ] && break
    now=$(now_us)
    if ((now - t0 > READY_TIMEOUT_S * 1000000)); then
      docker logs --tail 20 "$name" >&2 || true
      die "raw notebook $name did not answer /api within ${READY_TIMEOUT_S}s"
    fi
    # Polls start every 50 ms however long curl took, so curl's own start-up does not stretch it.
    if ((now < next)); then sleep "$(printf '0.%06d' $((next - now)))"; fi
    next=$((next + POLL_US))
    now=$(now_us)
    ((next > now)) || next=$((now + POLL_US))
  done
  t1=$(now_us)
  docker rm -f "$name" >/dev/null || die "cannot remove $name"
  echo $((t1 - t0))
}

raw_up() { # $1: run label; time_raw_up, retried when it lost a port race
  local t attempt status
  for attempt in 1 2 3 4 5; do
    status=0
    t=$(time_raw_up "$1-$attempt") || status=$?
    if [ "$status" -eq 0 ]; then
      echo "$t"
      return
    fi
    [ "$status" -eq "$PORT_RACE" ] || exit "$status"
    log "  (raw: port taken meanwhile, retrying)"
  done
  die "docker run kept hitting taken ports"
}

cd "$TMP"
log ""
log "== A: up to a ready notebook ($RUNS runs each, alternating; 1 untimed warm-up each) =="
time_jenv_up >/dev/null
raw_up warmup >/dev/null
jenv_a=()
raw_a=()
for i in $(seq 1 "$RUNS"); do
  if ((i % 2)); then
    j=$(time_jenv_up)
    r=$(raw_up "$i")
  else
    r=$(raw_up "$i")
    j=$(time_jenv_up)
  fi
  jenv_a+=("$j")
  raw_a+=("$r")
  log "  run $i: jenv up $(ms "$j") ms   raw docker $(ms "$r") ms"
done
med_jenv_a=$(median "${jenv_a[@]}")
med_raw_a=$(median "${raw_a[@]}")
ratio_a=$(ratio "$med_jenv_a" "$med_raw_a")
log "  median: jenv up $(ms "$med_jenv_a") ms   raw docker $(ms "$med_raw_a") ms   ratio jenv/raw $ratio_a (goal <= 1.05)"

# What one curl poll costs here (raw's last poll pays it before the clock stops; jenv polls in-process).
curl_costs=()
for _ in 1 2 3 4 5; do
  t0=$(now_us)
  api_code 1 >/dev/null
  curl_costs+=($(($(now_us) - t0)))
done
curl_cost=$(median "${curl_costs[@]}")
log "  (one curl poll costs $(ms "$curl_cost") ms here)"

# --- B: status with 3 notebooks running --------------------------------------------------

log ""
log "== B: jenv status --all vs docker ps ($STATUS_RUNS runs each, alternating; 3 notebooks up) =="
for n in 1 2 3; do
  new_project "$TMP/status-project-$n"
  (cd "$TMP/status-project-$n" && "$JENV" up >/dev/null 2>&1) || die "jenv up for status-project-$n failed"
done
cd "$TMP"
listed=$("$JENV" status --all --json | grep -c '"folder"' || true)
mine=$("$JENV" status --all --json | grep -c "\"folder\": \"$TMP/" || true)
[ "$mine" = 3 ] || die "jenv status --all shows $mine of this run's 3 notebooks"
engine_total=$(docker ps -q | wc -l)
log "  jenv status --all lists $listed environments ($mine of this run); docker ps lists $engine_total containers"
for _ in 1 2 3; do # warm-up
  "$JENV" status --all >/dev/null
  docker ps >/dev/null
done
jenv_b=()
docker_b=()
for i in $(seq 1 "$STATUS_RUNS"); do
  t0=$(now_us)
  "$JENV" status --all >/dev/null
  t1=$(now_us)
  docker ps >/dev/null
  t2=$(now_us)
  jenv_b+=($((t1 - t0)))
  docker_b+=($((t2 - t1)))
done
log "  jenv status --all (ms): $(for t in "${jenv_b[@]}"; do printf '%s ' "$(ms "$t")"; done)"
log "  docker ps (ms):         $(for t in "${docker_b[@]}"; do printf '%s ' "$(ms "$t")"; done)"
med_jenv_b=$(median "${jenv_b[@]}")
med_docker_b=$(median "${docker_b[@]}")
ratio_b=$(ratio "$med_jenv_b" "$med_docker_b")
log "  median: jenv status --all $(ms "$med_jenv_b") ms   docker ps $(ms "$med_docker_b") ms   ratio $ratio_b (goal < 1)"
for n in 1 2 3; do
  (cd "$TMP/status-project-$n" && "$JENV" down --discard >/dev/null 2>&1) || die "jenv down for status-project-$n failed"
done

# --- C: start-up ---------------------------------------------------------------------------

log ""
log "== C: jenv --version vs $TRUE_BIN ($VERSION_RUNS runs each, alternating) =="
for _ in 1 2 3 4 5; do # warm-up
  "$JENV" --version >/dev/null
  "$TRUE_BIN"
done
jenv_c=()
true_c=()
for i in $(seq 1 "$VERSION_RUNS"); do
  t0=$(now_us)
  "$JENV" --version >/dev/null
  t1=$(now_us)
  "$TRUE_BIN" >/dev/null
  t2=$(now_us)
  jenv_c+=($((t1 - t0)))
  true_c+=($((t2 - t1)))
done
med_jenv_c=$(median "${jenv_c[@]}")
med_true_c=$(median "${true_c[@]}")
log "  median: jenv --version $(ms2 "$med_jenv_c") ms   true $(ms2 "$med_true_c") ms (goal < 5 ms)"

# --- summary -------------------------------------------------------------------------------

verdict() { awk -v v="$1" -v limit="$2" -v op="$3" 'BEGIN { ok = (op == "le") ? v <= limit : v < limit; print ok ? "yes" : "no" }'; }
ok_a=$(verdict "$ratio_a" 1.05 le)
ok_b=$(verdict "$ratio_b" 1 lt)
ok_c=$(verdict "$(ms2 "$med_jenv_c")" 5 lt)

cat <<EOF

| Benchmark | jenv (median) | Baseline | Baseline (median) | jenv / baseline | Goal | Met |
| --- | ---: | --- | ---: | ---: | --- | --- |
| A. Up to a ready notebook, $RUNS runs | $(ms "$med_jenv_a") ms | \`docker run -d\` + curl \`/api\` every 50 ms | $(ms "$med_raw_a") ms | $ratio_a | ≤ 1.05 | $ok_a |
| B. List environments, 3 running, $STATUS_RUNS runs | $(ms "$med_jenv_b") ms | \`docker ps\` | $(ms "$med_docker_b") ms | $ratio_b | < 1 | $ok_b |
| C. \`jenv --version\`, $VERSION_RUNS runs | $(ms2 "$med_jenv_c") ms | \`$TRUE_BIN\` (floor) | $(ms2 "$med_true_c") ms | – | < 5 ms | $ok_c |
EOF
