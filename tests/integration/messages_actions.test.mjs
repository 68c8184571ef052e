// tests/integration/messages_actions.test.mjs - the message actions and kinds of the
// messages plugin end to end through miaw-sim: edit, delete (revoke), react, forward
// (text and media, no re-upload), location, contact cards, mentions, each seen decoded by
// a simulated phone; the same kinds sent by a phone reach the right webhook events
// (message_edit, message_delete, message_reaction; location / contacts in `message`);
// message_ack server / delivery / read / played; chat storage after edits and revokes
// (read with the sqlite3 CLI); admin revoke and reactions in a group; bad input (4xx in
// the envelope with details.field). Env: MIAW_BUILD_DIR, MIAW_SIM_LOG=1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, tempDir, waitFor, sleep } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { startSim, simEnv, events, pairByQr } from './lib/sim.mjs';
import { Validator } from '@seriousme/openapi-schema-validator';

const ME = '15550004444';
const BOB = '15550005555';
const CAROL = '15550006666';
const JID = (p) => `${p}@s.whatsapp.net`;
// 1x1 white PNG
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==';

let ctx;

async function setup(t) {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-act-');
  const sim = await startSim({ stateDir: simDir });
  const rcv = await startReceiver();
  const c = { sim, rcv, dataDir, simDir, srv: null };
  t.after(async () => {
    if (c.srv) await c.srv.stop();
    await c.sim.stop();
    await rcv.close();
    rmSync(simDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  c.srv = await startServer({ env: simEnv(sim, { MIAW_WEBHOOK_URL: rcv.url }), dataDir });
  assert.equal((await c.srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201);
  for (const [phone, name] of [[BOB, 'Bob'], [CAROL, 'Carol']])
    assert.equal((await sim.api('POST', '/sim/accounts', { phone, name })).status, 201);
  c.deviceJid = (await pairByQr(c.srv, sim, 'bot', ME, { name: 'Me' })).deviceJid;
  await waitFor(async () => {
    const s = await sim.api('GET', '/sim/state');
    const d = s.json.accounts.find((a) => a.phone === ME).devices.find((x) => x.jid === c.deviceJid);
    return d && d.preKeys > 0;
  }, { what: 'pre-keys uploaded', timeoutMs: 10000 });
  return c;
}

const api = (method, path, body) => ctx.srv.api(method, `/api/v1/instances/bot${path}`, body);
const inbox = async (phone) => (await ctx.sim.api('GET', `/sim/accounts/${phone}/messages`)).json;
const phoneSends = async (phone, body) => {
  const r = await ctx.sim.api('POST', `/sim/accounts/${phone}/messages`, body);
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json.id;
};
/** waits until phone got a message matching pred; returns it */
async function received(phone, pred, what) {
  let hit;
  await waitFor(async () => (hit = (await inbox(phone)).messages.find(pred)), { what, timeoutMs: 10000 });
  return hit;
}
async function webhook(type, pred, what) {
  await ctx.rcv.waitFor(() => events(ctx.rcv, type).some((e) => pred(e.data)), 10000, what || type);
  return events(ctx.rcv, type).find((e) => pred(e.data)).data;
}
function row(id) {
  const out = execFileSync('sqlite3', ['-json', join(ctx.dataDir, 'miaw.db'),
    `SELECT chat, from_me, type, text, status, edited_at, raw IS NULL AS noraw FROM wa_messages WHERE instance='bot' AND id='${id}'`]).toString();
  return out.trim() ? JSON.parse(out)[0] : null;
}
async function sendText(body) {
  const r = await api('POST', '/messages/text', body);
  assert.equal(r.status, 200, r.text);
  return r.json.data.messageId;
}
/** stops the server and the simulator: both exit 0 with no sanitizer report (ASan builds) */
async function finish() {
  const srv = ctx.srv;
  ctx.srv = null;
  await srv.stop();
  const { code } = await srv.exited;
  if (process.env.MIAW_LOG) console.error(srv.logs());
  assert.doesNotMatch(srv.logs(), /Sanitizer|runtime error/);
  assert.equal(code, 0, srv.logs().slice(-2000));
  await ctx.sim.stop();
  assert.equal(ctx.sim.proc.exitCode, 0, 'miaw-sim exit status');
}
function bad(r, status, field) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.success, false);
  if (field) assert.equal(r.json.error.details?.field, field, r.text);
}

test('message actions and kinds through the simulator', { timeout: 240000 }, async (t) => {
  ctx = await setup(t);

  // ---- text with mentions; message_ack server, then delivery from Bob's phone, then read / played
  const m1 = await sendText({ to: BOB, text: `hi @${CAROL}`, mentions: [CAROL, `+${BOB}`] });
  const got1 = await received(BOB, (m) => m.id === m1, 'mentions at Bob');
  assert.equal(got1.text, `hi @${CAROL}`);
  assert.deepEqual(got1.mentions, [JID(CAROL), JID(BOB)]);
  bad(await api('POST', '/messages/text', { to: BOB, text: 'x', mentions: ['abc'] }), 400, 'mentions[0]');
  bad(await api('POST', '/messages/text', { to: BOB, text: 'x', mentions: ['120363000000000001@g.us'] }), 400, 'mentions[0]');
  let ack = await webhook('message_ack', (d) => d.messageId === m1 && d.status === 'server', 'ack server');
  assert.equal(ack.chat, JID(BOB));
  assert.equal(ack.from, null);
  assert.ok(Math.abs(ack.timestamp * 1000 - Date.now()) < 60000);
  ack = await webhook('message_ack', (d) => d.messageId === m1 && d.status === 'delivery', 'ack delivery');
  assert.equal(ack.from, JID(BOB));
  assert.equal(ack.chat, JID(BOB));
  const m2 = await sendText({ to: BOB, text: 'second' });
  await received(BOB, (m) => m.id === m2, 'second at Bob');
  // one read receipt for both (the second id in <list><item>), then played for one
  assert.equal((await ctx.sim.api('POST', `/sim/accounts/${BOB}/messages`,
    { to: ME, receipt: { ids: [m1, m2], type: 'read' } })).status, 201);
  await webhook('message_ack', (d) => d.messageId === m1 && d.status === 'read', 'read m1');
  await webhook('message_ack', (d) => d.messageId === m2 && d.status === 'read', 'read m2 (list item)');
  assert.equal((await ctx.sim.api('POST', `/sim/accounts/${BOB}/messages`,
    { to: ME, receipt: { ids: [m1], type: 'played' } })).status, 201);
  await webhook('message_ack', (d) => d.messageId === m1 && d.status === 'played', 'played m1');
  // a late delivery receipt after read is not reported again; nothing twice
  await sleep(300);
  const acks = events(ctx.rcv, 'message_ack').filter((e) => e.data.messageId === m1).map((e) => e.data.status);
  assert.deepEqual(acks.sort(), ['delivery', 'played', 'read', 'server'], acks.join());

  // ---- edit our own text: Bob's phone sees the edit, chat storage holds the new text
  let r = await api('POST', `/messages/${m2}`, { text: 'second (edited)' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.messageId, m2);
  assert.match(r.json.data.protocolMessageId, /^3EB0/);
  const ed = await received(BOB, (m) => m.type === 'edit' && m.edit.messageId === m2, 'edit at Bob');
  assert.equal(ed.edit.text, 'second (edited)');
  assert.equal(ed.edit.style, 'wrapped');
  await waitFor(() => row(m2)?.text === 'second (edited)', { what: 'stored edit' });
  assert.ok(row(m2).edited_at > 0);
  assert.equal(row(r.json.data.protocolMessageId), null, 'the edit itself is not a stored message');
  // a forward of the edited message carries the new text
  r = await api('POST', `/messages/${m2}/forward`, { to: CAROL });
  assert.equal(r.status, 200, r.text);
  const fw = await received(CAROL, (m) => m.id === r.json.data.messageId, 'forward at Carol');
  assert.equal(fw.text, 'second (edited)');
  assert.equal(fw.forwarded, true);
  assert.equal(fw.forwardingScore, 1);

  // ---- delete our own message: Bob's phone sees the revoke, storage marks it
  r = await api('DELETE', `/messages/${m1}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.deleted, true);
  assert.equal(r.json.data.asAdmin, false);
  const rv = await received(BOB, (m) => m.type === 'revoke' && m.revoke.messageId === m1, 'revoke at Bob');
  assert.equal(rv.revoke.fromMe, true);
  await waitFor(() => row(m1)?.status === 'revoked', { what: 'stored revoke' });
  assert.equal(row(m1).text, null);
  assert.equal(row(m1).noraw, 1);
  assert.equal(row(m1).type, 'text');
  // a late receipt does not undo "revoked"
  await ctx.sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, receipt: { ids: [m1], type: 'read' } });
  await sleep(300);
  assert.equal(row(m1).status, 'revoked');
  bad(await api('DELETE', `/messages/${m1}`), 409, 'messageId');
  bad(await api('POST', `/messages/${m1}`, { text: 'x' }), 409, 'messageId');
  bad(await api('POST', `/messages/${m1}/reaction`, { emoji: '👍' }), 409, 'messageId');
  bad(await api('POST', `/messages/${m1}/forward`, { to: CAROL }), 409, 'messageId');

  // ---- Bob writes; we react, remove the reaction; edit / delete of his message refused
  const b1 = await phoneSends(BOB, { to: ME, text: 'from bob' });
  await webhook('message', (d) => d.id === b1);
  r = await api('POST', `/messages/${b1}/reaction`, { emoji: '👍' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.messageId, b1);
  let re = await received(BOB, (m) => m.type === 'reaction' && m.reaction.messageId === b1 && m.reaction.emoji === '👍', 'reaction at Bob');
  assert.equal(re.reaction.fromMe, false, 'the key is ours: Bob wrote the message');
  r = await api('POST', `/messages/${b1}/reaction`, { emoji: '' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.removed, true);
  await received(BOB, (m) => m.type === 'reaction' && m.reaction.messageId === b1 && m.reaction.emoji === '', 'removal at Bob');
  for (const emoji of ['hello', '👍 ok', ' ', 'a👍', '1'])
    bad(await api('POST', `/messages/${b1}/reaction`, { emoji }), 400, 'emoji');
  r = await api('POST', `/messages/${b1}/reaction`, { emoji: '🇧🇷' });
  assert.equal(r.status, 200, 'a flag is one emoji: ' + r.text);
  r = await api('POST', `/messages/${b1}/reaction`, { emoji: '1️⃣' });
  assert.equal(r.status, 200, 'a keycap is one emoji: ' + r.text);
  bad(await api('POST', `/messages/${b1}/reaction`, {}), 400, 'emoji');
  bad(await api('POST', `/messages/${b1}`, { text: 'mine now' }), 409, 'messageId');
  bad(await api('DELETE', `/messages/${b1}`), 409, 'messageId');
  bad(await api('POST', '/messages/3EB0000000000000000000', { text: 'x' }), 404, 'messageId');
  bad(await api('DELETE', '/messages/3EB0000000000000000000'), 404, 'messageId');
  bad(await api('POST', '/messages/3EB0000000000000000000/reaction', { emoji: '👍' }), 404, 'messageId');
  bad(await api('POST', '/messages/3EB0000000000000000000/forward', { to: BOB }), 404, 'messageId');
  bad(await api('POST', `/messages/${b1}`, { text: '' }), 400, 'text');
  bad(await api('POST', `/messages/${b1}`, {}), 400, 'text');
  bad(await api('POST', `/messages/${b1}/forward`, { to: 'abc' }), 400, 'to');
  bad(await api('POST', `/messages/${b1}/forward`, {}), 400, 'to');
  assert.equal((await ctx.srv.api('DELETE', `/api/v1/instances/nope/messages/${b1}`)).status, 404);

  // ---- location
  r = await api('POST', '/messages/location', { to: BOB, latitude: -6.175392, longitude: 106.827153, name: 'Monas', address: 'Gambir; Jakarta' });
  assert.equal(r.status, 200, r.text);
  const loc = await received(BOB, (m) => m.id === r.json.data.messageId, 'location at Bob');
  assert.equal(loc.type, 'location');
  assert.deepEqual(loc.location, { latitude: -6.175392, longitude: 106.827153, name: 'Monas', address: 'Gambir; Jakarta', url: null });
  bad(await api('POST', `/messages/${r.json.data.messageId}`, { text: 'x' }), 409, 'messageId'); // not text
  bad(await api('POST', '/messages/location', { to: BOB, latitude: 91, longitude: 0 }), 400, 'latitude');
  bad(await api('POST', '/messages/location', { to: BOB, latitude: 0, longitude: -180.5 }), 400, 'longitude');
  bad(await api('POST', '/messages/location', { to: BOB, latitude: '1', longitude: 0 }), 400, 'latitude');
  bad(await api('POST', '/messages/location', { to: BOB, longitude: 0 }), 400, 'latitude');
  bad(await api('POST', '/messages/location', { to: 'x', latitude: 0, longitude: 0 }), 400, 'to');

  // ---- contact cards
  r = await api('POST', '/messages/contact', { to: BOB, contacts: [{ name: 'John Doe', phone: '+62 812-3456-7890', org: 'Acme, Inc.', email: 'john@example.com' }] });
  assert.equal(r.status, 200, r.text);
  const card = await received(BOB, (m) => m.id === r.json.data.messageId, 'card at Bob');
  assert.equal(card.type, 'contact');
  assert.equal(card.contacts[0].name, 'John Doe');
  assert.equal(card.contacts[0].vcard, 'BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\nORG:Acme\\, Inc.\r\n' +
    'EMAIL;type=INTERNET:john@example.com\r\nTEL;type=CELL;type=VOICE;waid=6281234567890:+6281234567890\r\nEND:VCARD\r\n');
  r = await api('POST', '/messages/contact', { to: BOB, contacts: [{ name: 'Ann', phone: BOB }, { name: 'Ben', phone: CAROL }] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.contacts, 2);
  const cards = await received(BOB, (m) => m.id === r.json.data.messageId, 'cards at Bob');
  assert.equal(cards.type, 'contacts');
  assert.deepEqual(cards.contacts.map((c) => c.name), ['Ann', 'Ben']);
  assert.match(cards.contacts[1].vcard, new RegExp(`waid=${CAROL}:\\+${CAROL}`));
  bad(await api('POST', '/messages/contact', { to: BOB, contacts: [] }), 400, 'contacts');
  bad(await api('POST', '/messages/contact', { to: BOB, contacts: [{ name: 'A', phone: '12ab' }] }), 400, 'contacts[0].phone');
  bad(await api('POST', '/messages/contact', { to: BOB, contacts: [{ name: 'A', phone: BOB }, { name: 'B', phone: BOB, email: 'nope' }] }), 400, 'contacts[1].email');
  bad(await api('POST', '/messages/contact', { to: BOB, contacts: [{ phone: BOB }] }), 400, 'contacts[0].name');
  bad(await api('POST', '/messages/contact', { to: BOB, contacts: [{ name: 'A', phone: BOB, x: 1 }] }), 400);

  // ---- forward media received from Bob: Carol's phone downloads the same blob (no re-upload)
  const img = await phoneSends(BOB, { to: ME, image: { base64: PNG, mimetype: 'image/png', caption: 'pic' } });
  await webhook('message', (d) => d.id === img);
  const uploads = (await ctx.sim.api('GET', '/sim/media')).json.uploads;
  r = await api('POST', `/messages/${img}/forward`, { to: CAROL });
  assert.equal(r.status, 200, r.text);
  const fimg = await received(CAROL, (m) => m.id === r.json.data.messageId, 'forwarded image at Carol');
  assert.equal(fimg.type, 'image');
  assert.equal(fimg.mediaOk, true, JSON.stringify(fimg));
  assert.equal(fimg.caption, 'pic');
  assert.equal(fimg.forwarded, true);
  assert.equal((await ctx.sim.api('GET', '/sim/media')).json.uploads, uploads, 'nothing uploaded again');
  await finish();
});

test('kinds sent by a phone reach the webhook events; chat storage follows', { timeout: 180000 }, async (t) => {
  ctx = await setup(t);
  const mine = await sendText({ to: BOB, text: 'react to me' });
  await received(BOB, (m) => m.id === mine, 'at Bob');

  // reaction to our message
  await phoneSends(BOB, { to: ME, reaction: { messageId: mine, emoji: '❤️' } });
  let d = await webhook('message_reaction', (x) => x.messageId === mine && x.emoji === '❤️');
  assert.equal(d.from, JID(BOB));
  assert.equal(d.chat, JID(BOB));
  assert.equal(d.fromMe, false);
  assert.equal(d.isGroup, false);
  await phoneSends(BOB, { to: ME, reaction: { messageId: mine, emoji: '' } });
  await webhook('message_reaction', (x) => x.messageId === mine && x.emoji === '');

  // Bob edits his message (both shapes), then deletes it
  const b1 = await phoneSends(BOB, { to: ME, text: 'typo' });
  await webhook('message', (x) => x.id === b1);
  await phoneSends(BOB, { to: ME, edit: { messageId: b1, text: 'fixed' } });
  d = await webhook('message_edit', (x) => x.messageId === b1 && x.text === 'fixed');
  assert.equal(d.from, JID(BOB));
  assert.deepEqual(d.message, { conversation: 'fixed' });
  assert.ok(Math.abs(d.editedAt * 1000 - Date.now()) < 60000, `editedAt ${d.editedAt}`);
  assert.match(d.protocolMessageId, /^3EB0/);
  await waitFor(() => row(b1)?.text === 'fixed', { what: 'stored edit of Bob' });
  assert.ok(row(b1).edited_at > 0);
  // the core's message event is there too, type protocol with raw
  const pm = events(ctx.rcv, 'message').find((e) => e.data.id === d.protocolMessageId);
  assert.equal(pm.data.type, 'protocol');
  assert.equal(pm.data.text, 'fixed');
  assert.equal(pm.data.raw.protocolMessage.key.id, b1);
  await phoneSends(BOB, { to: ME, edit: { messageId: b1, text: 'fixed again', wrapped: false } });
  await webhook('message_edit', (x) => x.messageId === b1 && x.text === 'fixed again');
  await waitFor(() => row(b1)?.text === 'fixed again', { what: 'stored plain edit' });
  await phoneSends(BOB, { to: ME, revoke: { messageId: b1 } });
  d = await webhook('message_delete', (x) => x.messageId === b1);
  assert.equal(d.from, JID(BOB));
  assert.equal(d.fromMe, false);
  await waitFor(() => row(b1)?.status === 'revoked', { what: 'stored revoke of Bob' });
  assert.equal(row(b1).text, null);

  // Bob cannot edit or delete our message: storage unchanged, no event
  await phoneSends(BOB, { to: ME, edit: { messageId: mine, text: 'hacked' } });
  await phoneSends(BOB, { to: ME, revoke: { messageId: mine } });
  const marker = await phoneSends(BOB, { to: ME, text: 'marker' });
  await webhook('message', (x) => x.id === marker);
  await sleep(200);
  assert.equal(row(mine).text, 'react to me');
  assert.notEqual(row(mine).status, 'revoked');
  assert.ok(!events(ctx.rcv, 'message_edit').some((e) => e.data.messageId === mine));
  assert.ok(!events(ctx.rcv, 'message_delete').some((e) => e.data.messageId === mine));

  // the account's own phone edits and deletes its message to Bob: the copies (DSM) reach
  // the instance, storage follows, the events say fromMe
  const own = await phoneSends(ME, { to: BOB, text: 'from my phone' });
  await webhook('message', (x) => x.id === own && x.fromMe === true);
  await phoneSends(ME, { to: BOB, edit: { messageId: own, text: 'from my phone, edited' } });
  d = await webhook('message_edit', (x) => x.messageId === own);
  assert.equal(d.fromMe, true);
  assert.equal(d.chat, JID(BOB));
  assert.equal(d.text, 'from my phone, edited');
  await waitFor(() => row(own)?.text === 'from my phone, edited', { what: 'stored own-device edit' });
  await phoneSends(ME, { to: BOB, revoke: { messageId: own } });
  d = await webhook('message_delete', (x) => x.messageId === own);
  assert.equal(d.fromMe, true);
  await waitFor(() => row(own)?.status === 'revoked', { what: 'stored own-device revoke' });

  // location and contact cards: typed fields in the message event
  const l = await phoneSends(BOB, { to: ME, location: { latitude: 48.8584, longitude: 2.2945, name: 'Tour Eiffel', address: 'Paris' } });
  d = await webhook('message', (x) => x.id === l);
  assert.equal(d.type, 'location');
  assert.deepEqual(d.location, { latitude: 48.8584, longitude: 2.2945, name: 'Tour Eiffel', address: 'Paris' });
  const vcard = 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL;waid=15550001234:+15550001234\r\nEND:VCARD\r\n';
  const c1 = await phoneSends(BOB, { to: ME, contact: { name: 'Ann', vcard } });
  d = await webhook('message', (x) => x.id === c1);
  assert.equal(d.type, 'contact');
  assert.deepEqual(d.contacts, [{ name: 'Ann', vcard }]);
  const c2 = await phoneSends(BOB, { to: ME, contacts: [{ name: 'Ann', vcard }, { name: 'Ben', vcard: 'BEGIN:VCARD\r\nEND:VCARD' }] });
  d = await webhook('message', (x) => x.id === c2);
  assert.equal(d.type, 'contact');
  assert.deepEqual(d.contacts.map((c) => c.name), ['Ann', 'Ben']);
  // a received location can be forwarded
  const r = await api('POST', `/messages/${l}/forward`, { to: CAROL });
  assert.equal(r.status, 200, r.text);
  const f = await received(CAROL, (m) => m.id === r.json.data.messageId, 'forwarded location');
  assert.equal(f.location.name, 'Tour Eiffel');
  assert.equal(f.forwarded, true);
  // sim control refusals
  assert.equal((await ctx.sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, reaction: { emoji: 'x' } })).status, 400);
  assert.equal((await ctx.sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, location: { latitude: 100, longitude: 0 } })).status, 400);
  await finish();
});

test('groups: reactions, and an admin deletes a member\'s message', { timeout: 180000 }, async (t) => {
  ctx = await setup(t);
  const g = await ctx.sim.api('POST', `/sim/accounts/${BOB}/groups`, { subject: 'Team', participants: [ME, CAROL] });
  assert.equal(g.status, 201, JSON.stringify(g.json));
  const group = g.json.jid;
  const c1 = await phoneSends(CAROL, { to: group, text: 'hello team' });
  await webhook('message', (x) => x.id === c1);
  // a reaction names Carol as the participant
  let r = await api('POST', `/messages/${c1}/reaction`, { emoji: '🎉' });
  assert.equal(r.status, 200, r.text);
  const re = await received(CAROL, (m) => m.type === 'reaction' && m.reaction.messageId === c1, 'group reaction at Carol');
  assert.equal(re.reaction.emoji, '🎉');
  assert.equal(re.reaction.participant, JID(CAROL));
  // our own group message: edited and deleted
  const mine = await sendText({ to: group, text: 'group typo' });
  await received(CAROL, (m) => m.id === mine, 'group text at Carol');
  r = await api('POST', `/messages/${mine}`, { text: 'group fixed' });
  assert.equal(r.status, 200, r.text);
  const ed = await received(CAROL, (m) => m.type === 'edit' && m.edit.messageId === mine, 'group edit at Carol');
  assert.equal(ed.edit.text, 'group fixed');
  await waitFor(() => row(mine)?.text === 'group fixed', { what: 'stored group edit' });
  // Bob (superadmin) makes us admin; we delete Carol's message as an admin
  const p = await ctx.sim.api('POST', `/sim/accounts/${BOB}/groups`, { group, action: 'promote', participants: [ME] });
  assert.equal(p.status, 200, JSON.stringify(p.json));
  r = await api('DELETE', `/messages/${c1}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.asAdmin, true);
  const rv = await received(CAROL, (m) => m.type === 'revoke' && m.revoke.messageId === c1, 'admin revoke at Carol');
  assert.equal(rv.revoke.participant, JID(CAROL));
  assert.equal(rv.revoke.fromMe, false);
  await waitFor(() => row(c1)?.status === 'revoked', { what: 'stored admin revoke' });
  await finish();
});

test('the routes and events are in the OpenAPI document, with schemas and examples', { timeout: 60000 }, async () => {
  const s = await startServer();
  try {
    const r = await s.api('GET', '/openapi.json', undefined, { noauth: true });
    assert.equal(r.status, 200);
    const doc = JSON.parse(r.text);
    const res = await new Validator().validate(doc);
    assert.equal(res.valid, true, JSON.stringify(res.errors, null, 1));
    const item = doc.paths['/instances/{instanceId}/messages/{messageId}'];
    assert.ok(item.post && item.delete, Object.keys(item).join());
    const ops = [item.post, item.delete, doc.paths['/instances/{instanceId}/messages/{messageId}/reaction'].post,
      doc.paths['/instances/{instanceId}/messages/{messageId}/forward'].post,
      doc.paths['/instances/{instanceId}/messages/location'].post, doc.paths['/instances/{instanceId}/messages/contact'].post];
    for (const op of ops) {
      assert.ok(op.description.length > 80, op.operationId);
      assert.ok(JSON.stringify(op.responses['200']).includes('3EB0'), `${op.operationId}: response example`);
      assert.ok(op.parameters?.some((p) => p.name === 'instanceId'), op.operationId);
    }
    assert.deepEqual(Object.keys(item.post.requestBody.content['application/json'].schema.properties), ['text']);
    const loc = doc.paths['/instances/{instanceId}/messages/location'].post.requestBody.content['application/json'].schema;
    assert.equal(loc.properties.latitude.minimum, -90);
    assert.equal(loc.properties.longitude.maximum, 180);
    const con = doc.paths['/instances/{instanceId}/messages/contact'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(con.properties.contacts.items.required.sort(), ['name', 'phone']);
    const text = doc.paths['/instances/{instanceId}/messages/text'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(text.properties.mentions.type, ['array', 'null']);
    assert.equal(text.properties.mentions.items.type, 'string');
    for (const ev of ['message_edit', 'message_delete', 'message_reaction', 'message_ack'])
      assert.ok(doc.webhooks[ev], `webhook ${ev}`);
    assert.match(JSON.stringify(doc.webhooks.message_ack), /delivery/);
  } finally { await s.stop(); }
});
