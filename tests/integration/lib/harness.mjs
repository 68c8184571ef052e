// tests/integration/lib/harness.mjs - starts a real `miaw serve` on 127.0.0.1 with a
// private data dir and a free port, waits for /health, gives a small JSON client, and
// stops the process (SIGTERM, then SIGKILL) when the test ends. Built-in modules only.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(new URL('../../..', import.meta.url).pathname);
export const BUILD = resolve(ROOT, process.env.MIAW_BUILD_DIR || 'build');
export const MIAW_BIN = join(BUILD, 'miaw');

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

export function tempDir(prefix = 'miaw-it-') { return mkdtempSync(join(tmpdir(), prefix)); }

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value or the deadline passes (bounded loop). */
export async function waitFor(fn, { timeoutMs = 10000, intervalMs = 50, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
    await sleep(intervalMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
}

/**
 * Starts miaw serve. opts: { env, args, config (YAML text), dataDir, apiKey, plugins, pluginDir, keepData }
 * Returns { port, url, api, dataDir, apiKey, logs(), stop(), kill9(), proc }.
 */
export async function startServer(opts = {}) {
  const dataDir = opts.dataDir || tempDir();
  const port = opts.port || await freePort();
  const apiKey = opts.apiKey === undefined ? 'test-key-' + port : opts.apiKey;
  const env = {
    ...process.env,
    API_HOST: '127.0.0.1', API_PORT: String(port), SESSION_PATH: dataDir,
    MIAW_PLUGIN_DIR: opts.pluginDir || join(BUILD, 'plugins'),
    MIAW_DOCS_DIR: join(ROOT, 'web/node_modules/swagger-ui-dist'),
    // the suites' webhook receivers listen on 127.0.0.1: say so explicitly rather than rely
    // on the product default of webhook.policy.block_private (a test may override it)
    MIAW_WEBHOOK_BLOCK_PRIVATE: 'false',
    ...(apiKey ? { API_KEY: apiKey } : {}),
    ...(opts.plugins ? { MIAW_PLUGINS: opts.plugins.join(',') } : {}),
    ...(opts.env || {}),
  };
  if (!apiKey) delete env.API_KEY;
  const args = ['serve'];
  if (opts.config) {
    const f = join(dataDir, 'miaw-test.yaml');
    writeFileSync(f, opts.config);
    args.push('--config', f);
  }
  args.push(...(opts.args || []));
  const proc = spawn(opts.bin || MIAW_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => proc.on('exit', (code, sig) => r({ code, sig })));
  const scheme = opts.tls ? 'https' : 'http';
  const base = `${scheme}://127.0.0.1:${port}`;
  const srv = {
    port, url: base, dataDir, proc, exited,
    apiKey: apiKey || null,
    logs: () => out,
    async api(method, path, body, headers = {}) {
      const h = { ...headers };
      if (srv.apiKey && !('authorization' in h) && !('x-api-key' in h) && !h.noauth) h.authorization = `Bearer ${srv.apiKey}`;
      delete h.noauth;
      let payload;
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        if (!h['content-type']) h['content-type'] = 'application/json';
      }
      const r = await fetch(base + path, { method, headers: h, body: payload });
      const text = await r.text();
      let json = null;
      try { json = JSON.parse(text); } catch { /* not JSON */ }
      return { status: r.status, headers: r.headers, json, text };
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      if (!opts.keepData && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
    async kill9() { proc.kill('SIGKILL'); await exited; },
  };
  if (opts.expectExit) return srv;
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error('miaw exited early:\n' + out);
    const r = await fetch(base + ((opts.env && opts.env.MIAW_BASE_PATH) || '') + '/health').catch(() => null);
    return r && r.status === 200;
  }, { timeoutMs: 15000, what: 'miaw /health\n' + out });
  if (!srv.apiKey) {
    try { srv.apiKey = readFileSync(join(dataDir, 'api_key'), 'utf8').trim(); } catch { /* none */ }
  }
  return srv;
}
