#!/usr/bin/env bash
# Durability under `kill -9`, for longer than CI: the loop of tests/kill_resume.rs from the
# shell. Each iteration starts `runbook run tests/fixtures/kill/steps.yaml --yes`, sends it
# SIGKILL after a pseudo-random 0-400 ms (seeded: SEED), then checks what is left: whole lines
# of JSON (a torn last line tolerated), `timeline verify` exits 0, `run --resume` exits 0 and
# ends the run `resolved`, no step that had finished before the kill starts again, and every
# step ran (once; the interrupted one at most twice). Prints how many iterations hit each case.
#   scripts/kill-loop.sh [N]        N iterations, default 200
# Needs: python3. A failing iteration's files are kept and their folder printed.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-${N:-200}}"
SEED="${SEED:-1}"
MAX_DELAY_MS="${MAX_DELAY_MS:-400}"

cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/runbook"
fixture="$PWD/tests/fixtures/kill/steps.yaml"
work="$(mktemp -d)"
export NO_COLOR=1
unset RUNBOOK_CATALOG

cat > "$work/check.py" <<'PY'
"""Judges what a killed run left in DIR/t.jsonl, resumes it, and judges the result.
Prints the case on the last line of stdout; exits 1 with the reason when a check fails."""
import json, os, shutil, subprocess, sys

bin, dir = sys.argv[1], sys.argv[2]
timeline, log = os.path.join(dir, "t.jsonl"), os.path.join(dir, "t.log")
STEPS = 12

def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)

def parse(data):
    """Whole lines must be JSON objects; a last line without its newline may be torn."""
    events, whole, torn, rest, number = [], b"", None, data, 0
    while rest:
        number += 1
        end = rest.find(b"\n")
        line, terminated = (rest, False) if end < 0 else (rest[:end], True)
        segment = rest[: len(line) + (1 if terminated else 0)]
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        if isinstance(value, dict):
            events.append(value)
            whole += segment
        elif not terminated:
            torn = len(line)
        else:
            fail(f"line {number} is not a JSON object: {line!r}")
        rest = rest[len(segment):]
    return events, whole, torn

def run(*args):
    return subprocess.run([bin, *args], cwd=dir, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)

def verify(events, torn, when):
    result = run("timeline", "verify", timeline)
    noun = "event" if len(events) == 1 else "events"
    if result.returncode != 0 or f"{len(events)} {noun}, chain intact" not in result.stdout:
        fail(f"`timeline verify` {when}: exit {result.returncode}: {result.stdout}{result.stderr}")
    if (torn is not None) != ("torn last line" in result.stderr):
        fail(f"torn tail {torn} but `timeline verify` said: {result.stderr}")
    for i, event in enumerate(events):
        if event.get("seq") != i + 1:
            fail(f"line {i + 1} has seq {event.get('seq')}")

def steps(events, name, start=0):
    return [e.get("step") for e in events[start:] if e.get("event") == name]

if not os.path.exists(timeline) or os.path.getsize(timeline) == 0:
    print("before-run-started")
    sys.exit(0)
shutil.copy(timeline, os.path.join(dir, "killed.jsonl"))
data = open(timeline, "rb").read()
events, whole, torn = parse(data)
verify(events, torn, "after the kill")
last = events[-1]["event"] if events else ""
case = {"": "before-run-started", "run_started": "after-run-started",
        "step_started": "in-step-before-command", "command": "after-command",
        "step_finished": "between-steps", "run_finished": "finished"}.get(last)
if case is None:
    fail(f"unexpected last event {last}")
suffix = "+torn" if torn is not None else ""
if case == "before-run-started":
    print(case + suffix)
    sys.exit(0)
if case == "finished":
    result = run("run", "--resume", timeline, "--yes")
    if events[-1].get("outcome") != "resolved" or result.returncode != 2 \
            or open(timeline, "rb").read() != data:
        fail(f"resuming a finished run: exit {result.returncode}: {result.stderr}")
    print(case + suffix)
    sys.exit(0)

result = run("run", "--resume", timeline, "--yes")
open(os.path.join(dir, "resume.out"), "w").write(result.stdout + result.stderr)
if result.returncode != 0:
    fail(f"`run --resume` exited {result.returncode}: {result.stdout}{result.stderr}")
after, after_whole, after_torn = parse(open(timeline, "rb").read())
if after_torn is not None:
    fail("a torn tail after the resumed run")
verify(after, None, "after the resume")
if not after_whole.startswith(whole):
    fail("the resumed run changed the lines written before the kill")
if after[-1].get("event") != "run_finished" or after[-1].get("outcome") != "resolved":
    fail(f"the timeline ends with {after[-1]}, not a resolved run")
resumed = [i for i, e in enumerate(after) if e.get("event") == "run_resumed"]
if resumed != [len(events)]:
    fail(f"`run_resumed` at lines {[i + 1 for i in resumed]}, expected {len(events) + 1}")
at = resumed[0]
if after[at].get("dropped_bytes") != torn:
    fail(f"`run_resumed` dropped {after[at].get('dropped_bytes')} bytes; the torn tail had {torn}")
finished = set(steps(events, "step_finished"))
again = [s for s in steps(after, "step_started", at) if s in finished]
if again:
    fail(f"steps that had finished before the kill started again: {again}")
interrupted = [s for s in steps(events, "step_started") if s not in finished]
if interrupted:
    expected = interrupted[0]
else:
    done = steps(events, "step_finished")
    following = int(done[-1][1:]) + 1 if done else 1
    expected = f"s{following}" if following <= STEPS else "end"
if after[at].get("at_step") != expected:
    fail(f"resumed at {after[at].get('at_step')}, where {expected} was the first unfinished step")
lines = [l.strip() for l in open(log).read().splitlines()] if os.path.exists(log) else []
for n in range(1, STEPS + 1):
    count = lines.count(f"s{n}")
    if not (1 <= count <= (2 if f"s{n}" in interrupted else 1)):
        fail(f"s{n} ran {count} times; log: {lines}")
print(case + suffix)
PY

RANDOM="$SEED"
declare -A counts=()
failures=0
started=$(date +%s)
for i in $(seq 1 "$N"); do
  dir="$work/$i"
  mkdir -p "$dir"
  delay=$(( RANDOM % (MAX_DELAY_MS + 1) ))
  (cd "$dir" && exec "$bin" run "$fixture" --yes --timeline "$dir/t.jsonl" --set "log=$dir/t.log" \
    < /dev/null > /dev/null 2>&1) &
  pid=$!
  sleep "$(printf '%d.%03d' $(( delay / 1000 )) $(( delay % 1000 )))"
  kill -9 "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  if out="$(python3 "$work/check.py" "$bin" "$dir" 2>&1)"; then
    case_name="$(tail -1 <<< "$out")"
    counts[$case_name]=$(( ${counts[$case_name]:-0} + 1 ))
    rm -rf "$dir"
  else
    failures=$(( failures + 1 ))
    echo "iteration $i (killed after $delay ms) failed; its files are in $dir:"
    sed 's/^/    /' <<< "$out"
  fi
done

echo "kill -9 then resume: $N iterations in $(( $(date +%s) - started )) s (SEED=$SEED, 0-$MAX_DELAY_MS ms)"
for case_name in "${!counts[@]}"; do
  printf '  %5d  %s\n' "${counts[$case_name]}" "$case_name"
done | sort -k2
printf '  %5d  failed\n' "$failures"
if [ "$failures" -eq 0 ]; then
  rm -rf "$work"
else
  echo "the failing iterations are kept in $work"
  exit 1
fi
