#!/usr/bin/env bash
# Fuzzes the loader, every lint rule and the human report for longer than CI does (the same
# properties run with 512 cases in `cargo test`), and says how long it ran. Edits include
# multi-byte spaces (NBSP, U+2028, U+3000), `!!binary` tags, unknown filters and includes.
# Usage: scripts/fuzz-lint.sh [CASES]   (default 100000 cases per property)
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-100000}"
start=$(date +%s)
PROPTEST_CASES="$cases" cargo test --release --quiet --test fuzz_lint
end=$(date +%s)
echo "fuzz: 2 properties x $cases cases, $((end - start)) s, no panic"
