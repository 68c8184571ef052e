// tests/integration/appstate.test.mjs - app-state sync (syncd) end to end against
// miaw-sim, through the ABI 1.4 services of a test plugin (fixtures/plugin_appstate.c,
// built here with cc against sdk/include like a third party's): the phone shares its key
// with the newly linked instance; mutations the phone makes reach the plugin's
// subscriptions verified (server_sync notification, fetch, MACs and LTHash) with the
// same LTHash as the phone's; patches the plugin pushes (a contact action, the push-name
// setting, a remove) are taken by the server and decode on the phone with every MAC
// checked; bad patches are refused with the field named; the state survives a restart
// (only the new mutation arrives afterwards); a full resync replays the collection; lost
// keys are asked for again (appStateSyncKeyRequest); a corrupt stored state is detected
// and synced again from scratch; a snapshot and external mutations are downloaded from
// the media host and verified; a lost notification makes a push stale: 409, fetch, the
// patch made again on top.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, startServer, tempDir, waitFor } from './lib/harness.mjs';
import { startSim, simEnv, pairByQr } from './lib/sim.mjs';

const A = '15550007701';
const CONTACT = '15550007799@s.whatsapp.net';

let pluginDir;
before(() => {
  pluginDir = tempDir('miaw-asprobe-');
  execFileSync('cc', ['-std=c11', '-shared', '-fPIC', '-Wall', '-Wextra', '-Werror', '-Wno-override-init',
    '-fvisibility=hidden', '-I', join(ROOT, 'sdk/include'), '-o', join(pluginDir, 'asprobe.so'),
    join(ROOT, 'tests/integration/fixtures/plugin_appstate.c'), '-ljansson']);
});
after(() => rmSync(pluginDir, { recursive: true, force: true }));

const cfg = () => `plugins:\n  dir: ${pluginDir}\n  enabled: [asprobe]\n`;

test('app-state: key share, phone mutations, plugin pushes, restart, resync', { timeout: 240000 }, async (t) => {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-as-');
  const sim = await startSim({ stateDir: simDir });
  let srv = null;
  t.after(async () => {
    if (srv) await srv.stop();
    await sim.stop();
    rmSync(simDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  // snapshots and external mutations come from the simulator's media host: trust its CA
  const caFile = join(simDir, 'media-ca.pem');
  writeFileSync(caFile, await (await fetch(`http://127.0.0.1:${sim.info.port}/sim/media-ca`)).text());
  const start = async () => startServer({ env: simEnv(sim, { WA_MEDIA_CA_FILE: caFile }), dataDir, pluginDir, config: cfg() });
  srv = await start();
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'a' })).status, 201);
  await pairByQr(srv, sim, 'a', A, { name: 'Ann' });

  const state = async () => {
    const r = await srv.api('GET', '/api/v1/asprobe/a/state');
    assert.equal(r.status, 200, r.text);
    return r.json.data;
  };
  const seen = async () => (await srv.api('GET', '/api/v1/asprobe/mutations')).json.data;
  const simState = async () => (await sim.api('GET', `/sim/accounts/${A}/appstate`)).json;
  const phoneMutate = async (collection, mutations) => {
    const r = await sim.api('POST', `/sim/accounts/${A}/appstate`, { collection, mutations });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json.version;
  };
  const push = async (patch) => (await srv.api('POST', '/api/v1/asprobe/a/push', { patch })).json.data;

  // ---- the phone shared its key when the instance logged in
  await waitFor(async () => (await state()).keys >= 1, { what: 'app-state key share stored', timeoutMs: 20000 });

  // ---- a mutation made on the phone arrives, verified
  const v1 = await phoneMutate('regular_high', [{ operation: 'set', index: ['contact', CONTACT],
    value: { timestamp: '1700000000000', contactAction: { fullName: 'Zed Phone', firstName: 'Zed' } } }]);
  assert.equal(v1, 1);
  await waitFor(async () => (await seen()).mutations.length >= 1, { what: 'phone mutation delivered', timeoutMs: 20000 });
  let s = await seen();
  assert.equal(s.mutations.length, 1);
  const m0 = s.mutations[0];
  assert.equal(m0.instance, 'a');
  assert.equal(m0.mutation.collection, 'regular_high');
  assert.equal(m0.mutation.operation, 'set');
  assert.deepEqual(m0.mutation.index, ['contact', CONTACT]);
  assert.deepEqual(m0.mutation.value.contactAction, { fullName: 'Zed Phone', firstName: 'Zed' });
  assert.equal(m0.mutation.timestamp, 1700000000000);
  assert.equal(m0.mutation.version, 1);
  assert.equal(s.regularHigh, 1, 'the collection-filtered subscription saw it too');
  let st = await state();
  let ph = await simState();
  assert.equal(st.collections.regular_high.version, 1);
  assert.equal(st.collections.regular_high.status, 'synced');
  assert.equal(st.collections.regular_high.hash, ph.collections.regular_high.phoneHash, 'same LTHash as the phone');
  assert.equal(st.collections.regular_high.entries, 1);

  // ---- the plugin pushes a contact action and the push-name setting
  let r = await push({ collection: 'regular_high', mutations: [{ operation: 'set', index: ['contact', '15550007788@s.whatsapp.net'],
    value: { timestamp: String(Date.now()), contactAction: { fullName: 'Ada Lovelace', firstName: 'Ada' } } }] });
  assert.equal(r.status, 0, JSON.stringify(r));
  assert.deepEqual(r.result, { collection: 'regular_high', version: 2 });
  r = await push({ collection: 'critical_block', mutations: [{ operation: 'set', index: ['setting_pushName'], version: 1,
    value: { timestamp: String(Date.now()), pushNameSetting: { name: 'Ann Miaw' } } }] });
  assert.equal(r.status, 0, JSON.stringify(r));
  assert.deepEqual(r.result, { collection: 'critical_block', version: 1 });
  ph = await simState();
  assert.equal(ph.collections.regular_high.version, 2);
  assert.equal(ph.collections.critical_block.version, 1);
  const fromMiaw = ph.mutations.filter((x) => x.fromDevice !== 0);
  assert.equal(fromMiaw.length, 2, JSON.stringify(ph.mutations));
  assert.ok(fromMiaw.every((x) => !x.error), 'the phone verified every MAC of miaw\'s patches');
  assert.deepEqual(fromMiaw[0].index, ['contact', '15550007788@s.whatsapp.net']);
  assert.deepEqual(fromMiaw[0].value.contactAction, { fullName: 'Ada Lovelace', firstName: 'Ada' });
  assert.deepEqual(fromMiaw[1].index, ['setting_pushName']);
  assert.equal(fromMiaw[1].value.pushNameSetting.name, 'Ann Miaw');
  st = await state();
  assert.equal(st.collections.regular_high.hash, ph.collections.regular_high.phoneHash);
  assert.equal(st.collections.critical_block.hash, ph.collections.critical_block.phoneHash);
  assert.equal((await seen()).mutations.length, 1, 'own pushes are not echoed to subscriptions');

  // ---- a remove, then the phone's view agrees
  r = await push({ collection: 'regular_high', mutations: [{ operation: 'remove', index: ['contact', '15550007788@s.whatsapp.net'],
    value: { timestamp: String(Date.now()) } }] });
  assert.equal(r.status, 0, JSON.stringify(r));
  ph = await simState();
  assert.equal(ph.collections.regular_high.records, 1);
  st = await state();
  assert.equal(st.collections.regular_high.entries, 1);
  assert.equal(st.collections.regular_high.hash, ph.collections.regular_high.phoneHash);

  // ---- bad patches: refused with the field, nothing sent
  r = await push({ collection: 'regular_hi', mutations: [] });
  assert.equal(r.status, -1);
  assert.equal(r.field, 'collection');
  r = await push({ collection: 'regular_high', mutations: [{ operation: 'set', index: ['contact', 'x'], value: { contactActon: {} } }] });
  assert.equal(r.status, -1);
  assert.equal(r.field, 'mutations');
  assert.match(r.error, /contactActon/);
  r = await push({ collection: 'regular_high', mutations: [{ operation: 'set', index: [1], value: {} }] });
  assert.equal(r.status, -1);
  assert.match(r.error, /index/);
  r = await push({ collection: 'regular_high', mutations: [{ operation: 'upsert', index: ['a'], value: {} }] });
  assert.equal(r.status, -1);
  assert.equal((await simState()).collections.regular_high.version, 3);

  // ---- restart: the state is kept; only the new mutation arrives
  await srv.stop();
  srv = null;
  const v4 = await phoneMutate('regular_high', [{ operation: 'set', index: ['pin_v1', CONTACT],
    value: { timestamp: '1700000005000', pinAction: { pinned: true } } }]);
  assert.equal(v4, 4);
  srv = await start();
  await waitFor(async () => (await seen()).mutations.length >= 1, { what: 'mutation after restart', timeoutMs: 30000 });
  await waitFor(async () => (await state()).collections.regular_high.version === 4, { what: 'version 4', timeoutMs: 20000 });
  s = await seen();
  assert.equal(s.mutations.length, 1, 'only what changed while miaw was down: ' + JSON.stringify(s.mutations));
  assert.deepEqual(s.mutations[0].mutation.index, ['pin_v1', CONTACT]);
  assert.equal(s.mutations[0].mutation.value.pinAction.pinned, true);
  st = await state();
  ph = await simState();
  assert.equal(st.collections.regular_high.hash, ph.collections.regular_high.phoneHash);
  assert.equal(st.collections.critical_block.version, 1);

  // ---- a full resync from version 0: the simulator keeps every patch and sends no
  // snapshot, so the whole history comes again; replayed, it gives the live records
  r = (await srv.api('POST', '/api/v1/asprobe/a/sync', { collection: 'regular_high', full: true })).json.data;
  assert.equal(r.status, 0, JSON.stringify(r));
  await waitFor(async () => (await seen()).mutations.length >= 5, { what: 'resync delivered', timeoutMs: 20000 });
  s = await seen();
  assert.equal(s.mutations.length, 5);
  const live = new Map();
  for (const { mutation: mu } of s.mutations.slice(1)) {
    const k = JSON.stringify(mu.index);
    if (mu.operation === 'remove') live.delete(k); else live.set(k, mu.value);
  }
  assert.deepEqual([...live.keys()].sort(), [JSON.stringify(['contact', CONTACT]), JSON.stringify(['pin_v1', CONTACT])]);
  assert.equal(live.get(JSON.stringify(['contact', CONTACT])).contactAction.fullName, 'Zed Phone');
  st = await state();
  assert.equal(st.collections.regular_high.version, 4);
  assert.equal(st.collections.regular_high.hash, ph.collections.regular_high.phoneHash);
  r = (await srv.api('POST', '/api/v1/asprobe/a/sync', { collection: 'nope' })).json.data;
  assert.equal(r.status, -1);

  // ---- a lost key: the stored keys are deleted while miaw is down; the next patch is
  // blocked, miaw asks the phone (appStateSyncKeyRequest), the phone shares, sync goes on
  await srv.stop();
  srv = null;
  execFileSync('sqlite3', [join(dataDir, 'miaw.db'), 'DELETE FROM wa_as_keys']);
  const v5 = await phoneMutate('regular_high', [{ operation: 'set', index: ['mute', CONTACT],
    value: { timestamp: '1700000006000', muteAction: { muted: true, muteEndTimestamp: '1800000000000' } } }]);
  assert.equal(v5, 5);
  srv = await start();
  await waitFor(async () => (await seen()).mutations.some((x) => x.mutation.index[0] === 'mute'),
    { what: 'mutation after the key was asked for again', timeoutMs: 30000 });
  st = await state();
  assert.equal(st.keys, 1);
  assert.equal(st.collections.regular_high.version, 5);
  assert.equal(st.collections.regular_high.status, 'synced');
  assert.equal(st.collections.regular_high.hash, (await simState()).collections.regular_high.phoneHash);
  assert.match(srv.logs(), /asked the phone for a missing app-state key/);

  // ---- a corrupt stored state (a hash of the wrong size): detected, synced from scratch
  await srv.stop();
  srv = null;
  execFileSync('sqlite3', [join(dataDir, 'miaw.db'), "UPDATE wa_as_state SET hash=x'0102' WHERE name='regular_high'"]);
  srv = await start();
  await waitFor(async () => { const c = (await state()).collections.regular_high; return c.version === 5 && c.status === 'synced' },
    { what: 'resynced after a corrupt row', timeoutMs: 30000 });
  assert.equal((await state()).collections.regular_high.hash, (await simState()).collections.regular_high.phoneHash);
  assert.match(srv.logs(), /stored state is corrupt/);

  // ---- snapshots and external mutations (stored on the media host as md-app-state)
  let cfgr = await sim.api('POST', `/sim/accounts/${A}/appstate`, { snapshots: true, externalMutations: true });
  assert.equal(cfgr.status, 200, JSON.stringify(cfgr.json));
  const before = (await seen()).mutations.length;
  r = (await srv.api('POST', '/api/v1/asprobe/a/sync', { collection: 'regular_high', full: true })).json.data;
  assert.equal(r.status, 0, JSON.stringify(r));
  // the snapshot holds the live records only: the contact, the pin and the mute
  await waitFor(async () => (await seen()).mutations.length >= before + 3, { what: 'snapshot records delivered', timeoutMs: 30000 });
  await waitFor(async () => (await state()).collections.regular_high.status === 'synced', { what: 'synced from the snapshot', timeoutMs: 20000 });
  s = await seen();
  assert.deepEqual(s.mutations.slice(before).map((x) => x.mutation.index[0]).sort(), ['contact', 'mute', 'pin_v1']);
  assert.ok(s.mutations.slice(before).every((x) => x.mutation.operation === 'set' && x.mutation.version === 5));
  st = await state();
  assert.equal(st.collections.regular_high.version, 5);
  assert.equal(st.collections.regular_high.hash, (await simState()).collections.regular_high.phoneHash);
  assert.match(srv.logs(), /restored from a snapshot at version 5/);
  // a new patch, served with its mutations as an external blob
  await phoneMutate('regular_high', [{ operation: 'set', index: ['star', CONTACT, '3EB0AA', '1', '0'],
    value: { timestamp: '1700000007000', starAction: { starred: true } } }]);
  await waitFor(async () => (await seen()).mutations.some((x) => x.mutation.index[0] === 'star'),
    { what: 'external mutations delivered', timeoutMs: 30000 });
  st = await state();
  assert.equal(st.collections.regular_high.version, 6);
  assert.equal(st.collections.regular_high.hash, (await simState()).collections.regular_high.phoneHash);
  cfgr = await sim.api('POST', `/sim/accounts/${A}/appstate`, { snapshots: 'yes' });
  assert.equal(cfgr.status, 400);

  // ---- a lost notification: miaw's base is stale, the server answers 409, miaw fetches
  // (the phone's mutation arrives) and makes its patch again on top
  cfgr = await sim.api('POST', `/sim/accounts/${A}/appstate`, { notifications: false, snapshots: false, externalMutations: false });
  assert.equal(cfgr.status, 200, JSON.stringify(cfgr.json));
  assert.equal(await phoneMutate('regular_high', [{ operation: 'set', index: ['mute', '15550007700@s.whatsapp.net'],
    value: { timestamp: '1700000008000', muteAction: { muted: false } } }]), 7);
  assert.equal((await state()).collections.regular_high.version, 6, 'miaw did not hear of version 7');
  r = await push({ collection: 'regular_high', mutations: [{ operation: 'set', index: ['pin_v1', '15550007700@s.whatsapp.net'],
    value: { timestamp: String(Date.now()), pinAction: { pinned: true } } }] });
  assert.equal(r.status, 0, JSON.stringify(r));
  assert.deepEqual(r.result, { collection: 'regular_high', version: 8 });
  assert.ok((await seen()).mutations.some((x) => x.mutation.index[0] === 'mute' && x.mutation.index[1] === '15550007700@s.whatsapp.net'),
    'the fetch after the conflict delivered the phone\'s mutation');
  ph = await simState();
  assert.equal(ph.collections.regular_high.version, 8);
  assert.deepEqual(ph.mutations.filter((x) => x.error), [], 'the phone verified the re-made patch');
  st = await state();
  assert.equal(st.collections.regular_high.hash, ph.collections.regular_high.phoneHash);
  // an info line: the log buffers those for up to 5 ms, so it may follow the answer
  await waitFor(() => /conflicts: fetching first/.test(srv.logs()), { what: 'the conflict in the log', timeoutMs: 2000 });
});
