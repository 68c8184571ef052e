// tests/integration/http_hardening.test.mjs - issue 16, the HTTP side: path parameters
// decoded exactly once (NUL and an encoded '/' are 400), no forged log lines, HTTP/1.1
// keep-alive after POST answers of any status, Vary: Origin on CORS answers, large bodies
// judged from the head before they are read (RSS flat under 200 unauthenticated 16 MiB
// requests; every 413 in the envelope, TLS included), REST rate limits (429 RATE_LIMITED
// with Retry-After) and scoped API keys.
// Env: MIAW_BUILD_DIR (default build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, tempDir, waitFor } from './lib/harness.mjs';
import { rawConn, req } from './lib/rawhttp.mjs';

/** SIGTERM; the exit must be clean (code 0, no sanitizer report: run with an ASan build) */
async function stopClean(s) {
  if (s.proc.exitCode === null && s.proc.signalCode === null) {
    s.proc.kill('SIGTERM');
    const r = await s.exited;
    assert.equal(r.code, 0, s.logs().slice(-3000));
  }
  assert.doesNotMatch(s.logs(), /AddressSanitizer|LeakSanitizer|runtime error/);
  await s.stop();
}

const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;

test('path parameters are decoded exactly once; NUL, encoded / and dot segments are 400', async () => {
  const s = await startServer();
  try {
    for (const id of ['victim', 'a', 'a%2fb']) {
      const r = await s.api('POST', '/api/v1/instances', { instanceId: decodeURIComponent(id) });
      if (id !== 'a%2fb') assert.equal(r.status, 201, r.text);
    }
    let r = await s.api('DELETE', '/api/v1/instances/victim%00ZZZ');
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.code, 'INVALID_REQUEST');
    assert.equal((await s.api('GET', '/api/v1/instances/victim')).status, 200, 'victim still exists');
    // %2561 is "%61", not "a"
    r = await s.api('GET', '/api/v1/instances/%2561');
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.error.details.instanceId, '%61');
    // a%252fb is "a%2fb", never "a/b"; a%2fb (an encoded separator) is refused
    r = await s.api('GET', '/api/v1/instances/a%252fb');
    assert.equal(r.status, 404);
    assert.equal(r.json.error.details.instanceId, 'a%2fb');
    assert.equal((await s.api('GET', '/api/v1/instances/a%2fb')).status, 400);
    assert.equal((await s.api('GET', '/api/v1/instances/a%2Fb/status')).status, 400);
    // raw: a dot segment, and a bad escape
    const c = rawConn(s.port);
    await c.send(req('GET', '/api/v1/instances/%2e%2e/health', { authorization: `Bearer ${s.apiKey}` }));
    assert.equal((await c.response()).status, 400);
    await c.send(req('GET', '/api/v1/instances/%zz', { authorization: `Bearer ${s.apiKey}` }));
    assert.equal((await c.response()).status, 400);
    c.end();
    // still decoded once where it should be
    assert.equal((await s.api('GET', '/api/v1/instances/vict%69m')).status, 200);
  } finally { await s.stop(); }
});

test('control characters in a request never reach the text log raw', async () => {
  const s = await startServer();
  try {
    const forged = '%0a%0d2026-01-01T00:00:00.000Z%20error%20[admin]%20FORGED-LINE%1b[31m';
    const c = rawConn(s.port);
    await c.send(req('GET', '/api/v1/x' + forged));
    assert.equal((await c.response()).status, 404);
    c.end();
    await waitFor(() => s.logs().includes('FORGED-LINE'), { what: 'the request logged' });
    for (const line of s.logs().split('\n')) {
      assert.ok(!line.startsWith('2026-01-01T00:00:00.000Z'), 'a forged line: ' + JSON.stringify(line));
      assert.ok(!line.includes('\x1b') && !line.includes('\r'), 'a raw control character: ' + JSON.stringify(line));
    }
  } finally { await s.stop(); }
});

test('HTTP/1.1 keep-alive holds after POST answers of every status (201, 400, 404, 409, 503)', async () => {
  const s = await startServer();
  try {
    const auth = { authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json' };
    const c = rawConn(s.port);
    const steps = [
      [req('POST', '/api/v1/instances', auth, '{"instanceId":"ka"}'), 201],
      [req('POST', '/api/v1/instances', auth, '{"instanceId":"ka"}'), 409],
      [req('POST', '/api/v1/instances', auth, '{"instanceId":'), 400],
      [req('POST', '/api/v1/nope', auth, '{}'), 404],
      [req('POST', '/api/v1/instances/ka/messages/text', auth, '{"to":"15550001111","text":"hi"}'), 503],
      [req('GET', '/api/v1/instances/ka', auth), 200],
      [req('DELETE', '/api/v1/instances/ka', auth), 200],
      [req('POST', '/api/v1/instances', { 'content-type': 'application/json' }, '{"instanceId":"x"}'), 401],
    ];
    for (const [bytes, want] of steps) {
      await c.send(bytes);
      const r = await c.response();
      assert.equal(r.status, want, r.body);
      assert.equal(r.headers.connection, 'keep-alive', `status ${r.status} closed the connection`);
      assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
    }
    assert.equal(c.isClosed(), false);
    c.end();
  } finally { await s.stop(); }
});

test('CORS answers say Vary: Origin', async () => {
  for (const conf of ['*', 'https://a.example, https://b.example']) {
    const s = await startServer({ env: { CORS_ORIGIN: conf } });
    try {
      for (const origin of ['https://a.example', 'https://evil.example', undefined]) {
        const h = origin ? { origin } : {};
        const r = await s.api('GET', '/api/v1/instances', undefined, h);
        assert.match(r.headers.get('vary') || '', /Origin/i, `${conf} / ${origin}`);
      }
      const r = await fetch(s.url + '/api/v1/instances', { method: 'OPTIONS', headers: { origin: 'https://a.example' } });
      assert.match(r.headers.get('vary') || '', /Origin/i);
    } finally { await s.stop(); }
  }
});

/** POSTs a body of `size` bytes (declared, or chunked) and stops sending once an answer
 * arrives; resolves the answer and how many body bytes went out */
async function bigPost(port, path, headers, size, chunked = false, { method = 'POST', names = ['content-length', 'transfer-encoding'] } = {}) {
  const c = rawConn(port);
  await c.ready;
  const h = chunked ? { ...headers, [names[1]]: 'chunked' } : { ...headers, [names[0]]: String(size) };
  await c.send(req(method, path, h));
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  const answer = c.response(60000).catch((e) => e);
  let got = null;
  answer.then((v) => { got = v; });
  while (sent < size && got === null && !c.isClosed()) {
    const part = chunked ? Buffer.concat([Buffer.from(chunk.length.toString(16) + '\r\n'), chunk, Buffer.from('\r\n')]) : chunk;
    const ok = c.sock.write(part);
    sent += chunk.length;
    if (!ok) await new Promise((res) => { c.sock.once('drain', res); c.sock.once('close', res); setTimeout(res, 2000); });
    else await new Promise((res) => setImmediate(res)); // let the answer be seen: the server drains fast after it
  }
  if (chunked && got === null && !c.isClosed()) c.sock.write('0\r\n\r\n');
  const r = await answer;
  c.end();
  if (r instanceof Error) throw r;
  return { r, sent };
}

test('large bodies are judged before they are read: RSS stays flat under 200 unauthenticated 16 MiB POSTs', { timeout: 180000 }, async () => {
  const s = await startServer();
  try {
    // warm up the allocator a little, then measure
    assert.equal((await s.api('GET', '/api/v1/instances')).status, 200);
    const before = rss(s.proc.pid);
    let peak = before;
    const N = 200, CONC = 20, SIZE = 16 << 20;
    let done = 0, sentTotal = 0;
    const worker = async () => {
      while (done < N) {
        done++;
        const { r, sent } = await bigPost(s.port, '/api/v1/instances', { 'content-type': 'application/json' }, SIZE);
        sentTotal += sent;
        assert.equal(r.status, 401, r.body);
        assert.equal(JSON.parse(r.body).error.code, 'UNAUTHORIZED');
        assert.equal(r.headers.connection, 'close');
        peak = Math.max(peak, rss(s.proc.pid));
      }
    };
    await Promise.all(Array.from({ length: CONC }, worker));
    const grew = peak - before;
    console.log(`# RSS before ${(before / 1048576).toFixed(1)} MiB, peak ${(peak / 1048576).toFixed(1)} MiB (+${(grew / 1048576).toFixed(1)} MiB) ` +
      `over ${N} x ${SIZE >> 20} MiB; client wrote ${(sentTotal / 1048576).toFixed(0)} MiB in all`);
    assert.ok(grew < 40 * 1048576, `RSS grew by ${(grew / 1048576).toFixed(1)} MiB`);
    // the server still works
    assert.equal((await s.api('GET', '/health', undefined, { noauth: true })).status, 200);
  } finally { await stopClean(s); }
});

test('an authenticated body over the limit is 413 in the envelope, declared or chunked; small bodies are read as before', { timeout: 60000 }, async () => {
  const s = await startServer();
  try {
    const auth = { authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json' };
    for (const chunked of [false, true]) {
      const { r, sent } = await bigPost(s.port, '/api/v1/instances', auth, 64 << 20, chunked);
      assert.equal(r.status, 413, r.body);
      assert.ok(sent < 64 << 20, `the answer came only after the whole body (${chunked ? 'chunked' : 'declared'})`);
      const j = JSON.parse(r.body);
      assert.equal(j.error.code, 'PAYLOAD_TOO_LARGE');
      assert.equal(j.error.details.limit, 1048576);
    }
    // the head's quick look (only a head with a line starting like Content-Length or
    // Transfer-Encoding is parsed) finds the length whatever the case of its name, on any
    // method (a GET with a body too), and a chunked body under a capitalized
    // Transfer-Encoding: refused from the head (401), not after the whole body was read.
    // (h2o lowercases header names in its buffer when it parses a head, so the case
    // matters for the first read only.)
    const near = { connection: 'keep-alive', 'content-type': 'application/json', te: 'trailers' }; // lines that start alike
    for (const [chunked, names, method, extra] of [[false, ['CONTENT-LENGTH', ''], 'POST', {}], [false, ['Content-Length', ''], 'GET', {}],
      [true, ['', 'Transfer-Encoding'], 'POST', {}], [true, ['', 'TRANSFER-ENCODING'], 'POST', {}],
      [false, ['Content-Length', ''], 'POST', near], [true, ['', 'transfer-encoding'], 'POST', near]]) {
      const size = 16 << 20;
      const { r, sent } = await bigPost(s.port, '/api/v1/instances', extra, size, chunked, { method, names });
      assert.equal(r.status, 401, `${method} ${names}: ${r.body}`);
      assert.ok(sent < size / 2, `${method} ${names}: the answer came only after ${sent} bytes of the body`);
    }
    // just above the early threshold but within the limit: read and judged by the route
    const { r } = await bigPost(s.port, '/api/v1/instances', auth, 200 * 1024);
    assert.equal(r.status, 400, r.body); // spaces are not JSON
    // unknown route with a large body: 404 at once
    const n = await bigPost(s.port, '/api/v1/nope', auth, 8 << 20);
    assert.equal(n.r.status, 404);
  } finally { await stopClean(s); }
});

test('over TLS: a body over the limit is 413 in the envelope, and a large unauthenticated body is refused from its head', { timeout: 60000 }, async () => {
  const dir = tempDir('miaw-tls-');
  const cert = join(dir, 'cert.pem'), key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const s = await startServer({ config: `server:\n  tls:\n    cert: ${cert}\n    key: ${key}\n`, tls: true, expectExit: true });
  const curl = (args) => execFileSync('curl', ['-s', '-S', '--max-time', '20', '--cacert', cert, ...args], { encoding: 'utf8' });
  try {
    await waitFor(() => { try { return curl([`https://127.0.0.1:${s.port}/health`]).includes('"ok"'); } catch { return false; } },
      { what: 'TLS health' });
    // a declared size above every limit: refused from the header, in the envelope
    const out = curl(['--http1.1', '-H', `Authorization: Bearer ${s.apiKey}`, '-H', 'content-type: application/json',
      '-H', `content-length: ${2 ** 40}`, '-w', '\n%{http_code} %{content_type}', '--data-binary', '{}',
      `https://127.0.0.1:${s.port}/api/v1/instances`]);
    const [body, tail] = out.split('\n');
    assert.match(tail, /^413 application\/json/, out);
    assert.equal(JSON.parse(body).error.code, 'PAYLOAD_TOO_LARGE');
    // an unauthenticated 24 MiB body over TLS: judged from the decrypted head, answered at once
    const big = join(dir, 'big.bin');
    writeFileSync(big, Buffer.alloc(24 << 20, 0x20));
    const before = rss(s.proc.pid);
    for (let i = 0; i < 5; i++) {
      const o = curl(['--http1.1', '-H', 'content-type: application/json', '-w', '\n%{http_code}', '--data-binary', `@${big}`,
        `https://127.0.0.1:${s.port}/api/v1/instances`]);
      const [b, code] = o.split('\n');
      assert.equal(code, '401', o);
      assert.equal(JSON.parse(b).error.code, 'UNAUTHORIZED');
    }
    await waitFor(() => (s.logs().match(/POST \/api\/v1\/instances 401 \(refused before the body: declared 25165824 bytes\)/g) || []).length === 5,
      { what: 'five requests refused from their head' });
    assert.ok(rss(s.proc.pid) - before < 20 << 20, 'RSS grew');
    // and h2 over TLS (ALPN) still works, as does an authenticated request on HTTP/1.1
    assert.equal(curl(['--http2', '-H', `Authorization: Bearer ${s.apiKey}`, '-o', '/dev/null', '-w', '%{http_version} %{http_code}',
      `https://127.0.0.1:${s.port}/api/v1/instances`]), '2 200');
    assert.equal(curl(['--http1.1', '-H', `Authorization: Bearer ${s.apiKey}`, '-H', 'content-type: application/json', '-o', '/dev/null',
      '-w', '%{http_code}', '-d', '{"instanceId":"tls1"}', `https://127.0.0.1:${s.port}/api/v1/instances`]), '201');
  } finally { await stopClean(s); }
});

test('REST rate limits: per API key and per client address, 429 RATE_LIMITED with Retry-After', async () => {
  const s = await startServer({ env: { MIAW_RATE_LIMIT_API_PER_KEY: '60', MIAW_RATE_LIMIT_API_BURST: '3' } });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await s.api('GET', '/api/v1/instances')).status, 200);
    const r = await s.api('GET', '/api/v1/instances');
    assert.equal(r.status, 429, r.text);
    assert.equal(r.json.error.code, 'RATE_LIMITED');
    assert.equal(r.json.error.details.limit, 'key');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.ok(r.json.error.details.retryAfterMs > 0 && r.json.error.details.retryAfterMs <= 1000);
    // public routes are not counted
    assert.equal((await s.api('GET', '/health', undefined, { noauth: true })).status, 200);
    // the pace refills: one a second at 60 per minute
    await waitFor(async () => (await s.api('GET', '/api/v1/instances')).status === 200, { what: 'refill', timeoutMs: 5000, intervalMs: 300 });
  } finally { await s.stop(); }
  const a = await startServer({ env: { MIAW_RATE_LIMIT_API_PER_ADDRESS: '60', MIAW_RATE_LIMIT_API_BURST: '2' } });
  try {
    // unauthenticated requests count for the address too (key guessing)
    assert.equal((await a.api('GET', '/api/v1/instances', undefined, { authorization: 'Bearer wrong' })).status, 401);
    assert.equal((await a.api('GET', '/api/v1/instances', undefined, { authorization: 'Bearer wrong' })).status, 401);
    const r = await a.api('GET', '/api/v1/instances');
    assert.equal(r.status, 429);
    assert.equal(r.json.error.details.limit, 'address');
    assert.ok(r.headers.get('retry-after'));
  } finally { await stopClean(a); }
});

test('scoped API keys: created by the admin, limited to instances and permissions, hashed, listed without secret, revocable', async () => {
  const s = await startServer();
  try {
    for (const id of ['shop', 'other']) assert.equal((await s.api('POST', '/api/v1/instances', { instanceId: id })).status, 201);
    let r = await s.api('POST', '/api/v1/keys', { name: 'reader', instances: ['shop'], permissions: ['read'] });
    assert.equal(r.status, 201, r.text);
    const reader = r.json.data;
    assert.match(reader.key, /^mk_[0-9a-f]{16}_[0-9a-f]{40}$/);
    r = await s.api('POST', '/api/v1/keys', { name: 'sender', instances: ['shop'], permissions: ['send'] });
    const sender = r.json.data;
    // bad bodies
    assert.equal((await s.api('POST', '/api/v1/keys', { instances: [], permissions: ['read'] })).status, 400);
    assert.equal((await s.api('POST', '/api/v1/keys', { instances: ['shop'], permissions: ['admin'] })).status, 400);
    const as = (k) => ({ authorization: `Bearer ${k.key}` });
    // read key: GET on its instance only
    assert.equal((await s.api('GET', '/api/v1/instances/shop', undefined, as(reader))).status, 200);
    assert.equal((await s.api('GET', '/api/v1/instances/shop/status', undefined, { 'x-api-key': reader.key })).status, 200);
    r = await s.api('GET', '/api/v1/instances/other', undefined, as(reader));
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'FORBIDDEN');
    assert.equal((await s.api('GET', '/api/v1/instances/ghost', undefined, as(reader))).status, 403, 'no existence oracle');
    assert.equal((await s.api('POST', '/api/v1/instances/shop/messages/text', { to: '15550001111', text: 'x' }, as(reader))).status, 403);
    // send key: sends on its instance (503: not connected, so past the permission check), no reads
    assert.equal((await s.api('POST', '/api/v1/instances/shop/messages/text', { to: '15550001111', text: 'x' }, as(sender))).status, 503);
    assert.equal((await s.api('GET', '/api/v1/instances/shop', undefined, as(sender))).status, 403);
    // admin-only: listing, creating, keys, webhook settings, deleting
    assert.equal((await s.api('GET', '/api/v1/instances', undefined, as(sender))).status, 403);
    assert.equal((await s.api('POST', '/api/v1/instances', { instanceId: 'z' }, as(sender))).status, 403);
    assert.equal((await s.api('GET', '/api/v1/keys', undefined, as(reader))).status, 403);
    assert.equal((await s.api('POST', '/api/v1/keys', { instances: ['shop'], permissions: ['send'] }, as(sender))).status, 403);
    assert.equal((await s.api('PUT', '/api/v1/instances/shop/webhook', { url: 'http://127.0.0.1:1/x' }, as(sender))).status, 403);
    assert.equal((await s.api('DELETE', '/api/v1/instances/shop', undefined, as(sender))).status, 403);
    // a wrong X-API-Key does not hide a right Authorization (as before scoped keys)
    assert.equal((await s.api('GET', '/api/v1/instances', undefined, { 'x-api-key': 'wrong', authorization: `Bearer ${s.apiKey}` })).status, 200);
    assert.equal((await s.api('GET', '/api/v1/instances/shop', undefined, { 'x-api-key': 'wrong', authorization: `Bearer ${reader.key}` })).status, 200);
    // a forged key with a real id is refused
    assert.equal((await s.api('GET', '/api/v1/instances/shop', undefined, { authorization: `Bearer mk_${reader.id}_${'0'.repeat(40)}` })).status, 401);
    // listed without secret
    r = await s.api('GET', '/api/v1/keys');
    assert.equal(r.status, 200);
    assert.equal(r.json.data.length, 2);
    assert.ok(!r.text.includes(reader.key.slice(20)) && !('key' in r.json.data[0]));
    assert.deepEqual(r.json.data.find((k) => k.id === reader.id).permissions, ['read']);
    // stored hashed: the secret is nowhere in the data dir
    for (const f of readdirSync(s.dataDir)) {
      if (!f.startsWith('miaw.db')) continue;
      const bytes = readFileSync(join(s.dataDir, f));
      assert.ok(!bytes.includes(reader.key.slice(20)), `${f} holds the secret`);
    }
    // revoked: refused at once; unknown id 404
    assert.equal((await s.api('DELETE', `/api/v1/keys/${reader.id}`)).status, 200);
    assert.equal((await s.api('GET', '/api/v1/instances/shop', undefined, as(reader))).status, 401);
    assert.equal((await s.api('DELETE', `/api/v1/keys/${reader.id}`)).status, 404);
  } finally { await stopClean(s); }
});

test('scoped keys survive a restart, and a scoped key cannot push a large body past the gate', { timeout: 60000 }, async () => {
  const dataDir = tempDir('miaw-keys-');
  let s = await startServer({ dataDir, apiKey: 'admin-key-1' });
  let key;
  try {
    assert.equal((await s.api('POST', '/api/v1/instances', { instanceId: 'shop' })).status, 201);
    key = (await s.api('POST', '/api/v1/keys', { instances: ['shop'], permissions: ['read'] })).json.data;
  } finally { await s.stop(); }
  s = await startServer({ dataDir, apiKey: 'admin-key-1' });
  try {
    assert.equal((await s.api('GET', '/api/v1/instances/shop', undefined, { authorization: `Bearer ${key.key}` })).status, 200);
    // read-only key, large body to a send route: refused from the head (403), not read
    const { r, sent } = await bigPost(s.port, '/api/v1/instances/shop/messages/text',
      { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' }, 8 << 20);
    assert.equal(r.status, 403, r.body);
    assert.ok(sent < 8 << 20, 'the client could stop early');
  } finally { await stopClean(s); }
});

test('h2c requests the client gives up on are logged 499, never 5xx: stream reset, connection drop, Upgrade then drop', { timeout: 60000 }, async () => {
  const { copyFileSync } = await import('node:fs');
  const { connect: h2connect } = await import('node:http2');
  const { BUILD } = await import('./lib/harness.mjs');
  const dir = tempDir('miaw-plugins-');
  copyFileSync(join(BUILD, 'example-plugins', 'hello.so'), join(dir, 'hello.so'));
  const s = await startServer({ config: `plugins:\n  dir: ${dir}\n  enabled: [hello]\n`, pluginDir: dir });
  try {
    const body = JSON.stringify({ name: 'x', delayMs: 3000 });
    const hdr = { ':method': 'POST', ':path': '/api/v1/hello/later', authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json' };
    // reset streams and dropped connections, prior knowledge
    const c1 = h2connect(s.url);
    c1.on('error', () => {});
    for (let i = 0; i < 5; i++) {
      const st = c1.request(hdr);
      st.on('error', () => {});
      st.end(body);
      setTimeout(() => st.close(0x8), 100);
    }
    const c2 = h2connect(s.url);
    c2.on('error', () => {});
    for (let i = 0; i < 5; i++) {
      const st = c2.request(hdr);
      st.on('error', () => {});
      st.end(body);
    }
    setTimeout(() => c2.destroy(), 150);
    // h2c by Upgrade, then the client leaves
    for (let i = 0; i < 2; i++) {
      const c = rawConn(s.port);
      await c.send(req('POST', '/api/v1/hello/later', { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c',
        'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA', authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json' }, body));
      setTimeout(() => c.end(), 150);
    }
    await waitFor(() => (s.logs().match(/POST \/api\/v1\/hello\/later 499 /g) || []).length === 12,
      { what: '12 abandoned requests logged 499', timeoutMs: 15000 });
    c1.destroy();
    await new Promise((res) => setTimeout(res, 3200)); // past the plugin's delay
    assert.doesNotMatch(s.logs(), /hello\/later (5\d\d|200) /);
  } finally { await stopClean(s); }
});

test('h2o\'s own error answers (broken chunked framing, unknown Expect) come in the envelope', async () => {
  const s = await startServer();
  try {
    const auth = { authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json' };
    const cases = [
      [req('POST', '/api/v1/instances', { ...auth, 'transfer-encoding': 'chunked' }, 'zz\r\n{}\r\n0\r\n\r\n'), 400, 'INVALID_REQUEST'],
      [req('POST', '/api/v1/instances', { ...auth, expect: '999-nope' }, '{}'), 417, 'INVALID_REQUEST'],
    ];
    for (const [bytes, st, code] of cases) {
      const c = rawConn(s.port);
      await c.send(bytes);
      const r = await c.response();
      c.end();
      assert.equal(r.status, st, r.body);
      assert.match(r.headers['content-type'], /application\/json/);
      const j = JSON.parse(r.body);
      assert.equal(j.success, false);
      assert.equal(j.error.code, code);
    }
  } finally { await stopClean(s); }
});
