// tests/integration/lib/sim.mjs - miaw-sim for the engine tests: start it on a free port
// (or a given one, to restart on the same address) and read its banner (WebSocket URL,
// certificate root), a small JSON client for its control API, the engine's environment
// pointing at it, and pairing an instance by QR through a simulated phone. Built-in
// modules only. Env: MIAW_SIM_LOG=1 to see the simulator's log.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { BUILD, waitFor, sleep } from './harness.mjs';

const SIM_BIN = join(BUILD, 'miaw-sim');

/**
 * Starts miaw-sim. opts: { stateDir, port (0: any free one) }.
 * Returns { proc, info (the banner: port, ws, rootPublicKeyHex…), api(method, path, body), stop() }.
 */
export async function startSim({ stateDir, port = 0 } = {}) {
  const args = ['--listen', `127.0.0.1:${port}`];
  if (stateDir) args.push('--state-dir', stateDir);
  const proc = spawn(SIM_BIN, args, { stdio: ['ignore', 'pipe', process.env.MIAW_SIM_LOG ? 'inherit' : 'ignore'] });
  const exited = new Promise((r) => proc.on('exit', (c, s) => r(c ?? s)));
  const line = await Promise.race([
    new Promise((res, rej) => {
      createInterface({ input: proc.stdout }).once('line', res);
      proc.once('exit', () => rej(new Error('miaw-sim exited before listening')));
    }),
    sleep(10000).then(() => { throw new Error('miaw-sim did not start'); }),
  ]);
  const info = JSON.parse(line);
  const base = `http://127.0.0.1:${info.port}`;
  return {
    proc, info,
    async api(method, p, body) {
      const r = await fetch(base + p, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
      return { status: r.status, json: await r.json() };
    },
    /** SIGTERM (after SIGCONT, in case a test froze it), SIGKILL after 5 s */
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGCONT');
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** miaw's environment for the simulator: its URL and root key, 40 pre-keys, short backoff; extra adds or overrides */
export function simEnv(sim, extra = {}) {
  return {
    WA_WS_URL: sim.info.ws, WA_ROOT_KEY: sim.info.rootPublicKeyHex,
    MIAW_WA_PREKEYS: '40', MIAW_WA_BACKOFF_MIN_MS: '100', MIAW_WA_BACKOFF_MAX_MS: '400',
    ...extra,
  };
}

/** the webhook bodies of one event type a receiver got */
export const events = (rcv, type) => rcv.requests.map((r) => JSON.parse(r.body)).filter((b) => b.event === type);

/** GET /instances/{id}/status (asserted 200): its data */
export async function status(srv, id) {
  const r = await srv.api('GET', `/api/v1/instances/${id}/status`);
  assert.equal(r.status, 200, r.text);
  return r.json.data;
}

/**
 * Pairs instance `id` (created, not connected) by QR: the simulator's account `phone` is
 * created, the instance connects, the phone scans its QR, the instance is connected.
 * opts: { name (the account's), timeoutMs (each wait, default 15000) }.
 * Returns { qr, deviceJid, lid }.
 */
export async function pairByQr(srv, sim, id, phone, { name, timeoutMs = 15000 } = {}) {
  assert.equal((await sim.api('POST', '/sim/accounts', { phone, name })).status, 201);
  assert.equal((await srv.api('POST', `/api/v1/instances/${id}/connect`)).status, 200);
  await waitFor(async () => (await status(srv, id)).status === 'qr', { what: 'qr', timeoutMs });
  const { qr } = (await srv.api('GET', `/api/v1/instances/${id}/qr`)).json.data;
  const scan = await sim.api('POST', `/sim/accounts/${phone}/scan`, { qr });
  assert.equal(scan.status, 200, JSON.stringify(scan.json));
  await waitFor(async () => (await status(srv, id)).status === 'connected', { what: 'connected', timeoutMs });
  return { qr, deviceJid: scan.json.deviceJid, lid: scan.json.lid };
}
