// tests/interop/signal.test.mjs - miaw's Signal layer (tests/tools/signal_peer.c) against
// the Signal code Baileys uses (npm libsignal through Baileys' own signal repository,
// its sender-key implementation, its bundle parsing and message padding). Bundles cross
// as encoded binary nodes in the server's fetch-response form; then pkmsg and msg both
// ways, a replayed pkmsg, and sender-key group messages both ways.
// Env: MIAW_BUILD_DIR (default build).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import {
  initAuthCreds, getNextPreKeysNode, parseAndInjectE2ESessions, encodeBinaryNode, decodeBinaryNode,
  encodeWAMessage, unpadRandomMax16, proto
} from '@whiskeysockets/baileys'
import { makeLibSignalRepository } from '@whiskeysockets/baileys/lib/Signal/libsignal.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '..', '..')
const buildDir = path.resolve(repo, process.env.MIAW_BUILD_DIR || 'build')
const peerBin = path.join(buildDir, 'tools', 'signal_peer')

const quietLogger = {
  level: 'silent',
  child () { return this },
  trace () {}, debug () {}, info () {}, warn () {}, error () {}, fatal () {}
}

// the key store interface Baileys' repository expects, in memory
function memoryKeys () {
  const data = {}
  return {
    async get (type, ids) {
      const out = {}
      for (const id of ids) {
        const v = data[type]?.[id]
        if (v !== undefined && v !== null) out[id] = v
      }
      return out
    },
    async set (upd) {
      for (const type of Object.keys(upd)) {
        data[type] ??= {}
        for (const [id, v] of Object.entries(upd[type])) {
          if (v === null || v === undefined) delete data[type][id]
          else data[type][id] = v
        }
      }
    },
    async transaction (fn) { return fn() },
    isInTransaction () { return false }
  }
}

function startPeer () {
  const proc = spawn(peerBin, [], { stdio: ['pipe', 'pipe', 'inherit'] })
  const rl = readline.createInterface({ input: proc.stdout })
  const waiting = []
  rl.on('line', (line) => waiting.shift()?.resolve(JSON.parse(line)))
  proc.on('exit', () => { while (waiting.length) waiting.shift().reject(new Error('signal_peer exited')) })
  const call = (req) => new Promise((resolve, reject) => {
    waiting.push({ resolve, reject })
    proc.stdin.write(JSON.stringify(req) + '\n')
  })
  const ok = async (req) => {
    const r = await call(req)
    assert.equal(r.ok, true, `${req.op}: ${JSON.stringify(r)}`)
    return r
  }
  return { call, ok, stop: () => { proc.stdin.end(); return new Promise((resolve) => proc.on('exit', resolve)) } }
}

const hex = (b) => Buffer.from(b).toString('hex')
const unhex = (s) => Buffer.from(s, 'hex')
const decodeMsg = (pt) => proto.Message.decode(unpadRandomMax16(pt))

// one Baileys-side account: creds, pre-keys and the repository Baileys sends with
async function baileysAccount (jid) {
  const creds = initAuthCreds()
  const keys = memoryKeys()
  const repository = makeLibSignalRepository({ creds, keys }, quietLogger)
  const { update, node: upload } = await getNextPreKeysNode({ creds, keys }, 3)
  Object.assign(creds, update)
  // the fetch response a server builds from that upload (facts 6.3): no wrapper
  const child = (tag) => upload.content.find((c) => c.tag === tag)
  const firstKey = child('list').content[0]
  const fetchResponse = {
    tag: 'iq',
    attrs: { type: 'result', from: '@s.whatsapp.net', id: '1' },
    content: [{
      tag: 'list',
      attrs: {},
      content: [{ tag: 'user', attrs: { jid }, content: [child('registration'), child('type'), child('identity'), child('skey'), firstKey] }]
    }]
  }
  return { jid, creds, keys, repository, bundleNode: encodeBinaryNode(fetchResponse) }
}

test('signal: sessions and sender keys interoperate with Baileys\' libsignal', { skip: !existsSync(peerBin) && `no ${peerBin}` }, async (t) => {
  const C_JID = '15550001111:3@s.whatsapp.net'
  const N_JID = '15550009999:2@s.whatsapp.net'
  const GROUP = '120363011112222333@g.us'
  const peer = startPeer()
  const node = await baileysAccount(N_JID)
  try {
    await peer.ok({ op: 'open', jid: C_JID })

    await t.test('bundles cross in the fetch-response node form', async () => {
      const b = await peer.ok({ op: 'bundle' })
      assert.equal(b.prekey_id, 1)
      const decoded = await decodeBinaryNode(unhex(b.node))
      const user = decoded.content[0].content[0]
      assert.equal(user.attrs.jid, C_JID)
      const tags = user.content.map((c) => c.tag)
      assert.deepEqual(tags, ['registration', 'type', 'identity', 'skey', 'key'])
      assert.equal(user.content[2].content.length, 32)
      await parseAndInjectE2ESessions(decoded, node.repository)
      const v = await node.repository.validateSession(C_JID)
      assert.equal(v.exists, true)
      const r = await peer.ok({ op: 'session', node: hex(node.bundleNode) })
      assert.equal(r.sessions, 1)
    })

    await t.test('Baileys -> C: pkmsg, replay refused, then C -> Baileys msg', async () => {
      const e = await node.repository.encryptMessage({ jid: C_JID, data: encodeWAMessage({ conversation: 'hi from baileys' }) })
      assert.equal(e.type, 'pkmsg')
      const d = await peer.ok({ op: 'decrypt', from: N_JID, type: e.type, ct: hex(e.ciphertext) })
      assert.equal(d.text, 'hi from baileys')
      const again = await peer.call({ op: 'decrypt', from: N_JID, type: e.type, ct: hex(e.ciphertext) })
      assert.equal(again.ok, false)
      assert.equal(again.code, -201) // MIAW_SIG_E_DUPLICATE
    })

    await t.test('C -> Baileys: msg on the session Baileys started, both ways after replies', async () => {
      // C also built a session from Baileys' bundle, but the pkmsg it received since
      // replaced it: C answers on Baileys' session with a msg.
      const e = await peer.ok({ op: 'encrypt', to: N_JID, text: 'hi from miaw' })
      assert.equal(e.type, 'msg')
      const pt = await node.repository.decryptMessage({ jid: C_JID, type: e.type, ciphertext: unhex(e.ct) })
      assert.equal(decodeMsg(pt).conversation, 'hi from miaw')
      for (let i = 0; i < 3; i++) {
        const b = await node.repository.encryptMessage({ jid: C_JID, data: encodeWAMessage({ conversation: `b${i}` }) })
        const d = await peer.ok({ op: 'decrypt', from: N_JID, type: b.type, ct: hex(b.ciphertext) })
        assert.equal(d.text, `b${i}`)
        const c = await peer.ok({ op: 'encrypt', to: N_JID, text: `c${i}` })
        if (i > 0) assert.equal(c.type, 'msg')
        const p = await node.repository.decryptMessage({ jid: C_JID, type: c.type, ciphertext: unhex(c.ct) })
        assert.equal(decodeMsg(p).conversation, `c${i}`)
      }
      const last = await node.repository.encryptMessage({ jid: C_JID, data: encodeWAMessage({ conversation: 'final' }) })
      assert.equal(last.type, 'msg')
      // out of order on the C side: two messages decrypted in reverse
      const x1 = await node.repository.encryptMessage({ jid: C_JID, data: encodeWAMessage({ conversation: 'x1' }) })
      assert.equal((await peer.ok({ op: 'decrypt', from: N_JID, type: x1.type, ct: hex(x1.ciphertext) })).text, 'x1')
      assert.equal((await peer.ok({ op: 'decrypt', from: N_JID, type: last.type, ct: hex(last.ciphertext) })).text, 'final')
    })

    await t.test('sender keys: Baileys -> C', async () => {
      const g = await node.repository.encryptGroupMessage({ group: GROUP, meId: N_JID, data: encodeWAMessage({ conversation: 'group hello from baileys' }) })
      const carrier = await node.repository.encryptMessage({
        jid: C_JID,
        data: encodeWAMessage({ senderKeyDistributionMessage: { groupId: GROUP, axolotlSenderKeyDistributionMessage: g.senderKeyDistributionMessage } })
      })
      const d = await peer.ok({ op: 'decrypt', from: N_JID, type: carrier.type, ct: hex(carrier.ciphertext) })
      assert.equal(d.skdm_group, GROUP)
      const m = await peer.ok({ op: 'group_decrypt', group: GROUP, from: N_JID, ct: hex(g.ciphertext) })
      assert.equal(m.text, 'group hello from baileys')
      const dup = await peer.call({ op: 'group_decrypt', group: GROUP, from: N_JID, ct: hex(g.ciphertext) })
      assert.equal(dup.code, -201)
      const g2 = await node.repository.encryptGroupMessage({ group: GROUP, meId: N_JID, data: encodeWAMessage({ conversation: 'second' }) })
      assert.equal((await peer.ok({ op: 'group_decrypt', group: GROUP, from: N_JID, ct: hex(g2.ciphertext) })).text, 'second')
    })

    await t.test('sender keys: C -> Baileys', async () => {
      const carrier = await peer.ok({ op: 'encrypt_skdm', to: N_JID, group: GROUP })
      const pt = await node.repository.decryptMessage({ jid: C_JID, type: carrier.type, ciphertext: unhex(carrier.ct) })
      const msg = decodeMsg(pt)
      assert.equal(msg.senderKeyDistributionMessage.groupId, GROUP)
      await node.repository.processSenderKeyDistributionMessage({ item: msg.senderKeyDistributionMessage, authorJid: C_JID })
      for (const text of ['group hello from miaw', 'and again']) {
        const g = await peer.ok({ op: 'group_encrypt', group: GROUP, text })
        const out = await node.repository.decryptGroupMessage({ group: GROUP, authorJid: C_JID, msg: unhex(g.ct) })
        assert.equal(decodeMsg(out).conversation, text)
      }
    })
  } finally {
    await peer.stop()
  }
})

test('signal: LID addresses and a bundle without one-time pre-key', { skip: !existsSync(peerBin) && `no ${peerBin}` }, async () => {
  const C_JID = '88887777666655:4@lid'
  const N_JID = '99990000111122@lid'
  const peer = startPeer()
  const node = await baileysAccount(N_JID)
  try {
    await peer.ok({ op: 'open', jid: C_JID })
    const b = await peer.ok({ op: 'bundle', prekey: false })
    const decoded = await decodeBinaryNode(unhex(b.node))
    assert.deepEqual(decoded.content[0].content[0].content.map((c) => c.tag), ['registration', 'type', 'identity', 'skey'])
    await parseAndInjectE2ESessions(decoded, node.repository)
    assert.equal(node.repository.jidToSignalProtocolAddress(C_JID), '88887777666655_1.4')
    const e = await node.repository.encryptMessage({ jid: C_JID, data: encodeWAMessage({ conversation: 'lid hello' }) })
    assert.equal(e.type, 'pkmsg')
    assert.equal((await peer.ok({ op: 'decrypt', from: N_JID, type: 'pkmsg', ct: hex(e.ciphertext) })).text, 'lid hello')
    const r = await peer.ok({ op: 'encrypt', to: N_JID, text: 'lid reply' })
    assert.equal(r.type, 'msg')
    const pt = await node.repository.decryptMessage({ jid: C_JID, type: r.type, ciphertext: unhex(r.ct) })
    assert.equal(decodeMsg(pt).conversation, 'lid reply')
  } finally {
    await peer.stop()
  }
})
