// tests/integration/plugin_services.test.mjs - the generic engine services of plugin ABI
// 1.2, each end to end against miaw-sim through a test plugin (fixtures/plugin_probe.c,
// built here with cc against sdk/include like a third party's): iq (result, IQ error with
// its code, bad nodes named by path), stanza_send and stanza subscriptions (chat state,
// presence, w:gp2 notification, after the core's ack), msg_send (WAProto JSON, bytes,
// options, errors naming the field path), msg_get, cancel; a plugin built against 1.1
// (fixtures/plugin_v11.c) still loads and sends; calls in flight at unload never call back.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { BUILD, ROOT, startServer, tempDir, waitFor, sleep } from './lib/harness.mjs';
import { startSim, simEnv, pairByQr } from './lib/sim.mjs';

const A = '15550004441';   // instance a's account
const B = '15550004442';   // instance b's account
const BOB = '15550004443'; // a phone only

let pluginDir;
before(() => {
  pluginDir = tempDir('miaw-probe-');
  for (const [src, out] of [['plugin_probe.c', 'probe.so'], ['plugin_v11.c', 'v11.so']])
    execFileSync('cc', ['-std=c11', '-shared', '-fPIC', '-Wall', '-Wextra', '-Werror', '-Wno-override-init',
      '-fvisibility=hidden', '-I', join(ROOT, 'sdk/include'), '-o', join(pluginDir, out),
      join(ROOT, 'tests/integration/fixtures', src), '-ljansson']);
  copyFileSync(join(BUILD, 'plugins', 'messages.so'), join(pluginDir, 'messages.so'));
});
after(() => rmSync(pluginDir, { recursive: true, force: true }));

async function setup(t) {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-svc-');
  const sim = await startSim({ stateDir: simDir });
  const ctx = { sim, srv: null };
  t.after(async () => {
    if (ctx.srv) await ctx.srv.stop();
    await sim.stop();
    rmSync(simDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  ctx.srv = await startServer({
    env: simEnv(sim), dataDir, pluginDir,
    config: `plugins:\n  dir: ${pluginDir}\n  enabled: [messages, probe, v11]\n`,
  });
  for (const id of ['a', 'b']) assert.equal((await ctx.srv.api('POST', '/api/v1/instances', { instanceId: id })).status, 201);
  assert.equal((await sim.api('POST', '/sim/accounts', { phone: BOB, name: 'Bob' })).status, 201);
  await pairByQr(ctx.srv, sim, 'a', A, { name: 'Ann' });
  await pairByQr(ctx.srv, sim, 'b', B, { name: 'Ben' });
  await waitFor(async () => {
    const s = (await sim.api('GET', '/sim/state')).json;
    return [A, B].every((p) => s.accounts.find((x) => x.phone === p).devices.some((d) => d.preKeys > 0));
  }, { what: 'pre-keys uploaded', timeoutMs: 10000 });
  return ctx;
}

const inbox = async (sim, phone) => (await sim.api('GET', `/sim/accounts/${phone}/messages`)).json.messages;
const jid = (p) => ({ jid: `${p}@s.whatsapp.net` });

test('iq, stanzas and subscriptions, msg_send, msg_get, cancel, a 1.1 plugin', { timeout: 180000 }, async (t) => {
  const { sim, srv } = await setup(t);
  const api = (m, p, b) => srv.api(m, p, b);

  // ---- iq: a result, with the plugin's node shape both ways
  const grp = await sim.api('POST', `/sim/accounts/${BOB}/groups`, { subject: 'Probe group', participants: [A] });
  assert.equal(grp.status, 201, JSON.stringify(grp.json));
  const gid = grp.json.id.includes('@') ? grp.json.id : `${grp.json.id}@g.us`;
  let r = await api('POST', '/api/v1/probe/a/iq', {
    node: { tag: 'iq', attrs: { to: { jid: 'g.us' }, type: 'get', xmlns: 'w:g2' },
      content: [{ tag: 'participating', content: [{ tag: 'participants' }, { tag: 'description' }] }] },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.status, 0, JSON.stringify(r.json.data));
  const reply = r.json.data.reply;
  assert.equal(reply.tag, 'iq');
  assert.equal(reply.attrs.type, 'result');
  assert.deepEqual(reply.attrs.from, { jid: 'g.us' }, 'JID attributes come back marked');
  const groups = reply.content.find((c) => c.tag === 'groups');
  assert.ok(groups && groups.content.some((g) => g.tag === 'group' && g.attrs.subject === 'Probe group'),
    JSON.stringify(reply));

  // ---- iq: an error reply keeps its code, and the node
  r = await api('POST', '/api/v1/probe/a/iq', {
    node: { tag: 'iq', attrs: { to: { jid: '120363999999999999@g.us' }, type: 'get', xmlns: 'w:g2' },
      content: [{ tag: 'query', attrs: { request: 'interactive' } }] },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.status, -10, 'MIAW_E_IO for an IQ error');
  assert.equal(r.json.data.reply.attrs.type, 'error');
  assert.match(r.json.data.detail, /^40[34] /);

  // ---- iq: bad input named by its JSON path; not an iq; unknown or unpaired instance
  r = await api('POST', '/api/v1/probe/a/iq', { node: { tag: 'iq', attrs: { to: { jid: 'not a jid@@' } } } });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, 'INVALID_REQUEST');
  assert.match(r.json.error.message, /attrs\.to/);
  r = await api('POST', '/api/v1/probe/a/iq', { node: { tag: 'presence' } });
  assert.equal(r.status, 400);
  r = await api('POST', '/api/v1/probe/a/iq', { node: { attrs: {} } });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /tag/);
  r = await api('POST', '/api/v1/probe/nobody/iq', { node: { tag: 'iq', attrs: { type: 'get', xmlns: 'w:p' } } });
  assert.equal(r.status, 404, 'no such instance');
  assert.equal((await api('POST', '/api/v1/instances', { instanceId: 'idle' })).status, 201);
  r = await api('POST', '/api/v1/probe/idle/iq', { node: { tag: 'iq', attrs: { type: 'get', xmlns: 'w:p' } } });
  assert.equal(r.status, 503, 'an instance that is not connected');
  assert.equal(r.json.error.code, 'INSTANCE_NOT_CONNECTED');
  r = await api('POST', '/api/v1/probe/idle/send', { to: BOB, message: { conversation: 'x' } });
  assert.equal(r.status, 503, r.text);

  // ---- subscriptions: the w:gp2 notification of the group creation reached instance a
  await waitFor(async () => (await api('GET', '/api/v1/probe/stanzas')).json.data
    .some((s) => s.sub === 'gp2' && s.instance === 'a' && s.node.attrs.from.jid === gid),
  { what: 'w:gp2 notification', timeoutMs: 10000 });

  // ---- stanza_send: a's chat state reaches b's subscription; a's presence subscription is answered
  r = await api('POST', '/api/v1/probe/a/stanza', {
    node: { tag: 'chatstate', attrs: { to: jid(B) }, content: [{ tag: 'composing' }] },
  });
  assert.equal(r.status, 200, r.text);
  await waitFor(async () => (await api('GET', '/api/v1/probe/stanzas')).json.data
    .some((s) => s.sub === 'composing' && s.instance === 'b' && s.node.attrs.from.jid.startsWith(A)),
  { what: 'chatstate at b', timeoutMs: 10000 });
  r = await api('POST', '/api/v1/probe/a/stanza', { node: { tag: 'presence', attrs: { type: 'subscribe', to: jid(B) } } });
  assert.equal(r.status, 200, r.text);
  await waitFor(async () => (await api('GET', '/api/v1/probe/stanzas')).json.data
    .some((s) => s.sub === 'presence' && s.instance === 'a' && s.node.attrs.from.jid.startsWith(B)),
  { what: 'presence answer at a', timeoutMs: 10000 });
  const seen = (await api('GET', '/api/v1/probe/stanzas')).json.data;
  assert.ok(!seen.some((s) => s.node.tag === 'message'), 'filters match in C: no other stanzas');
  r = await api('POST', '/api/v1/probe/a/stanza', { node: { tag: 'presence', content: { b64: '!!' } } });
  assert.equal(r.status, 400, r.text);

  // ---- msg_send with WAProto JSON, with an id of our own and extra nodes; msg_get
  r = await api('POST', '/api/v1/probe/a/send', {
    to: `+${BOB}`, message: { conversation: 'hi as json', messageContextInfo: { messageSecret: Buffer.alloc(32, 7).toString('base64') } },
    opts: { id: '3EB0AAAABBBBCCCCDDDD01', nodes: [{ tag: 'meta', attrs: { probe: '1' } }] },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.messageId, '3EB0AAAABBBBCCCCDDDD01');
  assert.ok(r.json.data.timestamp > 1e9);
  await waitFor(async () => (await inbox(sim, BOB)).some((m) => m.id === '3EB0AAAABBBBCCCCDDDD01' && m.text === 'hi as json'),
    { what: 'json message at bob', timeoutMs: 10000 });
  r = await api('GET', '/api/v1/probe/a/msg/3EB0AAAABBBBCCCCDDDD01');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.fromMe, true);
  assert.equal(r.json.data.chat, `${BOB}@s.whatsapp.net`);
  assert.equal(r.json.data.message.conversation, 'hi as json');
  assert.equal(r.json.data.message.messageContextInfo.messageSecret, Buffer.alloc(32, 7).toString('base64'));
  assert.equal((await api('GET', '/api/v1/probe/a/msg/NOPE')).status, 404);

  // ---- msg_send with serialized bytes: Message{conversation = 1}
  const text = Buffer.from('hi as bytes');
  const raw = Buffer.concat([Buffer.from([0x0a, text.length]), text]).toString('base64');
  r = await api('POST', '/api/v1/probe/a/send', { to: BOB, raw });
  assert.equal(r.status, 200, r.text);
  const bytesId = r.json.data.messageId;
  await waitFor(async () => (await inbox(sim, BOB)).some((m) => m.id === bytesId && m.text === 'hi as bytes'),
    { what: 'bytes message at bob', timeoutMs: 10000 });

  // ---- msg_send errors: each names its field path
  r = await api('POST', '/api/v1/probe/a/send', { to: BOB, message: { conversation: 5 } });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.details.field, 'message.conversation');
  r = await api('POST', '/api/v1/probe/a/send', { to: BOB, message: { extendedTextMessage: { text: 'x', contextInfo: { stanzaIdd: 'y' } } } });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.details.field, 'message.extendedTextMessage.contextInfo.stanzaIdd');
  r = await api('POST', '/api/v1/probe/a/send', { to: 'not-a-number', message: { conversation: 'x' } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.details.field, 'to');
  r = await api('POST', '/api/v1/probe/a/send', { to: BOB, raw: Buffer.from([0xff, 0xff, 0xff]).toString('base64') });
  assert.equal(r.status, 400, 'bytes that are not a Message');
  assert.equal(r.json.error.details.field, 'message');

  // ---- cancel: no callback, the message still goes out
  r = await api('POST', '/api/v1/probe/a/cancel', { to: BOB, text: 'cancelled caller' });
  assert.equal(r.json.data.rc, 0);
  await waitFor(async () => (await inbox(sim, BOB)).some((m) => m.text === 'cancelled caller'), { what: 'cancelled send', timeoutMs: 10000 });
  await sleep(300);
  assert.doesNotMatch(srv.logs(), /probe callback/, 'a cancelled call never calls back');

  // ---- a plugin built against 1.1 loads, is listed with its minor, and its send_text works
  const plugins = (await api('GET', '/api/v1/plugins')).json.data;
  assert.equal(plugins.find((p) => p.name === 'v11').abiMinor, 1);
  assert.equal(plugins.find((p) => p.name === 'probe').abiMinor, 4); // built against the current SDK (ABI 1.4)
  r = await api('POST', '/api/v1/v11/a/text', { to: BOB, text: 'from a 1.1 plugin' });
  assert.equal(r.status, 200, r.text);
  await waitFor(async () => (await inbox(sim, BOB)).some((m) => m.id === r.json.data.messageId), { what: 'v11 text', timeoutMs: 10000 });
});

test('calls in flight at unload: cancelled, no callback after the plugin is gone, clean exit', { timeout: 120000 }, async (t) => {
  const ctx = await setup(t);
  const { sim, srv } = ctx;
  sim.proc.kill('SIGSTOP'); // the server answers nothing from now on: the calls stay in flight
  const r = await srv.api('POST', '/api/v1/probe/a/fire', {
    node: { tag: 'iq', attrs: { to: { jid: 'g.us' }, type: 'get', xmlns: 'w:g2' }, content: [{ tag: 'participating' }] },
    to: BOB, text: 'in flight at unload',
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data, { iq: 0, send: 0 });
  await sleep(200);
  await srv.stop();
  const { code } = await srv.exited;
  ctx.srv = null;
  assert.equal(code, 0, srv.logs());
  const logs = srv.logs();
  assert.match(logs, /probe fini/);
  assert.doesNotMatch(logs, /probe callback/, 'no callback of an unloaded plugin');
  assert.doesNotMatch(logs, /ERROR: (AddressSanitizer|LeakSanitizer)/);
});
