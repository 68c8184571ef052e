// tests/interop/sim_media.test.mjs - media through miaw-sim's HTTPS media host with
// Baileys as the independent client: Baileys asks media_conn, uploads an encrypted image
// and a document and sends them to a simulated phone, which fetches, checks (hashes,
// MAC, length) and decrypts them to the same bytes (its own phone checks the DSM copy);
// the phone sends an image and a document that Baileys downloads and decrypts with
// downloadMediaMessage to the same bytes. Also: the CA is kept in the state directory
// across restarts, uploads without a valid auth token or with a token that is not the
// body's hash are refused, a wrong oh signature is a 404, byte ranges work.
//
// Baileys downloads with Node's global fetch, which only trusts extra CAs given in
// NODE_EXTRA_CA_CERTS at process start. So the test first starts the simulator once
// (it makes its CA in the state directory), then runs the rest of this file in a child
// Node process with NODE_EXTRA_CA_CERTS pointing at that CA.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1, MIAW_BAILEYS_LOG=1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import https from 'node:https'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import { downloadMediaMessage } from '@whiskeysockets/baileys'
import { startSim, pairBaileys, until, tmpDir, withTimeout, quietLogger } from './sim_helpers.mjs'

const A = '15550004444'
const B = '15550005555'
const jidOf = (p) => `${p}@s.whatsapp.net`
const sha = (b) => crypto.createHash('sha256').update(b).digest('base64')
const b64url = (b) => crypto.createHash('sha256').update(b).digest('base64url')
const phoneMessage = async (sim, phone, id) =>
  (await sim.api('GET', `/sim/accounts/${phone}/messages`)).body.messages.find((m) => m.id === id)

if (!process.env.MIAW_SIM_MEDIA_CHILD) {
  test('media through miaw-sim (Baileys trusting the simulator\'s CA)', { timeout: 150000 }, async (t) => {
    const tmp = tmpDir('miaw-sim-media-')
    t.after(() => fs.rmSync(tmp, { recursive: true, force: true }))
    const state = path.join(tmp, 'state')
    const sim = await startSim(state)
    let pem
    try {
      assert.match(sim.info.mediaHost, /^127\.0\.0\.1:\d+$/)
      const r = await fetch(`http://127.0.0.1:${sim.info.port}/sim/media-ca`)
      assert.equal(r.status, 200)
      assert.equal(r.headers.get('content-type'), 'application/x-pem-file')
      pem = await r.text()
      assert.match(pem, /^-----BEGIN CERTIFICATE-----\n/)
    } finally {
      await sim.stop()
    }
    assert.equal(fs.readFileSync(path.join(state, 'media-ca.pem'), 'utf8'), pem)
    assert.equal(fs.statSync(path.join(state, 'media-ca.key')).mode & 0o777, 0o600)
    const caFile = path.join(tmp, 'media-ca.pem')
    fs.writeFileSync(caFile, pem)
    // the child runs this file as a plain script (not under this runner's protocol)
    const env = { ...process.env }
    delete env.NODE_TEST_CONTEXT
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...env, MIAW_SIM_MEDIA_CHILD: '1', MIAW_SIM_MEDIA_STATE: state, NODE_EXTRA_CA_CERTS: caFile },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { out += d })
    const code = await withTimeout(new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? s))), 140000, 'child test')
      .catch((e) => { child.kill('SIGKILL'); throw e })
    if (code !== 0 || process.env.MIAW_SIM_LOG) process.stderr.write(out)
    assert.equal(code, 0, 'the media test in the child process failed (its output is above)')
  })
} else {
  test('Baileys and simulated phones exchange images and documents', { timeout: 120000 }, async (t) => {
    const state = process.env.MIAW_SIM_MEDIA_STATE
    const tmp = path.dirname(state)
    const sim = await startSim(state)
    const sockets = []
    t.after(async () => {
      for (const s of sockets) { try { s.sock.end(undefined) } catch {} }
      await sim.stop().catch(() => {})
      // Baileys leaves a pre-key upload timer behind that would hold this process ~30 s
      setTimeout(() => process.exit(), 2000).unref()
    })
    const media = `https://${sim.info.mediaHost}`
    // the CA survived the restart: the one Node was started with still verifies the host
    const ca = await fetch(`http://127.0.0.1:${sim.info.port}/sim/media-ca`).then((r) => r.text())
    assert.equal(ca, fs.readFileSync(process.env.NODE_EXTRA_CA_CERTS, 'utf8'))

    assert.equal((await sim.api('POST', '/sim/accounts', { phone: A, name: 'Alice' })).status, 201)
    assert.equal((await sim.api('POST', '/sim/accounts', { phone: B, name: 'Bob' })).status, 201)
    const a1 = await pairBaileys(sim, A, path.join(tmp, 'a1'))
    sockets.push(a1)

    // media_conn: auth, ttl and the host as WhatsApp answers it
    const mc = await a1.sock.refreshMediaConn(true)
    assert.ok(mc.auth && mc.auth.length >= 16, JSON.stringify(mc))
    assert.ok(mc.ttl > 0)
    assert.equal(mc.hosts[0].hostname, sim.info.mediaHost)

    // 1. Baileys -> phone B: an image with a caption, then a document
    const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 50, b: 10 } } }).png().toBuffer()
    const sent = await a1.sock.sendMessage(jidOf(B), { image: png, caption: 'a red square', mimetype: 'image/png' })
    assert.ok(sent.message.imageMessage.url.startsWith(media + '/v/'), sent.message.imageMessage.url)
    const got = await until(() => phoneMessage(sim, B, sent.key.id), 'phone B received the image')
    assert.equal(got.type, 'image', JSON.stringify(got))
    assert.equal(got.mimetype, 'image/png')
    assert.equal(got.caption, 'a red square')
    assert.equal(got.mediaOk, true, JSON.stringify(got))
    assert.equal(got.fileSha256, sha(png))
    assert.equal(got.mediaSha256, sha(png))
    assert.equal(got.fileLength, png.length)
    // A's own phone checks the DSM copy the same way
    const own = await until(() => phoneMessage(sim, A, sent.key.id), 'DSM copy at phone A')
    assert.equal(own.fromMe, true)
    assert.equal(own.mediaOk, true, JSON.stringify(own))

    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), crypto.randomBytes(70000)])
    const sentDoc = await a1.sock.sendMessage(jidOf(B), { document: pdf, mimetype: 'application/pdf', fileName: 'report.pdf' })
    const gotDoc = await until(() => phoneMessage(sim, B, sentDoc.key.id), 'phone B received the document')
    assert.equal(gotDoc.type, 'document')
    assert.equal(gotDoc.fileName, 'report.pdf')
    assert.equal(gotDoc.mediaOk, true, JSON.stringify(gotDoc))
    assert.equal(gotDoc.mediaSha256, sha(pdf))

    // 2. phone B -> Baileys: an image and a document, downloaded and decrypted by Baileys
    const jpg = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 10, g: 90, b: 240 } } }).jpeg().toBuffer()
    const post = await sim.api('POST', `/sim/accounts/${B}/messages`, { to: A, image: { base64: jpg.toString('base64'), mimetype: 'image/jpeg', caption: 'from the phone' } })
    assert.equal(post.status, 201, JSON.stringify(post.body))
    const up = await until(() => a1.upserts.find((m) => m.key.id === post.body.id), 'A received the phone\'s image')
    assert.equal(up.message.imageMessage.caption, 'from the phone')
    assert.equal(up.message.imageMessage.mimetype, 'image/jpeg')
    assert.ok(up.message.imageMessage.url.startsWith(media + '/v/'))
    const dl = await downloadMediaMessage(up, 'buffer', {}, { logger: quietLogger, reuploadRequest: a1.sock.updateMediaMessage })
    assert.ok(Buffer.from(dl).equals(jpg), 'Baileys decrypted other bytes')
    const sentRec = (await sim.api('GET', `/sim/accounts/${B}/messages`)).body.sent.find((m) => m.id === post.body.id)
    assert.equal(sentRec.type, 'image')
    assert.equal(sentRec.fileSha256, sha(jpg))

    const bin = crypto.randomBytes(5000)
    const postDoc = await sim.api('POST', `/sim/accounts/${B}/messages`, { to: jidOf(A), document: { base64: bin.toString('base64'), mimetype: 'application/octet-stream', fileName: 'blob.bin' } })
    assert.equal(postDoc.status, 201, JSON.stringify(postDoc.body))
    const upDoc = await until(() => a1.upserts.find((m) => m.key.id === postDoc.body.id), 'A received the phone\'s document')
    assert.equal(upDoc.message.documentMessage.fileName, 'blob.bin')
    const dlDoc = await downloadMediaMessage(upDoc, 'buffer', {}, { logger: quietLogger, reuploadRequest: a1.sock.updateMediaMessage })
    assert.ok(Buffer.from(dlDoc).equals(bin))

    // 3. the media host refuses what WhatsApp's would
    const blob = crypto.randomBytes(48)
    const upl = (q, tok = b64url(blob), body = blob) => fetch(`${media}/mms/image/${tok}?${q}`, { method: 'POST', body, headers: { origin: 'https://web.whatsapp.com' } })
    assert.equal((await upl(`auth=nope&token=${b64url(blob)}`)).status, 401)
    assert.equal((await upl('')).status, 401)
    const auth = encodeURIComponent((await a1.sock.refreshMediaConn(true)).auth)
    assert.equal((await upl(`auth=${auth}`, b64url(crypto.randomBytes(8)))).status, 400) // token is not the body's hash
    const ok = await upl(`auth=${auth}&token=${b64url(blob)}`)
    assert.equal(ok.status, 200)
    const j = await ok.json()
    assert.ok(j.url.startsWith(media) && j.direct_path.startsWith('/v/') && j.direct_path.includes('?'), JSON.stringify(j))
    assert.ok(j.handle && j.object_id)
    const back = await fetch(media + j.direct_path + '&hash=x&mms-type=image&__wa-mms=')
    assert.ok(Buffer.from(await back.arrayBuffer()).equals(blob))
    const part = await fetch(media + j.direct_path, { headers: { range: 'bytes=16-31' } })
    assert.equal(part.status, 206)
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(blob.subarray(16, 32)))
    assert.equal((await fetch(media + j.direct_path.replace(/oh=[0-9a-f]/, 'oh=g'))).status, 404)
    assert.equal((await fetch(media + j.direct_path.replace(/oh=[0-9a-f]+/, 'oh=00'))).status, 404)
    // a declared length over maxContentLengthBytes is refused before the body is read
    const big = await withTimeout(new Promise((resolve, reject) => {
      const req = https.request(`${media}/mms/image/x?auth=${auth}`, { method: 'POST', headers: { 'content-length': 17 << 20 } }, (res) => { res.resume(); resolve(res.statusCode) })
      req.on('error', reject)
      req.flushHeaders()
    }), 10000, 'oversized upload answer')
    assert.equal(big, 413)
    const stats = (await sim.api('GET', '/sim/media')).body
    assert.ok(stats.uploads >= 3 && stats.downloads >= 3 && stats.refused >= 4, JSON.stringify({ ...stats, caPem: undefined }))
    // the simulator is still up and serving
    assert.equal((await sim.api('GET', '/sim/state')).status, 200)
  })
}
