#!/usr/bin/env bash
# bench/contacts/run.sh - number checks at volume, miaw beside Baileys 7.0.0-rc14 through
# one miaw-sim, same run, loopback: 10,000 numbers through POST /contacts/check-batch (500
# per call) and through Baileys' onWhatsApp (500 per call); numbers/s, usync queries sent,
# and the same accounts found by both. Builds nothing: needs <build>/miaw, <build>/miaw-sim,
# <build>/plugins and tests/interop/node_modules. Everything started here is stopped on exit.
# Usage: run.sh [BUILD_DIR]   (default: build, relative to the repository root)
# Environment (defaults in brackets):
#   BENCH_NUMBERS [10000]     numbers per round
#   BENCH_EXISTING [200]      of them, accounts on the simulated network
#   BENCH_CONCURRENCY [1]     batch calls in flight (each side)
#   BENCH_USYNC_CHUNK [100]   numbers per usync query (the contacts plugin's usync_chunk)
#   BENCH_ROUNDS [3]          rounds, miaw and Baileys alternating; figures are medians
#   BENCH_TIMEOUT [900]       seconds for the whole run
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-${MIAW_BUILD_DIR:-build}}
case $build in /*) ;; *) build="$root/$build" ;; esac
for f in "$build/miaw" "$build/miaw-sim" "$build/plugins/contacts.so"; do
  [ -e "$f" ] || { echo "missing $f (build it first)" >&2; exit 2; }
done
[ -d "$root/tests/interop/node_modules/@whiskeysockets/baileys" ] ||
  { echo "missing tests/interop/node_modules (cd tests/interop && npm install)" >&2; exit 2; }
export MIAW_BUILD_DIR="$build"
exec timeout -k 20 "${BENCH_TIMEOUT:-900}" node "$here/check.mjs"
