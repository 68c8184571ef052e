// tests/integration/engine_wss.test.mjs - the chat socket over TLS, as WhatsApp serves it:
// miaw-sim's wss:// listener (its own CA), a miaw instance paired and messaging through it
// with WA_CA_FILE trusting that CA, and the same server refusing the simulator's
// certificate when the CA is not trusted (the instance never connects; the reason is a
// certificate error, not a hang).
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, tempDir, waitFor } from './lib/harness.mjs';
import { startSim, simEnv, pairByQr } from './lib/sim.mjs';

const ME = '15550007001';
const BOB = '15550007002';

test('pairs and sends text over wss:// with the simulator CA trusted; refuses an untrusted one', { timeout: 120000 }, async (t) => {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-wss-');
  const dataDir2 = tempDir('miaw-wss2-');
  const sim = await startSim({ stateDir: simDir });
  const ctx = { srv: null, srv2: null };
  t.after(async () => {
    if (ctx.srv) await ctx.srv.stop();
    if (ctx.srv2) await ctx.srv2.stop();
    await sim.stop();
    for (const d of [simDir, dataDir, dataDir2]) rmSync(d, { recursive: true, force: true });
  });
  assert.match(sim.info.wss, /^wss:\/\/127\.0\.0\.1:\d+\/ws\/chat$/);
  const ca = await fetch(`http://127.0.0.1:${sim.info.port}/sim/media-ca`);
  assert.equal(ca.status, 200);
  const caFile = join(dataDir, 'sim-ca.pem');
  writeFileSync(caFile, await ca.text());

  ctx.srv = await startServer({ env: simEnv(sim, { WA_WS_URL: sim.info.wss, WA_CA_FILE: caFile }), dataDir });
  const srv = ctx.srv;
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'tls' })).status, 201);
  assert.equal((await sim.api('POST', '/sim/accounts', { phone: BOB, name: 'Bob' })).status, 201);
  await pairByQr(srv, sim, 'tls', ME, { name: 'Me' });
  const r = await srv.api('POST', '/api/v1/instances/tls/messages/text', { to: BOB, text: 'over tls' });
  assert.equal(r.status, 200, r.text);
  await waitFor(async () => (await sim.api('GET', `/sim/accounts/${BOB}/messages`)).json.messages
    .some((m) => m.id === r.json.data.messageId && m.text === 'over tls'), { what: 'Bob decrypted it', timeoutMs: 15000 });

  // the plain listener and the TLS one serve the same sessions: the sim lists the device online
  const st = await sim.api('GET', '/sim/state');
  assert.ok(st.json.accounts.find((a) => a.phone === ME).devices.length >= 1);

  // no CA for the simulator: the certificate is refused, the instance does not connect
  ctx.srv2 = await startServer({ env: simEnv(sim, { WA_WS_URL: sim.info.wss }), dataDir: dataDir2 });
  assert.equal((await ctx.srv2.api('POST', '/api/v1/instances', { instanceId: 'untrusted' })).status, 201);
  await ctx.srv2.api('POST', '/api/v1/instances/untrusted/connect');
  await waitFor(() => /certificate/.test(ctx.srv2.logs()), { what: 'a certificate error in the log', timeoutMs: 15000 });
  const s2 = await ctx.srv2.api('GET', '/api/v1/instances/untrusted/status');
  assert.notEqual(s2.json.data.status, 'connected');
  assert.notEqual(s2.json.data.status, 'qr');
});
