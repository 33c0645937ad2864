#!/usr/bin/env bash
# Benchmark of `runbook test` over TESTS (1000) tests: the tests of the shipped runbooks
# (runbooks/**/*.test.yaml) repeated in a throw-away copy of the catalog until there are at
# least TESTS of them. Each test is a whole scripted run through the engine. Prints the wall
# time of RUNS (5) runs, their median and the time per test; asserts nothing. The target is
# under 1 s on the project's 2-core machine (fast enough to run on every save).
# BIN picks the binary (default: a release build, made first).
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

times=()
for _ in $(seq "$RUNS"); do
  start=$(date +%s.%N)
  "$BIN" test "$tmp/runbooks" > /dev/null
  end=$(date +%s.%N)
  times+=("$(echo "$end - $start" | bc)")
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | sed -n "$(( (RUNS + 1) / 2 ))p")
count=$(echo "$total" | awk '{ print $1 + $3 }')
echo "runs (s): ${times[*]}"
printf 'median: %.3f s for %d tests, %.2f ms per test\n' "$median" "$count" "$(echo "$median * 1000 / $count" | bc -l)"
