// tests/integration/hostile_http.test.mjs - the adversarial HTTP inputs of issue 16 kept as
// a suite: about a hundred malformed requests (request lines, headers, framing, paths,
// bodies, protocol switches, abandoned requests), each on its own connection, then the
// same set pipelined and over h2c. Must hold: 0 crashes (the process lives and /health
// answers after every input), no 5xx, every answer miaw writes is in the JSON envelope,
// and a clean exit (code 0, no sanitizer report) on SIGTERM at the end.
// Env: MIAW_BUILD_DIR (default build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import { startServer } from './lib/harness.mjs';
import { rawConn, req } from './lib/rawhttp.mjs';

const B = (s) => Buffer.from(s, 'latin1');

function inputs(key) {
  const A = `Authorization: Bearer ${key}\r\n`;
  const J = 'Content-Type: application/json\r\n';
  const post = (path, body, extra = '') => B(`POST ${path} HTTP/1.1\r\nHost: x\r\n${A}${J}${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  const get = (path, extra = '') => B(`GET ${path} HTTP/1.1\r\nHost: x\r\n${A}${extra}\r\n`);
  const deep = '['.repeat(100000) + ']'.repeat(100000);
  const list = [
    // request lines
    ['empty line only', B('\r\n\r\n')],
    ['garbage', B('\x00\x01\x02\x03 garbage\r\n\r\n')],
    ['no version', B('GET /health\r\n\r\n')],
    ['HTTP/0.9', B('GET /health HTTP/0.9\r\n\r\n')],
    ['HTTP/3.0', B('GET /health HTTP/3.0\r\nHost: x\r\n\r\n')],
    ['lowercase method', B('get /health HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['unknown method', B('BREW /api/v1/instances HTTP/1.1\r\nHost: x\r\n' + A + '\r\n')],
    ['TRACE', B('TRACE /api/v1/instances HTTP/1.1\r\nHost: x\r\n' + A + '\r\n')],
    ['CONNECT', B('CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['very long method', B('X'.repeat(5000) + ' / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['absolute form', B('GET http://evil.example/api/v1/instances HTTP/1.1\r\nHost: x\r\n' + A + '\r\n')],
    ['asterisk form', B('OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['no leading slash', B('GET api/v1/instances HTTP/1.1\r\nHost: x\r\n' + A + '\r\n')],
    ['tab in request line', B('GET\t/health\tHTTP/1.1\r\nHost: x\r\n\r\n')],
    ['bare LF', B('GET /health HTTP/1.1\nHost: x\n\n')],
    ['path 8 KiB', get('/api/v1/instances/' + 'a'.repeat(8000))],
    ['path 2 KiB', get('/api/v1/instances/' + 'a'.repeat(2000))],
    ['segment 300 bytes', get('/api/v1/instances/' + 'b'.repeat(300))],
    ['200 segments', get('/api/v1' + '/x'.repeat(200))],
    // paths
    ['NUL escape', get('/api/v1/instances/a%00b')],
    ['NUL raw', B(`GET /api/v1/instances/a\x00b HTTP/1.1\r\nHost: x\r\n${A}\r\n`)],
    ['lone percent', get('/api/v1/instances/%')],
    ['short escape', get('/api/v1/instances/%4')],
    ['bad escape', get('/api/v1/instances/%zz')],
    ['encoded slash', get('/api/v1/instances/a%2fb')],
    ['double encoded', get('/api/v1/instances/%252e%252e')],
    ['dot dot', get('/api/v1/instances/../../etc/passwd')],
    ['encoded dot dot', get('/api/v1/%2e%2e/%2e%2e/health')],
    ['backslashes', get('/api/v1/instances/..\\..\\x')],
    ['overlong utf-8', get('/api/v1/instances/%c0%af')],
    ['invalid utf-8', get('/api/v1/instances/%ff%fe')],
    ['CRLF escape', get('/api/v1/instances/a%0d%0aSet-Cookie:%20x')],
    ['ESC escape', get('/api/v1/x%1b[2J%1b[H')],
    ['query junk', get('/api/v1/instances?%00=%zz&&&=&a=%')],
    ['docs traversal', get('/docs/..%2f..%2fetc%2fpasswd')],
    ['docs NUL', get('/docs/index.html%00.png')],
    ['base path confusion', get('//api//v1//instances')],
    // headers
    ['header no colon', B('GET /health HTTP/1.1\r\nHost: x\r\nbroken header\r\n\r\n')],
    ['header space before colon', B('GET /health HTTP/1.1\r\nHost : x\r\n\r\n')],
    ['obs-fold', B('GET /health HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  continued\r\n\r\n')],
    ['NUL in header', B('GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n')],
    ['CR in header', B('GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n')],
    ['huge header', B('GET /health HTTP/1.1\r\nHost: x\r\nX-A: ' + 'a'.repeat(20000) + '\r\n\r\n')],
    ['200 headers', B('GET /health HTTP/1.1\r\nHost: x\r\n' + Array.from({ length: 200 }, (_, i) => `X-${i}: ${i}\r\n`).join('') + '\r\n')],
    ['no host', B('GET /health HTTP/1.1\r\n\r\n')],
    ['two hosts', B('GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')],
    ['bad request id', get('/api/v1/instances', 'X-Request-Id: a\x7fb<script>\r\n')],
    ['long request id', get('/api/v1/instances', 'X-Request-Id: ' + 'r'.repeat(5000) + '\r\n')],
    ['bearer empty', B('GET /api/v1/instances HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \r\n\r\n')],
    ['bearer huge', B('GET /api/v1/instances HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ' + 'k'.repeat(6000) + '\r\n\r\n')],
    ['basic garbage', B('GET /api/v1/instances HTTP/1.1\r\nHost: x\r\nAuthorization: Basic !!!!====\r\n\r\n')],
    ['basic huge', B('GET /api/v1/instances HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ' + 'QUFB'.repeat(1500) + '\r\n\r\n')],
    ['scoped key lookalike', B('GET /api/v1/instances HTTP/1.1\r\nHost: x\r\nX-API-Key: mk_' + '0'.repeat(16) + '_' + '1'.repeat(40) + '\r\n\r\n')],
    ['x-api-key and bearer', get('/api/v1/instances', 'X-API-Key: wrong\r\n')],
    ['origin junk', get('/api/v1/instances', 'Origin: \x01\x02null\r\n')],
    ['expect unknown', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Expect: 999-nope\r\nContent-Length: 2\r\n\r\n{}`)],
    ['expect 100', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Expect: 100-continue\r\nContent-Length: 18\r\n\r\n{"instanceId":"e"}`)],
    // framing
    ['negative length', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Content-Length: -1\r\n\r\n{}`)],
    ['non-numeric length', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Content-Length: abc\r\n\r\n{}`)],
    ['huge length', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Content-Length: 99999999999999999999999\r\n\r\n{}`)],
    ['2^64 length', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Content-Length: 18446744073709551616\r\n\r\n{}`)],
    ['two lengths', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}`)],
    ['length and chunked', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`)],
    ['unknown transfer-encoding', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Transfer-Encoding: gzip\r\n\r\n{}`)],
    ['bad chunk size', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`)],
    ['huge chunk size', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n{}\r\n`)],
    ['chunk with extensions', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Transfer-Encoding: chunked\r\n\r\n12;a=b\r\n{"instanceId":"c"}\r\n0\r\nX-Trailer: y\r\n\r\n`)],
    ['length larger than body, then close', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Content-Length: 1000\r\n\r\n{"a":`), 'half'],
    ['smuggled second request', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Content-Length: 2\r\n\r\n{}GET /admin HTTP/1.1\r\nHost: x\r\n\r\n`)],
    // bodies
    ['not json', post('/api/v1/instances', 'hello')],
    ['json NUL', post('/api/v1/instances', '{"instanceId":"a\\u0000b"}')],
    ['raw NUL in json', post('/api/v1/instances', '{"instanceId":"a\x00b"}')],
    ['invalid utf-8 json', Buffer.concat([B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Content-Length: 20\r\n\r\n`), Buffer.from([0x7b, 0x22, 0x69, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc0, 0xaf, 0x22, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20])])],
    ['duplicate keys', post('/api/v1/instances', '{"instanceId":"a","instanceId":"b"}')],
    ['deep nesting', post('/api/v1/instances', deep)],
    ['huge number', post('/api/v1/instances', '{"instanceId":1e999999}')],
    ['wrong types', post('/api/v1/instances', '{"instanceId":["x"],"webhookUrl":{"a":1}}')],
    ['array body', post('/api/v1/instances', '[1,2,3]')],
    ['null body', post('/api/v1/instances', 'null')],
    ['bad id chars', post('/api/v1/instances', '{"instanceId":"../../etc"}')],
    ['format string id', post('/api/v1/instances', '{"instanceId":"%s%n%x%p"}')],
    ['supervisor interpolation', post('/api/v1/instances', '{"instanceId":"h1","autoReply":"%(here)s"}')],
    ['long id', post('/api/v1/instances', `{"instanceId":"${'i'.repeat(5000)}"}`)],
    ['xml', post('/api/v1/instances', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', 'X-Ignored: 1\r\n')],
    ['multipart junk', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}Content-Type: multipart/form-data; boundary=\r\nContent-Length: 10\r\n\r\n--\r\n--\r\n--`)],
    ['form-urlencoded', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 12\r\n\r\ninstanceId=a`)],
    ['send text bad to', post('/api/v1/instances/h1/messages/text', '{"to":"\\u0000","text":"x"}')],
    ['send to missing instance', post('/api/v1/instances/nope/messages/text', '{"to":"15550001111","text":"x"}')],
    ['webhook url file', B(`PUT /api/v1/instances/h1/webhook HTTP/1.1\r\nHost: x\r\n${A}${J}Content-Length: 27\r\n\r\n{"url":"file:///etc/passwd"}`)],
    ['keys bad body', post('/api/v1/keys', '{"instances":"shop","permissions":"all"}')],
    ['keys many instances', post('/api/v1/keys', JSON.stringify({ instances: Array.from({ length: 500 }, (_, i) => 'i' + i), permissions: ['read'] }))],
    ['revoke weird id', B(`DELETE /api/v1/keys/%00%2f HTTP/1.1\r\nHost: x\r\n${A}\r\n`)],
    ['HEAD with body', B(`HEAD /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}Content-Length: 5\r\n\r\nhello`)],
    ['GET with body', B(`GET /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}Content-Length: 5\r\n\r\nhello`)],
    ['DELETE with json', B(`DELETE /api/v1/instances/nope HTTP/1.1\r\nHost: x\r\n${A}${J}Content-Length: 2\r\n\r\n{}`)],
    // protocol switches
    ['h2 preface then junk', B('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + 'junkjunkjunk')],
    ['h2 preface only', B('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')],
    ['h2c upgrade bad settings', B('GET /health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: !!!\r\n\r\n')],
    ['websocket upgrade', B('GET /api/v1/instances HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: x\r\n\r\n')],
    ['TLS client hello on plain port', Buffer.from('16030100a5010000a10303' + '00'.repeat(64), 'hex')],
    // abandoned
    ['half a request line', B('GET /heal'), 'half'],
    ['headers never finished', B('GET /health HTTP/1.1\r\nHost: x\r\n'), 'half'],
    ['large declared, little sent', B(`POST /api/v1/instances HTTP/1.1\r\nHost: x\r\n${A}${J}Content-Length: 50000000\r\n\r\n{"a"`), 'half'],
  ];
  return list;
}

async function alive(s) {
  assert.equal(s.proc.exitCode, null, 'miaw exited:\n' + s.logs().slice(-3000));
  const r = await s.api('GET', '/health', undefined, { noauth: true });
  assert.equal(r.status, 200);
}

test('about a hundred malformed HTTP inputs: no crash, no 5xx, envelopes, clean exit', { timeout: 240000 }, async () => {
  const s = await startServer();
  try {
    assert.equal((await s.api('POST', '/api/v1/instances', { instanceId: 'h1' })).status, 201);
    const set = inputs(s.apiKey);
    assert.ok(set.length >= 100, `${set.length} inputs`);
    const seen = {};
    for (const [name, bytes, mode] of set) {
      const c = rawConn(s.port);
      await c.send(bytes);
      let r = null;
      if (mode === 'half') {
        // the client gives up mid-request
        await new Promise((res) => setTimeout(res, 30));
        c.end();
      } else {
        try { r = await c.response(10000); } catch { /* closed without an answer: allowed */ }
        c.end();
      }
      if (r) {
        seen[r.status] = (seen[r.status] || 0) + 1;
        assert.ok(r.status < 500, `${name}: ${r.status} ${r.body.slice(0, 300)}`);
        if (/json/.test(r.headers['content-type'] || '') && r.status >= 400) {
          const j = JSON.parse(r.body);
          assert.equal(j.success, false, name);
          assert.ok(j.error && j.error.code && typeof j.error.message === 'string', name);
        }
      }
      await alive(s);
    }
    console.log('# answers by status: ' + JSON.stringify(seen));
    // the whole set pipelined on a few connections
    for (let k = 0; k < 3; k++) {
      const c = rawConn(s.port);
      await c.send(Buffer.concat(set.filter(([, , m]) => !m).map(([, b]) => b)));
      await c.closed(5000);
      c.end();
      await alive(s);
    }
    // and as h2 streams with hostile pseudo-headers
    const h2 = h2connect(s.url);
    h2.on('error', () => {});
    const paths = ['/api/v1/instances/a%00b', '/api/v1/x%0a%1b', '/api/v1/instances/%2561', '/api/v1/instances/a%2fb',
      '/api/v1/' + 'y'.repeat(3000), '/api/v1/instances/h1/messages/text'];
    await Promise.all(paths.map((p) => new Promise((res) => {
      const st = h2.request({ ':method': 'POST', ':path': p, authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json' });
      st.on('response', (h) => { assert.ok(h[':status'] < 500, `${p}: ${h[':status']}`); });
      st.on('error', () => res());
      st.on('close', () => res());
      st.resume();
      st.end('{"to":"1","text":');
    })));
    // streams reset by the client at once
    for (let i = 0; i < 20; i++) {
      const st = h2.request({ ':method': 'POST', ':path': '/api/v1/instances', authorization: `Bearer ${s.apiKey}` });
      st.on('error', () => {});
      st.write('{"instanceId":');
      st.close(0x8);
    }
    await new Promise((res) => setTimeout(res, 200));
    h2.destroy();
    await alive(s);
    const lines = s.logs().split('\n');
    assert.ok(!lines.some((l) => /AddressSanitizer|LeakSanitizer|runtime error|Assertion/.test(l)), 'sanitizer report');
    s.proc.kill('SIGTERM');
    const ex = await s.exited;
    assert.equal(ex.code, 0, s.logs().slice(-3000));
    assert.ok(!/AddressSanitizer|LeakSanitizer|runtime error/.test(s.logs()));
  } finally { await s.stop(); }
});
