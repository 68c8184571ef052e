// tests/integration/engine_pairing.test.mjs - a miaw instance against miaw-sim over
// loopback: connect, QR codes (JSON, PNG, webhook), scan by a simulated phone, pairing,
// 515 restart, login, pre-key upload; a server restart logs in again without a QR;
// disconnect survives a restart; a dead socket (simulator frozen) is noticed and the
// instance reconnects with backoff; a never-scanned instance stops after its QR codes.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer, tempDir, waitFor, sleep } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { startSim, simEnv, events, status, pairByQr } from './lib/sim.mjs';

test('pair by QR, log in, restart without a QR, disconnect persists, dead socket noticed', { timeout: 120000 }, async (t) => {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-eng-');
  const sim = await startSim({ stateDir: simDir });
  const rcv = await startReceiver();
  let srv;
  t.after(async () => {
    if (srv) await srv.stop();
    await sim.stop();
    await rcv.close();
    rmSync(simDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  // keepalive short so the frozen-simulator step below finishes quickly
  const env = simEnv(sim, { MIAW_WEBHOOK_URL: rcv.url, MIAW_WA_KEEPALIVE_MS: '300', MIAW_WA_DEAD_MS: '1200' });
  srv = await startServer({ env, dataDir });

  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'bot1' })).status, 201);
  let st = await status(srv, 'bot1');
  assert.equal(st.status, 'disconnected');
  assert.equal(st.paired, false);
  assert.equal((await srv.api('GET', '/api/v1/instances/bot1/qr')).status, 404, 'no QR before connecting');
  assert.equal((await srv.api('POST', '/api/v1/instances/nope/connect')).status, 404);

  const c = await srv.api('POST', '/api/v1/instances/bot1/connect');
  assert.equal(c.status, 200, c.text);
  assert.ok(['connecting', 'qr'].includes(c.json.data.status));
  await waitFor(async () => (await status(srv, 'bot1')).status === 'qr', { what: 'state qr', timeoutMs: 15000 });

  // the QR: JSON with a PNG data URL, the PNG itself, and the webhook
  const q = await srv.api('GET', '/api/v1/instances/bot1/qr');
  assert.equal(q.status, 200, q.text);
  const qr = q.json.data.qr;
  const parts = qr.replace('https://wa.me/settings/linked_devices#', '').split(',');
  assert.ok(qr.startsWith('https://wa.me/settings/linked_devices#'), qr);
  assert.equal(parts.length, 5);
  for (const p of parts.slice(1, 4)) assert.equal(Buffer.from(p, 'base64').length, 32);
  assert.match(q.json.data.base64, /^data:image\/png;base64,/);
  const png = Buffer.from(q.json.data.base64.split(',')[1], 'base64');
  assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a');
  const img = await fetch(`${srv.url}/api/v1/instances/bot1/qr`, { headers: { authorization: `Bearer ${srv.apiKey}`, accept: 'image/png' } });
  assert.equal(img.status, 200);
  assert.equal(img.headers.get('content-type'), 'image/png');
  assert.deepEqual(Buffer.from(await img.arrayBuffer()), png);
  await rcv.waitFor(() => events(rcv, 'qr').some((e) => e.data.qr === qr), 10000, 'qr webhook');

  // the phone scans: pair-success, pair-device-sign, 515, login, <success>
  assert.equal((await sim.api('POST', '/sim/accounts', { phone: '15550002222', name: 'Alice' })).status, 201);
  const scan = await sim.api('POST', '/sim/accounts/15550002222/scan', { qr });
  assert.equal(scan.status, 200, JSON.stringify(scan.json));
  const deviceJid = scan.json.deviceJid;
  await waitFor(async () => (await status(srv, 'bot1')).status === 'connected', { what: 'connected', timeoutMs: 15000 });
  st = await status(srv, 'bot1');
  assert.equal(st.paired, true);
  assert.equal(st.jid, deviceJid);
  assert.equal(st.lid, scan.json.lid);
  assert.ok(st.connectedAt);
  assert.equal((await srv.api('GET', '/api/v1/instances/bot1/qr')).status, 409, 'connected: no QR');
  await rcv.waitFor(() => events(rcv, 'ready').length === 1, 10000, 'ready webhook');
  assert.equal(events(rcv, 'ready')[0].data.jid, deviceJid);
  assert.ok(events(rcv, 'connection').some((e) => e.data.state === 'connected'));
  await waitFor(async () => {
    const s = await sim.api('GET', '/sim/state');
    const d = s.json.accounts[0].devices.find((x) => x.jid === deviceJid);
    return d && d.preKeys === 40 && d.online;
  }, { what: 'pre-keys uploaded', timeoutMs: 10000 });

  // server restart: logs in again from the stored identity, no QR
  const qrCount = events(rcv, 'qr').length;
  await srv.stop();
  srv = await startServer({ env, dataDir });
  await waitFor(async () => (await status(srv, 'bot1')).status === 'connected', { what: 'reconnect after restart', timeoutMs: 15000 });
  assert.equal((await status(srv, 'bot1')).jid, deviceJid);
  await rcv.waitFor(() => events(rcv, 'ready').length === 2, 10000, 'second ready');
  assert.equal(events(rcv, 'qr').length, qrCount, 'no new QR after a restart');

  // dead socket: the simulator freezes (socket open, nothing answered)
  sim.proc.kill('SIGSTOP');
  const frozenAt = Date.now();
  await waitFor(async () => (await status(srv, 'bot1')).status === 'connecting', { what: 'dead socket noticed', timeoutMs: 8000 });
  assert.ok(Date.now() - frozenAt < 6000, `noticed after ${Date.now() - frozenAt} ms`);
  await rcv.waitFor(() => events(rcv, 'reconnecting').length >= 1, 10000, 'reconnecting webhook');
  assert.equal(events(rcv, 'reconnecting')[0].data.attempt, 1);
  assert.ok(events(rcv, 'disconnected').length >= 1);
  sim.proc.kill('SIGCONT');
  await waitFor(async () => (await status(srv, 'bot1')).status === 'connected', { what: 'reconnected', timeoutMs: 20000 });

  // disconnect: stays disconnected, also across a restart; connect logs in again
  const d = await srv.api('POST', '/api/v1/instances/bot1/disconnect');
  assert.equal(d.status, 200);
  assert.equal(d.json.data.status, 'disconnected');
  assert.equal(d.json.data.reason, 'disconnected by request');
  await srv.stop();
  srv = await startServer({ env, dataDir });
  await sleep(500);
  assert.equal((await status(srv, 'bot1')).status, 'disconnected');
  assert.equal((await srv.api('POST', '/api/v1/instances/bot1/connect')).status, 200);
  await waitFor(async () => (await status(srv, 'bot1')).status === 'connected', { what: 'connect again', timeoutMs: 15000 });

  // restart route, then delete: the device rows go with the instance
  assert.equal((await srv.api('POST', '/api/v1/instances/bot1/restart')).status, 200);
  await waitFor(async () => (await status(srv, 'bot1')).status === 'connected', { what: 'restarted', timeoutMs: 15000 });
  assert.equal((await srv.api('DELETE', '/api/v1/instances/bot1')).status, 200);
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'bot1' })).status, 201);
  st = await status(srv, 'bot1');
  assert.equal(st.paired, false, 'a re-created instance starts unpaired');
});

test('an instance whose QR is never scanned stops after a bounded number of codes', { timeout: 60000 }, async (t) => {
  const simDir = tempDir('miaw-sim-');
  const sim = await startSim({ stateDir: simDir });
  const rcv = await startReceiver();
  const srv = await startServer({
    env: simEnv(sim, { MIAW_WEBHOOK_URL: rcv.url, MIAW_WA_QR_FIRST_MS: '600', MIAW_WA_QR_NEXT_MS: '250', MIAW_WA_QR_MAX: '3' }),
  });
  t.after(async () => {
    await srv.stop();
    await sim.stop();
    await rcv.close();
    rmSync(simDir, { recursive: true, force: true });
  });
  await srv.api('POST', '/api/v1/instances', { instanceId: 'lonely' });
  const started = Date.now();
  assert.equal((await srv.api('POST', '/api/v1/instances/lonely/connect')).status, 200);
  await waitFor(async () => (await status(srv, 'lonely')).status === 'disconnected', { what: 'gave up', timeoutMs: 15000 });
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 1000 && elapsed < 8000, `gave up after ${elapsed} ms`);
  const st = await status(srv, 'lonely');
  assert.match(st.reason, /QR code not scanned \(3 codes shown\)/);
  await rcv.waitFor(() => events(rcv, 'disconnected').length === 1, 10000, 'disconnected webhook');
  const qrs = events(rcv, 'qr');
  assert.equal(qrs.length, 3, 'exactly 3 QR events');
  assert.equal(new Set(qrs.map((e) => e.data.qr)).size, 3, 'each code is new');
  assert.deepEqual(qrs.map((e) => e.data.expiresInMs), [600, 250, 250]);
  assert.equal((await srv.api('GET', '/api/v1/instances/lonely/qr')).status, 404);
  await sleep(600);
  assert.equal(events(rcv, 'qr').length, 3, 'no more codes afterwards');
  const s = await sim.api('GET', '/sim/state');
  assert.equal(s.json.connections, 0, 'the registration connection is closed');
});

test('a login the server refuses with 401 logs the instance out; connect registers anew', { timeout: 60000 }, async (t) => {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-eng-');
  let sim = await startSim({ stateDir: simDir });
  const rcv = await startReceiver();
  let srv;
  t.after(async () => {
    if (srv) await srv.stop();
    await sim.stop();
    await rcv.close();
    rmSync(simDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  const env = simEnv(sim, { MIAW_WEBHOOK_URL: rcv.url });
  srv = await startServer({ env, dataDir });
  await srv.api('POST', '/api/v1/instances', { instanceId: 'b2' });
  const { qr } = await pairByQr(srv, sim, 'b2', '15550003333', { timeoutMs: 10000 });

  // the simulator forgets every device (same port, empty state): the login is refused
  await srv.stop();
  const port = sim.info.port;
  await sim.stop();
  rmSync(simDir, { recursive: true, force: true });
  const simDir2 = tempDir('miaw-sim-');
  t.after(() => rmSync(simDir2, { recursive: true, force: true }));
  sim = await startSim({ stateDir: simDir2, port });
  srv = await startServer({ env: { ...env, WA_ROOT_KEY: sim.info.rootPublicKeyHex }, dataDir });
  await waitFor(async () => (await status(srv, 'b2')).status === 'logged_out', { what: 'logged_out', timeoutMs: 15000 });
  const st = await status(srv, 'b2');
  assert.match(st.reason, /logged out by the server \(401\)/);
  assert.equal(st.paired, false, 'credentials dropped');
  await rcv.waitFor(() => events(rcv, 'disconnected').some((e) => e.data.loggedOut === true), 10000, 'loggedOut webhook');
  await sleep(500);
  assert.equal((await status(srv, 'b2')).status, 'logged_out', 'no retry loop after a logout');
  // connecting again starts a fresh registration with a new QR
  await srv.api('POST', '/api/v1/instances/b2/connect');
  await waitFor(async () => (await status(srv, 'b2')).status === 'qr', { what: 'new qr' });
  const qr2 = (await srv.api('GET', '/api/v1/instances/b2/qr')).json.data.qr;
  assert.notEqual(qr2.split(',')[2], qr.split(',')[2], 'a new identity key');
});
