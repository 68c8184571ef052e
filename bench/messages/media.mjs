// bench/messages/media.mjs - the media part of bench/messages, in one run on loopback:
//  1. 100 KB images sent per second, end to end: miaw's POST .../messages/image (base64
//     JSON; answered after the server's ack: type check, thumbnail, encryption, upload to
//     miaw-sim's HTTPS media host, send) beside Baileys 7.0.0-rc14's sendMessage({image})
//     (baileys-peer.mjs: its own thumbnail with sharp, encryption, upload, send), one
//     sender each to a simulated phone of its own, BENCH_IMG_INFLIGHT (4) in flight, the
//     clock stopped when the phone has decrypted and verified (mediaOk) every image.
//  2. Peak RSS (VmHWM) of `miaw serve` while sending a 50 MB document (BENCH_DOC_MB) from
//     a URL (host fetch -> temp file -> upload by path) and by multipart/form-data. The
//     simulator's media host takes at most 16 MiB, so the document goes to an extra upload
//     host served here (whatsapp.media_upload_hosts, HTTPS, hashes what it receives and
//     keeps nothing); the message itself then reaches the phone through the simulator
//     (which cannot fetch the blob from that host: mediaOk false there is expected).
// Usage: node bench/messages/media.mjs (MIAW_BUILD_DIR, default build). Every process
// started here is stopped on exit.
import { spawn, fork, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, rmSync, openSync, writeFileSync, createReadStream, statSync } from 'node:fs';
import { createServer as netServer } from 'node:net';
import { createServer as httpServer } from 'node:http';
import { createServer as httpsServer } from 'node:https';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(here, '../..');
const BUILD = resolve(ROOT, process.env.MIAW_BUILD_DIR || 'build');
const env = process.env;
const IMAGES = Number(env.BENCH_IMAGES || 150);
const INFLIGHT = Number(env.BENCH_IMG_INFLIGHT || 4);
const DOC_MB = Number(env.BENCH_DOC_MB || 50);
const PARTS = (env.BENCH_PARTS || 'images,rss').split(',');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error('[bench/messages/media]', ...a);
const hwm = (pid) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const cpuS = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100; };
const mib = (k) => (k / 1024).toFixed(1);

const children = [];
const tmp = mkdtempSync(join(tmpdir(), 'miaw-bench-media-'));
function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
  rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(130));

const freePort = () => new Promise((res) => { const s = netServer(); s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); }); });
async function json(method, url, body, headers = {}) {
  const r = await fetch(url, { method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let j = null;
  try { j = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json: j, text };
}
async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) { const v = await fn().catch(() => null); if (v) return v; await sleep(100); }
  throw new Error(`timed out: ${what}`);
}

// ---------------------------------------------------------------- the processes
const simLog = openSync(join(tmp, 'sim.log'), 'a');
const simProc = spawn(join(BUILD, 'miaw-sim'), ['--listen', '127.0.0.1:0', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', simLog] });
children.push(simProc);
const simInfo = JSON.parse(await new Promise((res) => createInterface({ input: simProc.stdout }).once('line', res)));
const SIM = `http://127.0.0.1:${simInfo.port}`;
const sim = (m, p, b) => json(m, SIM + p, b);
const caPem = await (await fetch(`${SIM}/sim/media-ca`)).text();

// the big upload host: HTTPS with its own certificate, hashes and drops what it gets
const key = join(tmp, 'sink.key'), cert = join(tmp, 'sink.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key,
  '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
const sinkStats = { stored: 0, bytes: 0 };
const sink = httpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
  const len = Number(req.headers['content-length'] || 0);
  if (req.method !== 'POST' || len <= 16 << 20) { req.resume(); req.on('end', () => { res.writeHead(503); res.end('{}'); }); return; }
  const h = createHash('sha256');
  req.on('data', (d) => { h.update(d); sinkStats.bytes += d.length; });
  req.on('end', () => {
    sinkStats.stored++;
    const id = h.digest('hex').slice(0, 16), port = sink.address().port;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ url: `https://127.0.0.1:${port}/big/${id}.enc?x=1`, direct_path: `/big/${id}.enc?x=1` }));
  });
});
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
const caFile = join(tmp, 'ca.pem');
writeFileSync(caFile, caPem + readFileSync(cert, 'utf8'));

// files served to miaw's fetch
const docFile = join(tmp, 'doc.bin');
{
  const fd = openSync(docFile, 'w');
  for (let i = 0; i < DOC_MB; i++) writeFileSync(fd, randomBytes(1 << 20));
}
const files = httpServer((req, res) => {
  if (req.url === '/doc.bin') { res.writeHead(200, { 'content-length': statSync(docFile).size }); createReadStream(docFile).pipe(res); } else { res.writeHead(404); res.end(); }
});
await new Promise((r) => files.listen(0, '127.0.0.1', r));

const port = await freePort();
const apiKey = 'bench-media';
const miawLog = openSync(join(tmp, 'miaw.log'), 'a');
const miaw = spawn(join(BUILD, 'miaw'), ['serve'], {
  stdio: ['ignore', miawLog, miawLog],
  env: { ...env, API_HOST: '127.0.0.1', API_PORT: String(port), API_KEY: apiKey, SESSION_PATH: join(tmp, 'data'),
    MIAW_PLUGIN_DIR: join(BUILD, 'plugins'), MIAW_PLUGINS: 'messages', WA_WS_URL: simInfo.ws, WA_ROOT_KEY: simInfo.rootPublicKeyHex,
    WA_MEDIA_CA_FILE: caFile, WA_MEDIA_UPLOAD_HOSTS: `127.0.0.1:${sink.address().port}`, LOG_LEVEL: 'warn' },
});
children.push(miaw);
const API = `http://127.0.0.1:${port}/api/v1`;
const auth = { authorization: `Bearer ${apiKey}` };
await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 200, 15000, 'miaw /health');

async function scan(phone, qr) {
  await sim('POST', '/sim/accounts', { phone, name: `P${phone}` });
  const r = await sim('POST', `/sim/accounts/${phone}/scan`, { qr });
  if (r.status >= 300) throw new Error(`scan: ${r.text}`);
}
// miaw: instance "m" as 15551000001, its peer 15552000001
await sim('POST', '/sim/accounts', { phone: '15552000001', name: 'peer-m' });
await json('POST', `${API}/instances`, { instanceId: 'm' }, auth);
await json('POST', `${API}/instances/m/connect`, undefined, auth);
const qr = await waitFor(async () => (await json('GET', `${API}/instances/m/qr`, undefined, auth)).json?.data?.qr, 15000, 'qr');
await scan('15551000001', qr);
await waitFor(async () => (await json('GET', `${API}/instances/m/status`, undefined, auth)).json?.data?.status === 'connected', 30000, 'miaw connected');

const img = readFileSync(join(ROOT, 'tests/integration/fixtures/media/img.jpg'));
// a 100 KB JPEG: the fixture's JPEG with comment segments of random bytes after SOI
const segs = [];
for (let left = 100 * 1024 - img.length; left > 4;) {
  const n = Math.min(65533, left - 4), sgm = Buffer.alloc(4 + n);
  sgm[0] = 0xff; sgm[1] = 0xfe; sgm.writeUInt16BE(n + 2, 2); randomBytes(n).copy(sgm, 4);
  segs.push(sgm);
  left -= n + 4;
}
const img100 = Buffer.concat([img.subarray(0, 2), ...segs, img.subarray(2)]);

async function phoneCount(phone, since) {
  const r = await sim('GET', `/sim/accounts/${phone}/messages`);
  const ms = (r.json?.messages || []).filter((m) => m.type === 'image' && m.timestamp >= since);
  return { all: ms.length, ok: ms.filter((m) => m.mediaOk).length };
}

const results = [];
if (PARTS.includes('images')) {
  // miaw
  const b64 = img100.toString('base64');
  const since = Math.floor(Date.now() / 1000) - 1;
  await json('POST', `${API}/instances/m/messages/image`, { to: '15552000001', base64: b64 }, auth); // warm-up (session)
  const base = (await phoneCount('15552000001', since)).all;
  const c0 = cpuS(miaw.pid), s0 = cpuS(simProc.pid);
  let t0 = performance.now(), next = 0, errors = 0;
  await Promise.all(Array.from({ length: INFLIGHT }, async () => {
    while (next < IMAGES) {
      next++;
      const r = await json('POST', `${API}/instances/m/messages/image`, { to: '15552000001', base64: b64 }, auth);
      if (r.status !== 200) { errors++; if (errors < 3) log('miaw error', r.text); }
    }
  }));
  await waitFor(async () => (await phoneCount('15552000001', since)).all >= base + IMAGES - errors, 120000, 'miaw images on the phone');
  const secs = (performance.now() - t0) / 1000;
  const got = await phoneCount('15552000001', since);
  results.push({ target: 'miaw', n: IMAGES, secs, errors, ok: got.ok - 1, cpu: cpuS(miaw.pid) - c0, simCpu: cpuS(simProc.pid) - s0 });

  // Baileys, in its own process, trusting the simulator's media CA
  const peer = fork(join(here, 'baileys-peer.mjs'), [simInfo.ws, simInfo.rootPublicKeyHex, join(tmp, 'baileys')],
    { execArgv: ['--expose-gc'], env: { ...env, NODE_EXTRA_CA_CERTS: caFile, BENCH_BAILEYS_AUTH: 'memory' } });
  children.push(peer);
  let rid = 0;
  const waiting = new Map();
  peer.on('message', async (m) => {
    if (m.ev === 'qr') await scan('15553000001', m.qr).catch((e) => log('scan', e.message));
    else if (m.rid && waiting.has(m.rid)) { waiting.get(m.rid)(m); waiting.delete(m.rid); }
  });
  await new Promise((r) => peer.once('message', r)); // ready
  const call = (cmd, extra = {}) => new Promise((res, rej) => { const id = ++rid; waiting.set(id, (m) => (m.ok ? res(m) : rej(new Error(m.error)))); peer.send({ cmd, rid: id, ...extra }); });
  await sim('POST', '/sim/accounts', { phone: '15554000001', name: 'peer-b' });
  await call('pair', { idx: 0 });
  await sleep(500);
  const imgFile = join(tmp, 'img100.jpg');
  writeFileSync(imgFile, img100);
  const sinceB = Math.floor(Date.now() / 1000) - 1;
  await call('sendImages', { jobs: [{ idx: 0, to: '15554000001', count: 1, path: imgFile }], inflight: 1 }); // warm-up
  const baseB = (await phoneCount('15554000001', sinceB)).all;
  const b0 = cpuS(peer.pid), sb0 = cpuS(simProc.pid);
  t0 = performance.now();
  const out = await call('sendImages', { jobs: [{ idx: 0, to: '15554000001', count: IMAGES, path: imgFile }], inflight: INFLIGHT });
  await waitFor(async () => (await phoneCount('15554000001', sinceB)).all >= baseB + IMAGES - out.errors, 120000, 'Baileys images on the phone');
  const secsB = (performance.now() - t0) / 1000;
  const gotB = await phoneCount('15554000001', sinceB);
  if (out.firstError) log('Baileys error', out.firstError);
  results.push({ target: 'Baileys', n: IMAGES, secs: secsB, errors: out.errors, ok: gotB.ok - 1, cpu: cpuS(peer.pid) - b0, simCpu: cpuS(simProc.pid) - sb0 });
  await call('exit').catch(() => {});

  console.log(`\n100 KB images/s end to end (${IMAGES} images, ${INFLIGHT} in flight, phone verifies each)`);
  console.log('target     images  errors  mediaOk  seconds  images/s  CPU s  sim CPU s');
  for (const r of results)
    console.log(`${r.target.padEnd(9)} ${String(r.n).padStart(7)} ${String(r.errors).padStart(7)} ${String(r.ok).padStart(8)} ` +
      `${r.secs.toFixed(2).padStart(8)} ${(r.n / r.secs).toFixed(1).padStart(9)} ${r.cpu.toFixed(2).padStart(6)} ${r.simCpu.toFixed(2).padStart(10)}`);
  if (results.length === 2) console.log(`ratio ${((results[0].n / results[0].secs) / (results[1].n / results[1].secs)).toFixed(2)}x (miaw/Baileys)`);
}

if (PARTS.includes('rss')) {
  console.log(`\npeak RSS of miaw serve sending a ${DOC_MB} MB document`);
  console.log('source      VmRSS before MiB  VmHWM before MiB  VmHWM after MiB  growth MiB  seconds  status');
  for (const source of ['url', 'multipart']) {
    const before = rss(miaw.pid), hwmBefore = hwm(miaw.pid);
    const t0 = performance.now();
    let r;
    if (source === 'url') {
      r = await json('POST', `${API}/instances/m/messages/document`, { to: '15552000001', url: `http://127.0.0.1:${files.address().port}/doc.bin`, fileName: 'big.bin' }, auth);
    } else {
      const fd = new FormData();
      fd.append('to', '15552000001');
      fd.append('fileName', 'big.bin');
      fd.append('file', new Blob([readFileSync(docFile)]), 'big.bin');
      const res = await fetch(`${API}/instances/m/messages/document`, { method: 'POST', headers: auth, body: fd });
      r = { status: res.status, text: await res.text() };
    }
    const secs = (performance.now() - t0) / 1000;
    const after = hwm(miaw.pid);
    console.log(`${source.padEnd(10)} ${mib(before).padStart(17)} ${mib(hwmBefore).padStart(17)} ${mib(after).padStart(16)} ` +
      `${mib(after - hwmBefore).padStart(11)} ${secs.toFixed(2).padStart(8)}  ${r.status}${r.status === 200 ? '' : ' ' + r.text.slice(0, 200)}`);
  }
  console.log(`(the upload host stored ${sinkStats.stored} blobs, ${(sinkStats.bytes / 1048576).toFixed(1)} MiB; ` +
    'VmHWM is a high-water mark: a later row shows growth only above the earlier peak)');
}

miaw.kill('SIGTERM');
await sleep(500);
sink.close();
files.close();
process.exit(0);
