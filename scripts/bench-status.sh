#!/usr/bin/env bash
# Benchmark of `runbook status`: a catalog of RUNBOOKS (100) runbooks with 3 HTTP health checks
# each (300 checks) against a local Python server on 127.0.0.1 that answers every request after
# DELAY_MS (200) ms and serves hundreds of connections at once. Times `runbook status` (release
# build) at --parallel 32, 64 and 128 (median of RUNS, default 3), next to the floor
# ceil(checks / parallel) × DELAY_MS, and, in the same run, a sequential `curl` loop and
# `xargs -P 64 curl` over the same URLs. Prints the figures; asserts nothing.
# Needs: python3, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-3}"
RUNBOOKS="${RUNBOOKS:-100}"
DELAY_MS="${DELAY_MS:-200}"

for tool in python3 curl; do
  command -v "$tool" > /dev/null || { echo "bench-status: $tool not found" >&2; exit 1; }
done

cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/runbook"
tmp="$(mktemp -d /tmp/runbook-bench-status-XXXXXX)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2> /dev/null || true
    wait "$server_pid" 2> /dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
export NO_COLOR=1
unset RUNBOOK_CATALOG

# --- The server: a thread per connection, HTTP/1.1 keep-alive, a deep listen queue. ---
cat > "$tmp/server.py" <<'PY'
import http.server, socketserver, sys, time

delay = int(sys.argv[1]) / 1000

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        time.sleep(delay)
        body = b"status: ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
PY
python3 "$tmp/server.py" "$DELAY_MS" > "$tmp/port" &
server_pid=$!
for _ in $(seq 200); do [[ -s "$tmp/port" ]] && break; sleep 0.02; done
port="$(cat "$tmp/port")"
[[ -n "$port" ]] || { echo "bench-status: the server did not start" >&2; exit 1; }

# --- The catalog: RUNBOOKS runbooks, 3 health checks each. ---
mkdir -p "$tmp/runbooks"
: > "$tmp/urls"
for n in $(seq -w 1 "$RUNBOOKS"); do
  base="http://127.0.0.1:$port/svc-$n"
  printf '%s/health\n%s/ready\n%s/lag\n' "$base" "$base" "$base" >> "$tmp/urls"
  cat > "$tmp/runbooks/svc-$n.yaml" <<EOF
runbook: 1
title: Service $n — down
owner: bench
reviewed: $(date -u +%Y-%m-%d)
scope: { services: [svc-$n] }
contacts: [{ name: Bench, chat: "#bench" }]
links: [{ name: Dashboard, url: "https://grafana.example.com/d/svc-$n" }]
health:
  - name: Health endpoint
    http: { url: "$base/health", status: 200, body_contains: ok }
  - name: Ready endpoint
    http: { url: "$base/ready", status: 200 }
  - name: Lag endpoint
    http: { url: "$base/lag" }
    warn: true
steps:
  - id: look
    name: Look at the dashboard
    instructions: Open {{ links.Dashboard }}.
EOF
done
"$bin" lint --deny-warnings "$tmp/runbooks" > /dev/null

python3 - "$bin" "$tmp" "$RUNS" "$DELAY_MS" <<'PY'
import json, math, os, statistics, subprocess, sys, time

bin, tmp, runs, delay_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
urls = open(os.path.join(tmp, "urls")).read().split()
checks = len(urls)
null = subprocess.DEVNULL

def timed(name, argv, ok=(0,)):
    """Wall time in ms and stdout of one run; exits loudly if it fails."""
    started = time.perf_counter()
    done = subprocess.run(argv, stdin=null, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode not in ok:
        sys.exit(f"{name}: exited {done.returncode}:\n{done.stderr.decode(errors='replace')[-2000:]}")
    return elapsed, done.stdout

catalog = os.path.join(tmp, "runbooks")
status = lambda parallel: [bin, "status", catalog, "--format", "json", "--parallel", str(parallel)]
timed("warm-up", status(64))

print(f"runbook status: {len(os.listdir(catalog))} runbooks, {checks} HTTP checks, "
      f"server answers after {delay_ms} ms; median of {runs} runs")
print(f"{'parallel':>8}  {'floor':>8}  {'wall':>8}  {'ratio':>6}  {'in-process':>10}  all green")
for parallel in (32, 64, 128):
    floor = math.ceil(checks / parallel) * delay_ms
    walls, inside, green = [], [], True
    for _ in range(runs):
        wall, out = timed(f"status --parallel {parallel}", status(parallel))
        report = json.loads(out)
        walls.append(wall)
        inside.append(report["duration_ms"])
        green = green and report["counts"]["green"] == len(report["services"])
    wall = statistics.median(walls)
    print(f"{parallel:>8}  {floor:>6} ms  {wall:>5.0f} ms  {wall / floor:>5.2f}x  "
          f"{statistics.median(inside):>7.0f} ms  {'yes' if green else 'NO'}")

wall, _ = timed("xargs -P 64 curl", ["sh", "-c",
    f'xargs -P 64 -n 1 curl -s -o /dev/null --fail < "{os.path.join(tmp, "urls")}"'])
print(f"xargs -P 64 curl over the same {checks} URLs: {wall:.0f} ms "
      f"(floor {math.ceil(checks / 64) * delay_ms} ms)")
wall, _ = timed("sequential curl", ["sh", "-c",
    f'while read -r url; do curl -s -o /dev/null --fail "$url"; done < "{os.path.join(tmp, "urls")}"'])
print(f"sequential curl loop over the same {checks} URLs: {wall:.0f} ms "
      f"(floor {checks * delay_ms} ms)")
PY
