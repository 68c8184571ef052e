// tests/interop/nodegen.mjs - seeded generators of binary nodes in Baileys' shape
// ({tag, attrs, content}) for the interop tests and the codec bench: realistic stanzas
// (message, receipt, ack, iq, notification, presence, ...) with JIDs of every kind, and
// random nodes.
import { SINGLE_BYTE_TOKENS, DOUBLE_BYTE_TOKENS } from '@whiskeysockets/baileys/lib/WABinary/constants.js';

export function makeRng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = (arr) => arr[Math.floor(next() * arr.length)];
  const digits = (n) => Array.from({ length: n }, (_, i) => (i === 0 ? int(1, 9) : int(0, 9))).join('');
  const hexUpper = (n) => Array.from({ length: n }, () => '0123456789ABCDEF'[int(0, 15)]).join('');
  const bytes = (n) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
  return { next, int, pick, digits, hexUpper, bytes };
}

// JIDs of every kind Baileys writes (strings; Baileys turns them into JID_PAIR / AD_JID).
export function jid(r, kind) {
  switch (kind || r.pick(['pn', 'pnd', 'lid', 'lidd', 'group', 'server', 'bcast', 'status', 'news',
    'hosted', 'hostedlid', 'agent', 'pn0', 'legacygroup', 'cus', 'bot', 'call'])) {
    case 'pn': return `${r.digits(r.int(10, 13))}@s.whatsapp.net`;
    case 'pnd': return `${r.digits(11)}:${r.int(1, 99)}@s.whatsapp.net`;
    case 'pn0': return `${r.digits(11)}:0@s.whatsapp.net`;
    case 'lid': return `${r.digits(15)}@lid`;
    case 'lidd': return `${r.digits(15)}:${r.int(1, 40)}@lid`;
    case 'group': return `120363${r.digits(12)}@g.us`;
    case 'legacygroup': return `${r.digits(11)}-${r.digits(10)}@g.us`;
    case 'server': return r.pick(['@s.whatsapp.net', '@g.us', '@lid', '@broadcast', '@c.us', '@call']);
    case 'bcast': return `${r.digits(10)}@broadcast`;
    case 'status': return 'status@broadcast';
    case 'news': return `120363${r.digits(12)}@newsletter`;
    case 'hosted': return `${r.digits(11)}:${r.int(1, 99)}@hosted`;
    case 'hostedlid': return `${r.digits(15)}:${r.int(1, 99)}@hosted.lid`;
    case 'agent': return `${r.digits(11)}_${r.pick([2, 5, 17, 127, 200])}:${r.int(0, 20)}@s.whatsapp.net`;
    case 'cus': return r.pick(['server@c.us', '0@c.us', `${r.digits(11)}@c.us`]);
    case 'bot': return `${r.digits(11)}@bot`;
    case 'call': return `${r.hexUpper(32)}@call`;
    default: throw new Error('kind');
  }
}

const msgId = (r) => r.pick([() => '3EB0' + r.hexUpper(r.pick([6, 16, 18])), () => r.hexUpper(32),
  () => 'BAE5' + r.hexUpper(12), () => `${r.int(10000, 99999)}.${r.int(10000, 99999)}-${r.int(1, 999)}`])();
const ts = (r) => String(1700000000 + r.int(0, 99999999));

function encNode(r, type) {
  const size = r.pick([40, 90, 150, 255, 256, 300, 1200]);
  const attrs = { v: '2', type: type || r.pick(['msg', 'pkmsg', 'skmsg']) };
  if (r.next() < 0.3) attrs.mediatype = r.pick(['image', 'video', 'document', 'audio', 'sticker']);
  return { tag: 'enc', attrs, content: r.bytes(size) };
}

const templates = [
  (r) => ({ // outgoing 1:1 message with fan-out
    tag: 'message', attrs: { id: msgId(r), to: jid(r, r.pick(['pn', 'lid'])), type: 'text' },
    content: [
      { tag: 'participants', attrs: {}, content: Array.from({ length: r.int(1, 4) }, () => ({
        tag: 'to', attrs: { jid: jid(r, r.pick(['pnd', 'lidd', 'pn'])) }, content: [encNode(r, r.pick(['msg', 'pkmsg']))] })) },
      { tag: 'device-identity', attrs: {}, content: r.bytes(r.int(100, 200)) },
    ],
  }),
  (r) => { // incoming message
    const group = r.next() < 0.5;
    const attrs = { from: jid(r, group ? 'group' : r.pick(['pn', 'lid'])), id: msgId(r), t: ts(r), type: r.pick(['text', 'media']), notify: r.pick(['Alice', 'Bob 🙂', 'Zoë', '']) };
    if (group) attrs.participant = jid(r, r.pick(['pnd', 'lidd', 'pn', 'lid']));
    if (r.next() < 0.3) attrs.offline = String(r.int(0, 3));
    if (r.next() < 0.3) attrs.participant_pn = jid(r, 'pn');
    return { tag: 'message', attrs, content: group ? [encNode(r, 'pkmsg'), encNode(r, 'skmsg')] : [encNode(r)] };
  },
  (r) => { // receipt with list
    const attrs = { id: msgId(r), to: jid(r), t: ts(r) };
    const ty = r.pick(['read', 'read-self', 'played', 'retry', 'sender', 'inactive', 'peer_msg', undefined]);
    if (ty) attrs.type = ty;
    if (r.next() < 0.4) attrs.participant = jid(r, r.pick(['pnd', 'lidd']));
    const n = { tag: 'receipt', attrs };
    if (r.next() < 0.5) n.content = [{ tag: 'list', attrs: {}, content: Array.from({ length: r.int(1, 5) }, () => ({ tag: 'item', attrs: { id: msgId(r) } })) }];
    if (ty === 'retry') n.content = [{ tag: 'retry', attrs: { count: String(r.int(1, 5)), id: attrs.id, t: attrs.t, v: '1' } },
      { tag: 'registration', attrs: {}, content: r.bytes(4) }];
    return n;
  },
  (r) => ({ tag: 'ack', attrs: { class: r.pick(['receipt', 'message', 'notification', 'call']), id: msgId(r), from: jid(r), ...(r.next() < 0.5 ? { type: r.pick(['read', 'delivery', 'encrypt']) } : {}), ...(r.next() < 0.3 ? { participant: jid(r, 'pnd') } : {}) } }),
  (r) => ({ // usync query
    tag: 'iq', attrs: { id: msgId(r), to: '@s.whatsapp.net', type: 'get', xmlns: 'usync' },
    content: [{ tag: 'usync', attrs: { sid: msgId(r), mode: 'query', last: 'true', index: '0', context: r.pick(['message', 'interactive', 'background']) },
      content: [
        { tag: 'query', attrs: {}, content: [{ tag: 'devices', attrs: { version: '2' } }, { tag: 'lid', attrs: {} }] },
        { tag: 'list', attrs: {}, content: Array.from({ length: r.int(1, 6) }, () => ({ tag: 'user', attrs: { jid: jid(r, r.pick(['pn', 'lid'])) } })) },
      ] }],
  }),
  (r) => ({ // usync result
    tag: 'iq', attrs: { from: '@s.whatsapp.net', type: 'result', id: msgId(r) },
    content: [{ tag: 'usync', attrs: {}, content: [{ tag: 'list', attrs: {}, content: Array.from({ length: r.int(1, 3) }, () => ({
      tag: 'user', attrs: { jid: jid(r, 'pn') }, content: [
        { tag: 'devices', attrs: {}, content: [
          { tag: 'device-list', attrs: {}, content: Array.from({ length: r.int(1, 4) }, (_, i) => ({ tag: 'device', attrs: i ? { id: String(r.int(1, 30)), 'key-index': String(r.int(1, 9)) } : { id: '0' } })) },
          { tag: 'key-index-list', attrs: { ts: ts(r) }, content: r.bytes(r.int(60, 120)) }] },
        { tag: 'lid', attrs: { val: jid(r, 'lid') } }] })) }] }],
  }),
  (r) => ({ // device notification
    tag: 'notification', attrs: { from: jid(r, r.pick(['pn', 'lid'])), id: String(r.int(100000000, 4000000000)), t: ts(r), type: 'devices' },
    content: [{ tag: r.pick(['add', 'remove', 'update']), attrs: { device_hash: r.pick(['2:47DEQpj8', 'Xa91b2']) }, content: [
      { tag: 'device', attrs: { jid: jid(r, r.pick(['pnd', 'lidd'])) } },
      { tag: 'key-index-list', attrs: { ts: ts(r) }, content: r.bytes(40) }] }],
  }),
  (r) => ({ // group notification
    tag: 'notification', attrs: { from: jid(r, 'group'), id: String(r.int(1e9, 4e9)), participant: jid(r, r.pick(['pn', 'lid'])), t: ts(r), type: 'w:gp2', notify: 'Carol' },
    content: [{ tag: r.pick(['add', 'remove', 'promote', 'demote']), attrs: { reason: 'invite' }, content: Array.from({ length: r.int(1, 5) }, () => ({ tag: 'participant', attrs: { jid: jid(r, 'lid'), phone_number: jid(r, 'pn') } })) }],
  }),
  (r) => r.pick([ // presence and chat state
    () => ({ tag: 'presence', attrs: { type: 'available', name: r.pick(['Alice', 'Bob', 'José 🚀']) } }),
    () => ({ tag: 'presence', attrs: { from: jid(r, 'pn'), type: 'unavailable', last: r.pick(['deny', ts(r)]) } }),
    () => ({ tag: 'presence', attrs: { type: 'subscribe', to: jid(r, r.pick(['pn', 'lid'])) } }),
    () => ({ tag: 'chatstate', attrs: { from: jid(r, r.pick(['pn', 'group'])), ...(r.next() < 0.5 ? { participant: jid(r, 'pn') } : {}) },
      content: [r.next() < 0.7 ? { tag: 'composing', attrs: r.next() < 0.3 ? { media: 'audio' } : {} } : { tag: 'paused', attrs: {} }] }),
  ])(),
  (r) => ({ // pre-key upload
    tag: 'iq', attrs: { xmlns: 'encrypt', type: 'set', to: '@s.whatsapp.net', id: msgId(r) },
    content: [
      { tag: 'registration', attrs: {}, content: r.bytes(4) },
      { tag: 'type', attrs: {}, content: Buffer.from([5]) },
      { tag: 'identity', attrs: {}, content: r.bytes(32) },
      { tag: 'list', attrs: {}, content: Array.from({ length: r.int(1, 30) }, () => ({ tag: 'key', attrs: {}, content: [{ tag: 'id', attrs: {}, content: r.bytes(3) }, { tag: 'value', attrs: {}, content: r.bytes(32) }] })) },
      { tag: 'skey', attrs: {}, content: [{ tag: 'id', attrs: {}, content: r.bytes(3) }, { tag: 'value', attrs: {}, content: r.bytes(32) }, { tag: 'signature', attrs: {}, content: r.bytes(64) }] },
    ],
  }),
  (r) => r.pick([ // session control
    () => ({ tag: 'success', attrs: { t: ts(r), props: String(r.int(1, 99)), lid: jid(r, 'lid'), display_name: '', abprops: String(r.int(1, 99)), location: 'frc', creation: ts(r) } }),
    () => ({ tag: 'stream:error', attrs: { code: r.pick(['515', '503', '401']) } }),
    () => ({ tag: 'stream:error', attrs: {}, content: [{ tag: 'conflict', attrs: { type: 'replaced' } }] }),
    () => ({ tag: 'failure', attrs: { reason: r.pick(['401', '403', '405']), location: 'frc' } }),
    () => ({ tag: 'ib', attrs: {}, content: [{ tag: 'offline', attrs: { count: String(r.int(0, 50)) } }] }),
    () => ({ tag: 'ib', attrs: {}, content: [{ tag: 'edge_routing', attrs: {}, content: [{ tag: 'routing_info', attrs: {}, content: r.bytes(12) }] }] }),
    () => ({ tag: 'iq', attrs: { id: msgId(r), to: '@s.whatsapp.net', type: 'get', xmlns: 'w:p' }, content: [{ tag: 'ping', attrs: {} }] }),
    () => ({ tag: 'iq', attrs: { from: '@s.whatsapp.net', type: 'result', id: msgId(r) } }),
  ])(),
  (r) => ({ // pairing
    tag: 'iq', attrs: { from: '@s.whatsapp.net', type: 'set', id: msgId(r), xmlns: 'md' },
    content: [{ tag: r.pick(['pair-device', 'pair-success']), attrs: {}, content: Array.from({ length: r.int(1, 6) }, () => ({ tag: 'ref', attrs: {}, content: Buffer.from('2@' + r.hexUpper(40) + ',' + r.hexUpper(20)) })) }],
  }),
  (r) => ({ // group metadata
    tag: 'iq', attrs: { from: '@g.us', id: msgId(r), type: 'result' },
    content: [{ tag: 'group', attrs: { id: jid(r, 'group').split('@')[0], creator: jid(r, 'pn'), creation: ts(r), subject: r.pick(['Family 👪', 'Work', 'Ünïcödé 群组']), s_t: ts(r), s_o: jid(r, 'pn'), addressing_mode: r.pick(['pn', 'lid']) },
      content: [...Array.from({ length: r.int(1, 8) }, () => ({ tag: 'participant', attrs: { jid: jid(r, r.pick(['pn', 'lid'])), ...(r.next() < 0.3 ? { type: 'admin' } : {}) } })),
        { tag: 'description', attrs: { id: msgId(r) }, content: [{ tag: 'body', attrs: {}, content: Buffer.from('Group rules: be nice.') }] },
        { tag: 'member_add_mode', attrs: {}, content: Buffer.from('admin_add') }] }],
  }),
  (r) => ({ // media_conn
    tag: 'iq', attrs: { from: '@s.whatsapp.net', type: 'result', id: msgId(r) },
    content: [{ tag: 'media_conn', attrs: { auth: 'AZ' + r.hexUpper(60).toLowerCase(), ttl: '300', auth_ttl: '21600', max_buckets: '12' },
      content: [{ tag: 'host', attrs: { hostname: 'mmg.whatsapp.net' } }, { tag: 'host', attrs: { hostname: '127.0.0.1', maxContentLengthBytes: '104857600' } }] }],
  }),
  (r) => ({ // text-ish contents: tokens, packed, raw strings, JID content
    tag: 'iq', attrs: { id: msgId(r), type: 'result', from: jid(r) },
    content: [{ tag: 'status', attrs: { t: ts(r) }, content: r.pick(['Hey there! I am using WhatsApp.', 'available', 'text', '12345', 'ABCDEF', '']) },
      { tag: 'picture', attrs: { id: String(r.int(1, 1e9)), type: 'image', url: 'https://pps.whatsapp.net/v/t61/' + r.hexUpper(10) }, content: r.bytes(r.pick([10, 300, 70000])) },
      { tag: 'jid', attrs: {}, content: jid(r) }],
  }),
];

export function realisticNodes(r, perTemplate = 24) {
  const out = [];
  for (const t of templates) for (let i = 0; i < perTemplate; i++) out.push(t(r));
  return out;
}

// Random nodes. Strings never contain '@' (Baileys would write them as JIDs) except real JIDs.
const singles = SINGLE_BYTE_TOKENS.slice(1);
const doubles = DOUBLE_BYTE_TOKENS.flat();
function randomString(r) {
  switch (r.int(0, 11)) {
    case 0: return r.pick(singles);
    case 1: return r.pick(doubles);
    case 2: return r.digits(r.int(1, 20));
    case 3: return Array.from({ length: r.int(1, 127) }, () => r.pick('0123456789-.')).join('');
    case 4: return r.hexUpper(r.int(1, 127));
    case 5: return r.hexUpper(r.int(4, 40)).toLowerCase();
    case 6: return Array.from({ length: r.int(1, 40) }, () => r.pick('abcdefghijklmnopqrstuvwxyz_:-/.ABC 0123')).join('');
    case 7: return r.pick(['é', 'ü', '😀', '中文', 'ñandú', 'Ω≈ç√']).repeat(r.int(1, 5));
    case 8: return 'x'.repeat(r.pick([128, 200, 255, 256, 300, 1000]));
    case 9: return jid(r);
    case 10: return '';
    default: return r.digits(r.int(128, 140));
  }
}
function randomKey(r) {
  return r.next() < 0.5 ? r.pick(singles.filter((s) => !/^\d+$/.test(s)))
    : Array.from({ length: r.int(1, 12) }, () => r.pick('abcdefghijklmnopqrstuvwxyz_-')).join('');
}
export function randomNode(r, depth) {
  const tag = r.next() < 0.6 ? r.pick([...singles, ...doubles].filter((s) => !s.includes('@'))) : Array.from({ length: r.int(1, 10) }, () => r.pick('abcdefghijklmnopqrstuvwxyz:_-')).join('');
  const attrs = {};
  for (let i = r.int(0, 7); i > 0; i--) attrs[randomKey(r)] = randomString(r);
  const n = { tag, attrs };
  const k = r.int(0, depth >= 4 ? 3 : 5);
  if (k === 1) n.content = r.bytes(r.pick([0, 1, 17, 255, 256, 4000]));
  else if (k === 2) n.content = randomString(r);
  else if (k === 3) n.content = [];
  else if (k >= 4) n.content = Array.from({ length: r.int(1, 5) }, () => randomNode(r, depth + 1));
  return n;
}

// JID forms Baileys never writes itself: C JSON input and the tree Baileys must decode.
export function cOnlyJidNodes() {
  const mk = (j, s) => ({ c: { tag: 'x', attrs: [['jid', { jid: j }]], content: { jid: j } }, b: { tag: 'x', attrs: { jid: s }, content: s } });
  return [
    mk('100012345:5@msgr', '100012345:5@msgr'),
    mk('7-abc:300@interop', '7-abc:300@interop'),
    mk('65535-15551234567:65535@interop', '65535-15551234567:65535@interop'),
    mk('123456789012345:0@lid', '123456789012345@lid'),
    mk('15551234567_5:3@s.whatsapp.net', '15551234567:3@s.whatsapp.net'),
    mk('15551234567:0@hosted', '15551234567@hosted'),
  ];
}
