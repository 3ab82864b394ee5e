#!/usr/bin/env bash
# Runs every fuzz target in BUILD_DIR for SECONDS each, seeded from fuzz/corpus/<name>.
# Exits non-zero on the first crash; the reproducer is in BUILD_DIR/crashes/<name>/.
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
for bin in "$build"/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  corpus="$build/corpus/$name"; crashes="$build/crashes/$name"
  mkdir -p "$corpus" "$crashes"
  seeds=()
  [ -d "$root/fuzz/corpus/$name" ] && seeds+=("$root/fuzz/corpus/$name")
  echo "fuzz: $name for ${seconds}s"
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$crashes/" \
    -print_final_stats=1 "$corpus" "${seeds[@]}" 2>&1 | grep -E "^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY)" || true
  if ls "$crashes"/crash-* "$crashes"/leak-* "$crashes"/timeout-* >/dev/null 2>&1; then
    echo "fuzz: $name found a failing input in $crashes" >&2
    exit 1
  fi
done
