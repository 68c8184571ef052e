// Server core over real HTTP: health, auth, envelope and error codes, validation naming
// the field, body limits, request ids, CORS, logging, the instance registry and its
// persistence across restarts.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, tempDir, waitFor } from './lib/harness.mjs';

let srv;
before(async () => { srv = await startServer({ env: { MIAW_BASIC_AUTH: 'ops:s3cret', MIAW_MAX_BODY_BYTES: '4096' } }); });
after(async () => { await srv?.stop(); });

test('GET /health needs no auth and reports status, version, uptime, instances by state', async () => {
  for (const path of ['/health', '/api/v1/health']) {
    const r = await srv.api('GET', path, undefined, { noauth: true });
    assert.equal(r.status, 200);
    assert.equal(r.json.success, true);
    assert.equal(r.json.data.status, 'ok');
    assert.match(r.json.data.version, /^\d+\.\d+\.\d+/);
    assert.equal(typeof r.json.data.uptime, 'number');
    for (const k of ['total', 'disconnected', 'connecting', 'qr', 'connected', 'logged_out'])
      assert.equal(typeof r.json.data.instances[k], 'number', k);
  }
});

test('missing, wrong and right credentials', async () => {
  const miss = await srv.api('GET', '/api/v1/instances', undefined, { noauth: true });
  assert.equal(miss.status, 401);
  assert.deepEqual(miss.json.error.code, 'UNAUTHORIZED');
  assert.equal(miss.json.success, false);
  const wrong = await srv.api('GET', '/api/v1/instances', undefined, { authorization: 'Bearer nope' });
  assert.equal(wrong.status, 401);
  const prefix = await srv.api('GET', '/api/v1/instances', undefined, { authorization: `Bearer ${srv.apiKey.slice(0, -1)}` });
  assert.equal(prefix.status, 401, 'a prefix of the key is not the key');
  const longer = await srv.api('GET', '/api/v1/instances', undefined, { 'x-api-key': srv.apiKey + 'x' });
  assert.equal(longer.status, 401);
  const bearer = await srv.api('GET', '/api/v1/instances');
  assert.equal(bearer.status, 200);
  const xkey = await srv.api('GET', '/api/v1/instances', undefined, { 'x-api-key': srv.apiKey });
  assert.equal(xkey.status, 200);
  const basic = await srv.api('GET', '/api/v1/instances', undefined, { authorization: 'Basic ' + Buffer.from('ops:s3cret').toString('base64') });
  assert.equal(basic.status, 200);
  const badBasic = await srv.api('GET', '/api/v1/instances', undefined, { authorization: 'Basic ' + Buffer.from('ops:nope').toString('base64') });
  assert.equal(badBasic.status, 401);
  assert.equal((await srv.api('GET', '/api/v1/instances', undefined, { authorization: 'Basic !!!' })).status, 401);
});

test('unknown route is 404 and a wrong method 405, both in the envelope', async () => {
  const nf = await srv.api('GET', '/api/v1/nothing-here');
  assert.equal(nf.status, 404);
  assert.equal(nf.json.error.code, 'NOT_FOUND');
  const nf2 = await srv.api('GET', '/elsewhere');
  assert.equal(nf2.status, 404);
  assert.equal(nf2.json.success, false);
  const m = await srv.api('PUT', '/api/v1/instances', {});
  assert.equal(m.status, 405);
  assert.equal(m.json.error.code, 'METHOD_NOT_ALLOWED');
  assert.match(m.headers.get('allow'), /GET/);
  assert.match(m.headers.get('allow'), /POST/);
});

test('malformed JSON, wrong types and unknown event names are 400 naming the field', async () => {
  const bad = await srv.api('POST', '/api/v1/instances', '{"instanceId": "x",');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, 'INVALID_REQUEST');
  assert.equal(bad.json.error.details.field, 'body');
  const type = await srv.api('POST', '/api/v1/instances', { instanceId: 42 });
  assert.equal(type.status, 400);
  assert.equal(type.json.error.details.field, 'instanceId');
  assert.match(type.json.error.message, /instanceId/);
  const pat = await srv.api('POST', '/api/v1/instances', { instanceId: 'has space' });
  assert.equal(pat.status, 400);
  assert.equal(pat.json.error.details.field, 'instanceId');
  const long = await srv.api('POST', '/api/v1/instances', { instanceId: 'a'.repeat(65) });
  assert.equal(long.status, 400);
  const ev = await srv.api('POST', '/api/v1/instances', { webhookEvents: ['message', 'nope'] });
  assert.equal(ev.status, 400);
  assert.equal(ev.json.error.details.field, 'webhookEvents[1]');
  const evt = await srv.api('POST', '/api/v1/instances', { webhookEvents: 'message' });
  assert.equal(evt.status, 400);
  assert.equal(evt.json.error.details.field, 'webhookEvents');
  const url = await srv.api('POST', '/api/v1/instances', { webhookUrl: 'ftp://x.example/' });
  assert.equal(url.status, 400);
  assert.equal(url.json.error.details.field, 'webhookUrl');
  const arr = await srv.api('POST', '/api/v1/instances', [1, 2]);
  assert.equal(arr.status, 400);
  const dup = await srv.api('POST', '/api/v1/instances', '{"instanceId":"a","instanceId":"b"}');
  assert.equal(dup.status, 400);
  const form = await srv.api('POST', '/api/v1/instances', 'a=b', { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(form.status, 415);
  const health = await srv.api('GET', '/health', undefined, { noauth: true });
  assert.equal(health.status, 200, 'the server survived all of it');
});

test('a body over the configured limit is 413 in the envelope', async () => {
  const r = await srv.api('POST', '/api/v1/instances', { instanceId: 'big', webhookUrl: 'https://x.example/' + 'a'.repeat(5000) });
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, 'PAYLOAD_TOO_LARGE');
});

test('every response carries a request id; a sane incoming one is echoed', async () => {
  const a = await srv.api('GET', '/health', undefined, { noauth: true });
  assert.match(a.headers.get('x-request-id'), /^[0-9a-f]{24}$/);
  const b = await srv.api('GET', '/api/v1/nothing', undefined, { 'x-request-id': 'trace-123' });
  assert.equal(b.headers.get('x-request-id'), 'trace-123');
  const c = await srv.api('GET', '/health', undefined, { noauth: true, 'x-request-id': 'bad id with spaces' });
  assert.notEqual(c.headers.get('x-request-id'), 'bad id with spaces');
  await waitFor(() => /GET \/api\/v1\/nothing 404 [0-9.]+ms id=trace-123/.test(srv.logs()), { what: 'request log line' });
});

test('instance registry: create, duplicate, get, list, unknown, delete', async () => {
  const c = await srv.api('POST', '/api/v1/instances', { instanceId: 'bot-1', webhookUrl: 'https://myapp.example/hook', webhookEvents: ['message', 'qr'] });
  assert.equal(c.status, 201);
  const d = c.json.data;
  assert.equal(d.instanceId, 'bot-1');
  assert.equal(d.status, 'disconnected');
  assert.equal(d.webhookUrl, 'https://myapp.example/hook');
  assert.deepEqual(d.webhookEvents, ['message', 'qr']);
  assert.ok(!Number.isNaN(Date.parse(d.createdAt)));
  assert.ok(d.sessionPath.endsWith('/sessions/bot-1'));
  assert.ok(existsSync(d.sessionPath));
  const dup = await srv.api('POST', '/api/v1/instances', { instanceId: 'bot-1' });
  assert.equal(dup.status, 409);
  const gen = await srv.api('POST', '/api/v1/instances', {});
  assert.equal(gen.status, 201);
  assert.match(gen.json.data.instanceId, /^[A-Za-z0-9_-]{1,64}$/);
  const g = await srv.api('GET', '/api/v1/instances/bot-1');
  assert.equal(g.status, 200);
  assert.deepEqual(g.json.data, d);
  const list = await srv.api('GET', '/api/v1/instances');
  const ids = list.json.data.map((i) => i.instanceId);
  assert.ok(ids.includes('bot-1') && ids.includes(gen.json.data.instanceId));
  const filtered = await srv.api('GET', '/api/v1/instances?status=connected');
  assert.deepEqual(filtered.json.data, []);
  assert.equal((await srv.api('GET', '/api/v1/instances?status=bogus')).status, 400);
  const un = await srv.api('GET', '/api/v1/instances/nope');
  assert.equal(un.status, 404);
  assert.equal(un.json.error.code, 'INSTANCE_NOT_FOUND');
  const del = await srv.api('DELETE', '/api/v1/instances/' + gen.json.data.instanceId);
  assert.equal(del.status, 200);
  assert.equal((await srv.api('GET', '/api/v1/instances/' + gen.json.data.instanceId)).status, 404);
  assert.ok(!existsSync(gen.json.data.sessionPath), 'session files removed');
  assert.equal((await srv.api('DELETE', '/api/v1/instances/' + gen.json.data.instanceId)).status, 404);
});

test('CORS per CORS_ORIGIN, with preflight', async () => {
  const s = await startServer({ env: { CORS_ORIGIN: 'https://app.example,https://other.example' } });
  try {
    const ok = await s.api('GET', '/health', undefined, { noauth: true, origin: 'https://app.example' });
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example');
    const no = await s.api('GET', '/health', undefined, { noauth: true, origin: 'https://evil.example' });
    assert.equal(no.headers.get('access-control-allow-origin'), null);
    const pre = await s.api('OPTIONS', '/api/v1/instances', undefined, { noauth: true, origin: 'https://other.example', 'access-control-request-method': 'POST' });
    assert.equal(pre.status, 204);
    assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
    assert.match(pre.headers.get('access-control-allow-headers'), /Authorization/);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://other.example');
  } finally { await s.stop(); }
  const plain = await srv.api('GET', '/health', undefined, { noauth: true, origin: 'https://app.example' });
  assert.equal(plain.headers.get('access-control-allow-origin'), null, 'no CORS headers unless configured');
});

test('instances and their fields survive a restart; delete removes every trace', async () => {
  const dataDir = tempDir();
  let s = await startServer({ dataDir, keepData: true });
  await s.api('POST', '/api/v1/instances', { instanceId: 'keep', webhookUrl: 'http://127.0.0.1:9/x', webhookEvents: ['ready'] });
  await s.api('POST', '/api/v1/instances', { instanceId: 'gone' });
  const before = (await s.api('GET', '/api/v1/instances/keep')).json.data;
  await s.stop();
  s = await startServer({ dataDir, keepData: true });
  try {
    const after = (await s.api('GET', '/api/v1/instances/keep')).json.data;
    assert.deepEqual(after, before);
    assert.equal((await s.api('DELETE', '/api/v1/instances/gone')).status, 200);
    assert.ok(!existsSync(join(dataDir, 'sessions', 'gone')));
    await s.stop();
    s = await startServer({ dataDir, keepData: true });
    assert.equal((await s.api('GET', '/api/v1/instances/gone')).status, 404);
    assert.equal((await s.api('GET', '/api/v1/instances/keep')).status, 200);
    assert.equal(statSync(join(dataDir, 'miaw.db')).mode & 0o077, 0, 'database is 0600');
  } finally { await s.stop(); }
});
