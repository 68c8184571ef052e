#!/usr/bin/env bash
# README command 2: installs what is needed, builds, and runs every suite: unit (CUnit),
# integration (real miaw serve over loopback), interop (Baileys), all again under
# ASan+UBSan, and each fuzzer for a bounded time. Ends with one summary line; exits
# non-zero when anything failed. FUZZ_SECONDS (default 20) bounds each fuzzer.
# --quick: the inner loop - build, unit and integration only (no interop, no sanitizer
# pass, no fuzzers); what CI runs is the full command.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
declare -a RESULTS=()
FAILED=0
note() { RESULTS+=("$1"); echo "== $1"; }
stage() { # name, command...
  local name=$1; shift
  echo "== running $name"
  local start=$(date +%s)
  if "$@"; then note "$name: ok ($(( $(date +%s) - start ))s)"; else note "$name: FAILED"; FAILED=1; fi
}

scripts/setup.sh build || { echo "TOTAL: FAILED (setup/build)"; exit 1; }
npm_install() {
  (cd "$1" && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi) >/dev/null
}
npm_install tests/integration || { echo "TOTAL: FAILED (npm tests/integration)"; exit 1; }
[ $QUICK -eq 1 ] || npm_install tests/interop || { echo "TOTAL: FAILED (npm tests/interop)"; exit 1; }

node_suite() { # build-dir, dir
  local files
  files=$(ls "$2"/*.test.mjs 2>/dev/null) || true
  [ -z "$files" ] && return 0
  MIAW_BUILD_DIR=$1 node --test --test-concurrency=1 $files
}

stage "unit" ctest --test-dir build -L unit --output-on-failure
stage "integration" node_suite build tests/integration
if [ $QUICK -eq 1 ]; then
  echo
  printf '%s\n' "${RESULTS[@]}"
  if [ $FAILED -eq 0 ]; then echo "TOTAL: PASS (${#RESULTS[@]} stages, quick)"; else echo "TOTAL: FAILED (quick)"; fi
  exit $FAILED
fi
stage "interop" node_suite build tests/interop

# sanitizer build: the same suites under ASan+UBSan
if cmake -S . -B build-asan -DMIAW_SANITIZE=ON -DMIAW_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null &&
   cmake --build build-asan -j"$(nproc)" >/dev/null; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  stage "unit (asan)" ctest --test-dir build-asan -L unit --output-on-failure
  stage "integration (asan)" node_suite build-asan tests/integration
  stage "interop (asan)" node_suite build-asan tests/interop
  unset ASAN_OPTIONS UBSAN_OPTIONS
else
  note "asan build: FAILED"; FAILED=1
fi

# fuzzers (clang + libFuzzer), each for a bounded time
run_fuzzers() {
  cmake -S . -B build-fuzz -DMIAW_FUZZ=ON -DMIAW_BENCH=OFF -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug >/dev/null &&
    cmake --build build-fuzz -j"$(nproc)" >/dev/null || return 1
  local f rc=0
  for f in build-fuzz/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    local corpus="tests/fuzz/corpus/$(basename "$f")"
    local work; work=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
    echo "-- $(basename "$f") for ${FUZZ_SECONDS}s"
    if ! "$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -print_final_stats=0 "$work" > "$work.log" 2>&1; then
      tail -40 "$work.log"; rc=1
    fi
    rm -rf "$work" "$work.log"
  done
  return $rc
}
stage "fuzz (${FUZZ_SECONDS}s each)" run_fuzzers

echo
printf '%s\n' "${RESULTS[@]}"
if [ $FAILED -eq 0 ]; then echo "TOTAL: PASS (${#RESULTS[@]} stages)"; else echo "TOTAL: FAILED"; fi
exit $FAILED
