// tests/integration/engine_garbage.test.mjs - the engine against a hostile WebSocket
// server on 127.0.0.1 (Node built-ins only): random bytes, absurd frame lengths, junk
// protobufs, half frames, silence, and a close right after the upgrade. The server must
// stay up, the instance keeps retrying with growing, jittered delays (`reconnecting`
// attempts 1, 2, 3, ...), and a global handshake rate limit spaces out the attempts of
// many instances.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import crypto from 'node:crypto';
import { startServer, waitFor, sleep } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';

function wsFrame(payload) {
  const len = payload.length;
  let head;
  if (len < 126) head = Buffer.from([0x82, len]);
  else if (len < 65536) { head = Buffer.alloc(4); head[0] = 0x82; head[1] = 126; head.writeUInt16BE(len, 2); }
  else { head = Buffer.alloc(10); head[0] = 0x82; head[1] = 127; head.writeBigUInt64BE(BigInt(len), 2); }
  return Buffer.concat([head, payload]);
}

const MODES = [
  (s) => s.write(wsFrame(crypto.randomBytes(200))),                                       // random bytes
  (s) => s.write(wsFrame(Buffer.from([0xff, 0xff, 0xff, 1, 2, 3]))),                      // 16 MiB frame announced
  (s) => s.write(wsFrame(Buffer.concat([Buffer.from([0, 0, 40]), crypto.randomBytes(40)]))), // junk protobuf
  (s) => s.write(wsFrame(Buffer.from([0, 0, 9, 0x1a, 0x02]))),                             // half a frame, then silence
  () => {},                                                                                 // silence
  (s) => s.end(),                                                                           // close after upgrade
  (s) => s.write(Buffer.from([0x88, 0x7e, 0, 1, 2])),                                       // broken WS close frame
];

async function startHostile() {
  const conns = [];
  const sockets = new Set();
  let n = 0;
  const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
  server.on('upgrade', (req, socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    conns.push({ at: Date.now(), origin: req.headers.origin });
    socket.once('data', () => MODES[n++ % MODES.length](socket));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    conns, url: `ws://127.0.0.1:${server.address().port}/ws/chat`,
    async close() { for (const s of sockets) s.destroy(); await new Promise((r) => server.close(r)); },
  };
}

const events = (rcv, type) => rcv.requests.map((r) => JSON.parse(r.body)).filter((b) => b.event === type);
const ROOT = '11'.repeat(32);

test('garbage from the network never crashes; retries back off', { timeout: 60000 }, async (t) => {
  const bad = await startHostile();
  const rcv = await startReceiver();
  const srv = await startServer({ env: {
    WA_WS_URL: bad.url, WA_ROOT_KEY: ROOT, MIAW_WEBHOOK_URL: rcv.url, MIAW_WA_HANDSHAKE_TIMEOUT_MS: '300',
    MIAW_WA_BACKOFF_MIN_MS: '40', MIAW_WA_BACKOFF_MAX_MS: '320',
  } });
  t.after(async () => { await srv.stop(); await bad.close(); await rcv.close(); });
  await srv.api('POST', '/api/v1/instances', { instanceId: 'g1' });
  assert.equal((await srv.api('POST', '/api/v1/instances/g1/connect')).status, 200);
  await waitFor(() => bad.conns.length >= 2 * MODES.length, { what: 'every garbage mode twice', timeoutMs: 30000 });
  assert.equal(bad.conns[0].origin, 'https://web.whatsapp.com');
  const h = await srv.api('GET', '/health');
  assert.equal(h.status, 200, 'still serving');
  const st = (await srv.api('GET', '/api/v1/instances/g1/status')).json.data;
  assert.equal(st.status, 'connecting');
  assert.equal(st.paired, false);
  await rcv.waitFor(() => events(rcv, 'reconnecting').length >= 8, 10000, 'reconnecting events');
  const rec = events(rcv, 'reconnecting');
  assert.deepEqual(rec.slice(0, 8).map((e) => e.data.attempt), [1, 2, 3, 4, 5, 6, 7, 8]);
  // jittered exponential: attempt k waits within [d/2, d], d = min(40 * 2^(k-1), 320)
  for (const e of rec) {
    const d = Math.min(40 * 2 ** (e.data.attempt - 1), 320);
    assert.ok(e.data.delayMs >= d / 2 && e.data.delayMs <= d, `attempt ${e.data.attempt}: ${e.data.delayMs} ms`);
  }
  const reasons = new Set(rec.map((e) => e.data.reason.split(':')[0]));
  for (const r of ['handshake', 'timeout', 'closed']) assert.ok(reasons.has(r), `a "${r}" end among ${[...reasons]}`);
  // disconnect stops the retries
  assert.equal((await srv.api('POST', '/api/v1/instances/g1/disconnect')).status, 200);
  await sleep(100);
  const seen = bad.conns.length;
  await sleep(800);
  assert.equal(bad.conns.length, seen, 'no connection attempts after disconnect');
  assert.equal((await srv.api('GET', '/api/v1/instances/g1/status')).json.data.status, 'disconnected');
});

test('global handshake rate limit spaces out many instances', { timeout: 60000 }, async (t) => {
  const bad = await startHostile();
  const srv = await startServer({ env: {
    WA_WS_URL: bad.url, WA_ROOT_KEY: ROOT, MIAW_WA_HANDSHAKES_PER_SEC: '10', MIAW_WA_HANDSHAKE_TIMEOUT_MS: '5000',
    MIAW_WA_BACKOFF_MIN_MS: '5000',
  } });
  t.after(async () => { await srv.stop(); await bad.close(); });
  for (let i = 0; i < 12; i++) await srv.api('POST', '/api/v1/instances', { instanceId: `r${i}` });
  const t0 = Date.now();
  for (let i = 0; i < 12; i++) assert.equal((await srv.api('POST', `/api/v1/instances/r${i}/connect`)).status, 200);
  await waitFor(() => bad.conns.length >= 12, { what: '12 connections', timeoutMs: 10000 });
  const span = bad.conns[11].at - bad.conns[0].at;
  assert.ok(span >= 1000, `12 attempts at 10/s took ${span} ms`);
  const firstSecond = bad.conns.filter((c) => c.at - t0 < 500).length;
  assert.ok(firstSecond <= 6, `${firstSecond} attempts in the first 500 ms`);
});
