#!/usr/bin/env bash
# Benchmark of `runbook incidents` and `runbook changes` (release build) over TIMELINES
# (10000) timelines of 50 events each, written the way the executor writes them (hash chain,
# run_started with a runbook of the catalog, steps, commands with 4 KiB-capped outputs, step
# states, ends of every kind). Prints the median and best of RUNS (5) runs of each command,
# with the user and system CPU of the median run, the files' total size and the number of
# rows; asserts nothing. Target: under 1 s each.
# BIN=path measures that binary instead of a fresh release build. DATA=dir keeps the data set
# there (made once, reused by later runs with the same TIMELINES) instead of a throw-away
# folder. OUT=dir keeps each command's output there (to compare two binaries byte for byte).
# Needs: python3, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
TIMELINES="${TIMELINES:-10000}"

command -v python3 > /dev/null || { echo "bench-oncall: python3 not found" >&2; exit 1; }

command -v /usr/bin/time > /dev/null || { echo "bench-oncall: /usr/bin/time not found" >&2; exit 1; }

if [[ -n "${BIN:-}" ]]; then
  bin="$BIN"
else
  cargo build --release --quiet
  bin="${CARGO_TARGET_DIR:-$PWD/target}/release/runbook"
fi
if [[ -n "${DATA:-}" ]]; then
  tmp="$DATA"
  mkdir -p "$tmp"
else
  tmp="$(mktemp -d /tmp/runbook-bench-oncall-XXXXXX)"
  trap 'rm -rf "$tmp"' EXIT
fi
export NO_COLOR=1
unset RUNBOOK_CATALOG

if [[ "$(cat "$tmp/.made" 2> /dev/null)" != "$TIMELINES" ]]; then
rm -rf "$tmp/runbooks" "$tmp/timelines" "$tmp/.made"
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
echo "$TIMELINES" > "$tmp/.made"
fi

size="$(du -sh "$tmp/timelines" | cut -f1)"
echo "bench-oncall: $TIMELINES timelines of 50 events ($size) in $tmp/timelines; $(nproc) cores"

echo "bench-oncall: $bin; load $(cut -d' ' -f1-3 /proc/loadavg)"

# One line per run: wall ms, user s, sys s.
measure() {
  local name="$1"; shift
  local runs=()
  for _ in $(seq "$RUNS"); do
    local start end
    start=$(date +%s%N)
    (cd "$tmp" && /usr/bin/time -f "%U %S" -o "$tmp/cpu.txt" "$bin" "$@" > "$tmp/out.txt")
    end=$(date +%s%N)
    runs+=("$(( (end - start) / 1000000 )) $(tail -n 1 "$tmp/cpu.txt")")
  done
  local sorted
  sorted=$(printf '%s\n' "${runs[@]}" | sort -n)
  local median best
  median=$(echo "$sorted" | sed -n "$(( (RUNS + 1) / 2 ))p")
  best=$(echo "$sorted" | head -1)
  read -r wall user sys <<< "$median"
  printf '%-40s median %5d ms (user %s s, sys %s s)  best %5d ms  (%s rows)\n' "$name" \
    "$wall" "$user" "$sys" "${best%% *}" "$(($(wc -l < "$tmp/out.txt")))"
  if [[ -n "${OUT:-}" ]]; then
    mkdir -p "$OUT"
    cp "$tmp/out.txt" "$OUT/$(echo "$name" | tr -c 'a-z0-9\n' '_').txt"
  fi
}

measure "runbook incidents" incidents
measure "runbook incidents --format json" incidents --format json
measure "runbook changes --since 1w" changes --since 1w
measure "runbook changes --since 1w --format json" changes --since 1w --format json
