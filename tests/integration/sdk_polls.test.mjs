// tests/integration/sdk_polls.test.mjs - the polls example (sdk/examples/polls) builds
// out of tree exactly as a third-party author would: `cmake --install` of the build into
// a temporary prefix, a copy of the installed example, and its own Makefile run with only
// PKG_CONFIG_PATH pointing at the installed miaw-plugin.pc (pkg-config --cflags --libs
// miaw-plugin, plus libcrypto). The resulting polls.so loads in `miaw serve`: its routes
// are in /openapi.json, its event in the webhooks section, and a bad body is answered
// with the 400 envelope naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { BUILD, startServer, tempDir } from './lib/harness.mjs';

const find = (dir, name) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { const r = find(p, name); if (r) return r; } else if (e.name === name) return p;
  }
  return null;
};

test('the polls example builds out of tree against the installed SDK and loads', { timeout: 120000 }, async (t) => {
  const prefix = tempDir('miaw-polls-prefix-');
  const work = tempDir('miaw-polls-oot-');
  const dir = tempDir('miaw-polls-plugins-');
  t.after(() => { for (const d of [prefix, work, dir]) rmSync(d, { recursive: true, force: true }); });
  execFileSync('cmake', ['--install', BUILD, '--prefix', prefix], { stdio: 'ignore' });
  const pc = find(prefix, 'miaw-plugin.pc');
  assert.ok(pc, 'miaw-plugin.pc installed');
  const src = find(prefix, 'polls.c');
  assert.ok(src, 'the polls example is installed with the SDK');
  assert.ok(existsSync(join(src, '..', 'Makefile')));
  assert.ok(existsSync(join(src, '..', 'README.md')));
  cpSync(join(src, '..'), work, { recursive: true });
  rmSync(join(work, 'polls.so'), { force: true });
  // the .pc file names the configure-time prefix; the author's pkg-config is told where
  // the SDK really is (as with any relocated .pc)
  const pcdir = join(pc, '..');
  const pkgConfig = `pkg-config --define-variable=prefix=${prefix}`;
  const flags = execFileSync('sh', ['-c', `${pkgConfig} --cflags --libs miaw-plugin libcrypto`],
    { env: { ...process.env, PKG_CONFIG_PATH: pcdir }, encoding: 'utf8' });
  assert.match(flags, new RegExp(`-I${prefix}/include`), 'the installed headers');
  assert.match(flags, /-lcrypto/);
  assert.match(flags, /-ljansson/);
  const out = execFileSync('make', ['-C', work, `PKG_CONFIG_PATH=${pcdir}`, `PKG_CONFIG=${pkgConfig}`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(out, /-shared -o polls\.so polls\.c/);
  copyFileSync(join(work, 'polls.so'), join(dir, 'polls.so'));
  assert.ok(statSync(join(dir, 'polls.so')).size > 0);

  const s = await startServer({ config: `plugins:\n  dir: ${dir}\n  enabled: [polls]\n`, pluginDir: dir });
  try {
    const plugins = (await s.api('GET', '/api/v1/plugins')).json.data;
    assert.ok(plugins.some((p) => p.name === 'polls'), JSON.stringify(plugins));
    const doc = JSON.parse((await s.api('GET', '/openapi.json', undefined, { noauth: true })).text);
    const post = doc.paths['/instances/{instanceId}/polls']?.post;
    assert.ok(post, 'POST /instances/{instanceId}/polls in /openapi.json');
    assert.equal(post['x-plugin'].name, 'polls');
    assert.ok(doc.paths['/instances/{instanceId}/polls/{pollId}']?.get);
    assert.ok(doc.webhooks.poll_vote, 'poll_vote documented as a webhook event');

    assert.equal((await s.api('POST', '/api/v1/instances', { instanceId: 'x' })).status, 201);
    const bad = await s.api('POST', '/api/v1/instances/x/polls', { to: '15550001111', name: 'Q', options: ['only'] });
    assert.equal(bad.status, 400);
    assert.deepEqual(Object.keys(bad.json).sort(), ['error', 'success']);
    assert.equal(bad.json.success, false);
    assert.equal(bad.json.error.code, 'INVALID_REQUEST');
    assert.equal(bad.json.error.details.field, 'options');
    const dup = await s.api('POST', '/api/v1/instances/x/polls', { to: '15550001111', name: 'Q', options: ['a', 'a'] });
    assert.equal(dup.status, 400);
    assert.equal(dup.json.error.details.field, 'options');
    const count = await s.api('POST', '/api/v1/instances/x/polls', { to: '15550001111', name: 'Q', options: ['a', 'b'], selectableCount: 3 });
    assert.equal(count.status, 400);
    assert.equal(count.json.error.details.field, 'selectableCount');
    // a good body on an instance that is not connected: the host's 503 envelope
    const offline = await s.api('POST', '/api/v1/instances/x/polls', { to: '15550001111', name: 'Q', options: ['a', 'b'] });
    assert.equal(offline.status, 503, offline.text);
    assert.equal(offline.json.error.code, 'INSTANCE_NOT_CONNECTED');
  } finally { await s.stop(); }
});
