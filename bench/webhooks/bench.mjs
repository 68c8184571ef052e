// bench/webhooks/bench.mjs - end-to-end webhook throughput: events accepted by miaw's
// API (POST .../webhook/test {count}, stored in the sqlite outbox before the answer)
// until the local receiver has every distinct event id, beside the minimal in-memory
// Node dispatcher of node-dispatcher.mjs posting the same signed requests to the same
// receiver in the same run. Prints events/s for both and the ratio.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startServer, tempDir } from '../../tests/integration/lib/harness.mjs';
import { startReceiver } from '../../tests/integration/lib/receiver.mjs';

const K = Number(process.env.BENCH_INSTANCES || 8);
const PER = Number(process.env.BENCH_EVENTS_PER_INSTANCE || 2500);
const N = K * PER;
const here = dirname(fileURLToPath(import.meta.url));

async function runMiaw(rcv) {
  const dataDir = tempDir('miaw-bench-wh-');
  const srv = await startServer({ env: { API_WEBHOOK_SECRET: 'bench-secret', LOG_LEVEL: 'warn' }, dataDir, keepData: true });
  try {
    for (let i = 0; i < K; i++) await srv.api('POST', '/api/v1/instances', { instanceId: 'm' + i, webhookUrl: rcv.url });
    const start = rcv.requests.length;
    const t0 = performance.now();
    const posts = [];
    for (let i = 0; i < K; i++) {
      posts.push((async () => {
        for (let left = PER; left > 0; left -= 1000) {
          const r = await srv.api('POST', `/api/v1/instances/m${i}/webhook/test`, { count: Math.min(1000, left) });
          if (r.status !== 202) throw new Error(r.text);
        }
      })());
    }
    await Promise.all(posts);
    const acceptedMs = performance.now() - t0;
    await rcv.waitFor((reqs) => reqs.length - start >= N, 300000, `${N} miaw deliveries`);
    const ms = performance.now() - t0;
    const ids = new Set(rcv.requests.slice(start).map((q) => q.headers['x-miaw-event-id']));
    if (ids.size !== N) throw new Error(`expected ${N} distinct ids, got ${ids.size}`);
    const st = await srv.api('GET', '/api/v1/instances/m0/webhook/status');
    return { ms, acceptedMs, latency: st.json.data.latencyUs };
  } finally {
    await srv.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function runNode(rcv) {
  return new Promise((res, rej) => {
    const start = rcv.requests.length;
    const p = spawn(process.execPath, [join(here, 'node-dispatcher.mjs'), rcv.url, String(K), String(PER)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.on('exit', (code) => {
      if (code !== 0) return rej(new Error('node dispatcher failed'));
      if (rcv.requests.length - start < N) return rej(new Error('node dispatcher delivered too few'));
      res(JSON.parse(out));
    });
  });
}

const rcv = await startReceiver();
rcv.requests.length = 0;
// keep the receiver's memory flat: drop bodies, keep headers for the id count
const push = rcv.requests.push.bind(rcv.requests);
rcv.requests.push = (e) => push({ headers: { 'x-miaw-event-id': e.headers['x-miaw-event-id'] } });
try {
  const m = await runMiaw(rcv);
  const n = await runNode(rcv);
  const mr = N / (m.ms / 1000), nr = N / (n.ms / 1000);
  console.log(`webhooks bench: ${N} events, ${K} instances (one request in flight each), loopback receiver`);
  console.log(`  miaw (sqlite outbox, WAL, durable before the API answers): ${mr.toFixed(0)} events/s end to end ` +
    `(${m.ms.toFixed(0)} ms; all ${N} stored in ${m.acceptedMs.toFixed(0)} ms; HTTP p50 ${m.latency.p50} us, p99 ${m.latency.p99} us)`);
  console.log(`  node minimal dispatcher (in memory, same signing and POSTs): ${nr.toFixed(0)} events/s (${n.ms.toFixed(0)} ms)`);
  console.log(`  ratio miaw / node: ${(mr / nr).toFixed(2)}`);
} finally {
  await rcv.close();
}
