// bench/messages/ab.mjs - end-to-end text messages/s of two builds of miaw in the same run:
// one miaw-sim, two `miaw serve` (build A and build B, each with its own data dir and
// port), one paired instance each writing to a simulated phone of its own; rounds
// alternate A and B so machine noise hits both alike. The clock runs from the first REST
// call until the phone shows every message decrypted. Prints each round, the medians and
// B/A. For "did this change cost throughput": A = the build before, B = after.
//   node bench/messages/ab.mjs BUILD_A BUILD_B     (the simulator comes from BUILD_B)
// Env: AB_ROUNDS (5), AB_MSGS (600, < 900), AB_INFLIGHT (8).
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startServer, tempDir, waitFor, sleep } from '../../tests/integration/lib/harness.mjs';
import { startSim, simEnv, pairByQr } from '../../tests/integration/lib/sim.mjs';

const [A, B] = process.argv.slice(2).map((p) => resolve(p));
if (!A || !B) { console.error('usage: node bench/messages/ab.mjs BUILD_A BUILD_B'); process.exit(2); }
const ROUNDS = Number(process.env.AB_ROUNDS || 5);
const MSGS = Number(process.env.AB_MSGS || 600);
const INFLIGHT = Number(process.env.AB_INFLIGHT || 8);
if (MSGS >= 900) throw new Error('AB_MSGS must stay under 900 (the simulator keeps 1000 messages per phone)');

const cpuS = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100; };

function post(srv, agent, path, body) {
  return new Promise((res) => {
    const data = JSON.stringify(body);
    const rq = request({ host: '127.0.0.1', port: srv.port, path, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), authorization: `Bearer ${srv.apiKey}` } },
    (r) => { r.resume(); r.on('end', () => res(r.statusCode)); });
    rq.on('error', () => res(0));
    rq.end(data);
  });
}

async function timed(side, sim, tag) {
  const agent = new Agent({ keepAlive: true, maxSockets: INFLIGHT });
  const texts = Array.from({ length: MSGS }, (_, i) => `${tag} ${i}`);
  const cpu0 = cpuS(side.srv.proc.pid);
  const t0 = performance.now();
  let next = 0, errors = 0;
  await Promise.all(Array.from({ length: INFLIGHT }, async () => {
    while (next < texts.length) {
      const text = texts[next++];
      if (await post(side.srv, agent, `/api/v1/instances/${side.id}/messages/text`, { to: side.peer, text }) !== 200) errors++;
    }
  }));
  await waitFor(async () => {
    const m = (await sim.api('GET', `/sim/accounts/${side.peer}/messages`)).json.messages;
    return m.filter((x) => x.text && x.text.startsWith(tag + ' ')).length >= MSGS;
  }, { timeoutMs: 180000, intervalMs: 20, what: `${tag} decrypted` });
  const s = (performance.now() - t0) / 1000;
  agent.destroy();
  return { rate: MSGS / s, s, cpu: cpuS(side.srv.proc.pid) - cpu0, errors };
}

const sim = await startSim();
const sides = [];
try {
  for (const [name, build, me, peer] of [['A', A, '15557000001', '15557000002'], ['B', B, '15557000003', '15557000004']]) {
    const srv = await startServer({ bin: resolve(build, 'miaw'), env: { ...simEnv(sim), MIAW_PLUGIN_DIR: resolve(build, 'plugins'), LOG_LEVEL: 'warn' }, dataDir: tempDir('miaw-ab-') });
    await srv.api('POST', '/api/v1/instances', { instanceId: 'ab' });
    await sim.api('POST', '/sim/accounts', { phone: peer });
    await pairByQr(srv, sim, 'ab', me);
    sides.push({ name, build, srv, id: 'ab', peer });
  }
  await sleep(1000);
  for (const s of sides) { // warm-up: usync, pre-keys, the first pkmsg
    const r = await timed({ ...s }, sim, `warm${s.name}`).catch((e) => { throw new Error(`warm-up ${s.name}: ${e.message}`); });
    if (r.errors) throw new Error(`warm-up ${s.name}: ${r.errors} send errors`);
  }
  const runs = { A: [], B: [] };
  console.log(`bench/messages/ab: ${MSGS} texts, ${INFLIGHT} in flight, ${ROUNDS} rounds; A=${A} B=${B}`);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const s of round % 2 ? sides : [...sides].reverse()) {
      const r = await timed(s, sim, `r${round}${s.name}`);
      runs[s.name].push(r);
      console.log(`round ${round} ${s.name}: ${r.rate.toFixed(1)} msg/s (${r.s.toFixed(2)} s, miaw CPU ${(r.cpu * 1000 / MSGS).toFixed(3)} ms/msg, ${r.errors} errors)`);
    }
  }
  const med = (a) => { const x = [...a].sort((p, q) => p - q); return x[(x.length - 1) >> 1]; };
  const ra = med(runs.A.map((r) => r.rate)), rb = med(runs.B.map((r) => r.rate));
  const ca = med(runs.A.map((r) => r.cpu)) * 1000 / MSGS, cb = med(runs.B.map((r) => r.cpu)) * 1000 / MSGS;
  console.log(`median A ${ra.toFixed(1)} msg/s (${ca.toFixed(3)} CPU ms/msg), B ${rb.toFixed(1)} msg/s (${cb.toFixed(3)} CPU ms/msg), B/A ${(rb / ra).toFixed(3)}x msg/s, ${(cb / ca).toFixed(3)}x CPU`);
} finally {
  for (const s of sides) await s.srv.stop();
  await sim.stop();
}
