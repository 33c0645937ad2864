#!/usr/bin/env bash
# Benchmark of an SSH fan-out: one `check` step `run: uptime` on a group of HOSTS (50) hosts
# web-N = 127.0.0.N (throw-away sshds on loopback), `parallel: HOSTS`, against (b) `xargs -P`
# running one `ssh` per host and (c) `ansible -m raw` (ansible-core from PyPI in a throw-away venv; skipped
# if that install fails). Every tool connects afresh to every host in every run: runbook opens a
# master connection per host per run, as xargs+ssh opens a connection per host. Also runbook's
# peak memory (max RSS of the runbook process itself). Prints the figures; asserts nothing.
# Needs: /usr/sbin/sshd, ssh, ssh-keygen, python3 (with venv, for ansible). RUNS (5) and HOSTS
# (50) change the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
HOSTS="${HOSTS:-50}"
SSHD=/usr/sbin/sshd

for tool in "$SSHD" ssh ssh-keygen python3; do
  command -v "$tool" > /dev/null || { echo "bench-fanout: $tool not found" >&2; exit 1; }
done

cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/runbook"
tmp="$(mktemp -d /tmp/runbook-bench-fanout-XXXXXX)"
sshd_pids=()
cleanup() {
  for pid in "${sshd_pids[@]}"; do
    kill "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
export NO_COLOR=1
unset RUNBOOK_CATALOG

# --- The sshd: throw-away host and user keys, the same recipe as tests/support/sshd.rs. ---
# sshd running as root wants its privilege separation directory.
if [[ "$(id -u)" == 0 ]]; then mkdir -p /run/sshd; fi
ssh-keygen -q -t ed25519 -N "" -C runbook-bench -f "$tmp/host_key" < /dev/null
ssh-keygen -q -t ed25519 -N "" -C runbook-bench -f "$tmp/user_key" < /dev/null
cp "$tmp/user_key.pub" "$tmp/authorized_keys"
host_key="$(cut -d' ' -f1,2 "$tmp/host_key.pub")"
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Every host must be a different destination to ssh — its own address, so its own master
# connection, as in a real fleet — so web-N is 127.0.0.N, all on one port. One sshd listens
# on 16 addresses at most: there is one sshd per 16 hosts, all with the same host key, which
# every alias checks under the name `bench-sshd`.
echo "bench-sshd $host_key" > "$tmp/known_hosts"
# Starts an sshd for hosts $1..$2 on $port; its pid goes to sshd_pids. Fails if it does not
# listen (the port was taken).
start_sshd() {
  local first=$1 last=$2 config="$tmp/sshd_config.$1" log="$tmp/sshd.$1.log"
  {
    for n in $(seq "$first" "$last"); do echo "ListenAddress 127.0.0.$n:$port"; done
    cat <<EOF
HostKey "$tmp/host_key"
AuthorizedKeysFile "$tmp/authorized_keys"
PidFile none
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
MaxStartups 200:30:300
MaxSessions 200
EOF
  } > "$config"
  "$SSHD" -D -e -f "$config" < /dev/null > /dev/null 2> "$log" &
  local pid=$!
  for _ in $(seq 500); do
    [[ "$(grep -c "Server listening on" "$log")" == $((last - first + 1)) ]] && break
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.02
  done
  if [[ "$(grep -c "Server listening on" "$log")" != $((last - first + 1)) ]]; then
    kill "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
    return 1
  fi
  sshd_pids+=("$pid")
}
port=""
started=""
for _attempt in 1 2 3 4 5; do
  port="$(free_port)"
  started=yes
  for first in $(seq 1 16 "$HOSTS"); do
    last=$((first + 15 < HOSTS ? first + 15 : HOSTS))
    start_sshd "$first" "$last" || { started=""; break; }
  done
  [[ -n "$started" ]] && break
  for pid in "${sshd_pids[@]}"; do kill "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; done
  sshd_pids=()
done
if [[ -z "$started" ]]; then
  echo "bench-fanout: sshd did not start; its logs:" >&2
  cat "$tmp"/sshd.*.log >&2
  exit 1
fi

# The client config: web-N is 127.0.0.N, host key checked.
{
  for n in $(seq 1 "$HOSTS"); do
    printf 'Host web-%d\n  HostName 127.0.0.%d\n  Port %d\n' "$n" "$n" "$port"
  done
  cat <<EOF
Host *
  User root
  IdentityFile "$tmp/user_key"
  IdentitiesOnly yes
  UserKnownHostsFile "$tmp/known_hosts"
  GlobalKnownHostsFile /dev/null
  HostKeyAlias bench-sshd
  StrictHostKeyChecking yes
  BatchMode yes
EOF
} > "$tmp/ssh_config"
ssh -F "$tmp/ssh_config" web-1 true < /dev/null || {
  echo "bench-fanout: ssh to web-1 failed; the sshd logs:" >&2
  cat "$tmp"/sshd.*.log >&2
  exit 1
}

# --- The runbook: one check on every host of `web`, all at once. ---
members="$(seq -f 'web-%g' -s ', ' 1 "$HOSTS")"
cat > "$tmp/fanout.yaml" <<EOF
runbook: 1
title: Bench — uptime on $HOSTS hosts over SSH
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
hosts:
  web: [$members]
steps:
  - id: uptime
    name: Every host answers uptime
    check:
      run: uptime
      on: web
      parallel: $HOSTS
EOF
"$bin" lint --deny-warnings "$tmp/fanout.yaml" > /dev/null

# --- Ansible, from PyPI into a throw-away venv. ---
ansible=""
ansible_why=""
{
  for n in $(seq 1 "$HOSTS"); do echo "web-$n"; done
} | { echo "[web]"; cat; } > "$tmp/inventory.ini"
printf '[defaults]\n' > "$tmp/ansible.cfg"
echo "bench-fanout: installing ansible-core into $tmp/venv …" >&2
if ! python3 -m venv "$tmp/venv" > "$tmp/venv.log" 2>&1; then
  ansible_why="python3 -m venv failed: $(tail -n 3 "$tmp/venv.log" | tr '\n' ' ')"
elif ! "$tmp/venv/bin/pip" install --quiet --disable-pip-version-check ansible-core \
    > "$tmp/pip.log" 2>&1; then
  ansible_why="pip install ansible-core failed: $(tail -n 3 "$tmp/pip.log" | tr '\n' ' ')"
else
  ansible="$tmp/venv/bin/ansible"
fi
if [[ -n "$ansible_why" ]]; then
  echo "bench-fanout: skipping (c): $ansible_why" >&2
fi

python3 - "$bin" "$tmp" "$RUNS" "$HOSTS" "$ansible" "$ansible_why" <<'PY'
import json, os, statistics, subprocess, sys, time

bin, tmp, runs, hosts, ansible, ansible_why = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), sys.argv[5], sys.argv[6]
cfg = os.path.join(tmp, "ssh_config")
null = subprocess.DEVNULL

def machine_cpu_ms():
    """CPU time used by the whole machine so far (user, nice, system, irq, softirq), in ms:
    the client, the sshds and every shell they start, whatever process they run in."""
    fields = open("/proc/stat").readline().split()[1:]
    ticks = sum(int(fields[i]) for i in (0, 1, 2, 5, 6))
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")

cpu = {}

def timed(name, argv, env=None):
    """Wall time in ms of one run; exits loudly (with stderr) if it fails. The machine's CPU
    time during the run goes to cpu[name]."""
    cpu_before = machine_cpu_ms()
    started = time.perf_counter()
    done = subprocess.run(argv, stdin=null, stdout=null, stderr=subprocess.PIPE, env=env)
    elapsed = (time.perf_counter() - started) * 1000
    cpu.setdefault(name, []).append(machine_cpu_ms() - cpu_before)
    if done.returncode != 0:
        sys.exit(f"{name}: {argv[:4]} exited {done.returncode}:\n"
                 f"{done.stderr.decode(errors='replace')[-2000:]}")
    return elapsed, done

# (a) runbook; peak RSS by /usr/bin/time -f %M (KB) of the runbook process alone (ssh children
# are separate processes; GNU time reports the waited-for process's own maximum).
gnu_time = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
def runbook_run(n):
    timeline = os.path.join(tmp, f"{n}.jsonl")
    argv = [bin, "run", os.path.join(tmp, "fanout.yaml"), "--ssh-config", cfg, "--yes",
            "--timeline", timeline]
    rss_file = os.path.join(tmp, f"{n}.rss")
    if gnu_time:
        argv = [gnu_time, "-f", "%M", "-o", rss_file] + argv
    elapsed, _ = timed("runbook", argv)
    rss = int(open(rss_file).read().split()[-1]) if gnu_time else None
    return elapsed, rss, timeline

xargs_argv = ["sh", "-c",
              f'seq {hosts} | xargs -P {hosts} -I{{}} ssh -F "$0" web-{{}} uptime', cfg]

ansible_env = None
if ansible:
    ansible_env = dict(os.environ,
                       ANSIBLE_SSH_ARGS=f"-F {cfg}",  # replaces ansible's own ControlPersist args
                       ANSIBLE_FORKS=str(hosts),
                       ANSIBLE_CONFIG=os.path.join(tmp, "ansible.cfg"),  # none of the user's
                       ANSIBLE_LOCAL_TEMP=os.path.join(tmp, "ansible-local"),
                       ANSIBLE_HOME=os.path.join(tmp, "ansible-home"),
                       ANSIBLE_NOCOLOR="1")
    ansible_argv = [ansible, "web", "-i", os.path.join(tmp, "inventory.ini"),
                    "-m", "raw", "-a", "uptime", "-f", str(hosts)]

# Warm-up of each (page cache, ansible's .pyc files), not counted.
runbook_run("warm-up")
timed("xargs+ssh", xargs_argv)
if ansible:
    timed("ansible", ansible_argv, ansible_env)

cpu.clear()
rb, rss, xa, an = [], [], [], []
for n in range(runs):  # interleaved, so drift on the machine hits all alike
    t, r, timeline = runbook_run(n)
    rb.append(t)
    rss.append(r)
    xa.append(timed("xargs+ssh", xargs_argv)[0])
    if ansible:
        an.append(timed("ansible", ansible_argv, ansible_env)[0])

# What the last runbook run's timeline says about the hosts.
events = [json.loads(line) for line in open(timeline)]
durations = sorted(e["duration_ms"] for e in events
                   if e.get("event") == "command" and "duration_ms" in e)

def fig(values):
    return f"{statistics.median(values):7.0f} ms  (min {min(values):.0f}, max {max(values):.0f})"

med_rb, med_xa = statistics.median(rb), statistics.median(xa)
print()
print(f"=== SSH fan-out: `uptime` on {hosts} hosts (127.0.0.N, local sshds), "
      f"parallel {hosts}, median of {runs} ===")
print(f"(a) runbook run --yes, fresh masters:  {fig(rb)}")
print(f"(b) xargs -P {hosts} ssh:                  {fig(xa)}")
if ansible:
    print(f"(c) ansible -m raw -f {hosts}:             {fig(an)}")
else:
    print(f"(c) ansible -m raw: skipped — {ansible_why}")
if gnu_time:
    print(f"runbook peak RSS (/usr/bin/time %M):   {statistics.median(rss):7.0f} KB  "
          f"(min {min(rss)}, max {max(rss)})")
else:
    print("runbook peak RSS: /usr/bin/time not found")
print(f"runbook / xargs:      {med_rb / med_xa:.2f}x  (target <= 1.2x)")
if ansible:
    med_an = statistics.median(an)
    print(f"ansible / runbook:    {med_an / med_rb:.2f}x  (target >= 2x: runbook at least twice as fast)")
if ansible:
    print(f"ansible / xargs:      {statistics.median(an) / med_xa:.2f}x  (the most any tool that "
          f"opens one SSH connection per host can gain over ansible here)")
print("CPU time of the whole machine during a run (the client, the sshds, the remote shells), "
      "median:")
for name in cpu:
    print(f"  {name:10} {statistics.median(cpu[name]):7.0f} ms")
print(f"  runbook / xargs: {statistics.median(cpu['runbook']) / statistics.median(cpu['xargs+ssh']):.2f}x")
if durations:
    print(f"per-host duration_ms in the last runbook timeline ({len(durations)} hosts): "
          f"min {durations[0]}, median {statistics.median(durations):.0f}, max {durations[-1]}")
PY
