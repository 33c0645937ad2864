#!/usr/bin/env bash
# Durability under `kill -9`, for longer than CI. Two loops:
#
# MODE=fleet (the default): `runbook run tests/fixtures/kill/runbooks/lb/fleet.yaml` — an SSH
# fan-out to three aliases of a test sshd the script starts, an HTTP fan-out to a local server
# it starts, captures (host maps), a decision and a sub-procedure with captures of its own —
# is killed with SIGKILL after a pseudo-random delay (seeded: SEED; 0 to the length of a whole
# run unless MAX_DELAY_MS), then resumed with `runbook run --resume TIMELINE --yes --answer …`
# alone, from another folder. A resume is WRONG unless it exits 0 and ends `resolved`, leaves
# the killed run's lines as they were, goes on at the step the run was at, and from there
# writes exactly the events of an uninterrupted reference run (same rendered commands, same
# step results and vars in every `step_finished`; times, hashes and durations aside).
# Prints the cases hit and `wrong resumes: W of R`.
#
# MODE=steps: the loop of tests/kill_resume.rs over tests/fixtures/kill/steps.yaml (every
# step appends its id to a log; no step that finished may run again, none may be lost).
#
#   scripts/kill-loop.sh [N]        N iterations, default 100 (fleet) or 200 (steps)
#   PROFILE=debug scripts/kill-loop.sh 60     the fleet loop on the debug build
# Needs: python3; for the fleet loop also OpenSSH (sshd, ssh, ssh-keygen). A failing
# iteration's files are kept and their folder printed.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${MODE:-fleet}"
if [ "$MODE" = fleet ]; then
  N="${1:-${N:-100}}"
  SEED="${SEED:-1}"
  # PROFILE=debug uses the debug build (no release build to wait for).
  PROFILE="${PROFILE:-release}"
  if [ "$PROFILE" = debug ]; then cargo build --quiet; else cargo build --release --quiet; fi
  bin="${CARGO_TARGET_DIR:-$PWD/target}/$PROFILE/runbook"
  fixture="$PWD/tests/fixtures/kill/runbooks/lb/fleet.yaml"
  for tool in /usr/sbin/sshd ssh ssh-keygen python3; do
    command -v "$tool" > /dev/null || { echo "kill-loop: $tool not found (install openssh-server)"; exit 2; }
  done
  work="$(mktemp -d)"
  export NO_COLOR=1
  unset RUNBOOK_CATALOG
  pids=()
  cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done; }
  trap cleanup EXIT

  # A test sshd on 127.0.0.1 with throw-away keys; web-1 … web-3 are aliases of it.
  ssh-keygen -q -t ed25519 -N "" -C kill-loop -f "$work/host_key"
  ssh-keygen -q -t ed25519 -N "" -C kill-loop -f "$work/user_key"
  cp "$work/user_key.pub" "$work/authorized_keys"
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  ssh_port="$(free_port)"
  [ "$(id -u)" = 0 ] && mkdir -p /run/sshd
  cat > "$work/sshd_config" <<CFG
ListenAddress 127.0.0.1:$ssh_port
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PidFile $work/sshd.pid
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
MaxStartups 100
MaxSessions 100
CFG
  echo "[127.0.0.1]:$ssh_port $(cut -d' ' -f1,2 "$work/host_key.pub")" > "$work/known_hosts"
  {
    for n in 1 2 3; do printf 'Host web-%s\n  HostName 127.0.0.1\n  Port %s\n' "$n" "$ssh_port"; done
    printf 'Host *\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n' \
      "$work/user_key" "$work/known_hosts"
  } > "$work/ssh_config"
  /usr/sbin/sshd -D -e -f "$work/sshd_config" 2> "$work/sshd.log" &
  pids+=($!)
  for _ in $(seq 100); do grep -q "Server listening" "$work/sshd.log" && break; sleep 0.05; done
  grep -q "Server listening" "$work/sshd.log" || { echo "sshd did not start:"; cat "$work/sshd.log"; exit 1; }

  # The backends' health pages (web-2 is sick) and the API, on 127.0.0.1.
  python3 - > "$work/http.port" <<'PY' &
import http.server, socketserver
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status, body = {"/web-1/health": (200, b"ok web-1"), "/web-2/health": (500, b"sick"),
                        "/web-3/health": (200, b"ok web-3"), "/api/drain": (200, b"agreed")
                        }.get(self.path, (404, b"no such page"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
PY
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/http.port" ] && break; sleep 0.05; done
  http_port="$(cat "$work/http.port")"
  args=(--yes --answer "how-bad=Some of them" --ssh-config "$work/ssh_config"
        --set "port=$http_port" --set "log=$work/commands.log")

  # The reference: one run that nothing interrupts.
  t0=$(date +%s%N)
  "$bin" run "$fixture" "${args[@]}" --timeline "$work/reference.jsonl" < /dev/null > "$work/reference.out" 2>&1 \
    || { echo "the reference run failed:"; cat "$work/reference.out"; exit 1; }
  run_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  MAX_DELAY_MS="${MAX_DELAY_MS:-$run_ms}"

  cat > "$work/check.py" <<'PY'
"""Judges what a killed run left in DIR/t.jsonl, resumes it from another folder with the
timeline alone, and compares what the resumed run did with the reference run. Prints the case
on the last line; exits 1 with the reason when the resume was wrong."""
import json, os, shutil, subprocess, sys

bin, dir, reference = sys.argv[1], sys.argv[2], sys.argv[3]
timeline = os.path.join(dir, "t.jsonl")

def fail(message):
    print(f"WRONG: {message}")
    sys.exit(1)

def parse(data):
    events, whole, torn, rest = [], b"", None, data
    while rest:
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
            fail(f"a line is not a JSON object: {line[:200]!r}")
        rest = rest[len(segment):]
    return events, whole, torn

def run(*args):
    return subprocess.run([bin, *args], cwd="/", stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)

def normalized(event):
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "duration_ms"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return strip({k: v for k, v in event.items()
                  if k not in ("seq", "at", "prev", "incident", "git_commit")})

def hosts_in_order(events):
    out, i = [], 0
    while i < len(events):
        j = i
        while j < len(events) and events[j].get("event") in ("http", "command") \
                and events[j].get("step") == events[i].get("step"):
            j += 1
        if j == i:
            out.append(events[i]); i += 1
        else:
            out.extend(sorted(events[i:j], key=lambda e: str(e.get("host")))); i = j
    return out

def continues_at(full, kept):
    prefix = full[:kept]
    for index in range(len(prefix) - 1, -1, -1):
        event = prefix[index]
        if event.get("event") != "step_started":
            continue
        step = event.get("step")
        finished = any(e.get("event") == "step_finished" and
                       (e.get("step") == step or str(e.get("step")).startswith(step + "/"))
                       for e in prefix[index + 1:])
        if not finished:
            return index
    return kept

def expected_at_step(full, kept, start):
    event = full[start]
    step = event.get("step")
    if event.get("event") == "run_finished":
        return "end"
    if event.get("event") == "step_finished" and any(
            e.get("event") == "step_started" and e.get("step") == step for e in full[:kept]):
        return f"{step}/end"
    return step

if not os.path.exists(timeline) or os.path.getsize(timeline) == 0:
    print("before-run-started")
    sys.exit(0)
shutil.copy(timeline, os.path.join(dir, "killed.jsonl"))
data = open(timeline, "rb").read()
events, whole, torn = parse(data)
suffix = "+torn" if torn is not None else ""
if not events:
    print("before-run-started" + suffix)
    sys.exit(0)
verified = run("timeline", "verify", timeline)
if verified.returncode != 0:
    fail(f"`timeline verify` after the kill: {verified.stdout}{verified.stderr}")
if events[-1]["event"] == "run_finished":
    print("finished" + suffix)
    sys.exit(0)
full = [e for e in parse(open(reference, "rb").read())[0]]
kept = len(events)
if kept >= len(full):
    fail(f"the killed run wrote {kept} events, the whole run {len(full)}")
# Hosts answer in any order, so a fan-out cut short holds any of them: those aside.
if [normalized(e) for e in events if e.get("event") not in ("http", "command")] != \
        [normalized(e) for e in full[:kept] if e.get("event") not in ("http", "command")]:
    fail("before the kill, the run already differed from the reference")
result = run("run", "--resume", timeline, "--yes", "--answer", "how-bad=Some of them")
open(os.path.join(dir, "resume.out"), "w").write(result.stdout + result.stderr)
if result.returncode != 0:
    fail(f"`run --resume` exited {result.returncode}: {(result.stdout + result.stderr)[-1500:]}")
after, after_whole, after_torn = parse(open(timeline, "rb").read())
if after_torn is not None or not after_whole.startswith(whole):
    fail("the resumed run changed the lines written before the kill")
if after[-1].get("event") != "run_finished" or after[-1].get("outcome") != "resolved":
    fail(f"the timeline ends with {after[-1]}, not a resolved run")
if after[kept].get("event") != "run_resumed":
    fail(f"line {kept + 1} is not `run_resumed`")
start = continues_at(full, kept)
expected = expected_at_step(full, kept, start)
if after[kept].get("at_step") != expected:
    fail(f"resumed at {after[kept].get('at_step')}, where the run was at {expected}")
parts = expected.split("/")
enclosing = ["/".join(parts[:n]) for n in range(1, len(parts))]
entered = [[e for e in full if e.get("event") == "step_started" and e.get("step") == s][-1]
           for s in enclosing]
did = [normalized(e) for e in hosts_in_order(after[kept + 1:])]
should = [normalized(e) for e in hosts_in_order(entered + full[start:])]
if did != should:
    first = next((i for i, (a, b) in enumerate(zip(did, should)) if a != b), min(len(did), len(should)))
    fail(f"the resumed run differs from the reference at its event {first + 1}:\n"
         f"  resumed:   {json.dumps(did[first])[:600] if first < len(did) else '(none)'}\n"
         f"  reference: {json.dumps(should[first])[:600] if first < len(should) else '(none)'}")
last = events[-1]["event"]
print({"run_started": "after-run-started", "step_started": "in-step", "command": "after-command",
       "http": "after-http", "answer": "after-answer", "confirmed": "after-confirmed",
       "step_finished": "between-steps"}.get(last, "after-" + last) + suffix)
PY

  RANDOM="$SEED"
  declare -A counts=()
  wrong=0
  resumed=0
  started=$(date +%s)
  for i in $(seq 1 "$N"); do
    dir="$work/$i"
    mkdir -p "$dir"
    delay=$(( RANDOM * 32768 + RANDOM ))
    delay=$(( delay % (MAX_DELAY_MS + 1) ))
    (cd "$dir" && exec "$bin" run "$fixture" "${args[@]}" --timeline "$dir/t.jsonl" \
      < /dev/null > /dev/null 2>&1) &
    pid=$!
    sleep "$(printf '%d.%03d' $(( delay / 1000 )) $(( delay % 1000 )))"
    kill -9 "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
    if out="$(python3 "$work/check.py" "$bin" "$dir" "$work/reference.jsonl" 2>&1)"; then
      case_name="$(tail -1 <<< "$out")"
      counts[$case_name]=$(( ${counts[$case_name]:-0} + 1 ))
      case "$case_name" in before-run-started*|finished*) ;; *) resumed=$(( resumed + 1 )) ;; esac
      rm -rf "$dir"
    else
      wrong=$(( wrong + 1 ))
      resumed=$(( resumed + 1 ))
      echo "iteration $i (killed after $delay ms) was resumed wrong; its files are in $dir:"
      sed 's/^/    /' <<< "$out"
    fi
  done

  echo "kill -9 then resume (fleet: ssh + http fan-out, captures, sub-procedure):" \
    "$N iterations in $(( $(date +%s) - started )) s (SEED=$SEED, 0-$MAX_DELAY_MS ms; a whole run takes $run_ms ms)"
  for case_name in "${!counts[@]}"; do
    printf '  %5d  %s\n' "${counts[$case_name]}" "$case_name"
  done | sort -k2
  echo "wrong resumes: $wrong of $resumed"
  if [ "$wrong" -eq 0 ]; then
    rm -rf "$work"
  else
    echo "the wrong iterations are kept in $work"
    exit 1
  fi
  exit 0
fi

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
