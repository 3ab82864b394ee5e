#!/usr/bin/env bash
# Key service figures: AES-256-GCM on this machine (openssl speed, the ceiling), the
# key service in process (bench_kms), through the signed API (bench_api --route
# kms-encrypt), and what encryption at rest costs durable writes. JSON in .run/bench/.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.run/bench"
mkdir -p "$out"
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

echo "== openssl speed -evp aes-256-gcm -bytes 1024 (one core)"
openssl speed -evp aes-256-gcm -bytes 1024 -seconds 3 2>/dev/null | awk '/^AES-256-GCM|^aes-256-gcm/ {
  v=$NF; sub(/k$/, "", v); printf "openssl.aes_256_gcm_1k_per_sec %.0f\nopenssl.aes_256_gcm_mb_per_sec %.1f\n", v*1000/1024, v*1000/1e6 }'

echo "== in process, and durable writes plain vs sealed"
"$root/$build/bench/bench_kms" --dir "$tmp/kms" | tee "$out/kms.txt"

echo "== through the signed API (64 clients x 200 encrypts of 1 KiB, keep-alive)"
"$root/$build/herald" serve --dev --store.data_dir="$tmp/server" --server.port=0 --log.format=json \
  --log.access=false >"$tmp/server.log" 2>&1 &
pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(grep -o '"event":"listening"[^}]*"port":[0-9]*' "$tmp/server.log" 2>/dev/null | grep -o '[0-9]*$' || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/server.log" >&2; exit 1; }
"$root/$build/bench/bench_api" --port "$port" --route kms-encrypt --size 1024 --clients 64 --loops 200 \
  --dev-app "$tmp/server/dev-app.json" --json "$out/kms-api.json" |
  sed -n 's/^api\.requests_per_sec/kms.api_encrypt_per_sec/p; s/^api\.latency_p99_ms/kms.api_encrypt_p99_ms/p'
