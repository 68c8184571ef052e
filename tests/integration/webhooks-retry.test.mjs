// tests/integration/webhooks-retry.test.mjs - delivery behaviour with a real local
// receiver: retries after 500s and after timeouts (same event id, spec schedule scaled
// down), dead letters and replay, per-instance ordering under failures, isolation of a
// dead receiver (per-host and global caps, API responsive), purge on instance delete.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { sleep, startServer } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';

const SECRET = 'retry-secret';
const UNIT = 50; // WEBHOOK_RETRY_DELAY_MS: retries after 50, 250, 750, 3000 ms
const hmac = (ts, body) => 'sha256=' + crypto.createHmac('sha256', SECRET + ts).update(body).digest('hex');
const of = (rcv, inst) => rcv.requests.filter((q) => q.headers['x-miaw-instance'] === inst);

describe('webhooks: retries, dead letters, ordering', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      env: { API_WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_DELAY_MS: String(UNIT), WEBHOOK_MAX_RETRIES: '4', WEBHOOK_TIMEOUT_MS: '400' },
    });
  });
  after(async () => { await srv?.stop(); });

  test('500s are retried on the scaled spec schedule with the same event id', async () => {
    const rcv = await startReceiver({ mode: (q, n) => (n <= 2 ? 500 : 200) });
    try {
      await srv.api('POST', '/api/v1/instances', { instanceId: 'r500', webhookUrl: rcv.url });
      const r = await srv.api('POST', '/api/v1/instances/r500/webhook/test', { count: 1 });
      const id = r.json.data.eventIds[0];
      await rcv.waitCount(3, 5000);
      await sleep(100);
      assert.equal(rcv.requests.length, 3, 'no attempt after the success');
      assert.deepEqual(rcv.requests.map((q) => q.headers['x-miaw-event-id']), [id, id, id]);
      assert.deepEqual(rcv.requests.map((q) => q.headers['x-miaw-attempt']), ['1', '2', '3']);
      assert.deepEqual(new Set(rcv.requests.map((q) => q.body)).size, 1, 'the body is the same bytes every time');
      for (const q of rcv.requests) assert.equal(q.headers['x-miaw-signature'], hmac(q.headers['x-miaw-timestamp'], q.raw));
      const [a, b, c] = rcv.requests.map((q) => q.at);
      assert.ok(b - a >= 0.9 * UNIT - 5, `1st retry after ~1 unit (${b - a} ms)`);
      assert.ok(c - b >= 0.9 * 5 * UNIT - 5, `2nd retry after ~5 units (${c - b} ms)`);
      assert.ok(c - b < 5 * UNIT * 1.1 + 500, `2nd retry not much later (${c - b} ms)`);
      const d = await srv.api('GET', '/api/v1/instances/r500/webhook/deliveries?status=delivered');
      assert.equal(d.json.data.items[0].attempts, 3);
      const s = await srv.api('GET', '/api/v1/instances/r500/webhook/status');
      assert.equal(s.json.data.delivered, 1);
      assert.match(s.json.data.lastError.message, /HTTP 500/);
    } finally { await rcv.close(); }
  });

  test('a receiver that does not answer within WEBHOOK_TIMEOUT_MS is retried', async () => {
    const rcv = await startReceiver({ mode: (q, n) => (n === 1 ? 'hang' : 200) });
    try {
      await srv.api('POST', '/api/v1/instances', { instanceId: 'rto', webhookUrl: rcv.url });
      const t0 = Date.now();
      const r = await srv.api('POST', '/api/v1/instances/rto/webhook/test', {});
      assert.equal(r.status, 500);
      assert.equal(r.json.error.code, 'WEBHOOK_FAILED');
      assert.equal(r.json.error.details.statusCode, null);
      assert.match(r.json.error.details.error, /time/i);
      assert.ok(Date.now() - t0 >= 380, 'answered after the timeout');
      await rcv.waitCount(2, 5000);
      assert.equal(rcv.requests[0].headers['x-miaw-event-id'], rcv.requests[1].headers['x-miaw-event-id']);
      assert.ok(rcv.requests[1].at - rcv.requests[0].at >= 400 + 0.9 * UNIT - 10);
      await sleep(100);
      const s = await srv.api('GET', '/api/v1/instances/rto/webhook/status');
      assert.equal(s.json.data.delivered, 1);
      assert.equal(s.json.data.queueDepth, 0);
    } finally { await rcv.close(); }
  });

  test('dead letter after the last attempt, later events continue, replay delivers it', async () => {
    let healthy = false;
    // event #1 always fails until healed; others succeed
    const rcv = await startReceiver({ mode: (q) => (healthy || JSON.parse(q.body).data.index !== 1 ? 200 : 500) });
    try {
      await srv.api('POST', '/api/v1/instances', { instanceId: 'dl', webhookUrl: rcv.url });
      const r = await srv.api('POST', '/api/v1/instances/dl/webhook/test', { count: 2 });
      const [id1, id2] = r.json.data.eventIds;
      await rcv.waitFor((qs) => qs.some((q) => q.headers['x-miaw-event-id'] === id2), 5000, 'event 2');
      const attempts1 = rcv.requests.filter((q) => q.headers['x-miaw-event-id'] === id1);
      assert.equal(attempts1.length, 3, 'WEBHOOK_MAX_RETRIES=4 gives up at attempt 4');
      assert.ok(rcv.requests.findIndex((q) => q.headers['x-miaw-event-id'] === id2) > 2, 'event 2 waited for event 1');
      let d = await srv.api('GET', '/api/v1/instances/dl/webhook/deliveries?status=failed');
      assert.equal(d.json.data.items.length, 1);
      const dead = d.json.data.items[0];
      assert.equal(dead.eventId, id1);
      assert.equal(dead.status, 'failed');
      assert.equal(dead.attempts, 3);
      assert.equal(dead.lastStatusCode, 500);
      assert.match(dead.lastError, /HTTP 500/);
      let s = await srv.api('GET', '/api/v1/instances/dl/webhook/status');
      assert.equal(s.json.data.failed, 1);
      assert.equal(s.json.data.deadLetters, 1);
      assert.equal(s.json.data.delivered, 1);
      assert.equal(s.json.data.lastError.eventId, id1);

      healthy = true;
      const before = rcv.requests.length;
      let x = await srv.api('POST', `/api/v1/instances/dl/webhook/deliveries/${id1}/retry`);
      assert.equal(x.status, 202, x.text);
      assert.equal(x.json.data.status, 'pending');
      await rcv.waitCount(before + 1, 5000);
      const replay = rcv.requests[before];
      assert.equal(replay.headers['x-miaw-event-id'], id1);
      assert.equal(replay.headers['x-miaw-sequence'], '1', 'a replay keeps its sequence number');
      assert.equal(replay.headers['x-miaw-attempt'], '1');
      await sleep(50);
      d = await srv.api('GET', '/api/v1/instances/dl/webhook/deliveries?status=failed');
      assert.equal(d.json.data.items.length, 0);
      s = await srv.api('GET', '/api/v1/instances/dl/webhook/status');
      assert.equal(s.json.data.deadLetters, 0);
      assert.equal(s.json.data.delivered, 2);

      x = await srv.api('POST', '/api/v1/instances/dl/webhook/deliveries/evt_unknown/retry');
      assert.equal(x.status, 404);
      // a pending event cannot be replayed twice
      rcv.mode = 'hang';
      x = await srv.api('POST', `/api/v1/instances/dl/webhook/deliveries/${id2}/retry`);
      assert.equal(x.status, 202);
      x = await srv.api('POST', `/api/v1/instances/dl/webhook/deliveries/${id2}/retry`);
      assert.equal(x.status, 409);
      assert.equal(x.json.error.code, 'CONFLICT');
    } finally { await rcv.close(); }
  });

  test('per-instance order holds under failures and random latency', async () => {
    const N = 150;
    const rcv = await startReceiver({
      mode: () => (Math.random() < 0.1 ? 500 : { status: 200, delayMs: Math.floor(Math.random() * 3) }),
    });
    try {
      await srv.api('POST', '/api/v1/instances', { instanceId: 'ord1', webhookUrl: rcv.url });
      await srv.api('POST', '/api/v1/instances', { instanceId: 'ord2', webhookUrl: rcv.url });
      const a = await srv.api('POST', '/api/v1/instances/ord1/webhook/test', { count: N });
      const b = await srv.api('POST', '/api/v1/instances/ord2/webhook/test', { count: N });
      await rcv.waitFor(() => of(rcv, 'ord1').length >= N && of(rcv, 'ord2').length >= N, 20000);
      // wait until both queues are empty
      for (let i = 0; i < 200; i++) {
        const s1 = await srv.api('GET', '/api/v1/instances/ord1/webhook/status');
        const s2 = await srv.api('GET', '/api/v1/instances/ord2/webhook/status');
        if (s1.json.data.queueDepth === 0 && s2.json.data.queueDepth === 0) break;
        await sleep(100);
      }
      for (const [inst, ids] of [['ord1', a.json.data.eventIds], ['ord2', b.json.data.eventIds]]) {
        const reqs = of(rcv, inst);
        const seqs = reqs.map((q) => Number(q.headers['x-miaw-sequence']));
        for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] >= seqs[i - 1], `${inst}: sequence went back at ${i}`);
        const first = [...new Set(reqs.map((q) => q.headers['x-miaw-event-id']))];
        assert.deepEqual(first, ids, `${inst}: every event, in emission order`);
        assert.deepEqual([...new Set(seqs)], Array.from({ length: N }, (_, i) => i + 1));
        assert.ok(reqs.length > N, 'some attempts failed and were retried');
      }
    } finally { await rcv.close(); }
  });
});

describe('webhooks: a dead receiver blocks nobody else', () => {
  test('per-host and global caps; other instances and the API stay fast', async () => {
    const dead = await startReceiver({ mode: 'hang' });
    const live = await startReceiver();
    const slow = await startReceiver({ mode: { status: 200, delayMs: 150 } });
    const srv = await startServer({
      env: { API_WEBHOOK_SECRET: SECRET, WEBHOOK_TIMEOUT_MS: '5000', WEBHOOK_RETRY_DELAY_MS: '1000' },
      config: 'webhook:\n  concurrency: 5\n  per_host_concurrency: 2\n',
    });
    try {
      for (let i = 0; i < 4; i++) {
        await srv.api('POST', '/api/v1/instances', { instanceId: 'dead' + i, webhookUrl: dead.url });
        await srv.api('POST', '/api/v1/instances/dead' + i + '/webhook/test', { count: 3 });
      }
      await dead.waitCount(2, 3000);
      await srv.api('POST', '/api/v1/instances', { instanceId: 'live', webhookUrl: live.url });
      const t0 = Date.now();
      const r = await srv.api('POST', '/api/v1/instances/live/webhook/test', { count: 50 });
      assert.equal(r.json.data.queued, 50);
      await live.waitCount(50, 3000);
      const took = Date.now() - t0; console.log("TOOK", took);
      assert.ok(took < 2000, `live instance delivered 50 in ${took} ms`);
      const h0 = Date.now();
      const h = await srv.api('GET', '/health');
      assert.equal(h.status, 200);
      assert.ok(Date.now() - h0 < 500);
      assert.equal(dead.maxActive, 2, 'per-host cap: 2 requests at a time to the dead host');
      assert.equal(dead.requests.length, 2);
      const s = await srv.api('GET', '/api/v1/instances/dead0/webhook/status');
      assert.ok(s.json.data.queueDepth >= 2);

      // global cap 5: five instances on five different hosts... here: 2 on dead + up to 3 on slow
      for (let i = 0; i < 6; i++) {
        await srv.api('POST', '/api/v1/instances', { instanceId: 'slow' + i, webhookUrl: slow.url.replace('127.0.0.1', i % 2 ? 'localhost' : '127.0.0.1') });
        await srv.api('POST', '/api/v1/instances/slow' + i + '/webhook/test', { count: 2 });
      }
      await slow.waitCount(12, 10000);
      assert.ok(slow.maxActive <= 3, `global cap: at most 5 in flight in all (2 hung + ${slow.maxActive})`);
      assert.ok(slow.maxActive >= 2);

      // deleting an instance drops its queue and its request in flight
      const del = await srv.api('DELETE', '/api/v1/instances/dead0');
      assert.equal(del.status, 200);
      await srv.api('POST', '/api/v1/instances', { instanceId: 'dead0', webhookUrl: live.url });
      const st = await srv.api('GET', '/api/v1/instances/dead0/webhook/status');
      assert.equal(st.json.data.queueDepth, 0);
      assert.equal(st.json.data.delivered, 0);
      const dl = await srv.api('GET', '/api/v1/instances/dead0/webhook/deliveries');
      assert.deepEqual(dl.json.data.items, []);
      const t = await srv.api('POST', '/api/v1/instances/dead0/webhook/test', {});
      assert.equal(t.status, 200);
      assert.equal(t.json.data.eventId, live.requests.at(-1).headers['x-miaw-event-id']);
      assert.equal(live.requests.at(-1).headers['x-miaw-sequence'], '1', 'a new instance starts a new sequence');
    } finally { await srv.stop(); await dead.close(); await live.close(); await slow.close(); }
  });
});
