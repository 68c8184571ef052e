// tests/integration/profile.test.mjs - the profile plugin (spec 4.4.5) against miaw-sim:
// instance `bot` (account ME) reads its profile, sets its about text (the simulator's
// account has it, another instance `bot2` reads it through contacts), its push name (bot2
// sees it on bot's next message), and its picture from base64 JPEG, a multipart PNG and
// a URL (a local HTTP server): the simulator stores a 640x640 JPEG and a 96x96 preview,
// bot2 reads and downloads them; then removes it. Bad input: 400 with the field. A block
// (contacts plugin): bot2's message to Me's account is not delivered until the unblock.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD, ROOT, startServer, tempDir, waitFor } from './lib/harness.mjs';
import { startSim, simEnv, pairByQr } from './lib/sim.mjs';

const ME = '15550009001';
const CAROL = '15550009002';
const G = '/api/v1/instances';
const FIX = join(ROOT, 'tests/integration/fixtures/media');
const JPEG = readFileSync(join(FIX, 'img.jpg')); // 320x240
const PNG = readFileSync(join(FIX, 'img.png'));  // 200x150 RGBA

/** width and height of a baseline or progressive JPEG (its SOF marker) */
function jpegSize(b) {
  assert.equal(b.readUInt16BE(0), 0xffd8, 'a JPEG');
  for (let i = 2; i + 9 < b.length;) {
    const m = b.readUInt16BE(i);
    const len = b.readUInt16BE(i + 2);
    if (m >= 0xffc0 && m <= 0xffc2) return [b.readUInt16BE(i + 7), b.readUInt16BE(i + 5)];
    i += 2 + len;
  }
  throw new Error('no SOF marker');
}

test('profile: read, about text, push name, picture set three ways and removed', { timeout: 180000 }, async (t) => {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-profile-');
  const sim = await startSim({ stateDir: simDir });
  const files = createServer((req, res) => {
    if (req.url === '/pic.jpg') { res.writeHead(200, { 'content-type': 'image/jpeg' }); res.end(JPEG); }
    else { res.writeHead(404); res.end(); }
  });
  await new Promise((r) => files.listen(0, '127.0.0.1', r));
  const filesUrl = `http://127.0.0.1:${files.address().port}`;
  const srv = await startServer({ env: simEnv(sim), dataDir, plugins: ['messages', 'contacts', 'profile'] });
  t.after(async () => {
    await srv.stop();
    await sim.stop();
    assert.doesNotMatch(srv.logs(), /ERROR: \w+Sanitizer|runtime error:/);
    files.close();
    rmSync(simDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  for (const id of ['bot', 'bot2', 'idle']) assert.equal((await srv.api('POST', G, { instanceId: id })).status, 201);
  await pairByQr(srv, sim, 'bot', ME, { name: 'Me' });
  await pairByQr(srv, sim, 'bot2', CAROL, { name: 'Carol' });
  const lid = (await sim.api('GET', '/sim/accounts')).json.accounts.find((a) => a.phone === ME).lid;
  const api = (method, path, body, inst = 'bot') => srv.api(method, `${G}/${inst}/profile${path}`, body);
  const simProfile = async (p = ME) => (await sim.api('GET', `/sim/profile/${p}`)).json;

  // ---- read
  let r = await api('GET', '');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.jid, `${ME}@s.whatsapp.net`);
  assert.equal(r.json.data.phone, ME);
  assert.equal(r.json.data.lid, lid);
  assert.equal(r.json.data.name, null);
  assert.equal(r.json.data.picture, null);
  r = await api('GET', '', undefined, 'idle');
  assert.equal(r.status, 503, r.text);
  r = await api('GET', '', undefined, 'ghost');
  assert.equal(r.status, 404, r.text);

  // ---- about text
  r = await api('PATCH', '/status', { status: 'Busy building 🚧' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { status: 'Busy building 🚧' });
  assert.equal((await simProfile()).status, 'Busy building 🚧');
  r = await api('GET', '');
  assert.equal(r.json.data.about, 'Busy building 🚧');
  assert.equal(typeof r.json.data.aboutSetAt, 'number');
  r = await srv.api('GET', `${G}/bot2/contacts/${ME}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.about, 'Busy building 🚧');
  for (const body of [{ status: 'x'.repeat(140) }, {}, { status: 7 }]) {
    r = await api('PATCH', '/status', body);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.details.field, 'status');
  }
  r = await api('PATCH', '/status', 'not json');
  assert.equal(r.status, 400, r.text);

  // ---- push name: bot2 sees it on bot's next message
  // (the account-wide setting goes through app-state once the phone shared its keys)
  await waitFor(async () => {
    r = await api('PATCH', '/name', { name: 'Miaw Bot' });
    assert.equal(r.status, 200, r.text);
    return r.json.data.appState !== null;
  }, { what: 'the push name sent through app-state', timeoutMs: 20000 });
  assert.equal(r.json.data.name, 'Miaw Bot');
  assert.equal(r.json.data.appState.collection, 'critical_block');
  assert.equal(r.json.data.appStateError, undefined);
  assert.equal((await api('GET', '')).json.data.name, 'Miaw Bot');
  // the phone decoded and verified the pushNameSetting
  const ph = (await sim.api('GET', `/sim/accounts/${ME}/appstate`)).json;
  const pn = ph.mutations.filter((m) => m.collection === 'critical_block' && m.fromDevice !== 0).at(-1);
  assert.ok(pn && !pn.error, JSON.stringify(ph.mutations));
  assert.deepEqual(pn.index, ['setting_pushName']);
  assert.equal(pn.value.pushNameSetting.name, 'Miaw Bot');
  // renamed on the phone: the profile follows
  const pr = await sim.api('POST', `/sim/accounts/${ME}/appstate`, { collection: 'critical_block', mutations: [
    { operation: 'set', index: ['setting_pushName'], version: 1, value: { timestamp: String(Date.now()), pushNameSetting: { name: 'Phone Name' } } }] });
  assert.equal(pr.status, 201, JSON.stringify(pr.json));
  await waitFor(async () => (await api('GET', '')).json.data.name === 'Phone Name', { what: 'the name set on the phone', timeoutMs: 20000 });
  r = await api('PATCH', '/name', { name: 'Miaw Bot' });
  assert.equal(r.status, 200, r.text);
  assert.equal((await srv.api('POST', `${G}/bot/messages/text`, { to: CAROL, text: 'hello' })).status, 200);
  await waitFor(async () => {
    const k = (await srv.api('GET', `${G}/bot2/contacts`)).json.data.contacts;
    return k.some((c) => c.jid === `${ME}@s.whatsapp.net` && c.pushName === 'Miaw Bot');
  }, { what: 'bot2 sees the push name' });
  for (const body of [{ name: '' }, { name: 'n'.repeat(26) }, { name: 'a\nb' }, {}]) {
    r = await api('PATCH', '/name', body);
    assert.equal(r.status, 400, JSON.stringify(body) + r.text);
    assert.equal(r.json.error.details.field, 'name');
  }
  r = await api('PATCH', '/name', { name: 'x' }, 'idle');
  assert.equal(r.status, 503, r.text);

  // ---- picture from base64 JPEG: 640 and 96 px squares on the simulator
  r = await api('POST', '/picture', { image: JPEG.toString('base64') });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.size, 640);
  assert.deepEqual(r.json.data.source, { width: 320, height: 240 });
  let sp = await simProfile();
  assert.equal(String(sp.picture.id), r.json.data.id);
  assert.equal(sp.picture.imageLength, r.json.data.bytes);
  assert.equal(sp.picture.previewLength, r.json.data.previewBytes);
  const full = Buffer.from(await (await fetch(sp.picture.url)).arrayBuffer());
  assert.deepEqual(jpegSize(full), [640, 640]);
  // bot2 reads and downloads it
  r = await srv.api('GET', `${G}/bot2/contacts/${ME}/picture?type=preview`);
  assert.equal(r.status, 200, r.text);
  const prev = Buffer.from(await (await fetch(r.json.data.url)).arrayBuffer());
  assert.deepEqual(jpegSize(prev), [96, 96]);
  const dl = await fetch(`${srv.url}${G}/bot2/contacts/${ME}/picture?download=true`,
    { headers: { authorization: `Bearer ${srv.apiKey}` } });
  assert.equal(dl.status, 200);
  assert.ok(Buffer.from(await dl.arrayBuffer()).equals(full));
  r = await api('GET', '');
  assert.equal(r.json.data.picture.id, String(sp.picture.id));

  // ---- from a multipart PNG
  const fd = new FormData();
  fd.append('file', new Blob([PNG], { type: 'image/png' }), 'me.png');
  const mp = await fetch(`${srv.url}${G}/bot/profile/picture`, { method: 'POST', headers: { authorization: `Bearer ${srv.apiKey}` }, body: fd });
  const mj = await mp.json();
  assert.equal(mp.status, 200, JSON.stringify(mj));
  assert.deepEqual(mj.data.source, { width: 200, height: 150 });
  sp = await simProfile();
  assert.equal(String(sp.picture.id), mj.data.id);

  // ---- from a URL
  r = await api('POST', '/picture', { url: `${filesUrl}/pic.jpg` });
  assert.equal(r.status, 200, r.text);
  assert.notEqual(r.json.data.id, mj.data.id);
  r = await api('POST', '/picture', { url: `${filesUrl}/missing.jpg` });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.details.field, 'url');

  // ---- bad images
  for (const [body, field] of [[{ image: '@@not base64@@' }, 'image'], [{ image: Buffer.from('hello world').toString('base64') }, 'image'],
    [{ image: JPEG.subarray(0, 200).toString('base64') }, 'image'], [{}, 'image'],
    [{ image: JPEG.toString('base64'), url: `${filesUrl}/pic.jpg` }, 'image'], [{ url: 'ftp://x/y.jpg' }, 'url']]) {
    r = await api('POST', '/picture', body);
    assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80) + r.text);
    assert.equal(r.json.error.details.field, field);
  }

  // ---- removed
  r = await api('DELETE', '/picture');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { removed: true });
  assert.equal((await simProfile()).picture, null);
  assert.equal((await api('GET', '')).json.data.picture, null);
  r = await srv.api('GET', `${G}/bot2/contacts/${ME}/picture`);
  assert.equal(r.status, 404, r.text);

  // ---- a block: Carol's messages to Me are acknowledged but not delivered, until unblocked
  const phoneGot = async () => (await sim.api('GET', `/sim/accounts/${ME}/messages`)).json.messages.map((x) => x.id)
  assert.equal((await srv.api('POST', `${G}/bot/contacts/${CAROL}/block`)).status, 200)
  r = await srv.api('POST', `${G}/bot2/messages/text`, { to: ME, text: 'blocked?' })
  assert.equal(r.status, 200, r.text)
  const dropped = r.json.data.messageId
  assert.equal((await srv.api('POST', `${G}/bot/contacts/${CAROL}/unblock`)).status, 200)
  r = await srv.api('POST', `${G}/bot2/messages/text`, { to: ME, text: 'and now?' })
  assert.equal(r.status, 200, r.text)
  const passed = r.json.data.messageId
  await waitFor(async () => (await phoneGot()).includes(passed), { what: 'the message after the unblock' })
  assert.ok(!(await phoneGot()).includes(dropped), 'the message sent while blocked never arrived')

  // ---- OpenAPI
  const doc = (await srv.api('GET', '/openapi.json')).json;
  const paths = Object.keys(doc.paths);
  for (const [p, m] of [['/profile', 'get'], ['/profile/status', 'patch'], ['/profile/name', 'patch'], ['/profile/picture', 'post'],
    ['/profile/picture', 'delete']]) {
    const key = paths.find((k) => k.endsWith(`/instances/{instanceId}${p}`));
    assert.ok(key, p);
    assert.equal(doc.paths[key][m]['x-plugin'].name, 'profile');
  }
  assert.ok(doc.paths[paths.find((k) => k.endsWith('/profile/picture'))].post.requestBody.content['multipart/form-data']);
});
