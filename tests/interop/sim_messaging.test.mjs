// tests/interop/sim_messaging.test.mjs - end-to-end encrypted text through miaw-sim with
// Baileys as the independent client: Baileys on account A and account B's simulated
// phone chat both ways (each side decrypting, delivery receipts routed back); a second
// Baileys on account B chats with the first; a message sent while a peer is offline
// arrives at its next login; unlinking a device through the control API logs Baileys
// out (401), a dropped connection does not.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { DisconnectReason } from '@whiskeysockets/baileys'
import { startSim, pairBaileys, login, until, textOf, tmpDir, sleep } from './sim_helpers.mjs'

const A = '15550002222'
const B = '15550003333'
const jidOf = (p) => `${p}@s.whatsapp.net`
// a sent message's best status as Baileys reports it: a receipt that arrives while the
// message's own upsert is still in Baileys' event buffer is merged into that upsert
const statusOf = (c, id) => Math.max(0, ...c.upserts.filter((m) => m.key.id === id).map((m) => m.status || 0),
  ...c.updates.filter((u) => u.key.id === id).map((u) => u.update.status || 0))

test('Baileys and simulated phones exchange end-to-end encrypted text', { timeout: 120000 }, async (t) => {
  const tmp = tmpDir('miaw-sim-msg-')
  const sim = await startSim(path.join(tmp, 'state'))
  const sockets = []
  t.after(async () => {
    for (const s of sockets) { try { s.sock.end(undefined) } catch {} }
    await sim.stop().catch(() => {})
    fs.rmSync(tmp, { recursive: true, force: true })
  })
  assert.equal((await sim.api('POST', '/sim/accounts', { phone: A, name: 'Alice' })).status, 201)
  assert.equal((await sim.api('POST', '/sim/accounts', { phone: B, name: 'Bob' })).status, 201)

  // usync/contact: B is on the network, an unknown number is not
  const a1 = await pairBaileys(sim, A, path.join(tmp, 'a1'))
  sockets.push(a1)
  const [onWa] = await a1.sock.onWhatsApp(B)
  assert.equal(onWa?.exists, true)
  assert.equal(onWa?.jid, jidOf(B))
  const none = await a1.sock.onWhatsApp('15559999999')
  assert.ok(!none.length || none[0].exists === false, JSON.stringify(none))

  // 1. Baileys (A) -> phone B: the phone decrypts it
  const sent = await a1.sock.sendMessage(jidOf(B), { text: 'hello phone B' })
  const got = await until(async () => {
    const r = await sim.api('GET', `/sim/accounts/${B}/messages`)
    return r.body.messages.find((m) => m.id === sent.key.id)
  }, 'phone B received the message')
  assert.equal(got.text, 'hello phone B', JSON.stringify(got))
  assert.equal(got.from, jidOf(A))
  assert.equal(got.fromDevice, a1.deviceJid)
  assert.equal(got.encType, 'pkmsg')
  // the phone's delivery receipt reaches Baileys
  await until(() => statusOf(a1, sent.key.id) >= 3, 'delivery receipt at A')

  // 2. phone B -> Baileys (A): Baileys decrypts it, its receipt reaches the phone
  const reply = await sim.api('POST', `/sim/accounts/${B}/messages`, { to: A, text: 'hello Baileys A' })
  assert.equal(reply.status, 201, JSON.stringify(reply.body))
  const up = await until(() => a1.upserts.find((m) => m.key.id === reply.body.id), 'A received the phone\'s message')
  assert.equal(textOf(up), 'hello Baileys A')
  assert.equal(up.key.fromMe, false)
  await until(async () => {
    const r = await sim.api('GET', `/sim/accounts/${B}/messages`)
    const s = r.body.sent.find((m) => m.id === reply.body.id)
    return s && s.receipts.find((x) => x.from.startsWith(A))
  }, 'A\'s delivery receipt at phone B')
  // a second round uses the established sessions (msg, not pkmsg)
  const sent2 = await a1.sock.sendMessage(jidOf(B), { text: 'second' })
  const got2 = await until(async () => (await sim.api('GET', `/sim/accounts/${B}/messages`)).body.messages.find((m) => m.id === sent2.key.id), 'second message')
  assert.equal(got2.text, 'second')
  assert.equal(got2.encType, 'msg')
  // A's own phone got the DSM copy of what A sent
  const own = await until(async () => (await sim.api('GET', `/sim/accounts/${A}/messages`)).body.messages.find((m) => m.id === sent.key.id), 'DSM at phone A')
  assert.equal(own.fromMe, true)
  assert.equal(own.text, 'hello phone B')

  // 3. a second Baileys on account B chats with the first
  const b1 = await pairBaileys(sim, B, path.join(tmp, 'b1'))
  sockets.push(b1)
  const m3 = await a1.sock.sendMessage(jidOf(B), { text: 'to both of B' })
  const at_b1 = await until(() => b1.upserts.find((m) => m.key.id === m3.key.id), 'B1 received A\'s message')
  assert.equal(textOf(at_b1), 'to both of B')
  await until(async () => (await sim.api('GET', `/sim/accounts/${B}/messages`)).body.messages.find((m) => m.id === m3.key.id && m.text === 'to both of B'), 'phone B also got it')
  const m4 = await b1.sock.sendMessage(jidOf(A), { text: 'from Baileys B' })
  const at_a1 = await until(() => a1.upserts.find((m) => m.key.id === m4.key.id), 'A received B1\'s message')
  assert.equal(textOf(at_a1), 'from Baileys B')
  // the phone's message reaches B's companion as its own (DSM) copy too
  const r5 = await sim.api('POST', `/sim/accounts/${B}/messages`, { to: A, text: 'phone B again' })
  await until(() => a1.upserts.find((m) => m.key.id === r5.body.id && textOf(m) === 'phone B again'), 'A got phone B\'s second message')
  const dsm = await until(() => b1.upserts.find((m) => m.key.id === r5.body.id), 'B1 got the DSM copy')
  assert.equal(dsm.key.fromMe, true)
  assert.equal(textOf(dsm), 'phone B again')

  // 4. offline delivery: B1 goes away, A sends, B1 logs in again and gets it
  b1.sock.end(undefined)
  await until(async () => !(await sim.api('GET', '/sim/state')).body.accounts.find((x) => x.phone === B).devices[0].online, 'B1 offline')
  const m6 = await a1.sock.sendMessage(jidOf(B), { text: 'while you were away' })
  await until(async () => (await sim.api('GET', '/sim/state')).body.queued >= 1, 'queued for B1')
  const b1again = await login(sim, b1.state, b1.saveCreds)
  sockets.push(b1again)
  const late = await until(() => b1again.upserts.find((m) => m.key.id === m6.key.id), 'offline message after login')
  assert.equal(textOf(late), 'while you were away')
  await until(async () => (await sim.api('GET', '/sim/state')).body.queued === 0, 'queue drained after the receipt')

  // 5. a dropped connection is not a logout; unlinking is
  const dropped = await sim.api('POST', '/sim/faults', { drop: b1.deviceJid })
  assert.equal(dropped.status, 200)
  assert.equal(dropped.body.dropped, 1)
  await until(() => b1again.closes.length, 'B1 dropped')
  assert.notEqual(b1again.closes[0].lastDisconnect?.error?.output?.statusCode, DisconnectReason.loggedOut)
  const b1third = await login(sim, b1.state, b1.saveCreds)
  sockets.push(b1third)
  const del = await sim.api('DELETE', `/sim/devices/${encodeURIComponent(b1.deviceJid)}`)
  assert.equal(del.status, 200, JSON.stringify(del.body))
  await until(() => b1third.closes.length, 'B1 logged out')
  assert.equal(b1third.closes[0].lastDisconnect?.error?.output?.statusCode, DisconnectReason.loggedOut)
  const st = (await sim.api('GET', '/sim/state')).body
  assert.equal(st.accounts.find((x) => x.phone === B).devices.length, 0)
  assert.equal((await sim.api('DELETE', `/sim/devices/${encodeURIComponent(b1.deviceJid)}`)).status, 404)
  // A's next message to B only reaches B's phone (the device list changed)
  const m7 = await a1.sock.sendMessage(jidOf(B), { text: 'after unlink' })
  await until(async () => (await sim.api('GET', `/sim/accounts/${B}/messages`)).body.messages.find((m) => m.id === m7.key.id && m.text === 'after unlink'), 'phone B after unlink')
  await sleep(200)
  assert.equal((await sim.api('GET', '/sim/state')).body.queued, 0)
})
