#!/usr/bin/env bash
# Fuzzes the loader and every lint rule for longer than CI does, and says how long it ran.
# Usage: scripts/fuzz-lint.sh [CASES]   (default 100000 cases per property)
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-100000}"
start=$(date +%s)
PROPTEST_CASES="$cases" cargo test --release --quiet --test fuzz_lint
end=$(date +%s)
echo "fuzz: 2 properties x $cases cases, $((end - start)) s, no panic"
