#!/usr/bin/env bash
# Benchmark of `runbook run`: (a) the time from launch to the first step on screen for the demo
# runbook; (b) the executor's own overhead per step, over 200 `check` steps that run `true`,
# compared with a shell script running the same 200 commands, and what 600 fsynced appends
# (the timeline's 3 events per step) cost on this disk alone. Prints the figures; asserts
# nothing. Needs: python3. RUNS_FIRST (20), RUNS_STEPS (5) and STEPS (200) change the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS_FIRST="${RUNS_FIRST:-20}"
RUNS_STEPS="${RUNS_STEPS:-5}"
STEPS="${STEPS:-200}"

cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/runbook"
work="$(mktemp -d)"
# The demo's action writes /tmp/runbook-demo-INCIDENT.txt if a run gets that far.
trap 'rm -rf "$work"; rm -f /tmp/runbook-demo-bench-run-*.txt' EXIT
export NO_COLOR=1
unset RUNBOOK_CATALOG

# The generated runbook: STEPS checks `s1`…, each `run: "true"`, in a catalog of its own.
mkdir -p "$work/runbooks/bench"
{
  cat <<EOF
runbook: 1
title: Bench — $STEPS checks that run true
owner: bench
reviewed: $(date -u +%Y-%m-%d)
scope:
  services: [bench]
contacts:
  - name: Bench
    chat: "#bench"
links:
  - name: Dashboard
    url: https://example.com/bench
steps:
EOF
  for i in $(seq 1 "$STEPS"); do
    printf '  - id: s%d\n    name: Step %d\n    check:\n      run: "true"\n' "$i" "$i"
  done
} > "$work/runbooks/bench/steps.yaml"
"$bin" lint --deny-warnings "$work/runbooks/bench/steps.yaml" > /dev/null
for i in $(seq 1 "$STEPS"); do echo "sh -c true"; done > "$work/steps.sh"

python3 - "$bin" "$work" "$RUNS_FIRST" "$RUNS_STEPS" "$STEPS" <<'PY'
import os, signal, statistics, subprocess, sys, time

bin, work, runs_first, runs_steps, steps = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
null = subprocess.DEVNULL

# (a) Launch to `Step 1/` on stdout (a pipe), then the run is killed.
def first_step(n):
    timeline = os.path.join(work, f"first-{n}.jsonl")
    started = time.perf_counter()
    process = subprocess.Popen(
        [bin, "run", "runbooks/demo/local-demo.yaml", "--yes", "--timeline", timeline,
         "--incident", f"bench-run-{n}"],
        stdin=null, stdout=subprocess.PIPE, stderr=null)
    seen = None
    for line in process.stdout:
        if b"Step 1/" in line:
            seen = time.perf_counter() - started
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdout.close()
    if seen is None:
        sys.exit(f"run {n}: `Step 1/` never appeared")
    return seen * 1000

first_step("warm-up")
times = [first_step(n) for n in range(runs_first)]
print(f"(a) launch to `Step 1/` of runbooks/demo/local-demo.yaml (stdout a pipe):")
print(f"    median of {runs_first} = {statistics.median(times):.1f} ms"
      f" (min {min(times):.1f}, max {max(times):.1f}; target < 50 ms)")

# (b) STEPS checks through runbook, against the same commands from a shell script.
def timed(argv):
    started = time.perf_counter()
    code = subprocess.run(argv, stdin=null, stdout=null, stderr=null).returncode
    elapsed = (time.perf_counter() - started) * 1000
    if code != 0:
        sys.exit(f"{argv[:3]} exited {code}")
    return elapsed

runbook_runs, shell_runs = [], []
for n in range(runs_steps):
    runbook_runs.append(timed([bin, "run", os.path.join(work, "runbooks/bench/steps.yaml"),
                               "--yes", "--timeline", os.path.join(work, f"steps-{n}.jsonl")]))
    shell_runs.append(timed(["sh", os.path.join(work, "steps.sh")]))
rb, sh = statistics.median(runbook_runs), statistics.median(shell_runs)
events = sum(1 for _ in open(os.path.join(work, "steps-0.jsonl")))
line_bytes = os.path.getsize(os.path.join(work, "steps-0.jsonl")) / events
print(f"(b) {steps} checks `run: \"true\"` (median of {runs_steps}):")
print(f"    runbook run --yes: {rb:.0f} ms   (min {min(runbook_runs):.0f}, max {max(runbook_runs):.0f};"
      f" {events} timeline events, {line_bytes:.0f} bytes a line)")
print(f"    sh, {steps} x `sh -c true`: {sh:.0f} ms   (min {min(shell_runs):.0f}, max {max(shell_runs):.0f})")
print(f"    overhead: {(rb - sh) / steps:.2f} ms per step; ratio {rb / sh:.1f}x")

# The fsyncs alone: appends of lines like the timeline's, each synced before the next.
def appends(sync, count):
    path = os.path.join(work, "fsync.jsonl")
    line = b'{"seq":1,"event":"x","pad":"' + b"x" * 270 + b'"}\n'
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
    started = time.perf_counter()
    for _ in range(count):
        os.write(fd, line)
        sync(fd)
    elapsed = (time.perf_counter() - started) * 1000
    os.close(fd)
    os.unlink(path)
    return elapsed, len(line)

count = 3 * steps
fsync_ms, size = statistics.median_low([appends(os.fsync, count) for _ in range(3)])
fdatasync_ms, _ = statistics.median_low([appends(os.fdatasync, count) for _ in range(3)])
print(f"    {count} appends of {size}-byte lines on this disk ({work}), median of 3:")
print(f"      each with os.fsync:     {fsync_ms:.0f} ms ({fsync_ms / count:.2f} ms each,"
      f" {fsync_ms / steps:.2f} ms per step)")
print(f"      each with os.fdatasync: {fdatasync_ms:.0f} ms ({fdatasync_ms / count:.2f} ms each,"
      f" {fdatasync_ms / steps:.2f} ms per step; the timeline uses sync_data = fdatasync)")
rest = (rb - sh - fdatasync_ms) / steps
print(f"    overhead left once the syncs are paid: {rest:.2f} ms per step")
PY
