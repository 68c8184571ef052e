// tests/integration/host_files.test.mjs - the plugin ABI 1.3 host functions for files, end to
// end through a test plugin (fixtures/plugin_files.c, built here with cc against sdk/include
// like a third party's): multipart/form-data bodies (a 5 MB file with text fields coerced and
// checked by the route's schema, errors naming the field, malformed bodies, 413 and 415 in
// the envelope, upload files 0600 under <data_dir>/tmp and gone when the request is answered
// or aborted, h2c); reply_file (whole file, single ranges, 416, several ranges, HEAD, h2c,
// Content-Disposition with filename*, MIAW_FILE_F_UNLINK also when the client leaves, an
// answer from a timer, peak RSS while serving 50 MB); fetch from a local HTTP server (ok,
// redirects, 404, too large by Content-Length and by a chunked body, a redirect loop, a
// non-http scheme and a redirect to one, a timeout, a cancel when the client leaves, and a
// fetch in flight when the server stops). Only 127.0.0.1; every wait is bounded.
// Env: MIAW_BUILD_DIR (default build).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { ROOT, startServer, tempDir, waitFor, sleep } from './lib/harness.mjs';

const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const ctx = {};

function vmHWM(pid) {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}
const isAsan = (pid) => readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libasan');

/** curl with a bounded run time; resolves {code, stdout (Buffer), stderr} */
function curl(args, timeoutMs = 30000) {
  return new Promise((res) => {
    execFile('curl', ['-sS', '--max-time', String(Math.ceil(timeoutMs / 1000)), ...args],
      { encoding: 'buffer', maxBuffer: 64 << 20, timeout: timeoutMs + 5000 },
      (err, stdout, stderr) => res({ code: err ? err.code : 0, stdout, stderr: stderr.toString() }));
  });
}

/** a multipart/form-data body by hand: parts [{name, value} | {name, filename, type, data}] */
function multipart(parts, boundary = 'miawTestBoundary' + randomBytes(6).toString('hex')) {
  const chunks = [];
  for (const p of parts) {
    let h = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) h += `; filename="${p.filename}"`;
    h += '\r\n';
    if (p.type) h += `Content-Type: ${p.type}\r\n`;
    chunks.push(Buffer.from(h + '\r\n'), Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.value ?? p.data ?? ''), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

async function post(path, body, type, headers = {}) {
  const r = await fetch(ctx.srv.url + path, {
    method: 'POST', body, headers: { authorization: `Bearer ${ctx.srv.apiKey}`, ...(type ? { 'content-type': type } : {}), ...headers },
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, json, text };
}

async function get(path, headers = {}, method = 'GET') {
  const r = await fetch(ctx.srv.url + path, { method, headers: { authorization: `Bearer ${ctx.srv.apiKey}`, ...headers } });
  const body = Buffer.from(await r.arrayBuffer());
  return { status: r.status, headers: r.headers, body, json: (() => { try { return JSON.parse(body); } catch { return null; } })() };
}

const tmpFiles = () => (existsSync(join(ctx.dataDir, 'tmp')) ? readdirSync(join(ctx.dataDir, 'tmp')) : []);
const serve = (q) => '/api/v1/files/serve?' + new URLSearchParams(q).toString();

/* the origin fetch talks to */
function startOrigin() {
  const state = { closedHang: 0, big: randomBytes(3 << 20) };
  const srv = createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    switch (u.pathname) {
      case '/ok': res.writeHead(200, { 'content-type': 'image/png', 'content-length': state.big.length }); res.end(state.big); break;
      case '/redir': res.writeHead(302, { location: '/ok' }); res.end(); break;
      case '/loop': res.writeHead(302, { location: '/loop?n=' + (Number(u.searchParams.get('n') || 0) + 1) }); res.end(); break;
      case '/to-ftp': res.writeHead(302, { location: 'ftp://127.0.0.1/file' }); res.end(); break;
      case '/to-file': res.writeHead(301, { location: 'file:///etc/passwd' }); res.end(); break;
      case '/missing': res.writeHead(404, { 'content-type': 'text/plain' }); res.end('no such thing'); break;
      case '/chunked': { // no Content-Length: only counting the bytes catches it
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        let sent = 0;
        const more = () => { while (sent < (4 << 20)) { sent += 65536; if (!res.write(Buffer.alloc(65536, 1))) return res.once('drain', more); } res.end(); };
        more();
        break;
      }
      case '/slow': res.writeHead(200, { 'content-length': 1000 }); res.write('x'); break; // never finishes
      case '/hang': req.on('close', () => { state.closedHang++; }); break; // never answers
      default: res.writeHead(500); res.end();
    }
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r({ srv, state, url: `http://127.0.0.1:${srv.address().port}` })));
}

describe('plugin ABI 1.3 files: multipart, reply_file, fetch', { timeout: 300000 }, () => {
  before(async () => {
    ctx.pluginDir = tempDir('miaw-files-plugin-');
    execFileSync('cc', ['-std=c11', '-shared', '-fPIC', '-Wall', '-Wextra', '-Werror', '-Wno-override-init',
      '-fvisibility=hidden', '-I', join(ROOT, 'sdk/include'), '-o', join(ctx.pluginDir, 'files.so'),
      join(ROOT, 'tests/integration/fixtures/plugin_files.c'), '-ljansson', '-lcrypto']);
    chmodSync(join(ctx.pluginDir, 'files.so'), 0o755);
    ctx.dataDir = tempDir('miaw-files-data-');
    ctx.origin = await startOrigin();
    ctx.srv = await startServer({
      dataDir: ctx.dataDir, pluginDir: ctx.pluginDir,
      config: `plugins:\n  dir: ${ctx.pluginDir}\n  enabled: [files]\n`,
    });
  });
  after(async () => {
    if (ctx.srv) await ctx.srv.stop();
    if (ctx.origin) ctx.origin.srv.close();
    rmSync(ctx.pluginDir, { recursive: true, force: true });
    rmSync(ctx.dataDir, { recursive: true, force: true });
  });

  // ------------------------------------------------------------------ multipart
  it('takes a 5 MB file with text fields; the upload is 0600 under <data_dir>/tmp and gone after the answer', async () => {
    const data = randomBytes(5 * 1000 * 1000);
    const fd = new FormData();
    fd.append('title', 'holiday');
    fd.append('count', '3');
    fd.append('flag', 'true');
    fd.append('tags', '["a","b"]');
    fd.append('file', new Blob([data], { type: 'image/png' }), 'naïve photo.png');
    const r = await post('/api/v1/files/upload?parts=file,other', fd);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data.body, { title: 'holiday', count: 3, flag: true, tags: ['a', 'b'] },
      'text parts become fields; typed ones follow the schema');
    const f = r.json.data.files.file;
    assert.equal(f.size, data.length);
    assert.equal(f.sha256, sha256(data));
    assert.equal(f.filename, 'naïve photo.png');
    assert.equal(f.contentType, 'image/png');
    assert.equal(f.mode, 0o600);
    assert.ok(f.path.startsWith(join(ctx.dataDir, 'tmp') + '/'), f.path);
    assert.equal(statSync(join(ctx.dataDir, 'tmp')).mode & 0o777, 0o700);
    assert.equal(r.json.data.files.other, null, 'req_upload: MIAW_E_NOTFOUND for a part that was not sent');
    assert.equal(r.json.data.smallStruct, -1, 'req_upload: MIAW_E_INVAL for a struct_size too small');
    await waitFor(() => !existsSync(f.path), { what: 'the upload removed after the answer', timeoutMs: 5000 });
    // JSON bodies still work on a multipart route
    const j = await post('/api/v1/files/upload', JSON.stringify({ title: 'json', count: 2 }), 'application/json');
    assert.equal(j.status, 200, j.text);
    assert.deepEqual(j.json.data.body, { title: 'json', count: 2 });
    assert.equal(j.json.data.files.file, null);
  });

  it('validates text fields with the route schema and names the field', async () => {
    const cases = [
      [[{ name: 'count', value: '3' }], 'title'],                                       // required
      [[{ name: 'title', value: 'x'.repeat(21) }], 'title'],                             // max length
      [[{ name: 'title', value: 't' }, { name: 'count', value: '99' }], 'count'],        // max
      [[{ name: 'title', value: 't' }, { name: 'count', value: 'three' }], 'count'],     // not an integer
      [[{ name: 'title', value: 't' }, { name: 'flag', value: 'yes' }], 'flag'],         // not a boolean
      [[{ name: 'title', value: 't' }, { name: 'title', value: 'u' }], 'title'],         // twice
      [[{ name: 'title', value: 't' }, { name: 'note', data: Buffer.from([0xc3, 0x28]) }], 'note'], // not UTF-8
    ];
    for (const [parts, field] of cases) {
      const m = multipart(parts);
      const r = await post('/api/v1/files/upload', m.body, m.type);
      assert.equal(r.status, 400, `${JSON.stringify(parts)}: ${r.text}`);
      assert.equal(r.json.success, false);
      assert.equal(r.json.error.code, 'INVALID_REQUEST');
      assert.equal(r.json.error.details.field, field, r.text);
    }
  });

  it('answers malformed multipart with 400, too large with 413, other types with 415, in the envelope', async () => {
    const good = multipart([{ name: 'title', value: 't' }, { name: 'file', filename: 'a.bin', data: randomBytes(100) }]);
    const bad = [
      [good.body.subarray(0, good.body.length - 30), good.type],                     // truncated
      [good.body, 'multipart/form-data'],                                            // no boundary
      [good.body, 'multipart/form-data; boundary=somethingElse'],                    // wrong boundary
      [Buffer.from('--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n'), 'multipart/form-data; boundary=b'], // no disposition
      [Buffer.from('--b\r\nContent-Disposition: form-data; name="x\r\n\r\nx\r\n--b--\r\n'), 'multipart/form-data; boundary=b'],
    ];
    for (const [body, type] of bad) {
      const r = await post('/api/v1/files/upload', body, type);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.code, 'INVALID_REQUEST');
      assert.match(r.json.error.message, /multipart/);
      assert.equal(r.json.error.details.field, 'body');
    }
    // body_max bounds the whole request: 413 in the envelope
    const big = multipart([{ name: 'title', value: 't' }, { name: 'file', filename: 'a.bin', data: randomBytes(2000) }]);
    let r = await post('/api/v1/files/small', big.body, big.type);
    assert.equal(r.status, 413, r.text);
    assert.equal(r.json.error.code, 'PAYLOAD_TOO_LARGE');
    assert.equal(r.json.error.details.limit, 1024);
    const huge = multipart([{ name: 'title', value: 't' }, { name: 'file', filename: 'a.bin', data: Buffer.alloc(9 << 20) }]);
    r = await post('/api/v1/files/upload', huge.body, huge.type);
    assert.equal(r.status, 413, r.text);
    assert.equal(r.json.error.code, 'PAYLOAD_TOO_LARGE');
    // neither JSON nor multipart
    r = await post('/api/v1/files/upload', 'title=t', 'application/x-www-form-urlencoded');
    assert.equal(r.status, 415, r.text);
    assert.equal(r.json.error.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.match(r.json.error.message, /multipart\/form-data/);
    // a multipart route without a body schema: any text fields, the files; other bodies are not read
    const raw = multipart([{ name: 'anything', value: 'goes' }, { name: 'file', filename: 'r.txt', data: Buffer.from('raw') }]);
    r = await post('/api/v1/files/raw', raw.body, raw.type);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data.body, { anything: 'goes' });
    assert.equal(r.json.data.files.file.size, 3);
    r = await post('/api/v1/files/raw', '{"x":1}', 'application/json');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.body, null);
    assert.deepEqual(tmpFiles().filter((n) => n.startsWith('upload-')), [], 'nothing left behind');
    // the OpenAPI document says so
    const doc = await get('/openapi.json');
    const op = doc.json.paths['/files/upload'].post;
    assert.ok(op.requestBody.content['multipart/form-data'], JSON.stringify(op.requestBody));
  });

  it('removes the uploads of a request the client abandons', async () => {
    const m = multipart([{ name: 'title', value: 't' }, { name: 'file', filename: 'a.bin', data: randomBytes(300000) }]);
    const ac = new AbortController();
    const p = fetch(ctx.srv.url + '/api/v1/files/upload?holdMs=20000', {
      method: 'POST', body: m.body, signal: ac.signal,
      headers: { authorization: `Bearer ${ctx.srv.apiKey}`, 'content-type': m.type },
    }).catch((e) => e);
    await waitFor(() => tmpFiles().some((n) => n.startsWith('upload-')), { what: 'the spooled upload', timeoutMs: 5000 });
    ac.abort();
    await p;
    await waitFor(() => !tmpFiles().some((n) => n.startsWith('upload-')), { what: 'the upload removed after the abort', timeoutMs: 5000 });
  });

  it('takes multipart over h2c too', async () => {
    const file = join(ctx.dataDir, 'h2up.bin');
    const data = randomBytes(200000);
    writeFileSync(file, data);
    const r = await curl(['--http2-prior-knowledge', '-H', `authorization: Bearer ${ctx.srv.apiKey}`, '-F', 'title=h2',
      '-F', `file=@${file};type=application/pdf;filename=doc.pdf`, '-w', '\n%{http_version}',
      ctx.srv.url + '/api/v1/files/upload']);
    assert.equal(r.code, 0, r.stderr);
    const [text, ver] = r.stdout.toString().split('\n');
    assert.equal(ver, '2');
    const j = JSON.parse(text);
    assert.equal(j.data.files.file.sha256, sha256(data));
    assert.equal(j.data.files.file.filename, 'doc.pdf');
    assert.equal(j.data.files.file.contentType, 'application/pdf');
    rmSync(file);
  });

  // ------------------------------------------------------------------ reply_file
  it('serves a file whole, by ranges, 416, several ranges as 200, HEAD', async () => {
    const data = randomBytes(300000);
    const file = join(ctx.dataDir, 'served.bin');
    writeFileSync(file, data);
    let r = await get(serve({ path: file, type: 'image/jpeg', name: 'résumé "final".jpg', attach: '1' }));
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(data));
    assert.equal(r.headers.get('content-type'), 'image/jpeg');
    assert.equal(r.headers.get('content-length'), String(data.length));
    assert.equal(r.headers.get('accept-ranges'), 'bytes');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('content-disposition'),
      `attachment; filename="r_sum_ _final_.jpg"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.jpg`);
    r = await get(serve({ path: file, name: 'plain.bin' }));
    assert.equal(r.headers.get('content-disposition'), 'inline; filename="plain.bin"');
    assert.equal(r.headers.get('content-type'), 'application/octet-stream');
    const ranges = [['bytes=0-99', 0, 100], ['bytes=1000-', 1000, data.length - 1000], ['bytes=-500', data.length - 500, 500],
      ['bytes=299990-400000', 299990, 10], ['bytes=-999999', 0, data.length]];
    for (const [h, from, len] of ranges) {
      r = await get(serve({ path: file }), { range: h });
      assert.equal(r.status, 206, h);
      assert.ok(r.body.equals(data.subarray(from, from + len)), h);
      assert.equal(r.headers.get('content-range'), `bytes ${from}-${from + len - 1}/${data.length}`);
      assert.equal(r.headers.get('content-length'), String(len));
    }
    for (const h of ['bytes=300000-', 'bytes=-0', 'bytes=999999999999999999999999-']) {
      r = await get(serve({ path: file }), { range: h });
      assert.equal(r.status, 416, h);
      assert.equal(r.headers.get('content-range'), `bytes */${data.length}`);
      assert.equal(r.json.success, false);
    }
    for (const h of ['bytes=0-1,5-6', 'bytes=5-1', 'lines=1-2', 'bytes=x-']) { // several ranges / invalid: the whole file
      r = await get(serve({ path: file }), { range: h });
      assert.equal(r.status, 200, h);
      assert.ok(r.body.equals(data), h);
    }
    r = await get(serve({ path: file }), { range: 'bytes=0-9', 'if-range': '"some-etag"' });
    assert.equal(r.status, 200, 'If-Range cannot be checked: the whole file');
    r = await get(serve({ path: file }), {}, 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-length'), String(data.length));
    assert.equal(r.body.length, 0);
    // a plugin's status when no range applies; an answer from a timer; refusals
    r = await get(serve({ path: file, status: '201', laterMs: '50' }), { range: 'bytes=0-9' });
    assert.equal(r.status, 201);
    assert.ok(r.body.equals(data));
    r = await get(serve({ path: join(ctx.dataDir, 'nope') }));
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'E_NOTFOUND');
    r = await get(serve({ path: ctx.dataDir }));
    assert.equal(r.status, 404, 'a directory is not a file');
    r = await get(serve({ path: file, flags: '0x100' }));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'E_INVAL');
    r = await get(serve({ path: file, type: 'text/plain\r\nx-evil: 1' }));
    assert.equal(r.status, 400, 'no header injection through the content type');
    r = await get(serve({ path: file, name: 'a\r\nx-evil: 1.txt' }));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-evil'), null);
    assert.match(r.headers.get('content-disposition'), /filename="a__x-evil: 1.txt"; filename\*=UTF-8''a%0D%0Ax-evil%3A%201.txt/);
    // an empty file
    const empty = join(ctx.dataDir, 'empty.bin');
    writeFileSync(empty, '');
    r = await get(serve({ path: empty }));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-length'), '0');
    r = await get(serve({ path: empty }), { range: 'bytes=0-' });
    assert.equal(r.status, 416);
  });

  it('serves over h2c: whole and ranged', async () => {
    const data = randomBytes(1 << 20);
    const file = join(ctx.dataDir, 'h2.bin');
    writeFileSync(file, data);
    const args = ['--http2-prior-knowledge', '-H', `authorization: Bearer ${ctx.srv.apiKey}`, '-w', '%{http_code} %{http_version}', '-o'];
    let out = join(ctx.dataDir, 'h2.out');
    let r = await curl([...args, out, ctx.srv.url + serve({ path: file })]);
    assert.equal(r.stdout.toString(), '200 2', r.stderr);
    assert.ok(readFileSync(out).equals(data));
    r = await curl([...args, out, '-r', '1000-1999', ctx.srv.url + serve({ path: file })]);
    assert.equal(r.stdout.toString(), '206 2', r.stderr);
    assert.ok(readFileSync(out).equals(data.subarray(1000, 2000)));
    r = await curl([...args, out, '-r', '2000000-', ctx.srv.url + serve({ path: file })]);
    assert.equal(r.stdout.toString(), '416 2', r.stderr);
    rmSync(out);
  });

  it('MIAW_FILE_F_UNLINK removes the file after the answer, and when the client leaves', async () => {
    const data = randomBytes(100000);
    const a = join(ctx.dataDir, 'gone-a.bin');
    writeFileSync(a, data);
    let r = await get(serve({ path: a, unlink: '1' }));
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(data));
    assert.equal(existsSync(a), false);
    // a big file the client stops reading after the first bytes
    const b = join(ctx.dataDir, 'gone-b.bin');
    writeFileSync(b, Buffer.alloc(40 << 20, 7));
    const ac = new AbortController();
    const res = await fetch(ctx.srv.url + serve({ path: b, unlink: '1' }),
      { headers: { authorization: `Bearer ${ctx.srv.apiKey}` }, signal: ac.signal });
    const rd = res.body.getReader();
    await rd.read();
    ac.abort();
    await rd.read().catch(() => null);
    await waitFor(() => !existsSync(b), { what: 'the unlinked file gone', timeoutMs: 5000 });
    // the server is fine afterwards
    r = await get('/health');
    assert.equal(r.status, 200);
  });

  it('streams a 50 MB file with the peak RSS bounded', async () => {
    const pid = ctx.srv.proc.pid;
    const file = join(ctx.dataDir, 'fifty.bin');
    const data = randomBytes(50 * 1000 * 1000);
    writeFileSync(file, data);
    await get(serve({ path: file }), { range: 'bytes=0-999999' }); // warm up the code paths
    const before = vmHWM(pid);
    const t0 = process.hrtime.bigint();
    const res = await fetch(ctx.srv.url + serve({ path: file }), { headers: { authorization: `Bearer ${ctx.srv.apiKey}` } });
    const h = createHash('sha256');
    let n = 0;
    for await (const chunk of res.body) { h.update(chunk); n += chunk.length; }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const after = vmHWM(pid);
    assert.equal(n, data.length);
    assert.equal(h.digest('hex'), sha256(data));
    // throughput to curl (node's own reading is the slower end above), HTTP/1.1 and h2c
    const speed = async (h2) => {
      const r = await curl([...(h2 ? ['--http2-prior-knowledge'] : []), '-H', `authorization: Bearer ${ctx.srv.apiKey}`,
        '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{speed_download}', ctx.srv.url + serve({ path: file })], 60000);
      const [code, size, bps] = r.stdout.toString().split(' ');
      assert.equal(`${code} ${size}`, `200 ${data.length}`, r.stderr);
      return Number(bps) / 1e6;
    };
    const s1 = await speed(false), s2 = await speed(true);
    const after2 = vmHWM(pid);
    console.log(`# reply_file 50 MB: node fetch + sha256 ${ms.toFixed(0)} ms; curl HTTP/1.1 ${s1.toFixed(0)} MB/s, ` +
      `h2c ${s2.toFixed(0)} MB/s; VmHWM ${before} -> ${after} -> ${after2} KiB`);
    if (!isAsan(pid)) assert.ok(after2 - before < 8 * 1024, `peak RSS grew by ${after2 - before} KiB`);
    rmSync(file);
  });

  // ------------------------------------------------------------------ fetch
  const doFetch = (body) => post('/api/v1/files/fetch', JSON.stringify(body), 'application/json');

  it('fetches over http into a 0600 temporary file; redirects; errors with their status', async () => {
    const { url, state } = ctx.origin;
    let r = await doFetch({ url: url + '/ok', keep: true });
    assert.equal(r.status, 200, r.text);
    let d = r.json.data;
    assert.equal(d.status, 0, JSON.stringify(d));
    assert.equal(d.size, state.big.length);
    assert.equal(d.sha256, sha256(state.big));
    assert.equal(d.contentType, 'image/png');
    assert.equal(d.mode, 0o600);
    assert.ok(d.path.startsWith(join(ctx.dataDir, 'tmp') + '/fetch-'), d.path);
    assert.ok(existsSync(d.path), 'the file is the plugin\'s: the host does not remove it');
    rmSync(d.path);
    r = await doFetch({ url: url + '/redir' });
    assert.equal(r.json.data.status, 0, r.text);
    assert.equal(r.json.data.sha256, sha256(state.big));
    const expect = async (body, name, detail) => {
      const x = await doFetch(body);
      assert.equal(x.status, 200, x.text);
      assert.equal(x.json.data.statusName, name, `${JSON.stringify(body)}: ${x.text}`);
      if (detail) assert.match(x.json.data.detail, detail);
      return x.json.data;
    };
    await expect({ url: url + '/missing' }, 'E_IO', /^HTTP 404$/);
    await expect({ url: url + '/ok', maxBytes: 1 << 20 }, 'E_LIMIT', /larger than 1048576/);       // Content-Length says so
    await expect({ url: url + '/chunked', maxBytes: 1 << 20 }, 'E_LIMIT', /larger than 1048576/);  // no length: counted
    assert.equal((await expect({ url: url + '/chunked' }, 'OK')).size, 4 << 20);
    await expect({ url: url + '/loop' }, 'E_IO', /more than 3 redirects/);
    await expect({ url: url + '/loop', maxRedirects: 5 }, 'E_IO', /more than 5 redirects/);
    await expect({ url: url + '/redir', maxRedirects: 1 }, 'OK');
    await expect({ url: url + '/to-ftp' }, 'E_INVAL', /http and https/);
    await expect({ url: url + '/to-file' }, 'E_INVAL', /http and https/);
    const t0 = Date.now();
    await expect({ url: url + '/slow', timeoutMs: 600 }, 'E_TIMEOUT', /600 ms/);
    assert.ok(Date.now() - t0 < 5000);
    await expect({ url: 'http://127.0.0.1:1/nothing-listens' }, 'E_IO');
    for (const bad of ['ftp://127.0.0.1/x', 'file:///etc/passwd', 'gopher://127.0.0.1/', 'not a url', 'http://', '//127.0.0.1/x']) {
      const x = await expect({ url: bad }, 'E_INVAL');
      assert.equal(x.sync, true, 'refused in the call, no callback');
    }
    assert.deepEqual(tmpFiles().filter((n) => n.startsWith('fetch-')), [], 'failed fetches leave no file');
  });

  it('a client that leaves cancels the fetch: the transfer stops, the file goes, no callback', async () => {
    const { url, state } = ctx.origin;
    const closedBefore = state.closedHang;
    const ac = new AbortController();
    const p = fetch(ctx.srv.url + '/api/v1/files/fetch', {
      method: 'POST', body: JSON.stringify({ url: url + '/hang', timeoutMs: 30000 }), signal: ac.signal,
      headers: { authorization: `Bearer ${ctx.srv.apiKey}`, 'content-type': 'application/json' },
    }).catch((e) => e);
    await waitFor(() => tmpFiles().some((n) => n.startsWith('fetch-')), { what: 'the fetch started', timeoutMs: 5000 });
    ac.abort();
    await p;
    await waitFor(() => state.closedHang > closedBefore, { what: 'the origin saw the transfer end', timeoutMs: 5000 });
    await waitFor(() => !tmpFiles().some((n) => n.startsWith('fetch-')), { what: 'the temporary file removed', timeoutMs: 5000 });
    const s = await get('/api/v1/files/stats');
    assert.equal(s.json.data.fetchCancelled, 1);
    assert.equal(s.json.data.callbacksAfterCancel, 0);
  });

  it('the same over h2c: a stream the client resets cancels the fetch', async () => {
    const { url, state } = ctx.origin;
    const closedBefore = state.closedHang;
    const r = await curl(['--http2-prior-knowledge', '-H', `authorization: Bearer ${ctx.srv.apiKey}`, '-H',
      'content-type: application/json', '-d', JSON.stringify({ url: url + '/hang', timeoutMs: 30000 }),
      ctx.srv.url + '/api/v1/files/fetch'], 1000);
    assert.equal(r.code, 28, 'curl gave up after 1 s');
    await waitFor(() => state.closedHang > closedBefore, { what: 'the origin saw the transfer end', timeoutMs: 5000 });
    await waitFor(() => !tmpFiles().some((n) => n.startsWith('fetch-')), { what: 'the temporary file removed', timeoutMs: 5000 });
    const s = await get('/api/v1/files/stats');
    assert.equal(s.json.data.fetchCancelled, 2);
    assert.equal(s.json.data.callbacksAfterCancel, 0);
  });

  it('a fetch in flight when the server stops never calls back; clean exit', async () => {
    const { url } = ctx.origin;
    const p = doFetch({ url: url + '/hang', timeoutMs: 30000 }).catch((e) => e);
    await waitFor(() => tmpFiles().some((n) => n.startsWith('fetch-')), { what: 'the fetch started', timeoutMs: 5000 });
    await ctx.srv.stop();
    const { code } = await ctx.srv.exited;
    const logs = ctx.srv.logs();
    ctx.srv = null;
    await p;
    assert.equal(code, 0, logs);
    assert.doesNotMatch(logs, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error/);
    assert.deepEqual(tmpFiles().filter((n) => n.startsWith('fetch-') || n.startsWith('upload-')), []);
  });
});
