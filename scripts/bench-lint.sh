#!/usr/bin/env bash
# Benchmark: `runbook lint` over 1,000 runbooks generated from the examples, compared with
# check-jsonschema validating the same files against schemas/runbook.schema.json; and the
# start-up time of `runbook --version`. Prints the figures; asserts nothing.
# Needs: python3 (for check-jsonschema, installed into a throw-away venv); hyperfine if present.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-1000}"

cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/runbook"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The catalog: the examples themselves (so `uses` resolves), then N copies spread over
# folders, each with its own title.
mkdir -p "$work/runbooks"
cp -r runbooks/. "$work/runbooks/"
mapfile -t examples < <(cd runbooks && find . -name '*.yaml' | sort)
for i in $(seq 1 "$N"); do
  src="${examples[$(( (i - 1) % ${#examples[@]} ))]}"
  dest="$work/runbooks/gen-$(( i % 50 ))/$(printf '%04d' "$i")-$(basename "$src")"
  mkdir -p "$(dirname "$dest")"
  sed "s/^title: \(.*\)$/title: \1 (copy $i)/" "runbooks/$src" > "$dest"
done
files=$(find "$work/runbooks" -name '*.yaml' | wc -l)
echo "catalog: $files files in $work/runbooks"

"$bin" lint "$work/runbooks" > "$work/lint.out" || { tail -5 "$work/lint.out"; echo "lint found errors in the generated catalog"; exit 1; }
tail -1 "$work/lint.out"

# Milliseconds of the best of R runs of a command.
best_ms() {
  local runs="$1"; shift
  local best=""
  for _ in $(seq 1 "$runs"); do
    local t0 t1 ms
    t0=$(date +%s%N); "$@" > /dev/null 2>&1 || true; t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
  done
  echo "$best"
}

if command -v hyperfine > /dev/null; then
  hyperfine --warmup 3 --runs 20 -N "$bin lint $work/runbooks" "$bin --version" 2>&1 | grep -E 'Benchmark|Time|Range'
fi
lint_ms=$(best_ms 10 "$bin" lint "$work/runbooks")
version_ms=$(best_ms 20 "$bin" --version)
echo "runbook lint, $files files: best of 10 = ${lint_ms} ms (target < 150 ms)"
echo "runbook --version: best of 20 = ${version_ms} ms"

if [ "${SKIP_JSONSCHEMA:-}" != 1 ]; then
  python3 -m venv "$work/venv" > /dev/null
  "$work/venv/bin/pip" install --quiet check-jsonschema
  mapfile -t all < <(find "$work/runbooks" -name '*.yaml')
  t0=$(date +%s%N)
  "$work/venv/bin/check-jsonschema" --schemafile schemas/runbook.schema.json "${all[@]}" > "$work/cj.out" 2>&1 || { tail -5 "$work/cj.out"; }
  t1=$(date +%s%N)
  cj_ms=$(( (t1 - t0) / 1000000 ))
  tail -1 "$work/cj.out"
  echo "check-jsonschema, $files files: ${cj_ms} ms"
  echo "ratio: runbook lint is $(( cj_ms / (lint_ms > 0 ? lint_ms : 1) ))x faster"
fi
