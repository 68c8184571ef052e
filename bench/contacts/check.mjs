// bench/contacts/check.mjs - "is this number on WhatsApp?" at volume, miaw beside Baileys
// 7.0.0-rc14 through one miaw-sim in one run on loopback: BENCH_NUMBERS numbers (default
// 10,000; BENCH_EXISTING of them are accounts on the simulated network, the others are
// not) are checked by a miaw instance through POST /contacts/check-batch (500 per call,
// BENCH_CONCURRENCY calls in flight, the plugin's cache off so every number is asked) and
// by a Baileys socket through sock.onWhatsApp (500 per call, the same concurrency). Prints
// numbers/s, the usync queries each side sent, and checks both found the same accounts.
// Rounds alternate (miaw, Baileys); the figure is the median. Every process started here
// is stopped on exit. Knobs: see run.sh.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { startSim, pairBaileys, tmpDir } from '../../tests/interop/sim_helpers.mjs'
import { startServer, waitFor, BUILD } from '../../tests/integration/lib/harness.mjs'

const int = (k, d) => { const v = Number(process.env[k] ?? d); if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive whole number`); return v }
const N = int('BENCH_NUMBERS', 10000)
const EXISTING = Math.min(int('BENCH_EXISTING', 200), N)
const CONC = int('BENCH_CONCURRENCY', 1)
const CHUNK = int('BENCH_USYNC_CHUNK', 100)
const ROUNDS = int('BENCH_ROUNDS', 3)
const BATCH = 500
const log = (...a) => console.error('[bench/contacts]', ...a)
const ME = '15559000001'
const BAILEYS = '15559000002'
const acct = (i) => `1556${String(i).padStart(7, '0')}` // on the network
const stranger = (r, i) => `1557${r}${String(i).padStart(6, '0')}` // not on the network, fresh per round

const tmp = tmpDir('miaw-bench-contacts-')
const ctx = { sim: null, srv: null, sock: null }
async function cleanup () {
  try { ctx.sock?.end(undefined) } catch {}
  await ctx.srv?.stop().catch(() => {})
  await ctx.sim?.stop().catch(() => {})
  fs.rmSync(tmp, { recursive: true, force: true })
}
process.on('SIGTERM', async () => { await cleanup(); process.exit(143) })

/** the list for one round: existing accounts spread among fresh strangers */
function numbers (round) {
  const out = []
  const every = Math.floor(N / EXISTING)
  let e = 0
  for (let i = 0; i < N; i++) out.push(i % every === 0 && e < EXISTING ? acct(e++) : stranger(round, i))
  return out
}

async function pool (items, fn) {
  let next = 0
  const out = new Array(items.length)
  await Promise.all(Array.from({ length: CONC }, async () => {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i]) }
  }))
  return out
}

const chunks = (list) => Array.from({ length: Math.ceil(list.length / BATCH) }, (_, i) => list.slice(i * BATCH, (i + 1) * BATCH))

async function runMiaw (round) {
  const list = numbers(round)
  const t0 = performance.now()
  const res = await pool(chunks(list), async (phones) => {
    const r = await ctx.srv.api('POST', '/api/v1/instances/bot/contacts/check-batch', { phones })
    assert.equal(r.status, 200, r.text.slice(0, 300))
    return r.json.data
  })
  const s = (performance.now() - t0) / 1000
  const found = new Set(res.flatMap((d) => d.results.filter((x) => x.exists).map((x) => x.phone)))
  return { s, rate: N / s, queries: res.reduce((a, d) => a + d.summary.queries, 0), found }
}

async function runBaileys (round) {
  const list = numbers(round)
  const t0 = performance.now()
  const res = await pool(chunks(list), (phones) => ctx.sock.onWhatsApp(...phones))
  const s = (performance.now() - t0) / 1000
  const found = new Set(res.flat().filter((x) => x.exists).map((x) => x.jid.split('@')[0]))
  return { s, rate: N / s, queries: res.length, found } // onWhatsApp: one usync query per call
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]

try {
  ctx.sim = await startSim(path.join(tmp, 'sim'))
  const sim = ctx.sim
  log(`${EXISTING} accounts on the network, ${N} numbers per round, ${ROUNDS} rounds, ${CONC} call(s) in flight`)
  for (let i = 0; i < EXISTING; i++) assert.equal((await sim.api('POST', '/sim/accounts', { phone: acct(i) })).status, 201)
  for (const p of [ME, BAILEYS]) assert.equal((await sim.api('POST', '/sim/accounts', { phone: p })).status, 201)

  const dataDir = path.join(tmp, 'miaw')
  fs.mkdirSync(dataDir)
  const config = `plugins:\n  dir: ${path.join(BUILD, 'plugins')}\n  enabled: [contacts]\n  config:\n    contacts: {cache_ttl_s: 0, rate_per_minute: 100000000, rate_burst: 100000000, usync_chunk: ${CHUNK}}\n`
  ctx.srv = await startServer({
    dataDir, config,
    env: { WA_WS_URL: sim.info.ws, WA_ROOT_KEY: sim.info.rootPublicKeyHex, MIAW_WA_PREKEYS: '40', LOG_LEVEL: process.env.BENCH_LOG_LEVEL || 'warn' }
  })
  const srv = ctx.srv
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201)
  assert.equal((await srv.api('POST', '/api/v1/instances/bot/connect')).status, 200)
  const st = async () => (await srv.api('GET', '/api/v1/instances/bot/status')).json.data.status
  await waitFor(async () => (await st()) === 'qr', { what: 'qr', timeoutMs: 20000 })
  const qr = (await srv.api('GET', '/api/v1/instances/bot/qr')).json.data.qr
  assert.equal((await sim.api('POST', `/sim/accounts/${ME}/scan`, { qr })).status, 200)
  await waitFor(async () => (await st()) === 'connected', { what: 'connected', timeoutMs: 20000 })
  ctx.sock = (await pairBaileys(sim, BAILEYS, path.join(tmp, 'baileys'))).sock

  const m = []
  const b = []
  for (let r = 0; r < ROUNDS; r++) {
    m.push(await runMiaw(r))
    b.push(await runBaileys(r))
    log(`round ${r + 1}: miaw ${m[r].rate.toFixed(0)} numbers/s (${m[r].queries} usync queries), Baileys ${b[r].rate.toFixed(0)} numbers/s (${b[r].queries})`)
    assert.equal(m[r].found.size, EXISTING, 'miaw found every account')
    assert.deepEqual([...b[r].found].sort(), [...m[r].found].sort(), 'both found the same accounts')
  }
  const mr = median(m.map((x) => x.rate))
  const br = median(b.map((x) => x.rate))
  console.log(`numbers per round: ${N} (${EXISTING} on WhatsApp), ${CONC} call(s) of ${BATCH} in flight, median of ${ROUNDS} rounds`)
  console.log('peer     numbers/s  usync queries/round  numbers per query')
  console.log(`miaw     ${mr.toFixed(0).padStart(9)}  ${String(m[0].queries).padStart(19)}  ${(N / m[0].queries).toFixed(0).padStart(17)}`)
  console.log(`baileys  ${br.toFixed(0).padStart(9)}  ${String(b[0].queries).padStart(19)}  ${(N / b[0].queries).toFixed(0).padStart(17)}`)
  console.log(`ratio miaw/baileys: ${(mr / br).toFixed(2)}`)
} finally {
  await cleanup()
}
