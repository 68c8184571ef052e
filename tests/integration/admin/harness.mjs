// tests/integration/admin/harness.mjs - helpers for the `miaw admin` integration tests:
// free loopback ports, a private supervisord (own config, loopback XML-RPC with
// credentials, no system service), the admin process, HTTP and XML-RPC clients, and
// bounded polling. Everything started here is registered and stopped by stopAll().
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');
export const buildDir = path.resolve(repoRoot, process.env.MIAW_BUILD_DIR || 'build');
export const miawBin = path.join(buildDir, 'miaw');

const started = []; // {proc, name}
const extraPids = new Set();

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function freePort() {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    });
    if (port >= 1024) return port;
  }
  throw new Error('no free port');
}

/** polls fn until it returns a truthy value; bounded by tries and ms */
export async function waitFor(fn, { ms = 15000, every = 100, what = 'condition' } = {}) {
  const end = Date.now() + ms;
  let last;
  for (let i = 0; Date.now() < end && i < Math.ceil(ms / every) + 5; i++) {
    try { const v = await fn(); if (v) return v; last = v; } catch (e) { last = e; }
    await sleep(every);
  }
  throw new Error(`timed out waiting for ${what}: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

export function tmpDir(prefix = 'miaw-admin-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/* ------------------------------------------------------------ XML-RPC (test side) */

function xmlEsc(s) { return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'); }
function xmlParam(v) {
  if (typeof v === 'boolean') return `<value><boolean>${v ? 1 : 0}</boolean></value>`;
  if (typeof v === 'number') return `<value><int>${v}</int></value>`;
  return `<value><string>${xmlEsc(v)}</string></value>`;
}

/** raw XML-RPC call; returns the response text (tests use regexes on it) */
export async function xmlrpc(sv, method, params = []) {
  const body = `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>` +
    params.map((p) => `<param>${xmlParam(p)}</param>`).join('') + '</params></methodCall>';
  const res = await fetch(sv.url, {
    method: 'POST', body, signal: AbortSignal.timeout(10000),
    headers: { 'content-type': 'text/xml', authorization: 'Basic ' + Buffer.from(`${sv.user}:${sv.pass}`).toString('base64') },
  });
  if (res.status !== 200) throw new Error(`supervisord HTTP ${res.status}`);
  return res.text();
}

/* ------------------------------------------------------------ supervisord */

export async function startSupervisord(dir) {
  const port = await freePort();
  const sv = {
    dir, port, user: 'svadmin', pass: 'sv-' + Math.random().toString(36).slice(2),
    url: `http://127.0.0.1:${port}/RPC2`,
    confDir: path.join(dir, 'conf.d'), logDir: path.join(dir, 'logs'),
  };
  fs.mkdirSync(sv.confDir, { recursive: true });
  fs.mkdirSync(sv.logDir, { recursive: true });
  const conf = path.join(dir, 'supervisord.conf');
  fs.writeFileSync(conf, [
    '[inet_http_server]', `port=127.0.0.1:${port}`, `username=${sv.user}`, `password=${sv.pass}`, '',
    '[supervisord]', `logfile=${dir}/supervisord.log`, `pidfile=${dir}/supervisord.pid`,
    `childlogdir=${sv.logDir}`, 'nodaemon=true', 'loglevel=info', '',
    '[rpcinterface:supervisor]', 'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface', '',
    '[include]', `files=${sv.confDir}/*.conf`, '',
  ].join('\n'));
  sv.proc = spawn('supervisord', ['-n', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  sv.proc.stdout.resume();
  sv.proc.stderr.resume();
  started.push({ proc: sv.proc, name: 'supervisord' });
  await waitFor(async () => /RUNNING/.test(await xmlrpc(sv, 'supervisor.getState')), { what: 'supervisord', ms: 15000 });
  return sv;
}

export async function stopProc(proc, ms = 15000) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const done = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => { try { proc.kill('SIGKILL'); } catch { /* gone */ } }, ms);
  await done;
  clearTimeout(t);
}

/* ------------------------------------------------------------ admin */

export async function startAdmin({ sv, dir, token, env = {}, port }) {
  port = port || await freePort();
  const admin = {
    port, token, base: `http://127.0.0.1:${port}`, stdout: '', stderr: '',
    instancesDir: path.join(dir, 'instances'), lockDir: path.join(dir, 'locks'),
    confDir: sv ? sv.confDir : path.join(dir, 'conf.d'), logDir: sv ? sv.logDir : path.join(dir, 'logs'),
  };
  const fullEnv = {
    PATH: process.env.PATH, HOME: process.env.HOME || '/tmp', ADMIN_TOKEN: token,
    SUPERVISOR_URL: sv ? sv.url : 'http://127.0.0.1:9/RPC2', SUPERVISOR_USER: sv ? sv.user : 'x',
    SUPERVISOR_PASS: sv ? sv.pass : 'x', SUPERVISOR_CONF_DIR: admin.confDir, SUPERVISOR_LOG_DIR: admin.logDir,
    INSTANCES_DIR: admin.instancesDir, LOCK_DIR: admin.lockDir, LOG_LEVEL: 'info',
    // development knob: run another worker binary than the miaw under test
    ...(process.env.MIAW_ADMIN_WORKER_BIN ? { MIAW_BIN: process.env.MIAW_ADMIN_WORKER_BIN } : {}),
    ...env,
  };
  admin.proc = spawn(miawBin, ['admin', '--port', String(port), '--host', '127.0.0.1'],
    { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  admin.proc.stdout.on('data', (d) => { admin.stdout += d; });
  admin.proc.stderr.on('data', (d) => { admin.stderr += d; });
  // MIAW_ADMIN_TEST_LOG=file keeps the admin's stderr (e.g. sanitizer reports) for a look afterwards
  if (process.env.MIAW_ADMIN_TEST_LOG) {
    admin.proc.on('exit', (code, sig) => fs.appendFileSync(process.env.MIAW_ADMIN_TEST_LOG,
      `--- admin exit ${code} ${sig}\n${admin.stderr}\n`));
  }
  started.push({ proc: admin.proc, name: 'admin' });
  await waitFor(async () => {
    if (admin.proc.exitCode !== null) throw new Error('admin exited: ' + admin.stderr);
    return (await fetch(admin.base + '/healthz', { signal: AbortSignal.timeout(2000) })).status === 200;
  }, { what: 'admin /healthz' });
  return admin;
}

/** one Admin API call: {status, body (parsed JSON or text), headers} */
export async function api(admin, method, p, body, token = admin.token) {
  const headers = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(admin.base + p, {
    method, headers, signal: AbortSignal.timeout(60000),
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const text = await res.text();
  let parsed = text;
  try { parsed = JSON.parse(text); } catch { /* text, e.g. /metrics */ }
  return { status: res.status, body: parsed, headers: res.headers };
}

export async function httpGet(url, headers = {}) {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(3000) });
  const text = await res.text();
  let body = text;
  try { body = JSON.parse(text); } catch { /* keep text */ }
  return { status: res.status, body };
}

export function rememberPid(pid) { if (pid > 0) extraPids.add(pid); }

export function pidAlive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** stops everything this module started (newest first), then any remembered worker pid */
export async function stopAll() {
  while (started.length) {
    const { proc } = started.pop();
    await stopProc(proc);
  }
  for (const pid of extraPids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  extraPids.clear();
}
