// bench/codec/baileys.mjs - the same measurement as codec.c with Baileys' encoder and
// decoder: nodes/s over the frames in the file given (one hex frame per line). Decoding
// uses Baileys' synchronous decoder on the uncompressed node (its fastest path).
// Prints one JSON line.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const interop = path.resolve(here, '../../tests/interop/node_modules/@whiskeysockets/baileys/lib');
const { encodeBinaryNode, decodeDecompressedBinaryNode } = await import(path.join(interop, 'WABinary/index.js'));
const constants = await import(path.join(interop, 'WABinary/constants.js'));

const file = process.argv[2];
const secs = Number(process.argv[3] || 2);
const frames = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((h) => Buffer.from(h, 'hex'));
const nodes = frames.map((f) => decodeDecompressedBinaryNode(f.subarray(1), constants));

let count = 0, sink = 0, t0 = process.hrtime.bigint(), t;
const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e9;
do {
  for (const n of nodes) sink += encodeBinaryNode(n).length;
  count += nodes.length;
} while ((t = elapsed()) < secs);
const enc = count / t;

count = 0; t0 = process.hrtime.bigint();
do {
  for (const f of frames) sink += decodeDecompressedBinaryNode(f.subarray(1), constants).tag.length;
  count += frames.length;
} while ((t = elapsed()) < secs);
const dec = count / t;
const bytes = frames.reduce((a, f) => a + f.length, 0);
console.log(JSON.stringify({ impl: 'baileys', nodes: frames.length, avg_bytes: +(bytes / frames.length).toFixed(1),
  encode_nodes_per_s: Math.round(enc), decode_nodes_per_s: Math.round(dec), sink: sink % 10 }));
