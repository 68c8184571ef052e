// tests/interop/mediacrypto.test.mjs - miaw's media encryption (core/wa/mediacrypto.c,
// through tests/tools/mediacrypto.c) against Baileys: the same key expansion as
// getMediaKeys for every media type; blobs Baileys' encryptedStream makes decrypt in C to
// the same bytes with both hashes and the MAC checked; blobs made in C decrypt in
// Baileys' own download path (downloadContentFromMessage over a local HTTP server) to the
// same bytes, with the hashes Baileys would have computed; a tampered blob is refused.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { getMediaKeys, encryptedStream, downloadContentFromMessage } from '@whiskeysockets/baileys'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '..', '..')
const tool = path.join(path.resolve(repo, process.env.MIAW_BUILD_DIR || 'build'), 'tools', 'mediacrypto')

const c = (args, input) => spawnSync(tool, args, { input: input ?? Buffer.alloc(0), maxBuffer: 64 << 20 })
const sha = (b) => crypto.createHash('sha256').update(b).digest()
const TYPES = ['image', 'sticker', 'video', 'gif', 'audio', 'ptt', 'document', 'md-msg-hist', 'md-app-state', 'thumbnail-link']
const SIZES = [0, 1, 16, 1000, 200003]

// a local plain-HTTP server that hands out blobs: Baileys' download path takes any URL
const blobs = new Map()
const server = http.createServer((req, res) => {
  const b = blobs.get(req.url)
  if (!b) { res.writeHead(404).end(); return }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': b.length }).end(b)
})
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
after(() => server.close())
const serve = (b) => { const p = `/blob/${blobs.size}`; blobs.set(p, b); return `http://127.0.0.1:${server.address().port}${p}` }

const readAll = async (stream) => { const parts = []; for await (const x of stream) parts.push(x); return Buffer.concat(parts) }

test('key expansion equals Baileys getMediaKeys', async () => {
  const vec = Buffer.from([...Array(32).keys()])
  const r = c(['keys', 'image', vec.toString('hex')])
  assert.equal(r.status, 0, r.stderr.toString())
  assert.equal(JSON.parse(r.stdout).iv, 'aa6a127218397cbd2383e4ccf7176a79') // toolchain-notes vector
  for (const type of TYPES) {
    const mk = crypto.randomBytes(32)
    const b = await getMediaKeys(mk, type)
    const k = JSON.parse(c(['keys', type, mk.toString('hex')]).stdout)
    assert.equal(k.iv, Buffer.from(b.iv).toString('hex'), type)
    assert.equal(k.cipherKey, Buffer.from(b.cipherKey).toString('hex'), type)
    assert.equal(k.macKey, Buffer.from(b.macKey).toString('hex'), type)
  }
})

test('Baileys encrypts (encryptedStream), C checks hashes and MAC and decrypts', async () => {
  for (const type of ['image', 'video', 'audio', 'document']) {
    for (const n of SIZES) {
      const plain = crypto.randomBytes(n)
      const e = await encryptedStream(plain, type)
      const blob = fs.readFileSync(e.encFilePath)
      fs.unlinkSync(e.encFilePath)
      const r = c(['decrypt', type, e.mediaKey.toString('hex'), e.fileEncSha256.toString('hex'), e.fileSha256.toString('hex')], blob)
      assert.equal(r.status, 0, `${type} ${n}: ${r.stderr}`)
      assert.ok(Buffer.from(r.stdout).equals(plain), `${type} ${n}: bytes differ`)
      assert.equal(e.fileLength, n)
      if (n === 1000) {
        const bad = Buffer.from(blob)
        bad[bad.length - 1] ^= 1 // the MAC
        assert.equal(c(['decrypt', type, e.mediaKey.toString('hex')], bad).status, 3)
        const other = c(['decrypt', type, e.mediaKey.toString('hex'), sha(plain).toString('hex'), e.fileSha256.toString('hex')], blob)
        assert.equal(other.status, 3, 'a wrong fileEncSha256 is refused')
      }
    }
  }
})

test('C encrypts, Baileys downloads and decrypts (downloadContentFromMessage)', async () => {
  for (const type of ['image', 'video', 'audio', 'document']) {
    for (const n of SIZES) {
      const plain = crypto.randomBytes(n)
      const mk = crypto.randomBytes(32)
      const r = c(['encrypt', type, mk.toString('hex')], plain)
      assert.equal(r.status, 0, r.stderr.toString())
      const out = JSON.parse(r.stdout)
      const blob = Buffer.from(out.blob, 'base64')
      assert.equal(out.fileLength, n)
      assert.equal(out.fileSha256, sha(plain).toString('base64'))
      assert.equal(out.fileEncSha256, sha(blob).toString('base64'))
      // Baileys' MAC (what encryptedStream appends): first 10 bytes of HMAC(macKey, iv || ct)
      const k = await getMediaKeys(mk, type)
      const ct = blob.subarray(0, blob.length - 10)
      const mac = crypto.createHmac('sha256', k.macKey).update(k.iv).update(ct).digest().subarray(0, 10)
      assert.ok(mac.equals(blob.subarray(blob.length - 10)), `${type} ${n}: MAC`)
      const got = await readAll(await downloadContentFromMessage({ mediaKey: mk, url: serve(blob) }, type))
      assert.ok(got.equals(plain), `${type} ${n}: Baileys decrypted other bytes`)
    }
  }
})
