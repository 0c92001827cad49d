#!/usr/bin/env bash
# Benchmarks of `jenv watch --yes --json` against a running notebook:
#   1. Reaction time: an editor-style save of requirements.txt (write a temp file, `mv` it over)
#      until the watcher's `install_started` event, whose `at_ms` is the Unix time in ms when
#      the install starts. Latency = at_ms - rename_ms. rename_ms is read just BEFORE `mv`
#      runs, so the figure includes mv's own fork+exec (about 1 ms) and errs on the slow side;
#      the mv time is printed too. It includes the 100 ms debounce and the package listing
#      jenv runs in the container to compare the file with what is installed.
#      Each round changes a comment and asks for a wheel that does not exist
#      (./dist/missing-<round>-py3-none-any.whl): pip fails in about a second, the watcher
#      reports install_failed and takes no snapshot. The next round starts after that.
#   2. Idle CPU: the watcher's own CPU time (utime+stime from /proc/PID/stat over CLK_TCK)
#      while nothing changes, next to a `docker ps` every 2 s loop measured over the same
#      seconds (the loop's own CPU plus its reaped children's).
#   3. Diagnostic: the watcher's idle CPU again after requirements.txt is deleted, so that no
#      watched file exists. It separates the cost of the 2 s site-packages poll from the cost of
#      reacting to the watched file (with notify 8 the watcher's own reads of requirements.txt
#      raise inotify OPEN events, see docs/benchmarks.md). NOFILE_SECS=0 skips it.
# Prints per-round lines to stderr and a markdown table to stdout.
#
# Usage: benches/watch.sh            (as root on Debian, with Docker)
#   RUNS=10          latency rounds
#   IDLE_SECS=60     idle window for the CPU measurement
#   NOFILE_SECS      idle window for the diagnostic (default IDLE_SECS; 0 skips it)
#   JENV_TEST_IMAGE  image (default jenv-test/notebook:bookworm, built offline)
#
# Everything it starts is removed on exit, even on failure or Ctrl-C: the watcher gets SIGINT,
# the notebook `jenv down --discard`, then containers and images labelled
# jenv.home=<this run's private JENV_HOME> are removed, and the temp folder. Nothing else on
# the engine is touched.
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

RUNS=${RUNS:-10}
IDLE_SECS=${IDLE_SECS:-60}
NOFILE_SECS=${NOFILE_SECS:-$IDLE_SECS}
IMAGE=${JENV_TEST_IMAGE:-jenv-test/notebook:bookworm}
EVENT_TIMEOUT_S=60 # give up on a watcher event that does not come
SETTLE_S=5         # quiet time before the idle window (the first poll lists packages)


# --- set up ------------------------------------------------------------------------------

prepare_jenv
CLK_TCK=$(getconf CLK_TCK)

TMP=$(realpath "$(mktemp -d /tmp/jenv-bench-watch.XXXXXX)")
export JENV_HOME=$TMP/jenv-home
PROJECT=$TMP/watch-project
OUT=$TMP/watch.out # the watcher's JSON lines
ERR=$TMP/watch.err # its stderr (pip's output goes here with --json)
WATCH_PID=
LOOP_PID=
TAIL_PID=

stop_watcher() { # SIGINT, as Ctrl-C would; returns 0 if it exited within 5 s
  [ -n "$WATCH_PID" ] || return 0
  kill -INT "$WATCH_PID" 2>/dev/null || { WATCH_PID=; return 0; }
  for _ in $(seq 1 50); do
    if ! kill -0 "$WATCH_PID" 2>/dev/null; then
      wait "$WATCH_PID" 2>/dev/null || true
      WATCH_PID=
      return 0
    fi
    sleep 0.1
  done
  return 1
}

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  if [ -n "$LOOP_PID" ]; then kill "$LOOP_PID" 2>/dev/null; wait "$LOOP_PID" 2>/dev/null; fi
  [ -z "$TAIL_PID" ] || kill "$TAIL_PID" 2>/dev/null
  if ! stop_watcher; then
    log "the watcher ignored SIGINT for 5 s; killing it"
    kill -KILL "$WATCH_PID" 2>/dev/null
    wait "$WATCH_PID" 2>/dev/null
  fi
  [ -d "$PROJECT" ] && (cd "$PROJECT" && "$JENV" down --discard >/dev/null 2>&1)
  local ids
  ids=$(docker ps -aq --filter "label=jenv.home=$JENV_HOME")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
  ids=$(docker images -q --filter "label=jenv.home=$JENV_HOME" | sort -u)
  [ -z "$ids" ] || docker rmi -f $ids >/dev/null 2>&1
  rm -rf "$TMP"
  exit "$status"
}
trap_cleanup

min() { printf '%s\n' "$@" | sort -n | head -n 1; }
max() { printf '%s\n' "$@" | sort -n | tail -n 1; }

# Lines of the watcher's output so far.
out_lines() { wc -l <"$OUT"; }

# Waits for the watcher's next line whose event is $1 and prints it. Lines come from a
# `tail -F` of its output on fd $EV, read in order (bash reads pipes a byte at a time, so
# nothing is lost between calls); waiting is a blocking read, so it takes no CPU from the
# watcher. Dies after EVENT_TIMEOUT_S, or if the watcher exited, showing its output.
wait_event() {
  local event=$1 line start=$SECONDS
  while :; do
    if IFS= read -r -t 1 -u "$EV" line; then
      if [[ $line == *"\"event\":\"$event\""* ]]; then
        printf '%s\n' "$line"
        return
      fi
      continue
    fi
    if ! kill -0 "$WATCH_PID" 2>/dev/null; then
      log "--- watcher stdout:"; cat "$OUT" >&2
      log "--- watcher stderr:"; tail -n 30 "$ERR" >&2
      die "the watcher exited while waiting for $event"
    fi
    if ((SECONDS - start > EVENT_TIMEOUT_S)); then
      log "--- watcher stdout:"; cat "$OUT" >&2
      log "--- watcher stderr:"; tail -n 30 "$ERR" >&2
      die "no $event event within ${EVENT_TIMEOUT_S}s"
    fi
  done
}

# utime+stime of a process in clock ticks ($2 = cu: add its reaped children's too).
cpu_ticks() {
  local stat rest
  stat=$(cat "/proc/$1/stat") || die "process $1 is gone"
  rest=${stat##*) } # fields after the command name, which may hold spaces
  # rest starts at field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  awk -v children="${2:-}" '{ t = $12 + $13; if (children == "cu") t += $14 + $15; print t }' <<<"$rest"
}
secs() { awk -v t="$1" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }'; }

# --- notebook and watcher ----------------------------------------------------------------

mkdir -p "$PROJECT"
cd "$PROJECT"
"$JENV" init --image "$IMAGE" >/dev/null
printf '# benchmark requirements\n' >requirements.txt
log "starting the notebook"
"$JENV" up >/dev/null 2>"$TMP/up.err" || { cat "$TMP/up.err" >&2; die "jenv up failed"; }

: >"$OUT"
"$JENV" watch --yes --json <"/dev/null" >"$OUT" 2>"$ERR" &
WATCH_PID=$!
exec {EV}< <(exec tail -n +1 -F "$OUT" 2>/dev/null)
TAIL_PID=$!
wait_event watching >/dev/null
log "watcher running as pid $WATCH_PID; letting its first poll settle (${SETTLE_S}s)"
sleep "$SETTLE_S"

# --- 1. reaction time ----------------------------------------------------------------------

log ""
log "== 1. save of requirements.txt -> install_started ($RUNS rounds) =="
latencies=()
mv_us=()
for i in $(seq 1 "$RUNS"); do
  printf '# benchmark requirements, round %d\n./dist/missing-%d-py3-none-any.whl\n' "$i" "$i" >.requirements.txt.tmp
  t0=${EPOCHREALTIME/./} # no fork between this and mv's own
  mv -f .requirements.txt.tmp requirements.txt
  t1=${EPOCHREALTIME/./}
  rename_ms=$((t0 / 1000))
  line=$(wait_event install_started)
  [[ $line =~ \"at_ms\":([0-9]+) ]] && at_ms=${BASH_REMATCH[1]} || at_ms=
  [ -n "$at_ms" ] || die "install_started without at_ms: $line"
  failed=$(wait_event install_failed)
  latency=$((at_ms - rename_ms))
  latencies+=("$latency")
  mv_us+=($((t1 - t0)))
  log "  round $i: $latency ms   (mv took $(((t1 - t0) / 1000)).$(printf '%03d' $(((t1 - t0) % 1000))) ms; $failed)"
  sleep 0.5
done
grep -q '"event":"snapshot"' "$OUT" && die "the watcher took a snapshot during the latency rounds"
med_lat=$(median "${latencies[@]}")
min_lat=$(min "${latencies[@]}")
max_lat=$(max "${latencies[@]}")
med_mv=$(median "${mv_us[@]}")
log "  median $med_lat ms, min $min_lat ms, max $max_lat ms (goal: median < 300 ms); mv median $(awk -v u="$med_mv" 'BEGIN { printf "%.2f", u / 1000 }') ms"

# --- 2. idle CPU ---------------------------------------------------------------------------

log ""
log "== 2. idle CPU over ${IDLE_SECS}s (watcher, and a docker ps loop every 2 s alongside) =="
sleep "$SETTLE_S" # the last failed install's aftermath
FIFO=$TMP/never
mkfifo "$FIFO"
# `read -t 2` on a FIFO nobody writes to sleeps 2 s without starting a process.
(while :; do docker ps >/dev/null; read -r -t 2 <>"$FIFO" || true; done) &
LOOP_PID=$!
lines_before=$(out_lines)
w0=$(cpu_ticks "$WATCH_PID")
l0=$(cpu_ticks "$LOOP_PID" cu)
d0=$(cpu_ticks "$(pidof dockerd | awk '{ print $1 }')" 2>/dev/null || echo "")
sleep "$IDLE_SECS"
w1=$(cpu_ticks "$WATCH_PID")
l1=$(cpu_ticks "$LOOP_PID" cu)
d1=$(cpu_ticks "$(pidof dockerd | awk '{ print $1 }')" 2>/dev/null || echo "")
kill "$LOOP_PID" 2>/dev/null || true
wait "$LOOP_PID" 2>/dev/null || true
LOOP_PID=
idle_events=$(($(out_lines) - lines_before))
watch_cpu=$(secs $((w1 - w0)))
loop_cpu=$(secs $((l1 - l0)))
log "  jenv watch: $watch_cpu s CPU ($((w1 - w0)) ticks at $CLK_TCK/s); events meanwhile: $idle_events"
log "  docker ps every 2 s: $loop_cpu s CPU ($((l1 - l0)) ticks)"
[ -z "$d0" ] || [ -z "$d1" ] || log "  dockerd (all clients on the engine, for context): $(secs $((d1 - d0))) s CPU"

# --- 3. idle CPU without a watched file (diagnostic) ---------------------------------------

nofile_row=
if ((NOFILE_SECS > 0)); then
  log ""
  log "== 3. idle CPU over ${NOFILE_SECS}s with requirements.txt deleted (no watched file exists) =="
  rm requirements.txt
  wait_event file_deleted >/dev/null
  sleep "$SETTLE_S"
  lines_before=$(out_lines)
  n0=$(cpu_ticks "$WATCH_PID")
  sleep "$NOFILE_SECS"
  n1=$(cpu_ticks "$WATCH_PID")
  nofile_cpu=$(secs $((n1 - n0)))
  log "  jenv watch: $nofile_cpu s CPU ($((n1 - n0)) ticks); events meanwhile: $(($(out_lines) - lines_before))"
  nofile_row="| 3. Diagnostic: as 2, but no watched file exists (requirements.txt deleted), ${NOFILE_SECS} s | $nofile_cpu s | – | – | – |"
fi

# --- stop --------------------------------------------------------------------------------

stop_watcher || die "the watcher did not exit within 5 s of SIGINT"
grep -q "stopped watching" "$ERR" || log "  note: the watcher exited without saying 'stopped watching'"

verdict() { awk -v v="$1" -v limit="$2" 'BEGIN { print (v < limit) ? "yes" : "no" }'; }
cat <<EOF

| Benchmark | jenv watch | Baseline | Goal | Met |
| --- | ---: | --- | --- | --- |
| 1. Save (\`mv\` over requirements.txt) to \`install_started\`, $RUNS rounds | median $med_lat ms (min $min_lat, max $max_lat) | – (includes the 100 ms debounce) | median < 300 ms | $(verdict "$med_lat" 300) |
| 2. Idle CPU of the watcher over ${IDLE_SECS} s, notebook up | $watch_cpu s | \`docker ps\` every 2 s, same ${IDLE_SECS} s: $loop_cpu s | < 0.1 s | $(verdict "$watch_cpu" 0.1) |
EOF
[ -z "$nofile_row" ] || echo "$nofile_row"
