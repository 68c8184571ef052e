// tests/integration/events_stream_ws.test.mjs - the WebSocket variant of GET /api/v1/events,
// spoken by a minimal RFC 6455 client written here over a raw TCP socket (so the frames are
// checked byte by byte): the handshake (Sec-WebSocket-Accept), the same auth, filters and
// Last-Event-ID replay as the SSE stream, one text frame per event {id, event, data},
// ping answered with pong, a clean close, bad handshakes refused with 400 / 401, and the
// stream counted in miaw_event_streams until it closes.
// Env: MIAW_BUILD_DIR (default build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { startServer, waitFor } from './lib/harness.mjs';

/** raw HTTP/1.1 upgrade; resolves { status, headers, ws } where ws has frames[], send(op, payload), close() */
function wsConnect(port, path, headers = {}, { key = randomBytes(16).toString('base64'), version = '13' } = {}) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let upgraded = null;
    const frames = [];
    const ws = {
      frames, closed: false,
      send(op, payload = Buffer.alloc(0)) {
        const mask = randomBytes(4);
        const p = Buffer.from(payload);
        const hdr = p.length < 126 ? Buffer.from([0x80 | op, 0x80 | p.length]) : Buffer.from([0x80 | op, 0x80 | 126, p.length >> 8, p.length & 255]);
        const body = Buffer.from(p.map((b, i) => b ^ mask[i & 3]));
        sock.write(Buffer.concat([hdr, mask, body]));
      },
      sendRaw(b) { sock.write(b); },
      destroy() { sock.destroy(); },
    };
    sock.on('connect', () => {
      const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
        `Sec-WebSocket-Key: ${key}`, `Sec-WebSocket-Version: ${version}`,
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''];
      sock.write(lines.join('\r\n'));
    });
    let want = -1; // the error body's length when the server refused the upgrade
    const finishRefused = () => {
      if (want < 0 || buf.length < want) return;
      upgraded.body = buf.subarray(0, want).toString();
      want = -1;
      sock.destroy();
      resolve(upgraded);
    };
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (upgraded && upgraded.status !== 101) { finishRefused(); return; }
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(head[0].split(' ')[1]);
        const hs = {};
        for (const l of head.slice(1)) { const c = l.indexOf(':'); hs[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim(); }
        buf = buf.subarray(end + 4);
        upgraded = { status, headers: hs, ws, key, body: '' };
        if (status !== 101) { // an error envelope follows (content-length, or up to the close)
          want = hs['content-length'] !== undefined ? Number(hs['content-length']) : Infinity;
          finishRefused();
          return;
        }
        resolve(upgraded);
      }
      // frames from the server: never masked
      for (;;) {
        if (buf.length < 2) break;
        const op = buf[0] & 0x0f, fin = (buf[0] & 0x80) !== 0;
        assert.equal(buf[1] & 0x80, 0, 'server frames are not masked');
        let len = buf[1] & 0x7f, off = 2;
        if (len === 126) { if (buf.length < 4) break; len = buf.readUInt16BE(2); off = 4; } else if (len === 127) { if (buf.length < 10) break; len = Number(buf.readBigUInt64BE(2)); off = 10; }
        if (buf.length < off + len) break;
        frames.push({ op, fin, payload: buf.subarray(off, off + len) });
        buf = buf.subarray(off + len);
      }
    });
    sock.on('close', () => {
      ws.closed = true;
      if (upgraded && upgraded.status !== 101 && want === Infinity) { upgraded.body = buf.toString(); resolve(upgraded); }
    });
    sock.on('error', (e) => { if (!upgraded) reject(e); });
  });
}

const texts = (ws) => ws.frames.filter((f) => f.op === 1).map((f) => JSON.parse(f.payload.toString()));

async function gauge(srv, name) {
  const t = await (await fetch(srv.url + '/metrics', { headers: { authorization: `Bearer ${srv.apiKey}` } })).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(t);
  return m ? Number(m[1]) : undefined;
}

test('GET /api/v1/events over WebSocket', { timeout: 120000 }, async (t) => {
  const srv = await startServer({ env: { MIAW_WEBHOOK_URL: 'http://127.0.0.1:9/unreachable' } });
  t.after(() => srv.stop());
  const auth = { authorization: `Bearer ${srv.apiKey}` };
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'a' })).status, 201);
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'b' })).status, 201);

  // refused handshakes
  let r = await wsConnect(srv.port, '/api/v1/events');
  assert.equal(r.status, 401);
  r = await wsConnect(srv.port, '/api/v1/events', auth, { key: 'short' });
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.body).error.details.field, 'Sec-WebSocket-Key');
  r = await wsConnect(srv.port, '/api/v1/events', auth, { version: '8' });
  assert.equal(r.status, 400);
  r = await wsConnect(srv.port, '/api/v1/events?events=bogus', auth);
  assert.equal(r.status, 400);

  // a test event to resume from, then a stream filtered to instance a
  await srv.api('POST', '/api/v1/instances/a/webhook/test', {}); // the receiver is down: kept in the outbox
  const c = await wsConnect(srv.port, '/api/v1/events?instanceId=a&events=test', auth);
  assert.equal(c.status, 101);
  assert.equal(c.headers.upgrade.toLowerCase(), 'websocket');
  assert.equal(c.headers['sec-websocket-accept'],
    createHash('sha1').update(c.key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64'));
  const { ws } = c;
  await waitFor(async () => (await gauge(srv, 'miaw_event_streams')) === 1, { what: 'counted' });
  await srv.api('POST', '/api/v1/instances/b/webhook/test', {}); // filtered out
  await srv.api('POST', '/api/v1/instances/a/webhook/test', {});
  await waitFor(() => texts(ws).length >= 1, { what: 'a text frame' });
  let ev = texts(ws);
  assert.equal(ev.length, 1, JSON.stringify(ev));
  assert.equal(ev[0].event, 'test');
  assert.equal(ev[0].data.instanceId, 'a');
  assert.equal(ev[0].data.event, 'test');
  assert.ok(Number.isInteger(ev[0].id) && ev[0].id > 0);
  assert.ok(ws.frames.every((f) => f.fin));

  // ping -> pong with the same payload
  ws.send(0x9, 'hello?');
  await waitFor(() => ws.frames.some((f) => f.op === 0xA), { what: 'pong' });
  assert.equal(ws.frames.find((f) => f.op === 0xA).payload.toString(), 'hello?');
  // text from the client is ignored
  ws.send(0x1, 'ignored');

  // close handshake: the server answers close and ends the connection
  ws.send(0x8, Buffer.from([0x03, 0xe8]));
  await waitFor(() => ws.closed, { what: 'closed' });
  assert.ok(ws.frames.some((f) => f.op === 0x8));
  await waitFor(async () => (await gauge(srv, 'miaw_event_streams')) === 0, { what: 'forgotten' });

  // resume: everything of instance a after the first test event, replayed in order
  const first = texts(ws)[0].id;
  await srv.api('POST', '/api/v1/instances/a/webhook/test', {}); // missed while away
  const again = await wsConnect(srv.port, '/api/v1/events?instanceId=a', { ...auth, 'last-event-id': String(first) });
  assert.equal(again.status, 101);
  await waitFor(() => texts(again.ws).length >= 1, { what: 'replayed' });
  ev = texts(again.ws);
  assert.ok(ev.every((e) => e.id > first && e.data.instanceId === 'a'), JSON.stringify(ev));
  assert.deepEqual(ev.map((e) => e.event), ['test'], 'exactly the one missed while away');
  // an unmasked client frame is a protocol error: the server drops the connection
  again.ws.sendRaw(Buffer.from([0x81, 0x02, 0x68, 0x69]));
  await waitFor(() => again.ws.closed, { what: 'dropped on an unmasked frame' });
  await waitFor(async () => (await gauge(srv, 'miaw_event_streams')) === 0, { what: 'forgotten again' });
});
