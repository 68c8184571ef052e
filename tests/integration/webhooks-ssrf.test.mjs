// tests/integration/webhooks-ssrf.test.mjs - the webhook target policy (SSRF guard) seen from
// the API: with block_private a 127.0.0.1 receiver that would otherwise get the event gets
// nothing, whether the URL names the address (refused by PUT, in every numeric form) or a
// hostname resolving to it (refused at connect time); allow and deny lists; https_only;
// and answers that report the status code and the time taken, never the receiver's body
// nor curl's error text. Only 127.0.0.1 is ever connected to; the classification of the
// other ranges is unit-tested (tests/unit/test_webhook_policy.c).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, test } from 'node:test';

import { freePort, sleep, startServer } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';

const ENV = { API_WEBHOOK_SECRET: 'ssrf', WEBHOOK_RETRY_DELAY_MS: '60000', WEBHOOK_TIMEOUT_MS: '3000' };

async function create(srv, id, webhookUrl) {
  const r = await srv.api('POST', '/api/v1/instances', { instanceId: id, ...(webhookUrl ? { webhookUrl } : {}) });
  assert.equal(r.status, 201, r.text);
}

describe('webhooks: target policy', () => {
  test('block_private refuses loopback targets: literal forms at PUT, resolved addresses at connect time', async () => {
    const rcv = await startReceiver();
    const srv = await startServer({ env: { ...ENV, MIAW_WEBHOOK_BLOCK_PRIVATE: 'true' } });
    try {
      await create(srv, 'p1');
      const p = rcv.port;
      for (const url of [`http://127.0.0.1:${p}/hook`, `http://2130706433:${p}/hook`, `http://0x7f000001:${p}/hook`,
        `http://0177.0.0.1:${p}/hook`, `http://127.1:${p}/hook`, `http://[::1]:${p}/hook`,
        `http://[::ffff:127.0.0.1]:${p}/hook`, `http://169.254.169.254/latest/meta-data/`, `http://10.0.0.1/`]) {
        const r = await srv.api('PUT', '/api/v1/instances/p1/webhook', { webhookUrl: url });
        assert.equal(r.status, 400, url);
        assert.equal(r.json.error.code, 'INVALID_REQUEST');
        assert.equal(r.json.error.details.field, 'webhookUrl');
        assert.match(r.json.error.message, /webhook target policy/);
      }
      // a hostname is accepted by PUT but every address it resolves to is judged when
      // the connection opens (DNS-rebinding safe): localhost -> 127.0.0.1 / ::1
      let r = await srv.api('PUT', '/api/v1/instances/p1/webhook', { webhookUrl: `http://localhost:${p}/hook` });
      assert.equal(r.status, 200);
      r = await srv.api('POST', '/api/v1/instances/p1/webhook/test', {});
      assert.equal(r.status, 500, r.text);
      assert.equal(r.json.error.code, 'WEBHOOK_FAILED');
      assert.equal(r.json.error.details.error, 'blocked by the webhook target policy');
      assert.equal(r.json.error.details.statusCode, null);
      assert.equal(typeof r.json.error.details.latencyMs, 'number');
      // an instance created with a literal loopback URL (the create route does not judge
      // it) is refused at connect time too
      await create(srv, 'p2', rcv.url);
      r = await srv.api('POST', '/api/v1/instances/p2/webhook/test', {});
      assert.equal(r.status, 500);
      assert.equal(r.json.error.details.error, 'blocked by the webhook target policy');
      const d = await srv.api('GET', '/api/v1/instances/p2/webhook/deliveries');
      assert.equal(d.json.data.items[0].lastError, 'blocked by the webhook target policy');
      await sleep(200);
      assert.equal(rcv.requests.length, 0, 'the loopback receiver got nothing');
      assert.match(srv.logs(), /refused, the address is in a private, loopback or reserved range/);
    } finally {
      await srv.stop();
      await rcv.close();
    }
  });

  test('allow overrides block_private; deny refuses even with the switch off', async () => {
    const rcv = await startReceiver();
    let srv = await startServer({ env: { ...ENV, MIAW_WEBHOOK_BLOCK_PRIVATE: 'true', MIAW_WEBHOOK_ALLOW: '127.0.0.1/32' } });
    try {
      await create(srv, 'a1', rcv.url);
      const r = await srv.api('POST', '/api/v1/instances/a1/webhook/test', {});
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.data.statusCode, 200);
      assert.equal(rcv.requests.length, 1);
    } finally {
      await srv.stop();
    }
    srv = await startServer({ env: { ...ENV, MIAW_WEBHOOK_BLOCK_PRIVATE: 'false', MIAW_WEBHOOK_DENY: '127.0.0.0/8' } });
    try {
      let r = await srv.api('POST', '/api/v1/instances', { instanceId: 'd1' });
      r = await srv.api('PUT', '/api/v1/instances/d1/webhook', { webhookUrl: rcv.url });
      assert.equal(r.status, 400);
      assert.match(r.json.error.message, /webhook\.policy\.deny/);
      await create(srv, 'd2', `http://localhost:${rcv.port}/hook`);
      r = await srv.api('POST', '/api/v1/instances/d2/webhook/test', {});
      assert.equal(r.json.error.details.error, 'blocked by the webhook target policy');
      assert.equal(rcv.requests.length, 1, 'nothing more reached the receiver');
    } finally {
      await srv.stop();
      await rcv.close();
    }
  });

  test('a bad CIDR, or a global URL the policy refuses, stops the server with a clear message', async () => {
    const cases = [
      [{ MIAW_WEBHOOK_DENY: '10.0.0.0/40' }, /webhook\.policy\.deny: '10\.0\.0\.0\/40' is not an address or CIDR range/],
      [{ MIAW_WEBHOOK_BLOCK_PRIVATE: 'true', MIAW_WEBHOOK_URL: 'http://127.0.0.1:9/hook' },
        /webhook\.url: 'http:\/\/127\.0\.0\.1:9\/hook' is refused by the webhook target policy/],
      [{ MIAW_WEBHOOK_HTTPS_ONLY: 'true', MIAW_WEBHOOK_URL: 'http://example.com/hook' }, /webhook\.url: .*https_only/],
    ];
    for (const [env, msg] of cases) {
      const srv = await startServer({ env, expectExit: true });
      const { code } = await Promise.race([srv.exited, sleep(15000).then(() => ({ code: 'still running' }))]);
      if (code === 'still running') await srv.kill9();
      assert.ok(code !== 0 && code !== 'still running', `exit code ${code}`);
      assert.match(srv.logs(), msg);
      await srv.stop();
    }
  });

  test('https_only refuses http:// targets', async () => {
    const srv = await startServer({ env: { ...ENV, MIAW_WEBHOOK_HTTPS_ONLY: 'true' } });
    try {
      await create(srv, 'h1');
      let r = await srv.api('PUT', '/api/v1/instances/h1/webhook', { webhookUrl: 'http://example.com/hook' });
      assert.equal(r.status, 400);
      assert.match(r.json.error.message, /https_only/);
      r = await srv.api('PUT', '/api/v1/instances/h1/webhook', { webhookUrl: 'https://example.com/hook' });
      assert.equal(r.status, 200);
    } finally {
      await srv.stop();
    }
  });

  test('answers report status and time, never the receiver body or the curl error', async () => {
    const SECRET_BODY = 'internal-token=S3CR3T-' + Date.now();
    const leaky = createServer((req, res) => {
      req.resume();
      req.on('end', () => { res.writeHead(500, { 'content-type': 'text/plain' }); res.end(SECRET_BODY); });
    });
    await new Promise((r) => leaky.listen(0, '127.0.0.1', r));
    const closed = await freePort(); // nothing listens there
    const srv = await startServer({ env: ENV });
    try {
      await create(srv, 'l1', `http://127.0.0.1:${leaky.address().port}/`);
      let r = await srv.api('POST', '/api/v1/instances/l1/webhook/test', {});
      assert.equal(r.status, 500);
      assert.equal(r.json.error.details.statusCode, 500);
      assert.equal(r.json.error.details.error, 'HTTP 500');
      assert.equal(typeof r.json.error.details.latencyMs, 'number');
      assert.ok(!r.text.includes('S3CR3T'), 'the receiver body is not echoed');
      const d = await srv.api('GET', '/api/v1/instances/l1/webhook/deliveries');
      const s = await srv.api('GET', '/api/v1/instances/l1/webhook/status');
      assert.ok(!d.text.includes('S3CR3T') && !s.text.includes('S3CR3T'), 'nor stored where the API shows it');
      assert.ok(!srv.logs().includes('S3CR3T'), 'nor logged');

      await create(srv, 'c1', `http://127.0.0.1:${closed}/`);
      r = await srv.api('POST', '/api/v1/instances/c1/webhook/test', {});
      assert.equal(r.status, 500);
      assert.equal(r.json.error.details.error, 'connection failed');
      assert.doesNotMatch(r.text, /connect to|Connection refused|port \d+|curl/i);
      assert.match(srv.logs(), /connection failed \(.+\)/, 'the detail stays in the server log');
    } finally {
      await srv.stop();
      await new Promise((r) => leaky.close(r));
    }
  });
});
