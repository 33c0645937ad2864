#!/usr/bin/env bash
# Benchmark of SSH fan-out against throw-away sshds on loopback (web-N has an address of its
# own, 127.1.X.Y, host keys checked, fresh connections in every run), three workloads, runs
# interleaved, medians and per-pair ratios:
#   1. scale: `uptime` on 10 / 50 / 100 / 200 hosts (SCALES), runbook (one `check`, parallel =
#      hosts) against `xargs -P N ssh`; wall, CPU per host, split into the client side (every process
#      the script started and reaped, SSH masters included) and the server side (the sshds, their sessions and shells).
#   2. steps: 5 check steps on 50 hosts (STEP_HOSTS; masters reused across steps) against 5
#      rounds of xargs+ssh and `ansible-playbook` (5 `raw` tasks, forks 50) in the linear and
#      free strategies with Ansible's own ControlMaster/ControlPersist arguments (the config
#      comes in through `ansible_ssh_common_args`, which adds to them; a fresh control path
#      directory per run). ansible-core is pip-installed into a throw-away venv; if that fails
#      the Ansible rows are skipped with the reason.
#   3. one more command over an open master: (runbook with 21 steps − with 1 step) / 20 on one
#      host, against `ssh -S ctl web-1 true` over an open master.
#   4. BIG (1000; 0 skips it) hosts, runbook only: real sshds (one per 16 addresses); wall,
#      failures and peak RSS of the runbook process.
# The sshds run in a private mount namespace (`unshare -m`) where the login user's ~/.bashrc is
# an empty file bind-mounted over it: a heavy ~/.bashrc (pyenv init…) would be read by bash for
# every remote command and measured instead of SSH. Needs: /usr/sbin/sshd, ssh, ssh-keygen,
# python3 (venv for Ansible), unshare and mount (else the script says the ~/.bashrc is read).
# KEX=names sets `KexAlgorithms` for every tool alike (default: ssh's own, which on OpenSSH 9
# starts with the post-quantum sntrup761x25519: about 150 ms of client CPU per connection
# here, which every tool pays once per host and which workload 2's floor line shows).
# RUNS (5) is the number of interleaved runs. BASE=path also measures that binary (an older
# build) in every workload, interleaved with the others. WORKLOADS ("1 2 3 4") picks
# workloads. Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
SCALES="${SCALES:-10 50 100 200}"
STEP_HOSTS="${STEP_HOSTS:-50}"
BIG="${BIG:-1000}"
HOSTS=$STEP_HOSTS
for n in $SCALES $BIG; do ((n > HOSTS)) && HOSTS=$n; done
SSHD=/usr/sbin/sshd

for tool in "$SSHD" ssh ssh-keygen python3; do
  command -v "$tool" > /dev/null || { echo "bench-fanout: $tool not found" >&2; exit 1; }
done

# BIN=path measures that binary instead of a fresh release build.
if [[ -n "${BIN:-}" ]]; then
  bin="$BIN"
else
  cargo build --release --quiet
  bin="${CARGO_TARGET_DIR:-$PWD/target}/release/runbook"
fi
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
# connection, as in a real fleet — so web-N is 127.1.X.Y (`addr N`), all on one port. One sshd listens
# on 16 addresses at most: there is one sshd per 16 hosts, all with the same host key, which
# every alias checks under the name `bench-sshd`.
echo "bench-sshd $host_key" > "$tmp/known_hosts"
addr() { echo "127.1.$(($1 / 200)).$(($1 % 200 + 1))"; }
# The sshds' private ~/.bashrc: empty.
: > "$tmp/empty_bashrc"
bashrc_note="the sshds see an empty ~/.bashrc (unshare -m, bind mount)"
# Only ever run with `&`: the background subshell becomes the sshd, so `$!` is its pid.
in_private_home() { exec "$@"; }
if [[ -e "$HOME/.bashrc" ]]; then
  if unshare -m sh -c 'mount --bind "$0" "$1"' "$tmp/empty_bashrc" "$HOME/.bashrc" 2> /dev/null; then
    in_private_home() {
      exec unshare -m sh -c 'mount --bind "$0" "$1" && shift && exec "$@"' \
        "$tmp/empty_bashrc" "$HOME/.bashrc" "$@"
    }
  else
    bashrc_note="WARNING: unshare -m failed; the sshds read $HOME/.bashrc for every command"
  fi
else
  bashrc_note="no ~/.bashrc to hide"
fi
echo "bench-fanout: $bashrc_note" >&2
# Starts an sshd for hosts $1..$2 on $port; its pid goes to sshd_pids. Fails if it does not
# listen (the port was taken).
start_sshd() {
  local first=$1 last=$2 config="$tmp/sshd_config.$1" log="$tmp/sshd.$1.log"
  {
    for n in $(seq "$first" "$last"); do echo "ListenAddress $(addr "$n"):$port"; done
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
  in_private_home "$SSHD" -D -e -f "$config" < /dev/null > /dev/null 2> "$log" &
  local pid=$!
  for _ in $(seq 500); do
    [[ "$(grep -c "Server listening on" "$log" 2> /dev/null)" == $((last - first + 1)) ]] && break
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

# The client config: web-N is 127.1.X.Y, host key checked.
{
  for n in $(seq 1 "$HOSTS"); do
    printf 'Host web-%d\n  HostName %s\n  Port %d\n' "$n" "$(addr "$n")" "$port"
  done
  cat <<EOF
Host *
  User $(id -un)
  IdentityFile "$tmp/user_key"
  IdentitiesOnly yes
  UserKnownHostsFile "$tmp/known_hosts"
  GlobalKnownHostsFile /dev/null
  HostKeyAlias bench-sshd
  StrictHostKeyChecking yes
  BatchMode yes
EOF
  if [[ -n "${KEX:-}" ]]; then printf '  KexAlgorithms %s\n' "$KEX"; fi
} > "$tmp/ssh_config"
kex_note="key exchange: $(ssh -F "$tmp/ssh_config" -G web-1 2> /dev/null | awk '/^kexalgorithms / {split($2, k, ","); print k[1]}')"
if [[ -z "${KEX:-}" ]]; then kex_note="$kex_note (ssh's default)"; fi
ssh -F "$tmp/ssh_config" web-1 true < /dev/null || {
  echo "bench-fanout: ssh to web-1 failed; the sshd logs:" >&2
  cat "$tmp"/sshd.*.log >&2
  exit 1
}

printf '%s\n' "${sshd_pids[@]}" > "$tmp/sshd.pids"

# --- The runbooks. `runbook_file NAME HOSTS STEPS`: STEPS checks `run: uptime` (or `true`) on
# web-1 … web-HOSTS, all at once. ---
runbook_file() {
  local name=$1 hosts=$2 steps=$3 run=${4:-uptime}
  {
    cat <<EOF
runbook: 1
title: Bench — $steps step(s) on $hosts hosts over SSH
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
  web: [$(seq -f 'web-%g' -s ', ' 1 "$hosts")]
steps:
EOF
    for s in $(seq "$steps"); do
      printf '  - id: s%d\n    name: Every host answers, round %d\n    check:\n      run: %s\n      on: web\n      parallel: %d\n' \
        "$s" "$s" "$run" "$hosts"
    done
  } > "$tmp/$name.yaml"
  "$bin" lint --deny-warnings "$tmp/$name.yaml" > /dev/null
}
for n in $SCALES; do runbook_file "scale-$n" "$n" 1; done
runbook_file steps "$STEP_HOSTS" 5
runbook_file one-1 1 1 true
runbook_file one-21 1 21 true
if ((BIG > 0)); then runbook_file big "$BIG" 1; fi

# --- Ansible, from PyPI into a throw-away venv (if absent), with its own SSH defaults. ---
ansible=""
ansible_why=""
{
  echo "[web]"
  for n in $(seq 1 "$STEP_HOSTS"); do echo "web-$n"; done
  echo "[web:vars]"
  echo "ansible_ssh_common_args='-F $tmp/ssh_config'"
} > "$tmp/inventory.ini"
printf '[defaults]\nhost_key_checking = True\n' > "$tmp/ansible.cfg"
{
  printf -- '- hosts: web\n  gather_facts: false\n  tasks:\n'
  for s in 1 2 3 4 5; do printf '    - name: round %d\n      raw: uptime\n' "$s"; done
} > "$tmp/playbook.yml"
if command -v ansible-playbook > /dev/null; then
  ansible="$(command -v ansible-playbook)"
else
  echo "bench-fanout: installing ansible-core into $tmp/venv …" >&2
  if ! python3 -m venv "$tmp/venv" > "$tmp/venv.log" 2>&1; then
    ansible_why="python3 -m venv failed: $(tail -n 3 "$tmp/venv.log" | tr '\n' ' ')"
  elif ! "$tmp/venv/bin/pip" install --quiet --disable-pip-version-check ansible-core \
      > "$tmp/pip.log" 2>&1; then
    ansible_why="pip install ansible-core failed: $(tail -n 3 "$tmp/pip.log" | tr '\n' ' ')"
  else
    ansible="$tmp/venv/bin/ansible-playbook"
  fi
fi
if [[ -n "$ansible_why" ]]; then
  echo "bench-fanout: SKIPPING the Ansible rows: $ansible_why" >&2
fi

python3 - "$bin" "$tmp" "$RUNS" "$SCALES" "$STEP_HOSTS" "$BIG" \
  "$ansible" "$ansible_why" "$bashrc_note" "${BASE:-}" "${WORKLOADS:-1 2 3 4}" "$kex_note" <<'PY'
import collections, glob, os, re, shutil, statistics, subprocess, sys, tempfile, time

(bin, tmp, runs, scales, step_hosts, big, ansible, ansible_why,
 bashrc_note, base, workloads, kex_note) = sys.argv[1:13]
workloads = workloads.split()
runs, step_hosts, big = int(runs), int(step_hosts), int(big)
scales = [int(n) for n in scales.split()]
cfg = os.path.join(tmp, "ssh_config")
null = subprocess.DEVNULL
tick = os.sysconf("SC_CLK_TCK")
sshd_pids = [int(p) for p in open(os.path.join(tmp, "sshd.pids")).read().split()]

# This process becomes the reaper of orphans, so that the SSH masters that fork into the
# background (runbook's, Ansible's) are reaped here and their CPU time counts as the client's.
import ctypes, resource
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER

def client_cpu_ms():
    """CPU time of every process this script started and reaped (the client side: the tool,
    its ssh processes and masters, Ansible's Python), in ms. The machine is shared with other
    work, so its own total would not do."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000

def server_cpu_ms():
    """CPU time of the sshds with their reaped sessions and the shells these ran, in ms."""
    total = 0
    for pid in sshd_pids:
        try:
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(stat[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return total * 1000 / tick

wall, cpu, client, server = {}, {}, {}, {}

def timed(name, argv, env=None, check=True, after=None):
    """One run: wall ms; total, client-side and server-side CPU ms go to the tables. `after`
    runs once the wall time is taken and before the CPU is: what the tool leaves running
    (Ansible's persisting masters) is stopped there, so that its CPU, and that of the sshd
    sessions it held, is counted, without its closing counting as wall time."""
    c0, s0 = client_cpu_ms(), server_cpu_ms()
    started = time.perf_counter()
    done = subprocess.run(argv, stdin=null, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env)
    elapsed = (time.perf_counter() - started) * 1000
    if after:
        after()
    # The sshd reaps a session, and a closed master exits, a moment after the client is done.
    time.sleep(0.3)
    c1, s1 = client_cpu_ms(), server_cpu_ms()
    if check and done.returncode != 0:
        failed = [line for line in done.stdout.decode(errors="replace").splitlines()
                  if "✘" in line][:20]
        sys.exit(f"{name}: {' '.join(map(str, argv[:6]))} exited {done.returncode}:\n"
                 + "\n".join(failed) + "\n"
                 f"{done.stdout.decode(errors='replace')[-1500:]}"
                 f"{done.stderr.decode(errors='replace')[-1500:]}")
    wall.setdefault(name, []).append(elapsed)
    cpu.setdefault(name, []).append((c1 - c0) + (s1 - s0))
    server.setdefault(name, []).append(s1 - s0)
    client.setdefault(name, []).append(c1 - c0)
    return done

def rb(name, binary=None):
    return [binary or bin, "run", os.path.join(tmp, f"{name}.yaml"), "--ssh-config", cfg, "--yes",
            "--timeline", os.path.join(tmp, f"{name}.{time.monotonic_ns()}.jsonl")]

def xargs(hosts, rounds=1, command="uptime"):
    one = f'seq {hosts} | xargs -P {hosts} -I{{}} ssh -F "$0" web-{{}} {command}'
    return ["sh", "-c", "; ".join([one] * rounds), cfg]

def med(name, table=None):
    return statistics.median((table or wall)[name])

print(f"bench-fanout: {bashrc_note}; {kex_note}; {runs} interleaved runs; medians", flush=True)

# 1. Scale.
if "1" in workloads:
    print("\n=== 1. `uptime` on N hosts at once: runbook (one check) against xargs -P N ssh ===")
    print(f"{'hosts':>5} {'tool':10} {'wall ms':>8} {'CPU ms/host':>12} {'client':>8} {'server':>8}")
for n in scales if "1" in workloads else []:
    a, b, c = f"runbook@{n}", f"xargs@{n}", f"base@{n}"
    timed(a, rb(f"scale-{n}")); timed(b, xargs(n))  # warm-up
    for table in (wall, cpu, client, server):
        table.pop(a, None); table.pop(b, None)
    for _ in range(runs):
        timed(a, rb(f"scale-{n}"))
        timed(b, xargs(n))
        if base:
            timed(c, rb(f"scale-{n}", base))
    for name in (a, b) + ((c,) if base else ()):
        print(f"{n:>5} {name.split('@')[0]:10} {med(name):8.0f} {med(name, cpu) / n:12.1f} "
              f"{med(name, client) / n:8.1f} {med(name, server) / n:8.1f}")
    print(f"{'':>5} ratio runbook/xargs: wall {med(a) / med(b):.2f}x, CPU per host "
          f"{med(a, cpu) / med(b, cpu):.2f}x (target <= 1.05x), client side "
          f"{med(a, client) / med(b, client):.2f}x", flush=True)

# 2. Five steps on STEP_HOSTS hosts.
if "2" in workloads:
    print(f"\n=== 2. 5 check steps on {step_hosts} hosts ===")
def ansible_run(strategy):
    control = tempfile.mkdtemp(prefix="cp-", dir=tmp)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(tmp, "ansible.cfg"),
               ANSIBLE_STRATEGY=strategy, ANSIBLE_FORKS=str(step_hosts),
               ANSIBLE_SSH_CONTROL_PATH_DIR=control, ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOME=os.path.join(tmp, "ansible-home"),
               ANSIBLE_LOCAL_TEMP=os.path.join(tmp, "ansible-local"))
    # Its persisting masters are closed after the wall time and before the CPU is read (their
    # handshakes and sessions are Ansible's CPU); the next run connects afresh.
    def close_masters():
        for socket in glob.glob(os.path.join(control, "*")):
            subprocess.run(["ssh", "-S", socket, "-O", "exit", "x"], stdout=null, stderr=null)
    timed(f"ansible {strategy}", [ansible, "-i", os.path.join(tmp, "inventory.ini"),
                                   os.path.join(tmp, "playbook.yml")], env, after=close_masters)
    shutil.rmtree(control, ignore_errors=True)

contenders = [("runbook", lambda: timed("runbook", rb("steps"))),
              ("5 x xargs+ssh", lambda: timed("5 x xargs+ssh", xargs(step_hosts, 5)))]
if base:
    contenders += [("runbook base", lambda: timed("runbook base", rb("steps", base)))]
if ansible:
    contenders += [("ansible linear", lambda: ansible_run("linear")),
                   ("ansible free", lambda: ansible_run("free"))]
if "2" not in workloads:
    contenders = []
for _, go in contenders:
    go()
for table in (wall, cpu, client, server):
    for name, _ in contenders:
        table.pop(name, None)
for _ in range(runs):
    for _, go in contenders:
        go()
for name, _ in contenders:
    print(f"{name:16} {med(name):8.0f} ms wall  CPU {med(name, cpu):7.0f} ms "
          f"(client {med(name, client):.0f}, server {med(name, server):.0f})")
for name, _ in contenders[1:]:
    print(f"{name} / runbook: {med(name) / med('runbook'):.2f}x wall, "
          f"{med(name, cpu) / med('runbook', cpu):.2f}x CPU"
          + ("  (target >= 2.5x)" if name.startswith("ansible") else ""))
if not ansible and contenders:
    print(f"ansible: SKIPPED — {ansible_why}")
if contenders:
    # One round of xargs+ssh is little else than step_hosts fresh connections: what every
    # tool pays once per host. On this machine's cores, that CPU alone takes this much wall
    # time, whatever the tool does besides: the most any tool could be faster than Ansible.
    cores = len(os.sched_getaffinity(0))
    floor_cpu = med("5 x xargs+ssh", cpu) / 5
    floor_wall = floor_cpu / cores
    print(f"floor: {step_hosts} fresh connections cost {floor_cpu:.0f} ms of CPU (client "
          f"{med('5 x xargs+ssh', client) / 5:.0f}, server {med('5 x xargs+ssh', server) / 5:.0f})"
          f", at least {floor_wall:.0f} ms of wall on {cores} cores")
    for name, _ in contenders:
        if name.startswith("ansible"):
            print(f"{name} / floor: {med(name) / floor_wall:.2f}x (no tool can beat Ansible by "
                  f"more here)")

# 3. One more command over an open master.
if "3" in workloads:
    print("\n=== 3. One more command over an open master (web-1) ===")
    ctl = os.path.join(tmp, "ctl")
    subprocess.run(["ssh", "-F", cfg, "-o", "ControlMaster=yes", "-o", "ControlPersist=600",
                    "-S", ctl, "-f", "-N", "web-1"], check=True, stdin=null)
    for name, go in [("rb1", lambda: timed("rb1", rb("one-1"))),
                     ("rb21", lambda: timed("rb21", rb("one-21"))),
                     ("ssh -S", lambda: timed("ssh -S", ["ssh", "-F", cfg, "-S", ctl, "web-1",
                                                         "true"]))]:
        go()
    for table in (wall, cpu, client, server):
        for name in ("rb1", "rb21", "ssh -S"):
            table.pop(name, None)
    for _ in range(runs * 4):
        timed("rb1", rb("one-1"))
        timed("rb21", rb("one-21"))
        timed("ssh -S", ["ssh", "-F", cfg, "-S", ctl, "web-1", "true"])
        if base:
            timed("base1", rb("one-1", base))
            timed("base21", rb("one-21", base))
    subprocess.run(["ssh", "-S", ctl, "-O", "exit", "x"], stdout=null, stderr=null)
    step_wall = (med("rb21") - med("rb1")) / 20
    step_cpu = (med("rb21", cpu) - med("rb1", cpu)) / 20
    print(f"runbook, per extra step: {step_wall:.1f} ms wall, {step_cpu:.1f} ms CPU "
          f"((21 steps - 1 step) / 20; 21 steps {med('rb21'):.0f} ms, 1 step {med('rb1'):.0f} ms)")
    if base:
        print(f"base, per extra step:    {(med('base21') - med('base1')) / 20:.1f} ms wall, "
              f"{(med('base21', cpu) - med('base1', cpu)) / 20:.1f} ms CPU")
    print(f"ssh -S ctl web-1 true:   {med('ssh -S'):.1f} ms wall, {med('ssh -S', cpu):.1f} ms CPU")
    print(f"runbook / ssh -S: {step_wall / med('ssh -S'):.2f}x wall (target <= 0.6x)")

# 4. A big fleet.
if big > 0 and "4" in workloads:
    print(f"\n=== 4. `uptime` on {big} hosts at once, runbook (real sshds) ===")
    for label, binary in [("runbook", bin)] + ([("base", base)] if base else []):
        rss = os.path.join(tmp, "big.rss")
        done = timed(label + "-big", ["/usr/bin/time", "-f", "%M", "-o", rss]
                     + rb("big", binary), check=False)
        text = done.stdout.decode(errors="replace")
        name = label + "-big"
        print(f"{label}: exit {done.returncode}; wall {med(name) / 1000:.1f} s; CPU "
              f"{med(name, cpu) / big:.1f} ms per host; peak RSS of runbook "
              f"{int(open(rss).read().split()[-1]) / 1024:.1f} MB (target < 64 MB)", flush=True)
        if done.returncode != 0:
            # Why hosts failed, counted by reason (a host's line: `✘ web-N: reason`).
            reasons = collections.Counter(
                re.sub(r"\s*\(\d[^)]*\)$", "", re.sub(r"^\s*✘ web-\d+\S*\s*", "", line))
                for line in text.splitlines() if re.match(r"^\s*✘ web-\d+", line))
            for reason, count in reasons.most_common(5):
                print(f"  {count} hosts: {reason}")
            print(text[-1500:], done.stderr.decode(errors="replace")[-1500:])
PY
