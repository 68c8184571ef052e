// tests/integration/contacts.test.mjs - the contacts plugin (spec 4.4.3) against miaw-sim:
// instance `bot` (account ME) checks numbers one by one and in batches (input order,
// invalid numbers flagged, cache, usync chunks, the per-instance rate limit answering 429
// RATE_LIMITED with Retry-After), reads a contact (about text, LID, push name seen on a
// message, picture set through the simulator's control API, hidden picture), gets the
// picture's URL and its bytes (?download=true), lists known contacts, blocks and
// unblocks (the simulator's block list follows). Bad input: 400 with the field, unknown
// instance 404, a disconnected instance 503. OpenAPI lists the routes.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startServer, tempDir, waitFor } from './lib/harness.mjs';
import { startSim, simEnv, pairByQr } from './lib/sim.mjs';

const ME = '15550008001';
const BOB = '15550008002';
const CAROL = '15550008003';
const NOBODY = '15550008999';
const G = '/api/v1/instances';
const JPEG = readFileSync(join(ROOT, 'tests/integration/fixtures/media/img.jpg'));

const CONFIG = (pluginDir) => `plugins:
  dir: ${pluginDir}
  enabled: [contacts]
  config:
    contacts: {rate_per_minute: 60, rate_burst: 500, usync_chunk: 50, cache_ttl_s: 3600}
`;

async function setup(t) {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-contacts-');
  const sim = await startSim({ stateDir: simDir });
  const { BUILD } = await import('./lib/harness.mjs');
  const srv = await startServer({ env: simEnv(sim), dataDir, config: CONFIG(join(BUILD, 'plugins')) });
  t.after(async () => {
    await srv.stop();
    await sim.stop();
    assert.doesNotMatch(srv.logs(), /ERROR: \w+Sanitizer|runtime error:/);
    rmSync(simDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  assert.equal((await srv.api('POST', G, { instanceId: 'bot' })).status, 201);
  for (const [phone, name] of [[BOB, 'Bob'], [CAROL, 'Carol']])
    assert.equal((await sim.api('POST', '/sim/accounts', { phone, name })).status, 201);
  await pairByQr(srv, sim, 'bot', ME, { name: 'Me' });
  const lids = Object.fromEntries((await sim.api('GET', '/sim/accounts')).json.accounts.map((a) => [a.phone, a.lid]));
  const api = (method, path, body, inst = 'bot') => srv.api(method, `${G}/${inst}/contacts${path}`, body);
  return { sim, srv, lids, api };
}

const pj = (p) => `${p}@s.whatsapp.net`;

test('number checks: single, batch in input order, cache, chunks, rate limit with Retry-After', { timeout: 120000 }, async (t) => {
  const { srv, lids, api } = await setup(t);

  let r = await api('POST', '/check', { phone: `+1 (555) 000-8002` });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { phone: '+1 (555) 000-8002', exists: true, jid: pj(BOB), lid: lids[BOB], cached: false });
  r = await api('POST', '/check', { phone: NOBODY });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.exists, false);
  assert.equal(r.json.data.jid, null);
  r = await api('POST', '/check', { phone: BOB }); // the cache answers
  assert.equal(r.json.data.cached, true);
  assert.equal(r.json.data.exists, true);

  // bad input
  for (const [body, field] of [[{ phone: '12' }, 'phone'], [{ phone: 'abc' }, 'phone'], [{ phone: 5 }, 'phone'], [{}, 'phone'],
    [{ phone: '0555123456' }, 'phone']]) {
    r = await api('POST', '/check', body);
    assert.equal(r.status, 400, JSON.stringify(body) + r.text);
    assert.equal(r.json.error.code, 'INVALID_REQUEST');
    assert.equal(r.json.error.details.field, field);
  }
  r = await api('POST', '/check', '{"phone":');
  assert.equal(r.status, 400, r.text);
  r = await api('POST', '/check', { phone: BOB }, 'ghost');
  assert.equal(r.status, 404, r.text);
  assert.equal(r.json.error.code, 'INSTANCE_NOT_FOUND');

  // batch: input order, invalid flagged, duplicates answered twice, cached ones marked
  r = await api('POST', '/check-batch', { phones: [CAROL, 'abc', NOBODY, `+${BOB}`, '12', CAROL, `${ME}@s.whatsapp.net`] });
  assert.equal(r.status, 200, r.text);
  const res = r.json.data.results;
  assert.deepEqual(res.map((x) => [x.phone, x.valid, x.exists]), [
    [CAROL, true, true], ['abc', false, false], [NOBODY, true, false], [`+${BOB}`, true, true], ['12', false, false],
    [CAROL, true, true], [`${ME}@s.whatsapp.net`, true, true]]);
  assert.equal(res[0].lid, lids[CAROL]);
  assert.equal(res[0].jid, pj(CAROL));
  assert.match(res[1].error, /digits/);
  assert.equal(res[2].cached, true);
  assert.equal(res[3].cached, true);
  assert.deepEqual(r.json.data.summary, { total: 7, exists: 4, invalid: 2, asked: 2, queries: 1 });

  for (const body of [{ phones: [] }, { phones: 'x' }, { phones: [1] }, { phones: Array(501).fill(BOB) }]) {
    r = await api('POST', '/check-batch', body);
    assert.equal(r.status, 400, JSON.stringify(body).slice(0, 60) + r.text);
    assert.match(r.json.error.details.field, /^phones/);
  }

  // 400 fresh numbers: 8 usync queries of 50, all asked, all out
  const fresh = (from, n) => Array.from({ length: n }, (_, i) => String(1666000000 + from + i));
  r = await api('POST', '/check-batch', { phones: fresh(0, 400) });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.results.length, 400);
  assert.ok(r.json.data.results.every((x, i) => x.phone === String(1666000000 + i) && x.valid && !x.exists));
  assert.deepEqual(r.json.data.summary, { total: 400, exists: 0, invalid: 0, asked: 400, queries: 8 });

  // the bucket (500, 1 per second) has about 95 left: 200 more new numbers are refused
  r = await api('POST', '/check-batch', { phones: fresh(1000, 200) });
  assert.equal(r.status, 429, r.text);
  assert.equal(r.json.success, false);
  assert.equal(r.json.error.code, 'RATE_LIMITED');
  const ra = Number(r.headers.get('retry-after'));
  assert.ok(ra >= 90 && ra <= 110, `Retry-After ${r.headers.get('retry-after')}`);
  // cached numbers cost nothing
  r = await api('POST', '/check-batch', { phones: fresh(0, 400) });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.summary.asked, 0);
  assert.equal(r.json.data.summary.queries, 0);
  r = await api('POST', '/check', { phone: '16660099999' }); // one new number still fits
  assert.equal(r.status, 200, r.text);

  // a disconnected instance cannot ask
  assert.equal((await srv.api('POST', G, { instanceId: 'idle' })).status, 201);
  r = await api('POST', '/check', { phone: BOB }, 'idle');
  assert.equal(r.status, 503, r.text);
  assert.equal(r.json.error.code, 'INSTANCE_NOT_CONNECTED');
});

test('contact info, pictures, known contacts and the block list', { timeout: 120000 }, async (t) => {
  const { sim, srv, lids, api } = await setup(t);
  assert.equal((await sim.api('POST', `/sim/profile/${BOB}`, { status: 'Hey, Bob here' })).status, 200);

  let r = await api('GET', `/${BOB}`);
  assert.equal(r.status, 200, r.text);
  let c = r.json.data;
  assert.equal(c.jid, pj(BOB));
  assert.equal(c.phone, BOB);
  assert.equal(c.lid, lids[BOB]);
  assert.equal(c.exists, true);
  assert.equal(c.about, 'Hey, Bob here');
  assert.equal(typeof c.aboutSetAt, 'number');
  assert.equal(c.picture, null);
  assert.equal(c.isBusiness, false);
  assert.equal(c.pushName, null);
  r = await api('GET', `/${BOB}/picture`);
  assert.equal(r.status, 404, r.text);
  assert.equal(r.json.error.code, 'NOT_FOUND');

  // a picture (image + preview) set on Bob's account
  const preview = JPEG.subarray(0, 600); // any JPEG-tagged bytes stand for the preview
  r = await sim.api('POST', `/sim/profile/${BOB}`, { picture: JPEG.toString('base64'), preview: preview.toString('base64') });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const picId = String(r.json.picture.id);
  r = await api('GET', `/${BOB}`);
  assert.equal(r.json.data.picture.id, picId);
  assert.equal(r.json.data.picture.type, 'preview');
  r = await api('GET', `/${BOB}/picture`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.id, picId);
  assert.equal(r.json.data.type, 'image');
  assert.match(r.json.data.url, /^http:\/\/127\.0\.0\.1:\d+\/sim\/pps\//);
  r = await api('GET', `/${BOB}/picture?type=preview`);
  assert.equal(r.json.data.type, 'preview');
  r = await srv.api('GET', `${G}/bot/contacts/${BOB}/picture?download=true`);
  assert.equal(r.status, 200);
  const got = Buffer.from(await (await fetch(srv.url + `${G}/bot/contacts/${BOB}/picture?download=true`,
    { headers: { authorization: `Bearer ${srv.apiKey}` } })).arrayBuffer());
  assert.ok(got.equals(JPEG), 'downloaded bytes are the picture');
  r = await srv.api('GET', `${G}/bot/contacts/${BOB}/picture?download=true&type=preview`);
  assert.equal(r.headers.get('content-type'), 'image/jpeg');
  for (const q of ['type=full', 'download=maybe']) {
    r = await api('GET', `/${BOB}/picture?${q}`);
    assert.equal(r.status, 400, r.text);
  }
  // hidden from everyone else: 404, and no picture in the info
  assert.equal((await sim.api('POST', `/sim/profile/${BOB}`, { pictureHidden: true })).status, 200);
  r = await api('GET', `/${BOB}/picture`);
  assert.equal(r.status, 404, r.text);
  r = await api('GET', `/${lids[BOB]}`); // by LID
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.picture, null);
  assert.equal(r.json.data.about, 'Hey, Bob here');

  r = await api('GET', `/${NOBODY}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.exists, false);
  assert.equal(r.json.data.picture, null);
  for (const bad of ['abc', '120363000000000001@g.us', '12']) {
    r = await api('GET', `/${encodeURIComponent(bad)}`);
    assert.equal(r.status, 400, bad + r.text);
    assert.equal(r.json.error.details.field, 'jid');
  }

  // known contacts: Bob's phone writes; his push name is remembered
  r = await api('GET', '');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { contacts: [], total: 0 });
  assert.equal((await sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, text: 'hi' })).status, 201);
  await waitFor(async () => (await api('GET', '')).json.data.total === 1, { what: 'Bob known' });
  r = await api('GET', '');
  assert.equal(r.json.data.contacts[0].jid, pj(BOB));
  assert.equal(r.json.data.contacts[0].phone, BOB);
  assert.equal(typeof r.json.data.contacts[0].pushName, 'string');
  assert.ok(r.json.data.contacts[0].pushName.length > 0);
  r = await api('GET', `/${BOB}`);
  assert.equal(r.json.data.pushName, (await api('GET', '')).json.data.contacts[0].pushName);

  // block list
  r = await api('GET', '/blocklist');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { blocklist: [], total: 0 });
  await api('POST', '/check', { phone: CAROL }); // her LID is known now: the IQ names it with pn_jid
  for (const who of [BOB, pj(CAROL)]) {
    r = await api('POST', `/${who}/block`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.blocked, true);
  }
  r = await api('GET', '/blocklist');
  assert.deepEqual(r.json.data.blocklist.map((x) => x.phone).sort(), [BOB, CAROL]);
  assert.deepEqual((await sim.api('GET', `/sim/profile/${ME}`)).json.blocklist.sort(), [BOB, CAROL]);
  r = await api('POST', `/${BOB}/block`); // again: no error, no duplicate
  assert.equal(r.status, 200, r.text);
  assert.equal((await api('GET', '/blocklist')).json.data.total, 2);
  r = await api('POST', `/${BOB}/unblock`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.blocked, false);
  assert.deepEqual((await sim.api('GET', `/sim/profile/${ME}`)).json.blocklist, [CAROL]);
  r = await api('POST', `/${ME}/block`); // yourself: WhatsApp refuses
  assert.equal(r.status, 400, r.text);
  r = await api('POST', '/abc/block');
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.details.field, 'jid');

  // OpenAPI
  const doc = (await srv.api('GET', '/openapi.json')).json;
  const paths = Object.keys(doc.paths);
  for (const [p, m] of [['/contacts/check', 'post'], ['/contacts/check-batch', 'post'], ['/contacts/{jid}', 'get'],
    ['/contacts/{jid}/picture', 'get'], ['/contacts', 'get'], ['/contacts/blocklist', 'get'], ['/contacts/{jid}/block', 'post'],
    ['/contacts/{jid}/unblock', 'post']]) {
    const key = paths.find((k) => k.endsWith(`/instances/{instanceId}${p}`));
    assert.ok(key, p);
    assert.equal(doc.paths[key][m]['x-plugin'].name, 'contacts');
  }
  const batch = doc.paths[paths.find((k) => k.endsWith('/contacts/check-batch'))].post;
  assert.match(JSON.stringify(batch.requestBody), /"maxItems":500/);
});

test('saved contacts through app-state: add, edit, remove, and the phone\'s own edits followed', { timeout: 120000 }, async (t) => {
  const { sim, api } = await setup(t);
  const phoneState = async () => (await sim.api('GET', `/sim/accounts/${ME}/appstate`)).json;
  // the phone shares its app-state key at login: until then the push is refused (503)
  let r;
  await waitFor(async () => {
    r = await api('POST', '', { phone: `+${BOB}`, firstName: 'Ada', lastName: 'Lovelace' });
    return r.status !== 503;
  }, { what: 'the app-state key shared by the phone', timeoutMs: 20000 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.jid, pj(BOB));
  assert.equal(r.json.data.name, 'Ada Lovelace');
  assert.equal(r.json.data.firstName, 'Ada');
  assert.equal(r.json.data.removed, false);
  assert.equal(r.json.data.appState.collection, 'critical_unblock_low');
  const v1 = r.json.data.appState.version;
  // the phone decoded and verified it (patch and value MACs, LTHash)
  let ph = await phoneState();
  let mine = ph.mutations.filter((m) => m.collection === 'critical_unblock_low' && m.fromDevice !== 0);
  assert.equal(mine.length, 1, JSON.stringify(ph.mutations));
  assert.ok(!mine[0].error, mine[0].error);
  assert.deepEqual(mine[0].index, ['contact', pj(BOB)]);
  assert.equal(mine[0].value.contactAction.fullName, 'Ada Lovelace');
  assert.equal(ph.collections.critical_unblock_low.version, v1);

  // the saved name shows in the contact and the list
  r = await api('GET', `/${BOB}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.name, 'Ada Lovelace');
  r = await api('GET', '');
  assert.equal(r.json.data.contacts.find((c) => c.jid === pj(BOB))?.name, 'Ada Lovelace');

  // edit: a second set of the same index
  r = await api('POST', '', { phone: BOB, firstName: 'Augusta' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.name, 'Augusta');
  assert.equal(r.json.data.appState.version, v1 + 1);
  assert.equal((await api('GET', `/${BOB}`)).json.data.name, 'Augusta');

  // the phone saves Carol: miaw follows (server_sync -> fetch -> verified mutation)
  const pr = await sim.api('POST', `/sim/accounts/${ME}/appstate`, { collection: 'critical_unblock_low', mutations: [
    { operation: 'set', index: ['contact', pj(CAROL)], value: { timestamp: String(Date.now()), contactAction: { fullName: 'Carol Phone', firstName: 'Carol' } } }] });
  assert.equal(pr.status, 201, JSON.stringify(pr.json));
  await waitFor(async () => (await api('GET', '')).json.data.contacts.find((c) => c.jid === pj(CAROL))?.name === 'Carol Phone',
    { what: 'the phone\'s contact in GET /contacts', timeoutMs: 20000 });
  assert.equal((await api('GET', `/${CAROL}`)).json.data.name, 'Carol Phone');

  // remove: the phone sees the remove; the name goes
  r = await api('DELETE', `/${BOB}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.removed, true);
  ph = await phoneState();
  mine = ph.mutations.filter((m) => m.collection === 'critical_unblock_low' && m.fromDevice !== 0);
  assert.equal(mine.at(-1).operation, 'remove');
  assert.ok(!mine.at(-1).error, mine.at(-1).error);
  assert.equal((await api('GET', `/${BOB}`)).json.data.name, null);
  assert.equal((await api('GET', '')).json.data.contacts.find((c) => c.jid === pj(BOB)), undefined);

  // bad input
  for (const [body, field] of [[{ phone: BOB }, 'firstName'], [{ phone: BOB, firstName: '' }, 'firstName'],
    [{ phone: '12', firstName: 'x' }, 'phone'], [{ firstName: 'x' }, 'phone'], [{ phone: BOB, firstName: 7 }, 'firstName'],
    [{ phone: BOB, firstName: 'x', lastName: 'y'.repeat(300) }, 'lastName']]) {
    r = await api('POST', '', body);
    assert.equal(r.status, 400, JSON.stringify(body) + r.text);
    assert.equal(r.json.error.details.field, field, r.text);
  }
  r = await api('DELETE', '/abc');
  assert.equal(r.status, 400, r.text);
  r = await api('POST', '', { phone: BOB, firstName: 'x' }, 'ghost');
  assert.equal(r.status, 404, r.text);
});
