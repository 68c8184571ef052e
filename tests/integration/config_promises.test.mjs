// tests/integration/config_promises.test.mjs - what the configuration promises, through
// miaw-sim: whatsapp.auto_mark_read (the sender's phone gets a read receipt),
// whatsapp.auto_reply (the sender's phone gets the text back), and neither when they are
// off; whatsapp.account_validation (on: a number not on WhatsApp is refused with 404; off:
// the message is handed to the server, the own phone gets its copy); and unlinking:
// POST /instances/{id}/logout and DELETE /instances/{id} remove the device from the
// phone's linked devices (GET /sim/state), DELETE ?keepSession=true does not.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer, tempDir, waitFor } from './lib/harness.mjs';
import { startSim, simEnv, status, pairByQr } from './lib/sim.mjs';

const ME = '15550004444';
const BOB = '15550005555';
const NOBODY = '15559990000';

/** a server (extra env) with instance `bot` paired to ME; BOB exists */
async function setup(t, env = {}) {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-cfgp-');
  const sim = await startSim({ stateDir: simDir });
  const ctx = { sim, srv: null };
  t.after(async () => {
    if (ctx.srv) await ctx.srv.stop();
    await sim.stop();
    rmSync(simDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  ctx.srv = await startServer({ env: simEnv(sim, env), dataDir });
  assert.equal((await ctx.srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201);
  assert.equal((await sim.api('POST', '/sim/accounts', { phone: BOB, name: 'Bob' })).status, 201);
  ctx.deviceJid = (await pairByQr(ctx.srv, sim, 'bot', ME, { name: 'Me' })).deviceJid;
  await waitFor(async () => {
    const d = await simDevice(sim, ME, ctx.deviceJid);
    return d && d.preKeys > 0;
  }, { what: 'pre-keys uploaded', timeoutMs: 15000 });
  return ctx;
}

async function simDevice(sim, phone, jid) {
  const s = await sim.api('GET', '/sim/state');
  const acc = s.json.accounts.find((a) => a.phone === phone);
  return acc && acc.devices.find((x) => x.jid === jid);
}

const inbox = async (sim, phone) => (await sim.api('GET', `/sim/accounts/${phone}/messages`)).json;
const fromBob = async (sim, text) => {
  const r = await sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, text });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json.id;
};
const receiptsOf = async (sim, id) => ((await inbox(sim, BOB)).sent.find((m) => m.id === id) || { receipts: [] }).receipts;

test('auto_mark_read and auto_reply answer every incoming 1:1 message', { timeout: 120000 }, async (t) => {
  const { sim, srv } = await setup(t, { MIAW_AUTO_MARK_READ: 'true', MIAW_AUTO_REPLY: 'Thanks, we will get back to you' });
  const cfg = (await srv.api('GET', '/api/v1/config')).json.data;
  assert.equal(cfg.autoMarkRead, true);
  assert.equal(cfg.autoReply, 'Thanks, we will get back to you');
  const id = await fromBob(sim, 'hello there');
  await waitFor(async () => (await receiptsOf(sim, id)).some((r) => r.type === 'read'),
    { what: 'read receipt at Bob', timeoutMs: 15000 });
  await waitFor(async () => (await inbox(sim, BOB)).messages.some((m) => m.from.startsWith(ME) &&
    m.text === 'Thanks, we will get back to you'), { what: 'auto reply at Bob', timeoutMs: 15000 });
  // one reply per message: a second message, a second reply
  await fromBob(sim, 'again');
  await waitFor(async () => (await inbox(sim, BOB)).messages.filter((m) => m.text === 'Thanks, we will get back to you')
    .length === 2, { what: 'second auto reply', timeoutMs: 15000 });
  // the account's own phone saw the replies as sent by its companion (no reply to them)
  await waitFor(async () => (await inbox(sim, ME)).messages.filter((m) => m.fromMe &&
    m.text === 'Thanks, we will get back to you').length === 2, { what: 'own copies', timeoutMs: 15000 });
  // a loop guard: at most 5 replies per chat and minute (5 more messages: 3 replies, 2 skipped)
  const more = [];
  for (let i = 0; i < 5; i++) more.push(await fromBob(sim, `burst ${i}`));
  await waitFor(() => (srv.logs().match(/no auto reply to 15550005555/g) || []).length === 2,
    { what: 'two replies skipped', timeoutMs: 15000 });
  for (const id of more) await waitFor(async () => (await receiptsOf(sim, id)).some((r) => r.type === 'read'),
    { what: 'burst read', timeoutMs: 15000 });
  const sentinel = await srv.api('POST', '/api/v1/instances/bot/messages/text', { to: BOB, text: 'sentinel' });
  assert.equal(sentinel.status, 200, sentinel.text);
  await waitFor(async () => (await inbox(sim, BOB)).messages.some((m) => m.text === 'sentinel'), { what: 'sentinel', timeoutMs: 15000 });
  await waitFor(async () => (await inbox(sim, BOB)).messages.filter((m) => m.text === 'Thanks, we will get back to you')
    .length === 5, { what: 'five replies', timeoutMs: 15000 });
});

test('defaults: no read receipt, no reply, numbers are validated', { timeout: 120000 }, async (t) => {
  const { sim, srv } = await setup(t);
  const cfg = (await srv.api('GET', '/api/v1/config')).json.data;
  assert.equal(cfg.autoMarkRead, false);
  assert.equal(cfg.autoReply, '');
  assert.equal(cfg.accountValidation, true);
  const a = await fromBob(sim, 'one');
  const b = await fromBob(sim, 'two');
  // both delivered (the engine stored and acknowledged them) ...
  await waitFor(async () => (await receiptsOf(sim, a)).length > 0 && (await receiptsOf(sim, b)).length > 0,
    { what: 'delivery receipts', timeoutMs: 15000 });
  // ... and a message sent after them arrived, so an auto answer would have come first
  const r = await srv.api('POST', '/api/v1/instances/bot/messages/text', { to: BOB, text: 'manual' });
  assert.equal(r.status, 200, r.text);
  await waitFor(async () => (await inbox(sim, BOB)).messages.some((m) => m.id === r.json.data.messageId),
    { what: 'manual message', timeoutMs: 15000 });
  for (const id of [a, b]) assert.ok(!(await receiptsOf(sim, id)).some((x) => x.type === 'read'), 'no read receipt');
  assert.deepEqual((await inbox(sim, BOB)).messages.map((m) => m.text), ['manual']);
  // validation on: refused before sending
  const v = await srv.api('POST', '/api/v1/instances/bot/messages/text', { to: NOBODY, text: 'anyone?' });
  assert.equal(v.status, 404, v.text);
  assert.equal(v.json.success, false);
  assert.match(v.json.error.message, /not on WhatsApp/);
});

test('account_validation off: a number not on WhatsApp is not checked', { timeout: 120000 }, async (t) => {
  const { sim, srv } = await setup(t, { MIAW_ACCOUNT_VALIDATION: 'false' });
  assert.equal((await srv.api('GET', '/api/v1/config')).json.data.accountValidation, false);
  const r = await srv.api('POST', '/api/v1/instances/bot/messages/text', { to: NOBODY, text: 'unchecked' });
  assert.equal(r.status, 200, r.text);
  assert.match(r.json.data.messageId, /^3EB0/);
  // handed to the server: the own phone got the copy addressed to the number
  await waitFor(async () => (await inbox(sim, ME)).messages.some((m) => m.id === r.json.data.messageId &&
    m.text === 'unchecked'), { what: 'own copy', timeoutMs: 15000 });
  // a number on WhatsApp still works
  const ok = await srv.api('POST', '/api/v1/instances/bot/messages/text', { to: BOB, text: 'to bob' });
  assert.equal(ok.status, 200, ok.text);
});

test('logout unlinks the device and keeps the instance', { timeout: 120000 }, async (t) => {
  const { sim, srv, deviceJid } = await setup(t);
  assert.ok(await simDevice(sim, ME, deviceJid), 'linked before');
  const r = await srv.api('POST', '/api/v1/instances/bot/logout');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.unlinked, true);
  assert.equal(r.json.data.status, 'logged_out');
  assert.equal(r.json.data.paired, false);
  assert.equal(await simDevice(sim, ME, deviceJid), undefined, 'the phone no longer lists the device');
  assert.equal((await srv.api('GET', '/api/v1/instances/bot')).status, 200, 'the instance stays');
  assert.equal((await status(srv, 'bot')).status, 'logged_out');
  // nothing left to log out
  const again = await srv.api('POST', '/api/v1/instances/bot/logout');
  assert.equal(again.status, 409, again.text);
  assert.equal(again.json.error.code, 'CONFLICT');
  assert.equal((await srv.api('POST', '/api/v1/instances/nope/logout')).status, 404);
  // it pairs again by QR as a new device
  const r2 = await srv.api('POST', '/api/v1/instances/bot/connect');
  assert.equal(r2.status, 200);
  await waitFor(async () => (await status(srv, 'bot')).status === 'qr', { what: 'qr again', timeoutMs: 15000 });
});

test('DELETE unlinks the device unless keepSession=true', { timeout: 150000 }, async (t) => {
  const { sim, srv, deviceJid } = await setup(t);
  const doc = (await srv.api('GET', '/openapi.json')).json;
  assert.ok(doc.paths['/instances/{instanceId}'].delete.parameters.some((p) => p.name === 'keepSession' && p.in === 'query'));
  assert.ok(doc.paths['/instances/{instanceId}/logout'].post.responses['502']);
  let r = await srv.api('DELETE', '/api/v1/instances/bot?keepSession=maybe');
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.details.field, 'keepSession');
  r = await srv.api('DELETE', '/api/v1/instances/bot');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { instanceId: 'bot', deleted: true, unlinked: true });
  assert.equal(await simDevice(sim, ME, deviceJid), undefined, 'the phone no longer lists the device');
  assert.equal((await srv.api('GET', '/api/v1/instances/bot')).status, 404);

  // keepSession=true: deleted here, still linked on the phone
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'kept' })).status, 201);
  assert.equal((await srv.api('POST', '/api/v1/instances/kept/connect')).status, 200);
  await waitFor(async () => (await status(srv, 'kept')).status === 'qr', { what: 'qr', timeoutMs: 15000 });
  const { qr } = (await srv.api('GET', '/api/v1/instances/kept/qr')).json.data;
  const scan = await sim.api('POST', `/sim/accounts/${ME}/scan`, { qr });
  assert.equal(scan.status, 200, JSON.stringify(scan.json));
  await waitFor(async () => (await status(srv, 'kept')).status === 'connected', { what: 'connected', timeoutMs: 15000 });
  r = await srv.api('DELETE', '/api/v1/instances/kept?keepSession=true');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { instanceId: 'kept', deleted: true, unlinked: false });
  assert.ok(await simDevice(sim, ME, scan.json.deviceJid), 'still linked on the phone');
});
