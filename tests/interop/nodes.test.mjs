// tests/interop/nodes.test.mjs - binary node interop: Baileys' encoder/decoder against
// miaw's C codec (tests/tools/nodecodec.c). For every node of a realistic stanza mix and
// a seeded random set: bytes encoded by Baileys decode in C to the same tree and C
// re-encodes them to the same bytes; the tree encoded by C decodes in Baileys to an
// equal tree (and, for the forms Baileys itself writes, to identical bytes).
// Run: MIAW_BUILD_DIR=<build> node --test tests/interop/nodes.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { encodeBinaryNode, decodeBinaryNode } from '@whiskeysockets/baileys';
import { SINGLE_BYTE_TOKENS, DOUBLE_BYTE_TOKENS } from '@whiskeysockets/baileys/lib/WABinary/constants.js';
import { makeRng, realisticNodes, randomNode, cOnlyJidNodes } from './nodegen.mjs';

const buildDir = path.resolve(process.env.MIAW_BUILD_DIR || 'build');
const codec = path.join(buildDir, 'tools', 'nodecodec');

function runCodec(lines) {
  const r = spawnSync(codec, [], { input: lines.join('\n') + '\n', maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, `nodecodec exited with ${r.status}: ${r.stderr}`);
  const out = r.stdout.toString().trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(out.length, lines.length);
  return out;
}

// Baileys' string for a JID the C side reports (what Baileys' decoder yields for those bytes).
function baileysJid(j) {
  switch (j.kind) {
    case 'pair': return `${j.user}@${j.server}`;
    case 'ad': return `${j.user}${j.device ? ':' + j.device : ''}@${j.server}`;
    case 'fb': return `${j.user}:${j.device}@${j.server}`;
    case 'interop': return `${j.integrator}-${j.user}:${j.device}@${j.server}`;
    default: throw new Error('unknown jid kind ' + j.kind);
  }
}

// C JSON tree -> the plain shape used for comparison.
function fromC(n) {
  const attrs = {};
  for (const [k, v] of n.attrs) attrs[k] = typeof v === 'string' ? v : baileysJid(v.jid);
  const out = { tag: n.tag, attrs, keys: n.attrs.map(([k]) => k) };
  const c = n.content;
  if (Array.isArray(c)) out.content = c.map(fromC);
  else if (c && c.bytes !== undefined) out.content = { bytes: c.bytes };
  else if (c && c.string !== undefined) out.content = { string: c.string };
  else if (c && c.jid !== undefined) out.content = { string: baileysJid(c.jid) };
  return out;
}

// Baileys tree -> the same plain shape.
function fromB(n) {
  const attrs = {};
  for (const [k, v] of Object.entries(n.attrs || {})) if (v !== undefined && v !== null) attrs[k] = v;
  const out = { tag: n.tag, attrs, keys: Object.keys(attrs) };
  const c = n.content;
  if (Array.isArray(c)) out.content = c.map(fromB);
  else if (Buffer.isBuffer(c) || c instanceof Uint8Array) out.content = { bytes: Buffer.from(c).toString('hex') };
  else if (typeof c === 'string') out.content = { string: c };
  return out;
}

// Baileys tree -> C JSON input. Attribute values and string contents that Baileys writes as
// JIDs (strings with '@' that are neither tokens nor packable) are marked as JIDs.
const tokenSet = new Set([...SINGLE_BYTE_TOKENS.slice(1), ...DOUBLE_BYTE_TOKENS.flat()]);
const baileysWritesJid = (s) => s.includes('@') && !tokenSet.has(s);
function toC(n) {
  const attrs = Object.entries(n.attrs || {})
    .filter(([, v]) => typeof v === 'string')
    .map(([k, v]) => [k, baileysWritesJid(v) ? { jid: v } : v]);
  const out = { tag: n.tag, attrs };
  const c = n.content;
  if (Array.isArray(c)) out.content = c.map(toC);
  else if (Buffer.isBuffer(c) || c instanceof Uint8Array) out.content = { bytes: Buffer.from(c).toString('hex') };
  else if (typeof c === 'string') out.content = baileysWritesJid(c) ? { jid: c } : { string: c };
  return out;
}

function corpus() {
  const rng = makeRng(0x6d696177);
  const nodes = realisticNodes(rng);
  while (nodes.length < 700) nodes.push(randomNode(rng, 0));
  return nodes;
}

test('nodecodec tool is built', () => {
  assert.ok(existsSync(codec), `missing ${codec}: build the tool_nodecodec target (MIAW_BUILD_DIR=${buildDir})`);
});

test('Baileys-encoded nodes decode in C to the same tree and re-encode to the same bytes', async () => {
  const nodes = corpus();
  const frames = nodes.map((n) => encodeBinaryNode(n));
  const answers = runCodec(frames.map((f) => 'D ' + f.toString('hex')));
  let checked = 0;
  for (let i = 0; i < nodes.length; i++) {
    const a = answers[i];
    assert.ok(a.ok, `node ${i}: C failed to decode (${a.err}): ${frames[i].toString('hex')}`);
    assert.equal(a.hex, frames[i].toString('hex'), `node ${i}: re-encoded bytes differ`);
    const b = await decodeBinaryNode(frames[i]);
    assert.deepEqual(fromC(a.node), fromB(b), `node ${i}: trees differ`);
    checked++;
  }
  assert.ok(checked >= 500, `only ${checked} nodes`);
});

test('C-encoded nodes decode in Baileys to an equal tree (and the same bytes)', async () => {
  const nodes = corpus();
  const answers = runCodec(nodes.map((n) => 'E ' + JSON.stringify(toC(n))));
  for (let i = 0; i < nodes.length; i++) {
    const a = answers[i];
    assert.ok(a.ok, `node ${i}: C failed to encode (${a.err}): ${JSON.stringify(toC(nodes[i]))}`);
    const bytes = Buffer.from(a.hex, 'hex');
    const want = encodeBinaryNode(nodes[i]);
    assert.equal(a.hex, want.toString('hex'), `node ${i}: C bytes differ from Baileys' bytes`);
    const b = await decodeBinaryNode(bytes);
    assert.deepEqual(fromB(b), fromB(await decodeBinaryNode(want)), `node ${i}: trees differ`);
  }
});

test('JID forms only C writes (FB, interop, agent) decode in Baileys as their strings', async () => {
  const cases = cOnlyJidNodes();
  const answers = runCodec(cases.map((c) => 'E ' + JSON.stringify(c.c)));
  for (let i = 0; i < cases.length; i++) {
    assert.ok(answers[i].ok, `case ${i}: ${answers[i].err}`);
    const b = await decodeBinaryNode(Buffer.from(answers[i].hex, 'hex'));
    assert.deepEqual(fromB(b), fromB(cases[i].b), `case ${i}`);
    const back = runCodec(['D ' + answers[i].hex])[0];
    assert.equal(back.hex, answers[i].hex, `case ${i}: C re-encoding`);
  }
});

test('compressed frames from Node zlib decode in C', async () => {
  const { deflateSync } = await import('node:zlib');
  const rng = makeRng(7);
  const nodes = realisticNodes(rng).slice(0, 50);
  const frames = nodes.map((n) => {
    const raw = encodeBinaryNode(n);
    return Buffer.concat([Buffer.from([2]), deflateSync(raw.subarray(1))]);
  });
  const answers = runCodec(frames.map((f) => 'D ' + f.toString('hex')));
  for (let i = 0; i < nodes.length; i++) {
    assert.ok(answers[i].ok, `node ${i}: ${answers[i].err}`);
    assert.deepEqual(fromC(answers[i].node), fromB(await decodeBinaryNode(frames[i])));
  }
});
