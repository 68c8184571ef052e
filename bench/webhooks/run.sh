#!/bin/sh
# bench/webhooks/run.sh - webhook delivery throughput, miaw vs a minimal Node dispatcher,
# in one run. Uses the miaw binary of MIAW_BUILD_DIR (default: build). Knobs:
# see the head of bench.mjs (BENCH_INSTANCES, BENCH_EVENTS, BENCH_ROUNDS, BENCH_CONNS,
# BENCH_KILL, BENCH_PROFILE).
set -e
cd "$(dirname "$0")/../.."
exec node bench/webhooks/bench.mjs
