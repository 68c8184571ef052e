// tests/interop/sim_groups.test.mjs - groups through miaw-sim with Baileys as the
// independent client: a simulated phone creates a group with Baileys' account (Baileys
// gets the create notification and reads the metadata), the phone sends group text
// with sender keys (Baileys and another phone decrypt it), Baileys sends group text
// (the phones and a second Baileys decrypt it, receipts reach the sender), Baileys
// creates a group itself (groupCreate) and changes it (subject, description,
// participants, invite link, leave); the groups survive a simulator restart.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { startSim, pairBaileys, login, until, textOf, tmpDir } from './sim_helpers.mjs'

const A = '15550004444'
const B = '15550005555'
const C = '15550006666'
const jidOf = (p) => `${p}@s.whatsapp.net`
const user = (jid) => jid.split('@')[0].split(':')[0]

test('groups between Baileys and simulated phones', { timeout: 150000 }, async (t) => {
  const tmp = tmpDir('miaw-sim-grp-')
  const stateDir = path.join(tmp, 'state')
  let sim = await startSim(stateDir)
  const sockets = []
  t.after(async () => {
    for (const s of sockets) { try { s.sock.end(undefined) } catch {} }
    await sim.stop().catch(() => {})
    fs.rmSync(tmp, { recursive: true, force: true })
  })
  const lids = {}
  for (const [phone, name] of [[A, 'Alice'], [B, 'Bob'], [C, 'Carol']]) {
    const r = await sim.api('POST', '/sim/accounts', { phone, name })
    assert.equal(r.status, 201)
    lids[phone] = r.body.lid
  }
  const phoneMsgs = async (p) => (await sim.api('GET', `/sim/accounts/${p}/messages`)).body
  const a1 = await pairBaileys(sim, A, path.join(tmp, 'a1'))
  sockets.push(a1)
  const c1 = await pairBaileys(sim, C, path.join(tmp, 'c1'))
  sockets.push(c1)
  const upserted = { a1: [], c1: [] }
  a1.sock.ev.on('groups.upsert', (g) => upserted.a1.push(...g))
  c1.sock.ev.on('groups.upsert', (g) => upserted.c1.push(...g))

  // 1. phone B creates a group with A and C: Baileys gets the create notification
  const bad = await sim.api('POST', `/sim/accounts/${B}/groups`, { subject: 'x', participants: ['15559999999'] })
  assert.equal(bad.status, 404)
  const made = await sim.api('POST', `/sim/accounts/${B}/groups`, { subject: 'Phone group', participants: [A, jidOf(C)] })
  assert.equal(made.status, 201, JSON.stringify(made.body))
  const gjid = made.body.jid
  assert.match(gjid, /^120363\d{12}@g\.us$/)
  const note = await until(() => upserted.a1.find((g) => g.id === gjid), 'groups.upsert at A')
  assert.equal(note.subject, 'Phone group')
  // ... and reads the metadata: LID-addressed, B superadmin, PN alongside every LID
  const meta = await a1.sock.groupMetadata(gjid)
  assert.equal(meta.id, gjid)
  assert.equal(meta.subject, 'Phone group')
  assert.equal(meta.addressingMode, 'lid')
  assert.equal(meta.size, 3)
  assert.equal(meta.owner, lids[B])
  assert.equal(meta.ownerPn, jidOf(B))
  const byPn = Object.fromEntries(meta.participants.map((p) => [p.phoneNumber, p]))
  assert.equal(byPn[jidOf(B)]?.admin, 'superadmin')
  assert.equal(byPn[jidOf(A)]?.admin, null)
  assert.equal(byPn[jidOf(A)]?.id, lids[A])
  assert.ok(byPn[jidOf(C)])

  // 2. phone B sends group text: both Baileys and phone C decrypt it
  const p1 = await sim.api('POST', `/sim/accounts/${B}/messages`, { to: gjid, text: 'hello group from phone B' })
  assert.equal(p1.status, 201, JSON.stringify(p1.body))
  const atA = await until(() => a1.upserts.find((m) => m.key.id === p1.body.id && textOf(m)), 'A decrypted the phone\'s group message')
  assert.equal(textOf(atA), 'hello group from phone B')
  assert.equal(atA.key.remoteJid, gjid)
  assert.equal(user(atA.key.participant), user(lids[B]))
  assert.equal(atA.key.fromMe, false)
  await until(() => c1.upserts.find((m) => m.key.id === p1.body.id && textOf(m) === 'hello group from phone B'), 'C1 decrypted it')
  const atC = await until(async () => (await phoneMsgs(C)).messages.find((m) => m.id === p1.body.id), 'phone C got it')
  assert.equal(atC.text, 'hello group from phone B', JSON.stringify(atC))
  assert.equal(atC.chat, gjid)
  assert.equal(atC.participant, jidOf(B))
  assert.equal(atC.encType, 'skmsg')
  // delivery receipts from the members reach phone B
  await until(async () => {
    const s = (await phoneMsgs(B)).sent.find((m) => m.id === p1.body.id)
    return s && s.receipts.some((r) => user(r.from) === user(a1.deviceJid) || user(r.from) === user(lids[A]))
  }, 'A\'s receipt at phone B')
  // a second message reuses the sender key
  const p2 = await sim.api('POST', `/sim/accounts/${B}/messages`, { to: gjid, text: 'second from B' })
  await until(() => a1.upserts.find((m) => m.key.id === p2.body.id && textOf(m) === 'second from B'), 'A got the second')

  // 3. Baileys (A) sends group text: phones B and C, Baileys C and A's own phone decrypt it
  const s1 = await a1.sock.sendMessage(gjid, { text: 'hello group from Baileys A' })
  for (const p of [B, C]) {
    const got = await until(async () => (await phoneMsgs(p)).messages.find((m) => m.id === s1.key.id), `phone ${p} got A's message`)
    assert.equal(got.text, 'hello group from Baileys A', JSON.stringify(got))
    assert.equal(got.chat, gjid)
    assert.equal(got.participant, jidOf(A))
    assert.equal(got.fromDevice, a1.deviceJid)
  }
  const atC1 = await until(() => c1.upserts.find((m) => m.key.id === s1.key.id && textOf(m)), 'C1 decrypted A\'s message')
  assert.equal(textOf(atC1), 'hello group from Baileys A')
  assert.equal(atC1.key.remoteJid, gjid)
  const own = await until(async () => (await phoneMsgs(A)).messages.find((m) => m.id === s1.key.id), 'A\'s phone got the copy')
  assert.equal(own.fromMe, true)
  assert.equal(own.text, 'hello group from Baileys A')
  const s2 = await c1.sock.sendMessage(gjid, { text: 'Carol here' })
  await until(() => a1.upserts.find((m) => m.key.id === s2.key.id && textOf(m) === 'Carol here'), 'A decrypted C1\'s message')
  await until(async () => (await phoneMsgs(B)).messages.find((m) => m.id === s2.key.id && m.text === 'Carol here'), 'phone B decrypted C1\'s message')

  // 4. Baileys creates a group itself
  const g2 = await a1.sock.groupCreate('Baileys group', [jidOf(B), jidOf(C)])
  assert.match(g2.id, /@g\.us$/)
  assert.equal(g2.subject, 'Baileys group')
  assert.equal(g2.size, 3)
  assert.equal(g2.owner, lids[A])
  assert.equal(g2.participants.find((p) => p.phoneNumber === jidOf(A))?.admin, 'superadmin')
  await until(() => upserted.c1.find((g) => g.id === g2.id), 'C1 told about the new group')
  const bGroups = (await sim.api('GET', `/sim/accounts/${B}/groups`)).body.groups
  assert.ok(bGroups.find((g) => g.jid === g2.id))
  const s3 = await a1.sock.sendMessage(g2.id, { text: 'in my own group' })
  await until(async () => (await phoneMsgs(B)).messages.find((m) => m.id === s3.key.id && m.text === 'in my own group'), 'phone B decrypted it')

  // changes: subject, description, promote, remove, invite link, leave
  await a1.sock.groupUpdateSubject(g2.id, 'Renamed')
  await a1.sock.groupUpdateDescription(g2.id, 'what we talk about')
  const promoted = await a1.sock.groupParticipantsUpdate(g2.id, [jidOf(C)], 'promote')
  assert.equal(promoted[0].status, '200')
  const removed = await a1.sock.groupParticipantsUpdate(g2.id, [jidOf(B), '15559999999@s.whatsapp.net'], 'remove')
  assert.deepEqual(removed.map((r) => r.status), ['200', '404'])
  const meta2 = await c1.sock.groupMetadata(g2.id)
  assert.equal(meta2.subject, 'Renamed')
  assert.equal(meta2.desc, 'what we talk about')
  assert.equal(meta2.size, 2)
  assert.equal(meta2.participants.find((p) => p.phoneNumber === jidOf(C))?.admin, 'admin')
  const code = await a1.sock.groupInviteCode(g2.id)
  assert.match(code, /^[A-Za-z0-9]{22}$/)
  const code2 = await a1.sock.groupRevokeInvite(g2.id)
  assert.notEqual(code2, code)
  await assert.rejects(a1.sock.groupGetInviteInfo(code), (e) => e.output?.statusCode === 410 || e.data === 410 || /gone/.test(e.message))
  await c1.sock.groupLeave(g2.id)
  const meta3 = await a1.sock.groupMetadata(g2.id)
  assert.equal(meta3.size, 1)
  const all = await a1.sock.groupFetchAllParticipating()
  assert.ok(all[gjid] && all[g2.id])

  // the state view, then a restart from the state directory keeps the groups
  const st = (await sim.api('GET', '/sim/state')).body
  assert.equal(st.groups.length, 2)
  assert.equal(st.groups.find((g) => g.jid === gjid).participants.length, 3)
  for (const s of sockets) { try { s.sock.end(undefined) } catch {} }
  sockets.length = 0
  await sim.stop()
  sim = await startSim(stateDir)
  const st2 = (await sim.api('GET', '/sim/state')).body
  assert.deepEqual(st2.groups.map((g) => [g.jid, g.subject, g.participants.length]),
    st.groups.map((g) => [g.jid, g.subject, g.participants.length]))
  const a2 = await login(sim, a1.state, a1.saveCreds)
  sockets.push(a2)
  const meta4 = await a2.sock.groupMetadata(gjid)
  assert.equal(meta4.subject, 'Phone group')
  const p3 = await sim.api('POST', `/sim/accounts/${B}/messages`, { to: gjid, text: 'after the restart' })
  assert.equal(p3.status, 201)
  await until(() => a2.upserts.find((m) => m.key.id === p3.body.id && textOf(m) === 'after the restart'), 'A decrypted after the restart')
})
