// tests/interop/miaw_baileys.test.mjs - a miaw instance and Baileys 7.0.0-rc14 talk to
// each other through miaw-sim: `miaw serve` paired to account A (its QR scanned through
// the simulator's control API), a Baileys socket paired to account B. Text both ways,
// each side decrypting the other (miaw's side seen through its `message` webhook on a
// local receiver, Baileys' through messages.upsert); a quoted reply sent by miaw
// (quotedMessageId) is a reply in Baileys (contextInfo.stanzaId, participant,
// quotedMessage) and a Baileys reply quoting miaw's message reaches the webhook with the
// quote. Retry receipts both ways: Baileys loses its session with miaw's device and miaw
// resends on a new one; miaw loses its sessions and Baileys resends (webhook once).
// Everything started here is stopped at the end.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 (simulator log),
// MIAW_BAILEYS_LOG=1 (Baileys log), MIAW_LOG=1 (miaw's log on failure).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { startSim, pairBaileys, until, textOf, tmpDir, sleep } from './sim_helpers.mjs'
import { startServer, waitFor } from '../integration/lib/harness.mjs'
import { startReceiver } from '../integration/lib/receiver.mjs'

const A = '15550004444' // the miaw instance's account
const B = '15550005555' // Baileys' account
const jidOf = (p) => `${p}@s.whatsapp.net`
const events = (rcv, type) => rcv.requests.map((r) => JSON.parse(r.body)).filter((b) => b.event === type)
const ctxOf = (m) => m?.message?.extendedTextMessage?.contextInfo

test('a miaw instance and a Baileys client exchange text and replies through miaw-sim', { timeout: 150000 }, async (t) => {
  const tmp = tmpDir('miaw-baileys-')
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

  // miaw on account A: connect, scan its QR with A's phone, wait for pre-keys
  const dataDir = path.join(tmp, 'miaw')
  fs.mkdirSync(dataDir)
  const miawEnv = {
    WA_WS_URL: sim.info.ws, WA_ROOT_KEY: sim.info.rootPublicKeyHex, MIAW_WA_PREKEYS: '40',
    MIAW_WA_BACKOFF_MIN_MS: '100', MIAW_WA_BACKOFF_MAX_MS: '400', MIAW_WEBHOOK_URL: rcv.url
  }
  ctx.srv = await startServer({ dataDir, env: miawEnv })
  const srv = ctx.srv
  const status = async () => (await srv.api('GET', '/api/v1/instances/bot/status')).json.data.status
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201)
  assert.equal((await srv.api('POST', '/api/v1/instances/bot/connect')).status, 200)
  await waitFor(async () => (await status()) === 'qr', { what: 'qr', timeoutMs: 15000 })
  const qr = (await srv.api('GET', '/api/v1/instances/bot/qr')).json.data.qr
  const scan = await sim.api('POST', `/sim/accounts/${A}/scan`, { qr })
  assert.equal(scan.status, 200, JSON.stringify(scan.body))
  const miawDevice = scan.body.deviceJid
  await waitFor(async () => (await status()) === 'connected', { what: 'miaw connected', timeoutMs: 15000 })
  await waitFor(async () => {
    const st = (await sim.api('GET', '/sim/state')).body
    const d = st.accounts.find((a) => a.phone === A).devices.find((x) => x.jid === miawDevice)
    return d && d.preKeys > 0
  }, { what: 'miaw uploaded its pre-keys', timeoutMs: 10000 })

  // Baileys on account B
  // Baileys finds a message to resend after a retry receipt only in getMessage: its
  // recent-message cache is keyed by the chat, the receipt comes from the device
  const sentByB = new Map()
  const getMessage = async (key) => sentByB.get(key.id)
  const b = await pairBaileys(sim, B, path.join(tmp, 'baileys'), { getMessage })
  const bSend = async (text, opts) => {
    const m = await b.sock.sendMessage(jidOf(A), { text }, opts)
    sentByB.set(m.key.id, m.message)
    return m
  }
  ctx.socks.push(b)

  // 1. miaw -> Baileys: Baileys decrypts it (a pkmsg: first contact)
  const send = async (body) => {
    const r = await srv.api('POST', '/api/v1/instances/bot/messages/text', body)
    assert.equal(r.status, 200, r.text)
    return r.json.data.messageId
  }
  const m1 = await send({ to: B, text: 'hello Baileys, this is miaw' })
  const up1 = await until(() => b.upserts.find((m) => m.key.id === m1), 'Baileys received miaw\'s message', 15000).catch(failLog)
  assert.equal(textOf(up1), 'hello Baileys, this is miaw')
  assert.equal(up1.key.fromMe, false)
  assert.ok([jidOf(A)].includes(up1.key.remoteJid) || up1.key.remoteJidAlt === jidOf(A) || up1.key.senderPn === jidOf(A),
    `remoteJid ${JSON.stringify(up1.key)}`)
  // a second one rides the established session
  const m2 = await send({ to: jidOf(B), text: 'and a second one' })
  const up2 = await until(() => b.upserts.find((m) => m.key.id === m2), 'Baileys received the second message').catch(failLog)
  assert.equal(textOf(up2), 'and a second one')

  // 2. Baileys -> miaw: the message webhook carries the decrypted text
  const s1 = await bSend('hi miaw, Baileys here')
  await rcv.waitFor(() => events(rcv, 'message').some((e) => e.data.id === s1.key.id), 15000, 'message webhook for Baileys\' text').catch(failLog)
  const ev1 = events(rcv, 'message').find((e) => e.data.id === s1.key.id)
  assert.equal(ev1.instanceId, 'bot')
  assert.equal(ev1.data.text, 'hi miaw, Baileys here')
  assert.equal(ev1.data.from, jidOf(B))
  assert.equal(ev1.data.senderPhone, B)
  assert.equal(ev1.data.fromMe, false)
  assert.equal(ev1.data.isGroup, false)
  assert.equal(ev1.data.type, 'text')
  assert.equal(ev1.data.quotedMessageId, undefined)

  // 3. a quoted reply from miaw is a reply in Baileys
  const m3 = await send({ to: B, text: 'replying to you', quotedMessageId: s1.key.id })
  const up3 = await until(() => b.upserts.find((m) => m.key.id === m3), 'Baileys received miaw\'s reply').catch(failLog)
  assert.equal(textOf(up3), 'replying to you')
  const ci = ctxOf(up3)
  assert.ok(ci, `no contextInfo: ${JSON.stringify(up3.message)}`)
  assert.equal(ci.stanzaId, s1.key.id)
  assert.equal(ci.participant, jidOf(B))
  assert.equal(ci.quotedMessage?.conversation ?? ci.quotedMessage?.extendedTextMessage?.text, 'hi miaw, Baileys here')

  // 4. Baileys replies quoting miaw's first message: the webhook names the quote
  const s2 = await bSend('quoting you back', { quoted: up1 })
  await rcv.waitFor(() => events(rcv, 'message').some((e) => e.data.id === s2.key.id), 15000, 'message webhook for Baileys\' reply').catch(failLog)
  const ev2 = events(rcv, 'message').find((e) => e.data.id === s2.key.id)
  assert.equal(ev2.data.text, 'quoting you back')
  assert.equal(ev2.data.quotedMessageId, m1)

  // both phones saw the copies of their companions' messages, and nothing is left queued
  await until(async () => (await sim.api('GET', `/sim/accounts/${A}/messages`)).body.messages.some((m) => m.id === m3 && m.fromMe), 'A\'s phone got the DSM of miaw\'s reply')
  await until(async () => (await sim.api('GET', `/sim/accounts/${B}/messages`)).body.messages.some((m) => m.id === s2.key.id && m.fromMe), 'B\'s phone got the DSM of Baileys\' reply')
  await sleep(300)
  assert.equal(events(rcv, 'message').length, 2, 'one message event per received message')

  // 5. retry receipts, Baileys asking: Baileys loses its session with miaw's device, so
  // miaw's next message (a msg) cannot be read; Baileys sends a retry receipt, miaw
  // rebuilds the session from a fresh bundle and resends to that one device
  const miawLid = scan.body.lid.replace(/:(\d+)@lid$/, '_1.$1') // <lid>_1.<device>
  const sessionFile = path.join(tmp, 'baileys', `session-${miawLid}.json`)
  assert.ok(fs.existsSync(sessionFile), `Baileys keeps its session in ${sessionFile}: ${fs.readdirSync(path.join(tmp, 'baileys')).filter((f) => f.startsWith('session-')).join(' ')}`)
  fs.rmSync(sessionFile)
  const m5 = await send({ to: B, text: 'after you forgot me' })
  const up5 = await until(() => b.upserts.find((m) => m.key.id === m5 && textOf(m) === 'after you forgot me'), 'Baileys read miaw\'s resend', 20000).catch(failLog)
  assert.equal(up5.key.fromMe, false)
  assert.match(srv.logs(), new RegExp(`resent ${m5} to ${B}:\\d+@`))

  // 6. retry receipts, miaw asking: miaw loses its sessions (stopped, its store edited,
  // started again); Baileys' next message cannot be read, miaw's retry receipt makes
  // Baileys resend it and the webhook gets it once
  await srv.stop()
  execFileSync('sqlite3', [path.join(dataDir, 'miaw.db'), "DELETE FROM sig_sessions WHERE owner='bot'"])
  ctx.srv = await startServer({ dataDir, env: miawEnv })
  await waitFor(async () => (await ctx.srv.api('GET', '/api/v1/instances/bot/status')).json.data.status === 'connected', { what: 'miaw back', timeoutMs: 15000 })
  const s6 = await bSend('can you still read me?')
  await rcv.waitFor(() => events(rcv, 'error').some((e) => e.data.messageId === s6.key.id), 15000, 'error event for the unreadable message')
  await rcv.waitFor(() => events(rcv, 'message').some((e) => e.data.id === s6.key.id), 20000, 'message webhook after Baileys\' resend')
    .catch((e) => { if (process.env.MIAW_LOG) console.error(ctx.srv.logs()); throw e })
  assert.equal(events(rcv, 'message').find((e) => e.data.id === s6.key.id).data.text, 'can you still read me?')
  await sleep(300)
  assert.equal(events(rcv, 'message').filter((e) => e.data.id === s6.key.id).length, 1, 'the resent message once')

  await until(async () => (await sim.api('GET', '/sim/state')).body.queued === 0, 'queues drained')

  // no sanitizer report from miaw so far (with an ASan+UBSan build)
  assert.doesNotMatch(srv.logs() + ctx.srv.logs(), /Sanitizer|runtime error/)
})
