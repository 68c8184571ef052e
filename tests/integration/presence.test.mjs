// tests/integration/presence.test.mjs - the presence plugin end to end through miaw-sim:
// POST /presence (the simulator sees the account available / unavailable, with the push
// name the server learned at login; a phone subscribed to the account gets both changes), typing / recording / stop-typing to a user and to a
// group (the peers' phones record the chat states), subscribe (the contact's presence and
// its changes arrive as `presence` webhook events with lastSeen, none when hidden), chat states from
// phones (1:1 and group) as `presence` events, read receipts for a message and the
// earlier unread ones (the sender's phone gets them; nothing is sent twice, a group
// receipt names the sender), bad input (unknown instance, bad presence value, bad JID,
// unknown / own message id) and the OpenAPI document. Env: MIAW_BUILD_DIR.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer, tempDir, waitFor } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { startSim, simEnv, events, pairByQr } from './lib/sim.mjs';

const ME = '15550007001';
const BOB = '15550007002';
const CAROL = '15550007003';
const JID = (p) => `${p}@s.whatsapp.net`;

let ctx;

async function setup(t) {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-prs-');
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
  const pair = await pairByQr(c.srv, sim, 'bot', ME, { name: 'Me' });
  c.deviceJid = pair.deviceJid;
  await waitFor(async () => {
    const s = await sim.api('GET', '/sim/state');
    const d = s.json.accounts.find((a) => a.phone === ME).devices.find((x) => x.jid === c.deviceJid);
    return d && d.preKeys > 0;
  }, { what: 'pre-keys uploaded', timeoutMs: 10000 });
  return c;
}

const api = (method, path, body) => ctx.srv.api(method, `/api/v1/instances/bot${path}`, body);
const simPresence = async (phone) => (await ctx.sim.api('GET', `/sim/accounts/${phone}/presence`)).json;
async function phone(phoneNo, body, status = 200) {
  const r = await ctx.sim.api('POST', `/sim/accounts/${phoneNo}/presence`, body);
  assert.equal(r.status, status, JSON.stringify(r.json));
  return r.json;
}
async function phoneText(from, to, text) {
  const r = await ctx.sim.api('POST', `/sim/accounts/${from}/messages`, { to, text });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json.id;
}
async function webhook(type, pred, what) {
  await ctx.rcv.waitFor(() => events(ctx.rcv, type).some((e) => pred(e.data)), 10000, what || type);
  return events(ctx.rcv, type).filter((e) => pred(e.data)).at(-1).data;
}
const presenceEvents = (pred) => events(ctx.rcv, 'presence').filter((e) => pred(e.data));
async function sawAt(phoneNo, pred, what) {
  let hit;
  await waitFor(async () => (hit = (await simPresence(phoneNo)).received.find(pred)), { what, timeoutMs: 10000 });
  return hit;
}
async function readBy(phoneNo, id, what) {
  let rec;
  await waitFor(async () => {
    const s = (await ctx.sim.api('GET', `/sim/accounts/${phoneNo}/messages`)).json.sent.find((m) => m.id === id);
    return (rec = s?.receipts.find((x) => x.type === 'read'));
  }, { what, timeoutMs: 10000 });
  return rec;
}
async function readCount(phoneNo, id) {
  const s = (await ctx.sim.api('GET', `/sim/accounts/${phoneNo}/messages`)).json.sent.find((m) => m.id === id);
  return s.receipts.filter((x) => x.type === 'read').length;
}
/** stops a server: exit 0, no sanitizer report in its log */
async function stopChecked(srv) {
  await srv.stop();
  const code = await srv.exited;
  assert.doesNotMatch(srv.logs(), /Sanitizer|runtime error/);
  assert.equal(code.code, 0, srv.logs().slice(-2000));
}
function bad(r, status, field, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.success, false, r.text);
  if (field) assert.equal(r.json.error.details?.field, field, r.text);
  if (code) assert.equal(r.json.error.code, code, r.text);
}

test('presence, chat states, subscriptions and read receipts through the simulator', { timeout: 240000 }, async (t) => {
  ctx = await setup(t);

  // ---- bad input first: nothing reaches the simulator
  for (const [m, p, b] of [['POST', '/presence', { presence: 'available' }], ['POST', `/typing/${BOB}`],
    ['POST', `/recording/${BOB}`], ['POST', `/stop-typing/${BOB}`], ['POST', `/read/3EB0AAAA`],
    ['POST', `/subscribe/${BOB}`]]) {
    const r = await ctx.srv.api(m, `/api/v1/instances/nope${p}`, b);
    bad(r, 404, null, 'INSTANCE_NOT_FOUND');
  }
  bad(await api('POST', '/presence', { presence: 'away' }), 400, 'presence', 'INVALID_REQUEST');
  bad(await api('POST', '/presence', {}), 400, 'presence');
  bad(await api('POST', '/presence', { presence: 1 }), 400, 'presence');
  bad(await api('POST', '/presence', '{"presence":'), 400, null, 'INVALID_REQUEST'); // malformed JSON
  for (const route of ['typing', 'recording', 'stop-typing']) {
    bad(await api('POST', `/${route}/not-a-number`), 400, 'to', 'INVALID_REQUEST');
    bad(await api('POST', `/${route}/12`), 400, 'to');
  }
  bad(await api('POST', '/subscribe/abc'), 400, 'jid');
  bad(await api('POST', '/subscribe/120363000000000001@g.us'), 400, 'jid');
  bad(await api('POST', '/read/3EB0DOESNOTEXIST'), 404, 'messageId', 'NOT_FOUND');

  // ---- presence: available with the push name (the login answer's display_name), seen by the simulator
  let r = await api('POST', '/presence', { presence: 'available' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { presence: 'available', name: 'Me' });
  await waitFor(async () => (await simPresence(ME)).available === true, { what: 'ME available at the sim' });
  // Bob's phone subscribes to ME: it gets the current presence, then the changes
  let st = await phone(BOB, { subscribe: ME });
  assert.deepEqual(st.subscriptions, [ME]);
  assert.ok(st.received.some((e) => e.type === 'presence' && e.from === JID(ME) && e.status === 'available'));
  st = await simPresence(ME);
  assert.equal(st.devices.length, 1);
  assert.equal(st.devices[0].pushName, 'Me');
  r = await api('POST', '/presence', { presence: 'unavailable' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { presence: 'unavailable', name: 'Me' });
  await waitFor(async () => (st = await simPresence(ME)).available === false, { what: 'ME unavailable' });
  assert.ok(st.lastSeen > 0);
  const off = await sawAt(BOB, (e) => e.type === 'presence' && e.from === JID(ME) && e.status === 'unavailable',
    'Bob sees ME go offline');
  assert.equal(Number(off.last), st.lastSeen);

  // ---- chat states to a user: Bob's phone records them in order
  for (const [route, state] of [['typing', 'composing'], ['recording', 'recording'], ['stop-typing', 'paused']]) {
    r = await api('POST', `/${route}/+${BOB}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data, { to: JID(BOB), state });
  }
  await sawAt(BOB, (e) => e.type === 'chatstate' && e.state === 'paused', 'paused at Bob');
  const cs = (await simPresence(BOB)).received.filter((e) => e.type === 'chatstate');
  assert.deepEqual(cs.map((e) => [e.from, e.state, e.media ?? null]),
    [[JID(ME), 'composing', null], [JID(ME), 'composing', 'audio'], [JID(ME), 'paused', null]]);
  r = await api('POST', `/typing/${JID(CAROL)}`); // a JID works as well
  assert.equal(r.status, 200, r.text);
  await sawAt(CAROL, (e) => e.type === 'chatstate' && e.state === 'composing' && e.from === JID(ME), 'typing at Carol');

  // ---- a group: Bob's phone creates it with ME and Carol; typing there reaches Carol's phone
  const g = await ctx.sim.api('POST', `/sim/accounts/${BOB}/groups`, { subject: 'Presence', participants: [ME, CAROL] });
  assert.equal(g.status, 201, JSON.stringify(g.json));
  const gjid = g.json.jid;
  r = await api('POST', `/recording/${gjid}`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { to: gjid, state: 'recording' });
  const gcs = await sawAt(CAROL, (e) => e.type === 'chatstate' && e.from === gjid, 'group chat state at Carol');
  assert.equal(gcs.media, 'audio');
  assert.match(gcs.participant, /@lid$/);

  // ---- subscribe: Bob's presence arrives as events (never seen: no lastSeen), then its changes
  r = await api('POST', `/subscribe/${BOB}`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { jid: JID(BOB), subscribed: true });
  let ev = await webhook('presence', (d) => d.jid === JID(BOB) && d.status === 'unavailable', 'Bob unavailable');
  assert.equal(ev.lastSeen, undefined);
  assert.equal(ev.chat, undefined);
  await phone(BOB, { presence: 'available' });
  ev = await webhook('presence', (d) => d.jid === JID(BOB) && d.status === 'available', 'Bob available');
  assert.deepEqual(ev, { jid: JID(BOB), status: 'available' });
  await phone(BOB, { presence: 'unavailable' });
  await waitFor(() => presenceEvents((d) => d.jid === JID(BOB) && d.status === 'unavailable' && d.lastSeen > 0).length,
    { what: 'Bob offline with lastSeen' });
  ev = presenceEvents((d) => d.jid === JID(BOB) && d.lastSeen > 0)[0].data;
  assert.equal(ev.lastSeen, (await simPresence(BOB)).lastSeen);
  const withInstance = events(ctx.rcv, 'presence').find((e) => e.data.jid === JID(BOB));
  assert.equal(withInstance.instanceId, 'bot');
  // Bob hides his last seen: the next offline comes without lastSeen
  assert.equal((await phone(BOB, { lastSeen: 'none' })).lastSeenPrivacy, 'none');
  await phone(BOB, { lastSeen: 'some' }, 400);
  let n = events(ctx.rcv, 'presence').length;
  await phone(BOB, { presence: 'available' });
  await phone(BOB, { presence: 'unavailable' });
  await waitFor(() => events(ctx.rcv, 'presence').slice(n).some((e) => e.data.jid === JID(BOB) && e.data.status === 'unavailable'),
    { what: 'Bob offline again' });
  ev = events(ctx.rcv, 'presence').slice(n).find((e) => e.data.status === 'unavailable').data;
  assert.deepEqual(ev, { jid: JID(BOB), status: 'unavailable' });

  // ---- chat states from phones: 1:1 and in the group
  for (const state of ['composing', 'recording', 'paused']) {
    await phone(CAROL, { chatstate: state, to: ME });
    ev = await webhook('presence', (d) => d.jid === JID(CAROL) && d.status === state, `Carol ${state}`);
    assert.deepEqual(ev, { jid: JID(CAROL), chat: JID(CAROL), status: state });
  }
  await phone(CAROL, { chatstate: 'composing', to: gjid });
  ev = await webhook('presence', (d) => d.chat === gjid && d.status === 'composing', 'Carol typing in the group');
  assert.match(ev.jid, /@lid$/);
  await phone(CAROL, { chatstate: 'sleeping', to: ME }, 400);
  await phone(CAROL, { chatstate: 'composing', to: '15559999999' }, 404);
  await phone(CAROL, { presence: 'busy' }, 400);

  // ---- read receipts: three texts from Bob; reading the second marks the first two
  const ids = [];
  for (const text of ['one', 'two', 'three']) {
    const id = await phoneText(BOB, ME, text);
    ids.push(id);
    await webhook('message', (d) => d.id === id, `message ${text}`);
  }
  r = await api('POST', `/read/${ids[1]}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.chat, JID(BOB));
  assert.deepEqual(r.json.data.read, [ids[1], ids[0]]);
  assert.equal(r.json.data.receipts, 1);
  const rec = await readBy(BOB, ids[0], 'read receipt for the first (list item)');
  assert.equal(rec.from.split(/[:@]/)[0], ME);
  await readBy(BOB, ids[1], 'read receipt for the second');
  // nothing twice: the same or an older message again sends nothing
  r = await api('POST', `/read/${ids[1]}`);
  assert.deepEqual(r.json.data.read, []);
  assert.equal(r.json.data.receipts, 0);
  r = await api('POST', `/read/${ids[0]}`);
  assert.deepEqual(r.json.data.read, []);
  r = await api('POST', `/read/${ids[2]}`);
  assert.deepEqual(r.json.data.read, [ids[2]]);
  await readBy(BOB, ids[2], 'read receipt for the third');
  assert.equal(await readCount(BOB, ids[0]), 1);
  assert.equal(await readCount(BOB, ids[1]), 1);
  // our own message cannot be marked read
  const mine = await api('POST', '/messages/text', { to: BOB, text: 'mine' });
  assert.equal(mine.status, 200, mine.text);
  bad(await api('POST', `/read/${mine.json.data.messageId}`), 400, 'messageId', 'INVALID_REQUEST');

  // ---- a group message: the receipt goes to its sender (participant)
  const gm = await ctx.sim.api('POST', `/sim/accounts/${CAROL}/messages`, { to: gjid, text: 'in the group' });
  assert.equal(gm.status, 201, JSON.stringify(gm.json));
  await webhook('message', (d) => d.id === gm.json.id, 'group message');
  r = await api('POST', `/read/${gm.json.id}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.chat, gjid);
  assert.deepEqual(r.json.data.read, [gm.json.id]);
  await readBy(CAROL, gm.json.id, 'group read receipt at Carol');

  // the marks survive a restart of the server: nothing is sent again
  await stopChecked(ctx.srv);
  ctx.srv = await startServer({ env: simEnv(ctx.sim, { MIAW_WEBHOOK_URL: ctx.rcv.url }), dataDir: ctx.dataDir });
  await waitFor(async () => (await ctx.srv.api('GET', '/api/v1/instances/bot/status')).json?.data?.status === 'connected',
    { what: 'reconnected', timeoutMs: 20000 });
  r = await api('POST', `/read/${ids[2]}`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data.read, []);

  // both processes end cleanly (no sanitizer report with an ASan+UBSan build)
  const srv = ctx.srv;
  ctx.srv = null;
  await stopChecked(srv);
  await ctx.sim.stop();
  assert.equal(ctx.sim.proc.exitCode, 0, 'miaw-sim exit status');
});

test('OpenAPI lists the presence routes and the presence event', { timeout: 30000 }, async () => {
  const srv = await startServer({});
  try {
    const r = await srv.api('GET', '/openapi.json');
    assert.equal(r.status, 200);
    const doc = r.json;
    const paths = Object.keys(doc.paths);
    for (const p of ['/presence', '/typing/{to}', '/recording/{to}', '/stop-typing/{to}', '/read/{messageId}',
      '/subscribe/{jid}']) {
      const want = `/instances/{instanceId}${p}`;
      const key = paths.find((k) => k === want || k === `/api/v1${want}`);
      assert.ok(key, `${want} in ${paths.join(' ')}`);
      assert.ok(doc.paths[key].post, `POST ${want}`);
      assert.equal(doc.paths[key].post['x-plugin'].name, 'presence');
    }
    assert.ok(doc.webhooks.presence, 'presence event documented');
    assert.match(JSON.stringify(doc.webhooks.presence), /presence/);
  } finally {
    await srv.stop();
  }
});
