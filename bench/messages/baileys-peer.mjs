// bench/messages/baileys-peer.mjs - the Baileys side of bench/messages, in a process of its
// own so its RSS can be read from /proc/<pid>/status like miaw's. Forked by bench.mjs and
// driven over the IPC channel: pair sockets (the QR goes to the parent, which scans it
// through miaw-sim's control API), force a GC, send text with a fixed number in flight per
// socket (or images: sendImages, for media.mjs), report, exit. Baileys 7.0.0-rc14 from tests/interop/node_modules with a silent
// logger; auth state per BENCH_BAILEYS_AUTH: `files` (default, useMultiFileAuthState, one
// directory per socket, what Baileys' examples use) or `memory` (keys in a Map: no disk
// I/O, all keys in RSS).
// Started with --expose-gc. Argv: <sim ws url> <root key hex> <auth dir>.
import { mkdirSync, readFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '../../tests/interop/node_modules/@whiskeysockets/baileys/lib/index.js');
const B = await import(pathToFileURL(pkg).href);
const makeWASocket = B.default;
const { WA_CERT_DETAILS, useMultiFileAuthState, initAuthCreds } = B;
const AUTH = process.env.BENCH_BAILEYS_AUTH || 'files';

// Baileys' keys interface over a Map: no disk I/O, every key held in the process
function memoryAuthState() {
  const store = new Map();
  const keys = {
    async get(type, ids) {
      const out = {};
      for (const id of ids) { const v = store.get(`${type}/${id}`); if (v !== undefined) out[id] = v; }
      return out;
    },
    async set(data) {
      for (const type in data) for (const id in data[type]) {
        const v = data[type][id];
        if (v) store.set(`${type}/${id}`, v); else store.delete(`${type}/${id}`);
      }
    },
  };
  return { state: { creds: initAuthCreds(), keys }, saveCreds: async () => {} };
}

const [wsUrl, rootHex, authRoot] = process.argv.slice(2);
WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(rootHex, 'hex');

const silent = { level: 'silent', child() { return this; }, trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} };
const socks = []; // idx -> { sock, state, saveCreds, open }
const send = (m) => process.send(m);

function connect(idx, state, saveCreds, onQr) {
  const sock = makeWASocket({
    auth: state,
    waWebSocketUrl: wsUrl,
    logger: silent,
    browser: ['Ubuntu', 'Chrome', '22.04'],
    syncFullHistory: false,
    connectTimeoutMs: 20000,
    // the simulated phone sends no history sync; without this Baileys holds its events
    // back waiting for one after the first login
    shouldSyncHistoryMessage: () => false,
  });
  sock.ev.on('creds.update', saveCreds);
  return new Promise((res, rej) => {
    sock.ev.on('connection.update', (u) => {
      if (u.qr && onQr) onQr(u.qr);
      if (u.connection === 'open') res({ sock, restart: false });
      if (u.connection === 'close') {
        const code = u.lastDisconnect?.error?.output?.statusCode;
        if (code === 515) res({ sock, restart: true });
        else if (!socks[idx]?.open) rej(new Error(`socket ${idx} closed with ${code}: ${u.lastDisconnect?.error?.message}`));
        else socks[idx].open = false; // dropped after opening: counted by the parent via 'count'
      }
    });
  });
}

async function pair(idx) {
  let auth;
  if (AUTH === 'memory') auth = memoryAuthState();
  else {
    const dir = join(authRoot, String(idx));
    mkdirSync(dir, { recursive: true });
    auth = await useMultiFileAuthState(dir);
  }
  const { state, saveCreds } = auth;
  let qrSent = false;
  let r = await connect(idx, state, saveCreds, (qr) => { if (!qrSent) { qrSent = true; send({ ev: 'qr', idx, qr }); } });
  for (let i = 0; r.restart && i < 3; i++) r = await connect(idx, state, saveCreds, null); // the 515 restart
  if (r.restart) throw new Error(`socket ${idx}: restart loop`);
  socks[idx] = { sock: r.sock, open: true };
  r.sock.ev.on('connection.update', (u) => { if (u.connection === 'close') socks[idx].open = false; });
}

// jobs: [{ idx, to, texts: [...] }]; inflight: concurrent sendMessage calls per socket
async function sendAll(jobs, inflight) {
  let errors = 0, firstError = null, sent = 0;
  await Promise.all(jobs.map(async (j) => {
    const s = socks[j.idx]?.sock;
    const jid = `${j.to}@s.whatsapp.net`;
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(inflight, j.texts.length) }, async () => {
      while (next < j.texts.length) {
        const text = j.texts[next++];
        try { await s.sendMessage(jid, { text }); sent++; } catch (e) { errors++; firstError ??= String(e?.message || e); }
      }
    }));
  }));
  return { sent, errors, firstError };
}

// jobs: [{ idx, to, count, path }]: the image at path sent count times (media: bench/messages/media.mjs)
async function sendImages(jobs, inflight) {
  let errors = 0, firstError = null, sent = 0;
  await Promise.all(jobs.map(async (j) => {
    const s = socks[j.idx]?.sock;
    const jid = `${j.to}@s.whatsapp.net`;
    const image = readFileSync(j.path);
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(inflight, j.count) }, async () => {
      while (next < j.count) {
        next++;
        try { await s.sendMessage(jid, { image }); sent++; } catch (e) { errors++; firstError ??= String(e?.message || e); }
      }
    }));
  }));
  return { sent, errors, firstError };
}

process.on('message', async (m) => {
  try {
    if (m.cmd === 'pair') {
      await pair(m.idx);
      send({ rid: m.rid, ok: true });
    } else if (m.cmd === 'gc') {
      for (let i = 0; i < 3; i++) global.gc();
      send({ rid: m.rid, ok: true });
    } else if (m.cmd === 'count') {
      const openIdx = socks.map((s, i) => (s?.open ? i : -1)).filter((i) => i >= 0);
      send({ rid: m.rid, ok: true, open: openIdx.length, openIdx });
    } else if (m.cmd === 'send') {
      send({ rid: m.rid, ok: true, ...(await sendAll(m.jobs, m.inflight)) });
    } else if (m.cmd === 'sendImages') {
      send({ rid: m.rid, ok: true, ...(await sendImages(m.jobs, m.inflight)) });
    } else if (m.cmd === 'exit') {
      for (const s of socks) { try { s?.sock.end(undefined); } catch { /* closing anyway */ } }
      send({ rid: m.rid, ok: true });
      setTimeout(() => process.exit(0), 100);
    }
  } catch (e) {
    send({ rid: m.rid, ok: false, error: String(e?.stack || e) });
  }
});
process.on('disconnect', () => process.exit(0)); // the parent went away
send({ ev: 'ready' });
