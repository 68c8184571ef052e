#!/usr/bin/env bash
# bench/messages/run.sh - miaw beside Baileys 7.0.0-rc14 through one miaw-sim, same run,
# loopback: (1) RSS per connected idle instance (default 1000 miaw instances, 100 Baileys
# sockets in one Node process), (2) end-to-end text messages/s (REST call -> encrypted ->
# miaw-sim -> decrypted by the recipient's simulated phone) with 1 and with 100 senders.
# Prints both tables and the ratios. Builds nothing: needs <build>/miaw, <build>/miaw-sim,
# <build>/plugins and tests/interop/node_modules (npm install there). Everything started
# here is stopped on exit, and the whole run is bounded by BENCH_TIMEOUT.
# Usage: run.sh [BUILD_DIR]   (default: build, relative to the repository root)
# Environment (defaults in brackets):
#   BENCH_PARTS [rss,msgs]          which parts to run (also: restart - miaw serve restarted with all paired)
#   BENCH_TLS [0]                   1: both sides reach the simulator over wss:// (its CA trusted)
#   BENCH_INSTANCES [1000]          miaw instances for the RSS figure
#   BENCH_BAILEYS [100]             Baileys sockets for the RSS figure
#   BENCH_IDLE_SECONDS [15]         idle time before reading RSS
#   BENCH_MSG_INSTANCES [1,100]     sender counts for messages/s (each sender has its own peer), e.g. 1,1000
#   BENCH_BAILEYS_MAX_SENDERS [0]   Baileys runs min(senders, this) senders (0: no cap; its one Node process
#                                   cannot hold thousands of sockets), e.g. 200 beside 1000 miaw senders
#   BENCH_MSGS_1 [600]              messages in the single-sender run (< 900)
#   BENCH_INFLIGHT_1 [8]            messages in flight for the single sender
#   BENCH_MSGS_PER_SENDER [20]      messages per sender in the multi-sender runs (< 900)
#   BENCH_INFLIGHT_PER [1]          messages in flight per sender in those runs
#   BENCH_ROUNDS [1]                rounds (miaw and Baileys alternate; ratio = median per round)
#   BENCH_PAIR_CONCURRENCY [20]     pairings in progress at once (each side)
#   BENCH_BAILEYS_HEAP_MB [8192]    the Baileys process' --max-old-space-size (V8's default, ~4 GB, ran out
#                                   pairing 200 sockets beside 10,000 miaw instances)
#   BENCH_BAILEYS_PAIR_TIMEOUT [300] seconds for pairing the Baileys sockets; the run goes on with those open
#                                   (if the Baileys process dies, that is reported and miaw is still measured)
#   BENCH_CONNECT_TIMEOUT [600]     seconds to wait for every instance to be connected
#   BENCH_RUN_TIMEOUT [180]         seconds per timed message run
#   BENCH_TIMEOUT [3600]            seconds for the whole run
#   MIAW_WA_HANDSHAKES_PER_SEC [200] miaw's global handshake rate limit (its default is 20)
#   BENCH_LOG_LEVEL []              LOG_LEVEL for miaw (empty: its default); BENCH_MIAW_LOG: its log file
#   BENCH_SIM_BIN [<build>/miaw-sim] the simulator binary; BENCH_SIM_LOG_LEVEL [warn]
#   BENCH_BAILEYS_AUTH [files]      Baileys auth state: files (useMultiFileAuthState) or memory
#   BENCH_KEEP_TMP []               keep the temporary directory (logs, data) when set
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-${MIAW_BUILD_DIR:-build}}
case $build in /*) ;; *) build="$root/$build" ;; esac
for f in "$build/miaw" "${BENCH_SIM_BIN:-$build/miaw-sim}"; do
  [ -x "$f" ] || { echo "missing $f (build it first)" >&2; exit 2; }
done
[ -d "$build/plugins" ] || { echo "missing $build/plugins" >&2; exit 2; }
[ -d "$root/tests/interop/node_modules/@whiskeysockets/baileys" ] ||
  { echo "missing tests/interop/node_modules (cd tests/interop && npm install)" >&2; exit 2; }
command -v node >/dev/null || { echo "missing node (20 or later)" >&2; exit 2; }

# every connected instance is a socket in miaw and one in the simulator (and Baileys');
# take the hard limit for the file descriptors
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
need=$(( ${BENCH_INSTANCES:-1000} + ${BENCH_BAILEYS:-100} + 256 ))
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$need" ] ||
  echo "warning: ulimit -n is $(ulimit -n), about $need file descriptors are needed" >&2

export MIAW_BUILD_DIR="$build" BENCH_NOFILE="$(ulimit -n)"
# node stops its children on SIGTERM; timeout sends it, then SIGKILL 20 s later
exec timeout -k 20 "${BENCH_TIMEOUT:-3600}" node "$here/bench.mjs"
