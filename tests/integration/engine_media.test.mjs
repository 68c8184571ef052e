// tests/integration/engine_media.test.mjs - the engine's media transfers (plugin ABI
// media_upload / media_download) through miaw-sim's HTTPS media host, driven by the
// fixture plugin tests/integration/fixtures/plugin_media_probe.c (built here with cc):
// upload then download round trips (bytes and files, chunks and files, the blob checked
// independently with Node's crypto as WhatsApp clients decrypt it), a 40 MiB file
// streamed up and down with miaw's peak RSS (VmHWM) barely moving, a tampered media key
// or hash (MIAW_E_IO, nothing kept), a blob the host does not have (MIAW_E_GONE), cancels
// at every stage (no callback afterwards, no temporary file left), a simulated phone
// receiving an image miaw sent and decrypting it (mediaOk), an image a phone sent
// downloaded by miaw from its stored message (the same imageMessage as the `message`
// webhook's data.raw), a dropped download resumed with Range, a refused upload auth
// (media_conn asked again once), and transfers ending with MIAW_E_STATE when their
// instance is deleted.
// The simulator's media host refuses bodies over 16 MiB, so the big upload goes to an
// extra upload host (whatsapp.media_upload_hosts) served by this test: it refuses small
// bodies (503, so miaw falls back to the simulator's host: the next-host retry is in
// every other upload) and stores big ones after checking the token against their hash.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { copyFileSync, createReadStream, createWriteStream, existsSync, readFileSync, readdirSync, rmSync, statSync,
  writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { createServer } from 'node:https';
import { request } from 'node:https';
import { join } from 'node:path';
import { BUILD, ROOT, startServer, tempDir, waitFor, sleep } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { startSim, simEnv, events, pairByQr } from './lib/sim.mjs';

const ME = '15550004444';
const BOB = '15550005555';
const BIG = 40 << 20;
const ctx = {};

const sha256 = (b) => createHash('sha256').update(b).digest();
const hex = (b) => b.toString('hex');
const b64 = (b) => b.toString('base64');
const b64url = (b) => b.toString('base64url');

/** VmHWM (peak resident set) of a process, in KiB */
function vmHWM(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

/** decrypts a WhatsApp media blob as the clients do (facts 10.2/10.3), checking the MAC */
function waDecrypt(blob, mediaKey, info) {
  const exp = Buffer.from(hkdfSync('sha256', mediaKey, Buffer.alloc(32), info, 112));
  const iv = exp.subarray(0, 16), key = exp.subarray(16, 48), macKey = exp.subarray(48, 80);
  const ct = blob.subarray(0, blob.length - 10), mac = blob.subarray(blob.length - 10);
  const want = createHmac('sha256', macKey).update(iv).update(ct).digest().subarray(0, 10);
  assert.ok(want.equals(mac), 'MAC of the uploaded blob');
  const d = createDecipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([d.update(ct), d.final()]);
}

function httpsGet(url, ca) {
  return new Promise((res, rej) => {
    const r = request(url, { ca, headers: { origin: 'https://web.whatsapp.com' } }, (resp) => {
      const parts = [];
      resp.on('data', (d) => parts.push(d));
      resp.on('end', () => res({ status: resp.statusCode, body: Buffer.concat(parts) }));
    });
    r.on('error', rej);
    r.setTimeout(20000, () => r.destroy(new Error('timeout')));
    r.end();
  });
}

/** the extra upload host: 503 for bodies up to 16 MiB, stores bigger ones (token checked) */
function startBigHost(dir, key, cert) {
  const stats = { refused: 0, stored: 0, tokens: [], blobs: new Map(), hold: false, held: [], posts: 0,
    gets: [], flaky: 0, ignoreRange: false, authFail: false };
  const srv = createServer({ key, cert }, (req, res) => {
    const u = new URL(req.url, 'https://x');
    if (req.method === 'POST' && u.pathname.startsWith('/mms/')) {
      const len = Number(req.headers['content-length'] || 0);
      stats.posts++;
      const token = u.pathname.split('/')[3];
      if (stats.authFail) { req.resume(); req.on('end', () => { res.writeHead(401); res.end('{}'); }); return; }
      if (len <= 16 << 20 || u.searchParams.get('token') !== token || !u.searchParams.get('auth')) {
        stats.refused++;
        req.resume();
        req.on('end', () => { res.writeHead(503, { 'content-type': 'application/json' }); res.end('{"error":"busy"}'); });
        return;
      }
      const id = `${Date.now()}-${stats.stored}`;
      const file = join(dir, `${id}.enc`);
      const h = createHash('sha256');
      const out = createWriteStream(file);
      let got = 0;
      req.on('data', (d) => { h.update(d); got += d.length; });
      req.pipe(out);
      out.on('finish', () => {
        if (stats.hold) { stats.held.push(res); return; } // answers later (or never)
        const digest = h.digest();
        if (got !== len || b64url(digest) !== token.replace(/=+$/, '')) {
          res.writeHead(400); res.end('{"error":"token"}'); return;
        }
        stats.stored++;
        stats.tokens.push(token);
        stats.blobs.set(`/big/${id}.enc`, file);
        const port = srv.address().port;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ url: `https://127.0.0.1:${port}/big/${id}.enc?x=1`, direct_path: `/big/${id}.enc?x=1` }));
      });
      return;
    }
    if (req.method === 'GET' && stats.blobs.has(u.pathname)) {
      const file = stats.blobs.get(u.pathname), size = statSync(file).size;
      const range = /^bytes=(\d+)-$/.exec(req.headers.range || '');
      stats.gets.push(req.headers.range || null);
      if (stats.flaky > 0) { // half the body, then the connection drops
        stats.flaky--;
        res.writeHead(200, { 'content-length': size });
        const half = createReadStream(file, { end: (size >> 1) - 1 });
        half.pipe(res, { end: false });
        half.on('end', () => setTimeout(() => res.socket.destroy(), 50));
      } else if (range && !stats.ignoreRange) {
        const from = Number(range[1]);
        res.writeHead(206, { 'content-length': size - from, 'content-range': `bytes ${from}-${size - 1}/${size}` });
        createReadStream(file, { start: from }).pipe(res);
      } else {
        res.writeHead(200, { 'content-length': size });
        createReadStream(file).pipe(res);
      }
      return;
    }
    res.writeHead(404); res.end();
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r({ srv, stats, port: srv.address().port })));
}

const probe = (path, body) => ctx.srv.api('POST', `/api/v1/instances/bot/probe/${path}`, body);
const noPartFiles = (dir) => readdirSync(dir).filter((f) => f.includes('.part-'));

before(async () => {
  ctx.tmp = tempDir('miaw-media-');
  ctx.simDir = join(ctx.tmp, 'sim');
  ctx.dataDir = join(ctx.tmp, 'data');
  ctx.files = join(ctx.tmp, 'files');
  for (const d of [ctx.simDir, ctx.dataDir, ctx.files, join(ctx.tmp, 'plugins'), join(ctx.tmp, 'big')])
    execFileSync('mkdir', ['-p', d]);
  // the probe plugin, built like a third party's, next to the messages plugin
  const pdir = join(ctx.tmp, 'plugins');
  execFileSync('cc', ['-std=c11', '-shared', '-fPIC', '-Wall', '-Wextra', '-Werror', '-I', join(ROOT, 'sdk/include'),
    '-o', join(pdir, 'media_probe.so'), join(ROOT, 'tests/integration/fixtures/plugin_media_probe.c'), '-ljansson', '-lcrypto']);
  execFileSync('chmod', ['go-w', pdir, join(pdir, 'media_probe.so')]);
  copyFileSync(join(BUILD, 'plugins', 'messages.so'), join(pdir, 'messages.so'));

  ctx.sim = await startSim({ stateDir: ctx.simDir });
  ctx.rcv = await startReceiver();
  const base = `http://127.0.0.1:${ctx.sim.info.port}`;
  ctx.simCa = await (await fetch(`${base}/sim/media-ca`)).text();
  assert.match(ctx.simCa, /BEGIN CERTIFICATE/);
  // the extra upload host's self-signed certificate for 127.0.0.1
  const key = join(ctx.tmp, 'big.key'), cert = join(ctx.tmp, 'big.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key,
    '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  ctx.bigCert = readFileSync(cert, 'utf8');
  ctx.big = await startBigHost(join(ctx.tmp, 'big'), readFileSync(key), ctx.bigCert);
  const caFile = join(ctx.tmp, 'media-ca.pem');
  writeFileSync(caFile, ctx.simCa + ctx.bigCert);

  ctx.srv = await startServer({
    dataDir: ctx.dataDir, pluginDir: pdir, plugins: ['messages', 'media_probe'],
    env: simEnv(ctx.sim, { WA_MEDIA_CA_FILE: caFile, WA_MEDIA_UPLOAD_HOSTS: `127.0.0.1:${ctx.big.port}`,
      MIAW_WEBHOOK_URL: ctx.rcv.url }),
  });
  assert.equal((await ctx.srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201);
  assert.equal((await ctx.sim.api('POST', '/sim/accounts', { phone: BOB, name: 'Bob' })).status, 201);
  await pairByQr(ctx.srv, ctx.sim, 'bot', ME, { name: 'Me' });
});

after(async () => {
  let logs = '', exit = null;
  if (ctx.srv) {
    await ctx.srv.stop();
    logs = ctx.srv.logs();
    exit = await ctx.srv.exited;
  }
  if (ctx.sim) await ctx.sim.stop();
  if (ctx.rcv) await ctx.rcv.close();
  if (ctx.big) await new Promise((r) => { ctx.big.srv.closeAllConnections?.(); ctx.big.srv.close(r); });
  if (ctx.tmp) rmSync(ctx.tmp, { recursive: true, force: true });
  // a clean exit: no sanitizer report (leaks included, in ASan builds), exit code 0
  if (ctx.srv) {
    assert.doesNotMatch(logs, /AddressSanitizer|LeakSanitizer|runtime error:/);
    assert.deepEqual(exit, { code: 0, sig: null });
  }
});

describe('media transfers', { timeout: 300000 }, () => {
  it('uploads bytes and downloads them back (chunks and a file); the blob is WhatsApp\'s', async () => {
    const data = randomBytes(150000);
    const refusedBefore = ctx.big.stats.refused;
    let r = await probe('upload', { type: 'image', base64: b64(data) });
    assert.equal(r.status, 200, r.text);
    const up = r.json.data;
    assert.deepEqual(Object.keys(up).sort(),
      ['directPath', 'fileEncSha256', 'fileLength', 'fileSha256', 'mediaKey', 'mediaKeyTimestamp', 'url']);
    assert.equal(up.fileLength, String(data.length));
    assert.equal(up.fileSha256, b64(sha256(data)));
    assert.equal(Buffer.from(up.mediaKey, 'base64').length, 32);
    assert.match(up.mediaKeyTimestamp, /^\d{10}$/);
    assert.ok(Math.abs(Number(up.mediaKeyTimestamp) - Date.now() / 1000) < 120);
    assert.ok(up.url.startsWith(`https://${ctx.sim.info.mediaHost}/`), up.url);
    assert.ok(up.directPath.startsWith('/v/'), up.directPath);
    assert.ok(ctx.big.stats.refused > refusedBefore, 'the first upload host refused; the next one took it');
    // the blob on the simulator, decrypted independently
    const blob = await httpsGet(up.url, ctx.simCa);
    assert.equal(blob.status, 200);
    assert.equal(b64(sha256(blob.body)), up.fileEncSha256);
    assert.equal(blob.body.length, (Math.floor(data.length / 16) + 1) * 16 + 10);
    assert.ok(waDecrypt(blob.body, Buffer.from(up.mediaKey, 'base64'), 'WhatsApp Image Keys').equals(data));

    r = await probe('download', { type: 'image', media: up });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.fileLength, String(data.length));
    assert.equal(r.json.data.sha256, hex(sha256(data)));
    assert.equal(r.json.data.bytes, data.length);
    assert.ok(r.json.data.chunks >= 1);
    const dest = join(ctx.files, 'back.jpg');
    r = await probe('download', { type: 'image', media: up, path: dest });
    assert.equal(r.status, 200, r.text);
    assert.ok(readFileSync(dest).equals(data));
    assert.deepEqual(noPartFiles(ctx.files), []);
    // by url only (no directPath): straight to the host in the URL
    r = await probe('download', { type: 'image', media: { ...up, directPath: undefined } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.sha256, hex(sha256(data)));
  });

  it('uploads a file by path (document keys, ptt = audio keys), empty and odd sizes', async () => {
    for (const [type, info, size] of [['document', 'WhatsApp Document Keys', 70001], ['ptt', 'WhatsApp Audio Keys', 16],
      ['sticker', 'WhatsApp Image Keys', 0]]) {
      const data = randomBytes(size);
      const src = join(ctx.files, `src-${type}`);
      writeFileSync(src, data);
      let r = await probe('upload', { type, path: src });
      assert.equal(r.status, 200, r.text);
      const up = r.json.data;
      assert.equal(up.fileLength, String(size));
      const blob = await httpsGet(up.url, ctx.simCa);
      assert.ok(waDecrypt(blob.body, Buffer.from(up.mediaKey, 'base64'), info).equals(data), type);
      r = await probe('download', { type, media: up, path: join(ctx.files, `dst-${type}`) });
      assert.equal(r.status, 200, r.text);
      assert.ok(readFileSync(join(ctx.files, `dst-${type}`)).equals(data), type);
    }
    // input errors, answered at once
    let r = await probe('upload', { type: 'image', path: join(ctx.files, 'nope') });
    assert.equal(r.json.error.code, 'E_INVAL', r.text);
    r = await probe('upload', { type: 'hologram', base64: 'AAAA' });
    assert.equal(r.json.error.code, 'E_INVAL', r.text);
    r = await probe('download', { type: 'image', media: { directPath: '/v/x.enc' } });
    assert.equal(r.json.error.code, 'E_INVAL', r.text);
    assert.match(r.json.error.message, /mediaKey/);
    r = await probe('download', { type: 'image', media: { mediaKey: b64(randomBytes(32)), url: 'http://127.0.0.1/x' } });
    assert.equal(r.json.error.code, 'E_INVAL', r.text);
  });

  it(`streams a ${BIG >> 20} MiB file up and down with miaw's peak RSS bounded`, async () => {
    const src = join(ctx.files, 'big.bin');
    const fd = openSync(src, 'w');
    const h = createHash('sha256');
    for (let i = 0; i < BIG; i += 1 << 20) { const b = randomBytes(1 << 20); h.update(b); writeSync(fd, b); }
    closeSync(fd);
    const digest = h.digest();
    const pid = ctx.srv.proc.pid;
    const before = vmHWM(pid);
    let t0 = Date.now();
    let r = await probe('upload', { type: 'document', path: src });
    const upMs = Date.now() - t0;
    assert.equal(r.status, 200, r.text);
    const up = r.json.data;
    assert.equal(up.fileLength, String(BIG));
    assert.equal(up.fileSha256, b64(digest));
    assert.ok(ctx.big.stats.tokens.includes(b64url(Buffer.from(up.fileEncSha256, 'base64'))), 'stored on the big host');
    const afterUp = vmHWM(pid);
    // down again from the big host (by url: its direct path is not on the simulator's host)
    const dest = join(ctx.files, 'big.back');
    t0 = Date.now();
    r = await probe('download', { type: 'document', media: { ...up, directPath: undefined }, path: dest });
    const downMs = Date.now() - t0;
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.sha256, hex(digest));
    const afterDown = vmHWM(pid);
    const mb = (k) => (k / 1024).toFixed(1);
    console.log(`# ${BIG >> 20} MiB: upload ${upMs} ms (${(BIG / 1048576 / (upMs / 1000)).toFixed(1)} MiB/s, two ` +
      `encryption passes), download ${downMs} ms (${(BIG / 1048576 / (downMs / 1000)).toFixed(1)} MiB/s); VmHWM ` +
      `${mb(before)} -> ${mb(afterUp)} -> ${mb(afterDown)} MiB`);
    const phases = ctx.srv.logs().match(/uploaded \d+ bytes to [^:]+:\d+: .*/g); // LOG_LEVEL=debug
    if (phases) console.log(`# ${phases.at(-1)}`);
    // under ASan the resident set also holds the allocator's quarantine, per-thread caches and
    // shadow pages (the thread pool's threads start here when this test runs alone): no bound there
    const asan = readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libasan');
    if (!asan) assert.ok(afterDown - before < 12 * 1024, `peak RSS grew by ${afterDown - before} KiB`);
    rmSync(src);
    rmSync(dest);
  });

  it('a tampered key or hash is MIAW_E_IO and nothing is kept; a missing blob is MIAW_E_GONE', async () => {
    const data = randomBytes(5000);
    let r = await probe('upload', { type: 'image', base64: b64(data) });
    assert.equal(r.status, 200, r.text);
    const up = r.json.data;
    const key = Buffer.from(up.mediaKey, 'base64');
    key[7] ^= 1;
    const dest = join(ctx.files, 'tampered.jpg');
    r = await probe('download', { type: 'image', media: { ...up, mediaKey: b64(key) }, path: dest });
    assert.equal(r.json.error.code, 'E_IO', r.text);
    assert.match(r.json.error.message, /hash or MAC/);
    assert.equal(existsSync(dest), false);
    assert.deepEqual(noPartFiles(ctx.files), []);
    const sha = Buffer.from(up.fileSha256, 'base64');
    sha[0] ^= 1;
    r = await probe('download', { type: 'image', media: { ...up, fileSha256: b64(sha) }, path: dest });
    assert.equal(r.json.error.code, 'E_IO', r.text);
    assert.equal(existsSync(dest), false);
    r = await probe('download', { type: 'image', media: { ...up, fileLength: String(data.length + 1) } });
    assert.equal(r.json.error.code, 'E_IO', r.text);
    r = await probe('download', { type: 'document', media: up }); // other keys: the MAC fails
    assert.equal(r.json.error.code, 'E_IO', r.text);
    // a direct path the host never handed out, and a signed one with a wrong signature
    const bogus = up.directPath.replace(/\/[^/?]+\.enc/, '/AAAAAAAAAAAAAAAAAAAAAA.enc');
    r = await probe('download', { type: 'image', media: { ...up, directPath: bogus, url: undefined }, path: dest });
    assert.equal(r.json.error.code, 'E_GONE', r.text);
    assert.equal(existsSync(dest), false);
    r = await probe('download', { type: 'image', media: { ...up, directPath: up.directPath.replace(/oh=[^&]+/, 'oh=00'), url: undefined } });
    assert.equal(r.json.error.code, 'E_GONE', r.text);
    assert.deepEqual(noPartFiles(ctx.files), []);
  });

  it('a dropped download resumes with a Range request on the next attempt (or skips what it had)', async () => {
    const data = randomBytes((2 << 20) + 5);
    let r = await probe('upload', { type: 'video', base64: b64(data) });
    assert.equal(r.status, 200, r.text);
    const up = r.json.data;
    const blob = await httpsGet(up.url, ctx.simCa);
    const file = join(ctx.tmp, 'big', 'resume.enc');
    writeFileSync(file, blob.body);
    ctx.big.stats.blobs.set('/res/resume.enc', file);
    const media = { ...up, directPath: undefined, url: `https://127.0.0.1:${ctx.big.port}/res/resume.enc` };
    for (const ignoreRange of [false, true]) {
      ctx.big.stats.gets = [];
      ctx.big.stats.flaky = 1;
      ctx.big.stats.ignoreRange = ignoreRange;
      r = await probe('download', { type: 'video', media });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.data.sha256, hex(sha256(data)));
      assert.equal(r.json.data.bytes, data.length);
      assert.equal(ctx.big.stats.gets.length, 2, JSON.stringify(ctx.big.stats.gets));
      assert.equal(ctx.big.stats.gets[0], null);
      assert.match(ctx.big.stats.gets[1], /^bytes=[1-9]\d*-$/);
    }
    ctx.big.stats.ignoreRange = false;
    // a host refusing the auth: media_conn is asked again once, the upload tried again, then it fails
    const src = join(ctx.files, 'auth.bin');
    writeFileSync(src, Buffer.alloc((16 << 20) + 1, 7));
    ctx.big.stats.authFail = true;
    const posts = ctx.big.stats.posts;
    r = await probe('upload', { type: 'document', path: src });
    ctx.big.stats.authFail = false;
    assert.equal(r.json?.error?.code, 'E_IO', r.text);
    assert.equal(ctx.big.stats.posts - posts, 2, 'tried again after a fresh media_conn');
    assert.match(r.json.error.message, /HTTP 401|takes at most/);
    rmSync(src);
  });

  it('cancel at any stage: no callback afterwards, no temporary file, the server lives on', async () => {
    const data = randomBytes(3 << 20);
    const src = join(ctx.files, 'c.bin');
    writeFileSync(src, data);
    let r = await probe('upload', { type: 'document', path: src });
    assert.equal(r.status, 200, r.text);
    const up = r.json.data;
    const cases = [
      { op: 'upload', type: 'document', path: src, afterMs: 0 },          // while hashing / asking media_conn
      { op: 'upload', type: 'document', path: src, afterMs: 30 },         // during the POST (or about)
      { op: 'upload', type: 'image', base64: b64(data.subarray(0, 1000)), afterMs: 0 },
      { op: 'download', type: 'document', media: up, afterChunks: 1 },   // inside the first chunk callback
      { op: 'download', type: 'document', media: up, afterChunks: 3 },
      { op: 'download', type: 'document', media: up, dest: join(ctx.files, 'c.out'), afterMs: 0 },
      { op: 'download', type: 'document', media: up, dest: join(ctx.files, 'c.out'), afterMs: 15 },
    ];
    for (const c of cases) {
      r = await probe('cancel', c);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.data.cancelled, true, JSON.stringify(c));
      assert.equal(r.json.data.callbacks, 0, `no callback after cancel: ${JSON.stringify({ ...c, base64: undefined, media: undefined })}`);
      assert.equal(r.json.data.chunksAfterCancel, 0);
      if (c.afterChunks) assert.equal(r.json.data.chunks, c.afterChunks);
    }
    assert.equal(existsSync(join(ctx.files, 'c.out')), false);
    assert.deepEqual(noPartFiles(ctx.files), []);
    // the client leaving cancels too (the probe cancels in its abort callback)
    const ac = new AbortController();
    const p = fetch(`${ctx.srv.url}/api/v1/instances/bot/probe/upload`, {
      method: 'POST', signal: ac.signal, headers: { authorization: `Bearer ${ctx.srv.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'document', path: src }),
    }).catch(() => null);
    await sleep(20);
    ac.abort();
    await p;
    r = await probe('download', { type: 'document', media: up });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.sha256, hex(sha256(data)));
  });

  it('a simulated phone receives an image miaw sent and decrypts it', async () => {
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(20000), Buffer.from([0xff, 0xd9])]);
    const r = await probe('send-image', { to: BOB, base64: b64(jpeg), caption: 'a cat' });
    assert.equal(r.status, 200, r.text);
    const { messageId } = r.json.data;
    const got = await waitFor(async () => {
      const m = (await ctx.sim.api('GET', `/sim/accounts/${BOB}/messages`)).json.messages.find((x) => x.id === messageId);
      return m && m.mediaOk !== undefined ? m : null;
    }, { what: 'Bob got the image', timeoutMs: 20000 });
    assert.equal(got.type, 'image');
    assert.equal(got.mediaOk, true, JSON.stringify(got));
    assert.equal(got.caption, 'a cat');
    assert.equal(got.mimetype, 'image/jpeg');
    assert.equal(got.mediaSha256, b64(sha256(jpeg)));
    assert.equal(got.mediaLength, jpeg.length);
    assert.equal(String(got.fileLength), String(jpeg.length));
  });

  it('miaw downloads the image a simulated phone sent (from the stored message)', async () => {
    const img = randomBytes(64000);
    const s = await ctx.sim.api('POST', `/sim/accounts/${BOB}/messages`,
      { to: ME, image: { base64: b64(img), mimetype: 'image/png', caption: 'from bob' } });
    assert.equal(s.status, 201, JSON.stringify(s.json));
    const id = s.json.id;
    const stored = await waitFor(async () => {
      const r = await ctx.srv.api('GET', `/api/v1/instances/bot/probe/message/${id}`);
      return r.status === 200 && r.json.data.message ? r.json.data : null;
    }, { what: 'the image stored', timeoutMs: 20000 });
    const im = stored.message.imageMessage;
    assert.ok(im && im.mediaKey && im.directPath, JSON.stringify(stored.message));
    assert.equal(im.caption, 'from bob');
    // the `message` webhook carries the imageMessage in data.raw: what a client downloads with
    await ctx.rcv.waitFor(() => events(ctx.rcv, 'message').some((e) => e.data.id === id), 20000, 'message webhook');
    const raw = events(ctx.rcv, 'message').find((e) => e.data.id === id).data.raw;
    assert.deepEqual(raw?.imageMessage, im);
    let r = await probe('download', { type: 'image', messageId: id });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.sha256, hex(sha256(img)));
    r = await probe('download', { type: 'image', media: im, path: join(ctx.files, 'bob.png') });
    assert.equal(r.status, 200, r.text);
    assert.ok(readFileSync(join(ctx.files, 'bob.png')).equals(img));
  });

  it('transfers in flight end with MIAW_E_STATE when their instance is deleted', async () => {
    const src = join(ctx.files, 'del.bin');
    writeFileSync(src, randomBytes(17 << 20)); // over 16 MiB: to the big host, which holds the answer
    ctx.big.stats.hold = true;
    const posts = ctx.big.stats.posts;
    const pending = probe('upload', { type: 'document', path: src });
    await waitFor(() => ctx.big.stats.held.length > 0, { what: 'the upload reached the host', timeoutMs: 30000 });
    assert.equal(ctx.big.stats.posts, posts + 1);
    assert.equal((await ctx.srv.api('DELETE', '/api/v1/instances/bot')).status, 200);
    const r = await pending;
    assert.equal(r.json?.error?.code, 'E_STATE', r.text);
    for (const res of ctx.big.stats.held.splice(0)) res.destroy();
    ctx.big.stats.hold = false;
    assert.equal((await ctx.srv.api('GET', '/health')).status, 200);
  });
});
