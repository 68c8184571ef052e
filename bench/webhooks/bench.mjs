// bench/webhooks/bench.mjs - webhook delivery, miaw beside a minimal in-memory Node
// dispatcher (node-dispatcher.mjs) in the same run, both posting to the same C receiver
// (bench_webhooks_receiver, its own process, so it is not the bottleneck: its CPU is
// printed). Both take events the same way: POST .../webhook/test {count} (miaw: stored in
// the sqlite outbox and committed before the 202; the peer: queued in memory), one
// request in flight per instance (order), the same cap of requests in flight in all.
// The clock runs from the first POST until the receiver has every event id; the
// receiver also gives the event-to-delivery latency (arrival minus the body's timestamp),
// duplicates and per-instance order violations. Rounds alternate the two sides.
// Then a kill -9 part: miaw killed mid-backlog and restarted on the same data, every
// accepted event must arrive (missing 0), duplicates counted; the Node peer killed at
// the same point, what it lost counted.
// Environment: MIAW_BUILD_DIR (build), BENCH_INSTANCES (8,1000), BENCH_EVENTS (16000 per
// run), BENCH_ROUNDS (3), BENCH_CONNS (64: requests in flight in all, both sides; miaw's
// webhook.concurrency and per_host_concurrency), BENCH_KILL (1), BENCH_PROFILE (0; 1:
// perf record of miaw during the first run of each size, its top symbols printed).
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { BUILD, startServer, tempDir } from '../../tests/integration/lib/harness.mjs';

const SIZES = (process.env.BENCH_INSTANCES || '8,1000').split(',').map(Number);
const EVENTS = Number(process.env.BENCH_EVENTS || 16000);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const CONNS = Number(process.env.BENCH_CONNS || 64);
const KILL = process.env.BENCH_KILL !== '0';
const PROFILE = process.env.BENCH_PROFILE === '1';
const here = dirname(fileURLToPath(import.meta.url));
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TICK = 100; // /proc CPU times are in clock ticks (USER_HZ 100 on Linux)

function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * (1000 / TICK);
  } catch { return NaN; }
}

// ------------------------------------------------------------------ the receiver
function startReceiver() {
  const p = spawn(join(BUILD, 'bench', 'bench_webhooks_receiver'), ['0'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: p.stdout });
  const waiting = [];
  lines.on('line', (l) => { const w = waiting.shift(); if (w) w(l); });
  const next = () => new Promise((r) => waiting.push(r));
  const rcv = {
    proc: p,
    async cmd(c) { const l = next(); p.stdin.write(c + '\n'); return l; },
    async stats() { return JSON.parse(await rcv.cmd('stats')); },
    close() { p.stdin.end(); },
  };
  return next().then((l) => { rcv.port = Number(l.split(' ')[1]); rcv.url = `http://127.0.0.1:${rcv.port}/hook`; return rcv; });
}

// ------------------------------------------------------------------ HTTP to the targets
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
function call(port, key, method, path, body) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((res, rej) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent, headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) } }, (r) => {
      const c = [];
      r.on('data', (d) => c.push(d));
      r.on('end', () => { const t = Buffer.concat(c).toString(); let j = null; try { j = JSON.parse(t); } catch { /* */ } res({ status: r.statusCode, json: j, text: t }); });
    });
    req.on('error', rej);
    req.end(payload);
  });
}

// ------------------------------------------------------------------ the two sides
async function miawTarget(dataDir) {
  const dir = dataDir || tempDir('miaw-bench-wh-');
  const srv = await startServer({ dataDir: dir, keepData: true, env: {
    API_WEBHOOK_SECRET: 'bench-secret', LOG_LEVEL: 'warn', WA_WS_URL: 'ws://127.0.0.1:9/ws',
    WEBHOOK_CONCURRENCY: String(CONNS), WEBHOOK_PER_HOST_CONCURRENCY: String(Math.min(CONNS, 1000)),
    MIAW_WEBHOOK_QUOTA_EVENTS: String(Math.max(100000, EVENTS)) } });
  return { name: 'miaw', port: srv.port, key: srv.apiKey, pid: srv.proc.pid, dataDir: dir,
    kill9: () => srv.kill9(),
    async stop(keep) { await srv.stop(); if (!keep) rmSync(dir, { recursive: true, force: true }); } };
}

async function nodeTarget() {
  const p = spawn(process.execPath, [join(here, 'node-dispatcher.mjs'), String(CONNS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((r) => createInterface({ input: p.stdout }).once('line', r));
  const exited = new Promise((r) => p.on('exit', r));
  return { name: 'node', port: Number(line.split(' ')[1]), key: null, pid: p.pid,
    async kill9() { p.kill('SIGKILL'); await exited; },
    async stop() { p.kill('SIGTERM'); await exited; } };
}

async function createInstances(t, k, url) {
  const ids = Array.from({ length: k }, (_, i) => `${t.name[0]}${i}`);
  for (let i = 0; i < k; i += 16) {
    await Promise.all(ids.slice(i, i + 16).map(async (id) => {
      const r = await call(t.port, t.key, 'POST', '/api/v1/instances', { instanceId: id, webhookUrl: url });
      if (r.status !== 201) throw new Error(`${t.name}: create ${id}: ${r.status} ${r.text}`);
    }));
  }
  return ids;
}

// posts per events to every instance (in calls of at most 1000, in order per instance, 16
// instances at a time); returns the accepted event ids
async function postEvents(t, ids, per) {
  const accepted = [];
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      for (let left = per; left > 0; left -= 1000) {
        const r = await call(t.port, t.key, 'POST', `/api/v1/instances/${id}/webhook/test`, { count: Math.min(1000, left) });
        if (r.status !== 202) throw new Error(`${t.name}: test events for ${id}: ${r.status} ${r.text}`);
        accepted.push(...r.json.data.eventIds);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, ids.length) }, worker));
  return accepted;
}

async function waitDistinct(rcv, n, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await rcv.stats();
    if (s.distinct >= n) return s;
    if (Date.now() > end) throw new Error(`receiver: ${s.distinct} of ${n} ${what}`);
    await sleep(5);
  }
}

function perfStart(pid) {
  const out = join(tmpdir(), `miaw-wh-perf-${process.pid}.data`);
  const p = spawn('perf', ['record', '-g', '-F', '999', '-o', out, '-p', String(pid)], { stdio: 'ignore' });
  return { out, p, stopped: new Promise((r) => p.on('exit', r)) };
}

async function perfReport(prof) {
  prof.p.kill('SIGINT');
  await prof.stopped;
  try {
    const txt = execFileSync('perf', ['report', '-i', prof.out, '--no-children', '--stdio', '--sort', 'dso,symbol',
      '-g', 'none', '--percent-limit', '1.5'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    console.log('  miaw profile (self time, symbols over 1.5%):');
    for (const l of txt.split('\n')) if (/^\s+\d/.test(l)) console.log('   ' + l.trim().replace(/\s+/g, ' '));
  } catch (e) { console.log('  (perf report failed: ' + e.message + ')'); }
  rmSync(prof.out, { force: true });
}

async function run(rcv, side, k, profile) {
  const per = Math.ceil(EVENTS / k), n = per * k;
  const t = side === 'miaw' ? await miawTarget() : await nodeTarget();
  try {
    const ids = await createInstances(t, k, rcv.url);
    await rcv.cmd('reset');
    const prof = profile ? perfStart(t.pid) : null;
    if (prof) await sleep(300);
    const c0 = cpuMs(t.pid), r0 = (await rcv.stats()).cpuMs, d0 = process.cpuUsage();
    const t0 = now();
    const accepted = await postEvents(t, ids, per);
    const acceptedMs = now() - t0;
    const s = await waitDistinct(rcv, n, 300000, `${t.name} deliveries`);
    const ms = s.lastUs / 1000 - t0;
    const d = process.cpuUsage(d0);
    const res = { side, k, n, ms, acceptedMs, rate: n / (ms / 1000), p50: s.p50Ms, p99: s.p99Ms, max: s.maxMs,
      cpu: cpuMs(t.pid) - c0, rcpu: s.cpuMs - r0, dcpu: (d.user + d.system) / 1000, dups: s.dups, order: s.order,
      bad: s.bad, accepted: accepted.length };
    if (prof) await perfReport(prof);
    return res;
  } finally {
    await t.stop();
  }
}

function row(r) {
  const f = (x, w, p = 0) => x.toFixed(p).padStart(w);
  console.log(`${String(r.k).padStart(9)} ${r.side.padEnd(5)} ${String(r.n).padStart(6)} ${f(r.rate, 9)} ${f(r.p50, 6)} ` +
    `${f(r.p99, 6)} ${f(r.acceptedMs, 9)} ${f(r.cpu / 1000, 6, 2)} ${f(r.cpu / r.ms * 100, 4)}% ${f(r.rcpu / 1000, 6, 2)} ` +
    `${f(r.rcpu / r.ms * 100, 4)}% ${f(r.dcpu / 1000, 6, 2)}  ${r.dups}/${r.order}/${r.bad}`);
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor((s.length - 1) / 2)]; };

async function killPart(rcv) {
  const k = 8, per = Math.ceil(EVENTS / k), n = per * k;
  console.log(`\nkill -9 mid-backlog (${k} instances, ${n} events accepted, kill when a third is delivered, restart on the same data)`);
  let t = await miawTarget();
  const dataDir = t.dataDir;
  try {
    const ids = await createInstances(t, k, rcv.url);
    await rcv.cmd('reset');
    const accepted = await postEvents(t, ids, per);
    await waitDistinct(rcv, Math.floor(n / 3), 60000, 'before the kill');
    await t.kill9();
    const atKill = (await rcv.stats()).distinct;
    const t1 = now();
    t = await miawTarget(dataDir);
    const up = now() - t1;
    let s;
    try { s = await waitDistinct(rcv, n, 120000, 'after the restart'); } catch (e) { s = await rcv.stats(); console.log('  ' + e.message); }
    const f = join(tmpdir(), `miaw-wh-ids-${process.pid}.txt`);
    await rcv.cmd('dump ' + f);
    const seen = new Set(readFileSync(f, 'utf8').split('\n').filter(Boolean));
    rmSync(f, { force: true });
    const missing = accepted.filter((id) => !seen.has(id)).length;
    console.log(`  miaw: ${accepted.length} accepted, ${atKill} delivered before the kill, restarted in ${up.toFixed(0)} ms, ` +
      `all in ${(s.lastUs / 1000 - t1).toFixed(0)} ms after; missing ${missing}, duplicates ${s.dups}, ` +
      `order violations ${s.order}${missing ? '  <-- FAIL' : ''}`);
    if (missing) process.exitCode = 1;
  } finally {
    await t.stop();
  }
  const p = await nodeTarget();
  try {
    const ids = await createInstances(p, k, rcv.url);
    await rcv.cmd('reset');
    const accepted = await postEvents(p, ids, per);
    await waitDistinct(rcv, Math.floor(n / 3), 60000, 'before the kill');
    await p.kill9();
    await sleep(200);
    const s = await rcv.stats();
    console.log(`  node: ${accepted.length} accepted, ${s.distinct} delivered before the kill, lost ${accepted.length - s.distinct} (in memory only)`);
  } catch (e) { await p.stop(); throw e; }
}

const rcv = await startReceiver();
try {
  const la0 = loadavg();
  console.log(`webhooks bench: ${EVENTS} events per run, ${ROUNDS} rounds alternating, at most ${CONNS} requests in flight ` +
    `(both sides), one per instance; C receiver on 127.0.0.1:${rcv.port}; load average ${la0.map((x) => x.toFixed(2)).join(' ')}`);
  console.log('instances side  events  events/s p50 ms p99 ms accept ms  CPU s  CPU%  rcv s rcv%  drv s  dup/order/bad');
  const all = [];
  for (const k of SIZES) {
    for (let i = 0; i < ROUNDS; i++) {
      const order = i % 2 ? ['node', 'miaw'] : ['miaw', 'node'];
      for (const side of order) {
        const r = await run(rcv, side, k, PROFILE && i === 0 && side === 'miaw');
        row(r);
        all.push(r);
        if (r.dups || r.order || r.bad) process.exitCode = 1;
      }
    }
  }
  console.log();
  for (const k of SIZES) {
    const m = all.filter((r) => r.k === k && r.side === 'miaw'), p = all.filter((r) => r.k === k && r.side === 'node');
    const per = m.map((r, i) => r.rate / p[i].rate);
    console.log(`ratio miaw/node, ${k} instances: ${median(per).toFixed(2)}x events/s (median of ${per.length} rounds: ` +
      `${per.map((x) => x.toFixed(2)).join(' ')}); miaw ${median(m.map((r) => r.rate)).toFixed(0)} vs node ` +
      `${median(p.map((r) => r.rate)).toFixed(0)} events/s; p99 latency ${median(m.map((r) => r.p99))} vs ` +
      `${median(p.map((r) => r.p99))} ms; CPU per 1000 events ${median(m.map((r) => r.cpu / r.n * 1000)).toFixed(0)} vs ` +
      `${median(p.map((r) => r.cpu / r.n * 1000)).toFixed(0)} ms`);
  }
  if (KILL) await killPart(rcv);
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
} finally {
  rcv.close();
}
