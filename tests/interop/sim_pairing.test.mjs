// tests/interop/sim_pairing.test.mjs - Baileys pairs with miaw-sim by QR: the simulator's
// root key pinned, the QR captured from connection.update and scanned through the control
// API, pair-success verified by Baileys, the 515 restart, login with <success>, pre-keys
// uploaded; then miaw-sim restarts from its state directory and the device logs in again.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { WA_CERT_DETAILS, useMultiFileAuthState, DisconnectReason } from '@whiskeysockets/baileys'
import { startSim, connect, tmpDir } from './sim_helpers.mjs'

const PHONE = '15550001111'

test('Baileys pairs with miaw-sim by QR, restarts on 515 and logs in', { timeout: 90000 }, async (t) => {
  const tmp = tmpDir('miaw-sim-pair-')
  const stateDir = path.join(tmp, 'state')
  const authDir = path.join(tmp, 'auth')
  let sim = await startSim(stateDir)
  const sockets = []
  t.after(async () => {
    for (const s of sockets) { try { s.end(undefined) } catch {} }
    await sim.stop().catch(() => {})
    fs.rmSync(tmp, { recursive: true, force: true })
  })

  // the control API: account, certificate root
  const created = await sim.api('POST', '/sim/accounts', { phone: PHONE, name: 'Sim Phone' })
  assert.equal(created.status, 201)
  assert.equal(created.body.jid, `${PHONE}@s.whatsapp.net`)
  assert.match(created.body.lid, /^\d{15}@lid$/)
  assert.equal((await sim.api('POST', '/sim/accounts', { phone: PHONE, name: 'again' })).status, 409)
  const cert = await sim.api('GET', '/sim/cert')
  assert.equal(cert.body.rootPublicKeyHex, sim.info.rootPublicKeyHex)
  assert.equal(Buffer.from(cert.body.rootPublicKeyBase64, 'base64').toString('hex'), cert.body.rootPublicKeyHex)

  // Baileys trusts the simulator's root instead of WhatsApp's
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(cert.body.rootPublicKeyHex, 'hex')
  const { state, saveCreds } = await useMultiFileAuthState(authDir)

  // 1. registration: Baileys shows a QR built from the simulator's refs
  const first = connect(sim.url, state, saveCreds)
  sockets.push(first.sock)
  const closed = first.waitFor((u) => u.connection === 'close', 'close with 515', 40000)
  const { qr } = await first.waitFor((u) => !!u.qr, 'QR from pair-device')
  assert.match(qr, /^https:\/\/wa\.me\/settings\/linked_devices#2@sim[0-9a-f]{32},/)

  // a QR the simulator does not know, and a malformed one, are refused
  const parts = qr.split(',')
  assert.equal((await sim.api('POST', `/sim/accounts/${PHONE}/scan`, { qr: ['2@simnope', ...parts.slice(1)].join(',') })).status, 404)
  assert.equal((await sim.api('POST', `/sim/accounts/${PHONE}/scan`, { qr: 'garbage' })).status, 400)
  assert.equal((await sim.api('POST', '/sim/accounts/19999999999/scan', { qr })).status, 404)

  // 2. the phone scans: pair-success, Baileys verifies the ADV identity and signs it
  const scan = await sim.api('POST', `/sim/accounts/${PHONE}/scan`, { qr })
  assert.equal(scan.status, 200, JSON.stringify(scan.body))
  assert.match(scan.body.deviceJid, new RegExp(`^${PHONE}:\\d+@s\\.whatsapp\\.net$`))
  assert.equal(scan.body.keyIndex, 1)
  assert.equal(state.creds.me.id, scan.body.deviceJid)
  assert.equal(state.creds.me.lid, scan.body.lid)
  assert.equal(state.creds.platform, 'android')
  // the account signature Baileys stored verifies under the phone's identity key
  const acc = (await sim.api('GET', '/sim/state')).body.accounts[0]
  assert.equal(Buffer.from(state.creds.account.accountSignatureKey).toString('hex'), acc.identityPub)

  // 3. the simulator asks for a restart (515) as WhatsApp does
  const close = await closed
  assert.equal(close.lastDisconnect?.error?.output?.statusCode, DisconnectReason.restartRequired)

  // 4. a new socket logs in with the same credentials and reaches "open"
  const second = connect(sim.url, state, saveCreds)
  sockets.push(second.sock)
  const backlogDone = second.waitFor((u) => u.receivedPendingNotifications === true, '<ib><offline/> handled')
  await second.waitFor((u) => u.connection === 'open', 'open after login')
  assert.equal(state.creds.me.lid.replace(/:\d+@/, '@'), created.body.lid)
  await backlogDone
  const st = (await sim.api('GET', '/sim/state')).body
  const dev = st.accounts[0].devices[0]
  assert.equal(dev.jid, scan.body.deviceJid)
  assert.equal(dev.online, true)
  assert.ok(dev.preKeys >= 5, `pre-keys stored: ${dev.preKeys}`)
  // Baileys' start-up queries (props, privacy, blocklist) are answered, not left to the
  // generic empty result
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.equal((await sim.api('GET', '/sim/state')).body.unknownIqs, 0)
  second.sock.end(undefined)

  // 5. miaw-sim restarts from its state directory; the device logs in again
  await sim.stop()
  sim = await startSim(stateDir)
  assert.equal(sim.info.rootPublicKeyHex, cert.body.rootPublicKeyHex)
  const third = connect(sim.url, state, saveCreds)
  sockets.push(third.sock)
  await third.waitFor((u) => u.connection === 'open', 'open after simulator restart')
  const st2 = (await sim.api('GET', '/sim/state')).body
  assert.equal(st2.accounts[0].devices[0].preKeys, dev.preKeys)
  third.sock.end(undefined)
})
