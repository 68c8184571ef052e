// HTTP versions: HTTP/1.1, h2c by prior knowledge and by Upgrade, TLS with ALPN h2
// (curl), and an h2 client that resets its stream while an async answer is pending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { connect } from 'node:http2';
import { join } from 'node:path';
import { BUILD, startServer, tempDir, sleep, waitFor } from './lib/harness.mjs';

function curl(args) {
  return execFileSync('curl', ['-s', '-S', '--max-time', '10', ...args], { encoding: 'utf8' });
}

test('HTTP/1.1, h2c prior knowledge and h2c Upgrade all serve the API', async () => {
  const s = await startServer();
  try {
    const url = `${s.url}/api/v1/instances`;
    const auth = ['-H', `Authorization: Bearer ${s.apiKey}`];
    assert.equal(curl([...auth, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', '--http1.1', url]), '1.1 200');
    assert.equal(curl([...auth, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', '--http2-prior-knowledge', url]), '2 200');
    assert.equal(curl([...auth, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', '--http2', url]), '2 200');
    const body = curl([...auth, '--http2-prior-knowledge', '-H', 'content-type: application/json', '-d', '{"instanceId":"h2"}', url]);
    assert.equal(JSON.parse(body).data.instanceId, 'h2');
    const unauth = curl(['--http2-prior-knowledge', '-w', ' %{http_code}', url]);
    assert.match(unauth, /UNAUTHORIZED.* 401$/);
  } finally { await s.stop(); }
});

test('TLS with ALPN h2 when a certificate is configured', async () => {
  const dir = tempDir('miaw-tls-');
  const cert = join(dir, 'cert.pem'), key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const s = await startServer({ config: `server:\n  tls:\n    cert: ${cert}\n    key: ${key}\n`, tls: true, expectExit: true });
  try {
    await waitFor(() => { try { return curl(['--cacert', cert, `https://127.0.0.1:${s.port}/health`]).includes('"ok"'); } catch { return false; } },
      { what: 'TLS health' });
    const out = curl(['--cacert', cert, '--http2', '-H', `Authorization: Bearer ${s.apiKey}`, '-o', '/dev/null', '-w', '%{http_version} %{http_code}',
      `https://127.0.0.1:${s.port}/api/v1/instances`]);
    assert.equal(out, '2 200');
    const h1 = curl(['--cacert', cert, '--http1.1', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `https://127.0.0.1:${s.port}/health`]);
    assert.equal(h1, '1.1 200');
  } finally { await s.stop(); }
});

test('a TLS key that does not match stops start-up with the key named', async () => {
  const dir = tempDir('miaw-tls-');
  const gen = (n) => execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, n + '.key'),
    '-out', join(dir, n + '.pem'), '-days', '2', '-subj', '/CN=x'], { stdio: 'ignore' });
  gen('a'); gen('b');
  const s = await startServer({ config: `server:\n  tls:\n    cert: ${join(dir, 'a.pem')}\n    key: ${join(dir, 'b.key')}\n`, expectExit: true });
  const r = await s.exited;
  assert.notEqual(r.code, 0);
  assert.match(s.logs(), /server\.tls\.key .*does not match/);
});

test('an h2 client that resets its stream before an async answer does not hurt the server', async () => {
  const dir = tempDir('miaw-plugins-');
  copyFileSync(join(BUILD, 'example-plugins', 'hello.so'), join(dir, 'hello.so'));
  const s = await startServer({ config: `plugins:\n  dir: ${dir}\n  enabled: [hello]\n`, pluginDir: dir });
  try {
    const c = connect(s.url);
    const body = JSON.stringify({ name: 'x', delayMs: 400 });
    for (let i = 0; i < 20; i++) {
      const st = c.request({ ':method': 'POST', ':path': '/api/v1/hello/later', authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json' });
      st.on('error', () => {});
      st.end(body);
      setTimeout(() => st.close(0x8), 50);
    }
    await sleep(150);
    // same connection still works
    const ok = await new Promise((res, rej) => {
      const st = c.request({ ':path': '/health' });
      let d = '';
      st.on('data', (x) => { d += x; });
      st.on('end', () => res(d));
      st.on('error', rej);
      st.end();
    });
    assert.match(ok, /"status":"ok"/);
    c.close();
    await waitFor(() => (s.logs().match(/POST \/api\/v1\/hello\/later 499 /g) || []).length === 20, { what: '20 aborted requests logged' });
    await sleep(500); // past the delay: the plugin's timers were cancelled by on_abort
    assert.equal((await s.api('GET', '/health', undefined, { noauth: true })).status, 200);
  } finally { await s.stop(); }
});

test('SIGTERM with keep-alive, h2 and pending async requests open exits cleanly (code 0)', async () => {
  const dir = tempDir('miaw-plugins-');
  copyFileSync(join(BUILD, 'example-plugins', 'hello.so'), join(dir, 'hello.so'));
  const s = await startServer({ config: `plugins:\n  dir: ${dir}\n  enabled: [hello]\n`, pluginDir: dir });
  const { Agent, request } = await import('node:http');
  const agent = new Agent({ keepAlive: true });
  await new Promise((res) => request({ host: '127.0.0.1', port: s.port, path: '/health', agent }, (r) => { r.resume(); r.on('end', res); }).end());
  const c = connect(s.url);
  c.on('error', () => {});
  const st = c.request({ ':method': 'POST', ':path': '/api/v1/hello/later', authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json' });
  st.on('error', () => {});
  st.end(JSON.stringify({ name: 'x', delayMs: 900 }));
  await waitFor(() => /plugin:hello\] ready/.test(s.logs()), { what: 'plugin ready' });
  await sleep(100);
  s.proc.kill('SIGTERM');
  const r = await s.exited;
  agent.destroy();
  c.destroy();
  assert.equal(r.code, 0, s.logs());
  assert.doesNotMatch(s.logs(), /Assertion|AddressSanitizer|LeakSanitizer|runtime error/);
  await s.stop();
});

// h2 answers carry X-Request-Id as a literal without indexing (core/http/h2_hpack.c), the
// rest of the block written by h2o: one connection, header blocks around the 16 KiB frame
// size (long CORS origins echoed back, request ids of every length) so that the field
// lands in the HEADERS frame, in h2o's last CONTINUATION frame or in one of its own; every
// answer must decode (the peer's HPACK table stays in step) with its own id.
test('h2: the request id around the frame size, on one connection', async () => {
  // '~' has a 13-bit Huffman code: h2o sends these values as they are, so the lengths are exact
  const origins = [16180, 16230, 16280, 16330, 16380].map((n) => 'http://' + '~'.repeat(n));
  const s = await startServer({ config: `server:\n  cors_origin: "${origins.join(',')}"\n` });
  const c = connect(s.url);
  try {
    const ask = (headers) => new Promise((resolve, reject) => {
      const st = c.request({ ':path': '/api/v1/instances', authorization: `Bearer ${s.apiKey}`, ...headers });
      st.on('response', resolve);
      st.on('error', reject);
      st.resume();
    });
    const seen = new Set();
    for (const origin of origins) {
      for (let n = 1; n <= 64; n += 3) {
        const tag = String(seen.size), rid = (tag + 'r'.repeat(64)).slice(0, Math.max(n, tag.length));
        const h = await ask({ origin, 'x-request-id': rid });
        assert.equal(h[':status'], 200);
        assert.equal(h['x-request-id'], rid);
        assert.equal(h['access-control-allow-origin'], origin);
        seen.add(rid);
      }
    }
    for (let i = 0; i < 50; i++) { // generated ids, small blocks, the same connection
      const h = await ask({});
      assert.equal(h[':status'], 200);
      assert.match(h['x-request-id'], /^[0-9a-f]{24}$/);
      assert.equal(h['content-type'], 'application/json; charset=utf-8');
      assert.ok(!seen.has(h['x-request-id']));
      seen.add(h['x-request-id']);
    }
  } finally { c.close(); await s.stop(); }
});

// A request answered within its handler hands its struct back as the handler returns (no
// hook on h2o's pool): many streams in flight on one connection, answered in the same
// read, each must still carry its own id (copied into the request's pool) and status.
test('h2: 300 concurrent streams each answered with their own request id', async () => {
  const s = await startServer();
  const c = connect(s.url);
  try {
    const ask = (path, rid) => new Promise((resolve, reject) => {
      const st = c.request({ ':path': path, authorization: `Bearer ${s.apiKey}`, 'x-request-id': rid });
      let body = '';
      st.setEncoding('utf8');
      st.on('response', (h) => { st.on('data', (d) => { body += d; }); st.on('end', () => resolve({ h, body })); });
      st.on('error', reject);
    });
    const asks = [];
    for (let i = 0; i < 300; i++) {
      const path = i % 3 === 0 ? '/api/v1/instances' : i % 3 === 1 ? `/api/v1/instances/nope${i}` : '/api/v1/nowhere';
      asks.push(ask(path, `rid-${i}-` + 'x'.repeat(i % 40)).then((r) => ({ i, ...r })));
    }
    for (const { i, h, body } of await Promise.all(asks)) {
      assert.equal(h['x-request-id'], `rid-${i}-` + 'x'.repeat(i % 40));
      assert.equal(h[':status'], i % 3 === 0 ? 200 : 404);
      if (i % 3 === 1) assert.match(body, new RegExp(`nope${i}\\b`));
    }
  } finally { c.close(); await s.stop(); }
  assert.doesNotMatch(s.logs(), /AddressSanitizer|runtime error/);
});
