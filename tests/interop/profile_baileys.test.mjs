// tests/interop/profile_baileys.test.mjs - miaw's profile as Baileys 7.0.0-rc14 sees it,
// and Baileys' as miaw sees it, through miaw-sim: a `miaw serve` instance on account A sets
// its about text (PATCH /profile/status) and picture (POST /profile/picture, a PNG made
// into WhatsApp's 640 and 96 px JPEGs); Baileys on account B reads them with fetchStatus
// and profilePictureUrl (image and preview, downloaded: 640x640 and 96x96 JPEGs); Baileys
// sees miaw's push name (PATCH /profile/name) on miaw's next message; Baileys
// sets its own about text (updateProfileStatus) and miaw reads it with GET /contacts/{jid};
// miaw checks B's number (contacts/check) as Baileys checks A's (onWhatsApp), and miaw's
// block list change reaches the simulator as Baileys' fetchBlocklist format expects.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1, MIAW_BAILEYS_LOG=1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startSim, pairBaileys, tmpDir } from './sim_helpers.mjs'
import { startServer, waitFor } from '../integration/lib/harness.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const PNG = fs.readFileSync(path.join(here, '../integration/fixtures/media/img.png'))
const A = '15550006661' // miaw
const B = '15550006662' // Baileys
const jid = (p) => `${p}@s.whatsapp.net`

function jpegSize (b) {
  assert.equal(b.readUInt16BE(0), 0xffd8, 'a JPEG')
  for (let i = 2; i + 9 < b.length;) {
    const m = b.readUInt16BE(i)
    if (m >= 0xffc0 && m <= 0xffc2) return [b.readUInt16BE(i + 7), b.readUInt16BE(i + 5)]
    i += 2 + b.readUInt16BE(i + 2)
  }
  throw new Error('no SOF marker')
}

test('Baileys sees the about text and picture miaw sets, and miaw sees Baileys\'', { timeout: 120000 }, async (t) => {
  const tmp = tmpDir('miaw-profile-baileys-')
  const sim = await startSim(path.join(tmp, 'sim'))
  const ctx = { srv: null, sock: null }
  t.after(async () => {
    try { ctx.sock?.end(undefined) } catch {}
    await ctx.srv?.stop().catch(() => {})
    await sim.stop().catch(() => {})
    fs.rmSync(tmp, { recursive: true, force: true })
  })
  for (const p of [A, B]) assert.equal((await sim.api('POST', '/sim/accounts', { phone: p })).status, 201)
  const dataDir = path.join(tmp, 'miaw')
  fs.mkdirSync(dataDir)
  ctx.srv = await startServer({
    dataDir, plugins: ['contacts', 'profile', 'messages'],
    env: { WA_WS_URL: sim.info.ws, WA_ROOT_KEY: sim.info.rootPublicKeyHex, MIAW_WA_PREKEYS: '40' }
  })
  const srv = ctx.srv
  const I = '/api/v1/instances/bot'
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201)
  assert.equal((await srv.api('POST', `${I}/connect`)).status, 200)
  const st = async () => (await srv.api('GET', `${I}/status`)).json.data.status
  await waitFor(async () => (await st()) === 'qr', { what: 'qr', timeoutMs: 15000 })
  const qr = (await srv.api('GET', `${I}/qr`)).json.data.qr
  assert.equal((await sim.api('POST', `/sim/accounts/${A}/scan`, { qr })).status, 200)
  await waitFor(async () => (await st()) === 'connected', { what: 'connected', timeoutMs: 15000 })
  const { sock } = await pairBaileys(sim, B, path.join(tmp, 'baileys'))
  ctx.sock = sock

  // miaw's about text, read by Baileys
  let r = await srv.api('PATCH', `${I}/profile/status`, { status: 'miaw here ✓' })
  assert.equal(r.status, 200, r.text)
  const [s] = await sock.fetchStatus(jid(A))
  assert.equal(s.id, jid(A))
  assert.equal(s.status.status, 'miaw here ✓')
  assert.ok(s.status.setAt instanceof Date)

  // miaw's picture, read and downloaded by Baileys
  r = await srv.api('POST', `${I}/profile/picture`, { image: PNG.toString('base64') })
  assert.equal(r.status, 200, r.text)
  const url = await sock.profilePictureUrl(jid(A), 'image')
  assert.ok(url, 'Baileys gets a URL')
  assert.deepEqual(jpegSize(Buffer.from(await (await fetch(url)).arrayBuffer())), [640, 640])
  const purl = await sock.profilePictureUrl(jid(A), 'preview')
  assert.deepEqual(jpegSize(Buffer.from(await (await fetch(purl)).arrayBuffer())), [96, 96])
  assert.equal((await srv.api('DELETE', `${I}/profile/picture`)).status, 200)
  await assert.rejects(sock.profilePictureUrl(jid(A), 'image'), 'no picture any more: Baileys gets the 404')

  // miaw's push name: Baileys sees it on miaw's next message (the presence name)
  const got = []
  sock.ev.on('messages.upsert', ({ messages }) => { for (const m of messages) got.push(m) })
  r = await srv.api('PATCH', `${I}/profile/name`, { name: 'Miaw Interop' })
  assert.equal(r.status, 200, r.text)
  assert.equal(r.json.data.name, 'Miaw Interop')
  r = await srv.api('POST', `${I}/messages/text`, { to: B, text: 'named' })
  assert.equal(r.status, 200, r.text)
  const mid = r.json.data.messageId
  await waitFor(() => got.some((m) => m.key.id === mid), { what: 'Baileys got the message', timeoutMs: 15000 })
  assert.equal(got.find((m) => m.key.id === mid).pushName, 'Miaw Interop')

  // Baileys' about text, read by miaw; both check each other's number
  await sock.updateProfileStatus('baileys here')
  r = await srv.api('GET', `${I}/contacts/${B}`)
  assert.equal(r.status, 200, r.text)
  assert.equal(r.json.data.about, 'baileys here')
  r = await srv.api('POST', `${I}/contacts/check`, { phone: B })
  assert.equal(r.json.data.exists, true)
  const [w] = await sock.onWhatsApp(A)
  assert.equal(w.exists, true)

  // miaw blocks B: the simulator's list, in the shape Baileys' fetchBlocklist reads
  assert.equal((await srv.api('POST', `${I}/contacts/${B}/block`)).status, 200)
  r = await srv.api('GET', `${I}/contacts/blocklist`)
  assert.deepEqual(r.json.data.blocklist.map((x) => x.jid), [jid(B)])
  // blocked: B no longer sees A's about text
  const [hidden] = await sock.fetchStatus(jid(A))
  assert.equal(hidden.status.status, '')
})
