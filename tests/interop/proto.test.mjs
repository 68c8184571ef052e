// tests/interop/proto.test.mjs - miaw's .proto subset (compiled with protoc-c) against
// Baileys' WAProto (protobufjs): messages encoded by Baileys decode in C with equal content
// and re-encode to the same bytes; messages encoded in C decode in Baileys with equal
// content. The C side is tests/tools/proto_codec.c (wire bytes <-> JSON).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  proto, initAuthCreds, generateRegistrationNode, generateLoginNode, DEFAULT_CONNECTION_CONFIG
} from '@whiskeysockets/baileys'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '..', '..')
const codec = path.join(path.resolve(repo, process.env.MIAW_BUILD_DIR || 'build'), 'tools', 'proto_codec')

const cDecode = (type, bytes) => {
  const r = spawnSync(codec, ['decode', type], { input: Buffer.from(bytes) })
  assert.equal(r.status, 0, `C decode ${type}: ${r.stderr}`)
  return JSON.parse(r.stdout.toString())
}
const cEncode = (type, obj) => {
  const r = spawnSync(codec, ['encode', type], { input: JSON.stringify(obj) })
  assert.equal(r.status, 0, `C encode ${type}: ${r.stderr}`)
  return r.stdout
}
const typeOf = (name) => name.split('.').reduce((t, k) => t[k], proto)
const jsObject = (type, bytes) =>
  JSON.parse(JSON.stringify(typeOf(type).toObject(typeOf(type).decode(bytes), { longs: String, bytes: String, enums: Number })))
const jsEncode = (type, obj) => Buffer.from(typeOf(type).encode(typeOf(type).fromObject(obj)).finish())

const b = (hex) => Buffer.from(hex, 'hex')
const rnd = (n, seed) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed * 17) & 255))
const key = { remoteJid: '15551234567@s.whatsapp.net', fromMe: true, id: '3EB0C431C26A1916E07E' }
const media = {
  url: 'https://mmg.whatsapp.net/v/t62.7118-24/123?ccb=11-4', mimetype: 'image/jpeg',
  fileSha256: rnd(32, 1), fileEncSha256: rnd(32, 2), mediaKey: rnd(32, 3),
  directPath: '/v/t62.7118-24/123?ccb=11-4', mediaKeyTimestamp: '1700000000'
}
const quoted = { stanzaId: 'ABCDEF', participant: '15550001111@s.whatsapp.net', quotedMessage: { conversation: 'the original' }, remoteJid: '120363001234567890@g.us', mentionedJid: ['15550001111@s.whatsapp.net', '123456789012345@lid'], isForwarded: true, forwardingScore: 2, expiration: 604800 }

const creds = initAuthCreds()
const config = { ...DEFAULT_CONNECTION_CONFIG, browser: ['Mac OS', 'Safari', '14.4.1'], syncFullHistory: true, countryCode: 'BR', pushName: 'Miaw Test' }

// [type, object, sameBytes] - sameBytes=false where only the content must match
const samples = [
  ['ClientPayload', generateRegistrationNode(creds, config).toJSON()],
  ['ClientPayload', generateLoginNode('15551234567:12@s.whatsapp.net', config).toJSON()],
  ['ClientPayload', { username: '15551234567', passive: true, sessionId: -5, shards: [1, -2, 300], connectType: 1, connectReason: 1, device: 3, lc: 1, lidDbMigrated: true, dnsSource: { dnsMethod: 2, appCached: true } }, false],
  ['DeviceProps', { os: 'miaw', version: { primary: 0, secondary: 1, tertiary: 0 }, platformType: 0, requireFullSync: false, historySyncConfig: { storageQuotaMb: 10240, supportCallLogHistory: true, thumbnailSyncDaysLimit: 60 } }],
  ['HandshakeMessage', { clientHello: { ephemeral: rnd(32, 4) } }],
  ['HandshakeMessage', { serverHello: { ephemeral: rnd(32, 5), static: rnd(48, 6), payload: rnd(200, 7) } }],
  ['HandshakeMessage', { clientFinish: { static: rnd(48, 8), payload: rnd(300, 9) } }],
  ['CertChain', { leaf: { details: rnd(60, 10), signature: rnd(64, 11) }, intermediate: { details: rnd(60, 12), signature: rnd(64, 13) } }],
  ['CertChain.NoiseCertificate.Details', { serial: 2, issuerSerial: 1, key: rnd(32, 14), notBefore: '1700000000', notAfter: '18446744073709551615' }],
  ['ADVDeviceIdentity', { rawId: 3000000000, timestamp: '1700000123', keyIndex: 7, accountType: 0, deviceType: 1 }],
  ['ADVSignedDeviceIdentity', { details: rnd(20, 15), accountSignatureKey: rnd(32, 16), accountSignature: rnd(64, 17), deviceSignature: rnd(64, 18) }],
  ['ADVSignedDeviceIdentityHMAC', { details: rnd(150, 19), hmac: rnd(32, 20), accountType: 1 }],
  ['ADVKeyIndexList', { rawId: 42, timestamp: '1700000000', currentIndex: 5, validIndexes: [0, 3, 5, 1000], accountType: 0 }],
  ['ADVSignedKeyIndexList', { details: rnd(30, 21), accountSignature: rnd(64, 22), accountSignatureKey: rnd(32, 23) }],
  ['ClientPairingProps', { isChatDbLidMigrated: true, isSyncdPureLidSession: false, isSyncdSnapshotRecoveryEnabled: true }],
  ['MessageKey', { ...key, participant: '123456789012345:3@lid' }],
  ['Message', { conversation: 'hello from miaw — ünïcödé ✓ 🐱' }],
  ['Message', { extendedTextMessage: { text: 'reply with a link https://example.com', matchedText: 'https://example.com', title: 'Example', description: 'desc', previewType: 0, textArgb: 4294967295, backgroundArgb: 4278190080, font: 6, contextInfo: quoted }, messageContextInfo: { messageSecret: rnd(32, 24), deviceListMetadataVersion: 2, deviceListMetadata: { senderKeyHash: rnd(10, 25), senderTimestamp: '1700000000', senderKeyIndexes: [1, 2], recipientKeyHash: rnd(10, 26), recipientTimestamp: '1700000001' } } }],
  ['Message', { imageMessage: { ...media, caption: 'a cat', fileLength: '123456', height: 1080, width: 1920, jpegThumbnail: rnd(100, 27), viewOnce: true, contextInfo: { stanzaId: 'X1', participant: '1@s.whatsapp.net', quotedMessage: { imageMessage: { ...media, caption: 'nested' } } } } }],
  ['Message', { imageMessage: { ...media, scanLengths: [100, 200, 300], scansSidecar: rnd(40, 28), firstScanLength: 100 } }, false],
  ['Message', { videoMessage: { ...media, mimetype: 'video/mp4', seconds: 12, caption: 'vid', gifPlayback: true, gifAttribution: 1, fileLength: '9999999999', streamingSidecar: rnd(20, 29) } }],
  ['Message', { ptvMessage: { ...media, mimetype: 'video/mp4', seconds: 5 } }],
  ['Message', { audioMessage: { ...media, mimetype: 'audio/ogg; codecs=opus', seconds: 7, ptt: true, fileLength: '4242', waveform: rnd(64, 30), backgroundArgb: 4294901760 } }],
  ['Message', { documentMessage: { ...media, mimetype: 'application/pdf', title: 'report', fileName: 'report.pdf', pageCount: 3, fileLength: '77777', caption: 'see attached', contextInfo: quoted } }],
  ['Message', { documentWithCaptionMessage: { message: { documentMessage: { ...media, fileName: 'a.txt' } } } }],
  ['Message', { stickerMessage: { ...media, mimetype: 'image/webp', height: 512, width: 512, isAnimated: true, isAvatar: false, fileLength: '20000', stickerSentTs: '1700000000000', pngThumbnail: rnd(16, 31) } }],
  ['Message', { reactionMessage: { key, text: '👍', senderTimestampMs: '1700000000123' } }],
  ['Message', { reactionMessage: { key: { ...key, fromMe: false, participant: '15550001111@s.whatsapp.net' }, text: '', senderTimestampMs: '1700000000124' } }],
  ['Message', { protocolMessage: { key, type: 0 } }],
  ['Message', { protocolMessage: { key, type: 14, editedMessage: { conversation: 'edited text' }, timestampMs: '1700000000999' } }],
  ['Message', { editedMessage: { message: { protocolMessage: { key, type: 14, editedMessage: { extendedTextMessage: { text: 'edited' } }, timestampMs: '1700000001000' } } } }],
  ['Message', { protocolMessage: { type: 5, historySyncNotification: { fileSha256: rnd(32, 32), fileLength: '5000', mediaKey: rnd(32, 33), fileEncSha256: rnd(32, 34), directPath: '/v/t62.1/abc', syncType: 0, chunkOrder: 1, progress: 50, oldestMsgInChunkTimestampSec: '1690000000', originalMessageId: 'ABC', peerDataRequestSessionId: 's1' } } }],
  ['Message', { protocolMessage: { type: 6, appStateSyncKeyShare: { keys: [{ keyId: { keyId: rnd(6, 35) }, keyData: { keyData: rnd(32, 36), fingerprint: { rawId: 1, currentIndex: 2, deviceIndexes: [0, 1, 2] }, timestamp: '1700000000000' } }, { keyId: { keyId: rnd(6, 37) } }] } } }],
  ['Message', { protocolMessage: { type: 7, appStateSyncKeyRequest: { keyIds: [{ keyId: rnd(6, 38) }] } } }],
  ['Message', { senderKeyDistributionMessage: { groupId: '120363001234567890@g.us', axolotlSenderKeyDistributionMessage: rnd(120, 39) }, conversation: 'group hello' }],
  ['Message', { deviceSentMessage: { destinationJid: '15551234567@s.whatsapp.net', message: { conversation: 'sent from another device' }, phash: '2:abcdef' }, messageContextInfo: { messageSecret: rnd(32, 40) } }],
  ['Message', { viewOnceMessageV2: { message: { imageMessage: { ...media, viewOnce: true } } } }],
  ['Message', { ephemeralMessage: { message: { extendedTextMessage: { text: 'disappearing', contextInfo: { expiration: 86400, ephemeralSettingTimestamp: '1700000000' } } } } }],
  ['Message', { locationMessage: { degreesLatitude: -23.5505199, degreesLongitude: -46.6333094, name: 'São Paulo', address: 'Praça da Sé', speedInMps: 1.5, accuracyInMeters: 10 } }],
  ['Message', { contactMessage: { displayName: 'Miaw', vcard: 'BEGIN:VCARD\nVERSION:3.0\nFN:Miaw\nTEL;type=CELL;waid=15551234567:+1 555 123 4567\nEND:VCARD' } }]
]

test('Baileys-encoded protobufs decode in C with equal content and re-encode to the same bytes', () => {
  for (const [type, obj, sameBytes = true] of samples) {
    const bytes = jsEncode(type, obj)
    const want = jsObject(type, bytes)
    const got = cDecode(type, bytes)
    assert.deepEqual(got, want, `${type} ${JSON.stringify(obj).slice(0, 80)}`)
    const back = cEncode(type, got)
    if (sameBytes) assert.equal(back.toString('hex'), bytes.toString('hex'), `${type} bytes`)
    else assert.deepEqual(jsObject(type, back), want)
  }
})

test('C-encoded protobufs decode in Baileys with equal content', () => {
  for (const [type, obj] of samples) {
    const want = jsObject(type, jsEncode(type, obj)) // the canonical JSON form of obj
    const bytes = cEncode(type, want)
    assert.deepEqual(jsObject(type, bytes), want, type)
  }
})

test('fields outside the subset are skipped by the C decoder', () => {
  // liveLocationMessage (18) and a ContextInfo field we do not model (externalAdReply, 28)
  const obj = { conversation: 'x', liveLocationMessage: { degreesLatitude: 1.5, caption: 'live' }, extendedTextMessage: { text: 't', contextInfo: { stanzaId: 'S', externalAdReply: { title: 'ad' } } } }
  const bytes = jsEncode('Message', obj)
  const got = cDecode('Message', bytes)
  assert.deepEqual(got, { conversation: 'x', extendedTextMessage: { text: 't', contextInfo: { stanzaId: 'S' } } })
})

test('C refuses truncated and corrupt input', () => {
  const bytes = jsEncode('Message', { extendedTextMessage: { text: 'hello world', contextInfo: quoted } })
  for (const cut of [1, 5, bytes.length - 1]) {
    const r = spawnSync(codec, ['decode', 'Message'], { input: bytes.subarray(0, cut) })
    assert.notEqual(r.status, 0, `cut at ${cut}`)
  }
  const r = spawnSync(codec, ['decode', 'HandshakeMessage'], { input: b('12ff') })
  assert.notEqual(r.status, 0)
})
