// tests/integration/engine_groups.test.mjs - group messaging through miaw-sim with Signal
// sender keys: a simulated phone creates a group with the miaw instance's account and
// writes in it (the `message` webhook with isGroup, chat, participant, raw; again after a
// restart of miaw serve, with a message queued while it was down); the instance writes
// to the group (every member phone and its own phone decrypt it, our sender key goes out
// once); a member is removed (our next message uses a new sender key, the removed phone
// gets nothing, the others read it); a member that should have our key but has not asks
// again with a retry receipt and gets the message pairwise.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, tempDir, waitFor, sleep } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { startSim, simEnv, events, status, pairByQr } from './lib/sim.mjs';

const ME = '15550004444';
const BOB = '15550005555';
const CAROL = '15550006666';

const sendText = (srv, body) => srv.api('POST', '/api/v1/instances/bot/messages/text', body);
const inbox = async (sim, phone) => (await sim.api('GET', `/sim/accounts/${phone}/messages`)).json;
const sql = (dataDir, q) => execFileSync('sqlite3', [join(dataDir, 'miaw.db'), q], { encoding: 'utf8' }).trim();

/** a server with instance `bot` paired to ME; BOB and CAROL exist; BOB made a group of the three */
async function setup(t) {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-grp-');
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
  assert.equal((await ctx.srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201);
  for (const [phone, name] of [[BOB, 'Bob'], [CAROL, 'Carol']])
    assert.equal((await sim.api('POST', '/sim/accounts', { phone, name })).status, 201);
  ctx.deviceJid = (await pairByQr(ctx.srv, sim, 'bot', ME, { name: 'Me' })).deviceJid;
  await waitFor(async () => {
    const s = await sim.api('GET', '/sim/state');
    const d = s.json.accounts.find((a) => a.phone === ME).devices.find((x) => x.jid === ctx.deviceJid);
    return d && d.preKeys > 0;
  }, { what: 'pre-keys uploaded', timeoutMs: 10000 });
  const g = await sim.api('POST', `/sim/accounts/${BOB}/groups`, { subject: 'Team', participants: [ME, CAROL] });
  assert.equal(g.status, 201, JSON.stringify(g.json));
  ctx.group = g.json.jid;
  ctx.lids = Object.fromEntries((await sim.api('GET', '/sim/accounts')).json.accounts.map((a) => [a.phone, a.lid]));
  return ctx;
}

/** BOB writes to the group through the control API: the message id */
async function bobSays(ctx, text) {
  const r = await ctx.sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ctx.group, text });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json.id;
}

/** the group record of message id in phone's inbox that decrypted (text set), or undefined */
const gotIt = async (sim, phone, id) => (await inbox(sim, phone)).messages.find((m) => m.id === id && typeof m.text === 'string');

test('group text from a phone reaches the message webhook, also after a restart', { timeout: 120000 }, async (t) => {
  const ctx = await setup(t);
  const { sim, rcv, group } = ctx;
  const first = await bobSays(ctx, 'hello team');
  await rcv.waitFor(() => events(rcv, 'message').some((e) => e.data.id === first), 15000, 'group message webhook');
  const ev = events(rcv, 'message').find((e) => e.data.id === first).data;
  assert.equal(ev.isGroup, true);
  assert.equal(ev.chat, group);
  assert.equal(ev.participant, `${BOB}@s.whatsapp.net`);
  assert.equal(ev.from, `${BOB}@s.whatsapp.net`);
  assert.equal(ev.senderPhone, BOB);
  assert.equal(ev.senderLid, ctx.lids[BOB]);
  assert.equal(ev.senderName, 'Bob');
  assert.equal(ev.fromMe, false);
  assert.equal(ev.type, 'text');
  assert.equal(ev.text, 'hello team');
  assert.deepEqual(ev.mentions, []);
  assert.equal(ev.raw.conversation, 'hello team', JSON.stringify(ev.raw));
  // stored in chat storage under the group, sender = the participant
  assert.equal(sql(ctx.dataDir, `SELECT chat||'|'||sender||'|'||text FROM wa_messages WHERE id='${first}'`),
    `${group}|${BOB}@s.whatsapp.net|hello team`);
  // the delivery receipt went back to Bob's phone
  await waitFor(async () => (await inbox(sim, BOB)).sent.find((m) => m.id === first)?.receipts
    .some((x) => x.from.startsWith(`${ME}:`) || x.from.startsWith(`${ctx.lids[ME].split('@')[0]}:`)),
  { what: 'receipt at Bob\'s phone', timeoutMs: 10000 });

  // restart: Bob's sender key stays in the Signal store; a message sent meanwhile is queued
  await ctx.srv.stop();
  assert.equal(sql(ctx.dataDir, `SELECT count(*) FROM sig_sender_keys WHERE owner='bot' AND grp='${group}'`), '1');
  const queued = await bobSays(ctx, 'while you were away');
  ctx.srv = await startServer({ env: ctx.env, dataDir: ctx.dataDir });
  await waitFor(async () => (await status(ctx.srv, 'bot')).status === 'connected', { what: 'back', timeoutMs: 15000 });
  const after = await bobSays(ctx, 'after the restart');
  await rcv.waitFor(() => [queued, after].every((id) => events(rcv, 'message').some((e) => e.data.id === id)), 15000,
    'both messages after the restart');
  const texts = events(rcv, 'message').filter((e) => e.data.chat === group).map((e) => e.data.text);
  assert.deepEqual(texts, ['hello team', 'while you were away', 'after the restart'], 'each once, in order');
  assert.equal(events(rcv, 'error').length, 0, JSON.stringify(events(rcv, 'error')));
});

test('the instance writes to the group; a removed member gets neither the message nor the new key', { timeout: 180000 }, async (t) => {
  const ctx = await setup(t);
  const { sim, group } = ctx;
  // an unknown group
  let r = await sendText(ctx.srv, { to: '120363000000000000@g.us', text: 'anyone?' });
  assert.equal(r.status, 404, r.text);

  r = await sendText(ctx.srv, { to: group, text: 'hi all' });
  assert.equal(r.status, 200, r.text);
  const m1 = r.json.data.messageId;
  for (const phone of [BOB, CAROL, ME]) // the own phone decrypts it too (own devices are members)
    await waitFor(() => gotIt(sim, phone, m1), { what: `${phone} decrypted the group message`, timeoutMs: 10000 });
  const rec1 = await gotIt(sim, BOB, m1);
  assert.equal(rec1.text, 'hi all');
  assert.equal(rec1.chat, group);
  assert.equal(rec1.encType, 'skmsg');
  assert.equal(rec1.participant, `${ME}@s.whatsapp.net`);
  const key1 = rec1.senderKeyId;
  assert.ok(Number.isInteger(key1), JSON.stringify(rec1));
  // who has our key is kept: every member device but ours, with the key id
  const mem = JSON.parse(sql(ctx.dataDir, `SELECT value FROM plugin_kv WHERE plugin='engine.groups' AND instance='bot' AND key='skdm:${group}'`));
  assert.equal(mem.key, key1);
  assert.deepEqual(new Set(mem.devs), new Set([BOB, CAROL, ME].map((p) => ctx.lids[p]))); // device 0: <lid>@lid

  // a reply quoting Bob's message, on the same sender key
  const fromBob = await bobSays(ctx, 'question?');
  await ctx.rcv.waitFor(() => events(ctx.rcv, 'message').some((e) => e.data.id === fromBob), 15000, 'Bob\'s message');
  r = await sendText(ctx.srv, { to: group, text: 'answer', quotedMessageId: fromBob });
  assert.equal(r.status, 200, r.text);
  const m2 = r.json.data.messageId;
  for (const phone of [BOB, CAROL]) await waitFor(() => gotIt(sim, phone, m2), { what: `${phone} got the reply`, timeoutMs: 10000 });
  assert.equal((await gotIt(sim, CAROL, m2)).senderKeyId, key1, 'the same sender key');

  // Bob removes Carol: the instance renews its sender key
  const rm = await sim.api('POST', `/sim/accounts/${BOB}/groups`, { group, action: 'remove', participants: [CAROL] });
  assert.equal(rm.status, 200, JSON.stringify(rm.json));
  assert.equal(rm.json.participants[0].code, 200);
  await waitFor(() => /a member left .*our sender key for it is renewed/.test(ctx.srv.logs()), { what: 'sender key renewed', timeoutMs: 10000 });
  r = await sendText(ctx.srv, { to: group, text: 'after carol left' });
  assert.equal(r.status, 200, r.text);
  const m3 = r.json.data.messageId;
  for (const phone of [BOB, ME]) await waitFor(() => gotIt(sim, phone, m3), { what: `${phone} got the message after the removal`, timeoutMs: 10000 });
  const rec3 = await gotIt(sim, BOB, m3);
  assert.notEqual(rec3.senderKeyId, key1, 'a new sender key');
  await sleep(500);
  const carol = (await inbox(sim, CAROL)).messages;
  assert.ok(!carol.some((m) => m.id === m3), 'the removed member gets nothing');
  assert.equal(carol.filter((m) => m.participant === `${ME}@s.whatsapp.net` && m.senderKeyId !== key1).length, 0,
    'the removed member never saw the new key');

  // 1:1 after the group made a second (LID-keyed) session with Bob's phone: both ways
  // still read (the instance tries the sender's other namespace), and 1:1 events carry raw
  const dm = await sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, text: 'just us' });
  assert.equal(dm.status, 201);
  await ctx.rcv.waitFor(() => events(ctx.rcv, 'message').some((e) => e.data.id === dm.json.id), 15000, '1:1 webhook');
  const dmEv = events(ctx.rcv, 'message').find((e) => e.data.id === dm.json.id).data;
  assert.equal(dmEv.isGroup, false);
  assert.equal(dmEv.chat, `${BOB}@s.whatsapp.net`);
  assert.equal(dmEv.raw.conversation, 'just us');
  r = await sendText(ctx.srv, { to: BOB, text: 'just us too' });
  assert.equal(r.status, 200, r.text);
  await waitFor(() => gotIt(sim, BOB, r.json.data.messageId), { what: 'Bob read our 1:1', timeoutMs: 10000 });
  assert.equal(events(ctx.rcv, 'error').length, 0, JSON.stringify(events(ctx.rcv, 'error')));
});

test('a member without our sender key asks again and gets the message pairwise', { timeout: 180000 }, async (t) => {
  const ctx = await setup(t);
  const { sim, group } = ctx;
  let r = await sendText(ctx.srv, { to: group, text: 'first' });
  assert.equal(r.status, 200, r.text);
  await waitFor(() => gotIt(sim, CAROL, r.json.data.messageId), { what: 'Carol got the first', timeoutMs: 10000 });
  // Carol leaves (our key renewed), then comes back; the instance wrongly believes she
  // already holds the new key (as after a lost store on her side)
  assert.equal((await sim.api('POST', `/sim/accounts/${BOB}/groups`, { group, action: 'remove', participants: [CAROL] })).status, 200);
  await waitFor(() => /our sender key for it is renewed/.test(ctx.srv.logs()), { what: 'renewed', timeoutMs: 10000 });
  r = await sendText(ctx.srv, { to: group, text: 'without carol' });
  assert.equal(r.status, 200, r.text);
  await waitFor(() => gotIt(sim, BOB, r.json.data.messageId), { what: 'Bob got it', timeoutMs: 10000 });
  await ctx.srv.stop();
  const carolDev = ctx.lids[CAROL]; // her phone, device 0
  sql(ctx.dataDir, `UPDATE plugin_kv SET value=json_insert(value,'$.devs[#]','${carolDev}') WHERE plugin='engine.groups' AND instance='bot' AND key='skdm:${group}'`);
  ctx.srv = await startServer({ env: ctx.env, dataDir: ctx.dataDir });
  await waitFor(async () => (await status(ctx.srv, 'bot')).status === 'connected', { what: 'back', timeoutMs: 15000 });
  const add = await sim.api('POST', `/sim/accounts/${BOB}/groups`, { group, action: 'add', participants: [CAROL] });
  assert.equal(add.status, 200, JSON.stringify(add.json));
  await sleep(300); // the add notification drops the instance's member cache
  r = await sendText(ctx.srv, { to: group, text: 'can you read this?' });
  assert.equal(r.status, 200, r.text);
  const id = r.json.data.messageId;
  // Carol's phone cannot read the skmsg, sends a retry receipt; the resend is pairwise
  await waitFor(() => gotIt(sim, CAROL, id), { what: 'Carol read the resend', timeoutMs: 15000 });
  const recs = (await inbox(sim, CAROL)).messages.filter((m) => m.id === id);
  assert.ok(recs.some((m) => m.error), JSON.stringify(recs));
  assert.ok(recs.some((m) => m.text === 'can you read this?' && m.encType !== 'skmsg'), JSON.stringify(recs));
  assert.match(ctx.srv.logs(), new RegExp(`resent ${id} to ${ctx.lids[CAROL].split('@')[0]}(:0)?@lid`));
  // and the next message reaches her on the sender key she got with the resend
  r = await sendText(ctx.srv, { to: group, text: 'and now?' });
  assert.equal(r.status, 200, r.text);
  await waitFor(() => gotIt(sim, CAROL, r.json.data.messageId), { what: 'Carol read the next one', timeoutMs: 10000 });
  assert.equal((await status(ctx.srv, 'bot')).status, 'connected');
});

test('the instance removes a member itself: no notification comes back, the sender key is still renewed', { timeout: 180000 }, async (t) => {
  const ctx = await setup(t);
  const { sim, group } = ctx;
  let r = await sendText(ctx.srv, { to: group, text: 'before' });
  assert.equal(r.status, 200, r.text);
  const m1 = r.json.data.messageId;
  await waitFor(() => gotIt(sim, BOB, m1), { what: 'Bob got the first message', timeoutMs: 10000 });
  const key1 = (await gotIt(sim, BOB, m1)).senderKeyId;
  // Bob makes the instance an admin; the instance removes Carol through the groups plugin (a w:g2 IQ)
  const pr = await sim.api('POST', `/sim/accounts/${BOB}/groups`, { group, action: 'promote', participants: [ME] });
  assert.equal(pr.status, 200, JSON.stringify(pr.json));
  await sleep(300);
  r = await ctx.srv.api('DELETE', `/api/v1/instances/bot/groups/${group}/participants`, { participants: [CAROL] });
  assert.equal(r.status, 200, r.text);
  await waitFor(() => /a member left .*our sender key for it is renewed/.test(ctx.srv.logs()), { what: 'sender key renewed', timeoutMs: 10000 });
  r = await sendText(ctx.srv, { to: group, text: 'after I removed carol' });
  assert.equal(r.status, 200, r.text);
  const m2 = r.json.data.messageId;
  await waitFor(() => gotIt(sim, BOB, m2), { what: 'Bob got the message after the removal', timeoutMs: 10000 });
  assert.notEqual((await gotIt(sim, BOB, m2)).senderKeyId, key1, 'a new sender key after our own removal');
  await sleep(500);
  assert.ok(!(await inbox(sim, CAROL)).messages.some((m) => m.id === m2), 'the removed member gets nothing');
});
