// tests/integration/events_stream.test.mjs - GET /api/v1/events (Server-Sent Events):
// auth and input errors, filters by instance and event type, ids from the webhook outbox,
// resuming with Last-Event-ID after a disconnect (the missed events first, once, in
// order, then live ones), the client cap, and a stream that ends being forgotten.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer, tempDir, waitFor } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { startSim, simEnv, pairByQr } from './lib/sim.mjs';

/** opens an event stream; returns { status, events: [{id, event, data}], comments, close() } */
async function openStream(srv, query = '', headers = {}) {
  const ac = new AbortController();
  const r = await fetch(`${srv.url}/api/v1/events${query}`, {
    headers: { authorization: `Bearer ${srv.apiKey}`, ...headers }, signal: ac.signal,
  });
  const st = { status: r.status, type: r.headers.get('content-type'), events: [], comments: [], ended: false };
  if (r.status !== 200) {
    st.body = await r.json();
    return st;
  }
  const dec = new TextDecoder();
  let buf = '';
  st.done = (async () => {
    try {
      for await (const chunk of r.body) {
        buf += dec.decode(chunk, { stream: true });
        let k;
        while ((k = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, k);
          buf = buf.slice(k + 2);
          const ev = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) { st.comments.push(line); continue; }
            const c = line.indexOf(':');
            const f = line.slice(0, c), v = line.slice(c + 1).replace(/^ /, '');
            if (f === 'data') ev.data = JSON.parse(v);
            else ev[f] = v;
          }
          if (ev.event) st.events.push(ev);
        }
      }
    } catch { /* aborted */ }
    st.ended = true;
  })();
  st.close = async () => { ac.abort(); await st.done; };
  return st;
}

async function gauge(srv, name) {
  const t = await (await fetch(srv.url + '/metrics', { headers: { authorization: `Bearer ${srv.apiKey}` } })).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(t);
  return m ? Number(m[1]) : undefined;
}

test('event stream: errors, filters, resume by Last-Event-ID, cap', { timeout: 180000 }, async (t) => {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-sse-');
  const sim = await startSim({ stateDir: simDir });
  const rcv = await startReceiver();
  const streams = [];
  const ctx = { srv: null };
  t.after(async () => {
    for (const s of streams) if (s.close) await s.close();
    if (ctx.srv) await ctx.srv.stop();
    await sim.stop();
    await rcv.close();
    rmSync(simDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  const srv = ctx.srv = await startServer({ env: simEnv(sim, { MIAW_WEBHOOK_URL: rcv.url, MIAW_EVENTS_MAX_CLIENTS: '4' }), dataDir });
  const open = async (q, h) => { const s = await openStream(srv, q, h); streams.push(s); return s; };

  // documented: an event stream, with its filters; /metrics answers Prometheus text
  const doc = (await srv.api('GET', '/openapi.json')).json;
  const op = doc.paths['/events'].get;
  assert.ok(op.responses['200'].content['text/event-stream']);
  assert.deepEqual(op.parameters.map((p) => p.name).sort(), ['Last-Event-ID', 'events', 'instanceId', 'lastEventId']);
  assert.ok(doc.paths['/metrics'].get.responses['200'].content['text/plain; version=0.0.4']);
  assert.ok(doc.paths['/metrics'].get.security.length > 0, '/metrics is not public');

  // errors
  let r = await fetch(`${srv.url}/api/v1/events`);
  assert.equal(r.status, 401);
  assert.equal((await r.json()).error.code, 'UNAUTHORIZED');
  let s = await open('?events=message,nonsense');
  assert.equal(s.status, 400);
  assert.equal(s.body.error.details.event, 'nonsense');
  s = await open('?events=instance.deleted');
  assert.equal(s.status, 400, 'internal events are not streamed');
  s = await open('?instanceId=ghost');
  assert.equal(s.status, 404);
  assert.equal(s.body.error.code, 'INSTANCE_NOT_FOUND');
  s = await open('?instanceId=a,,b');
  assert.equal(s.status, 400);
  for (const bad of ['abc', '-1', '1e3', '12x']) {
    s = await open('', { 'last-event-id': bad });
    assert.equal(s.status, 400, bad);
    assert.equal(s.body.error.details.field, 'Last-Event-ID');
  }

  // two instances; streams by filter
  const ME = '15550008888', BOB = '15550009999';
  for (const id of ['bot', 'other']) assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: id })).status, 201);
  const all = await open('');
  assert.equal(all.status, 200);
  assert.match(all.type, /^text\/event-stream/);
  const qrOnly = await open('?instanceId=bot&events=qr');
  const otherOnly = await open('?instanceId=other');
  const msgs = await open('?instanceId=bot&events=message');
  await waitFor(async () => (await gauge(srv, 'miaw_event_streams')) === 4, { what: '4 streams' });
  // the cap: one more is refused
  s = await open('');
  assert.equal(s.status, 503);
  assert.equal(s.body.error.code, 'SERVICE_UNAVAILABLE');

  assert.equal((await sim.api('POST', '/sim/accounts', { phone: BOB, name: 'Bob' })).status, 201);
  await pairByQr(srv, sim, 'bot', ME, { name: 'Me' });
  await waitFor(() => qrOnly.events.length > 0 && all.events.some((e) => e.event === 'ready'), { what: 'qr + ready' });
  assert.ok(qrOnly.events.every((e) => e.event === 'qr' && e.data.instanceId === 'bot'));
  assert.equal(qrOnly.events[0].data.data.qr.length > 20, true);
  // every streamed event is the webhook body, with the outbox id
  for (const e of all.events) {
    assert.match(e.id, /^\d+$/, JSON.stringify(e));
    assert.equal(e.data.event, e.event);
    assert.equal(typeof e.data.timestamp, 'number');
  }
  const ids = all.events.map((e) => Number(e.id));
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'ids ascend');
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');

  const fromBob = async (text) => {
    const b = await sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, text });
    assert.equal(b.status, 201);
    return b.json.id;
  };
  const m1 = await fromBob('one');
  await waitFor(() => msgs.events.some((e) => e.data.data.id === m1), { what: 'live message' });
  assert.ok(msgs.events.every((e) => e.event === 'message'));
  const lastId = msgs.events[msgs.events.length - 1].id;
  await msgs.close();
  await waitFor(async () => (await gauge(srv, 'miaw_event_streams')) === 3, { what: 'closed stream forgotten', timeoutMs: 10000 });

  // missed while disconnected
  const m2 = await fromBob('two');
  const m3 = await fromBob('three');
  await waitFor(() => all.events.some((e) => e.data.data?.id === m3), { what: 'both seen by the open stream' });
  const resumed = await open('?instanceId=bot&events=message', { 'last-event-id': lastId });
  assert.equal(resumed.status, 200);
  await waitFor(() => resumed.events.length >= 2, { what: 'replayed events' });
  assert.deepEqual(resumed.events.map((e) => e.data.data.id), [m2, m3], 'exactly the missed ones, in order');
  assert.ok(Number(resumed.events[0].id) > Number(lastId));
  // then live
  const m4 = await fromBob('four');
  await waitFor(() => resumed.events.some((e) => e.data.data.id === m4), { what: 'live after replay' });
  assert.deepEqual(resumed.events.map((e) => e.data.data.id), [m2, m3, m4], 'no duplicates');
  // the same through ?lastEventId= (for clients that cannot set headers)
  await resumed.close();
  await waitFor(async () => (await gauge(srv, 'miaw_event_streams')) === 3, { what: 'resumed stream forgotten', timeoutMs: 10000 });
  const q = await open(`?instanceId=bot&events=message&lastEventId=${lastId}`);
  assert.equal(q.status, 200);
  await waitFor(() => q.events.length >= 3, { what: 'replay by query' });
  assert.deepEqual(q.events.map((e) => e.data.data.id), [m2, m3, m4]);

  // the other instance's stream heard nothing of bot's
  assert.deepEqual(otherOnly.events, []);
  assert.ok(otherOnly.comments.some((c) => c.startsWith(': miaw event stream')));

  // an instance no webhook takes events from (webhooks disabled): its events are journaled in
  // the outbox (server.events_journal, on by default), never sent, and resumable like the rest
  assert.equal((await srv.api('PUT', '/api/v1/instances/other/webhook', { webhookEnabled: false })).status, 200);
  const sentBefore = rcv.requests.length;
  assert.equal((await srv.api('POST', '/api/v1/instances/other/connect')).status, 200);
  await waitFor(() => otherOnly.events.some((e) => e.event === 'connection'), { what: 'journaled event' });
  for (const e of otherOnly.events) {
    assert.match(String(e.id), /^\d+$/, 'journaled: an id to resume from');
    assert.equal(e.data.instanceId, 'other');
  }
  const firstOther = otherOnly.events[0].id;
  await q.close(); // the cap is 4 streams
  await waitFor(async () => (await gauge(srv, 'miaw_event_streams')) === 3, { what: 'a stream slot free', timeoutMs: 10000 });
  const resumedOther = await open('?instanceId=other', { 'last-event-id': String(Number(firstOther) - 1) });
  assert.equal(resumedOther.status, 200);
  await waitFor(() => resumedOther.events.length >= otherOnly.events.length, { what: 'replay of journaled events' });
  assert.deepEqual(resumedOther.events.slice(0, otherOnly.events.length).map((e) => e.id), otherOnly.events.map((e) => e.id),
    'the journal replays exactly what the live stream got');
  await resumedOther.close();
  // nothing of it went to the webhook receiver, and the deliveries list does not show it
  assert.ok(rcv.requests.slice(sentBefore).every((q) => JSON.parse(q.body).instanceId !== 'other'));
  const dl = await srv.api('GET', '/api/v1/instances/other/webhook/deliveries');
  assert.equal(dl.status, 200, dl.text);
  assert.equal(JSON.stringify(dl.json.data).includes('"connection"'), false, JSON.stringify(dl.json.data));
  assert.equal((await srv.api('POST', '/api/v1/instances/other/disconnect')).status, 200);
});
