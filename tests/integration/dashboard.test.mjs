// tests/integration/dashboard.test.mjs - the web dashboard (/dashboard) in headless
// Chromium (puppeteer-core driving the system's chromium): served from local files with a
// strict CSP; sign-in with the API key (a wrong key refused; the key never stored by the
// page); create an instance; connect it and link it through miaw-sim by scanning the QR
// the page shows (its payload read from img#qr-img's data-qr); the state turning
// `connected` live; the live event feed; a test message; a dead-lettered webhook retried
// from the page; a pairing code; delete (the device unlinked from the phone). Screenshots
// are kept in <build>/test-artifacts/dashboard/.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { BUILD, ROOT, startServer, tempDir, waitFor } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { startSim, simEnv } from './lib/sim.mjs';

const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const SHOTS = join(BUILD, 'test-artifacts', 'dashboard');

test('static files: local, CSP, no key needed for the page, nothing else exposed', async (t) => {
  const srv = await startServer({ env: { MIAW_DASHBOARD_DIR: join(ROOT, 'web/dashboard') } });
  t.after(() => srv.stop());
  const r = await fetch(srv.url + '/dashboard');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assert.match(r.headers.get('content-security-policy'), /script-src 'self'/);
  assert.equal(r.headers.get('x-frame-options'), 'DENY');
  const html = await r.text();
  assert.doesNotMatch(html, /https?:\/\//, 'no external asset');
  for (const f of ['app.js', 'style.css']) {
    const a = await fetch(`${srv.url}/dashboard/${f}`);
    assert.equal(a.status, 200, f);
    assert.doesNotMatch(await a.text(), /https?:\/\/(?!127)/, `${f}: no external URL`);
  }
  const env = await (await fetch(srv.url + '/dashboard/env.js')).text();
  assert.match(env, /"apiPrefix":"\/api\/v1"/);
  assert.equal((await fetch(srv.url + '/dashboard/../api_key')).status === 200, false);
  assert.equal((await fetch(srv.url + '/dashboard/api_key')).status, 404);
  assert.equal((await fetch(srv.url + '/dashboard/miaw.db')).status, 404);
  // under a base path the page finds the API there
  const sub = await startServer({ env: { MIAW_DASHBOARD_DIR: join(ROOT, 'web/dashboard'), MIAW_BASE_PATH: '/wa' } });
  t.after(() => sub.stop());
  assert.equal((await fetch(sub.url + '/wa/dashboard')).status, 200);
  assert.match(await (await fetch(sub.url + '/wa/dashboard/env.js')).text(), /"basePath":"\/wa"/);
  assert.equal((await fetch(sub.url + '/dashboard')).status, 404);
  // a missing install is a clear 503, not a crash
  const bare = await startServer({ env: { MIAW_DASHBOARD_DIR: join(ROOT, 'no-such-dir') } });
  t.after(() => bare.stop());
  const m = await fetch(bare.url + '/dashboard');
  assert.equal(m.status, 503);
  assert.match((await m.json()).error.message, /dashboard files are not installed/);
});

test('dashboard in headless Chromium: sign in, link by QR through the simulator, live', { timeout: 240000 }, async (t) => {
  assert.ok(chromium, 'chromium is required (scripts/deps.sh installs it)');
  mkdirSync(SHOTS, { recursive: true });
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-dash-');
  const profile = tempDir('miaw-chrome-');
  const sim = await startSim({ stateDir: simDir });
  const rcv = await startReceiver();
  const ctx = { srv: null, browser: null };
  t.after(async () => {
    if (ctx.browser) await ctx.browser.close().catch(() => {});
    if (ctx.srv) await ctx.srv.stop();
    await sim.stop();
    await rcv.close();
    for (const d of [simDir, dataDir, profile]) rmSync(d, { recursive: true, force: true });
  });
  const srv = ctx.srv = await startServer({
    dataDir,
    env: simEnv(sim, {
      MIAW_DASHBOARD_DIR: join(ROOT, 'web/dashboard'), MIAW_WEBHOOK_URL: rcv.url,
      WEBHOOK_MAX_RETRIES: '1', WEBHOOK_RETRY_DELAY_MS: '100',
    }),
  });
  const ME = '15550011111', BOB = '15550012222', CODEPHONE = '15550013333';
  for (const [phone, name] of [[ME, 'Me'], [BOB, 'Bob'], [CODEPHONE, 'Cody']])
    assert.equal((await sim.api('POST', '/sim/accounts', { phone, name })).status, 201);

  const browser = ctx.browser = await puppeteer.launch({
    executablePath: chromium, headless: true, userDataDir: profile, protocolTimeout: 60000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 1400 });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('dialog', (d) => d.accept());
  const external = [];
  page.on('request', (q) => { if (!q.url().startsWith(srv.url) && !q.url().startsWith('data:')) external.push(q.url()); });
  const shot = (name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const text = (sel) => page.$eval(sel, (e) => e.textContent.trim()).catch(() => null);
  const rowStatus = (id) => text(`#instances tbody tr[data-id="${id}"] td.status`);

  await page.goto(`${srv.url}/dashboard`, { waitUntil: 'load' });
  assert.equal(await page.$eval('#app', (e) => e.hidden), true, 'nothing before sign-in');
  await shot('01-signin');

  // a wrong key is refused
  await page.type('#apikey', 'not-the-key');
  await page.click('#signin-form button');
  await page.waitForFunction(() => document.querySelector('#signin-error').textContent.length > 0, { timeout: 15000 });
  assert.match(await text('#signin-error'), /not valid/);
  // the right one
  await page.$eval('#apikey', (e) => { e.value = ''; });
  await page.type('#apikey', srv.apiKey);
  await page.click('#signin-form button');
  await page.waitForFunction(() => !document.querySelector('#app').hidden, { timeout: 15000 });
  assert.equal(await page.$eval('#apikey', (e) => e.value), '', 'the key is not left in the form');
  // held in memory only: not in storage, cookies or the URL
  const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie, location.href]));
  assert.ok(!stored.includes(srv.apiKey), `the key is not stored: ${stored}`);
  await page.waitForFunction(() => document.querySelector('#events-state').textContent === 'live', { timeout: 15000 });

  // create
  await page.type('#new-id', 'web');
  await page.click('#create-form button');
  await page.waitForSelector('#instances tbody tr[data-id="web"]', { timeout: 15000 });
  assert.equal(await rowStatus('web'), 'disconnected');
  assert.equal(await text('#detail-id'), 'web');

  // connect: the QR appears; the simulated phone scans what the page shows
  await page.click('#btn-connect');
  await page.waitForSelector('#qr-img[data-qr]', { visible: true, timeout: 20000 });
  const qr = await page.$eval('#qr-img', (e) => e.dataset.qr);
  assert.match(qr, /(^|#)2@/);
  const img = await page.$eval('#qr-img', (e) => ({ src: e.src.slice(0, 22), w: e.naturalWidth }));
  assert.equal(img.src, 'data:image/png;base64,');
  assert.ok(img.w > 100, 'the PNG rendered');
  await shot('02-qr');
  const scan = await sim.api('POST', `/sim/accounts/${ME}/scan`, { qr });
  assert.equal(scan.status, 200, JSON.stringify(scan.json));
  // live: the row turns connected without a reload
  await page.waitForFunction(() => document.querySelector('#instances tbody tr[data-id="web"] td.status')?.textContent === 'connected',
    { timeout: 20000 });
  await page.waitForFunction(() => document.querySelector('#qr-box').hidden, { timeout: 10000 });
  await page.waitForSelector('#events li[data-event="ready"][data-instance="web"]', { timeout: 15000 });
  await waitFor(async () => {
    const s = await sim.api('GET', '/sim/state');
    return s.json.accounts.find((a) => a.phone === ME).devices.some((d) => d.jid === scan.json.deviceJid && d.preKeys > 0);
  }, { what: 'pre-keys uploaded', timeoutMs: 15000 });
  await shot('03-connected');

  // a test message
  await page.type('#send-to', BOB);
  await page.type('#send-text', 'hello from the dashboard');
  await page.click('#send-form button');
  await page.waitForFunction(() => /^sent: 3EB0/.test(document.querySelector('#send-result').textContent), { timeout: 20000 });
  const msgId = (await text('#send-result')).slice(6);
  await waitFor(async () => (await sim.api('GET', `/sim/accounts/${BOB}/messages`)).json.messages.some((m) => m.id === msgId),
    { what: 'Bob got it', timeoutMs: 15000 });

  // the live feed: Bob answers; meanwhile the webhook receiver fails, so it is dead-lettered
  rcv.mode = 500;
  const b = await sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, text: 'hi dashboard' });
  assert.equal(b.status, 201);
  await page.waitForFunction((id) => [...document.querySelectorAll('#events li[data-event="message"]')]
    .some((li) => li.textContent.includes(id)), { timeout: 20000 }, b.json.id);
  await waitFor(async () => {
    const d = await srv.api('GET', '/api/v1/instances/web/webhook/deliveries?status=failed');
    return d.json.data.items.some((x) => x.event === 'message');
  }, { what: 'a dead letter', timeoutMs: 15000 });
  rcv.mode = 200;
  await page.select('#deliv-status', 'failed');
  await page.waitForSelector('#deliveries tbody tr[data-status="failed"] button.retry', { timeout: 15000 });
  const dead = await page.$$eval('#deliveries tbody tr[data-status="failed"]', (rs) => rs.map((r) => [r.dataset.eventId, r.children[0].textContent]));
  const [deadId] = dead.find(([, ev]) => ev === 'message');
  await shot('04-dead-letters');
  const before = rcv.requests.length;
  await page.click(`#deliveries tbody tr[data-event-id="${deadId}"] button.retry`);
  await waitFor(async () => {
    const d = await srv.api('GET', '/api/v1/instances/web/webhook/deliveries?status=delivered');
    return d.json.data.items.some((x) => x.eventId === deadId);
  }, { what: 'retried and delivered', timeoutMs: 15000 });
  assert.ok(rcv.requests.slice(before).some((q) => q.headers['x-miaw-event-id'] === deadId));
  await page.select('#deliv-status', 'delivered');
  await page.waitForSelector(`#deliveries tbody tr[data-event-id="${deadId}"][data-status="delivered"]`, { timeout: 15000 });

  // pairing by phone-number code on a second instance
  await page.$eval('#new-id', (e) => { e.value = ''; });
  await page.type('#new-id', 'bycode');
  await page.click('#create-form button');
  await page.waitForFunction(() => document.querySelector('#detail-id').textContent === 'bycode', { timeout: 15000 });
  await page.type('#pair-phone', `+${CODEPHONE}`);
  await page.click('#paircode-form button');
  await page.waitForFunction(() => /Type [1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}/.test(document.querySelector('#pair-code').textContent),
    { timeout: 20000 });
  const code = /([1-9A-Z]{4}-[1-9A-Z]{4})/.exec(await text('#pair-code'))[1];
  const typed = await sim.api('POST', `/sim/accounts/${CODEPHONE}/link-code`, { code });
  assert.equal(typed.status, 200, JSON.stringify(typed.json));
  await page.waitForFunction(() => document.querySelector('#instances tbody tr[data-id="bycode"] td.status')?.textContent === 'connected',
    { timeout: 20000 });
  await shot('05-two-instances');

  // delete "web" from the page: gone from the list, unlinked from the phone
  await page.click('#instances tbody tr[data-id="web"] button');
  await page.waitForFunction(() => document.querySelector('#detail-id').textContent === 'web', { timeout: 10000 });
  await page.click('#btn-delete');
  await page.waitForFunction(() => !document.querySelector('#instances tbody tr[data-id="web"]'), { timeout: 20000 });
  const st = await sim.api('GET', '/sim/state');
  assert.ok(!st.json.accounts.find((a) => a.phone === ME).devices.some((d) => d.jid === scan.json.deviceJid),
    'the phone no longer lists the device');
  await shot('06-deleted');

  // sign out forgets everything
  await page.click('#signout');
  assert.equal(await page.$eval('#app', (e) => e.hidden), true);
  assert.equal(await page.$$eval('#instances tbody tr', (r) => r.length), 0);
  assert.deepEqual(pageErrors, [], 'no script errors');
  assert.deepEqual(external, [], 'no request left the server');
});
