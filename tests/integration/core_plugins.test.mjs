// Plugin host: the example plugin built in-tree and out of tree against the installed
// SDK, routes with validated bodies, asynchronous answers (late, timed out, client gone),
// disabled plugins' routes gone from the API and from OpenAPI, init failure unloads,
// a plugin built for another ABI major is refused.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { BUILD, ROOT, startServer, tempDir, waitFor } from './lib/harness.mjs';

let pluginDir;
before(() => {
  pluginDir = tempDir('miaw-plugins-');
  copyFileSync(join(BUILD, 'example-plugins', 'hello.so'), join(pluginDir, 'hello.so'));
  for (const p of ['messages', 'groups']) copyFileSync(join(BUILD, 'plugins', p + '.so'), join(pluginDir, p + '.so'));
});

const cfgWith = (enabled, extra = '') =>
  `plugins:\n  dir: ${pluginDir}\n  enabled: [${enabled.join(', ')}]\n  config:\n    hello:\n      greeting: Hi\n${extra}`;

test('the example plugin: route with a validated body, kv storage, instance lookup', async () => {
  const s = await startServer({ config: cfgWith(['hello', 'messages']), pluginDir });
  try {
    assert.match(s.logs(), /plugin:hello\] ready \(greeting 'Hi'\)/);
    await s.api('POST', '/api/v1/instances', { instanceId: 'i1' });
    const a = await s.api('POST', '/api/v1/instances/i1/hello', { name: 'Ada' });
    assert.equal(a.status, 200);
    assert.equal(a.json.data.greeting, 'Hi, Ada!');
    assert.equal(a.json.data.count, 1);
    assert.equal(a.json.data.instance.instanceId, 'i1');
    const b = await s.api('POST', '/api/v1/instances/i1/hello', { name: 'Bob' });
    assert.equal(b.json.data.count, 2);
    const bad = await s.api('POST', '/api/v1/instances/i1/hello', { name: '' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.details.field, 'name');
    const missing = await s.api('POST', '/api/v1/instances/i1/hello', {});
    assert.equal(missing.json.error.details.field, 'name');
    const noinst = await s.api('POST', '/api/v1/instances/zz/hello', { name: 'x' });
    assert.equal(noinst.status, 404);
    assert.equal(noinst.json.error.code, 'INSTANCE_NOT_FOUND');
    const stats = await s.api('GET', '/api/v1/hello/stats');
    assert.equal(stats.json.data.greetings, 2, 'event subscription saw both greetings');
    assert.equal(stats.json.data.instancesCreated, 1);
    const unauth = await s.api('GET', '/api/v1/hello/stats', undefined, { noauth: true });
    assert.equal(unauth.status, 401);
    const doc = JSON.parse((await s.api('GET', '/openapi.json', undefined, { noauth: true })).text);
    assert.ok(doc.paths['/instances/{instanceId}/hello'].post);
    assert.equal(doc.paths['/instances/{instanceId}/hello'].post['x-plugin'].name, 'hello');
    assert.ok(doc.webhooks['hello.greeted'], 'declared webhook event documented');
  } finally { await s.stop(); }
});

test('asynchronous answers: late reply, 504 on timeout, client leaving first', async () => {
  const s = await startServer({ config: cfgWith(['hello']), pluginDir });
  try {
    const t0 = Date.now();
    const late = await s.api('POST', '/api/v1/hello/later', { name: 'Ada', delayMs: 150 });
    assert.equal(late.status, 200);
    assert.equal(late.json.data.greeting, 'Hi, Ada! (later)');
    assert.ok(Date.now() - t0 >= 140);
    const slow = await s.api('POST', '/api/v1/hello/later', { name: 'Ada', delayMs: 5000 });
    assert.equal(slow.status, 504);
    assert.equal(slow.json.error.code, 'TIMEOUT');
    // 40 clients leave before the answer (each once its request is fully written); the
    // server must not crash or answer a dead request
    const body = JSON.stringify({ name: 'gone', delayMs: 300 });
    await Promise.all(Array.from({ length: 40 }, () => new Promise((res) => {
      const rq = request({ host: '127.0.0.1', port: s.port, method: 'POST', path: '/api/v1/hello/later',
        headers: { authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json', 'content-length': body.length } });
      rq.on('error', () => res());
      rq.on('finish', () => setTimeout(() => { rq.destroy(); res(); }, 50));
      rq.end(body);
    })));
    // each left request is either answered into a closed socket (HTTP/1.1 notices the
    // close only when writing) or aborted (499); all 40 are accounted for, none crashed
    const settled = () => (s.logs().match(/POST \/api\/v1\/hello\/later (200|499) /g) || []).length;
    await waitFor(() => settled() >= 41, { timeoutMs: 15000, what: `41 settled requests (have ${settled()})` });
    const h = await s.api('GET', '/health', undefined, { noauth: true });
    assert.equal(h.status, 200);
  } finally { await s.stop(); }
});

test('a disabled plugin has no routes in the API nor in OpenAPI', async () => {
  const s = await startServer({ config: cfgWith(['messages']), pluginDir });
  try {
    await s.api('POST', '/api/v1/instances', { instanceId: 'i1' });
    const r = await s.api('POST', '/api/v1/instances/i1/hello', { name: 'Ada' });
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'NOT_FOUND');
    const doc = JSON.parse((await s.api('GET', '/openapi.json', undefined, { noauth: true })).text);
    assert.equal(doc.paths['/instances/{instanceId}/hello'], undefined);
    assert.equal(doc.webhooks['hello.greeted'], undefined);
    const plugins = (await s.api('GET', '/api/v1/plugins')).json.data.map((p) => p.name);
    assert.deepEqual(plugins, ['messages']);
  } finally { await s.stop(); }
});

test('a plugin whose init fails is unloaded with everything it registered', async () => {
  const s = await startServer({ config: cfgWith(['hello', 'groups']).replace('greeting: Hi', 'greeting: Hi\n      fail_init: true'), pluginDir });
  try {
    assert.match(s.logs(), /hello: init failed .*fail_init is set/);
    assert.equal((await s.api('GET', '/api/v1/hello/stats')).status, 404);
    const plugins = (await s.api('GET', '/api/v1/plugins')).json.data.map((p) => p.name);
    assert.deepEqual(plugins, ['groups'], 'the others still load');
  } finally { await s.stop(); }
});

test('a plugin built for another ABI major, or needing a newer minor, is refused with a clear log line', async () => {
  const dir = tempDir('miaw-badabi-');
  const cc = (out, extra) => execFileSync('cc', ['-std=c11', '-shared', '-fPIC', '-Wall', '-Wno-override-init', ...extra,
    '-I', join(ROOT, 'sdk/include'), '-o', join(dir, out), join(ROOT, 'tests/integration/fixtures/plugin_badabi.c')]);
  cc('badabi.so', []);
  cc('newminor.so', ['-DNEEDS_NEWER_MINOR']);
  copyFileSync(join(BUILD, 'plugins', 'messages.so'), join(dir, 'messages.so'));
  // the descriptor name must match the configured name, so the minor fixture is loaded as "badabi" too
  const s = await startServer({ config: `plugins:\n  dir: ${dir}\n  enabled: [badabi, messages]\n`, pluginDir: dir });
  try {
    assert.match(s.logs(), /badabi\.so: refused: built for plugin ABI 2\.\d+, this server speaks 1\.\d+ \(major must match\)/);
    const plugins = (await s.api('GET', '/api/v1/plugins')).json.data.map((p) => p.name);
    assert.deepEqual(plugins, ['messages']);
  } finally { await s.stop(); }
  copyFileSync(join(dir, 'newminor.so'), join(dir, 'badabi.so'));
  const s2 = await startServer({ config: `plugins:\n  dir: ${dir}\n  enabled: [badabi]\n`, pluginDir: dir });
  try {
    assert.match(s2.logs(), /badabi\.so: refused: needs plugin ABI minor \d+, this server has 1\.\d+/);
    assert.deepEqual((await s2.api('GET', '/api/v1/plugins')).json.data, []);
  } finally { await s2.stop(); }
});

test('plugins load only from the configured dir, never group-writable files', async () => {
  const dir = tempDir('miaw-perm-');
  copyFileSync(join(BUILD, 'example-plugins', 'hello.so'), join(dir, 'hello.so'));
  execFileSync('chmod', ['g+w', join(dir, 'hello.so')]);
  const s = await startServer({ config: `plugins:\n  dir: ${dir}\n  enabled: [hello, ../plugins/messages]\n`, pluginDir: dir });
  try {
    assert.match(s.logs(), /hello\.so: refused: writable by group or others/);
    assert.match(s.logs(), /plugin name '\.\.\/plugins\/messages' must match/);
    assert.deepEqual((await s.api('GET', '/api/v1/plugins')).json.data, []);
  } finally { await s.stop(); }
});

test('the example builds out of tree with only the installed SDK (pkg-config miaw-plugin) and loads', async () => {
  const prefix = tempDir('miaw-prefix-');
  execFileSync('cmake', ['--install', BUILD, '--prefix', prefix], { stdio: 'ignore' });
  const find = (dir, name) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) { const r = find(p, name); if (r) return r; } else if (e.name === name) return p;
    }
    return null;
  };
  const pc = find(prefix, 'miaw-plugin.pc');
  assert.ok(pc, 'miaw-plugin.pc installed');
  assert.ok(existsSync(join(prefix, 'include/miaw/plugin.h')));
  assert.ok(find(prefix, 'messages.so'), 'plugins installed');
  assert.ok(existsSync(join(prefix, 'bin/miaw')));
  const src = find(prefix, 'hello.c');
  const work = tempDir('miaw-oot-');
  cpSync(join(src, '..'), work, { recursive: true });
  // prefix in the .pc file is the configure-time one; point it at the install location
  const env = { ...process.env, PKG_CONFIG_PATH: join(pc, '..') };
  const cflags = execFileSync('pkg-config', ['--define-variable=prefix=' + prefix, '--cflags', 'miaw-plugin'], { env, encoding: 'utf8' }).trim();
  assert.match(cflags, new RegExp(`-I${prefix}/include`));
  execFileSync('make', ['-C', work, `PKG_CFLAGS=${cflags}`], { env, stdio: 'ignore' });
  const dir = tempDir('miaw-oot-plugins-');
  copyFileSync(join(work, 'hello.so'), join(dir, 'hello.so'));
  assert.ok(statSync(join(dir, 'hello.so')).size > 0);
  const s = await startServer({ config: `plugins:\n  dir: ${dir}\n  enabled: [hello]\n`, pluginDir: dir });
  try {
    await s.api('POST', '/api/v1/instances', { instanceId: 'x' });
    const r = await s.api('POST', '/api/v1/instances/x/hello', { name: 'World' });
    assert.equal(r.status, 200);
    assert.equal(r.json.data.greeting, 'Hello, World!');
  } finally { await s.stop(); }
});
