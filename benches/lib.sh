# Helpers shared by the benchmark scripts: timing, medians, ratios, and how to run the raw
# Jupyter baseline as the current user. Source it; it defines functions and two variables.

uid=$(id -u)
gid=$(id -g)
allow_root=()
[ "$uid" -ne 0 ] || allow_root=(--allow-root)

now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
# Median of the numbers given as arguments (mean of the middle two for an even count).
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%d\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.3f", a / b }'; }

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Engine up, jenv built in release mode ($JENV), the offline test image ($IMAGE) present.
prepare_jenv() {
  scripts/ensure-engine.sh >&2
  log "building jenv (release)"
  cargo build --release --locked --quiet
  JENV=$PWD/target/release/jenv
  [ -x "$JENV" ] || die "no $JENV after the build"
  JENV_TEST_IMAGE=$IMAGE scripts/build-test-image.sh >&2
}

# Runs the caller's `cleanup` function on any exit, Ctrl-C and kill included.
trap_cleanup() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
