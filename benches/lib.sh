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
