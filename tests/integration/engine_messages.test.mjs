// tests/integration/engine_messages.test.mjs - 1:1 text through miaw-sim: a paired miaw
// instance sends to a simulated phone (which decrypts it; the instance's own phone gets
// the DeviceSentMessage copy), receives from it (the `message` webhook, stored before the
// receipt), replies with a quote; input errors (400), not connected (503); then a server
// restart and cut connections mid-conversation with every message delivered to the
// webhook exactly once; undecryptable messages in both directions answered by the
// sender's resend after the retry receipt.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, tempDir, waitFor, sleep } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { startSim, simEnv, events, status, pairByQr } from './lib/sim.mjs';

const ME = '15550002222';
const BOB = '15550003333';

/** a server with one instance paired to account ME; BOB exists too */
async function setup(t) {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-msg-');
  const sim = await startSim({ stateDir: simDir });
  const rcv = await startReceiver();
  const ctx = { sim, rcv, dataDir, simDir, srv: null };
  t.after(async () => {
    if (ctx.srv) await ctx.srv.stop();
    await ctx.sim.stop();
    await rcv.close();
    rmSync(simDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  ctx.env = simEnv(sim, { MIAW_WEBHOOK_URL: rcv.url });
  ctx.srv = await startServer({ env: ctx.env, dataDir });
  const srv = ctx.srv;
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201);
  assert.equal((await sim.api('POST', '/sim/accounts', { phone: BOB, name: 'Bob' })).status, 201);
  ctx.deviceJid = (await pairByQr(srv, sim, 'bot', ME, { name: 'Me' })).deviceJid;
  await waitFor(async () => {
    const s = await sim.api('GET', '/sim/state');
    const d = s.json.accounts.find((a) => a.phone === ME).devices.find((x) => x.jid === ctx.deviceJid);
    return d && d.preKeys > 0;
  }, { what: 'pre-keys uploaded', timeoutMs: 10000 });
  return ctx;
}

const sendText = (srv, body) => srv.api('POST', '/api/v1/instances/bot/messages/text', body);
const inbox = async (sim, phone) => (await sim.api('GET', `/sim/accounts/${phone}/messages`)).json;

test('send and receive 1:1 text through the simulator', { timeout: 120000 }, async (t) => {
  const { sim, rcv, srv } = await setup(t);
  assert.deepEqual((await inbox(sim, BOB)).messages, []);

  // input errors and a bad instance
  let r = await sendText(srv, { to: 'abc', text: 'x' });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, 'INVALID_REQUEST');
  assert.equal((await sendText(srv, { to: '0123', text: 'x' })).status, 400);
  assert.equal((await sendText(srv, { to: BOB, text: '' })).status, 400);
  assert.equal((await sendText(srv, { to: BOB })).status, 400);
  assert.equal((await srv.api('POST', '/api/v1/instances/nope/messages/text', { to: BOB, text: 'x' })).status, 404);

  // miaw -> Bob: answered after the server's ack, decrypted by Bob's phone
  r = await sendText(srv, { to: `+1 (555) 000-${BOB.slice(7)}`, text: 'hello bob' });
  assert.equal(r.status, 200, r.text);
  const { messageId, timestamp } = r.json.data;
  assert.match(messageId, /^3EB0[0-9A-F]{18}$/);
  assert.ok(Math.abs(timestamp - Date.now()) < 60000, `timestamp ${timestamp}`);
  await waitFor(async () => (await inbox(sim, BOB)).messages.some((m) => m.id === messageId && m.text === 'hello bob'),
    { what: 'Bob decrypted the message', timeoutMs: 10000 });
  // the instance's own phone got the DeviceSentMessage copy
  await waitFor(async () => (await inbox(sim, ME)).messages.some((m) => m.id === messageId && m.text === 'hello bob'),
    { what: 'own phone got the copy', timeoutMs: 10000 });
  // a second message reuses the sessions (msg, not pkmsg) and the cached device list
  r = await sendText(srv, { to: `${BOB}@s.whatsapp.net`, text: 'second' });
  assert.equal(r.status, 200, r.text);
  const second = r.json.data.messageId;
  await waitFor(async () => (await inbox(sim, BOB)).messages.some((m) => m.id === second), { what: 'second', timeoutMs: 10000 });

  // Bob -> miaw: the message webhook (spec 5.2)
  const b = await sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, text: 'hi from bob' });
  assert.equal(b.status, 201, JSON.stringify(b.json));
  await rcv.waitFor(() => events(rcv, 'message').some((e) => e.data.id === b.json.id), 15000, 'message webhook');
  const ev = events(rcv, 'message').find((e) => e.data.id === b.json.id);
  assert.equal(ev.instanceId, 'bot');
  assert.equal(ev.data.from, `${BOB}@s.whatsapp.net`);
  assert.equal(ev.data.senderPhone, BOB);
  assert.equal(ev.data.senderName, 'Bob');
  assert.equal(ev.data.text, 'hi from bob');
  assert.equal(ev.data.isGroup, false);
  assert.equal(ev.data.fromMe, false);
  assert.equal(ev.data.type, 'text');
  assert.ok(Number.isInteger(ev.data.timestamp) && Math.abs(ev.data.timestamp * 1000 - Date.now()) < 60000);

  // a quoted reply
  r = await sendText(srv, { to: BOB, text: 'replying', quotedMessageId: b.json.id });
  assert.equal(r.status, 200, r.text);
  await waitFor(async () => (await inbox(sim, BOB)).messages.some((m) => m.id === r.json.data.messageId),
    { what: 'reply delivered', timeoutMs: 10000 });

  // an unknown number
  r = await sendText(srv, { to: '15559999999', text: 'anyone?' });
  assert.equal(r.status, 404, r.text);

  // not connected: 503
  assert.equal((await srv.api('POST', '/api/v1/instances/bot/disconnect')).status, 200);
  r = await sendText(srv, { to: BOB, text: 'offline' });
  assert.equal(r.status, 503, r.text);
  assert.equal(r.json.error.code, 'INSTANCE_NOT_CONNECTED');
  assert.equal(events(rcv, 'message').length, 1, 'sent messages are not message events');
});

test('the phone unlinks the device: logged_out state and event', { timeout: 60000 }, async (t) => {
  const { sim, rcv, srv, deviceJid } = await setup(t);
  const r = await sim.api('DELETE', `/sim/devices/${encodeURIComponent(deviceJid)}`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  await waitFor(async () => (await status(srv, 'bot')).status === 'logged_out', { what: 'logged_out', timeoutMs: 10000 });
  const st = await status(srv, 'bot');
  assert.equal(st.paired, false);
  assert.match(st.reason, /device removed/);
  await rcv.waitFor(() => events(rcv, 'disconnected').some((e) => e.data.loggedOut === true), 10000, 'loggedOut event');
  assert.ok(events(rcv, 'connection').some((e) => e.data.state === 'logged_out'));
  assert.equal((await sendText(srv, { to: BOB, text: 'x' })).status, 503);
});

test('restart and cut connections mid-conversation: every message delivered once', { timeout: 180000 }, async (t) => {
  const ctx = await setup(t);
  const { sim, rcv } = ctx;
  const ids = [];
  const fromBob = async (text) => {
    const r = await sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, text });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    ids.push(r.json.id);
  };
  const sentByMe = [];
  const send = async (text) => {
    const r = await sendText(ctx.srv, { to: BOB, text });
    if (r.status === 200) sentByMe.push(r.json.data.messageId);
    return r.status;
  };
  for (let i = 0; i < 5; i++) await fromBob(`before ${i}`);
  assert.equal(await send('me 1'), 200);
  // server restart while Bob keeps writing: the simulator queues, the instance logs in again
  await ctx.srv.stop();
  for (let i = 0; i < 5; i++) await fromBob(`while down ${i}`);
  ctx.srv = await startServer({ env: ctx.env, dataDir: ctx.dataDir });
  await waitFor(async () => (await status(ctx.srv, 'bot')).status === 'connected', { what: 'back', timeoutMs: 15000 });
  assert.equal(await send('me 2'), 200);
  // cut the connection a few times while messages flow
  for (let k = 0; k < 3; k++) {
    await fromBob(`burst ${k} a`);
    const cut = await sim.api('POST', '/sim/faults', { drop: ctx.deviceJid });
    assert.equal(cut.status, 200);
    await fromBob(`burst ${k} b`);
    await waitFor(async () => (await status(ctx.srv, 'bot')).status === 'connected', { what: 'reconnected', timeoutMs: 15000 });
    assert.equal(await send(`me burst ${k}`), 200);
  }
  await rcv.waitFor(() => ids.every((id) => events(rcv, 'message').some((e) => e.data.id === id)), 30000,
    'every message of Bob as a webhook');
  await sleep(500);
  const got = events(rcv, 'message').map((e) => e.data.id);
  assert.equal(got.length, ids.length, `exactly once: ${got.length} events for ${ids.length} messages`);
  assert.deepEqual(new Set(got), new Set(ids));
  // and Bob decrypted everything miaw sent
  await waitFor(async () => {
    const m = (await inbox(sim, BOB)).messages;
    return sentByMe.every((id) => m.some((x) => x.id === id && typeof x.text === 'string'));
  }, { what: 'Bob got all of ours', timeoutMs: 15000 });
});

test('undecryptable messages: retry receipts both ways, the sender resends, no crash', { timeout: 120000 }, async (t) => {
  const ctx = await setup(t);
  let r = await sendText(ctx.srv, { to: BOB, text: 'first' });
  assert.equal(r.status, 200, r.text);
  await waitFor(async () => (await inbox(ctx.sim, BOB)).messages.some((m) => m.id === r.json.data.messageId),
    { what: 'first delivered', timeoutMs: 10000 });
  // the instance loses its session with Bob; Bob's next message (a msg) cannot be read
  await ctx.srv.stop();
  execFileSync('sqlite3', [join(ctx.dataDir, 'miaw.db'), `DELETE FROM sig_sessions WHERE owner='bot'`]);
  ctx.srv = await startServer({ env: ctx.env, dataDir: ctx.dataDir });
  await waitFor(async () => (await status(ctx.srv, 'bot')).status === 'connected', { what: 'back', timeoutMs: 15000 });
  const b = await ctx.sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, text: 'can you read this?' });
  assert.equal(b.status, 201);
  await ctx.rcv.waitFor(() => events(ctx.rcv, 'error').some((e) => e.data.messageId === b.json.id), 15000, 'error event');
  const err = events(ctx.rcv, 'error').find((e) => e.data.messageId === b.json.id);
  assert.equal(err.data.from, `${BOB}@s.whatsapp.net`);
  assert.equal(err.data.willRetry, true);
  // the retry receipt reached Bob's phone, which encrypted the message again on a new
  // session: the instance reads the resend and reports it once
  await waitFor(async () => (await inbox(ctx.sim, BOB)).sent.find((m) => m.id === b.json.id)?.receipts
    .some((x) => x.type === 'retry' && x.from.startsWith(`${ME}:`)), { what: 'retry receipt at Bob\'s phone', timeoutMs: 10000 });
  await ctx.rcv.waitFor(() => events(ctx.rcv, 'message').some((e) => e.data.id === b.json.id), 15000, 'message event after the resend');
  assert.equal(events(ctx.rcv, 'message').find((e) => e.data.id === b.json.id).data.text, 'can you read this?');
  assert.match(ctx.srv.logs(), new RegExp(`message ${b.json.id} from ${BOB}@s.whatsapp.net cannot be decrypted .*retry receipt 1`));
  assert.equal((await status(ctx.srv, 'bot')).status, 'connected', 'still connected');

  // outbound: Bob's phone forgets its sessions, cannot read the instance's next message
  // and asks again; the instance builds a new session from a fresh bundle and resends to
  // that one device (device_fanout="false", addressed to the user JID of device 0)
  r = await sendText(ctx.srv, { to: BOB, text: 'new session' });
  assert.equal(r.status, 200, r.text);
  const ns = r.json.data.messageId;
  await waitFor(async () => (await inbox(ctx.sim, BOB)).messages.some((m) => m.id === ns && m.text === 'new session'),
    { what: 'new session read', timeoutMs: 10000 });
  const port = ctx.sim.info.port;
  await ctx.sim.stop();
  execFileSync('sqlite3', [join(ctx.simDir, 'phones.db'), `DELETE FROM sig_sessions WHERE owner='phone:${BOB}'`]);
  ctx.sim = await startSim({ stateDir: ctx.simDir, port });
  await waitFor(async () => (await status(ctx.srv, 'bot')).status === 'connected', { what: 'reconnected', timeoutMs: 15000 });
  r = await sendText(ctx.srv, { to: BOB, text: 'after reset' });
  assert.equal(r.status, 200, r.text);
  const id = r.json.data.messageId;
  await waitFor(async () => (await inbox(ctx.sim, BOB)).messages.some((x) => x.id === id && x.error),
    { what: 'Bob failed to decrypt', timeoutMs: 10000 });
  await waitFor(async () => (await inbox(ctx.sim, BOB)).messages.some((x) => x.id === id && x.text === 'after reset'),
    { what: 'Bob read the resend', timeoutMs: 10000 })
    .catch((e) => { console.log(ctx.srv.logs().split('\n').filter((l) => /engine|runtime/.test(l)).join('\n')); throw e; });
  const tries = (await inbox(ctx.sim, BOB)).messages.filter((x) => x.id === id);
  assert.equal(tries.filter((x) => x.text === 'after reset').length, 1, JSON.stringify(tries));
  assert.equal(tries.find((x) => x.text === 'after reset').encType, 'pkmsg');
  assert.match(ctx.srv.logs(), new RegExp(`resent ${id} to ${BOB}@s.whatsapp.net \\(retry 1\\)`));
  // and the conversation goes on over the new sessions
  r = await sendText(ctx.srv, { to: BOB, text: 'and on' });
  assert.equal(r.status, 200, r.text);
  await waitFor(async () => (await inbox(ctx.sim, BOB)).messages.some((x) => x.id === r.json.data.messageId && x.text === 'and on'),
    { what: 'next message read', timeoutMs: 10000 });
  const later = await ctx.sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, text: 'me too' });
  await ctx.rcv.waitFor(() => events(ctx.rcv, 'message').some((e) => e.data.id === later.json.id && e.data.text === 'me too'), 15000, 'Bob\'s next message');
  assert.equal(events(ctx.rcv, 'message').filter((e) => e.data.id === b.json.id).length, 1, 'the resent message once');
});
