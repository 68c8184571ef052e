// tests/integration/webhooks-durability.test.mjs - the outbox survives crashes: kill -9 in
// the middle of a backlog, restart on the same data dir, and every event that was
// accepted arrives (N in, N distinct event ids out, counted), in order per instance;
// a graceful stop with a dead receiver resumes after the restart too; a delivery cut by
// kill -9 is resent with its true attempt number (the attempt is counted before sending).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, test } from 'node:test';

import { startServer, tempDir, waitFor } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';

const ENV = { API_WEBHOOK_SECRET: 'durable', WEBHOOK_RETRY_DELAY_MS: '100' };

describe('webhooks: durability', () => {
  test('kill -9 mid-backlog: N events in, N distinct ids out after restart', async () => {
    const dataDir = tempDir('miaw-wh-dur-');
    const rcv = await startReceiver({ delayMs: 4 }); // ~200/s per instance: a backlog builds up
    let srv = await startServer({ env: ENV, dataDir, keepData: true });
    try {
      const accepted = [];
      for (const inst of ['k1', 'k2']) {
        const c = await srv.api('POST', '/api/v1/instances', { instanceId: inst, webhookUrl: rcv.url });
        assert.equal(c.status, 201);
        for (let b = 0; b < 3; b++) {
          const r = await srv.api('POST', `/api/v1/instances/${inst}/webhook/test`, { count: 250 });
          assert.equal(r.status, 202);
          assert.equal(r.json.data.queued, 250);
          accepted.push(...r.json.data.eventIds.map((id) => ({ id, inst })));
        }
      }
      const N = accepted.length;
      assert.equal(N, 1500);
      assert.equal(new Set(accepted.map((a) => a.id)).size, N, 'ids are unique');
      await rcv.waitCount(200, 10000);
      await srv.kill9();
      const beforeCrash = rcv.distinctIds().length;
      assert.ok(beforeCrash < N, `the crash came mid-backlog (${beforeCrash} of ${N} delivered)`);

      srv = await startServer({ env: ENV, dataDir, keepData: true });
      await rcv.waitFor(() => rcv.distinctIds().length >= N, 60000, `${N} distinct ids`);
      const ids = rcv.distinctIds();
      assert.equal(ids.length, N, 'N distinct ids out');
      assert.deepEqual(new Set(ids), new Set(accepted.map((a) => a.id)), 'exactly the accepted events');
      const dup = rcv.requests.length - N;
      assert.ok(dup <= 2, `at most the request in flight per instance is repeated (${dup})`);
      for (const inst of ['k1', 'k2']) {
        const reqs = rcv.requests.filter((q) => q.headers['x-miaw-instance'] === inst);
        const first = [...new Set(reqs.map((q) => q.headers['x-miaw-event-id']))];
        assert.deepEqual(first, accepted.filter((a) => a.inst === inst).map((a) => a.id), `${inst}: in order across the crash`);
        const seqs = reqs.map((q) => Number(q.headers['x-miaw-sequence']));
        for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] >= seqs[i - 1], `${inst}: sequence order at ${i}`);
      }
      await waitFor(async () => {
        const s = await srv.api('GET', '/api/v1/instances/k1/webhook/status');
        return s.json.data.queueDepth === 0;
      }, { timeoutMs: 5000, what: 'empty queue' });
      // sequence numbers continue after the restart, they do not restart at 1
      const r = await srv.api('POST', '/api/v1/instances/k1/webhook/test', {});
      assert.equal(r.status, 200);
      assert.equal(rcv.requests.at(-1).headers['x-miaw-sequence'], '751');
    } finally {
      await srv.stop();
      await rcv.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('a graceful stop while the receiver is down: the restart delivers what waited', async () => {
    const dataDir = tempDir('miaw-wh-dur-');
    const rcv = await startReceiver({ mode: 503 });
    let srv = await startServer({ env: ENV, dataDir, keepData: true });
    try {
      await srv.api('POST', '/api/v1/instances', { instanceId: 'g1', webhookUrl: rcv.url });
      const r = await srv.api('POST', '/api/v1/instances/g1/webhook/test', { count: 20 });
      await rcv.waitCount(2, 5000); // first attempt and a retry of event 1
      let s = await srv.api('GET', '/api/v1/instances/g1/webhook/status');
      assert.equal(s.json.data.queueDepth, 20);
      await srv.stop();
      rcv.mode = 200;
      srv = await startServer({ env: ENV, dataDir, keepData: true });
      await rcv.waitFor(() => rcv.distinctIds().length >= 20 && rcv.requests.at(-1).headers['x-miaw-event-id'] === r.json.data.eventIds[19], 10000);
      assert.deepEqual(rcv.distinctIds(), r.json.data.eventIds);
      await waitFor(async () => (await srv.api('GET', '/api/v1/instances/g1/webhook/status')).json.data.queueDepth === 0,
        { timeoutMs: 5000, what: 'empty queue' });
      s = await srv.api('GET', '/api/v1/instances/g1/webhook/status');
      assert.equal(s.json.data.delivered, 20);
      const d = await srv.api('GET', '/api/v1/instances/g1/webhook/deliveries?status=delivered&limit=1');
      assert.ok(d.json.data.items[0].attempts >= 2, 'attempt counts survive the restart');
    } finally {
      await srv.stop();
      await rcv.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
  test('kill -9 during an attempt: the resend says attempt 2, not 1 again', async () => {
    const dataDir = tempDir('miaw-wh-dur-');
    const rcv = await startReceiver({ mode: 'hang' });
    const env = { ...ENV, WEBHOOK_TIMEOUT_MS: '60000' };
    let srv = await startServer({ env, dataDir, keepData: true });
    try {
      await srv.api('POST', '/api/v1/instances', { instanceId: 'att', webhookUrl: rcv.url });
      const r = await srv.api('POST', '/api/v1/instances/att/webhook/test', { count: 1 });
      assert.equal(r.status, 202);
      const id = r.json.data.eventIds[0];
      await rcv.waitCount(1, 10000);
      assert.equal(rcv.requests[0].headers['x-miaw-attempt'], '1');
      await srv.kill9(); // the receiver never answered: the outcome of attempt 1 is unknown
      rcv.mode = 200;
      srv = await startServer({ env, dataDir, keepData: true });
      await rcv.waitCount(2, 15000);
      assert.equal(rcv.requests[1].headers['x-miaw-event-id'], id, 'the same event is resent');
      assert.equal(rcv.requests[1].headers['x-miaw-attempt'], '2', 'with its true attempt number');
      await waitFor(async () => (await srv.api('GET', '/api/v1/instances/att/webhook/status')).json.data.queueDepth === 0,
        { timeoutMs: 5000, what: 'delivered' });
      const d = await srv.api('GET', '/api/v1/instances/att/webhook/deliveries?status=delivered');
      assert.equal(d.json.data.items[0].attempts, 2);
    } finally {
      await srv.stop();
      await rcv.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
