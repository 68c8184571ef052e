// Configuration: file errors name file, line and key; unknown keys; precedence of
// file < environment < flags; the generated API key (0600, printed once, reused).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { MIAW_BIN, freePort, startServer, tempDir } from './lib/harness.mjs';

function runBad(yaml, env = {}) {
  const dir = tempDir();
  const f = join(dir, 'bad.yaml');
  writeFileSync(f, yaml);
  const r = spawnSync(MIAW_BIN, ['serve', '--config', f], {
    env: { ...process.env, SESSION_PATH: dir, API_PORT: '1', ...env }, encoding: 'utf8', timeout: 10000,
  });
  return { code: r.status, err: r.stderr, file: f };
}

test('a bad value stops start-up naming file, line and key', () => {
  const r = runBad('server:\n  host: 127.0.0.1\n  port: seventy\n');
  assert.notEqual(r.code, 0);
  assert.match(r.err, new RegExp(`${r.file}:3: server.port: 'seventy' is not an integer`));
});

test('an unknown key is reported with its line', () => {
  const r = runBad('log:\n  level: info\nwebhook:\n  retires: 3\n');
  assert.notEqual(r.code, 0);
  assert.match(r.err, /bad\.yaml:4: unknown key 'webhook\.retires'/);
});

test('YAML syntax errors and bad booleans are reported', () => {
  assert.match(runBad('server: [\n').err, /bad\.yaml:\d+: YAML syntax error/);
  assert.match(runBad('whatsapp:\n  chat_storage: maybe\n').err, /bad\.yaml:2: whatsapp\.chat_storage: 'maybe' is not a boolean/);
  assert.match(runBad('server:\n  port: 99999\n').err, /server\.port: '99999' is not an integer in 1\.\.65535/);
  assert.match(runBad('log:\n  level: loud\n').err, /log\.level/);
});

test('a bad environment value is refused with its name', () => {
  const r = runBad('{}\n', { WEBHOOK_MAX_RETRIES: 'lots' });
  assert.notEqual(r.code, 0);
  assert.match(r.err, /environment WEBHOOK_MAX_RETRIES: 'lots'/);
  // the delivery caps are read from the environment too, with their bounds
  for (const [k, v] of [['WEBHOOK_CONCURRENCY', '0'], ['WEBHOOK_PER_HOST_CONCURRENCY', '1001']]) {
    const b = runBad('{}\n', { [k]: v });
    assert.notEqual(b.code, 0);
    assert.match(b.err, new RegExp(`environment ${k}: '${v}'`));
  }
});

test('environment overrides the file and --port overrides both', async () => {
  const filePort = await freePort(), envPort = await freePort(), flagPort = await freePort();
  const cfg = `server:\n  port: ${filePort}\nlog:\n  level: debug\nwhatsapp:\n  device_name: from-file\n`;
  let s = await startServer({ port: envPort, config: cfg, env: { MIAW_DEVICE_NAME: 'from-env' } });
  try {
    const c = (await s.api('GET', '/api/v1/config')).json.data;
    assert.equal(c.port, envPort);
    assert.equal(c.deviceName, 'from-env');
    assert.equal(c.logLevel, 'debug', 'file value kept when env does not set it');
  } finally { await s.stop(); }
  s = await startServer({ port: flagPort, config: cfg, env: { API_PORT: String(envPort) }, args: ['--port', String(flagPort)] });
  try {
    assert.equal((await s.api('GET', '/api/v1/config')).json.data.port, flagPort);
  } finally { await s.stop(); }
});

test('without a configured key the first start generates one, stores it 0600, prints it once', async () => {
  const dataDir = tempDir();
  let s = await startServer({ dataDir, keepData: true, apiKey: null });
  let key;
  try {
    key = readFileSync(join(dataDir, 'api_key'), 'utf8').trim();
    assert.match(key, /^[0-9a-f]{64}$/);
    assert.equal(statSync(join(dataDir, 'api_key')).mode & 0o777, 0o600);
    assert.ok(s.logs().includes(key), 'printed on first start');
    assert.equal((await s.api('GET', '/api/v1/instances')).status, 200);
  } finally { await s.stop(); }
  s = await startServer({ dataDir, keepData: true, apiKey: null });
  try {
    assert.equal(readFileSync(join(dataDir, 'api_key'), 'utf8').trim(), key, 'reused');
    assert.ok(!s.logs().includes(key), 'not printed again');
    assert.equal((await s.api('GET', '/api/v1/instances', undefined, { authorization: `Bearer ${key}` })).status, 200);
  } finally { await s.stop(); }
});

test('base path: every route moves under it', async () => {
  const s = await startServer({ env: { MIAW_BASE_PATH: '/wa' } });
  try {
    assert.equal((await s.api('GET', '/wa/health', undefined, { noauth: true })).status, 200);
    assert.equal((await s.api('GET', '/wa/api/v1/instances')).status, 200);
    assert.equal((await s.api('GET', '/api/v1/instances')).status, 404);
    const doc = JSON.parse((await s.api('GET', '/wa/openapi.json', undefined, { noauth: true })).text);
    assert.equal(doc.servers[0].url, '/wa/api/v1');
  } finally { await s.stop(); }
});
