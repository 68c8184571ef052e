// bench/codec/mix.mjs - writes the realistic stanza mix (the interop test's generator, a
// fixed seed) as hex frames encoded by Baileys, one per line, to the file given.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const interop = path.resolve(here, '../../tests/interop');
const { makeRng, realisticNodes } = await import(path.join(interop, 'nodegen.mjs'));
const { encodeBinaryNode } = await import(path.join(interop, 'node_modules/@whiskeysockets/baileys/lib/WABinary/index.js'));
const nodes = realisticNodes(makeRng(20240601), 40);
writeFileSync(process.argv[2], nodes.map((n) => encodeBinaryNode(n).toString('hex')).join('\n') + '\n');
