#!/usr/bin/env bash
# bench/run-all.sh - the regression guard: every bench group at a short setting, one after
# the other, then one table of the ratios they printed (miaw against the peer measured in
# the same run), beside the ratios of the previous run-all on this build directory, so a
# change that loses a ratio shows. The short settings trade precision for time (about
# 10 minutes in all); the figures quoted in bench/README.md come from the full runs.
# Builds nothing: needs an optimised build (scripts/setup.sh) and tests/interop/node_modules.
# Usage: bench/run-all.sh [BUILD_DIR]   (default: build)
# Environment: BENCH_GROUPS [codec,http,webhooks,messages,messages-tls,media] to run a subset.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-${MIAW_BUILD_DIR:-build}}
case $build in /*) ;; *) build="$root/$build" ;; esac
[ -x "$build/miaw" ] || { echo "missing $build/miaw (build it first)" >&2; exit 2; }
export MIAW_BUILD_DIR="$build"
groups=${BENCH_GROUPS:-codec,http,webhooks,messages,messages-tls,media}
out=$(mktemp -d "${TMPDIR:-/tmp}/miaw-run-all-XXXXXX")
trap 'rm -rf "$out"' EXIT
last="$build/bench-ratios.txt"

run() { # name, command...
  local name=$1; shift
  case ",$groups," in *",$name,"*) ;; *) return 0 ;; esac
  echo "== $name: $*" >&2
  local start=$(date +%s)
  if "$@" >"$out/$name.log" 2>"$out/$name.err"; then
    echo "   done in $(( $(date +%s) - start )) s" >&2
  else
    echo "   FAILED (exit $?) after $(( $(date +%s) - start )) s; last lines:" >&2
    tail -5 "$out/$name.err" >&2
  fi
}

run codec sh "$here/codec/run.sh" 2
run http env BENCH_SECONDS=4 BENCH_WARMUP=1 BENCH_ROUNDS=1 bash "$here/http/run.sh" "$build"
run webhooks env BENCH_INSTANCES=8 BENCH_EVENTS=4000 BENCH_ROUNDS=1 BENCH_KILL=0 sh "$here/webhooks/run.sh"
run messages env BENCH_PARTS=rss,msgs BENCH_INSTANCES=100 BENCH_BAILEYS=10 BENCH_IDLE_SECONDS=5 \
  BENCH_MSG_INSTANCES=1,10 BENCH_MSGS_1=200 BENCH_MSGS_PER_SENDER=10 bash "$here/messages/run.sh" "$build"
run messages-tls env BENCH_TLS=1 BENCH_PARTS=rss,restart BENCH_INSTANCES=100 BENCH_BAILEYS=10 BENCH_IDLE_SECONDS=5 \
  bash "$here/messages/run.sh" "$build"
run media env BENCH_IMAGES=40 BENCH_DOC_MB=10 node "$here/messages/media.mjs"

# every line a bench printed with a ratio in it, keyed by group and the line's own label
table=$(for f in "$out"/*.log; do
  [ -e "$f" ] || continue
  g=$(basename "$f" .log)
  grep -iE "ratio|[0-9]x +\(" "$f" | sed -E 's/[[:space:]]+/ /g' | while read -r line; do
    val=$(grep -oE '[0-9]+\.[0-9]+x?' <<<"${line#*ratio}" | head -1)
    key=$(sed -E 's/[0-9]+(\.[0-9]+)?/#/g' <<<"$line") # the line's label, figures blanked
    printf '%s\t%s\t%s\t%s\n' "$g" "${val%x}" "$key" "$line"
  done
done)
echo
echo "ratios (miaw / peer in the same run; previous run-all on this build in brackets)"
printf '%-13s %9s %11s  %s\n' group ratio previous line
while IFS=$'\t' read -r g v key line; do
  [ -n "$g" ] || continue
  prev=$( [ -f "$last" ] && awk -F'\t' -v g="$g" -v k="$key" '$1==g && $3==k {print $2}' "$last" | head -1)
  printf '%-13s %9s %11s  %s\n' "$g" "$v" "${prev:+[$prev]}" "$line"
done <<<"$table"
[ -n "$table" ] && printf '%s\n' "$table" >"$last"
echo "(saved as $last)"
