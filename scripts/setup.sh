#!/usr/bin/env bash
# Installs everything miaw needs (Debian packages, local npm packages) and builds it.
# Usage: scripts/setup.sh [build-dir] [extra cmake args...]. Idempotent and quiet when done.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}; shift || true
scripts/deps.sh
npm_install() { # dir
  if [ ! -d "$1/node_modules" ] || [ "$1/package.json" -nt "$1/node_modules" ]; then
    (cd "$1" && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi) >/dev/null
    touch "$1/node_modules"
  fi
}
npm_install web
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
if ! cmake --build "$BUILD" -j"$(nproc)" > "$BUILD/build.log" 2>&1; then
  grep -E "error|Error" -A3 "$BUILD/build.log" | head -60
  echo "setup: build failed (full log: $BUILD/build.log)" >&2
  exit 1
fi
