#!/usr/bin/env bash
# Benchmark of `runbook test` over TESTS (1000) tests: the tests of the shipped runbooks
# (runbooks/**/*.test.yaml) repeated in a throw-away copy of the catalog until there are at
# least TESTS of them. Each test is a whole scripted run through the engine. Prints the wall
# and CPU (user + sys) time of RUNS (5) runs, their medians and the time per test; asserts
# nothing. The target is under 1 s on the project's 2-core machine (fast enough to run on
# every save). BIN picks the binary (default: a release build, made first), e.g.
# BIN=target/profiling/runbook after `cargo build --profile profiling`.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
TESTS="${TESTS:-1000}"

if [[ -z "${BIN:-}" ]]; then
  cargo build --release --quiet
  BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/runbook"
fi
tmp="$(mktemp -d /tmp/runbook-bench-test-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
export NO_COLOR=1
unset RUNBOOK_CATALOG

cp -r runbooks "$tmp/runbooks"
shipped=0
for file in $(find runbooks -name '*.test.yaml'); do
  shipped=$((shipped + $(grep -c '^  - name:' "$file")))
done
repeat=$(( (TESTS + shipped - 1) / shipped ))
for file in $(find runbooks -name '*.test.yaml'); do
  out="$tmp/$file"
  # `tests:` once, then the list of tests `repeat` times.
  body="$(sed -n '/^tests:/,$p' "$file" | tail -n +2)"
  { echo "tests:"; for _ in $(seq "$repeat"); do printf '%s\n' "$body"; done; } > "$out"
done
total=$("$BIN" test "$tmp/runbooks" | tail -1)
echo "runbook test: $total ($shipped shipped tests x $repeat), $(nproc) cores, $BIN"

# The machine may be shared: the CPU time (user + sys) of each run is printed beside its wall
# time, and the load when the runs started.
times=() cpus=()
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$RUNS"); do
  /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$BIN" test "$tmp/runbooks" > /dev/null
  read -r wall user sys < "$tmp/time"
  times+=("$wall")
  cpus+=("$(echo "$user + $sys" | bc)")
done
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
wall=$(median "${times[@]}")
cpu=$(median "${cpus[@]}")
count=$(echo "$total" | awk '{ print $1 + $3 }')
echo "runs, wall (s): ${times[*]}"
echo "runs, user+sys CPU (s): ${cpus[*]}"
printf 'median: %.3f s wall, %.3f s CPU for %d tests, %.2f ms per test (wall)\n' "$wall" "$cpu" "$count" "$(echo "$wall * 1000 / $count" | bc -l)"
