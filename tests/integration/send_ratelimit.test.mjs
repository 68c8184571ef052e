// tests/integration/send_ratelimit.test.mjs - the per-instance send pace (issue 16):
// rate_limit.send_per_minute and send_min_gap_ms are enforced where every plugin's send
// enters the engine, so text and location (two routes) share one budget per instance;
// a refused send is 429 RATE_LIMITED with Retry-After and nothing reaches WhatsApp; other
// instances are not affected. Runs against miaw-sim.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer, tempDir, waitFor, sleep } from './lib/harness.mjs';
import { startSim, simEnv, pairByQr } from './lib/sim.mjs';

const ME = '15550007001', ME2 = '15550007002', BOB = '15550007003';

async function setup(t, env) {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-rl-');
  const sim = await startSim({ stateDir: simDir });
  const ctx = { sim, srv: null };
  t.after(async () => {
    if (ctx.srv) await ctx.srv.stop();
    await sim.stop();
    rmSync(simDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  ctx.srv = await startServer({ env: simEnv(sim, env), dataDir });
  assert.equal((await sim.api('POST', '/sim/accounts', { phone: BOB, name: 'Bob' })).status, 201);
  for (const [id, phone] of [['one', ME], ['two', ME2]]) {
    assert.equal((await ctx.srv.api('POST', '/api/v1/instances', { instanceId: id })).status, 201);
    const { deviceJid } = await pairByQr(ctx.srv, sim, id, phone, { name: id });
    await waitFor(async () => {
      const s = await sim.api('GET', '/sim/state');
      const d = s.json.accounts.find((a) => a.phone === phone).devices.find((x) => x.jid === deviceJid);
      return d && d.preKeys > 0;
    }, { what: 'pre-keys uploaded', timeoutMs: 15000 });
  }
  return ctx;
}

const inbox = async (sim, phone) => (await sim.api('GET', `/sim/accounts/${phone}/messages`)).json.messages;

test('messages per minute per instance, across plugin routes', { timeout: 120000 }, async (t) => {
  const { sim, srv } = await setup(t, { MIAW_RATE_LIMIT_SEND_PER_MINUTE: '3' });
  const text = (id, s) => srv.api('POST', `/api/v1/instances/${id}/messages/text`, { to: BOB, text: s });
  assert.equal((await text('one', 'm1')).status, 200);
  assert.equal((await text('one', 'm2')).status, 200);
  const loc = await srv.api('POST', '/api/v1/instances/one/messages/location', { to: BOB, latitude: 1.5, longitude: 2.5 });
  assert.equal(loc.status, 200, loc.text);
  const r = await text('one', 'over the limit');
  assert.equal(r.status, 429, r.text);
  assert.equal(r.json.error.code, 'RATE_LIMITED');
  const ra = Number(r.headers.get('retry-after'));
  assert.ok(ra >= 15 && ra <= 20, `Retry-After ${ra}`); // one token per 20 s at 3 per minute
  // the other instance has its own budget
  assert.equal((await text('two', 'from two')).status, 200);
  // the refused message never reached WhatsApp
  await waitFor(async () => (await inbox(sim, BOB)).some((m) => m.text === 'from two'), { what: 'two delivered', timeoutMs: 10000 });
  await sleep(300);
  assert.ok(!(await inbox(sim, BOB)).some((m) => m.text === 'over the limit'));
});

test('least gap between two sends of an instance', { timeout: 120000 }, async (t) => {
  const { srv } = await setup(t, { MIAW_RATE_LIMIT_SEND_MIN_GAP_MS: '1500' });
  const text = (s) => srv.api('POST', '/api/v1/instances/one/messages/text', { to: BOB, text: s });
  const t0 = Date.now();
  assert.equal((await text('a')).status, 200);
  const r = await text('b');
  if (Date.now() - t0 < 1400) {
    assert.equal(r.status, 429, r.text);
    assert.equal(r.headers.get('retry-after'), '2');
    assert.ok(r.json.error.details.retryAfterMs <= 1500);
  }
  await waitFor(async () => (await text('c')).status === 200, { what: 'after the gap', timeoutMs: 5000, intervalMs: 400 });
});
