#!/usr/bin/env bash
# Benchmark of `runbook incidents` and `runbook changes` (release build) over TIMELINES
# (10000) timelines of 50 events each, written the way the executor writes them (hash chain,
# run_started with a runbook of the catalog, steps, commands with 4 KiB-capped outputs, step
# states, ends of every kind). Prints the median and best of RUNS (5) runs of each command,
# the files' total size and the number of rows; asserts nothing. Target: under 1 s each.
# Needs: python3.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
TIMELINES="${TIMELINES:-10000}"

command -v python3 > /dev/null || { echo "bench-oncall: python3 not found" >&2; exit 1; }

cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/runbook"
tmp="$(mktemp -d /tmp/runbook-bench-oncall-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
export NO_COLOR=1
unset RUNBOOK_CATALOG

mkdir -p "$tmp/runbooks" "$tmp/timelines"
cp tests/fixtures/oncall/change.yaml "$tmp/runbooks/change.yaml"

python3 - "$tmp" "$TIMELINES" <<'PY'
import hashlib, json, os, random, sys, datetime

root, count = sys.argv[1], int(sys.argv[2])
random.seed(14)
now = datetime.datetime.now(datetime.timezone.utc)
runbook = os.path.join(root, "runbooks", "change.yaml")

def at(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"

for n in range(count):
    incident = f"inc-{n:05d}"
    start = now - datetime.timedelta(minutes=random.randint(5, 3 * 24 * 60))
    t = start
    lines, prev = [], ""
    def add(event, step=None, **fields):
        global t, prev
        t += datetime.timedelta(seconds=random.randint(1, 20))
        line = {"seq": len(lines) + 1, "at": at(t), "event": event, "incident": incident, "prev": prev}
        if step:
            line["step"] = step
        line.update(fields)
        text = json.dumps(line, separators=(",", ":"), ensure_ascii=False)
        prev = hashlib.sha256(text.encode()).hexdigest()
        lines.append(text)
    add("run_started", runbook="change", path=runbook, sha256="ab" * 32,
        operator=f"oncall{n % 7}@bastion", inputs={"env": "prod", "token": "***"},
        alerted_at=at(start - datetime.timedelta(minutes=random.randint(1, 30))),
        flags={"catalog": os.path.join(root, "runbooks")}, anchored=True)
    step = 0
    while len(lines) < 48:
        step += 1
        sid = f"s{step}"
        kind = random.choice(["check", "action", "action", "manual"])
        add("step_started", sid, kind=kind, name=f"Step {step}")
        if kind == "manual":
            add("note", sid, text="looked at the dashboard, queue depth is falling")
        else:
            if kind == "action":
                add("confirmed", sid, command=f"systemctl restart worker@{step}")
            for host in ["web-1", "web-2"]:
                out = "".join(random.choice("abcdefgh \n") for _ in range(random.randint(100, 600)))
                add("command", sid, host=host, command=f"systemctl restart worker@{step} && journalctl -u worker@{step} -n 20",
                    exit=random.choice([0, 0, 0, 1]), duration_ms=random.randint(5, 900), stdout=out, stderr="")
        add("step_finished", sid, outcome="done" if kind != "check" else "passed",
            state={"result": {"exit": 0, "stdout": "ok"}, "vars": {"replicas": "3"}})
    end = random.random()
    if end < 0.6:
        add("run_finished", outcome="resolved", duration_ms=600000)
    elif end < 0.75:
        add("run_finished", outcome="failed", duration_ms=600000)
    elif end < 0.9:
        add("run_paused", at_step=f"s{step}")
    while len(lines) < 50:
        add("note", f"s{step}", text="waiting for the on-call lead")
    with open(os.path.join(root, "timelines", f"{incident}.jsonl"), "w") as f:
        f.write("\n".join(lines[:50]) + "\n")
PY

size="$(du -sh "$tmp/timelines" | cut -f1)"
echo "bench-oncall: $TIMELINES timelines of 50 events ($size) in $tmp/timelines; $(nproc) cores"

measure() {
  local name="$1"; shift
  local times=()
  for _ in $(seq "$RUNS"); do
    local start end
    start=$(date +%s%N)
    (cd "$tmp" && "$bin" "$@" > "$tmp/out.txt")
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000000 )))
  done
  local sorted
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  local median best
  median=$(echo "$sorted" | sed -n "$(( (RUNS + 1) / 2 ))p")
  best=$(echo "$sorted" | head -1)
  printf '%-40s median %5d ms  best %5d ms  (%s rows)\n' "$name" "$median" "$best" \
    "$(($(wc -l < "$tmp/out.txt")))"
}

measure "runbook incidents" incidents
measure "runbook incidents --format json" incidents --format json
measure "runbook changes --since 1w" changes --since 1w
measure "runbook changes --since 1w --format json" changes --since 1w --format json
