// tests/integration/webhooks.test.mjs - webhook config routes, the request a receiver
// gets (headers, body, signature verified by the spec's Appendix A.2 consumer), the test
// endpoint, event filters, the global default URL, the generated secret, bad input.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startA2Consumer } from './lib/a2-consumer.mjs';
import { sleep, startServer } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';

const SECRET = 'wh-secret-' + crypto.randomBytes(6).toString('hex');
const hmac = (secret, ts, body) => 'sha256=' + crypto.createHmac('sha256', secret + ts).update(body).digest('hex');

describe('webhooks: config, request format, test endpoint', () => {
  let srv, rcv, a2;
  before(async () => {
    rcv = await startReceiver();
    a2 = await startA2Consumer(SECRET);
    srv = await startServer({ env: { API_WEBHOOK_SECRET: SECRET, MIAW_WEBHOOK_URL: rcv.url } });
  });
  after(async () => { await srv?.stop(); await rcv?.close(); await a2?.close(); });

  test('GET/PUT webhook config, global default URL, validation names the field', async () => {
    let r = await srv.api('POST', '/api/v1/instances', { instanceId: 'cfg' });
    assert.equal(r.status, 201);
    r = await srv.api('GET', '/api/v1/instances/cfg/webhook');
    assert.equal(r.status, 200);
    assert.equal(r.json.data.webhookUrl, null);
    assert.deepEqual(r.json.data.webhookEvents, []);
    assert.equal(r.json.data.webhookEnabled, true);
    assert.deepEqual(r.json.data.effectiveUrls, [rcv.url]);
    assert.ok(r.json.data.availableEvents.includes('message') && r.json.data.availableEvents.includes('test'));
    assert.ok(!r.json.data.availableEvents.includes('instance.created'), 'internal events are not webhook events');

    r = await srv.api('PUT', '/api/v1/instances/cfg/webhook', { webhookUrl: a2.url, webhookEvents: ['message', 'qr'] });
    assert.equal(r.status, 200);
    assert.equal(r.json.data.webhookUrl, a2.url);
    assert.deepEqual(r.json.data.webhookEvents, ['message', 'qr']);
    assert.deepEqual(r.json.data.effectiveUrls, [a2.url]);
    // absent fields keep their value
    r = await srv.api('PUT', '/api/v1/instances/cfg/webhook', { webhookEnabled: false });
    assert.equal(r.json.data.webhookUrl, a2.url);
    assert.deepEqual(r.json.data.webhookEvents, ['message', 'qr']);
    assert.equal(r.json.data.webhookEnabled, false);
    r = await srv.api('GET', '/api/v1/instances/cfg');
    assert.equal(r.json.data.webhookUrl, a2.url, 'the instance object shows the same config');
    // null clears the URL: back to the global default
    r = await srv.api('PUT', '/api/v1/instances/cfg/webhook', { webhookUrl: null, webhookEnabled: true });
    assert.equal(r.json.data.webhookUrl, null);
    assert.deepEqual(r.json.data.effectiveUrls, [rcv.url]);

    const bad = [
      [{ webhookUrl: 'ftp://example.com/x' }, 'webhookUrl'],
      [{ webhookUrl: 'http://' }, 'webhookUrl'],
      [{ webhookUrl: 'javascript:alert(1)' }, 'webhookUrl'],
      [{ webhookUrl: 'http://exa mple.com/' }, 'webhookUrl'],
      [{ webhookUrl: 42 }, 'webhookUrl'],
      [{ webhookEvents: ['message', 'bogus'] }, 'webhookEvents[1]'],
      [{ webhookEvents: ['instance.deleted'] }, 'webhookEvents[0]'],
      [{ webhookEvents: 'message' }, 'webhookEvents'],
      [{ webhookEnabled: 'yes' }, 'webhookEnabled'],
    ];
    for (const [body, field] of bad) {
      r = await srv.api('PUT', '/api/v1/instances/cfg/webhook', body);
      assert.equal(r.status, 400, JSON.stringify(body) + ' ' + r.text);
      assert.equal(r.json.error.code, 'INVALID_REQUEST');
      assert.equal(r.json.error.details.field, field, JSON.stringify(body));
    }
    r = await srv.api('PUT', '/api/v1/instances/cfg/webhook', '{"webhookUrl":');
    assert.equal(r.status, 400);
    r = await srv.api('GET', '/api/v1/instances/cfg/webhook');
    assert.equal(r.json.data.webhookUrl, null, 'rejected updates changed nothing');
    assert.deepEqual(r.json.data.webhookEvents, ['message', 'qr']);
    for (const [m, p] of [['GET', 'webhook'], ['PUT', 'webhook'], ['POST', 'webhook/test'], ['GET', 'webhook/status'],
      ['GET', 'webhook/deliveries'], ['POST', 'webhook/deliveries/evt_x/retry']]) {
      r = await srv.api(m, '/api/v1/instances/nope/' + p, m === 'GET' ? undefined : {});
      assert.equal(r.status, 404, `${m} ${p}`);
      assert.equal(r.json.error.code, 'INSTANCE_NOT_FOUND');
    }
  });

  test('signature verified by the Appendix A.2 consumer, headers, body bytes', async () => {
    let r = await srv.api('POST', '/api/v1/instances', { instanceId: 'sig-1', webhookUrl: a2.url });
    assert.equal(r.status, 201);
    // a payload that a naive serializer would print differently from JSON.stringify
    const data = { b: 1, a: 'x', 10: 'ten', 2: 'two', '01': 'zero-one', text: 'é中😀 \u2028 \u0001 "q" \\ </script>',
      f: 0.1, g: 1.5e-7, h: 1e21, i: 100.0, n: null, nested: [{ z: 1, 0: [true, false] }] };
    r = await srv.api('POST', '/api/v1/instances/sig-1/webhook/test', { data });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.delivered, true);
    assert.equal(r.json.data.statusCode, 200);
    assert.equal(typeof r.json.data.latencyMs, 'number');
    assert.match(r.json.data.eventId, /^evt_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(a2.rejected.length, 0, 'A.2 consumer rejected: ' + a2.rejected.map((x) => x.why).join(','));
    assert.equal(a2.accepted.length, 1);
    const got = a2.accepted[0];
    assert.equal(got.event, 'test');
    assert.equal(got.instanceId, 'sig-1');
    assert.deepEqual(got.data, JSON.parse(JSON.stringify(data)));
    assert.equal(got.headers['x-miaw-event-id'], r.json.data.eventId);

    // the raw request: exact headers, body = JSON.stringify(JSON.parse(body)), signed bytes = sent bytes
    r = await srv.api('PUT', '/api/v1/instances/sig-1/webhook', { webhookUrl: rcv.url });
    const before = rcv.requests.length;
    r = await srv.api('POST', '/api/v1/instances/sig-1/webhook/test', { data });
    assert.equal(r.status, 200, r.text);
    const q = rcv.requests[before];
    assert.equal(q.method, 'POST');
    assert.equal(q.headers['content-type'], 'application/json');
    assert.equal(q.headers['x-miaw-instance'], 'sig-1');
    assert.equal(q.headers['x-miaw-event'], 'test');
    assert.equal(q.headers['x-miaw-event-id'], r.json.data.eventId);
    assert.equal(q.headers['x-miaw-sequence'], '2');
    const ts = Number(q.headers['x-miaw-timestamp']);
    assert.ok(Math.abs(Date.now() - ts) < 10000, 'timestamp in ms');
    assert.equal(q.headers['x-miaw-signature'], hmac(SECRET, q.headers['x-miaw-timestamp'], q.raw));
    assert.equal(JSON.stringify(JSON.parse(q.body)), q.body, 're-serializing reproduces the bytes');
    const body = JSON.parse(q.body);
    assert.deepEqual(Object.keys(body), ['event', 'instanceId', 'timestamp', 'data']);
    assert.equal(typeof body.timestamp, 'number');
    assert.ok(!q.body.includes(SECRET) && !q.body.includes(srv.apiKey), 'no secret in the body');

    // the consumer is not a rubber stamp: a tampered body or an old timestamp is refused
    const miawHeaders = Object.fromEntries(Object.entries(q.headers).filter(([k]) => k.startsWith('x-miaw-')));
    const post = (headers, b) => fetch(a2.url, { method: 'POST', headers: { 'content-type': 'application/json', ...miawHeaders, ...headers }, body: b });
    const tampered = q.body.replace('"test"', '"message"');
    let res = await post({}, tampered);
    assert.equal(res.status, 401);
    const oldTs = String(Date.now() - 6 * 60 * 1000);
    res = await post({ 'x-miaw-timestamp': oldTs, 'x-miaw-signature': hmac(SECRET, oldTs, q.body) }, q.body);
    assert.equal(res.status, 401);
    assert.equal(a2.rejected.length, 2);
  });

  test('test endpoint reports receiver failures; no URL is a 400; counts honour filters', async () => {
    const bad = await startReceiver({ mode: 503 });
    try {
      let r = await srv.api('POST', '/api/v1/instances', { instanceId: 'tst', webhookUrl: bad.url });
      r = await srv.api('POST', '/api/v1/instances/tst/webhook/test', {});
      assert.equal(r.status, 500, r.text);
      assert.equal(r.json.error.code, 'WEBHOOK_FAILED');
      assert.equal(r.json.error.details.statusCode, 503);
      assert.equal(r.json.error.details.willRetry, true);
      assert.match(r.json.error.details.error, /HTTP 503/);
      assert.equal(typeof r.json.error.details.latencyMs, 'number');
      for (const body of [{ count: 0 }, { count: 1001 }, { count: 'x' }, { count: 1.5 }, { data: 'x' }]) {
        r = await srv.api('POST', '/api/v1/instances/tst/webhook/test', body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.json.error.details.field, Object.keys(body)[0]);
      }
    } finally { await bad.close(); }

    // no instance URL and no global URL: a server without MIAW_WEBHOOK_URL
    const bare = await startServer({ env: { API_WEBHOOK_SECRET: SECRET, MIAW_WEBHOOK_URL: '' } });
    try {
      await bare.api('POST', '/api/v1/instances', { instanceId: 'nourl' });
      const r = await bare.api('POST', '/api/v1/instances/nourl/webhook/test', {});
      assert.equal(r.status, 400);
      assert.equal(r.json.error.details.field, 'webhookUrl');
    } finally { await bare.stop(); }

    // filters: count mode goes through the normal pipeline; the single test is always sent
    const own = await startReceiver();
    try {
      let r = await srv.api('POST', '/api/v1/instances', { instanceId: 'flt', webhookUrl: own.url, webhookEvents: ['message'] });
      r = await srv.api('POST', '/api/v1/instances/flt/webhook/test', { count: 3 });
      assert.equal(r.status, 202);
      assert.equal(r.json.data.queued, 0);
      r = await srv.api('PUT', '/api/v1/instances/flt/webhook', { webhookEvents: [], webhookEnabled: false });
      r = await srv.api('POST', '/api/v1/instances/flt/webhook/test', { count: 3 });
      assert.equal(r.json.data.queued, 0);
      r = await srv.api('POST', '/api/v1/instances/flt/webhook/test', {});
      assert.equal(r.status, 200, 'the explicit test is sent even when disabled');
      await sleep(300);
      assert.equal(own.requests.length, 1);
      r = await srv.api('PUT', '/api/v1/instances/flt/webhook', { webhookEvents: ['test'], webhookEnabled: true });
      r = await srv.api('POST', '/api/v1/instances/flt/webhook/test', { count: 3 });
      assert.equal(r.json.data.queued, 3);
      assert.equal(r.json.data.eventIds.length, 3);
      await own.waitCount(4);
      assert.deepEqual(own.requests.slice(1).map((x) => x.headers['x-miaw-event-id']), r.json.data.eventIds);
      assert.deepEqual(own.requests.slice(1).map((x) => JSON.parse(x.body).data.index), [1, 2, 3]);
    } finally { await own.close(); }
  });

  test('status and deliveries: counts, latency, paging, no secrets', async () => {
    let r = await srv.api('POST', '/api/v1/instances', { instanceId: 'st', webhookUrl: rcv.url });
    r = await srv.api('POST', '/api/v1/instances/st/webhook/test', { count: 7 });
    assert.equal(r.json.data.queued, 7);
    const ids = r.json.data.eventIds;
    await rcv.waitFor((reqs) => reqs.filter((x) => x.headers['x-miaw-instance'] === 'st').length >= 7);
    await sleep(50);
    r = await srv.api('GET', '/api/v1/instances/st/webhook/status');
    assert.equal(r.status, 200);
    const s = r.json.data;
    assert.equal(s.queueDepth, 0);
    assert.equal(s.delivered, 7);
    assert.equal(s.failed, 0);
    assert.equal(s.lastError, null);
    assert.equal(s.latencyUs.samples, 7);
    assert.ok(s.latencyUs.p50 > 0 && s.latencyUs.p99 >= s.latencyUs.p50);
    assert.ok(s.lagMs.p99 >= 0);
    // paging through delivered rows
    const seen = [];
    let cursor = '';
    for (let i = 0; i < 10; i++) {
      r = await srv.api('GET', `/api/v1/instances/st/webhook/deliveries?status=delivered&limit=3${cursor ? '&cursor=' + cursor : ''}`);
      assert.equal(r.status, 200);
      seen.push(...r.json.data.items.map((x) => x.eventId));
      for (const it of r.json.data.items) { assert.equal(it.status, 'delivered'); assert.equal(it.attempts, 1); assert.equal(it.lastStatusCode, 200); }
      if (!r.json.data.nextCursor) break;
      cursor = r.json.data.nextCursor;
    }
    assert.deepEqual(seen, ids);
    r = await srv.api('GET', '/api/v1/instances/st/webhook/deliveries?status=pending');
    assert.deepEqual(r.json.data.items, []);
    r = await srv.api('GET', '/api/v1/instances/st/webhook/deliveries?includePayload=true&limit=1');
    assert.equal(r.json.data.items[0].payload.event, 'test');
    for (const qs of ['status=bogus', 'limit=0', 'limit=501', 'limit=x', 'cursor=-1', 'cursor=abc']) {
      r = await srv.api('GET', '/api/v1/instances/st/webhook/deliveries?' + qs);
      assert.equal(r.status, 400, qs);
      assert.equal(r.json.error.details.field, qs.split('=')[0]);
    }
    for (const p of ['webhook', 'webhook/status', 'webhook/deliveries?includePayload=true']) {
      r = await srv.api('GET', '/api/v1/instances/st/' + p);
      assert.ok(!r.text.includes(SECRET) && !r.text.includes(srv.apiKey), p + ' leaks a secret');
    }
  });
});

describe('webhooks: generated signing secret', () => {
  test('without API_WEBHOOK_SECRET a strong secret is generated, stored 0600 and used', async () => {
    const rcv = await startReceiver();
    const env = { MIAW_WEBHOOK_URL: rcv.url };
    const srv = await startServer({ env: { ...env, API_WEBHOOK_SECRET: '' } });
    try {
      const f = join(srv.dataDir, 'webhook_secret');
      const secret = readFileSync(f, 'utf8').trim();
      assert.ok(secret.length >= 32, 'strong');
      assert.equal(statSync(f).mode & 0o777, 0o600);
      await srv.api('POST', '/api/v1/instances', { instanceId: 'gen' });
      const r = await srv.api('POST', '/api/v1/instances/gen/webhook/test', {});
      assert.equal(r.status, 200, r.text);
      const q = rcv.requests[0];
      assert.equal(q.headers['x-miaw-signature'], hmac(secret, q.headers['x-miaw-timestamp'], q.raw));
      assert.notEqual(q.headers['x-miaw-signature'], hmac('secret', q.headers['x-miaw-timestamp'], q.raw));
    } finally { await srv.stop(); await rcv.close(); }
  });
});
