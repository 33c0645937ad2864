#!/usr/bin/env bash
# Benchmark of `for_each`: a check step that runs `test -n {{ item }}` once per item over ITEMS
# (1000) local items, against a shell `for` loop running the same command as runbook runs it
# (`bash --noprofile --norc -eo pipefail -c …` per item). Runs with `parallel: 1` (item after
# item, as the shell loop) and with the default `parallel: 32`. Prints the wall time of each and
# runbook's per-item overhead over the shell loop; asserts nothing. RUNS (3) and ITEMS (1000)
# change the sizes; PROFILE=debug uses the debug build (default release), BIN a binary built
# already (e.g. BIN=target/profiling/runbook); TIMELINE_DIR puts the timelines elsewhere
# (`/dev/shm` shows the cost of the durable, fsynced timeline: one event per item). CPU time
# (user + sys) is printed beside wall time: the machine may be shared.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-3}"
ITEMS="${ITEMS:-1000}"
PROFILE="${PROFILE:-release}"

if [[ -n "${BIN:-}" ]]; then
  bin="$BIN"
  PROFILE="$(basename "$(dirname "$bin")")"
elif [[ "$PROFILE" == release ]]; then
  cargo build --release --quiet
  bin="${CARGO_TARGET_DIR:-$PWD/target}/$PROFILE/runbook"
else
  cargo build --quiet
  bin="${CARGO_TARGET_DIR:-$PWD/target}/$PROFILE/runbook"
fi
tmp="$(mktemp -d /tmp/runbook-bench-loop-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
timelines="$(mktemp -d "${TIMELINE_DIR:-$tmp}/runbook-bench-timelines-XXXXXX")"
trap 'rm -rf "$tmp" "$timelines"' EXIT
export NO_COLOR=1
unset RUNBOOK_CATALOG

runbook_file() {
  local parallel=$1
  cat > "$tmp/loop-$parallel.yaml" <<YAML
runbook: 1
title: Loop benchmark
owner: bench
reviewed: 2026-11-01
scope: { services: [bench] }
contacts: [{ name: Bench, chat: "#bench" }]
links: [{ name: Docs, url: "https://example.com" }]
inputs:
  items: { description: how many, default: "$ITEMS" }
steps:
  - id: each
    name: Each item
    check:
      run: test -n {{ item }}
      for_each: range(inputs.items | int)
      parallel: $parallel
YAML
}
runbook_file 1
runbook_file 32

now() { date +%s.%N; }
# Median of the arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

shell_times=() serial_times=() parallel_times=() shell_cpu=() serial_cpu=() parallel_cpu=()
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$RUNS"); do
  start=$(now)
  cpu_before=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
  for i in $(seq 0 $((ITEMS - 1))); do
    bash --noprofile --norc -eo pipefail -c "test -n $i"
  done
  shell_times+=("$(echo "$(now) - $start" | bc)")
  # The shell loop's children's CPU, in clock ticks.
  cpu_after=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
  shell_cpu+=("$(echo "scale=2; ($cpu_after - $cpu_before) / $(getconf CLK_TCK)" | bc)")

  for parallel in 1 32; do
    /usr/bin/time -f "%e %U %S" -o "$tmp/time" \
      "$bin" run "$tmp/loop-$parallel.yaml" --yes --timeline "$timelines/t-$run-$parallel.jsonl" > "$tmp/out" 2>&1 \
      || { cat "$tmp/out"; exit 1; }
    read -r elapsed user sys < "$tmp/time"
    cpu="$(echo "$user + $sys" | bc)"
    if [[ $parallel == 1 ]]; then serial_times+=("$elapsed"); serial_cpu+=("$cpu")
    else parallel_times+=("$elapsed"); parallel_cpu+=("$cpu"); fi
  done
  grep -q "$ITEMS of $ITEMS items passed" "$tmp/out" || { echo "not every item passed:"; tail "$tmp/out"; exit 1; }
done

shell=$(median "${shell_times[@]}")
serial=$(median "${serial_times[@]}")
parallel=$(median "${parallel_times[@]}")
per_item() { echo "scale=3; ($1 - $shell) * 1000 / $ITEMS" | bc; }
echo "for_each over $ITEMS local items, median of $RUNS runs ($PROFILE build, $(nproc) cores):"
printf '  shell for loop (bash -c per item):  %6.2f s  (%.2f ms per item)  CPU %s s\n' "$shell" "$(echo "scale=3; $shell * 1000 / $ITEMS" | bc)" "$(median "${shell_cpu[@]}")"
printf '  runbook for_each, parallel: 1:      %6.2f s  (overhead %s ms per item)  CPU %s s\n' "$serial" "$(per_item "$serial")" "$(median "${serial_cpu[@]}")"
printf '  runbook for_each, parallel: 32:     %6.2f s  (%s ms per item vs the shell loop)  CPU %s s\n' "$parallel" "$(per_item "$parallel")" "$(median "${parallel_cpu[@]}")"
echo "  timeline of one run: $(wc -l < "$timelines/t-1-1.jsonl") events, $(du -k "$timelines/t-1-1.jsonl" | cut -f1) KiB, in ${TIMELINE_DIR:-$tmp}"
