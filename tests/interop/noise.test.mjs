// tests/interop/noise.test.mjs - Baileys' client-side Noise handler against miaw's C server
// role (tests/tools/noise_server.c) over a 127.0.0.1 socket: handshake with our certificate
// chain, Baileys' real registration ClientPayload decoded by the C side, binary-node frames
// both ways, the ED routing prefix, and a tampered frame refused.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import {
  makeNoiseHandler, NOISE_WA_HEADER, WA_CERT_DETAILS, Curve, proto, encodeBinaryNode,
  initAuthCreds, generateRegistrationNode, DEFAULT_CONNECTION_CONFIG
} from '@whiskeysockets/baileys'

const { curve } = createRequire(import.meta.url)('libsignal')
const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '..', '..')
const buildDir = path.resolve(repo, process.env.MIAW_BUILD_DIR || 'build')
const tool = (name) => path.join(buildDir, 'tools', name)

const quietLogger = {
  level: 'silent',
  child () { return this },
  trace () {}, debug () {}, info () {}, warn () {}, error () {}, fatal () {}
}

// starts the C server; returns {proc, events: async iterator of JSON lines, first}
async function startServer (firstHex) {
  const proc = spawn(tool('noise_server'), firstHex ? [firstHex] : [], { stdio: ['ignore', 'pipe', 'inherit'] })
  const rl = readline.createInterface({ input: proc.stdout })
  const queue = []
  const waiters = []
  rl.on('line', (l) => {
    const ev = JSON.parse(l)
    if (waiters.length) waiters.shift()(ev); else queue.push(ev)
  })
  rl.on('close', () => { while (waiters.length) waiters.shift()({ event: 'closed' }) })
  const next = () => queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiters.push(resolve))
  const listening = await next()
  assert.equal(listening.event, 'listening')
  const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)))
  return { proc, next, listening, exited }
}

// a Baileys-side client on a raw socket: returns helpers to send nodes and await frames
async function connectBaileys (port, { routingInfo } = {}) {
  const sock = net.connect(port, '127.0.0.1')
  await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject) })
  const ephemeral = Curve.generateKeyPair()
  const creds = initAuthCreds()
  const noise = makeNoiseHandler({ keyPair: ephemeral, NOISE_HEADER: NOISE_WA_HEADER, logger: quietLogger, routingInfo })
  const frames = []
  const waiters = []
  let closed = false
  sock.on('data', (d) => noise.decodeFrame(d, (f) => {
    if (waiters.length) waiters.shift()(f); else frames.push(f)
  }))
  sock.on('close', () => { closed = true; while (waiters.length) waiters.shift()(null) })
  const nextFrame = () => frames.length ? Promise.resolve(frames.shift())
    : closed ? Promise.resolve(null) : new Promise((resolve) => waiters.push(resolve))

  sock.write(noise.encodeFrame(proto.HandshakeMessage.encode({ clientHello: { ephemeral: ephemeral.public } }).finish()))
  const hello = proto.HandshakeMessage.decode(await nextFrame())
  const keyEnc = noise.processHandshake(hello, creds.noiseKey)
  const config = { ...DEFAULT_CONNECTION_CONFIG, browser: ['Ubuntu', 'Chrome', '22.04'], syncFullHistory: false, countryCode: 'US' }
  const payloadObj = generateRegistrationNode(creds, config)
  const payload = proto.ClientPayload.encode(payloadObj).finish()
  sock.write(noise.encodeFrame(proto.HandshakeMessage.encode({
    clientFinish: { static: keyEnc, payload: noise.encrypt(payload) }
  }).finish()))
  await noise.finishInit()
  return { sock, noise, creds, payload, nextFrame, hello }
}

test('Baileys completes a handshake with the C server and frames flow both ways', async () => {
  // <iq id="1.23-4" xmlns="w:p" type="get" to=s.whatsapp.net><ping/></iq> from the fact sheet
  const ping = '00f80a1908ff031b23a416570429 11fa0003f801f80156'.replace(/ /g, '')
  const srv = await startServer(ping)
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(srv.listening.root, 'hex')
  const c = await connectBaileys(srv.listening.port)

  const hs = await srv.next()
  assert.equal(hs.event, 'handshake')
  assert.equal(hs.client_static, Buffer.from(c.creds.noiseKey.public).toString('hex'))
  assert.equal(hs.payload, Buffer.from(c.payload).toString('hex'))
  assert.equal(hs.routing, '')

  // the C side decodes Baileys' registration payload with our own .proto subset
  const dec = spawnSync(tool('proto_codec'), ['decode', 'ClientPayload'], { input: Buffer.from(hs.payload, 'hex') })
  assert.equal(dec.status, 0, dec.stderr?.toString())
  const fromC = JSON.parse(dec.stdout.toString())
  const fromJs = proto.ClientPayload.toObject(proto.ClientPayload.decode(c.payload), { longs: String, bytes: String, enums: Number })
  assert.deepEqual(fromC, JSON.parse(JSON.stringify(fromJs)))
  assert.equal(fromC.userAgent.platform, 14)
  assert.equal(Buffer.from(fromC.devicePairingData.eIdent, 'base64').toString('hex'),
    Buffer.from(c.creds.signedIdentityKey.public).toString('hex'))

  // server-originated frame: decrypted and decoded by Baileys
  const first = await c.nextFrame()
  assert.equal(first.tag, 'iq')
  assert.deepEqual(first.attrs, { id: '1.23-4', xmlns: 'w:p', type: 'get', to: '@s.whatsapp.net' })
  assert.equal(first.content[0].tag, 'ping')

  // client frames: the server decrypts, reports and echoes each one re-encrypted
  const nodes = [
    { tag: 'iq', attrs: { id: 'a1', to: '@s.whatsapp.net', type: 'get', xmlns: 'w:p' }, content: [{ tag: 'ping', attrs: {} }] },
    { tag: 'presence', attrs: { type: 'available', name: 'miaw' } },
    { tag: 'message', attrs: { id: '3EB0A1B2C3', to: '15551234567@s.whatsapp.net', type: 'text' }, content: [{ tag: 'enc', attrs: { v: '2', type: 'msg' }, content: Buffer.alloc(3000, 7) }] }
  ]
  for (let i = 0; i < 20; i++) {
    const node = nodes[i % nodes.length]
    const bin = encodeBinaryNode(node)
    c.sock.write(c.noise.encodeFrame(bin))
    const ev = await srv.next()
    assert.equal(ev.event, 'frame')
    assert.equal(ev.n, i)
    assert.equal(ev.plaintext, Buffer.from(bin).toString('hex'))
    const echoed = await c.nextFrame()
    assert.equal(echoed.tag, node.tag)
    assert.deepEqual(echoed.attrs, node.attrs)
  }
  // several frames in one TCP write
  const burst = Buffer.concat([0, 1, 2].map((i) => c.noise.encodeFrame(encodeBinaryNode(nodes[i]))))
  c.sock.write(burst)
  for (let i = 0; i < 3; i++) {
    const ev = await srv.next()
    assert.equal(ev.n, 20 + i)
    assert.equal((await c.nextFrame()).tag, nodes[i].tag)
  }
  c.sock.end()
  assert.equal((await srv.next()).event, 'eof')
  assert.equal(await srv.exited, 0)
})

test('the C server accepts the ED routing prefix and refuses a tampered frame', async () => {
  const srv = await startServer()
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(srv.listening.root, 'hex')
  const routingInfo = Buffer.from('0801120a0b0c0d', 'hex')
  const c = await connectBaileys(srv.listening.port, { routingInfo })
  const hs = await srv.next()
  assert.equal(hs.event, 'handshake')
  assert.equal(hs.routing, routingInfo.toString('hex'))

  const good = c.noise.encodeFrame(encodeBinaryNode({ tag: 'presence', attrs: { type: 'available' } }))
  c.sock.write(good)
  assert.equal((await srv.next()).event, 'frame')
  assert.equal((await c.nextFrame()).tag, 'presence')

  const bad = Buffer.from(c.noise.encodeFrame(encodeBinaryNode({ tag: 'presence', attrs: { type: 'unavailable' } })))
  bad[5] ^= 0x01 // inside the ciphertext, after the 3-byte length
  c.sock.write(bad)
  const ev = await srv.next()
  assert.deepEqual(ev, { event: 'decrypt_failed', n: 1 })
  assert.equal(await c.nextFrame(), null) // server closed the connection
  assert.equal(await srv.exited, 0)
})

test('our certificate chain verifies under the npm libsignal XEdDSA code Baileys uses', async () => {
  // Baileys ignores the result of its own signature checks (see the toolchain notes), so
  // the signatures are checked here directly with libsignal's curve.verifySignature.
  const srv = await startServer()
  srv.proc.kill()
  await srv.exited
  const { root, server_static: serverStatic, chain } = srv.listening
  const cc = proto.CertChain.decode(Buffer.from(chain, 'hex'))
  const D = proto.CertChain.NoiseCertificate.Details
  const inter = D.decode(cc.intermediate.details)
  const leaf = D.decode(cc.leaf.details)
  assert.equal(inter.issuerSerial, WA_CERT_DETAILS.SERIAL) // what Baileys requires (0)
  assert.equal(leaf.issuerSerial, inter.serial)
  assert.equal(Buffer.from(leaf.key).toString('hex'), serverStatic)
  const now = Math.floor(Date.now() / 1000)
  for (const d of [inter, leaf]) assert.ok(Number(d.notBefore) <= now && now <= Number(d.notAfter))
  const pub = (k) => Buffer.concat([Buffer.from([5]), Buffer.from(k)])
  assert.equal(curve.verifySignature(pub(Buffer.from(root, 'hex')), Buffer.from(cc.intermediate.details), Buffer.from(cc.intermediate.signature)), true)
  assert.equal(curve.verifySignature(pub(inter.key), Buffer.from(cc.leaf.details), Buffer.from(cc.leaf.signature)), true)
  // and a wrong key or altered details do not verify
  assert.equal(curve.verifySignature(pub(inter.key), Buffer.from(cc.intermediate.details), Buffer.from(cc.intermediate.signature)), false)
  const altered = Buffer.from(cc.leaf.details); altered[altered.length - 1] ^= 1
  assert.equal(curve.verifySignature(pub(inter.key), altered, Buffer.from(cc.leaf.signature)), false)
})
