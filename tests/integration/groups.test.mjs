// tests/integration/groups.test.mjs - the groups plugin (spec 4.4.4) against miaw-sim:
// two instances, `bot` (account ME) and `bot2` (account CAROL), and the simulated phones
// BOB and DAVE. bot creates a group (per-participant outcome, description), lists it,
// reads it, promotes/demotes, removes/adds (results per participant), PATCHes every
// field, gets and revokes the invite link, reads a code's group without joining, lists
// join requests and leaves; sets and removes the group picture (640/96 px JPEGs kept by
// the simulator under the group); bot2, a plain member, is refused (403 NOT_GROUP_ADMIN)
// and sees every change as group_join / group_participants / group_update webhooks; bot2
// leaves and joins again by code (group_join once). A phone's group: the instance is
// added (group_join "added"), promoted, removed (404 afterwards). Bad JIDs and codes are
// 400s, unknown groups 404s. Join requests (approval mode): a join by code is pending,
// listed for admins (and a `request` event), rejected, approved. OpenAPI lists the routes, events and NOT_GROUP_ADMIN.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startServer, tempDir, waitFor, sleep } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { startSim, simEnv, pairByQr } from './lib/sim.mjs';

const ME = '15550007001';
const CAROL = '15550007002';
const BOB = '15550007003';
const DAVE = '15550007004';
const NOBODY = '15550007999'; // not on the network
const G = '/api/v1/instances';

/** webhook bodies of one event for one instance, each event once (retries deduplicated) */
function evs(rcv, type, inst) {
  const seen = new Set();
  const out = [];
  for (const r of rcv.requests) {
    const b = JSON.parse(r.body);
    const id = r.headers['x-miaw-event-id'];
    if (b.event !== type || b.instanceId !== inst || seen.has(id)) continue;
    seen.add(id);
    out.push(b.data);
  }
  return out;
}

async function setup(t) {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-groups-');
  const sim = await startSim({ stateDir: simDir });
  const rcv = await startReceiver();
  const srv = await startServer({ env: simEnv(sim, { MIAW_WEBHOOK_URL: rcv.url }), dataDir, plugins: ['groups'] });
  t.after(async () => {
    await srv.stop();
    await sim.stop();
    await rcv.close();
    rmSync(simDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  for (const id of ['bot', 'bot2']) assert.equal((await srv.api('POST', G, { instanceId: id })).status, 201);
  for (const [phone, name] of [[BOB, 'Bob'], [DAVE, 'Dave']])
    assert.equal((await sim.api('POST', '/sim/accounts', { phone, name })).status, 201);
  await pairByQr(srv, sim, 'bot', ME, { name: 'Me' });
  await pairByQr(srv, sim, 'bot2', CAROL, { name: 'Carol' });
  const lids = Object.fromEntries((await sim.api('GET', '/sim/accounts')).json.accounts.map((a) => [a.phone, a.lid]));
  const api = (inst, method, path, body) => srv.api(method, `${G}/${inst}/groups${path}`, body);
  const simGroup = async (jid) => (await sim.api('GET', '/sim/state')).json.groups.find((g) => g.jid === jid);
  return { sim, rcv, srv, lids, api, simGroup };
}

const pj = (phone) => `${phone}@s.whatsapp.net`;

test('an admin instance runs every group route; a plain member is refused and sees it all as events', { timeout: 180000 }, async (t) => {
  const { sim, rcv, srv, lids, api, simGroup } = await setup(t);

  // ---- create: per-participant outcome, description, this account superadmin
  let r = await api('bot', 'POST', '', { subject: 'Bots', participants: ['abc'] });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.details.field, 'participants[0]');
  r = await api('bot', 'POST', '', { subject: '', participants: [] });
  assert.equal(r.status, 400, r.text);
  r = await api('bot', 'POST', '', { subject: 'Bots', participants: [BOB, `+${CAROL}`, NOBODY], description: 'our place' });
  assert.equal(r.status, 201, r.text);
  const g = r.json.data;
  assert.match(g.jid, /^120363\d{12}@g\.us$/);
  assert.equal(g.subject, 'Bots');
  assert.equal(g.owner, pj(ME));
  assert.equal(g.description, 'our place');
  assert.deepEqual(g.results.map((x) => [x.phone, x.status, x.code]),
    [[BOB, 'ok', 200], [CAROL, 'ok', 200], [NOBODY, 'not_on_whatsapp', 404]]);
  assert.deepEqual(g.participants.map((p) => [p.phone, p.admin]).sort(),
    [[ME, 'superadmin'], [CAROL, null], [BOB, null]]);
  assert.equal(g.participants.find((p) => p.phone === BOB).lid, lids[BOB]);
  assert.equal(g.addressingMode, 'lid');
  const jid = g.jid;
  let s = await simGroup(jid);
  assert.equal(s.description, 'our place');
  assert.equal(s.participants.length, 3);

  // bot2 (Carol) was told: group_join with the metadata
  await rcv.waitFor(() => evs(rcv, 'group_join', 'bot2').length >= 1, 10000, 'group_join at bot2');
  const gj = evs(rcv, 'group_join', 'bot2')[0];
  assert.equal(gj.groupJid, jid);
  assert.equal(gj.reason, 'create');
  assert.equal(gj.actor, pj(ME));
  assert.equal(gj.group.subject, 'Bots');

  // ---- list and metadata
  r = await api('bot', 'GET', '');
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.data.groups.some((x) => x.jid === jid && x.subject === 'Bots'));
  r = await api('bot2', 'GET', `/${jid}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.description, 'our place');
  assert.equal(r.json.data.memberAddMode, 'all_member_add');
  r = await api('bot', 'GET', `/${jid.split('@')[0]}`); // a bare id works too
  assert.equal(r.status, 200, r.text);
  r = await api('bot', 'GET', '/not-a-group@s.whatsapp.net');
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.details.field, 'groupJid');
  r = await api('bot', 'GET', '/120363000000000001@g.us');
  assert.equal(r.status, 404, r.text);
  assert.equal(r.json.error.code, 'NOT_FOUND');

  // ---- a plain member is refused what needs an admin
  for (const [m, p, body] of [
    ['PATCH', `/${jid}`, { announce: true }],
    ['DELETE', `/${jid}/participants`, { participants: [BOB] }],
    ['POST', `/${jid}/admins`, { participants: [CAROL] }],
    ['GET', `/${jid}/invite`],
    ['POST', `/${jid}/revoke-invite`],
  ]) {
    r = await api('bot2', m, p, body);
    assert.equal(r.status, 403, `${m} ${p}: ${r.text}`);
    assert.equal(r.json.error.code, 'NOT_GROUP_ADMIN', r.text);
  }
  assert.equal((await simGroup(jid)).announce, false);

  // ---- admins: promote / demote with per-participant results
  r = await api('bot', 'POST', `/${jid}/admins`, { participants: [CAROL, DAVE] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data.participants.map((x) => [x.phone, x.status]), [[CAROL, 'ok'], [DAVE, 'not_a_member']]);
  s = await simGroup(jid);
  assert.equal(s.participants.find((p) => p.lid === lids[CAROL]).admin, 'admin');
  r = await api('bot', 'DELETE', `/${jid}/admins`, { participants: [CAROL] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.participants[0].status, 'ok');
  r = await api('bot', 'DELETE', `/${jid}/admins`, { participants: [ME] }); // the creator stays
  assert.equal(r.json.data.participants[0].status, 'forbidden', r.text);

  // ---- participants: remove / add
  r = await api('bot', 'DELETE', `/${jid}/participants`, { participants: [BOB] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { groupJid: jid, action: 'remove', participants: [{ jid: pj(BOB), phone: BOB, status: 'ok', code: 200 }] });
  assert.ok(!(await simGroup(jid)).participants.some((p) => p.lid === lids[BOB]));
  r = await api('bot', 'POST', `/${jid}/participants`, { participants: [BOB, DAVE, NOBODY, CAROL] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data.participants.map((x) => [x.phone, x.status, x.code]),
    [[BOB, 'ok', 200], [DAVE, 'ok', 200], [NOBODY, 'not_on_whatsapp', 404], [CAROL, 'already_member', 409]]);
  r = await api('bot', 'POST', `/${jid}/participants`, { participants: [] });
  assert.equal(r.status, 400, r.text);

  // bot2 saw promote, demote, remove and add
  await rcv.waitFor(() => evs(rcv, 'group_participants', 'bot2').length >= 4, 10000, 'participant events');
  const pe = evs(rcv, 'group_participants', 'bot2');
  assert.deepEqual(pe.map((e) => e.action), ['promote', 'demote', 'remove', 'add']);
  assert.ok(pe.every((e) => e.groupJid === jid && e.actor === pj(ME) && e.actorLid === lids[ME]));
  assert.deepEqual(pe[2].participants.map((p) => p.phone), [BOB]);
  assert.deepEqual(pe[3].participants.map((p) => p.phone).sort(), [BOB, DAVE]);

  // ---- PATCH: every field, answered with the new metadata
  r = await api('bot', 'PATCH', `/${jid}`, {});
  assert.equal(r.status, 400, r.text);
  r = await api('bot', 'PATCH', `/${jid}`, { memberAddMode: 'nobody' });
  assert.equal(r.status, 400, r.text);
  r = await api('bot', 'PATCH', `/${jid}`, {
    subject: 'Bots 2', description: 'new rules', announce: true, locked: true, ephemeral: 86400,
    memberAddMode: 'admin_add', approvalMode: true,
  });
  assert.equal(r.status, 200, r.text);
  let m = r.json.data;
  assert.deepEqual([m.subject, m.description, m.announce, m.locked, m.ephemeral, m.memberAddMode, m.approvalMode],
    ['Bots 2', 'new rules', true, true, 86400, 'admin_add', true]);
  s = await simGroup(jid);
  assert.deepEqual([s.subject, s.description, s.announce, s.locked, s.ephemeral, s.adminAdd, s.approval],
    ['Bots 2', 'new rules', true, true, 86400, true, true]);
  // locked: a plain member may no longer edit the subject; admin_add: nor add
  r = await api('bot2', 'PATCH', `/${jid}`, { subject: 'mine' });
  assert.equal(r.status, 403, r.text);
  assert.equal(r.json.error.code, 'NOT_GROUP_ADMIN');
  r = await api('bot2', 'POST', `/${jid}/participants`, { participants: [NOBODY] });
  assert.equal(r.status, 403, r.text);
  // ---- the group picture: locked, only admins set it
  const jpeg = readFileSync(join(ROOT, 'tests/integration/fixtures/media/img.jpg')).toString('base64');
  r = await api('bot2', 'POST', `/${jid}/picture`, { image: jpeg });
  assert.equal(r.status, 403, r.text);
  assert.equal(r.json.error.code, 'NOT_GROUP_ADMIN');
  r = await api('bot', 'POST', `/${jid}/picture`, { image: jpeg });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.size, 640);
  assert.deepEqual(r.json.data.source, { width: 320, height: 240 });
  const gid = jid.split('@')[0];
  let pic = await fetch(`http://127.0.0.1:${sim.info.port}/sim/pps/${gid}/${r.json.data.id}/image.jpg`);
  assert.equal(pic.status, 200);
  const px = Buffer.from(await pic.arrayBuffer());
  assert.deepEqual([px[0], px[1]], [0xff, 0xd8]); // the JPEG miaw made, stored under the group
  pic = await fetch(`http://127.0.0.1:${sim.info.port}/sim/pps/${gid}/${r.json.data.id}/preview.jpg`);
  assert.equal(pic.status, 200);
  await pic.arrayBuffer();
  for (const [body, field] of [[{}, 'image'], [{ image: 'not base64!' }, 'image'], [{ image: Buffer.from('GIF89a....').toString('base64') }, 'image']]) {
    r = await api('bot', 'POST', `/${jid}/picture`, body);
    assert.equal(r.status, 400, JSON.stringify(body) + r.text);
    assert.equal(r.json.error.details.field, field, r.text);
  }
  r = await api('bot', 'POST', '/120363000000000001@g.us/picture', { image: jpeg });
  assert.equal(r.status, 404, r.text);
  r = await api('bot', 'POST', '/not-a-group/picture', { image: jpeg });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.details.field, 'groupJid');
  r = await api('bot2', 'DELETE', `/${jid}/picture`);
  assert.equal(r.status, 403, r.text);
  r = await api('bot', 'DELETE', `/${jid}/picture`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.removed, true);
  pic = await fetch(`http://127.0.0.1:${sim.info.port}/sim/pps/${gid}/1/image.jpg`);
  assert.equal(pic.status, 404);
  await pic.arrayBuffer();
  r = await api('bot', 'PATCH', `/${jid}`, { description: null, announce: false, locked: false, ephemeral: 0, memberAddMode: 'all_member_add', approvalMode: false });
  assert.equal(r.status, 200, r.text);
  m = r.json.data;
  assert.deepEqual([m.description, m.announce, m.locked, m.ephemeral, m.memberAddMode, m.approvalMode],
    [null, false, false, 0, 'all_member_add', false]);
  // unlocked: a plain member edits the subject
  r = await api('bot2', 'PATCH', `/${jid}`, { subject: 'Carol was here' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.subject, 'Carol was here');

  // bot2 saw each change as group_update; bot saw Carol's subject
  await rcv.waitFor(() => evs(rcv, 'group_update', 'bot2').length >= 14, 10000, 'group_update at bot2');
  const ue = evs(rcv, 'group_update', 'bot2');
  const pick = (k) => ue.filter((e) => k in e).map((e) => e[k]);
  assert.deepEqual(pick('subject'), ['Bots 2']);
  assert.deepEqual(pick('description'), ['our place', 'new rules', null]); // the create's, then the PATCHes'
  assert.deepEqual(pick('announce'), [true, false]);
  assert.deepEqual(pick('locked'), [true, false]);
  assert.deepEqual(pick('ephemeral'), [86400, 0]);
  assert.deepEqual(pick('memberAddMode'), ['admin_add', 'all_member_add']);
  assert.deepEqual(pick('approvalMode'), [true, false]);
  assert.ok(ue.every((e) => e.groupJid === jid && e.actor === pj(ME)));
  await rcv.waitFor(() => evs(rcv, 'group_update', 'bot').some((e) => e.subject === 'Carol was here'), 10000, 'subject at bot');
  assert.equal(evs(rcv, 'group_update', 'bot').find((e) => e.subject).actor, pj(CAROL));

  // ---- invite link: get, revoke, info without joining, bad and revoked codes
  r = await api('bot', 'GET', `/${jid}/invite`);
  assert.equal(r.status, 200, r.text);
  const code1 = r.json.data.inviteCode;
  assert.equal(code1, (await simGroup(jid)).invite);
  assert.equal(r.json.data.inviteLink, `https://chat.whatsapp.com/${code1}`);
  r = await api('bot', 'POST', `/${jid}/revoke-invite`);
  assert.equal(r.status, 200, r.text);
  const code2 = r.json.data.inviteCode;
  assert.notEqual(code2, code1);
  assert.equal(code2, (await simGroup(jid)).invite);
  await rcv.waitFor(() => evs(rcv, 'group_update', 'bot2').some((e) => e.inviteCode === code2), 10000, 'invite update');
  r = await api('bot2', 'GET', `/invite/${code1}`);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.details.field, 'inviteCode');
  assert.match(r.json.error.message, /revoked/);
  r = await api('bot2', 'GET', '/invite/AAAAAAAAAAAAAAAAAAAAAA');
  assert.equal(r.status, 400, r.text);
  r = await api('bot2', 'GET', '/invite/no!');
  assert.equal(r.status, 400, r.text);
  r = await api('bot2', 'GET', `/invite/${code2}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.jid, jid);
  assert.equal(r.json.data.subject, 'Carol was here');

  // ---- join requests (none)
  r = await api('bot', 'GET', `/${jid}/requests`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { groupJid: jid, requests: [] });

  // ---- bot2 leaves (bot sees "leave"), then joins back by code (bot sees "join")
  r = await api('bot2', 'DELETE', `/${jid}`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { groupJid: jid, left: true });
  r = await api('bot2', 'DELETE', `/${jid}`);
  assert.equal(r.status, 404, r.text);
  r = await api('bot2', 'GET', `/${jid}`);
  assert.equal(r.status, 404, r.text);
  r = await api('bot2', 'POST', `/join/${code2}`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { groupJid: jid, pending: false });
  r = await api('bot2', 'POST', `/join/${code2}`); // already in
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error.code, 'CONFLICT');
  r = await api('bot2', 'POST', `/join/${code1}`);
  assert.equal(r.status, 400, r.text);
  await rcv.waitFor(() => evs(rcv, 'group_participants', 'bot').filter((e) => ['leave', 'join'].includes(e.action)).length >= 2,
    10000, 'leave and join at bot');
  const lj = evs(rcv, 'group_participants', 'bot').filter((e) => ['leave', 'join'].includes(e.action));
  assert.deepEqual(lj.map((e) => [e.action, e.participants[0].phone, e.actor]), [['leave', CAROL, pj(CAROL)], ['join', CAROL, pj(CAROL)]]);
  await sleep(300);
  const joins = evs(rcv, 'group_join', 'bot2').filter((e) => e.reason === 'invite');
  assert.equal(joins.length, 1, JSON.stringify(joins));
  assert.equal(joins[0].groupJid, jid);

  // ---- bot leaves its own group
  r = await api('bot', 'DELETE', `/${jid}`);
  assert.equal(r.status, 200, r.text);
  assert.ok(!(await simGroup(jid)).participants.some((p) => p.lid === lids[ME]));
  r = await api('bot', 'GET', '');
  assert.ok(!r.json.data.groups.some((x) => x.jid === jid));
  assert.equal(evs(rcv, 'error', 'bot').length, 0);
});

test("a phone's group: the instance is added, promoted and removed", { timeout: 120000 }, async (t) => {
  const { sim, rcv, api } = await setup(t);
  const c = await sim.api('POST', `/sim/accounts/${BOB}/groups`, { subject: 'Bob\'s', participants: [DAVE] });
  assert.equal(c.status, 201, JSON.stringify(c.json));
  const jid = c.json.jid;
  let r = await api('bot', 'GET', `/${jid}`);
  assert.equal(r.status, 404, 'not a member yet: ' + r.text);
  const act = (action, who) => sim.api('POST', `/sim/accounts/${BOB}/groups`, { group: jid, action, participants: who });
  assert.equal((await act('add', [ME, CAROL])).status, 200);
  await rcv.waitFor(() => evs(rcv, 'group_join', 'bot').length >= 1, 10000, 'group_join added');
  const j = evs(rcv, 'group_join', 'bot')[0];
  assert.deepEqual([j.groupJid, j.reason, j.actor], [jid, 'added', pj(BOB)]);
  r = await api('bot', 'GET', `/${jid}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.owner, pj(BOB));
  r = await api('bot', 'PATCH', `/${jid}`, { announce: true });
  assert.equal(r.status, 403, r.text);
  assert.equal(r.json.error.code, 'NOT_GROUP_ADMIN');
  assert.equal((await act('promote', [ME])).status, 200);
  await rcv.waitFor(() => evs(rcv, 'group_participants', 'bot').some((e) => e.action === 'promote'), 10000, 'promote');
  r = await api('bot', 'PATCH', `/${jid}`, { announce: true });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.announce, true);
  assert.equal(r.json.data.participants.find((p) => p.phone === ME).admin, 'admin');
  assert.equal((await act('remove', [ME])).status, 200);
  await rcv.waitFor(() => evs(rcv, 'group_participants', 'bot').some((e) => e.action === 'remove'), 10000, 'remove');
  const rm = evs(rcv, 'group_participants', 'bot').find((e) => e.action === 'remove');
  assert.deepEqual(rm.participants.map((p) => p.phone), [ME]);
  r = await api('bot', 'GET', `/${jid}`);
  assert.equal(r.status, 404, r.text);
  r = await api('bot', 'POST', `/${jid}/participants`, { participants: [CAROL] });
  assert.equal(r.status, 404, r.text);
  // bot2 was added with bot: its group_join too, and the events in order
  await rcv.waitFor(() => evs(rcv, 'group_participants', 'bot2').length >= 3, 10000, 'events at bot2');
  assert.deepEqual(evs(rcv, 'group_participants', 'bot2').map((e) => e.action), ['add', 'promote', 'remove']);
  assert.equal(evs(rcv, 'group_join', 'bot2')[0].reason, 'added');
  assert.equal(evs(rcv, 'group_update', 'bot2').find((e) => 'announce' in e).actor, pj(ME));
});

test('join requests in approval mode: listed, rejected, approved', { timeout: 120000 }, async (t) => {
  const { rcv, api, simGroup, lids } = await setup(t);
  let r = await api('bot', 'POST', '', { subject: 'Gate', participants: [BOB] });
  assert.equal(r.status, 201, r.text);
  const jid = r.json.data.jid;
  r = await api('bot', 'PATCH', `/${jid}`, { approvalMode: true });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.approvalMode, true);
  const code = (await api('bot', 'GET', `/${jid}/invite`)).json.data.inviteCode;
  r = await api('bot2', 'GET', `/invite/${code}`);
  assert.equal(r.json.data.approvalMode, true, r.text);

  // bot2 asks: pending, not a member; the admin sees the request (list and event)
  r = await api('bot2', 'POST', `/join/${code}`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { groupJid: jid, pending: true });
  assert.equal((await api('bot2', 'GET', `/${jid}`)).status, 404);
  r = await api('bot', 'GET', `/${jid}/requests`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data.requests.map((q) => [q.jid, q.phone, q.lid, q.method]), [[pj(CAROL), CAROL, lids[CAROL], 'invite_link']]);
  assert.ok(Number.isInteger(r.json.data.requests[0].requestTime));
  await rcv.waitFor(() => evs(rcv, 'group_participants', 'bot').some((e) => e.action === 'request'), 10000, 'request event');
  const req = evs(rcv, 'group_participants', 'bot').find((e) => e.action === 'request');
  assert.deepEqual([req.groupJid, req.actor, req.participants[0].phone], [jid, pj(CAROL), CAROL]);
  // a plain member may not see or decide requests
  r = await api('bot2', 'GET', `/${jid}/requests`);
  assert.equal(r.status, 404, r.text); // not even a member
  r = await api('bot', 'POST', `/${jid}/requests/approve`, { participants: ['x'] });
  assert.equal(r.status, 400, r.text);

  // reject: the request is gone, the requester told
  r = await api('bot', 'POST', `/${jid}/requests/reject`, { participants: [CAROL] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data.participants, [{ jid: pj(CAROL), status: 'ok', code: 200 }]);
  assert.equal((await simGroup(jid)).requests.length, 0);
  await rcv.waitFor(() => evs(rcv, 'group_participants', 'bot2').some((e) => e.action === 'reject'), 10000, 'reject at bot2');

  // ask again, approve (with one who never asked): a member now, group_join at bot2
  r = await api('bot2', 'POST', `/join/${code}`);
  assert.equal(r.json.data.pending, true, r.text);
  r = await api('bot', 'POST', `/${jid}/requests/approve`, { participants: [CAROL, DAVE] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data.participants.map((x) => [x.jid, x.status, x.code]), [[pj(CAROL), 'ok', 200], [pj(DAVE), 'no_request', 404]]);
  assert.ok((await simGroup(jid)).participants.some((p) => p.lid === lids[CAROL]));
  r = await api('bot2', 'GET', `/${jid}`);
  assert.equal(r.status, 200, r.text);
  await rcv.waitFor(() => evs(rcv, 'group_join', 'bot2').some((e) => e.groupJid === jid), 10000, 'group_join after approval');
  assert.equal(evs(rcv, 'group_join', 'bot2').find((e) => e.groupJid === jid).actor, pj(ME));
  // a member that is not an admin
  r = await api('bot2', 'GET', `/${jid}/requests`);
  assert.equal(r.status, 403, r.text);
  assert.equal(r.json.error.code, 'NOT_GROUP_ADMIN');
  r = await api('bot2', 'POST', `/${jid}/requests/approve`, { participants: [DAVE] });
  assert.equal(r.status, 403, r.text);
});

test('OpenAPI lists the group routes, events and NOT_GROUP_ADMIN', { timeout: 30000 }, async () => {
  const srv = await startServer({ plugins: ['groups'] });
  try {
    const r = await srv.api('GET', '/openapi.json');
    assert.equal(r.status, 200);
    const doc = r.json;
    const p = '/api/v1/instances/{instanceId}/groups';
    const want = {
      [p]: ['post', 'get'], [`${p}/{groupJid}`]: ['get', 'patch', 'delete'],
      [`${p}/{groupJid}/participants`]: ['post', 'delete'], [`${p}/{groupJid}/admins`]: ['post', 'delete'],
      [`${p}/{groupJid}/invite`]: ['get'], [`${p}/{groupJid}/revoke-invite`]: ['post'],
      [`${p}/invite/{inviteCode}`]: ['get'], [`${p}/join/{inviteCode}`]: ['post'],
      [`${p}/{groupJid}/requests`]: ['get'], [`${p}/{groupJid}/requests/approve`]: ['post'],
      [`${p}/{groupJid}/requests/reject`]: ['post'],
    };
    const paths = Object.keys(doc.paths);
    for (const [path, methods] of Object.entries(want)) {
      const key = paths.find((k) => k === path || k === path.replace('/api/v1', ''));
      assert.ok(key, `${path} in ${paths.join(' ')}`);
      for (const mth of methods) assert.ok(doc.paths[key][mth], `${mth} ${path}`);
      for (const mth of methods) assert.equal(doc.paths[key][mth]['x-plugin'].name, 'groups');
    }
    for (const ev of ['group_update', 'group_participants', 'group_join']) assert.ok(doc.webhooks[ev], ev);
    const codes = doc.info['x-error-codes'];
    assert.deepEqual(codes.find((c) => c.code === 'NOT_GROUP_ADMIN')?.status, 403, JSON.stringify(codes));
    assert.ok(JSON.stringify(doc.components).includes('NOT_GROUP_ADMIN'), 'in the error envelope schema');
  } finally {
    await srv.stop();
  }
});
