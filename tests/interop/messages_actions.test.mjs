// tests/interop/messages_actions.test.mjs - message actions and kinds between a miaw
// instance (account A) and Baileys 7.0.0-rc14 (account B) through miaw-sim. Baileys
// reacts, edits, deletes, sends a location and contact cards: miaw's webhooks
// (message_reaction, message_edit, message_delete; location / contacts in `message`) and
// its chat storage follow. miaw reacts, edits, deletes, forwards, sends a location,
// contact cards and mentions: Baileys' own events show them (messages.reaction,
// messages.update with the edit applied, the revoke stub, locationMessage, vCards,
// contextInfo). Baileys' receipts become message_ack delivery and read.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1, MIAW_BAILEYS_LOG=1, MIAW_LOG=1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { startSim, pairBaileys, until, textOf, tmpDir, sleep } from './sim_helpers.mjs'
import { startServer, waitFor } from '../integration/lib/harness.mjs'
import { startReceiver } from '../integration/lib/receiver.mjs'

const A = '15550007777' // the miaw instance's account
const B = '15550008888' // Baileys' account
const jidOf = (p) => `${p}@s.whatsapp.net`
const events = (rcv, type) => rcv.requests.map((r) => JSON.parse(r.body)).filter((b) => b.event === type)
const REVOKE_STUB = 1 // WAMessageStubType.REVOKE

test('miaw and Baileys: reactions, edits, deletions, locations, contact cards, forwards, acks', { timeout: 180000 }, async (t) => {
  const tmp = tmpDir('miaw-actions-')
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
  const status = async () => (await srv.api('GET', '/api/v1/instances/bot/status')).json.data.status
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201)
  assert.equal((await srv.api('POST', '/api/v1/instances/bot/connect')).status, 200)
  await waitFor(async () => (await status()) === 'qr', { what: 'qr', timeoutMs: 15000 })
  const qr = (await srv.api('GET', '/api/v1/instances/bot/qr')).json.data.qr
  const scan = await sim.api('POST', `/sim/accounts/${A}/scan`, { qr })
  assert.equal(scan.status, 200, JSON.stringify(scan.body))
  await waitFor(async () => (await status()) === 'connected', { what: 'miaw connected', timeoutMs: 15000 })
  await waitFor(async () => {
    const st = (await sim.api('GET', '/sim/state')).body
    const d = st.accounts.find((a) => a.phone === A).devices.find((x) => x.jid === scan.body.deviceJid)
    return d && d.preKeys > 0
  }, { what: 'miaw uploaded its pre-keys', timeoutMs: 10000 })

  const sentByB = new Map()
  const b = await pairBaileys(sim, B, path.join(tmp, 'baileys'), { getMessage: async (key) => sentByB.get(key.id) })
  ctx.socks.push(b)
  const reactions = []
  b.sock.ev.on('messages.reaction', (r) => reactions.push(...r))
  const bSend = async (content, opts) => {
    const m = await b.sock.sendMessage(jidOf(A), content, opts)
    sentByB.set(m.key.id, m.message)
    return m
  }
  const api = (method, p, body) => srv.api(method, `/api/v1/instances/bot${p}`, body)
  const ok = async (method, p, body) => {
    const r = await api(method, p, body)
    assert.equal(r.status, 200, r.text)
    return r.json.data
  }
  const webhook = async (type, pred, what) => {
    await rcv.waitFor(() => events(rcv, type).some((e) => pred(e.data)), 15000, what || type).catch(failLog)
    return events(rcv, type).find((e) => pred(e.data)).data
  }
  const row = (id) => {
    const out = execFileSync('sqlite3', ['-json', path.join(dataDir, 'miaw.db'),
      `SELECT text, status, edited_at FROM wa_messages WHERE instance='bot' AND id='${id}'`]).toString()
    return out.trim() ? JSON.parse(out)[0] : null
  }
  const upsert = (id, what) => until(() => b.upserts.find((m) => m.key.id === id), what, 15000).catch(failLog)

  // ---- first contact both ways
  const m1 = (await ok('POST', '/messages/text', { to: B, text: 'hello from miaw' })).messageId
  const up1 = await upsert(m1, 'Baileys got miaw\'s text')
  const s1 = await bSend({ text: 'typo from Baileys' })
  await webhook('message', (d) => d.id === s1.key.id)

  // ---- acks: server at once, delivery from Baileys' receipt, read after readMessages
  await webhook('message_ack', (d) => d.messageId === m1 && d.status === 'server')
  const del = await webhook('message_ack', (d) => d.messageId === m1 && d.status === 'delivery', 'delivery ack')
  assert.equal(del.from, jidOf(B))
  await b.sock.readMessages([up1.key])
  const rd = await webhook('message_ack', (d) => d.messageId === m1 && d.status === 'read', 'read ack')
  assert.equal(rd.chat, jidOf(B))

  // ---- Baileys -> miaw
  await bSend({ react: { text: '🔥', key: up1.key } })
  let d = await webhook('message_reaction', (x) => x.messageId === m1 && x.emoji === '🔥')
  assert.equal(d.from, jidOf(B))
  assert.equal(d.fromMe, false)
  await bSend({ react: { text: '', key: up1.key } })
  await webhook('message_reaction', (x) => x.messageId === m1 && x.emoji === '')

  await bSend({ text: 'fixed by Baileys', edit: s1.key })
  d = await webhook('message_edit', (x) => x.messageId === s1.key.id)
  assert.equal(d.text, 'fixed by Baileys')
  assert.equal(d.from, jidOf(B))
  await waitFor(() => row(s1.key.id)?.text === 'fixed by Baileys', { what: 'stored edit' })
  assert.ok(row(s1.key.id).edited_at > 0)

  await bSend({ delete: s1.key })
  d = await webhook('message_delete', (x) => x.messageId === s1.key.id)
  assert.equal(d.from, jidOf(B))
  await waitFor(() => row(s1.key.id)?.status === 'revoked', { what: 'stored revoke' })
  assert.equal(row(s1.key.id).text, null)

  const bl = await bSend({ location: { degreesLatitude: 24.121231, degreesLongitude: 55.1121221, name: 'Oasis', address: 'Desert Rd' } })
  d = await webhook('message', (x) => x.id === bl.key.id)
  assert.equal(d.type, 'location')
  assert.deepEqual(d.location, { latitude: 24.121231, longitude: 55.1121221, name: 'Oasis', address: 'Desert Rd' })

  const vcard = 'BEGIN:VCARD\nVERSION:3.0\nFN:Jeff Singh\nORG:Ashoka Uni;\nTEL;type=CELL;type=VOICE;waid=911234567890:+91 12345 67890\nEND:VCARD'
  const bc = await bSend({ contacts: { displayName: 'Jeff', contacts: [{ vcard }] } })
  d = await webhook('message', (x) => x.id === bc.key.id)
  assert.equal(d.type, 'contact')
  assert.equal(d.contacts.length, 1)
  assert.equal(d.contacts[0].vcard, vcard)
  const bcs = await bSend({ contacts: { displayName: '2 contacts', contacts: [{ vcard }, { vcard: vcard.replace('Jeff', 'Ann') }] } })
  d = await webhook('message', (x) => x.id === bcs.key.id)
  assert.equal(d.type, 'contact')
  assert.equal(d.contacts.length, 2)
  assert.match(d.contacts[1].vcard, /FN:Ann Singh/)

  // ---- miaw -> Baileys
  const s2 = await bSend({ text: 'react to this' })
  await webhook('message', (x) => x.id === s2.key.id)
  await ok('POST', `/messages/${s2.key.id}/reaction`, { emoji: '👍' })
  const rx = await until(() => reactions.find((r) => r.key.id === s2.key.id), 'Baileys messages.reaction').catch(failLog)
  assert.equal(rx.reaction.text, '👍')
  assert.equal(rx.key.fromMe, true, 'from Baileys\' side the message reacted to is its own')

  const m2 = (await ok('POST', '/messages/text', { to: B, text: 'miaw typo' })).messageId
  await upsert(m2, 'Baileys got the text to edit')
  await ok('POST', `/messages/${m2}`, { text: 'miaw fixed' })
  const ed = await until(() => b.updates.find((u) => u.key.id === m2 && u.update?.message?.editedMessage), 'Baileys applied the edit').catch(failLog)
  const edited = ed.update.message.editedMessage.message
  assert.equal(edited.conversation ?? edited.extendedTextMessage?.text, 'miaw fixed')
  await waitFor(() => row(m2)?.text === 'miaw fixed', { what: 'own edit stored' })

  await ok('DELETE', `/messages/${m2}`)
  const rv = await until(() => b.updates.find((u) => u.key.id === m2 && u.update?.messageStubType === REVOKE_STUB), 'Baileys saw the revoke').catch(failLog)
  assert.equal(rv.update.message, null)
  await waitFor(() => row(m2)?.status === 'revoked', { what: 'own revoke stored' })

  const ml = (await ok('POST', '/messages/location', { to: B, latitude: -33.8568, longitude: 151.2153, name: 'Opera House', address: 'Sydney' })).messageId
  const ul = await upsert(ml, 'Baileys got the location')
  assert.equal(ul.message.locationMessage.degreesLatitude, -33.8568)
  assert.equal(ul.message.locationMessage.degreesLongitude, 151.2153)
  assert.equal(ul.message.locationMessage.name, 'Opera House')
  assert.equal(ul.message.locationMessage.address, 'Sydney')

  const mc = (await ok('POST', '/messages/contact', { to: B, contacts: [{ name: 'John Doe', phone: '+62 812-3456-7890', org: 'Acme' }] })).messageId
  const uc = await upsert(mc, 'Baileys got the card')
  assert.equal(uc.message.contactMessage.displayName, 'John Doe')
  assert.match(uc.message.contactMessage.vcard, /^BEGIN:VCARD\r\nVERSION:3\.0\r\n/)
  assert.match(uc.message.contactMessage.vcard, /\r\nTEL;type=CELL;type=VOICE;waid=6281234567890:\+6281234567890\r\n/)
  const mcs = (await ok('POST', '/messages/contact', { to: B, contacts: [{ name: 'Ann', phone: A }, { name: 'Ben', phone: B }] })).messageId
  const ucs = await upsert(mcs, 'Baileys got the cards')
  assert.deepEqual(ucs.message.contactsArrayMessage.contacts.map((c) => c.displayName), ['Ann', 'Ben'])

  const mf = (await ok('POST', `/messages/${bl.key.id}/forward`, { to: B })).messageId
  const uf = await upsert(mf, 'Baileys got the forward')
  assert.equal(uf.message.locationMessage.name, 'Oasis')
  assert.equal(uf.message.locationMessage.contextInfo.isForwarded, true)
  assert.equal(uf.message.locationMessage.contextInfo.forwardingScore, 1)

  const mm = (await ok('POST', '/messages/text', { to: B, text: `hey @${B}`, mentions: [B] })).messageId
  const um = await upsert(mm, 'Baileys got the mention')
  assert.equal(textOf(um), `hey @${B}`)
  assert.deepEqual(um.message.extendedTextMessage.contextInfo.mentionedJid, [jidOf(B)])

  await sleep(300)
  assert.doesNotMatch(srv.logs(), /Sanitizer|runtime error/)
})
