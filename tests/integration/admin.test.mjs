import { createHash } from 'node:crypto';
// tests/integration/admin.test.mjs - `miaw admin` end to end: a private supervisord, the
// admin process and real `miaw serve` workers on loopback. Covers create/list/get/
// update/delete, every request field reaching the worker's effective config, restart
// after kill -9, traces removed on delete, auth, validation, per-port locks, /metrics,
// audit lines, and the supervisord-down / supervisord-timeout answers (502/504/503).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  api, freePort, httpGet, miawBin, pidAlive, rememberPid, startAdmin, startSupervisord, stopAll, stopProc,
  tmpDir, waitFor, xmlrpc,
} from './admin/harness.mjs';

const TOKEN = 'test-admin-token-' + 'x'.repeat(24);
const basic = (u, p) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');

async function workerConfig(port, basePath, auth) {
  return httpGet(`http://127.0.0.1:${port}${basePath}/api/v1/config`, { authorization: auth });
}

describe('miaw admin start-up', () => {
  it('refuses to start without ADMIN_TOKEN, with the guide\'s message', async () => {
    const proc = spawn(miawBin, ['admin', '--port', String(await freePort())], {
      env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    proc.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
    const code = await new Promise((r) => proc.on('exit', (c) => r(c)));
    clearTimeout(t);
    assert.notEqual(code, 0);
    assert.match(err, /ADMIN_TOKEN environment variable is required/);
  });
});

describe('miaw admin with a private supervisord', () => {
  let dir, sv, admin;
  const ports = {};
  const created = {};
  const keys = {}; // worker API keys: shown in plain text once, in the create answer of a generated key

  before(async () => {
    dir = tmpDir();
    sv = await startSupervisord(dir);
    admin = await startAdmin({ sv, dir, token: TOKEN, env: { ADMIN_LOCK_WAIT_MS: '300' } });
    for (const k of ['a', 'b', 'c']) ports[k] = await freePort();
  });

  after(async () => {
    for (const c of Object.values(created)) rememberPid(c.pid);
    await stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers /healthz and /readyz without a token', async () => {
    const h = await api(admin, 'GET', '/healthz', undefined, null);
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'healthy');
    assert.equal(h.body.supervisor_healthy, true);
    assert.equal(typeof h.body.version, 'string');
    const r = await api(admin, 'GET', '/readyz', undefined, null);
    assert.equal(r.status, 200);
    assert.equal(r.body.message, 'Service is ready');
    assert.match(r.body.request_id, /^[0-9a-f-]{36}$/);
    assert.match(r.body.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('keeps an HTTP/1.1 connection alive after 401, 404 and 200 answers', async () => {
    const url = new URL(admin.base);
    const sock = net.connect(Number(url.port), url.hostname);
    await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
    let buf = '';
    sock.on('data', (d) => { buf += d; });
    const one = (p, auth) => `GET ${p} HTTP/1.1\r\nHost: x\r\n${auth ? `Authorization: Bearer ${TOKEN}\r\n` : ''}\r\n`;
    sock.write(one('/admin/instances', false) + one('/admin/nope', true) + one('/healthz', false));
    const deadline = Date.now() + 10000;
    while ((buf.match(/HTTP\/1\.1 \d{3} /g) || []).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const statuses = (buf.match(/HTTP\/1\.1 \d{3} /g) || []).map((l) => l.slice(9, 12)); // answers follow bodies without a newline
    sock.destroy();
    assert.deepEqual(statuses, ["401", "404", "200"], buf.slice(0, 700));
    assert.doesNotMatch(buf, /connection: close/i);
  });

  it('rejects a wrong or missing token with 401 on every /admin route', async () => {
    for (const [m, p] of [['GET', '/admin/instances'], ['POST', '/admin/instances'], ['GET', '/admin/instances/3001'],
      ['PATCH', '/admin/instances/3001'], ['DELETE', '/admin/instances/3001']]) {
      const wrong = await api(admin, m, p, m === 'GET' || m === 'DELETE' ? undefined : { port: 3001 }, 'wrong-token');
      assert.equal(wrong.status, 401, `${m} ${p}`);
      assert.equal(wrong.body.error.code, 'UNAUTHORIZED');
      const none = await api(admin, m, p, undefined, null);
      assert.equal(none.status, 401, `${m} ${p} without token`);
    }
    const prefix = await api(admin, 'GET', '/admin/instances', undefined, TOKEN.slice(0, -1));
    assert.equal(prefix.status, 401);
  });

  it('answers 400 with the failing field for bad input', async () => {
    const cases = [
      [{ port: 80 }, 'port'], [{ port: 70000 }, 'port'], [{ port: 1023 }, 'port'], [{ port: '3001' }, 'port'],
      [{}, 'port'], [{ port: ports.a, debug: 'yes' }, 'debug'], [{ port: ports.a, os: 5 }, 'os'],
      [{ port: ports.a, base_path: 'no-slash' }, 'base_path'], [{ port: ports.a, webhook: 'ftp://x' }, 'webhook'],
      [{ port: ports.a, basic_auth: 'nocolon' }, 'basic_auth'], [{ port: ports.a, auto_reply: 'bell\u0007' }, 'auto_reply'],
      [{ port: ports.a, os: 'two\nlines' }, 'os'],
    ];
    for (const [body, field] of cases) {
      const r = await api(admin, 'POST', '/admin/instances', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.code, 'INVALID_REQUEST');
      assert.equal(r.body.error.field, field, JSON.stringify(body));
      assert.ok(r.body.message.length > 0);
    }
    for (const raw of ['{"port": 3001', '[1,2]', '', 'null']) {
      const r = await api(admin, 'POST', '/admin/instances', raw);
      assert.equal(r.status, 400, `raw body ${JSON.stringify(raw)}`);
    }
    for (const p of ['80', '70000', 'abc', '-1', '3001x']) {
      for (const m of ['GET', 'DELETE']) {
        const r = await api(admin, m, `/admin/instances/${p}`);
        assert.equal(r.status, 400, `${m} ${p}`);
      }
    }
    assert.equal((await api(admin, 'GET', '/admin/instances/' + ports.a)).status, 404);
    assert.equal((await api(admin, 'PATCH', '/admin/instances/' + ports.a, { debug: true })).status, 404);
    assert.equal((await api(admin, 'DELETE', '/admin/instances/' + ports.a)).status, 404);
    assert.equal((await api(admin, 'GET', '/admin/nope')).status, 404);
    // nothing was left behind by the rejected requests
    assert.deepEqual(fs.readdirSync(sv.confDir), []);
  });

  it('answers 409 when the port is already bound by another process', async () => {
    const port = await freePort();
    const srv = net.createServer();
    await new Promise((r) => srv.listen(port, '127.0.0.1', r));
    try {
      const r = await api(admin, 'POST', '/admin/instances', { port });
      assert.equal(r.status, 409);
      assert.equal(r.body.error.code, 'PORT_IN_USE');
      assert.equal(fs.existsSync(path.join(sv.confDir, `miaw-${port}.conf`)), false);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  it('creates three workers, each answering its own /health', async () => {
    const bodies = {
      a: { port: ports.a },
      b: { port: ports.b, base_path: '/wa', basic_auth: 'alice:pw1,bob:pw2', debug: true, os: 'TenantB',
        account_validation: false, auto_reply: "it's 100% automatic, thanks", auto_mark_read: true,
        webhook: 'http://127.0.0.1:9/hook,https://example.invalid/h2', webhook_secret: 'b-secret', chat_storage: false },
      c: { port: ports.c, os: 'TenantC' },
    };
    for (const k of ['a', 'b', 'c']) {
      const r = await api(admin, 'POST', '/admin/instances', bodies[k]);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.message, 'Instance created successfully');
      assert.equal(r.body.data.port, ports[k]);
      assert.equal(r.body.data.state, 'RUNNING');
      assert.ok(r.body.data.pid > 0);
      assert.match(r.body.data.uptime, /^\d+s$/);
      assert.equal(r.body.data.logs.stdout, path.join(sv.logDir, `miaw_${ports[k]}.out.log`));
      assert.equal(r.body.data.logs.stderr, path.join(sv.logDir, `miaw_${ports[k]}.err.log`));
      assert.match(r.body.request_id, /^[0-9a-f-]{36}$/);
      assert.match(r.body.data.api_key, /^[0-9a-f]{48}$/, 'a generated key is shown once');
      assert.equal(r.body.data.healthy, true, JSON.stringify(r.body.data));
      keys[k] = r.body.data.api_key;
      created[k] = r.body.data;
      rememberPid(r.body.data.pid);
    }
    for (const k of ['a', 'b', 'c']) {
      const bp = k === 'b' ? '/wa' : '';
      const h = await waitFor(async () => {
        const x = await httpGet(`http://127.0.0.1:${ports[k]}${bp}/health`);
        return x.status === 200 && x;
      }, { what: `worker ${k} /health` });
      assert.equal(h.body.success, true);
      assert.equal(h.body.data.status, 'ok');
    }
    // the generated program config and the data dir exist
    const conf = fs.readFileSync(path.join(sv.confDir, `miaw-${ports.b}.conf`), 'utf8');
    assert.match(conf, new RegExp(`\\[program:miaw_${ports.b}\\]`));
    assert.match(conf, /autorestart=true/);
    // settings and secrets are in the worker's own 0600 config, not in supervisord's
    assert.doesNotMatch(conf, /environment=|b-secret|pw2|\/wa/);
    const wconf = path.join(admin.instancesDir, String(ports.b), 'miaw.yaml');
    assert.ok(conf.includes(`serve --config ${wconf}\n`), conf);
    assert.equal(fs.statSync(wconf).mode & 0o777, 0o600);
    assert.match(fs.readFileSync(wconf, 'utf8'), /base_path: "\/wa"/);
    assert.ok(fs.statSync(path.join(admin.instancesDir, String(ports.b))).isDirectory());
    // supervisord runs them
    const all = await xmlrpc(sv, 'supervisor.getAllProcessInfo');
    for (const k of ['a', 'b', 'c']) assert.match(all, new RegExp(`miaw_${ports[k]}`));
  });

  it('puts every request field into effect in the worker', async () => {
    const b = created.b;
    const viaKey = await workerConfig(ports.b, '/wa', `Bearer ${keys.b}`);
    assert.equal(viaKey.status, 200, JSON.stringify(viaKey.body));
    const viaBasic = await workerConfig(ports.b, '/wa', basic('bob', 'pw2'));
    assert.equal(viaBasic.status, 200);
    assert.equal((await workerConfig(ports.b, '/wa', basic('bob', 'wrong'))).status, 401);
    const cfg = viaKey.body.data;
    assert.equal(cfg.port, ports.b);
    assert.equal(cfg.basePath, '/wa');
    assert.equal(cfg.logLevel, 'debug');
    assert.equal(cfg.deviceName, 'TenantB');
    assert.equal(cfg.accountValidation, false);
    assert.equal(cfg.autoReply, "it's 100% automatic, thanks");
    assert.equal(cfg.autoMarkRead, true);
    assert.deepEqual(cfg.webhookUrls, ['http://127.0.0.1:9/hook', 'https://example.invalid/h2']);
    assert.equal(cfg.chatStorage, false);
    assert.deepEqual([...cfg.basicAuthUsers].sort(), ['alice', 'bob']);
    // the defaults of the guide on a minimal create
    const a = (await workerConfig(ports.a, '', `Bearer ${keys.a}`)).body.data;
    assert.equal(a.logLevel, 'info');
    assert.equal(a.deviceName, 'Chrome');
    assert.equal(a.accountValidation, true);
    assert.equal(a.autoMarkRead, false);
    assert.equal(a.chatStorage, true);
    assert.equal(a.basePath, '');
    assert.deepEqual(a.webhookUrls, []);
    assert.equal((await workerConfig(ports.a, '', 'Bearer not-the-key')).status, 401);
    // webhook_secret is a secret: the worker reports only a fingerprint (first 16 hex of its SHA-256)
    assert.equal(cfg.webhookSecretSha256, createHash('sha256').update('b-secret').digest('hex').slice(0, 16),
      'the worker signs with the webhook_secret given');
  });

  it('refuses a second create on the same port with 409', async () => {
    const r = await api(admin, 'POST', '/admin/instances', { port: ports.a });
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'INSTANCE_EXISTS');
  });

  it('lists and gets instances', async () => {
    const l = await api(admin, 'GET', '/admin/instances');
    assert.equal(l.status, 200);
    assert.equal(l.body.message, 'Instances retrieved successfully');
    const mine = l.body.data.filter((x) => Object.values(ports).includes(x.port));
    assert.equal(mine.length, 3);
    for (const x of mine) {
      assert.equal(x.state, 'RUNNING');
      assert.ok(x.pid > 0);
      assert.ok(x.logs.stdout.endsWith('.out.log'));
    }
    const g = await api(admin, 'GET', `/admin/instances/${ports.c}`);
    assert.equal(g.status, 200);
    assert.equal(g.body.message, 'Instance retrieved successfully');
    assert.equal(g.body.data.pid, created.c.pid);
    assert.equal(g.body.data.config.os, 'TenantC');
    // secrets are masked in every answer
    const gb = await api(admin, 'GET', `/admin/instances/${ports.b}`);
    assert.equal(gb.body.data.api_key, '****' + keys.b.slice(-4));
    assert.equal(gb.body.data.config.webhook_secret, '********');
    assert.equal(gb.body.data.config.basic_auth, 'alice:********,bob:********');
    assert.equal(gb.body.data.config.api_key, undefined);
    assert.ok(!JSON.stringify(gb.body).includes('b-secret') && !JSON.stringify(gb.body).includes(keys.b));
  });

  it('PATCH applies new settings under a new pid and keeps the others', async () => {
    const old = created.a.pid;
    const r = await api(admin, 'PATCH', `/admin/instances/${ports.a}`, {
      basic_auth: 'newuser:newpassword', debug: true, os: 'UpdatedApp',
      webhook: 'https://new-webhook.example.com/whatsapp', auto_reply: 'say "brb" at 50%',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.message, 'Instance configuration updated successfully');
    assert.equal(r.body.data.state, 'RUNNING');
    assert.notEqual(r.body.data.pid, old);
    assert.equal(pidAlive(old), false);
    assert.equal(r.body.data.api_key, '****' + keys.a.slice(-4), 'an update answer masks the key');
    assert.equal(r.body.data.config.basic_auth, 'newuser:********');
    rememberPid(r.body.data.pid);
    created.a = r.body.data;
    const cfg = (await waitFor(async () => {
      const x = await workerConfig(ports.a, '', basic('newuser', 'newpassword'));
      return x.status === 200 && x;
    }, { what: 'patched worker config' })).body.data;
    assert.equal(cfg.logLevel, 'debug');
    assert.equal(cfg.deviceName, 'UpdatedApp');
    assert.deepEqual(cfg.webhookUrls, ['https://new-webhook.example.com/whatsapp']);
    assert.equal(cfg.autoReply, 'say "brb" at 50%');
    assert.equal(cfg.chatStorage, true); // untouched
    assert.deepEqual(cfg.basicAuthUsers, ['newuser']);
    // the API key survives an update
    assert.equal((await workerConfig(ports.a, '', `Bearer ${keys.a}`)).status, 200);
    // bad PATCH input changes nothing
    const bad = await api(admin, 'PATCH', `/admin/instances/${ports.a}`, { debug: 'maybe' });
    assert.equal(bad.status, 400);
    assert.equal((await api(admin, 'GET', `/admin/instances/${ports.a}`)).body.data.pid, created.a.pid);
    const portChange = await api(admin, 'PATCH', `/admin/instances/${ports.a}`, { port: ports.a + 1 });
    assert.equal(portChange.status, 400);
  });

  it('two concurrent PATCHes on one port: exactly one gets 409', async () => {
    const [x, y] = await Promise.all([
      api(admin, 'PATCH', `/admin/instances/${ports.c}`, { os: 'First' }),
      api(admin, 'PATCH', `/admin/instances/${ports.c}`, { os: 'Second' }),
    ]);
    const statuses = [x.status, y.status].sort();
    assert.deepEqual(statuses, [200, 409], JSON.stringify([x.body, y.body]));
    const loser = x.status === 409 ? x : y;
    assert.equal(loser.body.error.code, 'PORT_LOCKED');
    const winner = x.status === 200 ? x : y;
    created.c = winner.body.data;
    rememberPid(created.c.pid);
    const cfg = (await workerConfig(ports.c, '', `Bearer ${keys.c}`)).body.data;
    assert.equal(cfg.deviceName, x.status === 200 ? 'First' : 'Second');
  });

  it('supervisord brings a worker back after kill -9', async () => {
    const old = created.c.pid;
    process.kill(old, 'SIGKILL');
    const back = await waitFor(async () => {
      const g = await api(admin, 'GET', `/admin/instances/${ports.c}`);
      return g.body.data && g.body.data.state === 'RUNNING' && g.body.data.pid !== old && g.body.data.pid > 0 && g.body.data;
    }, { ms: 20000, what: 'restart after kill -9' });
    rememberPid(back.pid);
    created.c = back;
    await waitFor(async () => (await httpGet(`http://127.0.0.1:${ports.c}/health`)).status === 200, { what: 'health after restart' });
  });

  it('DELETE removes every trace', async () => {
    const pid = created.a.pid;
    const r = await api(admin, 'DELETE', `/admin/instances/${ports.a}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.message, 'Instance deleted successfully');
    assert.equal(r.body.data, undefined);
    assert.equal(fs.existsSync(path.join(sv.confDir, `miaw-${ports.a}.conf`)), false);
    assert.equal(fs.existsSync(path.join(admin.instancesDir, String(ports.a))), false);
    assert.deepEqual(fs.readdirSync(sv.logDir).filter((f) => f.startsWith(`miaw_${ports.a}.`)), []);
    assert.equal(fs.existsSync(path.join(admin.lockDir, `miaw.${ports.a}.lock`)), false);
    assert.doesNotMatch(await xmlrpc(sv, 'supervisor.getAllProcessInfo'), new RegExp(`miaw_${ports.a}<`));
    assert.equal(pidAlive(pid), false);
    await assert.rejects(httpGet(`http://127.0.0.1:${ports.a}/health`));
    assert.equal((await api(admin, 'GET', `/admin/instances/${ports.a}`)).status, 404);
    assert.equal((await api(admin, 'DELETE', `/admin/instances/${ports.a}`)).status, 404);
    const l = await api(admin, 'GET', '/admin/instances');
    assert.equal(l.body.data.some((x) => x.port === ports.a), false);
    // the port can be used again
    const again = await api(admin, 'POST', '/admin/instances', { port: ports.a });
    assert.equal(again.status, 201);
    rememberPid(again.body.data.pid);
    assert.equal((await api(admin, 'DELETE', `/admin/instances/${ports.a}`)).status, 200);
  });

  it('serves Prometheus metrics', async () => {
    const m = await api(admin, 'GET', '/metrics', undefined, null);
    assert.equal(m.status, 200);
    assert.match(m.headers.get('content-type'), /^text\/plain/);
    assert.match(m.body, /# TYPE miaw_admin_workers gauge/);
    assert.match(m.body, /^miaw_admin_workers\{state="RUNNING"\} 2$/m);
    assert.match(m.body, /^miaw_admin_workers\{state="FATAL"\} 0$/m);
    const created201 = Number(/^miaw_admin_requests_total\{status="201"\} (\d+)$/m.exec(m.body)[1]);
    assert.ok(created201 >= 4);
    assert.match(m.body, /^miaw_admin_requests_total\{status="401"\} \d+$/m);
    assert.match(m.body, /^miaw_admin_supervisor_errors_total \d+$/m);
    assert.match(m.body, /^miaw_admin_supervisor_up 1$/m);
  });

  it('writes one JSON audit line per create, update and delete', () => {
    const lines = admin.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
      .filter((l) => l.event === 'audit');
    const ok = (action, port) => lines.filter((l) => l.action === action && l.port === port && l.result === 'success');
    assert.equal(ok('create', ports.a).length, 2);
    assert.equal(ok('create', ports.b).length, 1);
    assert.equal(ok('update', ports.a).length, 1);
    assert.equal(ok('delete', ports.a).length, 2);
    const upd = ok('update', ports.a)[0];
    assert.deepEqual([...upd.fields].sort(), ['auto_reply', 'basic_auth', 'debug', 'os', 'webhook']);
    assert.equal(upd.status, 200);
    assert.match(upd.request_id, /^[0-9a-f-]{36}$/);
    assert.ok(!JSON.stringify(lines).includes('newpassword'), 'audit lines carry no secrets');
    const lost = lines.filter((l) => l.action === 'update' && l.status === 409);
    assert.equal(lost.length, 1);
    assert.equal(lost[0].result, 'failure');
  });

  it('answers 504 when supervisord does not answer in time', async () => {
    const hang = net.createServer(() => { /* accept and never answer */ });
    const sockets = [];
    hang.on('connection', (s) => sockets.push(s));
    const hp = await freePort();
    await new Promise((r) => hang.listen(hp, '127.0.0.1', r));
    const d2 = tmpDir();
    let a2;
    try {
      a2 = await startAdmin({ dir: d2, token: TOKEN, env: {
        SUPERVISOR_URL: `http://127.0.0.1:${hp}/RPC2`, SUPERVISOR_TIMEOUT_MS: '800',
        SUPERVISOR_CONF_DIR: path.join(d2, 'conf.d'), SUPERVISOR_LOG_DIR: path.join(d2, 'logs') } });
      const r = await api(a2, 'GET', '/admin/instances');
      assert.equal(r.status, 504);
      assert.equal(r.body.error.code, 'SUPERVISOR_TIMEOUT');
      const c = await api(a2, 'POST', '/admin/instances', { port: await freePort() });
      assert.equal(c.status, 504);
    } finally {
      if (a2) await stopProc(a2.proc);
      for (const s of sockets) s.destroy();
      await new Promise((r) => hang.close(r));
      fs.rmSync(d2, { recursive: true, force: true });
    }
  });

  it('with supervisord stopped: /admin answers 502 and /readyz is not ready', async () => {
    // the workers go down with supervisord
    await stopProc(sv.proc);
    for (const k of ['b', 'c']) await waitFor(() => !pidAlive(created[k].pid), { what: `worker ${k} exit` });
    for (const [m, p, b] of [['GET', '/admin/instances'], ['GET', `/admin/instances/${ports.b}`],
      ['POST', '/admin/instances', { port: await freePort() }], ['PATCH', `/admin/instances/${ports.b}`, { debug: false }],
      ['DELETE', `/admin/instances/${ports.b}`]]) {
      const r = await api(admin, m, p, b);
      assert.equal(r.status, 502, `${m} ${p}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'SUPERVISOR_UNAVAILABLE');
      assert.match(r.body.message, /supervisord/);
    }
    // the failed DELETE left the worker's files in place
    assert.equal(fs.existsSync(path.join(sv.confDir, `miaw-${ports.b}.conf`)), true);
    const r = await api(admin, 'GET', '/readyz', undefined, null);
    assert.equal(r.status, 503);
    assert.match(r.body.message, /not ready/);
    const h = await api(admin, 'GET', '/healthz', undefined, null);
    assert.equal(h.status, 200);
    assert.equal(h.body.supervisor_healthy, false);
    const m = await api(admin, 'GET', '/metrics', undefined, null);
    assert.match(m.body, /^miaw_admin_supervisor_up 0$/m);
    assert.ok(Number(/^miaw_admin_supervisor_errors_total (\d+)$/m.exec(m.body)[1]) >= 5);
  });
});
