// tests/interop/media_baileys.test.mjs - every media kind between a miaw instance
// (account A, plugins messages + groups) and Baileys 7.0.0-rc14 (account B) through
// miaw-sim's media host. Baileys sends an image, a video, an audio file, a voice note, a
// document and a sticker: miaw's `message` webhook carries the typed media summary
// (mimetype, seconds, ptt, width/height, fileLength, sha256) and GET
// .../messages/{id}/media returns the bytes Baileys encrypted. miaw sends each kind:
// Baileys decrypts the message and downloadMediaMessage yields the bytes miaw uploaded
// (the same as miaw's own GET .../media for a message it sent, and the fixture itself
// where miaw sends a file as it is). Then in a group of miaw, Baileys and a simulated
// phone (C): miaw's image, voice note, video and sticker reach Baileys and the phone
// (decrypted and checked); Baileys' image, view-once image and video note (ptvMessage)
// reach miaw (webhook, download) and the phone; the phone's voice note and image (sent
// to the group JID through the simulator's control API) reach both; a phone that is
// not a member gets a 409; miaw stops cleanly.
//
// As in sim_media.test.mjs, Baileys downloads with Node's global fetch, which trusts
// extra CAs only from NODE_EXTRA_CA_CERTS at start: the simulator is started once for
// its CA (kept in the state directory), then the test runs in a child Node process.
// Fixtures: tests/integration/fixtures/media.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1, MIAW_BAILEYS_LOG=1, MIAW_LOG=1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { downloadMediaMessage } from '@whiskeysockets/baileys'
import { startSim, pairBaileys, until, tmpDir, withTimeout, quietLogger } from './sim_helpers.mjs'
import { ROOT, startServer, waitFor } from '../integration/lib/harness.mjs'
import { startReceiver } from '../integration/lib/receiver.mjs'

const A = '15550009101' // the miaw instance's account
const B = '15550009102' // Baileys' account
const C = '15550009103' // a simulated phone (group member)
const jidOf = (p) => `${p}@s.whatsapp.net`
const FIX = path.join(ROOT, 'tests/integration/fixtures/media')
const fx = (n) => fs.readFileSync(path.join(FIX, n))
const sha = (b) => crypto.createHash('sha256').update(b).digest()
const events = (rcv, type) => rcv.requests.map((r) => JSON.parse(r.body)).filter((b) => b.event === type).map((b) => b.data)

if (!process.env.MIAW_MEDIA_BAILEYS_CHILD) {
  test('every media kind between miaw and Baileys (trusting the simulator\'s CA)', { timeout: 240000 }, async (t) => {
    const tmp = tmpDir('miaw-media-baileys-')
    t.after(() => fs.rmSync(tmp, { recursive: true, force: true }))
    const state = path.join(tmp, 'sim')
    const sim = await startSim(state)
    let pem
    try {
      pem = await (await fetch(`http://127.0.0.1:${sim.info.port}/sim/media-ca`)).text()
    } finally {
      await sim.stop()
    }
    assert.match(pem, /^-----BEGIN CERTIFICATE-----\n/)
    const caFile = path.join(tmp, 'media-ca.pem')
    fs.writeFileSync(caFile, pem)
    const env = { ...process.env }
    delete env.NODE_TEST_CONTEXT // the child runs this file as a plain script
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...env, MIAW_MEDIA_BAILEYS_CHILD: '1', MIAW_MEDIA_BAILEYS_TMP: tmp, NODE_EXTRA_CA_CERTS: caFile },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { out += d })
    const code = await withTimeout(new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? s))), 230000, 'child test')
      .catch((e) => { child.kill('SIGKILL'); throw e })
    if (code !== 0 || process.env.MIAW_SIM_LOG) process.stderr.write(out)
    assert.equal(code, 0, 'the media test in the child process failed (its output is above)')
  })
} else {
  test('media kinds: Baileys -> miaw, miaw -> Baileys, and in a group with a phone', { timeout: 220000 }, async (t) => {
    const tmp = process.env.MIAW_MEDIA_BAILEYS_TMP
    const caFile = process.env.NODE_EXTRA_CA_CERTS
    const sim = await startSim(path.join(tmp, 'sim'))
    const rcv = await startReceiver()
    const ctx = { srv: null, socks: [] }
    t.after(async () => {
      for (const s of ctx.socks) { try { s.sock.end(undefined) } catch {} }
      if (ctx.srv) await ctx.srv.stop().catch(() => {})
      await sim.stop().catch(() => {})
      await rcv.close().catch(() => {})
      // Baileys leaves a pre-key upload timer behind that would hold this process ~30 s
      setTimeout(() => process.exit(), 2000).unref()
    })
    const failLog = (e) => {
      if (process.env.MIAW_LOG && ctx.srv) console.error(ctx.srv.logs())
      throw e
    }
    for (const [phone, name] of [[A, 'Alice'], [B, 'Bob'], [C, 'Carol']])
      assert.equal((await sim.api('POST', '/sim/accounts', { phone, name })).status, 201)
    const dataDir = path.join(tmp, 'miaw')
    fs.mkdirSync(dataDir)
    ctx.srv = await startServer({
      dataDir,
      plugins: ['messages', 'groups'],
      env: {
        WA_WS_URL: sim.info.ws, WA_ROOT_KEY: sim.info.rootPublicKeyHex, WA_MEDIA_CA_FILE: caFile, MIAW_WA_PREKEYS: '40',
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
    const b = await pairBaileys(sim, B, path.join(tmp, 'baileys'))
    ctx.socks.push(b)

    const getMedia = async (id) => {
      const r = await fetch(`${srv.url}/api/v1/instances/bot/messages/${id}/media`, { headers: { authorization: `Bearer ${srv.apiKey}` } })
      assert.equal(r.status, 200, `GET .../messages/${id}/media: ${r.status}`)
      return { type: r.headers.get('content-type'), body: Buffer.from(await r.arrayBuffer()) }
    }
    const webhookFor = async (id, what) => {
      await rcv.waitFor(() => events(rcv, 'message').some((e) => e.id === id), 20000, what).catch(failLog)
      return events(rcv, 'message').find((e) => e.id === id)
    }
    const baileysGot = (id, what) => until(() => b.upserts.find((m) => m.key.id === id && m.message), what, 20000).catch(failLog)
    const download = async (m) => Buffer.from(await downloadMediaMessage(m, 'buffer', {}, { logger: quietLogger, reuploadRequest: b.sock.updateMediaMessage }))
    const thumb = fx('img.jpg').subarray(0, 0) // an empty jpegThumbnail: Baileys computes none (no ffmpeg needed)

    // 1. Baileys -> miaw: each kind; the webhook's summary and the same bytes back
    const fromBaileys = [
      { what: 'image', file: 'img.jpg', content: (f) => ({ image: f, mimetype: 'image/jpeg', caption: 'jpeg from Baileys', width: 320, height: 240, jpegThumbnail: thumb }),
        want: { type: 'image', mimetype: 'image/jpeg', caption: 'jpeg from Baileys', width: 320, height: 240 } },
      { what: 'video', file: 'vid.mp4', content: (f) => ({ video: f, mimetype: 'video/mp4', caption: 'clip', seconds: 2, width: 160, height: 120, jpegThumbnail: thumb }),
        want: { type: 'video', mimetype: 'video/mp4', caption: 'clip', seconds: 2, width: 160, height: 120 } },
      { what: 'audio', file: 'song.mp3', content: (f) => ({ audio: f, mimetype: 'audio/mpeg', seconds: 2 }),
        want: { type: 'audio', mimetype: 'audio/mpeg', seconds: 2, ptt: false } },
      { what: 'voice note', file: 'voice.ogg', content: (f) => ({ audio: f, mimetype: 'audio/ogg; codecs=opus', ptt: true, seconds: 3, waveform: new Uint8Array(64).fill(7) }),
        want: { type: 'audio', mimetype: 'audio/ogg; codecs=opus', seconds: 3, ptt: true } },
      { what: 'document', file: 'doc.pdf', content: (f) => ({ document: f, mimetype: 'application/pdf', fileName: 'terms.pdf' }),
        want: { type: 'document', mimetype: 'application/pdf', fileName: 'terms.pdf' } },
      { what: 'sticker', file: 'sticker.webp', content: (f) => ({ sticker: f, mimetype: 'image/webp', width: 512, height: 512 }),
        want: { type: 'sticker', mimetype: 'image/webp', width: 512, height: 512, isAnimated: false } },
      { what: 'animated sticker', file: 'anim.webp', content: (f) => ({ sticker: f, mimetype: 'image/webp', isAnimated: true }),
        want: { type: 'sticker', mimetype: 'image/webp', isAnimated: true } }
    ]
    for (const c of fromBaileys) {
      const bytes = fx(c.file)
      const sent = await b.sock.sendMessage(jidOf(A), c.content(bytes))
      const ev = await webhookFor(sent.key.id, `miaw's webhook for Baileys' ${c.what}`)
      const media = ev.media
      assert.ok(media, `${c.what}: no media in ${JSON.stringify(ev)}`)
      for (const [k, v] of Object.entries(c.want)) assert.equal(media[k], v, `${c.what} ${k}: ${JSON.stringify(media)}`)
      assert.equal(media.fileLength, bytes.length, c.what)
      assert.equal(media.sha256, sha(bytes).toString('hex'), c.what)
      assert.equal(media.path, `/api/v1/instances/bot/messages/${sent.key.id}/media`)
      const got = await getMedia(sent.key.id)
      assert.equal(got.type, c.want.mimetype, c.what)
      assert.ok(got.body.equals(bytes), `${c.what}: GET .../media returned other bytes than Baileys sent`)
    }

    // 2. miaw -> Baileys: each kind; Baileys decrypts and downloads what miaw uploaded
    const fromMiaw = [
      { kind: 'image', file: 'img.jpg', body: { caption: 'jpeg from miaw' }, key: 'imageMessage', asIs: true,
        check: (m) => { assert.equal(m.caption, 'jpeg from miaw'); assert.equal(m.width, 320); assert.equal(m.height, 240) } },
      { kind: 'image', file: 'img.png', body: {}, key: 'imageMessage', asIs: false, // converted to JPEG by miaw
        check: (m) => { assert.equal(m.mimetype, 'image/jpeg'); assert.equal(m.width, 200) } },
      { kind: 'video', file: 'vid.mp4', body: { caption: 'clip from miaw' }, key: 'videoMessage', asIs: true,
        check: (m) => { assert.equal(m.seconds, 2); assert.equal(m.width, 160); assert.equal(m.mimetype, 'video/mp4') } },
      { kind: 'audio', file: 'song.mp3', body: {}, key: 'audioMessage', asIs: true,
        check: (m) => { assert.equal(m.ptt ?? false, false); assert.equal(m.mimetype, 'audio/mpeg') } },
      { kind: 'audio', file: 'voice.ogg', body: { ptt: true }, key: 'audioMessage', asIs: true,
        check: (m) => { assert.equal(m.ptt, true); assert.equal(m.seconds, 3); assert.equal(m.waveform?.length, 64) } },
      { kind: 'document', file: 'doc.pdf', body: { fileName: 'report.pdf' }, key: 'documentMessage', asIs: true,
        check: (m) => { assert.equal(m.fileName, 'report.pdf'); assert.equal(m.mimetype, 'application/pdf') } },
      { kind: 'sticker', file: 'sticker.webp', body: {}, key: 'stickerMessage', asIs: true,
        check: (m) => { assert.equal(m.mimetype, 'image/webp'); assert.equal(m.isAnimated ?? false, false) } },
      { kind: 'sticker', file: 'img.png', body: {}, key: 'stickerMessage', asIs: false, // made a 512x512 WebP
        check: (m) => { assert.equal(m.width, 512); assert.equal(m.height, 512) } }
    ]
    for (const c of fromMiaw) {
      const bytes = fx(c.file)
      const what = `miaw's ${c.kind} ${c.file}`
      const r = await srv.api('POST', `/api/v1/instances/bot/messages/${c.kind}`, { to: B, base64: bytes.toString('base64'), ...c.body })
      assert.equal(r.status, 200, `${what}: ${r.text}`)
      const id = r.json.data.messageId
      const up = await baileysGot(id, `Baileys got ${what}`)
      const m = up.message[c.key]
      assert.ok(m, `${what}: ${JSON.stringify(Object.keys(up.message))}`)
      c.check(m)
      const dl = await download(up)
      assert.ok(Buffer.from(m.fileSha256).equals(sha(dl)), `${what}: fileSha256 is not the hash of what decrypted`)
      assert.equal(Number(m.fileLength), dl.length, what)
      const mine = await getMedia(id) // what miaw uploaded, as it keeps it
      assert.ok(mine.body.equals(dl), `${what}: Baileys decrypted other bytes than miaw uploaded`)
      if (c.asIs) assert.ok(dl.equals(bytes), `${what}: sent as it is, yet other bytes`)
      else assert.ok(!dl.equals(bytes), `${what}: should have been converted`)
    }

    // 3. a group of miaw, Baileys and the phone
    let r = await srv.api('POST', '/api/v1/instances/bot/groups', { subject: 'media group', participants: [B, C] })
    assert.equal(r.status, 201, r.text)
    const gjid = r.json.data.jid
    await until(async () => { try { return (await b.sock.groupMetadata(gjid)).size === 3 } catch { return false } }, 'Baileys sees the group')
    const phoneGot = (id, what) => until(async () =>
      (await sim.api('GET', `/sim/accounts/${C}/messages`)).body.messages.find((m) => m.id === id && m.type !== 'media' && !m.error), what, 20000)

    // miaw's image: Baileys and the phone decrypt the same bytes
    const jpg = fx('img.jpg')
    r = await srv.api('POST', '/api/v1/instances/bot/messages/image', { to: gjid, base64: jpg.toString('base64'), caption: 'to the group' })
    assert.equal(r.status, 200, r.text)
    const g1 = r.json.data.messageId
    const gup = await baileysGot(g1, 'Baileys got miaw\'s group image')
    assert.equal(gup.key.remoteJid, gjid)
    assert.equal(gup.message.imageMessage.caption, 'to the group')
    assert.ok((await download(gup)).equals(jpg), 'Baileys decrypted other bytes of the group image')
    const pg1 = await phoneGot(g1, 'the phone got miaw\'s group image')
    assert.equal(pg1.type, 'image', JSON.stringify(pg1))
    assert.equal(pg1.chat, gjid)
    assert.equal(pg1.mediaOk, true, JSON.stringify(pg1))
    assert.equal(pg1.mediaSha256, sha(jpg).toString('base64'))

    // miaw's voice note, video and sticker to the group: the same bytes at both
    for (const [kind, file, body, key] of [['audio', 'voice.ogg', { ptt: true }, 'audioMessage'],
      ['video', 'vid.mp4', { caption: 'group clip' }, 'videoMessage'], ['sticker', 'sticker.webp', {}, 'stickerMessage']]) {
      const bytes = fx(file)
      r = await srv.api('POST', `/api/v1/instances/bot/messages/${kind}`, { to: gjid, base64: bytes.toString('base64'), ...body })
      assert.equal(r.status, 200, r.text)
      const id = r.json.data.messageId
      const up = await baileysGot(id, `Baileys got miaw's group ${kind}`)
      assert.ok(up.message[key], `${kind}: ${JSON.stringify(Object.keys(up.message))}`)
      assert.ok((await download(up)).equals(bytes), `Baileys decrypted other bytes of miaw's group ${kind}`)
      const pm = await phoneGot(id, `the phone got miaw's group ${kind}`)
      assert.deepEqual([pm.type, pm.mediaOk, pm.mediaSha256], [kind, true, sha(bytes).toString('base64')], JSON.stringify(pm))
      if (kind === 'audio') assert.equal(pm.ptt, true)
    }

    // Baileys' image: miaw's webhook and download
    const png = fx('img.png')
    const s2 = await b.sock.sendMessage(gjid, { image: png, mimetype: 'image/png', caption: 'from Baileys to the group', jpegThumbnail: thumb })
    const ev2 = await webhookFor(s2.key.id, 'miaw got Baileys\' group image')
    assert.deepEqual([ev2.isGroup, ev2.chat, ev2.senderPhone], [true, gjid, B])
    assert.equal(ev2.media?.type, 'image', JSON.stringify(ev2))
    assert.equal(ev2.media.mimetype, 'image/png')
    assert.equal(ev2.media.caption, 'from Baileys to the group')
    assert.equal(ev2.media.sha256, sha(png).toString('hex'))
    assert.ok((await getMedia(s2.key.id)).body.equals(png), 'miaw downloaded other bytes of Baileys\' group image')
    const pg2 = await phoneGot(s2.key.id, 'the phone got Baileys\' group image')
    assert.equal(pg2.mediaOk, true, JSON.stringify(pg2))
    // Baileys' view-once image (viewOnceMessage) and video note (ptvMessage): both unwrapped
    const s2v = await b.sock.sendMessage(gjid, { image: jpg, mimetype: 'image/jpeg', viewOnce: true, jpegThumbnail: thumb })
    const ev2v = await webhookFor(s2v.key.id, 'miaw got Baileys\' view-once group image')
    assert.deepEqual([ev2v.media?.type, ev2v.media?.viewOnce], ['image', true], JSON.stringify(ev2v))
    assert.ok((await getMedia(s2v.key.id)).body.equals(jpg))
    const pg2v = await phoneGot(s2v.key.id, 'the phone got the view-once image')
    assert.deepEqual([pg2v.type, pg2v.viewOnce, pg2v.mediaOk], ['image', true, true], JSON.stringify(pg2v))
    const mp4 = fx('vid.mp4')
    const s2p = await b.sock.sendMessage(gjid, { video: mp4, mimetype: 'video/mp4', ptv: true, jpegThumbnail: thumb })
    assert.ok(s2p.message.ptvMessage, 'Baileys sent a ptvMessage')
    const ev2p = await webhookFor(s2p.key.id, 'miaw got Baileys\' video note')
    assert.deepEqual([ev2p.media?.type, ev2p.media?.mimetype, ev2p.media?.fileLength], ['video', 'video/mp4', mp4.length], JSON.stringify(ev2p))
    assert.ok((await getMedia(s2p.key.id)).body.equals(mp4))
    const pg2p = await phoneGot(s2p.key.id, 'the phone got the video note')
    assert.deepEqual([pg2p.type, pg2p.ptv, pg2p.mediaOk], ['video', true, true], JSON.stringify(pg2p))

    // the phone's voice note and image: miaw and Baileys
    const ogg = fx('voice.ogg')
    r = await sim.api('POST', `/sim/accounts/${C}/messages`, { to: gjid, audio: { base64: ogg.toString('base64'), ptt: true, seconds: 3 } })
    assert.equal(r.status, 201, JSON.stringify(r.body))
    const g3 = r.body.id
    const ev3 = await webhookFor(g3, 'miaw got the phone\'s group voice note')
    assert.deepEqual([ev3.isGroup, ev3.chat, ev3.senderPhone], [true, gjid, C])
    assert.deepEqual([ev3.media?.type, ev3.media?.ptt, ev3.media?.seconds, ev3.media?.mimetype], ['audio', true, 3, 'audio/ogg; codecs=opus'])
    assert.ok((await getMedia(g3)).body.equals(ogg), 'miaw downloaded other bytes of the phone\'s voice note')
    const bup3 = await baileysGot(g3, 'Baileys got the phone\'s group voice note')
    assert.equal(bup3.message.audioMessage.ptt, true)
    assert.ok((await download(bup3)).equals(ogg), 'Baileys decrypted other bytes of the phone\'s voice note')
    r = await sim.api('POST', `/sim/accounts/${C}/messages`, { to: gjid, image: { base64: jpg.toString('base64'), caption: 'phone pic', width: 320, height: 240 } })
    assert.equal(r.status, 201, JSON.stringify(r.body))
    const ev4 = await webhookFor(r.body.id, 'miaw got the phone\'s group image')
    assert.deepEqual([ev4.media?.type, ev4.media?.caption, ev4.media?.width], ['image', 'phone pic', 320])
    assert.ok((await getMedia(r.body.id)).body.equals(jpg))
    assert.ok((await download(await baileysGot(r.body.id, 'Baileys got the phone\'s group image'))).equals(jpg))
    // a phone that is not a member may not send media there
    r = await sim.api('POST', '/sim/accounts', { phone: '15550009104', name: 'Dave' })
    assert.equal(r.status, 201)
    r = await sim.api('POST', '/sim/accounts/15550009104/messages', { to: gjid, image: { base64: jpg.toString('base64') } })
    assert.equal(r.status, 409, JSON.stringify(r.body))

    // miaw stops cleanly (under the ASan build: no sanitizer report)
    await srv.stop()
    assert.doesNotMatch(srv.logs(), /AddressSanitizer|LeakSanitizer|runtime error:/)
    assert.deepEqual(await srv.exited, { code: 0, sig: null })
    ctx.srv = null
  })
}
