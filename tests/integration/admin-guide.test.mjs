// tests/integration/admin-guide.test.mjs - replays the Admin API guide's curl examples
// (tests/integration/admin/guide-curl.md, copied verbatim from the guide) with real curl
// against `miaw admin` + a private supervisord. Only the host, the token and the worker
// port are substituted; a client written for the guide must work unchanged.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  api, freePort, httpGet, rememberPid, startAdmin, startSupervisord, stopAll, tmpDir, waitFor,
} from './admin/harness.mjs';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const TOKEN = 'guide-token-' + 'y'.repeat(32);

function examples() {
  const md = fs.readFileSync(path.join(here, 'admin', 'guide-curl.md'), 'utf8');
  const out = [];
  const re = /\*\*(.+?):\*\*\n```bash\n([\s\S]*?)```/g;
  for (let m; (m = re.exec(md));) out.push({ title: m[1], cmd: m[2].trim() });
  return out;
}

describe('the guide\'s curl examples, as written', () => {
  let dir, sv, admin, port, ex;

  before(async () => {
    dir = tmpDir();
    sv = await startSupervisord(dir);
    admin = await startAdmin({ sv, dir, token: TOKEN });
    port = await freePort();
    ex = examples();
  });
  after(async () => {
    await stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function curl(title) {
    const e = ex.find((x) => x.title === title);
    assert.ok(e, `example "${title}" is in the guide`);
    const cmd = e.cmd.replaceAll('http://localhost:8088', admin.base)
      .replaceAll('your-secure-token-here', TOKEN).replaceAll('3001', String(port));
    const { stdout } = await run('bash', ['-c', `${cmd} -sS -w '\\n%{http_code}'`], { timeout: 60000 });
    const nl = stdout.lastIndexOf('\n');
    const status = Number(stdout.slice(nl + 1));
    const body = JSON.parse(stdout.slice(0, nl));
    assert.match(body.request_id || '', /^[0-9a-f-]{36}$|^$/);
    return { status, body };
  }

  it('finds the seven curl examples', () => {
    assert.deepEqual(ex.map((x) => x.title), ['Create instance (minimal)', 'Create instance with full configuration',
      'List all instances', 'Get specific instance', 'Update instance configuration', 'Delete instance', 'Health check']);
  });

  it('replays them in the guide\'s order', async () => {
    const c = await curl('Create instance (minimal)');
    assert.equal(c.status, 201, JSON.stringify(c.body));
    assert.equal(c.body.message, 'Instance created successfully');
    assert.equal(c.body.data.port, port);
    assert.equal(c.body.data.state, 'RUNNING');
    rememberPid(c.body.data.pid);
    await waitFor(async () => (await httpGet(`http://127.0.0.1:${port}/health`)).status === 200, { what: 'worker health' });

    // the same port again: the guide's second example meets the first one's instance
    const dup = await curl('Create instance with full configuration');
    assert.equal(dup.status, 409);

    const l = await curl('List all instances');
    assert.equal(l.status, 200);
    assert.ok(Array.isArray(l.body.data));
    assert.equal(l.body.data.find((x) => x.port === port).state, 'RUNNING');

    const g = await curl('Get specific instance');
    assert.equal(g.status, 200);
    assert.equal(g.body.data.pid, c.body.data.pid);

    const u = await curl('Update instance configuration');
    assert.equal(u.status, 200, JSON.stringify(u.body));
    assert.equal(u.body.message, 'Instance configuration updated successfully');
    assert.notEqual(u.body.data.pid, c.body.data.pid);
    rememberPid(u.body.data.pid);
    const cfg = await waitFor(async () => {
      const x = await httpGet(`http://127.0.0.1:${port}/api/v1/config`,
        { authorization: 'Basic ' + Buffer.from('newuser:newpassword').toString('base64') });
      return x.status === 200 && x.body.data;
    }, { what: 'updated worker config' });
    assert.equal(cfg.logLevel, 'info');
    assert.deepEqual(cfg.webhookUrls, ['https://new-webhook.example.com/whatsapp']);

    const d = await curl('Delete instance');
    assert.equal(d.status, 200);
    assert.equal(d.body.message, 'Instance deleted successfully');
    assert.equal((await api(admin, 'GET', `/admin/instances/${port}`)).status, 404);

    const h = await curl('Health check');
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'healthy');
    assert.equal(h.body.supervisor_healthy, true);
  });

  it('the full-configuration example takes effect in the worker', async () => {
    const c = await curl('Create instance with full configuration');
    assert.equal(c.status, 201, JSON.stringify(c.body));
    rememberPid(c.body.data.pid);
    const cfg = await waitFor(async () => {
      const x = await httpGet(`http://127.0.0.1:${port}/api/v1/api/v1/config`,
        { authorization: 'Basic ' + Buffer.from('admin:password123').toString('base64') });
      return x.status === 200 && x.body.data;
    }, { what: 'worker config under base_path /api/v1' });
    assert.equal(cfg.basePath, '/api/v1');
    assert.equal(cfg.logLevel, 'debug');
    assert.equal(cfg.deviceName, 'MyCustomApp');
    assert.equal(cfg.accountValidation, false);
    assert.equal(cfg.autoReply, 'This is an automated response');
    assert.equal(cfg.autoMarkRead, true);
    assert.deepEqual(cfg.webhookUrls, ['https://webhook.example.com/whatsapp']);
    assert.equal(cfg.chatStorage, true);
    assert.deepEqual(cfg.basicAuthUsers, ['admin']);
    const d = await curl('Delete instance');
    assert.equal(d.status, 200);
  });
});
