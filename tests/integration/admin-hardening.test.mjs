// tests/integration/admin-hardening.test.mjs - regression tests of `miaw admin` against
// config injection and secret leaks: a `%(here)s` (supervisord's expansion syntax) in any
// free-text field is stored and applied literally and breaks nothing for other ports;
// secrets never appear in supervisord's program config, in answers (masked), in the
// admin's stdout/stderr or in the audit log; a PATCH whose new worker cannot start is
// rolled back (previous files byte for byte, worker running the previous settings) and
// the failure message quotes the worker's stderr with its secrets redacted.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  api, buildDir, freePort, httpGet, miawBin, rememberPid, startAdmin, startSupervisord, stopAll, tmpDir, waitFor,
} from './admin/harness.mjs';

const TOKEN = 'hardening-admin-token-' + 'y'.repeat(24);
const API_KEY = 'tenant-key-0123456789-abcdefXYZ';
const HOOK_SECRET = 'hook-secret-%(here)s-Zq9';
const PASSWORD = 'pw-%(ENV_HOME)s-77';
const SECRETS = [API_KEY, HOOK_SECRET, PASSWORD];

describe('miaw admin: injection, transactions and secrets', () => {
  let dir, sv, admin, auditFile, wrapper;
  const ports = {};

  before(async () => {
    dir = tmpDir('miaw-admin-hard-');
    sv = await startSupervisord(dir);
    auditFile = path.join(dir, 'audit.log');
    // a worker binary that refuses to start when its config names the device "FAIL-ME",
    // after printing its secrets to stderr (what a careless worker might do)
    wrapper = path.join(dir, 'miaw-wrapper');
    fs.writeFileSync(wrapper, [
      '#!/bin/sh',
      'if [ "$2" = "--config" ] && grep -q \'device_name: "FAIL-ME"\' "$3"; then',
      '  echo "refusing to start; my settings:" >&2',
      '  grep -E "api_key|secret|basic_auth" "$3" >&2',
      '  exit 3',
      'fi',
      `exec '${miawBin}' "$@"`,
      '',
    ].join('\n'), { mode: 0o755 });
    admin = await startAdmin({ sv, dir, token: TOKEN, env: {
      ADMIN_AUDIT_LOG: auditFile, MIAW_BIN: wrapper, MIAW_PLUGIN_DIR: path.join(buildDir, 'plugins'),
    } });
    for (const k of ['inj', 'other', 'tx']) ports[k] = await freePort();
  });

  after(async () => {
    await stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const workerCfg = async (port, auth = `Bearer ${API_KEY}`) =>
    httpGet(`http://127.0.0.1:${port}/api/v1/config`, { authorization: auth });

  it('a create with a client key echoes it masked, never in plain text', async () => {
    const r = await api(admin, 'POST', '/admin/instances', {
      port: ports.inj, api_key: API_KEY, webhook_secret: HOOK_SECRET, basic_auth: `ops:${PASSWORD}`,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    rememberPid(r.body.data.pid);
    assert.equal(r.body.data.api_key, '****' + API_KEY.slice(-4));
    assert.equal(r.body.data.config.webhook_secret, '********');
    assert.equal(r.body.data.config.basic_auth, 'ops:********');
    for (const s of SECRETS) assert.ok(!JSON.stringify(r.body).includes(s), `create answer leaks ${s}`);
    assert.equal(r.body.data.healthy, true, JSON.stringify(r.body.data));
    assert.equal((await workerCfg(ports.inj)).status, 200, 'the worker takes the key given');
  });

  it('%(here)s in every free-text field is applied literally and breaks nothing', async () => {
    const evil = {
      auto_reply: '%(here)s and %(ENV_PATH)s, 100% "quoted" \'single\' ; # x\nsecond line',
      os: 'Dev %(here)s', webhook: 'http://127.0.0.1:9/%(here)s', base_path: '',
      webhook_secret: HOOK_SECRET, basic_auth: `ops:${PASSWORD},x%(here)s:y%(here)s`,
    };
    const r = await api(admin, 'PATCH', `/admin/instances/${ports.inj}`, evil);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.data.state, 'RUNNING');
    assert.equal(r.body.data.healthy, true);
    rememberPid(r.body.data.pid);
    const cfg = (await waitFor(async () => {
      const x = await workerCfg(ports.inj);
      return x.status === 200 && x;
    }, { what: 'patched worker' })).body.data;
    assert.equal(cfg.autoReply, evil.auto_reply);
    assert.equal(cfg.deviceName, 'Dev %(here)s');
    assert.deepEqual(cfg.webhookUrls, ['http://127.0.0.1:9/%(here)s']);
    assert.deepEqual([...cfg.basicAuthUsers].sort(), ['ops', 'x%(here)s']);
    // supervisord still works for every port: create, update and delete another worker
    const c = await api(admin, 'POST', '/admin/instances', { port: ports.other, auto_reply: '%(here)s' });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    rememberPid(c.body.data.pid);
    const u = await api(admin, 'PATCH', `/admin/instances/${ports.other}`, { os: '%(program_name)s' });
    assert.equal(u.status, 200, JSON.stringify(u.body));
    rememberPid(u.body.data.pid);
    assert.equal((await api(admin, 'DELETE', `/admin/instances/${ports.other}`)).status, 200);
    // no secret and no tenant text in supervisord's program config; the worker's own is 0600
    const conf = fs.readFileSync(path.join(sv.confDir, `miaw-${ports.inj}.conf`), 'utf8');
    for (const s of [...SECRETS, '%(here)s', 'Dev ']) assert.ok(!conf.includes(s), `program config holds ${s}`);
    const wconf = path.join(admin.instancesDir, String(ports.inj), 'miaw.yaml');
    assert.equal(fs.statSync(wconf).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(admin.instancesDir, String(ports.inj), 'admin.json')).mode & 0o777, 0o600);
  });

  it('a PATCH whose worker cannot start is rolled back, with secrets redacted', async () => {
    const c = await api(admin, 'POST', '/admin/instances', {
      port: ports.tx, api_key: API_KEY, webhook_secret: HOOK_SECRET, os: 'Before', basic_auth: `ops:${PASSWORD}`,
    });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    rememberPid(c.body.data.pid);
    const files = [path.join(admin.instancesDir, String(ports.tx), 'admin.json'),
      path.join(admin.instancesDir, String(ports.tx), 'miaw.yaml'), path.join(sv.confDir, `miaw-${ports.tx}.conf`)];
    const before = files.map((f) => fs.readFileSync(f));
    const r = await api(admin, 'PATCH', `/admin/instances/${ports.tx}`, { os: 'FAIL-ME', debug: true });
    assert.equal(r.status, 500, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'START_FAILED');
    assert.match(r.body.message, /previous configuration was restored and the worker restarted/);
    assert.match(r.body.message, /refusing to start/, 'the stderr tail is quoted');
    for (const s of SECRETS) assert.ok(!r.body.message.includes(s), `failure message leaks ${s}`);
    assert.match(r.body.message, /\*\*\*/);
    // the files are back byte for byte and the worker runs the previous settings
    files.forEach((f, i) => assert.ok(fs.readFileSync(f).equals(before[i]), `${f} restored`));
    const g = await api(admin, 'GET', `/admin/instances/${ports.tx}`);
    assert.equal(g.body.data.state, 'RUNNING');
    assert.equal(g.body.data.config.os, 'Before');
    assert.equal(g.body.data.config.debug, false);
    rememberPid(g.body.data.pid);
    const cfg = (await waitFor(async () => {
      const x = await workerCfg(ports.tx);
      return x.status === 200 && x;
    }, { what: 'restored worker' })).body.data;
    assert.equal(cfg.deviceName, 'Before');
    assert.equal(cfg.logLevel, 'info');
    // and a good update afterwards goes through
    const ok = await api(admin, 'PATCH', `/admin/instances/${ports.tx}`, { os: 'After' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    rememberPid(ok.body.data.pid);
  });

  it('no secret reaches the admin\'s stdout, stderr or audit log', async () => {
    const audit = fs.readFileSync(auditFile, 'utf8');
    assert.ok(audit.split('\n').filter(Boolean).length >= 6, audit);
    for (const s of [...SECRETS, 'environment=']) {
      assert.ok(!audit.includes(s), `audit log holds ${s}`);
      assert.ok(!admin.stdout.includes(s), `stdout holds ${s}`);
      assert.ok(!admin.stderr.includes(s), `stderr holds ${s}`);
    }
    const failed = audit.split('\n').filter(Boolean).map((l) => JSON.parse(l))
      .filter((l) => l.action === 'update' && l.status === 500);
    assert.equal(failed.length, 1);
  });

  it('GET and list answers mask every secret', async () => {
    const g = await api(admin, 'GET', `/admin/instances/${ports.tx}`);
    const l = await api(admin, 'GET', '/admin/instances');
    for (const body of [g.body, l.body]) {
      for (const s of SECRETS) assert.ok(!JSON.stringify(body).includes(s), `answer leaks ${s}`);
    }
    assert.equal(g.body.data.api_key, '****' + API_KEY.slice(-4));
  });
});
