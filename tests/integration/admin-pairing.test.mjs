// tests/integration/admin-pairing.test.mjs - an admin worker that really works: `miaw
// admin` creates a worker (private supervisord) whose config points at miaw-sim; the
// worker is healthy only with every enabled plugin loaded (its /health lists them); an
// instance on it is paired by QR through a simulated phone and sends a text that the
// recipient's phone decrypts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  api, freePort, httpGet, rememberPid, startAdmin, startSupervisord, stopAll, tmpDir, waitFor,
} from './admin/harness.mjs';
import { pairByQr, simEnv, startSim } from './lib/sim.mjs';

const TOKEN = 'pairing-admin-token-' + 'z'.repeat(24);
const ME = '15550001001';
const BOB = '15550001002';
const PLUGINS = ['messages', 'groups', 'contacts', 'profile', 'presence', 'business'];

describe('miaw admin worker paired through the simulator', () => {
  let dir, simDir, sim, sv, admin, port, key;

  before(async () => {
    dir = tmpDir('miaw-admin-pair-');
    simDir = tmpDir('miaw-admin-sim-');
    sim = await startSim({ stateDir: simDir });
    sv = await startSupervisord(dir);
    // operator settings every worker gets: the WhatsApp endpoint, its root key, the
    // plugin list; the plugin directory is found next to the worker binary
    admin = await startAdmin({ sv, dir, token: TOKEN, env: { ...simEnv(sim), MIAW_PLUGINS: PLUGINS.join(',') } });
    port = await freePort();
  });

  after(async () => {
    await stopAll();
    if (sim) await sim.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(simDir, { recursive: true, force: true });
  });

  it('creates a healthy worker with every enabled plugin loaded', async () => {
    const r = await api(admin, 'POST', '/admin/instances', { port, os: 'AdminWorker' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    rememberPid(r.body.data.pid);
    assert.equal(r.body.data.healthy, true, JSON.stringify(r.body.data));
    key = r.body.data.api_key;
    const h = await httpGet(`http://127.0.0.1:${port}/health`);
    assert.equal(h.status, 200);
    assert.deepEqual(h.body.data.plugins.map((p) => p.name).sort(), [...PLUGINS].sort());
    const cfg = await httpGet(`http://127.0.0.1:${port}/api/v1/config`, { authorization: `Bearer ${key}` });
    assert.equal(cfg.status, 200);
    assert.equal(cfg.body.data.deviceName, 'AdminWorker');
  });

  it('reports a worker missing a plugin of its worker config as not healthy, naming it', async () => {
    const d2 = tmpDir('miaw-admin-pair2-');
    // operator settings from a worker config file this time (MIAW_WORKER_CONFIG)
    const wc = path.join(d2, 'worker-base.yaml');
    fs.writeFileSync(wc, 'plugins:\n  enabled: [messages, nosuchplugin]\n');
    const a2 = await startAdmin({ sv, dir: d2, token: TOKEN, env: { ...simEnv(sim), MIAW_WORKER_CONFIG: wc } });
    const p2 = await freePort();
    const r = await api(a2, 'POST', '/admin/instances', { port: p2 });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    rememberPid(r.body.data.pid);
    assert.equal(r.body.data.healthy, false);
    assert.match(r.body.data.health_problem, /plugin nosuchplugin is not loaded/);
    assert.equal((await api(a2, 'DELETE', `/admin/instances/${p2}`)).status, 200);
    fs.rmSync(d2, { recursive: true, force: true });
  });

  it('pairs an instance by QR and sends a text the recipient decrypts', { timeout: 90000 }, async () => {
    const base = `http://127.0.0.1:${port}`;
    const worker = {
      async api(method, p, body) {
        const res = await fetch(base + p, {
          method, signal: AbortSignal.timeout(30000),
          headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
        const text = await res.text();
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        return { status: res.status, json, text };
      },
    };
    assert.equal((await worker.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201);
    assert.equal((await sim.api('POST', '/sim/accounts', { phone: BOB, name: 'Bob' })).status, 201);
    const { deviceJid } = await pairByQr(worker, sim, 'bot', ME, { name: 'Me', timeoutMs: 30000 });
    assert.match(deviceJid, new RegExp(`^${ME}:\\d+@`));
    const sent = await waitFor(async () => {
      const s = await worker.api('POST', '/api/v1/instances/bot/messages/text', { to: BOB, text: 'hello from an admin worker' });
      return s.status === 200 && s;
    }, { ms: 30000, every: 500, what: 'send through the worker' });
    const id = sent.json.data.messageId;
    await waitFor(async () => (await sim.api('GET', `/sim/accounts/${BOB}/messages`)).json.messages
      .some((m) => m.id === id && m.text === 'hello from an admin worker'), { ms: 20000, what: 'Bob decrypted it' });
  });
});
