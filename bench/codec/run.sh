#!/bin/sh
# bench/codec/run.sh - binary node codec throughput, miaw (C) beside Baileys (Node) in the
# same run, over the same realistic stanza mix. Builds nothing: needs
# $MIAW_BUILD_DIR/bench/bench_codec_codec (default build dir: build) and the interop
# test's npm install (tests/interop/node_modules). Usage: run.sh [seconds-per-phase]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${MIAW_BUILD_DIR:-build}
case $build in /*) ;; *) build="$root/$build" ;; esac
secs=${1:-2}
bin="$build/bench/bench_codec_codec"
[ -x "$bin" ] || { echo "missing $bin (build target bench_codec_codec)" >&2; exit 2; }
[ -d "$root/tests/interop/node_modules/@whiskeysockets/baileys" ] ||
  { echo "missing Baileys: run npm install in tests/interop" >&2; exit 2; }
mix=$(mktemp)
trap 'rm -f "$mix"' EXIT
node "$here/mix.mjs" "$mix"
c=$("$bin" "$mix" "$secs")
b=$(node "$here/baileys.mjs" "$mix" "$secs")
echo "$c"
echo "$b"
node -e '
const c = JSON.parse(process.argv[1]), b = JSON.parse(process.argv[2]);
const f = (x) => x.toLocaleString("en-US");
console.log(`mix: ${c.nodes} stanzas, ${c.avg_bytes} bytes on average`);
console.log(`encode: miaw ${f(c.encode_nodes_per_s)} nodes/s, Baileys ${f(b.encode_nodes_per_s)} nodes/s, ratio ${(c.encode_nodes_per_s / b.encode_nodes_per_s).toFixed(2)}x`);
console.log(`decode: miaw ${f(c.decode_nodes_per_s)} nodes/s, Baileys ${f(b.decode_nodes_per_s)} nodes/s, ratio ${(c.decode_nodes_per_s / b.decode_nodes_per_s).toFixed(2)}x`);
' "$c" "$b"
