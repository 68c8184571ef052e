// OpenAPI 3.1 document generated from the live routes, checked by an independent
// validator from npm; Swagger UI served from local assets and rendered by headless
// Chromium (no CDN involved).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startServer, tempDir } from './lib/harness.mjs';

const run = promisify(execFile);

test('GET /openapi.json is a valid OpenAPI 3.1 document describing the API', async () => {
  const s = await startServer();
  try {
    const r = await s.api('GET', '/openapi.json', undefined, { noauth: true });
    assert.equal(r.status, 200);
    const doc = JSON.parse(r.text);
    const v = new Validator();
    const res = await v.validate(doc);
    assert.equal(res.valid, true, JSON.stringify(res.errors, null, 1));
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.servers[0].url, '/api/v1');
    assert.ok(doc.components.securitySchemes.bearerAuth && doc.components.securitySchemes.apiKeyHeader);
    const create = doc.paths['/instances'].post;
    assert.deepEqual(Object.keys(create.requestBody.content['application/json'].schema.properties).sort(),
      ['instanceId', 'webhookEnabled', 'webhookEvents', 'webhookUrl']);
    assert.ok(create.responses['201'] && create.responses['400'] && create.responses['401']);
    assert.ok(doc.paths['/instances/{instanceId}'].get.responses['404']);
    assert.deepEqual(doc.paths['/health'].get.security, [], 'health is public');
    assert.ok(doc.webhooks.message && doc.webhooks.qr && doc.webhooks.ready, 'spec 5.1 events documented');
    assert.equal(doc.webhooks['instance.deleted'], undefined, 'internal events are not webhooks');
    const codes = doc.components.schemas.ErrorEnvelope.properties.error.properties.code.enum;
    for (const c of ['UNAUTHORIZED', 'INVALID_REQUEST', 'INSTANCE_NOT_FOUND', 'INSTANCE_NOT_CONNECTED', 'WHATSAPP_ERROR', 'WEBHOOK_FAILED', 'RATE_LIMITED'])
      assert.ok(codes.includes(c), c);
    const ids = new Set();
    for (const item of Object.values(doc.paths))
      for (const [m, op] of Object.entries(item)) if (m !== 'servers') { assert.ok(!ids.has(op.operationId), op.operationId); ids.add(op.operationId); }
  } finally { await s.stop(); }
});

const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

test('GET / serves Swagger UI from local assets and it renders the API in headless Chromium', async () => {
  assert.ok(chromium, 'chromium is required (scripts/deps.sh installs it)');
  const s = await startServer();
  try {
    const page = await s.api('GET', '/', undefined, { noauth: true });
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.text, /https?:\/\//, 'no external asset URL in the page');
    const js = await s.api('GET', '/docs/swagger-ui-bundle.js', undefined, { noauth: true });
    assert.equal(js.status, 200);
    assert.ok(js.text.length > 100000);
    const profile = tempDir('miaw-chrome-');
    const { stdout } = await run(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`,
      '--virtual-time-budget=15000', '--dump-dom', `${s.url}/`], { timeout: 60000, maxBuffer: 64 << 20 });
    assert.match(stdout, /class="swagger-ui/);
    assert.match(stdout, /miaw API/, 'title from the OpenAPI document');
    assert.match(stdout, /Create instance/, 'operations rendered');
    assert.match(stdout, /\/instances\/\{instanceId\}/);
    assert.ok(s.logs().includes('GET /openapi.json 200'), 'the page fetched the document');
  } finally { await s.stop(); }
});
