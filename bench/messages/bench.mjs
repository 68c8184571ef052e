// bench/messages/bench.mjs - miaw beside Baileys 7.0.0-rc14 through one miaw-sim, in one
// run on loopback:
//  1. RSS per connected idle instance: VmRSS of `miaw serve` before any instance and after
//     N instances are paired by QR (one simulated account each) and idle, over N; the same
//     for a Node process holding M Baileys sockets (baileys-peer.mjs), over M.
//  2. End-to-end text messages/s (REST call, or sendMessage, → encrypted → miaw-sim →
//     decrypted by the recipient's simulated phone) with 1 and with 100 senders, each
//     sender writing to its own simulated phone; the clock stops when the last phone has
//     decrypted its last message (read from GET /sim/accounts/{phone}/messages).
// Driven by run.sh; every process started here is stopped on exit. Knobs: see run.sh.
import { spawn, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, rmSync, openSync, existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request as httpRequest, Agent } from 'node:http';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(here, '../..');
const BUILD = resolve(ROOT, process.env.MIAW_BUILD_DIR || 'build');
const env = process.env;
const int = (k, d) => { const v = Number(env[k] ?? d); if (!Number.isInteger(v) || v < 0) throw new Error(`${k} must be a whole number`); return v; };

const PARTS = (env.BENCH_PARTS || 'rss,msgs').split(',');
const SIZES = (env.BENCH_MSG_INSTANCES || '1,100').split(',').map(Number);
const N_RSS = int('BENCH_INSTANCES', 1000);
const M_RSS = int('BENCH_BAILEYS', 100);
const maxSize = PARTS.includes('msgs') ? Math.max(...SIZES) : 0;
// Baileys' senders in a run of k: min(k, BENCH_BAILEYS_MAX_SENDERS) (one Node process holds
// every socket: it cannot hold thousands); 0 = no cap
const B_CAP = int('BENCH_BAILEYS_MAX_SENDERS', 0);
const bSenders = (k) => (B_CAP ? Math.min(k, B_CAP) : k);
// the Baileys sockets open after pairing (set by main): its senders are taken from these, so a
// socket that closed after pairing is left out instead of stalling the run on its phone
let bOpen = null;
const bSock = (i) => (bOpen ? bOpen[i] : i);
const bSendersOpen = (k) => (bOpen ? Math.min(bSenders(k), bOpen.length) : bSenders(k));
const N = PARTS.includes('rss') || PARTS.includes('restart') ? Math.max(N_RSS, maxSize) : maxSize; // miaw instances paired
const M = PARTS.includes('rss') ? Math.max(M_RSS, bSenders(maxSize)) : bSenders(maxSize); // Baileys sockets paired
const IDLE_S = int('BENCH_IDLE_SECONDS', 15);
const PAIR_CONC = int('BENCH_PAIR_CONCURRENCY', 20);
const CONNECT_TIMEOUT_S = int('BENCH_CONNECT_TIMEOUT', 600);
const MSGS_1 = int('BENCH_MSGS_1', 600);           // messages in the 1-sender run
const INFLIGHT_1 = int('BENCH_INFLIGHT_1', 8);     // in flight for the single sender
const MSGS_PER = int('BENCH_MSGS_PER_SENDER', 20); // messages per sender when there are several
const INFLIGHT_PER = int('BENCH_INFLIGHT_PER', 1); // in flight per sender when there are several
const ROUNDS = int('BENCH_ROUNDS', 1);
// miaw-sim keeps the last 1000 messages per phone: a run's messages to one phone must fit
if (Math.max(MSGS_1, MSGS_PER) > 900) throw new Error('BENCH_MSGS_1 and BENCH_MSGS_PER_SENDER must stay under 900 (miaw-sim keeps 1000 messages per phone)');
const RUN_TIMEOUT_S = int('BENCH_RUN_TIMEOUT', 180);
// the Baileys process: V8's old-space limit (its default, ~4 GB here, was reached pairing 200
// sockets beside 10,000 miaw instances) and a bound on its pairing, after which the run goes on
// with the sockets that opened
const B_HEAP_MB = int('BENCH_BAILEYS_HEAP_MB', 8192);
const B_PAIR_TIMEOUT_S = int('BENCH_BAILEYS_PAIR_TIMEOUT', 300);
const HPS = env.MIAW_WA_HANDSHAKES_PER_SEC || '200';
const SIM_BIN = env.BENCH_SIM_BIN || join(BUILD, 'miaw-sim');
// BENCH_TLS=1: both sides reach the simulator over wss:// (as WhatsApp is reached), trusting
// its CA (miaw: WA_CA_FILE; Node: NODE_EXTRA_CA_CERTS); the default is plain ws://
const TLS = env.BENCH_TLS === '1';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const log = (...a) => console.error('[bench/messages]', ...a);
const phone = (kind, i) => `1550${kind}${String(i).padStart(6, '0')}`; // 1 miaw, 2 its peers, 3 Baileys, 4 its peers
const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const mib = (k) => (k / 1024).toFixed(1);
// CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat
const cpuS = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100; };

// ---------------------------------------------------------------- processes
const children = [];
const tmp = mkdtempSync(join(tmpdir(), 'miaw-bench-msg-'));
let cleaned = false;
function cleanupSync() {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) if (c.exitCode === null && c.signalCode === null) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
  if (!env.BENCH_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
}
async function stopAll() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  const end = Date.now() + 5000;
  while (Date.now() < end && children.some((c) => c.exitCode === null && c.signalCode === null)) await sleep(50);
  cleanupSync();
}
process.on('exit', cleanupSync);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => { cleanupSync(); process.exit(130); });

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

async function json(method, url, body, headers = {}) {
  const r = await fetch(url, {
    method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let j = null;
  try { j = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json: j, text };
}

async function startSim() {
  const logf = openSync(join(tmp, 'sim.log'), 'a');
  const proc = spawn(SIM_BIN, ['--listen', '127.0.0.1:0', '--log-level', env.BENCH_SIM_LOG_LEVEL || 'warn'],
    { stdio: ['ignore', 'pipe', logf] });
  children.push(proc);
  const line = await Promise.race([
    new Promise((res, rej) => { createInterface({ input: proc.stdout }).once('line', res); proc.once('exit', () => rej(new Error('miaw-sim exited at start; see its log'))); }),
    sleep(10000).then(() => { throw new Error('miaw-sim did not start within 10 s'); }),
  ]);
  const info = JSON.parse(line);
  const base = `http://127.0.0.1:${info.port}`;
  let caFile = null;
  if (TLS) {
    caFile = join(tmp, 'sim-ca.pem');
    writeFileSync(caFile, await (await fetch(`${base}/sim/media-ca`)).text());
  }
  return { proc, info, caFile, url: TLS ? info.wss : info.ws, api: (m, p, b) => json(m, base + p, b) };
}

// the timed sends go through node:http with keep-alive (lighter on the driver's CPU than fetch)
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
function post(port, path, key, body) {
  return new Promise((res) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', agent,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': data.length } }, (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', (e) => res({ status: 0, text: String(e) }));
    req.end(data);
  });
}

async function startMiaw(sim) {
  const port = await freePort();
  const key = 'bench-' + Math.random().toString(36).slice(2);
  const data = join(tmp, 'miaw-data');
  const logPath = env.BENCH_MIAW_LOG || join(tmp, 'miaw.log');
  const logf = openSync(logPath, 'a');
  const proc = spawn(join(BUILD, 'miaw'), ['serve'], {
    stdio: ['ignore', logf, logf],
    env: {
      ...env, API_HOST: '127.0.0.1', API_PORT: String(port), API_KEY: key, SESSION_PATH: data,
      MIAW_PLUGIN_DIR: join(BUILD, 'plugins'), WA_WS_URL: sim.url, WA_ROOT_KEY: sim.info.rootPublicKeyHex,
      ...(sim.caFile ? { WA_CA_FILE: sim.caFile } : {}), MIAW_WA_HANDSHAKES_PER_SEC: HPS, ...(env.BENCH_LOG_LEVEL ? { LOG_LEVEL: env.BENCH_LOG_LEVEL } : {}),
    },
  });
  children.push(proc);
  const base = `http://127.0.0.1:${port}`;
  const end = Date.now() + 15000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error('miaw exited at start; see its log');
    if ((await fetch(base + '/health').catch(() => null))?.status === 200) break;
    if (Date.now() > end) throw new Error('miaw did not answer /health within 15 s');
    await sleep(100);
  }
  return {
    proc, logPath,
    api: (m, p, b) => json(m, base + '/api/v1' + p, b, { authorization: `Bearer ${key}` }),
    post: (p, b) => post(port, '/api/v1' + p, key, b),
  };
}

function startBaileys(sim) {
  const proc = fork(join(here, 'baileys-peer.mjs'), [sim.url, sim.info.rootPublicKeyHex, join(tmp, 'baileys-auth')],
    { execArgv: ['--expose-gc', `--max-old-space-size=${B_HEAP_MB}`], stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...env, ...(sim.caFile ? { NODE_EXTRA_CA_CERTS: sim.caFile } : {}) } });
  children.push(proc);
  let rid = 0;
  const pending = new Map();
  // peer.dead: how the process ended when it did; from then on every call fails at once and
  // the bench goes on measuring miaw (a dead peer is reported, never taken for a result)
  const peer = { proc, onQr: null, dead: null };
  proc.on('message', (m) => {
    if (m.ev === 'qr') peer.onQr?.(m.idx, m.qr);
    else if (m.ev === 'ready') peer.readyRes?.();
    else if (m.rid && pending.has(m.rid)) { pending.get(m.rid)(m); pending.delete(m.rid); }
  });
  proc.on('exit', (c, sig) => {
    peer.dead = `exited with code ${c}, signal ${sig}`;
    log(`the Baileys process ${peer.dead}`);
    for (const r of pending.values()) r({ ok: false, error: `Baileys process ${peer.dead}` });
    pending.clear();
  });
  proc.on('error', (e) => { log(`the Baileys process: ${e.message}`); });
  peer.ready = new Promise((r) => { peer.readyRes = r; });
  peer.call = (cmd, extra = {}) => new Promise((res, rej) => {
    const id = ++rid;
    if (peer.dead || !proc.connected) { rej(new Error(`Baileys process ${peer.dead || 'disconnected'}`)); return; }
    pending.set(id, (m) => (m.ok ? res(m) : rej(new Error(m.error))));
    proc.send({ ...extra, cmd, rid: id }, (e) => { if (e && pending.delete(id)) rej(e); });
  });
  return peer;
}

// runs fn(i) for i in [0, n) with at most conc at once; collects errors
async function pool(n, conc, fn) {
  let next = 0;
  const errors = [];
  await Promise.all(Array.from({ length: Math.min(conc, n) }, async () => {
    while (next < n) { const i = next++; try { await fn(i); } catch (e) { errors.push({ i, e }); } }
  }));
  return errors;
}

// ---------------------------------------------------------------- pairing
async function pairMiaw(srv, sim, n) {
  const t0 = now();
  const c0 = { miaw: cpuS(srv.proc.pid), sim: cpuS(sim.proc.pid) };
  const errs = await pool(n, PAIR_CONC, async (i) => {
    const id = `m${i}`;
    let r = await srv.api('POST', '/instances', { instanceId: id });
    if (r.status !== 201) throw new Error(`create ${id}: ${r.status} ${r.text}`);
    r = await srv.api('POST', `/instances/${id}/connect`);
    if (r.status !== 200) throw new Error(`connect ${id}: ${r.status} ${r.text}`);
    const end = Date.now() + 120000;
    let st;
    do {
      await sleep(200);
      st = (await srv.api('GET', `/instances/${id}/status`)).json?.data?.status;
      if (Date.now() > end) throw new Error(`${id}: no QR within 120 s (status ${st})`);
    } while (st !== 'qr');
    const qr = (await srv.api('GET', `/instances/${id}/qr`)).json?.data?.qr;
    const s = await sim.api('POST', `/sim/accounts/${phone(1, i)}/scan`, { qr });
    if (s.status !== 200) throw new Error(`scan ${id}: ${s.status} ${s.text}`);
  });
  const scannedS = (now() - t0) / 1000;
  // every scanned instance logs in after the 515 restart: wait for connected (the counts
  // from /health; one status call per instance only at the end)
  const end = Date.now() + CONNECT_TIMEOUT_S * 1000;
  for (;;) {
    const h = (await srv.api('GET', '/health')).json?.data?.instances || {};
    if ((h.connected || 0) + errs.length >= n || Date.now() > end) break;
    await sleep(500);
  }
  const totalS = (now() - t0) / 1000;
  const cpu = { miaw: cpuS(srv.proc.pid) - c0.miaw, sim: cpuS(sim.proc.pid) - c0.sim };
  const states = {};
  const notConnected = [];
  await pool(n, 32, async (i) => {
    const s = (await srv.api('GET', `/instances/m${i}/status`)).json?.data?.status || 'unknown';
    states[s] = (states[s] || 0) + 1;
    if (s !== 'connected' && notConnected.length < 5) notConnected.push(`m${i}: ${s}`);
  });
  return { errs, states, scannedS, totalS, cpu, notConnected };
}

async function pairBaileys(peer, sim, m) {
  const t0 = now();
  peer.onQr = async (idx, qr) => {
    const s = await sim.api('POST', `/sim/accounts/${phone(3, idx)}/scan`, { qr });
    if (s.status !== 200) log(`Baileys socket ${idx}: scan answered ${s.status} ${s.text}`);
  };
  const deadline = Date.now() + B_PAIR_TIMEOUT_S * 1000;
  let started = 0;
  const errs = await Promise.race([
    pool(m, PAIR_CONC, (i) => {
      if (Date.now() > deadline || peer.dead) throw new Error(`socket ${i}: not started (${peer.dead ? `Baileys process ${peer.dead}` : `after ${B_PAIR_TIMEOUT_S} s`})`);
      started++;
      return peer.call('pair', { idx: i });
    }),
    // pairings still running at the deadline are left to finish or fail on their own
    sleep(B_PAIR_TIMEOUT_S * 1000 + 60000).then(() => [{ i: -1, e: new Error(`pairing still running ${B_PAIR_TIMEOUT_S + 60} s after the start`) }]),
  ]);
  const c = await peer.call('count').catch(() => ({ open: 0, openIdx: [] }));
  bOpen = c.openIdx;
  const open = c.open;
  return { errs, open, started, totalS: (now() - t0) / 1000 };
}

// ---------------------------------------------------------------- messages
// waits until every peer phone has decrypted `expected` messages whose text starts with
// its tag; phones are checked one at a time (a cheap poll: the clock's error is one poll)
async function waitDecrypted(sim, peers, deadline) {
  let done = 0, failed = 0;
  for (const p of peers) {
    for (;;) {
      const r = await sim.api('GET', `/sim/accounts/${p.phone}/messages`);
      const mine = (r.json?.messages || []).filter((x) => typeof x.text === 'string' && x.text.startsWith(p.tag));
      if (mine.length >= p.expected) { done += p.expected; break; }
      if (now() > deadline) { // undecryptable entries carry an error and no text
        failed += (r.json?.messages || []).filter((x) => x.error).length;
        return { complete: false, done, failed };
      }
      await sleep(10);
    }
  }
  return { complete: true, done, failed };
}

function plan(side, k, round, kindPeer) {
  const per = k === 1 ? MSGS_1 : MSGS_PER;
  const inflight = k === 1 ? INFLIGHT_1 : INFLIGHT_PER;
  const jobs = [];
  const senders = side === 'b' ? bSendersOpen(k) : k;
  for (let i = 0; i < senders; i++) {
    const tag = `${side}${k}r${round}i${i} `;
    jobs.push({ idx: side === 'b' ? bSock(i) : i, to: phone(kindPeer, i), tag, texts: Array.from({ length: per }, (_, n) => `${tag}${n}`) });
  }
  return { jobs, inflight, total: per * senders, senders };
}

async function sendMiaw(srv, jobs, inflight) {
  let errors = 0, firstError = null;
  await Promise.all(jobs.map(async (j) => {
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(inflight, j.texts.length) }, async () => {
      while (next < j.texts.length) {
        const text = j.texts[next++];
        const r = await srv.post(`/instances/m${j.idx}/messages/text`, { to: j.to, text });
        if (r.status !== 200) { errors++; firstError ??= `${r.status} ${r.text}`; }
      }
    }));
  }));
  return { errors, firstError };
}

async function timedRun(side, k, round, srv, peer, sim) {
  const { jobs, inflight, total, senders } = plan(side === 'miaw' ? 'm' : 'b', k, round, side === 'miaw' ? 2 : 4);
  const peers = jobs.map((j) => ({ phone: j.to, tag: j.tag, expected: j.texts.length }));
  const client = side === 'miaw' ? srv.proc.pid : peer.proc.pid;
  const cpuOr = (pid) => { try { return cpuS(pid); } catch { return NaN; } }; // NaN: the process is gone
  const c0 = cpuOr(client), s0 = cpuS(sim.proc.pid), d0 = process.cpuUsage();
  const t0 = now();
  const sending = side === 'miaw' ? sendMiaw(srv, jobs, inflight) : peer.call('send', { jobs, inflight }).catch((e) => ({ errors: total, firstError: e.message }));
  const deadline = t0 + RUN_TIMEOUT_S * 1000;
  const seen = await waitDecrypted(sim, peers, deadline);
  const ms = now() - t0;
  const d = process.cpuUsage(d0);
  const cpu = { client: cpuOr(client) - c0, sim: cpuS(sim.proc.pid) - s0, driver: (d.user + d.system) / 1e6 };
  const s = await sending;
  return { side, k, senders, round, total, inflight: inflight * senders, ms, cpu, rate: seen.complete ? total / (ms / 1000) : 0, ...seen, sendErrors: s.errors, firstError: s.firstError };
}

// ---------------------------------------------------------------- main
async function main() {
  for (const f of ['miaw', 'miaw-sim']) if (!existsSync(join(BUILD, f))) throw new Error(`missing ${join(BUILD, f)} (build it first)`);
  if (!existsSync(resolve(ROOT, 'tests/interop/node_modules/@whiskeysockets/baileys'))) throw new Error('missing tests/interop/node_modules (cd tests/interop && npm install)');
  const out = [];
  const say = (s = '') => { out.push(s); console.log(s); };
  say(`bench/messages: miaw and Baileys 7.0.0-rc14 through one miaw-sim, loopback, ${cpus().length} CPUs`);
  say(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}; file descriptors: ${env.BENCH_NOFILE || '?'}`);
  say(`transport to the simulator: ${TLS ? 'wss:// (TLS 1.3, the simulator CA trusted)' : 'ws:// (plain; BENCH_TLS=1 for wss://)'}`);
  say(`paired: ${N} miaw instances, ${M} Baileys sockets (one simulated account each; Baileys auth state: ${env.BENCH_BAILEYS_AUTH || 'files'}); MIAW_WA_HANDSHAKES_PER_SEC=${HPS}; idle ${IDLE_S}s before reading RSS`);

  const sim = await startSim();
  let srv = await startMiaw(sim);
  const peer = startBaileys(sim);
  await Promise.race([peer.ready, sleep(30000).then(() => { throw new Error('Baileys process did not start'); })]);

  // simulated accounts: senders and their peers
  const mk = async (p) => { const r = await sim.api('POST', '/sim/accounts', { phone: p }); if (r.status !== 201) throw new Error(`sim account ${p}: ${r.status} ${r.text}`); };
  await pool(N, 16, (i) => mk(phone(1, i)));
  await pool(M, 16, (i) => mk(phone(3, i)));
  await pool(maxSize, 16, (i) => Promise.all([mk(phone(2, i)), mk(phone(4, i))]));

  // baselines: nothing paired yet (miaw with its plugins loaded; Node with Baileys imported)
  await sleep(1000);
  await peer.call('gc');
  const base = { miaw: rssKiB(srv.proc.pid), baileys: rssKiB(peer.proc.pid), sim: rssKiB(sim.proc.pid) };
  const mibOr = (k) => (Number.isFinite(k) ? mib(k) : 'dead');

  log(`pairing ${N} miaw instances…`);
  const pm = await pairMiaw(srv, sim, N);
  log(`miaw: ${JSON.stringify(pm.states)} after ${pm.totalS.toFixed(1)} s, ${pm.errs.length} pairing errors`);
  for (const e of pm.errs.slice(0, 5)) log('  ', String(e.e.message || e.e));
  for (const x of pm.notConnected) log('   not connected:', x);
  say(`pairing ${N} miaw instances (${PAIR_CONC} at once, QR scanned through the simulator): ${pm.totalS.toFixed(1)} s = ` +
    `${(N / pm.totalS).toFixed(1)} instances/s; CPU per pairing: miaw ${(pm.cpu.miaw * 1000 / N).toFixed(1)} ms, ` +
    `miaw-sim ${(pm.cpu.sim * 1000 / N).toFixed(1)} ms; states ${JSON.stringify(pm.states)}, ${pm.errs.length} errors`);
  log(`pairing ${M} Baileys sockets…`);
  const pb = await pairBaileys(peer, sim, M);
  log(`Baileys: ${pb.open} open after ${pb.totalS.toFixed(1)} s, ${pb.errs.length} pairing errors`);
  for (const e of pb.errs.slice(0, 5)) log('  ', String(e.e.message || e.e));
  say(`pairing ${M} Baileys sockets (${PAIR_CONC} at once, at most ${B_PAIR_TIMEOUT_S} s, V8 old space ${B_HEAP_MB} MB): ${pb.open} open after ${pb.totalS.toFixed(1)} s` +
    ` (${pb.started} started, ${pb.errs.length} errors)${peer.dead ? `; the Baileys process ${peer.dead}` : ''}`);
  const bRss = () => (peer.dead ? NaN : rssKiB(peer.proc.pid));

  if (PARTS.includes('rss')) {
    log(`idle ${IDLE_S} s…`);
    await sleep(IDLE_S * 1000);
    await peer.call('gc').catch(() => {});
    const after = { miaw: rssKiB(srv.proc.pid), baileys: bRss(), sim: rssKiB(sim.proc.pid) };
    const connected = pm.states.connected || 0;
    // recount: still connected after the idle time?
    let still = 0;
    await pool(N, 32, async (i) => { if ((await srv.api('GET', `/instances/m${i}/status`)).json?.data?.status === 'connected') still++; });
    const open = (await peer.call('count').catch(() => ({ open: 0 }))).open;
    const perM = still ? (after.miaw - base.miaw) / still : NaN;
    const perB = open ? (after.baileys - base.baileys) / open : NaN;
    say();
    say('RSS per connected idle instance (VmRSS delta / connected; Node: after a forced GC, before and after)');
    say(`${'target'.padEnd(8)} ${'connected'.padStart(11)} ${'before MiB'.padStart(11)} ${'after MiB'.padStart(10)} ${'per instance KiB'.padStart(17)}`);
    say(`${'miaw'.padEnd(8)} ${`${still}/${N}`.padStart(11)} ${mib(base.miaw).padStart(11)} ${mib(after.miaw).padStart(10)} ${perM.toFixed(1).padStart(17)}`);
    say(`${'Baileys'.padEnd(8)} ${`${open}/${M}`.padStart(11)} ${mib(base.baileys).padStart(11)} ${mibOr(after.baileys).padStart(10)} ${perB.toFixed(1).padStart(17)}`);
    say(`${'ratio'.padEnd(8)} ${''.padStart(11)} ${''.padStart(11)} ${''.padStart(10)} ${(perM / perB).toFixed(3).padStart(16)}x  (miaw/Baileys per instance)`);
    if (peer.dead) say(`NOTE: the Baileys process ${peer.dead}: no Baileys figure`);
    say(`(miaw-sim: ${mib(base.sim)} -> ${mib(after.sim)} MiB for ${N + M} linked devices; pairing took ${pm.totalS.toFixed(0)} s for miaw, ${pb.totalS.toFixed(0)} s for Baileys)`);
    // where miaw's memory goes: SIGUSR1 makes it log one line (heap, OpenSSL, SQLite, per instance)
    process.kill(srv.proc.pid, 'SIGUSR1');
    let memLine = null;
    for (let i = 0; i < 50 && !memLine; i++) {
      await sleep(100);
      memLine = readFileSync(srv.logPath, 'utf8').split('\n').filter((l) => l.includes('[server] memory: ')).pop();
    }
    say(`miaw breakdown: ${memLine ? memLine.replace(/^.*\[server\] memory: /, '') : 'no memory line in the log'}`);
    let trimLine = null;
    for (let i = 0; i < 50 && !trimLine; i++) {
      await sleep(100);
      trimLine = readFileSync(srv.logPath, 'utf8').split('\n').filter((l) => l.includes('[server] memory after malloc_trim')).pop();
    }
    if (trimLine) {
      say(`miaw ${trimLine.replace(/^.*\[server\] memory after /, 'after ')}`);
      const rssAfter = rssKiB(srv.proc.pid);
      say(`  per connected idle instance after malloc_trim: ${((rssAfter - base.miaw) / still).toFixed(1)} KiB (VmRSS ${mib(rssAfter)} MiB)`);
    }
    if (still < N) say(`NOTE: only ${still} of ${N} miaw instances connected; states after pairing: ${JSON.stringify(pm.states)}; see the log above`);
  }

  if (PARTS.includes('restart')) {
    // a restart of miaw serve with every instance paired: how long until all are back
    // (the handshakes are paced by MIAW_WA_HANDSHAKES_PER_SEC), and miaw's CPU per handshake
    const health = async (s) => (await s.api('GET', '/health')).json?.data?.instances || {};
    const target = (await health(srv)).connected || 0;
    log(`restart: stopping miaw with ${target} connected…`);
    srv.proc.kill('SIGTERM');
    for (let i = 0; i < 600 && srv.proc.exitCode === null && srv.proc.signalCode === null; i++) await sleep(50);
    const t0 = now();
    srv = await startMiaw(sim);
    const upS = (now() - t0) / 1000;
    const end = Date.now() + CONNECT_TIMEOUT_S * 1000;
    let h = {};
    while (Date.now() < end) {
      h = await health(srv);
      if ((h.connected || 0) >= target) break;
      await sleep(250);
    }
    const backS = (now() - t0) / 1000;
    const cpu = cpuS(srv.proc.pid);
    say();
    say(`restart of miaw serve with ${target} connected instances (${TLS ? 'wss' : 'ws'}, MIAW_WA_HANDSHAKES_PER_SEC=${HPS}):`);
    say(`  answering /health after ${upS.toFixed(2)} s; ${h.connected || 0}/${target} connected after ${backS.toFixed(1)} s` +
      ` (${((h.connected || 0) / backS).toFixed(0)} instances/s); CPU ${cpu.toFixed(2)} s = ${(cpu * 1000 / Math.max(1, h.connected || 0)).toFixed(2)} ms per reconnected instance; RSS ${mib(rssKiB(srv.proc.pid))} MiB`);
    if ((h.connected || 0) < target) say(`NOTE: only ${h.connected || 0} of ${target} back within ${CONNECT_TIMEOUT_S} s: ${JSON.stringify(h)}`);
  }

  let failed = false;
  if (PARTS.includes('msgs')) {
    // the send route and the simulator's message list must exist
    const probe = await srv.api('POST', '/instances/m0/messages/text', {});
    const simProbe = await sim.api('GET', `/sim/accounts/${phone(2, 0)}/messages`);
    if (probe.status !== 400 || simProbe.status !== 200) {
      say();
      say(`messages/s: NOT MEASURED - POST /api/v1/instances/{id}/messages/text answered ${probe.status} (400 expected for an empty body)` +
        ` and GET /sim/accounts/{phone}/messages ${simProbe.status} (200 expected); one of them is missing in this build`);
      await peer.call('exit').catch(() => {});
      await stopAll();
      return 3;
    }
    // warm-up: one message per sender and peer (usync, pre-key fetch, pkmsg), waited for
    log('warm-up: one message per sender…');
    // Baileys off: its process died or its warm-up failed; miaw's rows are still measured
    let baileysOff = peer.dead ? `the Baileys process ${peer.dead}` : null;
    for (const side of ['miaw', 'baileys']) {
      if (side === 'baileys' && baileysOff) break;
      const k = side === 'miaw' ? maxSize : bSendersOpen(maxSize);
      const jobs = Array.from({ length: k }, (_, i) => ({ idx: side === 'miaw' ? i : bSock(i), to: phone(side === 'miaw' ? 2 : 4, i), tag: `${side[0]}w${i} `, texts: [`${side[0]}w${i} 0`] }));
      const s = side === 'miaw' ? await sendMiaw(srv, jobs, 1) : await peer.call('send', { jobs, inflight: 1 }).catch((e) => ({ errors: k, firstError: e.message }));
      const w = await waitDecrypted(sim, jobs.map((j) => ({ phone: j.to, tag: j.tag, expected: 1 })), now() + 120000);
      const why = `warm-up (${side}): ${w.done} of ${k} decrypted, ${s.errors} send errors (${s.firstError})`;
      if (!w.complete && side === 'miaw') throw new Error(why);
      if (!w.complete) baileysOff = peer.dead ? `the Baileys process ${peer.dead}` : why;
    }
    if (baileysOff) { failed = true; log(`Baileys not measured: ${baileysOff}`); }
    const runs = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const k of SIZES) {
        for (const side of round % 2 ? ['miaw', 'baileys'] : ['baileys', 'miaw']) {
          if (side === 'baileys' && (baileysOff ||= peer.dead && `the Baileys process ${peer.dead}`)) continue;
          log(`run: ${side}, ${k} sender(s), round ${round}…`);
          const r = await timedRun(side, k, round, srv, peer, sim);
          log(`  ${r.done}/${r.total} decrypted in ${(r.ms / 1000).toFixed(2)} s, ${r.sendErrors} send errors${r.firstError ? ` (${r.firstError})` : ''}` +
            `${r.complete ? '' : `; timed out, ${r.failed} undecryptable at the phone that was waited for`}`);
          runs.push(r);
          if (!r.complete) failed = true;
        }
      }
    }
    say();
    say('end-to-end text messages/s (REST call / sendMessage -> encrypted -> miaw-sim -> decrypted by the recipient\'s simulated phone);');
    say('CPU s: CPU time of miaw serve / of the Baileys process during the run (CPU ms/msg: the same per message); sim CPU s: of miaw-sim;');
    say('driver CPU s: of this script (HTTP calls to miaw, or commands to the Baileys process, and polling the phones)');
    if (bOpen && bOpen.length < bSenders(maxSize)) say(`(only ${bOpen.length} Baileys sockets were open after pairing: Baileys runs that many senders)`);
    if (B_CAP && maxSize > B_CAP) say(`(Baileys runs at most ${B_CAP} senders, BENCH_BAILEYS_MAX_SENDERS: its row shows its own sender count)`);
    say(`${'senders'.padStart(7)} ${'target'.padEnd(8)} ${'messages'.padStart(8)} ${'in flight'.padStart(9)} ${'seconds'.padStart(8)} ${'msg/s'.padStart(8)} ${'CPU s'.padStart(6)} ${'sim CPU s'.padStart(9)} ${'CPU ms/msg'.padStart(10)} ${'driver CPU s'.padStart(12)}`);
    const med = (a) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[(s.length - 1) >> 1] : NaN; };
    for (const k of SIZES) {
      const mine = (side) => runs.filter((r) => r.k === k && r.side === side);
      for (const side of ['miaw', 'baileys']) {
        const rs = mine(side);
        const r = rs.sort((a, b) => a.rate - b.rate)[(rs.length - 1) >> 1];
        const label = side === 'miaw' ? 'miaw' : 'Baileys';
        if (!r) { say(`${'-'.padStart(7)} ${label.padEnd(8)} not measured: ${baileysOff}`); continue; }
        say(`${String(r.senders).padStart(7)} ${label.padEnd(8)} ${String(r.total).padStart(8)} ${String(r.inflight).padStart(9)} ${(r.ms / 1000).toFixed(2).padStart(8)} ${r.complete ? r.rate.toFixed(1).padStart(8) : `${r.done}/${r.total} only`.padStart(8)} ${r.cpu.client.toFixed(2).padStart(6)} ${r.cpu.sim.toFixed(2).padStart(9)} ${(r.cpu.client * 1000 / r.total).toFixed(2).padStart(10)} ${r.cpu.driver.toFixed(2).padStart(12)}`);
      }
      const ratios = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const a = runs.find((r) => r.k === k && r.side === 'miaw' && r.round === round);
        const b = runs.find((r) => r.k === k && r.side === 'baileys' && r.round === round);
        if (a?.rate && b?.rate) ratios.push(a.rate / b.rate);
      }
      say(`${String(k).padStart(7)} ${'ratio'.padEnd(8)} ${''.padStart(8)} ${''.padStart(9)} ${''.padStart(8)} ${(med(ratios).toFixed(2) + 'x').padStart(8)}  (miaw/Baileys${ROUNDS > 1 ? ', median of per-round ratios' : ''})`);
    }
    if (ROUNDS > 1) {
      say('every run (target senders round msg/s):');
      for (const r of runs) say(`  ${r.side} ${r.k} ${r.round} ${r.rate.toFixed(1)} (CPU ${r.cpu.client.toFixed(2)} s, sim ${r.cpu.sim.toFixed(2)} s, driver ${r.cpu.driver.toFixed(2)} s)`);
    }
  }
  say(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  await peer.call('exit').catch(() => {});
  await stopAll();
  return failed ? 1 : 0;
}

// on failure: how each child ended and the end of the logs, before the temp dir goes
function postMortem() {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) console.error(`[bench/messages] ${c.spawnfile} ${c.spawnargs.slice(1, 2).join(' ')} exited: code ${c.exitCode}, signal ${c.signalCode}`);
  }
  for (const f of ['miaw.log', 'sim.log']) {
    try {
      const lines = readFileSync(join(tmp, f), 'utf8').trimEnd().split('\n').slice(-15);
      console.error(`[bench/messages] last lines of ${f}:\n  ${lines.join('\n  ')}`);
    } catch { /* no such log */ }
  }
}

main().then((code) => process.exit(code), (e) => { console.error('bench/messages failed:', e?.stack || e); postMortem(); cleanupSync(); process.exit(1); });
