// tests/integration/engine_linkcode.test.mjs - a miaw instance paired by phone-number code
// through miaw-sim over loopback: POST /instances/{id}/pair-code connects and returns the
// code (XXXX-XXXX), phone numbers are sanitised and validated, a second request replaces
// the code, a wrong code typed on the simulated phone is refused (error event, still
// waiting), the right one links the device (pair-success, 515, login, connected, ready);
// a number the server refuses and an already paired instance are answered with errors.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer, tempDir, waitFor, sleep } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { startSim, simEnv, events, status } from './lib/sim.mjs';

const PHONE = '15550007777';

test('pair an instance by phone-number code through miaw-sim', { timeout: 90000 }, async (t) => {
  const dataDir = tempDir('miaw-eng-lc-');
  const sim = await startSim();
  const rcv = await startReceiver();
  let srv;
  t.after(async () => {
    if (srv) await srv.stop();
    await sim.stop();
    await rcv.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  srv = await startServer({
    dataDir,
    env: simEnv(sim, { MIAW_WEBHOOK_URL: rcv.url, MIAW_WA_PREKEYS: '30' }),
  });
  assert.equal((await sim.api('POST', '/sim/accounts', { phone: PHONE, name: 'Coder' })).status, 201);
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'bot1' })).status, 201);
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'bot2' })).status, 201);

  // validation: nothing starts connecting for a bad request
  for (const [body, field] of [[{ phone: '12ab34567' }, 'phone'], [{ phone: '0155500077' }, 'phone'],
    [{ phone: '1234' }, 'phone'], [{ phone: '123456789012345678901' }, 'phone'], [{}, 'phone'], [{ phone: 15550007777 }, 'phone']]) {
    const r = await srv.api('POST', '/api/v1/instances/bot1/pair-code', body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.code, 'INVALID_REQUEST');
    assert.equal(r.json.error.details?.field, field, r.text);
  }
  assert.equal((await status(srv, 'bot1')).status, 'disconnected');
  assert.equal((await srv.api('POST', '/api/v1/instances/nope/pair-code', { phone: PHONE })).status, 404);

  // a code, connecting on the way (the number written as people write it)
  let r = await srv.api('POST', '/api/v1/instances/bot1/pair-code', { phone: '+1 (555) 000-7777' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.phone, PHONE);
  assert.match(r.json.data.code, /^[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$/);
  const oldCode = r.json.data.code;
  assert.equal((await status(srv, 'bot1')).status, 'qr');

  // asking again replaces the code; the old one no longer links
  r = await srv.api('POST', '/api/v1/instances/bot1/pair-code', { phone: PHONE });
  assert.equal(r.status, 200, r.text);
  const code = r.json.data.code;
  assert.notEqual(code, oldCode);
  let typed = await sim.api('POST', `/sim/accounts/${PHONE}/link-code`, { code: oldCode });
  assert.equal(typed.status, 400, JSON.stringify(typed.json));
  assert.equal(typed.json.error.field, 'code');
  await waitFor(() => events(rcv, 'error').some((e) => /pairing by code refused/.test(e.data.error)),
    { what: 'error event for the refused code', timeoutMs: 10000 });
  assert.equal((await status(srv, 'bot1')).status, 'qr', 'still waiting after a wrong code');
  assert.equal((await status(srv, 'bot1')).paired, false);

  // the right code, typed without the dash and in lower case
  typed = await sim.api('POST', `/sim/accounts/${PHONE}/link-code`, { code: code.replace('-', '').toLowerCase() });
  assert.equal(typed.status, 200, JSON.stringify(typed.json));
  await waitFor(async () => (await status(srv, 'bot1')).status === 'connected', { what: 'connected', timeoutMs: 15000 });
  const st = await status(srv, 'bot1');
  assert.equal(st.paired, true);
  assert.equal(st.jid, typed.json.deviceJid);
  assert.equal(st.lid, typed.json.lid);
  await rcv.waitFor(() => events(rcv, 'ready').length === 1, 10000, 'ready webhook');
  await waitFor(async () => {
    const s = await sim.api('GET', '/sim/state');
    const d = s.json.accounts[0].devices.find((x) => x.jid === typed.json.deviceJid);
    return d && d.online && d.preKeys === 30;
  }, { what: 'logged in with pre-keys uploaded', timeoutMs: 10000 });

  // paired now: no more codes
  r = await srv.api('POST', '/api/v1/instances/bot1/pair-code', { phone: PHONE });
  assert.equal(r.status, 409, r.text);
  assert.equal((await sim.api('POST', `/sim/accounts/${PHONE}/link-code`, { code })).status, 404);

  // a number the simulated network does not know: the server refuses the code request
  r = await srv.api('POST', '/api/v1/instances/bot2/pair-code', { phone: '15559990000' });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.details?.field, 'phone');
  assert.equal((await srv.api('POST', '/api/v1/instances/bot2/disconnect')).status, 200);

  // a code request for an instance that disconnects before its connection is up fails
  // at once instead of hanging (the simulator is frozen meanwhile)
  sim.proc.kill('SIGSTOP');
  const pending = srv.api('POST', '/api/v1/instances/bot2/pair-code', { phone: PHONE });
  await sleep(300);
  assert.equal((await status(srv, 'bot2')).status, 'connecting');
  assert.equal((await srv.api('POST', '/api/v1/instances/bot2/disconnect')).status, 200);
  r = await pending;
  sim.proc.kill('SIGCONT');
  assert.equal(r.status, 503, r.text);
  assert.match(r.json.error.message, /stopped before a code was issued: disconnected by request/);
});
