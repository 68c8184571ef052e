// tests/interop/presence_baileys.test.mjs - the presence plugin against Baileys
// 7.0.0-rc14 through miaw-sim: `miaw serve` paired to account A, Baileys to account B.
// miaw's typing / recording / stop-typing reach Baileys as presence.update
// (lastKnownPresence composing / recording / paused); Baileys' presence
// (sendPresenceUpdate available / unavailable, after miaw subscribed) and its typing reach
// miaw's `presence` webhook; Baileys subscribed to A sees miaw's POST /presence; miaw's read
// receipt (POST /read/{id}) reaches Baileys as a READ status update for its message.
// Everything started here is stopped at the end.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1, MIAW_BAILEYS_LOG=1, MIAW_LOG=1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { startSim, pairBaileys, until, tmpDir } from './sim_helpers.mjs'
import { startServer, waitFor } from '../integration/lib/harness.mjs'
import { startReceiver } from '../integration/lib/receiver.mjs'

const A = '15550008801' // the miaw instance's account
const B = '15550008802' // Baileys' account
const jidOf = (p) => `${p}@s.whatsapp.net`
const events = (rcv, type) => rcv.requests.map((r) => JSON.parse(r.body)).filter((b) => b.event === type)
const userOf = (jid) => (jid || '').split(/[:@]/)[0]

test('presence and chat states between a miaw instance and Baileys through miaw-sim', { timeout: 150000 }, async (t) => {
  const tmp = tmpDir('miaw-presence-')
  const sim = await startSim(path.join(tmp, 'sim'))
  const rcv = await startReceiver()
  const ctx = { srv: null, socks: [] }
  t.after(async () => {
    for (const s of ctx.socks) { try { s.sock.end(undefined) } catch {} }
    if (ctx.srv) await ctx.srv.stop().catch(() => {})
    await sim.stop().catch(() => {})
    await rcv.close().catch(() => {})
    fs.rmSync(tmp, { recursive: true, force: true })
  })
  const failLog = (e) => {
    if (process.env.MIAW_LOG && ctx.srv) console.error(ctx.srv.logs())
    throw e
  }
  assert.equal((await sim.api('POST', '/sim/accounts', { phone: A, name: 'Alice' })).status, 201)
  assert.equal((await sim.api('POST', '/sim/accounts', { phone: B, name: 'Bob' })).status, 201)

  // miaw on account A
  const dataDir = path.join(tmp, 'miaw')
  fs.mkdirSync(dataDir)
  ctx.srv = await startServer({
    dataDir,
    env: {
      WA_WS_URL: sim.info.ws, WA_ROOT_KEY: sim.info.rootPublicKeyHex, MIAW_WA_PREKEYS: '40',
      MIAW_WA_BACKOFF_MIN_MS: '100', MIAW_WA_BACKOFF_MAX_MS: '400', MIAW_WEBHOOK_URL: rcv.url
    }
  })
  const srv = ctx.srv
  const api = (method, p, body) => srv.api(method, `/api/v1/instances/bot${p}`, body)
  const status = async () => (await api('GET', '/status')).json.data.status
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201)
  assert.equal((await api('POST', '/connect')).status, 200)
  await waitFor(async () => (await status()) === 'qr', { what: 'qr', timeoutMs: 15000 })
  const qr = (await api('GET', '/qr')).json.data.qr
  const scan = await sim.api('POST', `/sim/accounts/${A}/scan`, { qr })
  assert.equal(scan.status, 200, JSON.stringify(scan.body))
  await waitFor(async () => (await status()) === 'connected', { what: 'miaw connected', timeoutMs: 15000 })
  await waitFor(async () => {
    const st = (await sim.api('GET', '/sim/state')).body
    const d = st.accounts.find((a) => a.phone === A).devices.find((x) => x.jid === scan.body.deviceJid)
    return d && d.preKeys > 0
  }, { what: 'miaw uploaded its pre-keys', timeoutMs: 10000 })

  // Baileys on account B, collecting presence.update
  const b = await pairBaileys(sim, B, path.join(tmp, 'baileys'))
  ctx.socks.push(b)
  const presences = []
  b.sock.ev.on('presence.update', (u) => presences.push(u))
  // only what arrived after `from` (an index into presences)
  const sawPresence = (want, what, from = 0) => until(() => presences.slice(from).find((u) =>
    userOf(u.id) === A && Object.entries(u.presences || {}).some(([k, v]) => userOf(k) === A && v.lastKnownPresence === want)),
  what).catch(failLog)

  // 1. miaw's chat states reach Baileys (which reports <paused/> as "available")
  for (const [route, want] of [['typing', 'composing'], ['recording', 'recording'], ['stop-typing', 'available']]) {
    const n = presences.length
    const r = await api('POST', `/${route}/${B}`)
    assert.equal(r.status, 200, r.text)
    await sawPresence(want, `Baileys sees miaw's ${route}`, n)
  }

  // 2. miaw subscribes to B; Baileys (once it knows its push name, from the copy of its
  // phone's message) goes online and offline: both arrive as presence webhooks
  let r = await api('POST', `/subscribe/${B}`)
  assert.equal(r.status, 200, r.text)
  await rcv.waitFor(() => events(rcv, 'presence').some((e) => e.data.jid === jidOf(B) && !e.data.chat), 10000,
    'B\'s current presence after subscribe').catch(failLog)
  const t1 = await sim.api('POST', `/sim/accounts/${B}/messages`, { to: A, text: 'from Bob\'s phone' })
  assert.equal(t1.status, 201, JSON.stringify(t1.body))
  await until(() => b.sock.authState.creds.me?.name === 'Bob', 'Baileys learned its push name')
  const before = events(rcv, 'presence').length
  // Baileys may have gone online by itself when it learned its name, and the simulator (as
  // WhatsApp) tells subscribers of changes only: offline first, so going online is a change
  await b.sock.sendPresenceUpdate('unavailable')
  await b.sock.sendPresenceUpdate('available')
  await rcv.waitFor(() => events(rcv, 'presence').slice(before).some((e) => e.data.jid === jidOf(B) && e.data.status === 'available'),
    10000, 'webhook: Baileys available').catch(failLog)
  const online = events(rcv, 'presence').length // webhooks come in order: an earlier offline is in already
  await b.sock.sendPresenceUpdate('unavailable')
  await rcv.waitFor(() => events(rcv, 'presence').slice(online).some((e) => e.data.jid === jidOf(B) &&
    e.data.status === 'unavailable' && e.data.lastSeen > 0), 10000, 'webhook: Baileys unavailable with lastSeen').catch(failLog)
  const off = events(rcv, 'presence').slice(online).find((e) => e.data.status === 'unavailable')
  assert.equal(off.instanceId, 'bot')
  assert.ok(Math.abs(off.data.lastSeen - Date.now() / 1000) < 120, `lastSeen ${off.data.lastSeen}`)

  // 3. Baileys typing to miaw: a presence webhook with the chat
  await b.sock.sendPresenceUpdate('composing', jidOf(A))
  await rcv.waitFor(() => events(rcv, 'presence').some((e) => e.data.jid === jidOf(B) && e.data.status === 'composing'),
    10000, 'webhook: Baileys composing').catch(failLog)
  assert.deepEqual(events(rcv, 'presence').find((e) => e.data.status === 'composing').data,
    { jid: jidOf(B), chat: jidOf(B), status: 'composing' })
  await b.sock.sendPresenceUpdate('recording', jidOf(A))
  await rcv.waitFor(() => events(rcv, 'presence').some((e) => e.data.jid === jidOf(B) && e.data.status === 'recording'),
    10000, 'webhook: Baileys recording').catch(failLog)
  await b.sock.sendPresenceUpdate('paused', jidOf(A))
  await rcv.waitFor(() => events(rcv, 'presence').some((e) => e.data.jid === jidOf(B) && e.data.status === 'paused'),
    10000, 'webhook: Baileys paused').catch(failLog)

  // 4. Baileys subscribes to A and sees miaw's POST /presence
  await b.sock.presenceSubscribe(jidOf(A))
  await sawPresence('unavailable', 'Baileys gets miaw\'s presence (offline) on subscribing', 0)
  let n = presences.length
  r = await api('POST', '/presence', { presence: 'available' })
  assert.equal(r.status, 200, r.text)
  await sawPresence('available', 'Baileys sees miaw available', n)
  n = presences.length
  r = await api('POST', '/presence', { presence: 'unavailable' })
  assert.equal(r.status, 200, r.text)
  const u = await sawPresence('unavailable', 'Baileys sees miaw unavailable', n)
  assert.ok(Object.values(u.presences)[0].lastSeen > 0, JSON.stringify(u))

  // 5. miaw reads Baileys' message: Baileys gets the read receipt
  const sent = await b.sock.sendMessage(jidOf(A), { text: 'read me' })
  await rcv.waitFor(() => events(rcv, 'message').some((e) => e.data.id === sent.key.id), 15000, 'message webhook').catch(failLog)
  r = await api('POST', `/read/${sent.key.id}`)
  assert.equal(r.status, 200, r.text)
  assert.ok(r.json.data.read.includes(sent.key.id), r.text)
  await until(() => b.updates.some((u) => u.key.id === sent.key.id && u.update?.status >= 4), 'Baileys got the read receipt')
    .catch(failLog)

  // both processes end cleanly (no sanitizer report with an ASan+UBSan build)
  for (const s of ctx.socks) { try { s.sock.end(undefined) } catch {} }
  ctx.socks = []
  ctx.srv = null
  await srv.stop()
  assert.doesNotMatch(srv.logs(), /Sanitizer|runtime error/)
  assert.equal((await srv.exited).code, 0, srv.logs().slice(-2000))
  assert.equal(await sim.stop(), 0, 'miaw-sim exit status')
})
