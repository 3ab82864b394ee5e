#!/usr/bin/env bash
# What signing costs: the signed publish route against the same route with signing
# disabled (a development-only setting), at CLIENTS concurrent clients x LOOPS requests
# each. Two servers run side by side and the runs alternate between them, REPEATS
# times; the medians and their ratio are printed, and JSON goes to .run/bench/api.json.
set -euo pipefail
build=${1:-build}
CLIENTS=${CLIENTS:-800}
LOOPS=${LOOPS:-10}
REPEATS=${REPEATS:-7}
THREADS=${THREADS:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.run/bench"
mkdir -p "$out"
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# Starts a server in this shell (so that the EXIT trap knows its pid) and sets $port.
start() {  # name, extra flags...
  local name=$1; shift
  "$root/$build/herald" serve --dev --store.data_dir="$tmp/$name" --server.port=0 --log.format=json \
    --log.level=info --log.access=false --namespaces.bench.history_size=0 "$@" >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  port=""
  for _ in $(seq 1 100); do
    port=$(grep -o '"event":"listening"[^}]*"port":[0-9]*' "$tmp/$name.log" 2>/dev/null | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && return
    sleep 0.1
  done
  echo "run-api: $name did not start" >&2; cat "$tmp/$name.log" >&2; exit 1
}

start signed; signed_port=$port
start unsigned --api.require_signature=false; unsigned_port=$port
echo "api: $CLIENTS clients x $LOOPS loops, $REPEATS runs each, servers on $signed_port (signed) and $unsigned_port (unsigned)"

run() {  # port, sign, app dir, label
  "$root/$build/bench/bench_api" --port "$1" --sign "$2" --dev-app "$tmp/$3/dev-app.json" \
    --clients "$CLIENTS" --loops "$LOOPS" --threads "$THREADS" --json "$tmp/$4.json" --label "$4" |
    awk '/^api.requests_per_sec/ {print $2}'
}

signed=(); unsigned=()
for i in $(seq 1 "$REPEATS"); do
  signed+=("$(run "$signed_port" true signed "signed-$i")")
  unsigned+=("$(run "$unsigned_port" false unsigned "unsigned-$i")")
  echo "  run $i: signed ${signed[-1]} req/s, unsigned ${unsigned[-1]} req/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms=$(median "${signed[@]}"); mu=$(median "${unsigned[@]}")
ratio=$(awk -v s="$ms" -v u="$mu" 'BEGIN {printf "%.3f", s / u}')
echo "api.signed_requests_per_sec $ms"
echo "api.unsigned_requests_per_sec $mu"
echo "api.signed_over_unsigned $ratio"
printf '{"clients":%s,"loops":%s,"repeats":%s,"signed_rps":[%s],"unsigned_rps":[%s],"signed_median":%s,"unsigned_median":%s,"ratio":%s}\n' \
  "$CLIENTS" "$LOOPS" "$REPEATS" "$(IFS=,; echo "${signed[*]}")" "$(IFS=,; echo "${unsigned[*]}")" "$ms" "$mu" "$ratio" \
  >"$out/api.json"
