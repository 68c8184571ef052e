// tests/interop/sim_wire.test.mjs - miaw-sim against hostile or unexpected input on its
// WebSocket: a wrong intro, random bytes, a garbage ClientFinish, a login for a device it
// does not know (<failure reason="401">), a tampered transport frame, an unknown IQ (empty
// result) and a ping; the simulator must stay up and keep answering the control API.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import {
  makeNoiseHandler, NOISE_WA_HEADER, WA_CERT_DETAILS, Curve, proto, encodeBinaryNode,
  initAuthCreds, generateLoginNode, generateRegistrationNode, DEFAULT_CONNECTION_CONFIG
} from '@whiskeysockets/baileys'

const here = path.dirname(fileURLToPath(import.meta.url))
const buildDir = path.resolve(here, '..', '..', process.env.MIAW_BUILD_DIR || 'build')
const quietLogger = {
  level: 'silent',
  child () { return this },
  trace () {}, debug () {}, info () {}, warn () {}, error () {}, fatal () {}
}
const withTimeout = (p, ms, what) => Promise.race([
  p, new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref())
])

async function startSim () {
  const proc = spawn(path.join(buildDir, 'miaw-sim'), ['--listen', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', process.env.MIAW_SIM_LOG ? 'inherit' : 'ignore'] })
  const exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve(code ?? sig)))
  const line = await withTimeout(new Promise((resolve) => readline.createInterface({ input: proc.stdout }).once('line', resolve)), 10000, 'start')
  return { proc, exited, info: JSON.parse(line) }
}

// a raw WebSocket with a queue of binary messages and a close promise
async function openWs (url) {
  const ws = new WebSocket(url)
  const msgs = []
  const waiters = []
  ws.on('message', (d) => { if (waiters.length) waiters.shift()(d); else msgs.push(d) })
  const closed = new Promise((resolve) => ws.on('close', (code) => { resolve(code); while (waiters.length) waiters.shift()(null) }))
  await withTimeout(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) }), 5000, 'ws open')
  const next = () => msgs.length ? Promise.resolve(msgs.shift()) : new Promise((resolve) => waiters.push(resolve))
  return { ws, next, closed }
}

// handshake as Baileys does it; returns helpers for transport frames
async function handshake (url, clientPayload) {
  const c = await openWs(url)
  const eph = Curve.generateKeyPair()
  const creds = initAuthCreds()
  const noise = makeNoiseHandler({ keyPair: eph, NOISE_HEADER: NOISE_WA_HEADER, logger: quietLogger })
  const frames = []
  const waiters = []
  const feed = async () => {
    for (;;) {
      const d = await c.next()
      if (d === null) { while (waiters.length) waiters.shift()(null); return }
      await noise.decodeFrame(d, (f) => { if (waiters.length) waiters.shift()(f); else frames.push(f) })
    }
  }
  feed()
  const nextFrame = () => withTimeout(frames.length ? Promise.resolve(frames.shift()) : new Promise((resolve) => waiters.push(resolve)), 5000, 'frame')
  c.ws.send(noise.encodeFrame(proto.HandshakeMessage.encode({ clientHello: { ephemeral: eph.public } }).finish()))
  const hello = proto.HandshakeMessage.decode(await nextFrame())
  const keyEnc = await noise.processHandshake(hello, creds.noiseKey)
  const payload = proto.ClientPayload.encode(clientPayload(creds)).finish()
  c.ws.send(noise.encodeFrame(proto.HandshakeMessage.encode({ clientFinish: { static: keyEnc, payload: noise.encrypt(payload) } }).finish()))
  await noise.finishInit()
  return { ...c, noise, nextFrame, send: (node) => c.ws.send(noise.encodeFrame(encodeBinaryNode(node))) }
}

test('miaw-sim survives garbage on the wire and answers unknown logins with 401', { timeout: 60000 }, async (t) => {
  const sim = await startSim()
  t.after(async () => { if (sim.proc.exitCode === null) sim.proc.kill('SIGTERM'); await sim.exited })
  const url = sim.info.ws
  const alive = async () => {
    const r = await fetch(`http://127.0.0.1:${sim.info.port}/sim/state`)
    assert.equal(r.status, 200)
    return r.json()
  }
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(sim.info.rootPublicKeyHex, 'hex')

  // wrong intro, then random bytes, then a length beyond anything reasonable
  for (const junk of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), crypto.randomBytes(4096),
    Buffer.concat([Buffer.from(NOISE_WA_HEADER), Buffer.from([0xff, 0xff, 0xff])]),
    Buffer.concat([Buffer.from(NOISE_WA_HEADER), Buffer.from([0, 0, 5]), crypto.randomBytes(5)])]) {
    const c = await openWs(url)
    c.ws.send(junk)
    const code = await withTimeout(c.closed, 8000, 'server closes on junk')
    assert.ok(code === 1000 || code === 1005 || code === 1006, `close code ${code}`)
    await alive()
  }
  // a proper ClientHello, then a ClientFinish that is random bytes
  {
    const c = await openWs(url)
    const eph = Curve.generateKeyPair()
    const noise = makeNoiseHandler({ keyPair: eph, NOISE_HEADER: NOISE_WA_HEADER, logger: quietLogger })
    c.ws.send(noise.encodeFrame(proto.HandshakeMessage.encode({ clientHello: { ephemeral: eph.public } }).finish()))
    assert.ok(await withTimeout(c.next(), 5000, 'server hello'))
    c.ws.send(noise.encodeFrame(crypto.randomBytes(120)))
    await withTimeout(c.closed, 8000, 'close after garbage ClientFinish')
    await alive()
  }
  // a text message is ignored, not fatal
  {
    const c = await openWs(url)
    c.ws.send('hello')
    c.ws.close()
    await c.closed
  }

  // a well-formed login for a device the simulator never paired
  const login = () => generateLoginNode('15550009999:3@s.whatsapp.net', { ...DEFAULT_CONNECTION_CONFIG, countryCode: 'US' })
  const c = await handshake(url, login)
  const fail = await c.nextFrame()
  assert.equal(fail.tag, 'failure')
  assert.equal(fail.attrs.reason, '401')
  await withTimeout(c.closed, 5000, 'close after failure')

  // a registration, then an unknown IQ, a ping and finally a tampered frame
  const reg = await handshake(url, (creds) => generateRegistrationNode(creds, { ...DEFAULT_CONNECTION_CONFIG, countryCode: 'US' }))
  const pd = await reg.nextFrame()
  assert.equal(pd.tag, 'iq')
  assert.equal(pd.content[0].tag, 'pair-device')
  assert.equal(pd.content[0].content.filter((n) => n.tag === 'ref').length, 6)
  reg.send({ tag: 'iq', attrs: { id: 'u1', to: '@s.whatsapp.net', type: 'get', xmlns: 'w:nonexistent' }, content: [{ tag: 'whatever', attrs: {} }] })
  const empty = await reg.nextFrame()
  assert.deepEqual([empty.tag, empty.attrs.id, empty.attrs.type, empty.content], ['iq', 'u1', 'result', undefined])
  reg.send({ tag: 'iq', attrs: { id: 'p1', to: '@s.whatsapp.net', type: 'get', xmlns: 'w:p' }, content: [{ tag: 'ping', attrs: {} }] })
  assert.equal((await reg.nextFrame()).attrs.id, 'p1')
  const bad = Buffer.from(reg.noise.encodeFrame(encodeBinaryNode({ tag: 'presence', attrs: { type: 'available' } })))
  bad[bad.length - 1] ^= 1
  reg.ws.send(bad)
  await withTimeout(reg.closed, 8000, 'close after tampered frame')
  const st = await alive()
  assert.equal(st.unknownIqs, 1)
})
