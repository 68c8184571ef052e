// tests/interop/polls.test.mjs - the polls example plugin (sdk/examples/polls, a
// third-party plugin built in-tree as build/example-plugins/polls.so) against Baileys
// 7.0.0-rc14 through miaw-sim: `miaw serve` on account A with only that plugin loaded,
// Baileys on account B. miaw sends a single-select and a multi-select poll; Baileys
// receives them as pollCreationMessageV3 / pollCreationMessage with the name, options,
// count and a 32-byte messageSecret. Baileys votes: rc14 has no API to send a vote, so
// the test builds the pollUpdateMessage itself with node:crypto from WhatsApp's facts
// (HKDF-SHA256 over the poll's secret with pollId || creator || voter || "Poll Vote",
// AES-256-GCM with aad pollId \0 voter), checks that Baileys' own decryptPollVote reads
// it, and sends it with Baileys' relayMessage. miaw's poll_vote webhook must name the
// chosen options, and GET .../polls/{pollId} must tally them.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1, MIAW_BAILEYS_LOG=1, MIAW_LOG=1
// (miaw's log on failure).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { proto, decryptPollVote, jidNormalizedUser } from '@whiskeysockets/baileys'
import { startSim, pairBaileys, until, tmpDir } from './sim_helpers.mjs'
import { BUILD, startServer, waitFor } from '../integration/lib/harness.mjs'
import { startReceiver } from '../integration/lib/receiver.mjs'

const A = '15550006666' // the miaw instance's account
const B = '15550007777' // Baileys' account
const jidOf = (p) => `${p}@s.whatsapp.net`
const events = (rcv, type) => rcv.requests.map((r) => JSON.parse(r.body)).filter((b) => b.event === type)
const sha256 = (s) => crypto.createHash('sha256').update(s).digest()

// a vote as WhatsApp clients encrypt it; JIDs are user JIDs without a device
function encryptVote ({ secret, pollId, creator, voter, options }) {
  const plain = proto.Message.PollVoteMessage.encode({ selectedOptions: options.map(sha256) }).finish()
  const info = Buffer.concat([Buffer.from(pollId), Buffer.from(creator), Buffer.from(voter), Buffer.from('Poll Vote')])
  const key = Buffer.from(crypto.hkdfSync('sha256', secret, Buffer.alloc(0), info, 32))
  const iv = crypto.randomBytes(12)
  const c = crypto.createCipheriv('aes-256-gcm', key, iv)
  c.setAAD(Buffer.from(`${pollId}\u0000${voter}`))
  const encPayload = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()])
  // the independent peer's own decryption reads it back
  const back = decryptPollVote({ encPayload, encIv: iv }, { pollEncKey: secret, pollCreatorJid: creator, pollMsgId: pollId, voterJid: voter })
  assert.deepEqual(back.selectedOptions.map((h) => Buffer.from(h).toString('hex')), options.map((o) => sha256(o).toString('hex')))
  return { encPayload, encIv: iv }
}

test('polls plugin: miaw sends polls to Baileys and reports Baileys\' decrypted votes', { timeout: 150000 }, async (t) => {
  const tmp = tmpDir('miaw-polls-')
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

  // miaw on account A with the example plugin (and nothing else) loaded
  const pluginDir = path.join(tmp, 'plugins')
  fs.mkdirSync(pluginDir)
  fs.copyFileSync(path.join(BUILD, 'example-plugins', 'polls.so'), path.join(pluginDir, 'polls.so'))
  const dataDir = path.join(tmp, 'miaw')
  fs.mkdirSync(dataDir)
  ctx.srv = await startServer({
    dataDir,
    pluginDir,
    config: `plugins:\n  dir: ${pluginDir}\n  enabled: [polls]\n`,
    env: {
      WA_WS_URL: sim.info.ws, WA_ROOT_KEY: sim.info.rootPublicKeyHex, MIAW_WA_PREKEYS: '40',
      MIAW_WA_BACKOFF_MIN_MS: '100', MIAW_WA_BACKOFF_MAX_MS: '400', MIAW_WEBHOOK_URL: rcv.url
    }
  })
  const srv = ctx.srv
  const status = async () => (await srv.api('GET', '/api/v1/instances/bot/status')).json.data.status
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201)

  // the route validates before anything is sent (the instance is not even connected)
  const bad = async (body, field) => {
    const r = await srv.api('POST', '/api/v1/instances/bot/polls', body)
    assert.equal(r.status, 400, r.text)
    assert.equal(r.json.success, false)
    assert.equal(r.json.error.code, 'INVALID_REQUEST')
    assert.equal(r.json.error.details?.field, field, r.text)
  }
  await bad({ to: B, name: 'Q', options: ['only one'] }, 'options')
  await bad({ to: B, name: 'Q', options: ['a', 'a'] }, 'options')
  await bad({ to: B, name: 'Q', options: ['a', ''] }, 'options[1]')
  await bad({ to: B, name: 'Q', options: ['a', 'b'], selectableCount: 3 }, 'selectableCount')
  await bad({ to: B, name: '', options: ['a', 'b'] }, 'name')
  await bad({ to: 'not a number', name: 'Q', options: ['a', 'b'] }, 'to')
  await bad({ to: B, name: 'Q', options: Array.from({ length: 13 }, (_, i) => `o${i}`) }, 'options')

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

  // 1. a single-select poll: Baileys gets a pollCreationMessageV3 with a messageSecret
  const create = async (body) => {
    const r = await srv.api('POST', '/api/v1/instances/bot/polls', body)
    assert.equal(r.status, 200, r.text)
    assert.equal(typeof r.json.data.messageId, 'string')
    assert.ok(r.json.data.timestamp > 1.6e12, `timestamp in ms: ${r.text}`)
    return r.json.data.messageId
  }
  const p1 = await create({ to: B, name: 'Lunch?', options: ['Pizza', 'Sushi', 'Salad'], selectableCount: 1 })
  const up1 = await until(() => b.upserts.find((m) => m.key.id === p1), 'Baileys received the single-select poll', 15000).catch(failLog)
  const c1 = up1.message.pollCreationMessageV3
  assert.ok(c1, `pollCreationMessageV3 expected: ${JSON.stringify(Object.keys(up1.message))}`)
  assert.equal(up1.message.pollCreationMessage ?? null, null)
  assert.equal(c1.name, 'Lunch?')
  assert.deepEqual(c1.options.map((o) => o.optionName), ['Pizza', 'Sushi', 'Salad'])
  assert.equal(c1.selectableOptionsCount, 1)
  const secret1 = Buffer.from(up1.message.messageContextInfo?.messageSecret ?? [])
  assert.equal(secret1.length, 32, 'a 32-byte messageSecret')
  assert.equal(up1.key.fromMe, false)

  // 2. a multi-select poll (any number): pollCreationMessage, count 0, another secret
  const p2 = await create({ to: jidOf(B), name: 'Which days?', options: ['Mon', 'Tue', 'Wed', 'Thu'] })
  const up2 = await until(() => b.upserts.find((m) => m.key.id === p2), 'Baileys received the multi-select poll', 15000).catch(failLog)
  const c2 = up2.message.pollCreationMessage
  assert.ok(c2, `pollCreationMessage expected: ${JSON.stringify(Object.keys(up2.message))}`)
  assert.equal(c2.name, 'Which days?')
  assert.deepEqual(c2.options.map((o) => o.optionName), ['Mon', 'Tue', 'Wed', 'Thu'])
  assert.equal(c2.selectableOptionsCount ?? 0, 0)
  const secret2 = Buffer.from(up2.message.messageContextInfo?.messageSecret ?? [])
  assert.equal(secret2.length, 32)
  assert.notDeepEqual(secret2, secret1, 'a fresh secret per poll')

  // 3. Baileys votes. The poll's key as Baileys holds it names the creator (remoteJid);
  // the voter is Baileys' own address in the same addressing (phone number or LID)
  // (or, lid = true, as a client in a LID-addressed chat: the poll's key names miaw's
  // LID and the voter is Baileys' LID, which miaw's plugin has to look up)
  const me = b.sock.user
  const vote = async (up, options, lid = false) => {
    const remoteJid = lid ? up.key.remoteJidAlt : up.key.remoteJid
    const creator = jidNormalizedUser(remoteJid)
    const voter = creator.endsWith('@lid') ? jidNormalizedUser(me.lid) : jidNormalizedUser(me.id)
    const secret = Buffer.from(up.message.messageContextInfo.messageSecret)
    const enc = encryptVote({ secret, pollId: up.key.id, creator, voter, options })
    const msg = {
      pollUpdateMessage: {
        pollCreationMessageKey: { remoteJid, fromMe: false, id: up.key.id },
        vote: enc,
        senderTimestampMs: Date.now()
      }
    }
    const id = `3EB0${crypto.randomBytes(8).toString('hex').toUpperCase()}`
    await b.sock.relayMessage(up.key.remoteJid, msg, { messageId: id, additionalNodes: [{ tag: 'meta', attrs: { polltype: 'vote' } }] })
    return { id, creator, voter }
  }
  const waitVote = async (pollId, n) => {
    await rcv.waitFor(() => events(rcv, 'poll_vote').filter((e) => e.data.pollId === pollId).length >= n, 15000,
      `poll_vote #${n} on ${pollId}`).catch(failLog)
    return events(rcv, 'poll_vote').filter((e) => e.data.pollId === pollId)[n - 1]
  }
  const v1 = await vote(up1, ['Sushi'])
  const e1 = await waitVote(p1, 1)
  assert.equal(e1.instanceId, 'bot')
  assert.deepEqual(e1.data.selectedOptions, ['Sushi'])
  assert.equal(e1.data.voter, jidOf(B), `voter as the core names users (vote keyed with ${v1.voter})`)
  assert.equal(e1.data.chat, jidOf(B))
  assert.equal(typeof e1.data.timestamp, 'number')

  const v2 = await vote(up2, ['Tue', 'Thu'])
  const e2 = await waitVote(p2, 1)
  assert.deepEqual(e2.data.selectedOptions, ['Tue', 'Thu'], `vote keyed with ${v2.creator} / ${v2.voter}`)

  // a changed vote replaces the earlier one; an empty one withdraws it
  await vote(up2, ['Mon'])
  assert.deepEqual((await waitVote(p2, 2)).data.selectedOptions, ['Mon'])
  await vote(up1, [])
  assert.deepEqual((await waitVote(p1, 2)).data.selectedOptions, [])
  // keyed with LIDs: the plugin learns Baileys' LID through a usync query (generic iq)
  assert.match(up2.key.remoteJidAlt ?? '', /@lid$/, `miaw's LID known to Baileys: ${JSON.stringify(up2.key)}`)
  assert.match(me.lid ?? '', /@lid$/)
  const v3 = await vote(up2, ['Mon', 'Wed'], true)
  assert.match(v3.voter, /@lid$/)
  const e3 = await waitVote(p2, 3)
  assert.deepEqual(e3.data.selectedOptions, ['Mon', 'Wed'])
  assert.equal(e3.data.voter, jidOf(B))
  await vote(up2, ['Mon'])
  assert.deepEqual((await waitVote(p2, 4)).data.selectedOptions, ['Mon'])

  // the plugin's own tally (kv)
  const g2 = await srv.api('GET', `/api/v1/instances/bot/polls/${p2}`)
  assert.equal(g2.status, 200, g2.text)
  assert.equal(g2.json.data.name, 'Which days?')
  assert.deepEqual(g2.json.data.results.map((r) => [r.name, r.voters]), [['Mon', [jidOf(B)]], ['Tue', []], ['Wed', []], ['Thu', []]])
  const g1 = await srv.api('GET', `/api/v1/instances/bot/polls/${p1}`)
  assert.deepEqual(g1.json.data.results.map((r) => r.voters.length), [0, 0, 0])
  const g404 = await srv.api('GET', '/api/v1/instances/bot/polls/NOPE')
  assert.equal(g404.status, 404)

  // a vote that does not decrypt (wrong secret) is not reported
  const before = events(rcv, 'poll_vote').length
  const forged = { ...up1, message: { ...up1.message, messageContextInfo: { messageSecret: crypto.randomBytes(32) } } }
  await vote(forged, ['Pizza'])
  await until(() => /vote on poll .* does not decrypt/.test(srv.logs()), 'the plugin logged the undecryptable vote', 15000).catch(failLog)
  assert.equal(events(rcv, 'poll_vote').length, before)

  // the route and the event are documented
  const doc = JSON.parse((await srv.api('GET', '/openapi.json', undefined, { noauth: true })).text)
  assert.ok(doc.paths['/instances/{instanceId}/polls'].post)
  assert.ok(doc.webhooks.poll_vote, 'poll_vote in the webhooks section')
  assert.doesNotMatch(srv.logs(), /Sanitizer|runtime error/)
})
