#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and running Herald need.
# Idempotent and quiet when everything is present. Run as root (or with sudo).
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build ccache make pkg-config git
  # libraries
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev openssl libsqlite3-dev sqlite3
  libspdlog-dev libfmt-dev libtomlplusplus-dev libcli11-dev libgfshare-dev libgfshare-bin
  libcurl4-openssl-dev
  # the postgres store driver: libpq (pipeline mode needs 14+; Debian 12 has 15), and the
  # server the tests start their own throwaway instance of (as the postgres user)
  libpq-dev postgresql
  # the redis broker (cluster mode, part 2): hiredis parses and formats RESP (the I/O is
  # our own, on Asio, so that rediss:// works); redis-server and haproxy for the tests
  libhiredis-dev redis-server redis-tools haproxy
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev curl wrk
  python3-aiosmtpd  # the SMTP server the delivery tests send to
  # formatting and static analysis (make format / make lint)
  clang-format clang-tidy
)
# Optional groups, named on the command line: `install-deps.sh fuzz`.
for group in "$@"; do
  case "$group" in
    fuzz) PACKAGES+=(clang-14 libclang-rt-14-dev) ;;
    # testssl.sh pulls in what it runs (dnsutils, bsdextrautils, procps) as dependencies;
    # python3 reads its JSON report.
    tls-check) PACKAGES+=(testssl.sh python3) ;;
    *) echo "install-deps: unknown group $group" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node and npm run the independent test clients (tests/node). Debian's nodejs and npm
# are installed only when no node or npm is on PATH: a newer one from elsewhere will do.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  for p in nodejs npm; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
