#!/bin/sh
# bench/webhooks/run.sh - webhook delivery throughput, miaw vs a minimal Node dispatcher,
# in one run. Uses the miaw binary of MIAW_BUILD_DIR (default: build). Knobs:
# BENCH_INSTANCES (8), BENCH_EVENTS_PER_INSTANCE (2500).
set -e
cd "$(dirname "$0")/../.."
exec node bench/webhooks/bench.mjs
