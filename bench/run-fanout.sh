#!/usr/bin/env bash
# Fan-out comparison under one load generator (bench_fanout, bench/load/fanout.cpp):
# nats-server's WebSocket listener, Herald over ws and Herald over wss, each at 1,000
# and 10,000 subscribers of one channel, a fresh server per run. Prints the figures
# side by side with Herald's ratio to nats-server, and writes every run's JSON, a
# summary (fanout-summary.json) and a table for bench/plot-fanout.sh (fanout.tsv)
# to .run/bench/. docs/benchmarks.md ("Fan-out") explains the figures.
#
#   bench/run-fanout.sh [BUILD_DIR]        # or: make bench-fanout
#
# Optional environment:
#   FANOUT_SUBS="1000 10000"              subscriber counts
#   FANOUT_TARGETS="nats herald-ws herald-wss"
#   FANOUT_DELIVERIES=20000000            deliveries per run: messages = this / subscribers
#   FANOUT_WINDOW=100                     messages in flight (--max-inflight), at every size
#   FANOUT_SIZE=100                       payload bytes
#   FANOUT_THREADS=2                      generator threads
#   FANOUT_TIMEOUT=30                     seconds a run may publish before it is cut short
#   FANOUT_RATE=0                         deliveries/s to offer instead of the closed loop
#                                         (--rate = this / subscribers, no in-flight bound)
#   FANOUT_REPEAT=1                       runs per target and size; the best one is reported
#   FANOUT_OUT=.run/bench                 output directory
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${1:-$ROOT/build}
SUBS=${FANOUT_SUBS:-"1000 10000"}
TARGETS=${FANOUT_TARGETS:-"nats herald-ws herald-wss"}
DELIVERIES=${FANOUT_DELIVERIES:-20000000}
WINDOW=${FANOUT_WINDOW:-100}
SIZE=${FANOUT_SIZE:-100}
THREADS=${FANOUT_THREADS:-2}
TIMEOUT=${FANOUT_TIMEOUT:-30}
RATE=${FANOUT_RATE:-0}
REPEAT=${FANOUT_REPEAT:-1}
OUT=${FANOUT_OUT:-$ROOT/.run/bench}
CHANNEL=bench:fanout
SUBJECT=bench.fanout

log() { printf '%s\n' "$*" >&2; }

# ---- prerequisites -----------------------------------------------------------

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$BUILD_DIR" --target herald bench_fanout
BENCH=$BUILD_DIR/bench/bench_fanout
HERALD=$BUILD_DIR/herald

if [[ " $TARGETS " == *" nats "* ]] && ! command -v nats-server >/dev/null; then
  log "installing nats-server with apt"
  SUDO=
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  if ! apt-cache show nats-server >/dev/null 2>&1; then $SUDO apt-get update -qq; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
fi

# 10,000 subscribers take ~10,050 descriptors in each of the generator and the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
need=$(( $(printf '%s\n' $SUBS | sort -n | tail -1) + 100 ))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  log "warning: open-files limit $(ulimit -n) is below the $need the largest run needs"
fi

mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/herald-fanout.XXXXXX")
SERVER_PID=

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
cleanup() {
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A loopback port nobody listens on, below the ephemeral range so that the
# generator's own connections never take it.
free_port() {
  local p
  for _ in $(seq 1 500); do
    p=$((10000 + RANDOM % 20000))
    if ! port_open "$p"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# Waits until the server listens on $1 (and, for Herald, dev-app.json exists: $2).
wait_ready() {
  local port=$1 file=${2:-}
  for _ in $(seq 1 300); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then return 1; fi
    if port_open "$port" && { [ -z "$file" ] || [ -s "$file" ]; }; then return 0; fi
    sleep 0.1
  done
  return 1
}

# ---- servers -------------------------------------------------------------------

# Sets URL, PROTO, EXTRA (generator flags) and SERVER_PID, or returns 1.
start_nats() {
  local dir=$WORK/nats-$1 ws
  mkdir -p "$dir"
  ws=$(free_port)
  cat >"$dir/nats.conf" <<EOF
listen: "127.0.0.1:$(free_port)"
websocket {
  listen: "127.0.0.1:$ws"
  no_tls: true
}
EOF
  nats-server -c "$dir/nats.conf" >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  if ! wait_ready "$ws"; then
    log "nats-server did not start:"; tail -5 "$dir/server.log" >&2
    return 1
  fi
  URL=ws://127.0.0.1:$ws/
  PROTO=nats
  EXTRA=(--channel "$SUBJECT")
}

start_herald() {
  local tls=$1 name=$2 dir=$WORK/$2 port
  mkdir -p "$dir"
  port=$(free_port)
  # The publisher is a trusted load source: lift the per-connection command rate.
  "$HERALD" serve --dev --store.data_dir="$dir/data" --server.port="$port" --server.tls="$tls" \
    --log.level=warn --log.access=false \
    --namespaces.bench.publish=authenticated --namespaces.bench.history_size=0 \
    --push.commands_per_second=1000000 --push.command_burst=1000000 \
    >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  if ! wait_ready "$port" "$dir/data/dev-app.json"; then
    log "herald did not start:"; tail -5 "$dir/server.log" >&2
    return 1
  fi
  if [ "$tls" = true ]; then URL=wss://127.0.0.1:$port/ws; else URL=ws://127.0.0.1:$port/ws; fi
  PROTO=herald
  EXTRA=(--channel "$CHANNEL" --dev-app "$dir/data/dev-app.json")
}

start_target() {
  case $1 in
    nats) start_nats "$2" ;;
    herald-ws) start_herald false "herald-ws-$2" ;;
    herald-wss) start_herald true "herald-wss-$2" ;;
    *) log "unknown target $1"; return 1 ;;
  esac
}

# ---- runs ----------------------------------------------------------------------

declare -A FIG  # FIG[target,subs,figure]

figure() { awk -v k="fanout.$2" '$1 == k { print $2 }' "$1"; }

for n in $SUBS; do
  messages=$(( DELIVERIES / n ))
  [ "$messages" -ge 1 ] || messages=1
  flow=(--max-inflight "$WINDOW")
  what="at most $WINDOW in flight"
  if [ "$RATE" != 0 ]; then
    rate=$(awk -v r="$RATE" -v n="$n" 'BEGIN { printf "%.3f", r / n }')
    flow=(--rate "$rate" --max-inflight 0)
    what="$rate messages/s"
  fi
  for target in $TARGETS; do
    base=$OUT/fanout-$target-$n
    FIG[$target,$n,status]=failed
    best=
    for r in $(seq 1 "$REPEAT"); do
      log ""
      log "== $target, $n subscribers, $messages messages of $SIZE bytes, $what (run $r of $REPEAT)"
      if ! start_target "$target" "$n"; then
        stop_server
        continue
      fi
      run=$base-run$r
      status=ok
      "$BENCH" --url "$URL" --proto "$PROTO" "${EXTRA[@]}" --subscribers "$n" --messages "$messages" \
        "${flow[@]}" --size "$SIZE" --threads "$THREADS" --timeout "$TIMEOUT" \
        --server-pid "$SERVER_PID" --label "$target-$n" --json "$run.json" | tee "$run.txt" || status=failed
      stop_server
      [ "$status" = ok ] || continue
      # The best of the repetitions stands for the target: the machine may be shared.
      rate_now=$(figure "$run.txt" delivered_per_sec)
      if [ -z "$best" ] || [ "${rate_now:-0}" -gt "$best" ]; then
        best=${rate_now:-0}
        cp "$run.txt" "$base.txt"
        cp "$run.json" "$base.json"
        FIG[$target,$n,status]=ok
      fi
    done
    [ "${FIG[$target,$n,status]}" = ok ] || continue
    for f in delivered_per_sec latency_p99_ms server_rss_per_conn_kib losses timed_out out_of_order gaps \
      disconnects generator_cpu_pct server_cpu_pct machine_cpu_pct; do
      FIG[$target,$n,$f]=$(figure "$base.txt" "$f")
    done
  done
done

# ---- report --------------------------------------------------------------------

# A figure for the table: integers as they are, others with one decimal.
val() {
  local v=${FIG[$1,$2,$3]:-}
  if [ -z "$v" ]; then printf -- '-'
  elif [[ $v == *.* ]]; then awk -v v="$v" 'BEGIN { printf "%.1f", v }'
  else printf '%s' "$v"; fi
}
ratio() {  # herald / nats delivered per second
  local h=${FIG[$1,$2,delivered_per_sec]:-} b=${FIG[nats,$2,delivered_per_sec]:-}
  if [ -n "$h" ] && [ -n "$b" ] && [ "$b" != 0 ]; then awk -v h="$h" -v b="$b" 'BEGIN { printf "%.2f", h / b }'
  else printf -- '-'; fi
}

{
  echo
  if [ "$RATE" != 0 ]; then flow_text="offered $RATE deliveries/s"; else flow_text="at most $WINDOW messages in flight"; fi
  echo "Fan-out: 1 publisher, $SIZE-byte payloads, $THREADS generator threads, $DELIVERIES deliveries per run,"
  echo "$flow_text, best of $REPEAT"
  echo "(msgs/s delivered; p99 publish-to-receive ms; server RSS per connection KiB; x = msgs/s vs nats)"
  printf '%-8s' subs
  for target in $TARGETS; do
    if [ "$target" = nats ]; then printf ' | %-30s' "$target"; else printf ' | %-37s' "$target"; fi
  done
  echo
  printf '%-8s' ""
  for target in $TARGETS; do
    printf ' | %11s %8s %9s' msgs/s p99 KiB/conn
    [ "$target" = nats ] || printf ' %6s' x
  done
  echo
  for n in $SUBS; do
    printf '%-8s' "$n"
    for target in $TARGETS; do
      printf ' | %11s %8s %9s' "$(val "$target" "$n" delivered_per_sec)" "$(val "$target" "$n" latency_p99_ms)" \
        "$(val "$target" "$n" server_rss_per_conn_kib)"
      [ "$target" = nats ] || printf ' %6s' "$(ratio "$target" "$n")"
    done
    echo
  done
  for n in $SUBS; do
    for target in $TARGETS; do
      l=${FIG[$target,$n,losses]:-}
      [ "${FIG[$target,$n,status]:-}" = ok ] || echo "note: $target at $n subscribers did not complete (see $OUT/fanout-$target-$n.txt)"
      if [ "${FIG[$target,$n,timed_out]:-0}" = 1 ]; then
        echo "note: $target at $n subscribers was cut short after ${TIMEOUT}s with $l deliveries outstanding"
      elif [ -n "$l" ] && [ "$l" != 0 ]; then
        echo "note: $target at $n subscribers lost $l deliveries"
      fi
      for f in out_of_order gaps disconnects; do
        v=${FIG[$target,$n,$f]:-0}
        if [ "$v" != 0 ]; then echo "note: $target at $n subscribers: $f $v"; fi
      done
    done
  done
  echo "CPU (% of one core; generator / server / whole machine):"
  for n in $SUBS; do
    for target in $TARGETS; do
      printf '  %-11s %6s subs: %s / %s / %s\n' "$target" "$n" "$(val "$target" "$n" generator_cpu_pct)" \
        "$(val "$target" "$n" server_cpu_pct)" "$(val "$target" "$n" machine_cpu_pct)"
    done
  done
} | tee "$OUT/fanout-table.txt"

# Summary for tools: one object per run, and a table for the plot script.
{
  printf 'target\tsubscribers\tdelivered_per_sec\tlatency_p99_ms\tserver_rss_per_conn_kib\tlosses\n'
  for n in $SUBS; do
    for target in $TARGETS; do
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$n" "${FIG[$target,$n,delivered_per_sec]:--}" \
        "${FIG[$target,$n,latency_p99_ms]:--}" "${FIG[$target,$n,server_rss_per_conn_kib]:--}" \
        "${FIG[$target,$n,losses]:--}"
    done
  done
} >"$OUT/fanout.tsv"
{
  printf '{"bench":"fanout","size":%s,"threads":%s,"deliveries_per_run":%s,"window":%s,' \
    "$SIZE" "$THREADS" "$DELIVERIES" "$WINDOW"
  printf '"offered_deliveries_per_sec":%s,"repeat":%s,"runs":[' "$RATE" "$REPEAT"
  sep=
  for n in $SUBS; do
    for target in $TARGETS; do
      f=$OUT/fanout-$target-$n.json
      if [ "${FIG[$target,$n,status]:-}" = ok ] && [ -s "$f" ]; then printf '%s%s' "$sep" "$(cat "$f")"
      else printf '%s{"label":"%s-%s","status":"failed"}' "$sep" "$target" "$n"; fi
      sep=,
    done
  done
  printf ']}\n'
} >"$OUT/fanout-summary.json"
log ""
log "JSON: $OUT/fanout-summary.json (per run: $OUT/fanout-<target>-<subscribers>.json)"
