// tests/interop/groups_baileys.test.mjs - the groups plugin against Baileys 7.0.0-rc14
// through miaw-sim: a miaw instance (account A) creates a group with a Baileys member (B)
// and a simulated phone (C). Baileys gets groups.upsert and reads miaw's metadata; miaw's
// group text is decrypted by Baileys and the phone, Baileys' by miaw (the message
// webhook); miaw's subject / announce changes reach Baileys as groups.update, its
// promote as group-participants.update; Baileys, made admin, changes the subject and
// locks the group (miaw's group_update webhooks); miaw removes Baileys (Baileys told),
// and miaw's next message is read by the phone but not by Baileys. (The acting device gets
// no w:gp2 for its own remove, so the engine does not renew its sender key here: what
// keeps the message from Baileys is the server's fan-out to members only.)
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1, MIAW_BAILEYS_LOG=1, MIAW_LOG=1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { startSim, pairBaileys, until, textOf, tmpDir, sleep } from './sim_helpers.mjs'
import { startServer, waitFor } from '../integration/lib/harness.mjs'
import { startReceiver } from '../integration/lib/receiver.mjs'

const A = '15550008001' // miaw
const B = '15550008002' // Baileys
const C = '15550008003' // a simulated phone
const jidOf = (p) => `${p}@s.whatsapp.net`
const user = (j) => String(j || '').split(/[:@]/)[0]
const events = (rcv, type) => rcv.requests.map((r) => JSON.parse(r.body)).filter((b) => b.event === type).map((b) => b.data)
const pid = (p) => typeof p === 'string' ? p : (p?.phoneNumber || p?.id)

test('a miaw-made group with a Baileys member: metadata, text both ways, updates both ways, removal', { timeout: 180000 }, async (t) => {
  const tmp = tmpDir('miaw-groups-baileys-')
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
  const lids = {}
  for (const [phone, name] of [[A, 'Alice'], [B, 'Bob'], [C, 'Carol']]) {
    const r = await sim.api('POST', '/sim/accounts', { phone, name })
    assert.equal(r.status, 201)
    lids[phone] = r.body.lid
  }
  const dataDir = path.join(tmp, 'miaw')
  fs.mkdirSync(dataDir)
  ctx.srv = await startServer({
    dataDir,
    plugins: ['messages', 'groups'],
    env: {
      WA_WS_URL: sim.info.ws, WA_ROOT_KEY: sim.info.rootPublicKeyHex, MIAW_WA_PREKEYS: '40',
      MIAW_WA_BACKOFF_MIN_MS: '100', MIAW_WA_BACKOFF_MAX_MS: '400', MIAW_WEBHOOK_URL: rcv.url
    }
  })
  const srv = ctx.srv
  const status = async () => (await srv.api('GET', '/api/v1/instances/bot/status')).json.data.status
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201)
  assert.equal((await srv.api('POST', '/api/v1/instances/bot/connect')).status, 200)
  await waitFor(async () => (await status()) === 'qr', { what: 'qr', timeoutMs: 15000 })
  const qr = (await srv.api('GET', '/api/v1/instances/bot/qr')).json.data.qr
  const scan = await sim.api('POST', `/sim/accounts/${A}/scan`, { qr })
  assert.equal(scan.status, 200)
  await waitFor(async () => (await status()) === 'connected', { what: 'miaw connected', timeoutMs: 15000 })
  await waitFor(async () => {
    const st = (await sim.api('GET', '/sim/state')).body
    const d = st.accounts.find((a) => a.phone === A).devices.find((x) => x.jid === scan.body.deviceJid)
    return d && d.preKeys > 0
  }, { what: 'miaw uploaded its pre-keys', timeoutMs: 10000 })

  const b = await pairBaileys(sim, B, path.join(tmp, 'baileys'))
  ctx.socks.push(b)
  const seen = { upsert: [], update: [], parts: [] }
  b.sock.ev.on('groups.upsert', (g) => seen.upsert.push(...g))
  b.sock.ev.on('groups.update', (g) => seen.update.push(...g))
  b.sock.ev.on('group-participants.update', (u) => seen.parts.push(u))
  const groups = (m, p, body) => srv.api(m, `/api/v1/instances/bot/groups${p}`, body)
  const sendText = async (to, text) => {
    const r = await srv.api('POST', '/api/v1/instances/bot/messages/text', { to, text })
    assert.equal(r.status, 200, r.text)
    return r.json.data.messageId
  }
  const phoneGot = async (id) => (await sim.api('GET', `/sim/accounts/${C}/messages`)).body.messages.find((m) => m.id === id && typeof m.text === 'string')

  // 1. miaw creates the group: Baileys is told and reads the same metadata
  let r = await groups('POST', '', { subject: 'miaw + Baileys', participants: [B, C] })
  assert.equal(r.status, 201, r.text)
  const gjid = r.json.data.jid
  const up = await until(() => seen.upsert.find((g) => g.id === gjid), 'groups.upsert at Baileys').catch(failLog)
  assert.equal(up.subject, 'miaw + Baileys')
  const meta = await b.sock.groupMetadata(gjid)
  assert.equal(meta.subject, 'miaw + Baileys')
  assert.equal(meta.size, 3)
  assert.equal(meta.ownerPn ?? meta.owner, meta.ownerPn ? jidOf(A) : lids[A])
  const byPn = Object.fromEntries(meta.participants.map((p) => [p.phoneNumber, p]))
  assert.equal(byPn[jidOf(A)]?.admin, 'superadmin')
  assert.equal(byPn[jidOf(B)]?.admin, null)

  // 2. text both ways
  const m1 = await sendText(gjid, 'hello from miaw')
  const got1 = await until(() => b.upserts.find((m) => m.key.id === m1 && textOf(m)), 'Baileys decrypted miaw\'s group text').catch(failLog)
  assert.equal(textOf(got1), 'hello from miaw')
  assert.equal(got1.key.remoteJid, gjid)
  await until(() => phoneGot(m1), 'the phone decrypted it')
  const s1 = await b.sock.sendMessage(gjid, { text: 'hello from Baileys' })
  await rcv.waitFor(() => events(rcv, 'message').some((e) => e.id === s1.key.id), 15000, 'miaw got Baileys\' group text').catch(failLog)
  const ev = events(rcv, 'message').find((e) => e.id === s1.key.id)
  assert.deepEqual([ev.isGroup, ev.chat, ev.text, ev.senderPhone], [true, gjid, 'hello from Baileys', B])

  // 3. miaw's changes reach Baileys
  r = await groups('PATCH', `/${gjid}`, { subject: 'Renamed by miaw', announce: true })
  assert.equal(r.status, 200, r.text)
  await until(() => seen.update.find((u) => u.id === gjid && u.subject === 'Renamed by miaw'), 'groups.update subject').catch(failLog)
  await until(() => seen.update.find((u) => u.id === gjid && u.announce === true), 'groups.update announce')
  r = await groups('POST', `/${gjid}/admins`, { participants: [B] })
  assert.equal(r.json.data.participants[0].status, 'ok', r.text)
  const pr = await until(() => seen.parts.find((u) => u.id === gjid && u.action === 'promote'), 'group-participants.update promote')
  assert.ok(pr.participants.some((p) => user(pid(p)) === B || user(pid(p)) === user(lids[B])), JSON.stringify(pr))

  // 4. Baileys (now an admin) changes the group: miaw's webhooks
  await b.sock.groupUpdateSubject(gjid, 'Renamed by Baileys')
  await b.sock.groupSettingUpdate(gjid, 'locked')
  await rcv.waitFor(() => events(rcv, 'group_update').some((e) => e.subject === 'Renamed by Baileys'), 15000, 'group_update subject')
  await rcv.waitFor(() => events(rcv, 'group_update').some((e) => e.locked === true), 15000, 'group_update locked')
  const gu = events(rcv, 'group_update').find((e) => e.subject === 'Renamed by Baileys')
  assert.equal(gu.groupJid, gjid)
  assert.equal(gu.actor, jidOf(B))
  r = await groups('GET', `/${gjid}`)
  assert.deepEqual([r.json.data.subject, r.json.data.locked, r.json.data.announce], ['Renamed by Baileys', true, true])

  // 5. miaw removes Baileys: told, and the next message is out of its reach
  r = await groups('DELETE', `/${gjid}/participants`, { participants: [B] })
  assert.equal(r.json.data.participants[0].status, 'ok', r.text)
  await until(() => seen.parts.find((u) => u.id === gjid && u.action === 'remove'), 'group-participants.update remove')
  const m2 = await sendText(gjid, 'after Baileys left')
  await until(() => phoneGot(m2), 'the phone read it')
  await sleep(1500)
  assert.ok(!b.upserts.some((m) => m.key.id === m2 && textOf(m)), 'the removed member cannot read it')
})
