#!/usr/bin/env bash
# `make tls-check`: scans a running `herald serve` with Debian's testssl.sh and fails on any
# finding above LOW, except the few that a throw-away test certificate causes by itself.
#
# Usage: scripts/tls-check.sh [build-dir] [out-dir]     (defaults: build, .run/tls-check)
# TLS_CHECK_KEYS="ec rsa" picks the certificate key types scanned, one server each:
#   ec   the certificate `--dev` generates (ECDSA P-256), i.e. what `make run` serves;
#   rsa  an RSA-2048 certificate made here, so that the RSA suites are scanned too.
# Both runs use --dev only for the auto-unsealed key service and the generated certificate:
# the TLS context (protocols, ciphers, groups, options) and the security headers are the
# ones production serves (src/net/tls_context.cpp; --dev changes neither).
set -euo pipefail

BUILD_DIR=${1:-build}
OUT_DIR=${2:-.run/tls-check}
KEYS=${TLS_CHECK_KEYS:-ec rsa}
HERALD="$BUILD_DIR/herald"
TESTSSL=$(command -v testssl || command -v testssl.sh || true)
[ -x "$HERALD" ] || { echo "tls-check: $HERALD not built" >&2; exit 2; }
[ -n "$TESTSSL" ] || { echo "tls-check: testssl not found (scripts/install-deps.sh tls-check)" >&2; exit 2; }
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)

server_pid=""
work=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  [ -n "$work" ] && rm -rf "$work"
}
trap cleanup EXIT

# Starts herald on a free loopback port (port 0, read back from the "listening" log line).
start_server() {
  local data_dir=$1
  shift
  "$HERALD" serve --dev --store.data_dir="$data_dir" --server.listen=127.0.0.1 --server.port=0 \
    --log.format=json "$@" >"$data_dir/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 200); do
    port=$(grep -o '"event":"listening"[^}]*"port":[0-9]*' "$data_dir/server.log" 2>/dev/null | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$data_dir/server.log" >&2; echo "tls-check: herald exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "tls-check: herald did not start listening" >&2
  exit 1
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# Protocols (-p), cipher categories (-s), forward secrecy and curves (-f), server cipher order
# (-P), server defaults and certificate (-S), HTTP security headers (-h) and every
# vulnerability check (-U). Left out: client simulations (-c), which only report, per
# simulated client, what it would negotiate (INFO), and take a minute of their own.
scan() {
  local port=$1 json=$2 log=$3
  rm -f "$json"
  "$TESTSSL" --quiet --color 0 --warnings off --nodns none --connect-timeout 10 --openssl-timeout 10 \
    --jsonfile "$json" -p -s -f -P -S -h -U "127.0.0.1:$port" >"$log" 2>&1 || true
}

work=$(mktemp -d "${TMPDIR:-/tmp}/herald-tls-check.XXXXXX")
reports=()
for key in $KEYS; do
  data_dir="$work/$key"
  mkdir -p "$data_dir"
  case "$key" in
    ec) start_server "$data_dir" ;;
    rsa)
      openssl req -x509 -newkey rsa:2048 -nodes -days 90 -subj "/O=Herald tls-check/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -addext "extendedKeyUsage=serverAuth" \
        -keyout "$data_dir/tls-key.pem" -out "$data_dir/tls-cert.pem" 2>/dev/null
      start_server "$data_dir" --server.tls_cert="$data_dir/tls-cert.pem" --server.tls_key="$data_dir/tls-key.pem"
      ;;
    *) echo "tls-check: unknown key type $key (ec, rsa)" >&2; exit 2 ;;
  esac
  echo "tls-check: scanning $key certificate on 127.0.0.1:$port (a few minutes)"
  scan "$port" "$OUT_DIR/testssl-$key.json" "$OUT_DIR/testssl-$key.txt"
  stop_server
  reports+=("$key=$OUT_DIR/testssl-$key.json")
done

python3 - "${reports[@]}" <<'EOF'
import json, sys
from collections import Counter

FAILING = ("MEDIUM", "HIGH", "CRITICAL")
# Findings that the throw-away, self-signed test certificate causes whatever the server's
# TLS setup is; a deployment's certificate comes from its CA and is judged there.
INHERENT = {
    "cert_chain_of_trust": "self-signed: no CA the scanner trusts issued it",
    "cert_revocation": "no CRL or OCSP URI: a private test certificate has no revocation service",
}
# Checks that must have run; their absence means the scan did not really happen (no
# connection, testssl aborted). HSTS_time is present only when the HTTPS answer has HSTS.
REQUIRED = ["SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_3", "cipherlist_NULL", "cipherlist_EXPORT",
            "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipher_order", "heartbleed", "CCS", "ROBOT",
            "secure_renego", "secure_client_renego", "CRIME_TLS", "BREACH", "POODLE_SSL",
            "fallback_SCSV", "SWEET32", "FREAK", "DROWN", "LOGJAM", "BEAST", "LUCKY13", "RC4",
            "HSTS_time"]
LEVELS = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN", "FATAL", "INFO", "OK"]

failed = False
print("\n%-5s %s" % ("cert", " ".join("%8s" % l for l in LEVELS)))
details = []
for arg in sys.argv[1:]:
    key, path = arg.split("=", 1)
    try:
        findings = json.load(open(path))
    except (OSError, ValueError) as e:
        print("%-5s no usable report (%s)" % (key, e))
        failed = True
        continue
    counts = Counter(f.get("severity", "?") for f in findings)
    print("%-5s %s" % (key, " ".join("%8d" % counts.get(l, 0) for l in LEVELS)))
    ids = {f.get("id") for f in findings}
    for r in REQUIRED:
        if r not in ids:
            details.append((key, "MISSING", r, "the check did not run"))
            failed = True
    for f in findings:
        sev, fid, text = f.get("severity"), f.get("id"), f.get("finding", "")
        if sev in FAILING or sev == "FATAL" or fid == "scanProblem":
            if sev in FAILING and fid in INHERENT:
                details.append((key, sev, fid, "%s [excluded: %s]" % (text, INHERENT[fid])))
            else:
                details.append((key, sev, fid, text))
                failed = True
        elif sev in ("LOW", "WARN"):
            details.append((key, sev, fid, text))
print()
for key, sev, fid, text in details:
    print("%-5s %-8s %-28s %s" % (key, sev, fid, text[:110]))
print("\ntls-check: %s" % ("FAILED: findings above LOW (see above)" if failed else
                          "passed: no finding above LOW besides the excluded certificate ones"))
sys.exit(1 if failed else 0)
EOF
