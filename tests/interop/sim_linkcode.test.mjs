// tests/interop/sim_linkcode.test.mjs - Baileys pairs with miaw-sim by phone-number code:
// requestPairingCode(phone) sends companion_hello, the simulated phone's user types the
// code through the control API (a wrong code first: refused, Baileys keeps waiting), the
// phone's link_code_companion_reg notification, Baileys' companion_finish with its key
// bundle opened by the simulator, pair-success under the derived adv secret, the 515
// restart and login to connection 'open'. This proves the simulator's primary side
// against an independent client. Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { WA_CERT_DETAILS, useMultiFileAuthState, DisconnectReason } from '@whiskeysockets/baileys'
import { startSim, connect, login, tmpDir, until } from './sim_helpers.mjs'

const PHONE = '15550003333'

// a code of the same alphabet that differs from `code` in its first character
const otherCode = (code) => (code[0] === 'A' ? 'B' : 'A') + code.slice(1)

test('Baileys pairs with miaw-sim by phone-number code, restarts on 515 and logs in', { timeout: 90000 }, async (t) => {
  const tmp = tmpDir('miaw-sim-lc-')
  const sim = await startSim()
  const sockets = []
  t.after(async () => {
    for (const s of sockets) { try { s.end(undefined) } catch {} }
    await sim.stop().catch(() => {})
    fs.rmSync(tmp, { recursive: true, force: true })
  })
  assert.equal((await sim.api('POST', '/sim/accounts', { phone: PHONE, name: 'Code Phone' })).status, 201)
  assert.equal((await sim.api('POST', '/sim/accounts', { phone: '15550004444', name: 'Other' })).status, 201)
  const cert = await sim.api('GET', '/sim/cert')
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(cert.body.rootPublicKeyHex, 'hex')
  const { state, saveCreds } = await useMultiFileAuthState(path.join(tmp, 'auth'))

  // nobody asked for a code yet
  assert.equal((await sim.api('POST', `/sim/accounts/${PHONE}/link-code`, { code: 'ABCD-EFGH' })).status, 404)

  // 1. registration connection; once the QR refs arrived, ask for a code
  const first = connect(sim.url, state, saveCreds)
  sockets.push(first.sock)
  const closed = first.waitFor((u) => u.connection === 'close', 'close with 515', 60000)
  await first.waitFor((u) => !!u.qr, 'QR from pair-device')
  const code = await first.sock.requestPairingCode(PHONE)
  assert.match(code, /^[1-9A-HJ-NP-TV-Z]{8}$/)

  // bad input to the control API
  const lc = (body, phone = PHONE) => sim.api('POST', `/sim/accounts/${phone}/link-code`, body)
  let r = await lc({ code: 'nope' })
  assert.equal(r.status, 400)
  assert.equal(r.body.error.field, 'code')
  assert.equal((await lc({})).status, 400)
  assert.equal((await lc({ code }, '19999999999')).status, 404, 'unknown account')
  // the companion asked for PHONE, not for this account
  assert.equal((await lc({ code }, '15550004444')).status, 404)

  // 2. a wrong code: the key bundle Baileys sends back does not open; refused
  r = await until(async () => {
    const x = await lc({ code: otherCode(code) })
    return x.status === 404 ? null : x // until the simulator has seen companion_hello
  }, 'companion_hello reached the simulator', 10000)
  assert.equal(r.status, 400, JSON.stringify(r.body))
  assert.equal(r.body.error.field, 'code')
  assert.match(r.body.error.message, /wrong code/)
  assert.equal(state.creds.registered, false)

  // 3. the right code (typed as the phone shows it, with the dash): pair-success
  r = await lc({ code: `${code.slice(0, 4)}-${code.slice(4)}` })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  assert.match(r.body.deviceJid, new RegExp(`^${PHONE}:\\d+@s\\.whatsapp\\.net$`))
  assert.equal(state.creds.me.id, r.body.deviceJid)
  assert.equal(state.creds.me.lid, r.body.lid)
  const acc = (await sim.api('GET', '/sim/state')).body.accounts.find((a) => a.phone === PHONE)
  assert.equal(Buffer.from(state.creds.account.accountSignatureKey).toString('hex'), acc.identityPub)
  await until(() => state.creds.registered === true, 'Baileys marks itself registered', 5000)

  // 4. restart (515) and login to 'open'
  const close = await closed
  assert.equal(close.lastDisconnect?.error?.output?.statusCode, DisconnectReason.restartRequired)
  const second = await login(sim, state, saveCreds)
  sockets.push(second.sock)
  const st = (await sim.api('GET', '/sim/state')).body.accounts.find((a) => a.phone === PHONE)
  assert.equal(st.devices.length, 1)
  assert.equal(st.devices[0].jid, r.body.deviceJid)
  assert.equal(st.devices[0].online, true)
  // once paired, the code is spent
  assert.equal((await lc({ code })).status, 404)
  second.sock.end(undefined)
})
