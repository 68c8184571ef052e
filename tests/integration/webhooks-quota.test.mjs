// tests/integration/webhooks-quota.test.mjs - the outbox cannot be used to fill the disk or
// hold the loop: POST .../webhook/test is bounded in count x payload size, each instance
// has an outbox quota answered with 429 + Retry-After when full (and room comes back as
// deliveries catch up), /health stays quick during the largest test request allowed, and
// deleting an instance does not hold the loop (rows deleted in slices; the same id starts
// clean; a deletion cut by kill -9 is finished at the next start) and gives its outbox's
// disk space back (incremental vacuum + WAL truncation).
import assert from 'node:assert/strict';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { freePort, startServer, tempDir, waitFor } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';

const ENV = { API_WEBHOOK_SECRET: 'quota', WEBHOOK_RETRY_DELAY_MS: '60000' };
const dbBytes = (dir) => ['miaw.db', 'miaw.db-wal'].map((f) => join(dir, f))
  .reduce((n, f) => n + (existsSync(f) ? statSync(f).size : 0), 0);

describe('webhooks: outbox bounds', () => {
  test('count x payload is bounded per request; nothing is queued when refused', async () => {
    const rcv = await startReceiver({ mode: 503 });
    const srv = await startServer({ env: { ...ENV, MIAW_MAX_BODY_BYTES: String(4 << 20) } });
    try {
      await srv.api('POST', '/api/v1/instances', { instanceId: 'amp', webhookUrl: rcv.url });
      const big = 'x'.repeat(512 * 1024);
      let r = await srv.api('POST', '/api/v1/instances/amp/webhook/test', { count: 1000, data: { x: big } });
      assert.equal(r.status, 400, r.text.slice(0, 300));
      assert.equal(r.json.error.code, 'INVALID_REQUEST');
      assert.equal(r.json.error.details.field, 'count');
      assert.ok(r.json.error.details.bytes > r.json.error.details.maxBytes);
      // a single event larger than the per-request bound is refused too (field data)
      r = await srv.api('POST', '/api/v1/instances/amp/webhook/test', { data: { x: 'y'.repeat(2 << 20) } });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.details.field, 'data');
      const s = await srv.api('GET', '/api/v1/instances/amp/webhook/status');
      assert.equal(s.json.data.queueDepth, 0, 'nothing was written');
      // the largest request allowed (about 1 MiB) does not hold /health
      const slow = [];
      const load = srv.api('POST', '/api/v1/instances/amp/webhook/test', { count: 1000, data: { x: 'z'.repeat(800) } });
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const h = await fetch(srv.url + '/health');
        assert.equal(h.status, 200);
        slow.push(performance.now() - t0);
      }
      r = await load;
      assert.equal(r.status, 202, r.text.slice(0, 300));
      assert.equal(r.json.data.queued, 1000);
      console.log(`/health during the largest test request: ${slow.map((x) => x.toFixed(1)).join(', ')} ms`);
      assert.ok(Math.max(...slow) < 1000, `/health answered in ${slow.map((x) => x.toFixed(0)).join(', ')} ms`);
    } finally {
      await srv.stop();
      await rcv.close();
    }
  });

  test('a full outbox answers 429 with Retry-After; other instances keep their own quota', async () => {
    const rcv = await startReceiver({ mode: 503 });
    const srv = await startServer({ env: { ...ENV, MIAW_WEBHOOK_QUOTA_EVENTS: '50' } });
    try {
      await srv.api('POST', '/api/v1/instances', { instanceId: 'q1', webhookUrl: rcv.url });
      let r = await srv.api('POST', '/api/v1/instances/q1/webhook/test', { count: 40 });
      assert.equal(r.status, 202);
      r = await srv.api('POST', '/api/v1/instances/q1/webhook/test', { count: 20 });
      assert.equal(r.status, 429, r.text);
      assert.equal(r.json.error.code, 'RATE_LIMITED');
      assert.ok(Number(r.headers.get('retry-after')) > 0, 'Retry-After is set');
      assert.equal(r.json.error.details.quota.events, 40);
      assert.equal(r.json.error.details.quota.maxEvents, 50);
      r = await srv.api('POST', '/api/v1/instances/q1/webhook/test', { count: 10 });
      assert.equal(r.status, 202, 'what still fits is accepted');
      r = await srv.api('POST', '/api/v1/instances/q1/webhook/test', {});
      assert.equal(r.status, 429, 'the single test event as well');
      const s = await srv.api('GET', '/api/v1/instances/q1/webhook/status');
      assert.equal(s.json.data.queueDepth, 50);
      assert.equal(s.json.data.quota.events, 50);
      // other instances are not affected
      await srv.api('POST', '/api/v1/instances', { instanceId: 'q2', webhookUrl: rcv.url });
      r = await srv.api('POST', '/api/v1/instances/q2/webhook/test', { count: 5 });
      assert.equal(r.status, 202);
    } finally {
      await srv.stop();
      await rcv.close();
    }
  });

  test('events of a full instance are dropped, counted and logged once, not stored', async () => {
    // an instance connecting to a WhatsApp endpoint that is down emits connection events
    // in a loop (fast backoff here): the outbox of 3 events fills, the rest is dropped
    const rcv = await startReceiver({ mode: 503 });
    const closed = await freePort();
    const srv = await startServer({ env: { ...ENV, WA_WS_URL: `ws://127.0.0.1:${closed}/ws/chat`,
      MIAW_WA_BACKOFF_MIN_MS: '10', MIAW_WA_BACKOFF_MAX_MS: '50', MIAW_WEBHOOK_QUOTA_EVENTS: '3' } });
    try {
      await srv.api('POST', '/api/v1/instances', { instanceId: 'e1', webhookUrl: rcv.url });
      assert.equal((await srv.api('POST', '/api/v1/instances/e1/connect', {})).status, 200);
      const st = await waitFor(async () => {
        const s = (await srv.api('GET', '/api/v1/instances/e1/webhook/status')).json.data;
        return s.droppedOverQuota >= 5 ? s : null;
      }, { timeoutMs: 15000, what: 'events dropped over quota' });
      assert.equal(st.quota.events, 3);
      assert.equal(st.queueDepth, 3, 'the outbox did not grow past the quota');
      assert.equal(srv.logs().match(/the webhook outbox is full/g).length, 1, 'logged once per episode');
    } finally {
      await srv.stop();
      await rcv.close();
    }
  });

  test('room comes back as events are delivered', async () => {
    const rcv = await startReceiver({ mode: 200, delayMs: 20 });
    const srv = await startServer({ env: { ...ENV, MIAW_WEBHOOK_QUOTA_EVENTS: '30' } });
    try {
      await srv.api('POST', '/api/v1/instances', { instanceId: 'q3', webhookUrl: rcv.url });
      let r = await srv.api('POST', '/api/v1/instances/q3/webhook/test', { count: 30 });
      assert.equal(r.status, 202);
      r = await srv.api('POST', '/api/v1/instances/q3/webhook/test', { count: 30 });
      assert.equal(r.status, 429, 'full while the 30 are pending');
      await waitFor(async () => (await srv.api('GET', '/api/v1/instances/q3/webhook/status')).json.data.queueDepth === 0,
        { timeoutMs: 20000, what: 'backlog delivered' });
      r = await srv.api('POST', '/api/v1/instances/q3/webhook/test', { count: 30 });
      assert.equal(r.status, 202, 'delivered rows do not count');
    } finally {
      await srv.stop();
      await rcv.close();
    }
  });

  test('deleting an instance gives its disk space back', async () => {
    const rcv = await startReceiver({ mode: 503 });
    const srv = await startServer({ env: ENV });
    try {
      await srv.api('POST', '/api/v1/instances', { instanceId: 'big', webhookUrl: rcv.url });
      const before = dbBytes(srv.dataDir);
      for (let i = 0; i < 12; i++) {
        const r = await srv.api('POST', '/api/v1/instances/big/webhook/test', { count: 1000, data: { x: 'p'.repeat(800) } });
        assert.equal(r.status, 202, r.text.slice(0, 200));
      }
      const full = dbBytes(srv.dataDir);
      assert.ok(full - before > 8e6, `the outbox holds about 12 MB (${before} -> ${full})`);
      const r = await srv.api('DELETE', '/api/v1/instances/big');
      assert.ok(r.status === 200 || r.status === 204, r.text);
      const after = await waitFor(() => { const n = dbBytes(srv.dataDir); return n < before + 2e6 ? n : 0; },
        { timeoutMs: 20000, intervalMs: 100, what: `disk space back (was ${full}, now ${dbBytes(srv.dataDir)})` });
      assert.ok(after < full / 4, `${full} -> ${after} bytes`);
      console.log(`outbox disk: ${before} -> ${full} -> ${after} bytes after the delete`);
      // the WAL was truncated by the checkpointer's call (it waits for the thread's pass)
      const mt = await fetch(srv.url + '/metrics', { headers: { authorization: `Bearer ${srv.apiKey}` } });
      assert.equal(mt.status, 200);
      const tr = (await mt.text()).match(/^miaw_database_checkpoints_total\{by="truncate"\} (\d+)$/m);
      assert.ok(tr && Number(tr[1]) >= 1, `truncations counted: ${tr && tr[1]}`);
      const h = await fetch(srv.url + '/health');
      assert.equal(h.status, 200);
    } finally {
      await srv.stop();
      await rcv.close();
    }
  });

  test('deleting an instance with a big backlog does not hold the loop; the same id starts clean', async () => {
    const rcv = await startReceiver({ mode: 503 });
    const srv = await startServer({ env: { ...ENV, MIAW_WEBHOOK_TEST_MAX_KB: '8192' } });
    try {
      await srv.api('POST', '/api/v1/instances', { instanceId: 'del', webhookUrl: rcv.url });
      const old = new Set();
      for (let i = 0; i < 10; i++) { // about 70 MB of pending events
        const r = await srv.api('POST', '/api/v1/instances/del/webhook/test', { count: 1000, data: { x: 'p'.repeat(7000) } });
        assert.equal(r.status, 202, r.text.slice(0, 200));
        for (const id of r.json.data.eventIds) old.add(id);
      }
      const health = [];
      let stop = false;
      const probe = (async () => {
        while (!stop) { const t = performance.now(); await fetch(srv.url + '/health'); health.push(performance.now() - t); }
      })();
      const before = rcv.requests.length;
      const t0 = performance.now();
      let r = await srv.api('DELETE', '/api/v1/instances/del');
      const delMs = performance.now() - t0;
      assert.ok(r.status === 200 || r.status === 204, r.text);
      // the same id again, at once, while the old rows are still being deleted
      rcv.mode = 200;
      r = await srv.api('POST', '/api/v1/instances', { instanceId: 'del', webhookUrl: rcv.url });
      assert.equal(r.status, 201, r.text);
      r = await srv.api('POST', '/api/v1/instances/del/webhook/test', {});
      assert.equal(r.status, 200, r.text);
      const fresh = r.json.data.eventId;
      await waitFor(async () => (await srv.api('GET', '/api/v1/instances/del/webhook/deliveries?limit=5')).json.data.items.length === 1,
        { timeoutMs: 30000, intervalMs: 100, what: 'the old rows deleted' });
      stop = true;
      await probe;
      const worst = Math.max(...health);
      console.log(`DELETE answered in ${delMs.toFixed(0)} ms; /health worst ${worst.toFixed(0)} ms over ${health.length} probes`);
      assert.ok(delMs < 300, `DELETE took ${delMs.toFixed(0)} ms`);
      assert.ok(worst < 400, `/health took up to ${worst.toFixed(0)} ms while the outbox was deleted`);
      const got = rcv.requests.map((q) => q.headers['x-miaw-event-id']);
      assert.ok(got.slice(before).includes(fresh), 'the new instance gets its event');
      assert.ok(!got.slice(before).some((id) => old.has(id)), 'no event of the deleted instance after the delete');
    } finally {
      await srv.stop();
      await rcv.close();
    }
  });

  test('kill -9 during the deletion: the rows left are deleted at the next start, never delivered', async () => {
    const dataDir = tempDir('miaw-wh-purge-');
    const rcv = await startReceiver({ mode: 503 });
    const env = { ...ENV, MIAW_WEBHOOK_TEST_MAX_KB: '8192' };
    let srv = await startServer({ env, dataDir, keepData: true });
    try {
      await srv.api('POST', '/api/v1/instances', { instanceId: 'cut', webhookUrl: rcv.url });
      for (let i = 0; i < 6; i++) {
        const r = await srv.api('POST', '/api/v1/instances/cut/webhook/test', { count: 1000, data: { x: 'p'.repeat(7000) } });
        assert.equal(r.status, 202);
      }
      const full = dbBytes(dataDir);
      assert.equal((await srv.api('DELETE', '/api/v1/instances/cut')).status, 200);
      await srv.kill9();
      rcv.mode = 200;
      const before = rcv.requests.length;
      srv = await startServer({ env, dataDir, keepData: true });
      assert.match(srv.logs(), /cut: deleting the outbox rows left by this deleted instance/);
      await waitFor(() => dbBytes(dataDir) < full / 4, { timeoutMs: 30000, intervalMs: 100, what: 'space back' });
      assert.equal(rcv.requests.length, before, 'nothing of the deleted instance was delivered');
    } finally {
      await srv.stop();
      await rcv.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
