#!/usr/bin/env bash
# Benchmark: `runbook triage` of one Alertmanager webhook holding 500 alerts against a
# catalog of 1,000 runbooks (target: under 200 ms). The catalog is the shipped examples plus
# generated runbooks, each answering one service's alerts with a matcher and a regex, all
# sharing words (so the weak tier has work too); the alerts mix matcher hits, runbook_url
# hits, kube-prometheus crash loops and alerts nothing answers. Prints the figures; asserts
# nothing. Needs: python3 (to generate the catalog and payload).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-1000}"
ALERTS="${ALERTS:-500}"
RUNS="${RUNS:-10}"

# PROFILE=debug checks the script quickly (the figures then mean nothing); PROFILE=profiling
# is release without LTO. BIN=path/to/runbook measures that binary and builds nothing.
# WORK=DIR keeps the generated catalog and payload there (to compare two binaries' outputs).
profile="${PROFILE:-release}"
if [ -n "${BIN:-}" ]; then
  bin="$BIN"
else
  case "$profile" in
    release) cargo build --release --quiet ;;
    debug) cargo build --quiet ;;
    *) cargo build --profile "$profile" --quiet ;;
  esac
  bin="${CARGO_TARGET_DIR:-$PWD/target}/$profile/runbook"
fi
if [ -n "${WORK:-}" ]; then
  work="$WORK"
  rm -rf "$work"
  mkdir -p "$work"
else
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi

mkdir -p "$work/runbooks"
cp -r runbooks/. "$work/runbooks/"
python3 - "$work" "$N" "$ALERTS" <<'PY'
import json, os, random, sys
work, n, alerts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(7)
for i in range(n):
    folder = f"{work}/runbooks/gen-{i % 50:02d}"
    os.makedirs(folder, exist_ok=True)
    with open(f"{folder}/svc-{i:04d}.yaml", "w") as f:
        f.write(f"""runbook: 1
title: Service svc-{i:04d} — error rate high, requests failing
summary: The error rate of svc-{i:04d} is above its objective; find the failing dependency.
owner: team-{i % 40}
reviewed: 2026-11-20
scope:
  services: [svc-{i:04d}]
  alerts:
    - alertname: ServiceErrorRateHigh
      labels: {{ service: svc-{i:04d}, severity: "warning|critical" }}
    - '^\\[svc-{i:04d}\\] error rate above [0-9]+%'
contacts:
  - name: Team {i % 40}
    chat: "#team-{i % 40}"
links:
  - name: Dashboard
    url: "https://grafana.example.com/d/svc?var-service=svc-{i:04d}&var-pod={{{{ inputs.pod }}}}"
inputs:
  pod:
    description: The pod with errors
    label: pod
    pattern: '^[a-z0-9-]+$'
steps:
  - id: look
    name: Look at the error rate
    check:
      run: kubectl -n prod logs {{{{ inputs.pod }}}} --tail=50
    timeout: 20s
""")
group = []
for j in range(alerts):
    k = j % 10
    svc = random.randrange(n)
    labels = {"alertname": "ServiceErrorRateHigh", "service": f"svc-{svc:04d}",
              "namespace": "prod", "pod": f"svc-{svc:04d}-7d9f8-{j:05d}", "severity": "critical"}
    annotations = {"summary": f"Error rate of svc-{svc:04d} above 5% for 10 minutes",
                   "description": "More than 5% of requests failed for longer than 10 minutes."}
    if k == 7:
        annotations["runbook_url"] = f"https://runbooks.example.com/gen-{svc % 50:02d}/svc-{svc:04d}.html#step-look"
    if k == 8:
        labels = {"alertname": "KubePodCrashLooping", "namespace": "prod", "pod": f"api-{j:05d}",
                  "container": "api", "severity": "warning"}
        annotations = {"summary": "Pod is crash looping.",
                       "description": f"Pod prod/api-{j:05d} (api) is in waiting state (reason: \"CrashLoopBackOff\")."}
    if k == 9:
        labels = {"alertname": "NodeClockNotSynchronising", "instance": f"10.0.{j % 250}.1:9100",
                  "job": "node-exporter", "severity": "warning"}
        annotations = {"summary": "Clock not synchronising.",
                       "description": "Clock is not synchronising. Ensure NTP is configured on this host."}
    group.append({"status": "firing", "labels": labels, "annotations": annotations,
                  "startsAt": "2026-11-21T03:43:00Z", "endsAt": "0001-01-01T00:00:00Z",
                  "generatorURL": "http://prometheus:9090/graph", "fingerprint": f"{j:016x}"})
with open(f"{work}/group.json", "w") as f:
    json.dump({"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "runbook",
               "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
               "externalURL": "http://alertmanager:9093", "alerts": group}, f)
PY
files=$(find "$work/runbooks" -name '*.yaml' | wc -l)
echo "catalog: $files runbooks; payload: $ALERTS alerts in one Alertmanager webhook ($(wc -c < "$work/group.json") bytes)"

"$bin" lint "$work/runbooks" > "$work/lint.out" || { head -20 "$work/lint.out"; echo "lint found errors in the generated catalog"; exit 1; }
"$bin" triage "$work/group.json" "$work/runbooks" --format json > "$work/out.json" 2> "$work/out.err" || true
python3 - "$work/out.json" <<'PY'
import json, sys
out = json.load(open(sys.argv[1]))
tiers = {}
for a in out["alerts"]:
    t = a["matches"][0]["tier"] if a["matches"] else "none"
    tiers[t] = tiers.get(t, 0) + 1
print(f"alerts triaged: {len(out['alerts'])}; groups: {len(out['groups'])}; best tier per alert: {tiers}")
PY

# The parse cache of large catalogs lives with the benchmark's files, not in the user's.
export XDG_CACHE_HOME="$work/cache"
mkdir -p -m 700 "$XDG_CACHE_HOME"

# "best B ms, median M ms" of R runs of a command.
timings() {
  local runs="$1"; shift
  local all=()
  for _ in $(seq 1 "$runs"); do
    local t0 t1
    t0=$(date +%s%N); "$@" > /dev/null 2>&1 || true; t1=$(date +%s%N)
    all+=($(( (t1 - t0) / 1000000 )))
  done
  local sorted
  sorted=($(printf '%s\n' "${all[@]}" | sort -n))
  echo "best ${sorted[0]} ms, median ${sorted[$(( runs / 2 ))]} ms"
}

if command -v hyperfine > /dev/null; then
  hyperfine --warmup 2 --runs 10 -N -i "$bin triage $work/group.json $work/runbooks" 2>&1 | grep -E 'Benchmark|Time|Range'
fi
# Cold: every runbook parsed (no cache); warm: parsed once before, the usual case.
cold_text=$(RUNBOOK_CACHE=off timings "$RUNS" "$bin" triage "$work/group.json" "$work/runbooks")
cold_json=$(RUNBOOK_CACHE=off timings "$RUNS" "$bin" triage "$work/group.json" "$work/runbooks" --format json)
"$bin" triage "$work/group.json" "$work/runbooks" > /dev/null 2>&1 || true
warm_text=$(timings "$RUNS" "$bin" triage "$work/group.json" "$work/runbooks")
warm_json=$(timings "$RUNS" "$bin" triage "$work/group.json" "$work/runbooks" --format json)
lint_ms=$(timings "$RUNS" "$bin" lint "$work/runbooks")
echo "runbook triage, $ALERTS alerts x $files runbooks, $RUNS runs each (target < 200 ms):"
echo "  text: $warm_text (without the parse cache: $cold_text)"
echo "  json: $warm_json (without the parse cache: $cold_json)"
echo "for scale, runbook lint of the same catalog: $lint_ms"
