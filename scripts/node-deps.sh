#!/usr/bin/env bash
# Installs the packages of the node test clients (tests/node: ws, jose) from the lock
# file, when node_modules is missing or older than package-lock.json. Quiet otherwise.
set -euo pipefail

dir="$(cd "$(dirname "$0")/.." && pwd)/tests/node"
if [ -d "$dir/node_modules" ] && [ ! "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "node-deps: npm is not installed; run scripts/install-deps.sh" >&2; exit 1; }
echo "node-deps: npm ci in tests/node"
(cd "$dir" && npm ci --no-audit --no-fund)
# npm ci may keep an older directory time; mark it as fresh for the check above.
touch "$dir/node_modules"
