// tests/interop/sim_helpers.mjs - shared by the miaw-sim interop tests: start and stop
// the simulator, call its control API, pair a Baileys socket by QR through the control
// API (including the 515 restart) and wait for Baileys events with time limits.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import makeWASocket, { WA_CERT_DETAILS, useMultiFileAuthState } from '@whiskeysockets/baileys'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '..', '..')
export const simBin = path.join(path.resolve(repo, process.env.MIAW_BUILD_DIR || 'build'), 'miaw-sim')

const say = (lvl) => (...a) => console.error(`[baileys ${lvl}]`, ...a.map((x) => typeof x === 'string' ? x : JSON.stringify(x, (k, v) => typeof v === 'bigint' ? String(v) : v)?.slice(0, 600)))
// MIAW_BAILEYS_LOG=1 prints Baileys' own log (debug and up) on stderr
export const quietLogger = process.env.MIAW_BAILEYS_LOG
  ? { level: 'debug', child () { return this }, trace () {}, debug: say('debug'), info: say('info'), warn: say('warn'), error: say('error'), fatal: say('fatal') }
  : { level: 'silent', child () { return this }, trace () {}, debug () {}, info () {}, warn () {}, error () {}, fatal () {} }

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export const withTimeout = (p, ms, what) => Promise.race([
  p, new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms).unref())
])

export function tmpDir (prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

export async function startSim (stateDir) {
  const args = ['--listen', '127.0.0.1:0']
  if (stateDir) args.push('--state-dir', stateDir)
  const proc = spawn(simBin, args, { stdio: ['ignore', 'pipe', process.env.MIAW_SIM_LOG ? 'inherit' : 'ignore'] })
  const exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve(code ?? sig)))
  const line = await withTimeout(new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: proc.stdout })
    rl.once('line', resolve)
    proc.once('exit', () => reject(new Error('miaw-sim exited before listening')))
  }), 10000, 'miaw-sim start')
  const info = JSON.parse(line)
  assert.equal(info.event, 'listening')
  const base = `http://127.0.0.1:${info.port}`
  const api = async (method, p, body) => {
    const r = await fetch(base + p, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) })
    return { status: r.status, body: await r.json() }
  }
  const stop = async () => { if (proc.exitCode === null) proc.kill('SIGTERM'); return withTimeout(exited, 5000, 'miaw-sim stop') }
  return { proc, info, api, stop, url: info.ws, exited }
}

// poll fn until it returns a truthy value
export async function until (fn, what, ms = 15000, every = 100) {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`)
    await sleep(every)
  }
}

// one Baileys socket; events collected so a test can wait for them afterwards; `extra`
// adds or overrides socket options (e.g. getMessage)
export function connect (url, auth, saveCreds, extra = {}) {
  const sock = makeWASocket({
    auth,
    waWebSocketUrl: url,
    logger: quietLogger,
    browser: ['Ubuntu', 'Chrome', '22.04'],
    syncFullHistory: false,
    connectTimeoutMs: 10000,
    markOnlineOnConnect: true,
    // the simulated phone sends no history sync: without this Baileys holds its events
    // back for 20 s waiting for one after the first login
    shouldSyncHistoryMessage: () => false,
    ...extra
  })
  sock.ev.on('creds.update', saveCreds)
  const upserts = []
  const updates = []
  const closes = []
  sock.ev.on('messages.upsert', (u) => { for (const m of u.messages) upserts.push({ ...m, upsertType: u.type }) })
  sock.ev.on('messages.update', (u) => updates.push(...u))
  sock.ev.on('connection.update', (u) => { if (u.connection === 'close') closes.push(u) })
  const waitFor = (pred, what, ms = 20000) => withTimeout(new Promise((resolve) => {
    const h = (u) => { if (pred(u)) { sock.ev.off('connection.update', h); resolve(u) } }
    sock.ev.on('connection.update', h)
  }), ms, what)
  return { sock, waitFor, upserts, updates, closes }
}

// text of a received Baileys message (plain or extended)
export const textOf = (m) => m?.message?.conversation ?? m?.message?.extendedTextMessage?.text

// pair a new Baileys device to account `phone` by QR and log it in; returns the open
// connection and its auth state
export async function pairBaileys (sim, phone, authDir, extra = {}) {
  const cert = await sim.api('GET', '/sim/cert')
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(cert.body.rootPublicKeyHex, 'hex')
  const { state, saveCreds } = await useMultiFileAuthState(authDir)
  const first = connect(sim.url, state, saveCreds, extra)
  const closed = first.waitFor((u) => u.connection === 'close', 'close with 515', 40000)
  const { qr } = await first.waitFor((u) => !!u.qr, 'QR from pair-device')
  const scan = await sim.api('POST', `/sim/accounts/${phone}/scan`, { qr })
  assert.equal(scan.status, 200, JSON.stringify(scan.body))
  await closed
  const conn = await login(sim, state, saveCreds, extra)
  return { ...conn, state, saveCreds, deviceJid: scan.body.deviceJid }
}

// a new socket with stored credentials, waited until open
export async function login (sim, state, saveCreds, extra = {}) {
  const c = connect(sim.url, state, saveCreds, extra)
  await c.waitFor((u) => u.connection === 'open', 'open after login', 20000)
  return c
}
