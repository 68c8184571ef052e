// tests/integration/messages_history.test.mjs - chat history through miaw-sim: a paired
// instance exchanges 1:1 texts with two simulated phones and gets group texts from both,
// then GET /instances/{id}/chats and /chats/{jid}/messages are paged with small limits
// (newest first, no duplicates, no gaps, counts and last messages, filters type / fromMe /
// since / until, a phone number as jid, pages stay exact while a message arrives), GET
// /messages/{messageId} (shape, 404), 400s for bad parameters and cursors, the OpenAPI
// entries; retention: rows aged in the database (sqlite3) are deleted by the sweep after a
// restart with MIAW_CHAT_RETENTION_DAYS=1, newer ones stay, a bad value stops the start.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, tempDir, waitFor } from './lib/harness.mjs';
import { startSim, simEnv, pairByQr } from './lib/sim.mjs';

const ME = '15550004444';
const BOB = '15550005555';
const CAROL = '15550006666';
const jidOf = (phone) => `${phone}@s.whatsapp.net`;
const sql = (dataDir, q) => execFileSync('sqlite3', [join(dataDir, 'miaw.db'), q], { encoding: 'utf8' }).trim();

async function setup(t) {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-hist-');
  const sim = await startSim({ stateDir: simDir });
  const ctx = { sim, dataDir, srv: null };
  t.after(async () => {
    if (ctx.srv) await ctx.srv.stop();
    await sim.stop();
    rmSync(simDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  ctx.env = simEnv(sim);
  ctx.srv = await startServer({ env: ctx.env, dataDir });
  assert.equal((await ctx.srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201);
  for (const [phone, name] of [[BOB, 'Bob'], [CAROL, 'Carol']])
    assert.equal((await sim.api('POST', '/sim/accounts', { phone, name })).status, 201);
  const { deviceJid } = await pairByQr(ctx.srv, sim, 'bot', ME, { name: 'Me' });
  await waitFor(async () => {
    const s = await sim.api('GET', '/sim/state');
    const d = s.json.accounts.find((a) => a.phone === ME).devices.find((x) => x.jid === deviceJid);
    return d && d.preKeys > 0;
  }, { what: 'pre-keys uploaded', timeoutMs: 10000 });
  const g = await sim.api('POST', `/sim/accounts/${BOB}/groups`, { subject: 'History', participants: [ME, CAROL] });
  assert.equal(g.status, 201, JSON.stringify(g.json));
  ctx.group = g.json.jid;
  return ctx;
}

const get = (srv, path) => srv.api('GET', `/api/v1/instances/bot${path}`);

/** waits until message id is in chat storage; its stored record */
async function stored(srv, id) {
  let m;
  await waitFor(async () => {
    const r = await get(srv, `/messages/${id}`);
    if (r.status === 200) m = r.json.data;
    return r.status === 200;
  }, { what: `message ${id} stored`, timeoutMs: 15000 });
  return m;
}

/** one step of the conversation: who writes to which chat; returns the message id once stored */
async function say(ctx, from, chat, text) {
  let id;
  if (from === 'me') {
    const r = await ctx.srv.api('POST', '/api/v1/instances/bot/messages/text', { to: chat, text });
    assert.equal(r.status, 200, r.text);
    id = r.json.data.messageId;
  } else {
    const r = await ctx.sim.api('POST', `/sim/accounts/${from}/messages`, { to: chat === 'me' ? ME : chat, text });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    id = r.json.id;
  }
  await stored(ctx.srv, id);
  return id;
}

/** pages through path (with ?limit=n) and returns every item, checking cursors and sizes */
async function walk(srv, path, key, limit) {
  const all = [];
  let before = null;
  for (let page = 0; page < 100; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const r = await get(srv, `${path}${sep}limit=${limit}${before ? `&before=${encodeURIComponent(before)}` : ''}`);
    assert.equal(r.status, 200, r.text);
    const items = r.json.data[key];
    assert.ok(items.length <= limit);
    all.push(...items);
    before = r.json.data.next;
    if (before === null) return all;
    assert.equal(items.length, limit, 'a page that is not the last is full');
    assert.match(before, /^[A-Za-z0-9_-]+$/);
  }
  assert.fail('too many pages');
}

test('chat history: chats, messages, filters, cursors, one message', { timeout: 240000 }, async (t) => {
  const ctx = await setup(t);
  const { srv, group } = ctx;
  const chats = { [BOB]: [], [CAROL]: [], [group]: [] }; // ids in storage order, per chat
  const fromMe = new Set();
  const steps = [
    ['me', BOB], [BOB, 'me'], [BOB, 'me'], ['me', CAROL], [CAROL, 'me'], [BOB, group], ['me', BOB],
    [CAROL, group], [CAROL, 'me'], [BOB, 'me'], ['me', BOB], [BOB, group], [CAROL, 'me'], ['me', CAROL],
    [CAROL, group], [BOB, 'me'], ['me', BOB],
  ];
  for (const [i, [from, to]] of steps.entries()) {
    const chat = to === 'me' ? from : to;
    const id = await say(ctx, from, to, `message ${i} from ${from} to ${to}`);
    chats[chat].push(id);
    if (from === 'me') fromMe.add(id);
  }
  // last activity: BOB (me -> BOB), then the group (CAROL's), then CAROL (me -> CAROL)

  // ---- chats: most recent first, one entry each, counts, last message
  for (const limit of [1, 2, 50]) {
    const list = await walk(srv, '/chats', 'chats', limit);
    assert.deepEqual(list.map((c) => c.jid), [jidOf(BOB), group, jidOf(CAROL)]);
    for (const c of list) {
      const key = c.jid === group ? group : c.jid.split('@')[0];
      assert.equal(c.messageCount, chats[key].length, c.jid);
      assert.equal(c.unreadCount, chats[key].filter((id) => !fromMe.has(id)).length, c.jid);
      assert.equal(c.isGroup, c.jid === group);
      assert.equal(c.lastMessage.id, chats[key].at(-1));
      assert.equal(c.lastMessage.chat, c.jid);
    }
  }

  // ---- one chat's messages: newest first, no duplicates, no gaps, at every page size
  for (const [phone, limit] of [[BOB, 1], [BOB, 2], [BOB, 3], [CAROL, 2], [jidOf(BOB), 200]]) {
    const msgs = await walk(srv, `/chats/${encodeURIComponent(phone)}/messages`, 'messages', limit);
    const key = phone.split('@')[0];
    assert.deepEqual(msgs.map((m) => m.id), [...chats[key]].reverse(), `${phone} limit ${limit}`);
    for (let i = 1; i < msgs.length; i++) assert.ok(msgs[i - 1].timestamp >= msgs[i].timestamp);
  }
  const bobMsgs = await walk(srv, `/chats/${BOB}/messages`, 'messages', 200);
  for (const m of bobMsgs) {
    assert.equal(m.chat, jidOf(BOB));
    assert.equal(m.fromMe, fromMe.has(m.id));
    assert.equal(m.sender, m.fromMe ? jidOf(ME) : jidOf(BOB));
    assert.equal(m.type, 'text');
    assert.equal(m.message.conversation ?? m.message.extendedTextMessage?.text, m.text);
    assert.match(m.text, /^message \d+ from/);
  }
  // the group: both members' texts, newest first
  const gm = await walk(srv, `/chats/${encodeURIComponent(group)}/messages`, 'messages', 2);
  assert.deepEqual(gm.map((m) => m.id), [...chats[group]].reverse());
  assert.deepEqual(new Set(gm.map((m) => m.sender)), new Set([jidOf(BOB), jidOf(CAROL)]));
  assert.ok(gm.every((m) => m.chat === group && m.fromMe === false));

  // ---- filters
  const mine = await walk(srv, `/chats/${BOB}/messages?fromMe=true`, 'messages', 2);
  assert.deepEqual(mine.map((m) => m.id), [...chats[BOB]].reverse().filter((id) => fromMe.has(id)));
  const theirs = await walk(srv, `/chats/${BOB}/messages?fromMe=false`, 'messages', 2);
  assert.deepEqual(theirs.map((m) => m.id), [...chats[BOB]].reverse().filter((id) => !fromMe.has(id)));
  assert.equal((await walk(srv, `/chats/${BOB}/messages?type=text`, 'messages', 3)).length, chats[BOB].length);
  assert.equal((await walk(srv, `/chats/${BOB}/messages?type=image`, 'messages', 3)).length, 0);
  const mid = bobMsgs[Math.floor(bobMsgs.length / 2)].timestamp;
  const since = await walk(srv, `/chats/${BOB}/messages?since=${mid}`, 'messages', 2);
  assert.deepEqual(since.map((m) => m.id), bobMsgs.filter((m) => m.timestamp >= mid).map((m) => m.id));
  const until = await walk(srv, `/chats/${BOB}/messages?until=${mid}&fromMe=false`, 'messages', 2);
  assert.deepEqual(until.map((m) => m.id), bobMsgs.filter((m) => m.timestamp <= mid && !m.fromMe).map((m) => m.id));
  assert.equal((await walk(srv, `/chats/${BOB}/messages?since=${mid + 3600}`, 'messages', 5)).length, 0);

  // ---- pages stay exact while a message arrives between them
  let r = await get(srv, `/chats/${BOB}/messages?limit=3`);
  const page1 = r.json.data.messages.map((m) => m.id);
  let before = r.json.data.next;
  const late = await say(ctx, BOB, 'me', 'a late message');
  const rest = [];
  while (before) {
    r = await get(srv, `/chats/${BOB}/messages?limit=3&before=${before}`);
    rest.push(...r.json.data.messages.map((m) => m.id));
    before = r.json.data.next;
  }
  assert.deepEqual([...page1, ...rest], [...chats[BOB]].reverse());
  r = await get(srv, `/chats/${BOB}/messages?limit=1`);
  assert.equal(r.json.data.messages[0].id, late);
  chats[BOB].push(late);

  // ---- one message
  const one = await stored(srv, chats[CAROL][1]);
  assert.deepEqual(Object.keys(one).sort(),
    ['chat', 'fromMe', 'id', 'message', 'pushName', 'quotedId', 'sender', 'status', 'text', 'timestamp', 'type']);
  assert.equal(one.chat, jidOf(CAROL));
  assert.equal(one.fromMe, false);
  assert.equal(one.pushName, 'Carol');
  assert.equal(one.status, 'received');
  assert.ok(Math.abs(one.timestamp - Date.now() / 1000) < 600, `timestamp ${one.timestamp}`);
  r = await get(srv, '/messages/3EB0FFFFFFFFFFFFFFFFFF');
  assert.equal(r.status, 404, r.text);
  assert.equal(r.json.error.code, 'NOT_FOUND');
  assert.equal((await srv.api('GET', '/api/v1/instances/nope/chats')).status, 404);

  // ---- bad parameters and cursors
  const chatsCursor = (await get(srv, '/chats?limit=1')).json.data.next;
  const msgCursor = (await get(srv, `/chats/${BOB}/messages?limit=1`)).json.data.next;
  for (const [path, field] of [
    ['/chats?limit=0', 'limit'], ['/chats?limit=201', 'limit'], ['/chats?limit=x', 'limit'],
    ['/chats?before=garbage', 'before'], [`/chats?before=${msgCursor}`, 'before'],
    [`/chats/${BOB}/messages?before=${chatsCursor}`, 'before'], [`/chats/${BOB}/messages?before=AAAA`, 'before'],
    [`/chats/${BOB}/messages?fromMe=maybe`, 'fromMe'], [`/chats/${BOB}/messages?since=yesterday`, 'since'],
    [`/chats/${BOB}/messages?until=-3`, 'until'], [`/chats/${BOB}/messages?since=20&until=10`, 'since'],
    [`/chats/${BOB}/messages?type=NOT%20A%20TYPE`, 'type'], ['/chats/hello/messages', 'jid'],
  ]) {
    r = await get(srv, path);
    assert.equal(r.status, 400, `${path}: ${r.text}`);
    assert.equal(r.json.error.code, 'INVALID_REQUEST', path);
    assert.equal(r.json.error.details.field, field, path);
  }

  // ---- OpenAPI
  const doc = (await srv.api('GET', '/openapi.json')).json;
  for (const [p, ex] of [['/instances/{instanceId}/chats', 'chats'], ['/instances/{instanceId}/chats/{jid}/messages', 'messages'],
    ['/instances/{instanceId}/messages/{messageId}', 'id']]) {
    const op = doc.paths[p]?.get;
    assert.ok(op, p);
    assert.ok(op.summary && op.description.length > 80, p);
    assert.ok(JSON.stringify(op.responses['200']).includes(ex), p);
  }

  // ---- retention: rows made older than a day go at the first sweep after a restart
  const aged = chats[BOB].slice(0, 4);
  await srv.stop();
  ctx.srv = null;
  const clean = async (s) => { // exit 0, and no sanitizer report in ASan builds
    assert.equal((await s.exited).code, 0, s.logs().slice(-2000));
    assert.doesNotMatch(s.logs(), /ERROR: \w+Sanitizer|runtime error:/);
  };
  await clean(srv);
  const old = Math.floor(Date.now() / 1000) - 3 * 86400;
  sql(ctx.dataDir, `UPDATE wa_messages SET ts=${old} WHERE instance='bot' AND id IN (${aged.map((i) => `'${i}'`).join(',')})`);
  const bad = await startServer({ env: { ...ctx.env, MIAW_CHAT_RETENTION_DAYS: '-1' }, dataDir: ctx.dataDir, expectExit: true });
  const exit = await bad.exited;
  assert.notEqual(exit.code, 0);
  assert.match(bad.logs(), /MIAW_CHAT_RETENTION_DAYS/);
  ctx.srv = await startServer({ env: { ...ctx.env, MIAW_CHAT_RETENTION_DAYS: '1' }, dataDir: ctx.dataDir });
  assert.equal((await ctx.srv.api('GET', '/api/v1/config')).json.data.chatRetentionDays, 1);
  await waitFor(async () => (await get(ctx.srv, `/messages/${aged[0]}`)).status === 404,
    { what: 'old rows deleted', timeoutMs: 15000 });
  for (const id of aged) assert.equal((await get(ctx.srv, `/messages/${id}`)).status, 404, id);
  const left = await walk(ctx.srv, `/chats/${BOB}/messages`, 'messages', 2);
  assert.deepEqual(left.map((m) => m.id), chats[BOB].slice(4).reverse());
  const bobChat = (await walk(ctx.srv, '/chats', 'chats', 5)).find((c) => c.jid === jidOf(BOB));
  assert.equal(bobChat.messageCount, chats[BOB].length - 4);
  assert.equal(bobChat.lastMessage.id, late);
  assert.equal((await walk(ctx.srv, `/chats/${CAROL}/messages`, 'messages', 50)).length, chats[CAROL].length);
  assert.match(ctx.srv.logs(), /chat storage retention: 4 message\(s\) older than 1 day\(s\) deleted/);
  const last = ctx.srv;
  await last.stop();
  ctx.srv = null;
  await clean(last);
});
