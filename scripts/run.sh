#!/usr/bin/env bash
# README command 1: install, build, and start `miaw serve` with config/miaw.yaml
# (sqlite under ./data). Extra arguments go to `miaw serve`, e.g. --port 3001.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
exec build/miaw serve --config config/miaw.yaml "$@"
