#!/usr/bin/env bash
# Runs every fuzz target in BUILD_DIR for SECONDS each (or only the targets named after them),
# seeded from fuzz/corpus/<name>, with fuzz/<name>.dict when there is one. Prints one summary
# line per target; exits non-zero if any target found a crash, leak or timeout, whose
# reproducer is then in BUILD_DIR/crashes/<name>/ (see docs/testing.md on keeping it).
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-60}
shift $(( $# > 2 ? 2 : $# ))
root=$(cd "$(dirname "$0")/.." && pwd)
failed=()
for bin in "$build"/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  corpus="$build/corpus/$name"; crashes="$build/crashes/$name"; log="$build/fuzz-$name.log"
  mkdir -p "$corpus" "$crashes"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$crashes/" -print_final_stats=1)
  [ -f "$root/fuzz/$name.dict" ] && args+=(-dict="$root/fuzz/$name.dict")
  seeds=()
  [ -d "$root/fuzz/corpus/$name" ] && seeds+=("$root/fuzz/corpus/$name")
  echo "fuzz: $name for ${seconds}s"
  "$bin" "${args[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1 || true
  # A run that stops at once (a seed crashes) prints no coverage: the fields are then "?".
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  units=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  cov=$({ grep -oE 'cov: [0-9]+' "$log" || true; } | tail -1 | cut -d' ' -f2)
  found=$(find "$crashes" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  echo "fuzz: $name execs=${execs:-?} exec/s=${rate:-?} cov=${cov:-?} new_units=${units:-?} failures=$found"
  if [ "$found" -gt 0 ]; then
    grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz invariant failed)' "$log" | head -5 || true
    echo "fuzz: $name found a failing input in $crashes (log: $log)" >&2
    failed+=("$name")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failures in: ${failed[*]}" >&2; exit 1; }
