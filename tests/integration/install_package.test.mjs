// tests/integration/install_package.test.mjs - the installed server: scripts/package.sh
// builds the Debian packages (miaw, miaw-dev; -j2, incremental in build-deb/), both are
// unpacked into a temporary root (dpkg -x), and the unpacked binary is started with the
// unpacked config. It must find its plugins and Swagger UI assets from its own install
// prefix (no paths given), pair through miaw-sim and send a text. Also checks the
// package contents, the installed config's system paths, the SDK's pkg-config file (a
// plugin compiles against the unpacked headers) and the systemd units
// (systemd-analyze verify, when available).
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, freePort, tempDir, waitFor } from './lib/harness.mjs';
import { pairByQr, simEnv, startSim } from './lib/sim.mjs';

const ME = '15550002001';
const BOB = '15550002002';
const PLUGINS = ['business', 'contacts', 'groups', 'messages', 'presence', 'profile'];
const API_KEY = 'installed-test-key-0123456789';

describe('the Debian package, unpacked and run', { timeout: 900000 }, () => {
  let root, dataDir, simDir, sim, proc, out = '', base, debs;

  before(async () => {
    const pkg = spawnSync(path.join(ROOT, 'scripts/package.sh'), ['-j2'], { cwd: ROOT, encoding: 'utf8', timeout: 840000 });
    assert.equal(pkg.status, 0, `package.sh failed:\n${pkg.stdout}\n${pkg.stderr}`);
    debs = pkg.stdout.trim().split('\n').filter((l) => l.endsWith('.deb'));
    assert.equal(debs.length, 2, pkg.stdout);
    root = tempDir('miaw-pkgroot-');
    for (const d of debs) execFileSync('dpkg', ['-x', d, root]);
    dataDir = tempDir('miaw-pkgdata-');
    simDir = tempDir('miaw-pkgsim-');
  });

  after(async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    }
    if (sim) await sim.stop();
    for (const d of [root, dataDir, simDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  const libdir = () => {
    const cands = fs.readdirSync(path.join(root, 'usr/lib')).map((d) => path.join(root, 'usr/lib', d, 'miaw/plugins'))
      .filter((p) => fs.existsSync(p));
    assert.equal(cands.length, 1, 'one <libdir>/miaw/plugins');
    return path.dirname(path.dirname(cands[0]));
  };

  it('holds the binaries, plugins, web assets, config, units and SDK', () => {
    const names = (pkgFile) => execFileSync('dpkg-deb', ['-f', pkgFile, 'Package'], { encoding: 'utf8' }).trim();
    assert.deepEqual(debs.map(names).sort(), ['miaw', 'miaw-dev']);
    for (const f of ['usr/bin/miaw', 'usr/bin/miaw-sim', 'etc/miaw/miaw.yaml', 'lib/systemd/system/miaw.service',
      'lib/systemd/system/miaw-admin.service', 'usr/share/miaw/web/swagger-ui-dist/swagger-ui-bundle.js',
      'usr/share/miaw/web/swagger-ui-dist/swagger-ui.css', 'usr/include/miaw/plugin.h']) {
      assert.ok(fs.existsSync(path.join(root, f)), `${f} is in the package`);
    }
    const so = fs.readdirSync(path.join(libdir(), 'miaw/plugins')).filter((f) => f.endsWith('.so'));
    for (const p of PLUGINS) assert.ok(so.includes(`${p}.so`), `${p}.so installed`);
    assert.ok(fs.existsSync(path.join(libdir(), 'pkgconfig/miaw-plugin.pc')));
    // nothing of the build tree in the installed config; the system data directory
    const cfg = fs.readFileSync(path.join(root, 'etc/miaw/miaw.yaml'), 'utf8');
    assert.doesNotMatch(cfg, /\.\/build\/|node_modules|^data_dir: \.\/data/m);
    assert.match(cfg, /^data_dir: \/var\/lib\/miaw$/m);
  });

  it('the SDK compiles a plugin through miaw-plugin.pc', () => {
    const env = { ...process.env, PKG_CONFIG_PATH: path.join(libdir(), 'pkgconfig') };
    const cflags = execFileSync('pkg-config', ['--cflags', 'miaw-plugin'], { env, encoding: 'utf8' }).trim();
    assert.match(cflags, new RegExp(`-I${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/usr/lib/[^/]+/pkgconfig/\\.\\./\\.\\./\\.\\./+include`));
    const outSo = path.join(os.tmpdir(), `miaw-hello-${process.pid}.so`);
    try {
      execFileSync('sh', ['-c', `cc -shared ${cflags} -o ${outSo} ${path.join(ROOT, 'sdk/examples/hello/hello.c')} $(pkg-config --libs jansson)`],
        { env, stdio: 'pipe' });
      assert.ok(fs.statSync(outSo).size > 0);
    } finally {
      fs.rmSync(outSo, { force: true });
    }
  });

  it('systemd units pass systemd-analyze verify', (t) => {
    const which = spawnSync('sh', ['-c', 'command -v systemd-analyze']);
    if (which.status !== 0) { t.skip('systemd-analyze is not installed'); return; }
    const dir = tempDir('miaw-units-');
    try {
      // the same units with ExecStart pointing at the unpacked binary
      for (const u of ['miaw.service', 'miaw-admin.service']) {
        const text = fs.readFileSync(path.join(root, 'lib/systemd/system', u), 'utf8');
        assert.match(text, /^NoNewPrivileges=yes$/m);
        assert.match(text, /^ProtectSystem=strict$/m);
        assert.match(text, /^PrivateTmp=yes$/m);
        fs.writeFileSync(path.join(dir, u), text.replaceAll('/usr/bin/miaw', path.join(root, 'usr/bin/miaw')));
      }
      const v = spawnSync('systemd-analyze', ['verify', path.join(dir, 'miaw.service'), path.join(dir, 'miaw-admin.service')],
        { encoding: 'utf8' });
      assert.equal(v.status, 0, v.stderr);
      assert.equal((v.stdout + v.stderr).trim(), '', 'no warnings');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the installed binary runs with the installed config: plugins, docs, pairing, a text', { timeout: 120000 }, async () => {
    sim = await startSim({ stateDir: simDir });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // only what the test must change: where to listen, the data directory (not the
    // system's /var/lib/miaw), the key, and the simulator instead of WhatsApp
    const env = {
      PATH: process.env.PATH, HOME: process.env.HOME || '/tmp', API_PORT: String(port), SESSION_PATH: dataDir,
      API_KEY, ...simEnv(sim),
    };
    proc = spawn(path.join(root, 'usr/bin/miaw'), ['serve', '--config', path.join(root, 'etc/miaw/miaw.yaml')],
      { env, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { out += d; });
    const h = await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error('exited: ' + out);
      const r = await fetch(`${base}/health`).catch(() => null);
      return r && r.status === 200 && r.json();
    }, { timeoutMs: 20000, what: 'installed server /health' });
    assert.deepEqual(h.data.plugins.map((p) => p.name).sort(), PLUGINS);
    assert.match(out, new RegExp(`loaded messages from ${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/usr/lib/`));
    // Swagger UI from the installed assets
    const ui = await fetch(`${base}/`);
    assert.equal(ui.status, 200);
    assert.match(await ui.text(), /swagger/i);
    const css = await fetch(`${base}/docs/swagger-ui.css`);
    assert.equal(css.status, 200);
    assert.ok(Buffer.from(await css.arrayBuffer())
      .equals(fs.readFileSync(path.join(root, 'usr/share/miaw/web/swagger-ui-dist/swagger-ui.css'))));

    const srv = {
      async api(method, p, body) {
        const res = await fetch(base + p, {
          method, signal: AbortSignal.timeout(30000),
          headers: { authorization: `Bearer ${API_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
        const text = await res.text();
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        return { status: res.status, json, text };
      },
    };
    assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201);
    assert.equal((await sim.api('POST', '/sim/accounts', { phone: BOB, name: 'Bob' })).status, 201);
    await pairByQr(srv, sim, 'bot', ME, { name: 'Me', timeoutMs: 30000 });
    const sent = await waitFor(async () => {
      const s = await srv.api('POST', '/api/v1/instances/bot/messages/text', { to: BOB, text: 'hello from the package' });
      return s.status === 200 && s;
    }, { timeoutMs: 30000, intervalMs: 500, what: 'send' });
    const id = sent.json.data.messageId;
    await waitFor(async () => (await sim.api('GET', `/sim/accounts/${BOB}/messages`)).json.messages
      .some((m) => m.id === id && m.text === 'hello from the package'), { timeoutMs: 20000, what: 'Bob decrypted it' });
    assert.ok(fs.existsSync(path.join(dataDir, 'miaw.db')), 'data in the given directory');
  });
});
