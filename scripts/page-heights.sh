#!/usr/bin/env bash
# Prints how tall the HTML pages are in headless Chromium, at 1200 px and 390 px wide: the
# status page of a 7-runbook catalog (2 red, 1 orange, 4 green; local checks only) and the
# rendered page of the shipped HAProxy runbook.
#
#   scripts/page-heights.sh [RUNBOOK_BINARY]     (default: target/debug/runbook)
#
# The pages hold no script; a harness page frames each and writes its height into the DOM.
set -euo pipefail
bin=$(realpath "${1:-target/debug/runbook}")
chromium=${CHROMIUM:-/usr/bin/chromium}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

i=0
for spec in payments:ok,ok,ok search:ok,warn user-sync:fail,ok,ok web-front:ok,ok,ok,ok \
            mail:ok,ok billing:fail,fail auth:ok,ok,ok; do
  service=${spec%%:*}; i=$((i + 1))
  mkdir -p "$work/runbooks/team$i"
  {
    printf 'runbook: 1\ntitle: %s is broken\nowner: ops\nreviewed: 2026-11-01\n' "$service"
    printf 'scope: { services: [%s] }\n' "$service"
    printf "links: [{ name: Dashboard, url: 'https://grafana.example.com/d/%s' }]\nhealth:\n" "$service"
    n=0
    IFS=, read -ra kinds <<<"${spec#*:}"
    for kind in "${kinds[@]}"; do
      n=$((n + 1))
      case $kind in
        ok) printf "  - { name: Check %s answers, run: 'true' }\n" "$n" ;;
        warn) printf "  - { name: Lag %s, run: 'false', warn: true }\n" "$n" ;;
        fail) printf "  - { name: Check %s answers, run: 'exit 3' }\n" "$n" ;;
      esac
    done
    printf 'steps:\n  - id: look\n    name: Look\n    instructions: Look at it.\n'
  } >"$work/runbooks/team$i/$service.yaml"
done
RUNBOOK_TODAY=2026-11-22 NO_COLOR=1 "$bin" status "$work/runbooks" --format html \
  --output "$work/status.html" >/dev/null 2>&1 || true
NO_COLOR=1 "$bin" render web-front/saturated-backends --catalog runbooks --format html \
  >"$work/haproxy.html"

height() { # page width — the page in a frame that wide (a headless window is >= 500 px)
  local harness="$work/probe-$2.html"
  cat >"$harness" <<HTML
<iframe id="f" src="file://$1" style="border:0;width:$2px;height:900px"></iframe><pre id="probe"></pre>
<script>document.getElementById('f').addEventListener('load', () => {
  document.getElementById('probe').textContent = 'h=' + document.getElementById('f').contentDocument.documentElement.scrollHeight; });</script>
HTML
  "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --allow-file-access-from-files \
    --virtual-time-budget=10000 --user-data-dir="$work/profile" --window-size=1300,1000 \
    --dump-dom "file://$harness" 2>/dev/null | grep -o 'h=[0-9][0-9]*' | cut -d= -f2
}
for page in status haproxy; do
  for width in 1200 390; do
    printf '%-8s %4s px wide: %5s px tall\n' "$page" "$width" "$(height "$work/$page.html" "$width")"
  done
done
