// tests/integration/messages_media.test.mjs - the messages plugin's media routes against
// miaw-sim: each kind (image, video, audio, voice note, document, sticker) sent by JSON
// base64, by url (a local HTTP server) and by multipart/form-data; the simulated phone
// receives and decrypts each (mediaOk) with the fields the message should carry (width,
// height, thumbnail, seconds, ptt + waveform, WebP 512x512 sticker, isAnimated, fileName,
// viewOnce, quote); refusals (wrong type 400 with details.field, oversized 413 naming the
// field, unreachable url 400); an image a phone sent: the `message` webhook's media summary
// and GET .../messages/{id}/media (whole, Range 206, 416), 404 for a text message and an
// unknown id; a document's Content-Disposition; video, audio, a voice note and stickers a
// phone sent: the typed summary (mimetype, seconds, ptt, width/height, isAnimated) and
// the exact bytes back from GET .../media. Fixtures: tests/integration/fixtures/media.
// Env: MIAW_BUILD_DIR (default build).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { ROOT, startServer, tempDir, waitFor, freePort } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { startSim, simEnv, events, pairByQr } from './lib/sim.mjs';

const ME = '15550006666';
const BOB = '15550007777';
const FIX = join(ROOT, 'tests/integration/fixtures/media');
const fx = (n) => readFileSync(join(FIX, n));
const b64 = (b) => b.toString('base64');
const sha256 = (b) => createHash('sha256').update(b).digest();
const ctx = {};

/** a local HTTP server: /f/<fixture>, /big (300 KB), /redirect -> /f/img.jpg */
function startFiles() {
  const srv = createServer((req, res) => {
    if (req.url.startsWith('/f/')) {
      try { const b = fx(req.url.slice(3)); res.writeHead(200, { 'content-length': b.length }); res.end(b); } catch { res.writeHead(404); res.end(); }
    } else if (req.url === '/big') {
      res.writeHead(200); res.end(randomBytes(300000));
    } else if (req.url === '/redirect') {
      res.writeHead(302, { location: '/f/img.jpg' }); res.end();
    } else { res.writeHead(404); res.end('no'); }
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r({ srv, url: `http://127.0.0.1:${srv.address().port}` })));
}

const send = (kind, body) => ctx.srv.api('POST', `/api/v1/instances/bot/messages/${kind}`, body);

async function sendForm(kind, fields, file, name = 'upload.bin', type = 'application/octet-stream') {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, String(v));
  if (file) fd.append('file', new Blob([file], { type }), name);
  const r = await fetch(`${ctx.srv.url}/api/v1/instances/bot/messages/${kind}`,
    { method: 'POST', headers: { authorization: `Bearer ${ctx.srv.apiKey}` }, body: fd });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text };
}

/** what Bob's phone received with this id (decrypted and checked by the simulator) */
async function phoneGot(id) {
  return waitFor(async () => {
    const r = await ctx.sim.api('GET', `/sim/accounts/${BOB}/messages`);
    return r.json.messages.find((m) => m.id === id);
  }, { timeoutMs: 15000, what: `message ${id} on the phone` });
}

async function sentOk(r, kind) {
  assert.equal(r.status, 200, r.text);
  assert.match(r.json.data.messageId, /^3EB0/);
  assert.ok(Math.abs(r.json.data.timestamp - Date.now()) < 120000);
  const m = await phoneGot(r.json.data.messageId);
  assert.equal(m.type, kind, JSON.stringify(m));
  assert.equal(m.mediaOk, true, JSON.stringify(m));
  return m;
}

function expectError(r, status, code, field) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.success, false);
  assert.equal(r.json.error.code, code, r.text);
  if (field && (status === 400 || status === 413)) assert.equal(r.json.error.details?.field, field, r.text);
  if (field) assert.match(r.json.error.message, new RegExp(field), r.text);
}

before(async () => {
  ctx.tmp = tempDir('miaw-mmedia-');
  (await import('node:fs')).mkdirSync(join(ctx.tmp, 'data'));
  ctx.sim = await startSim({ stateDir: join(ctx.tmp, 'sim') });
  ctx.rcv = await startReceiver();
  ctx.files = await startFiles();
  const caPem = await (await fetch(`http://127.0.0.1:${ctx.sim.info.port}/sim/media-ca`)).text();
  const caFile = join(ctx.tmp, 'media-ca.pem');
  (await import('node:fs')).writeFileSync(caFile, caPem);
  ctx.dl = join(ctx.tmp, 'media');
  const config = `plugins:\n  config:\n    messages:\n      limits: {image: 200000, video: 2000000, document: 250000}\n` +
    `      fetchTimeoutMs: 5000\n      autoDownload: [bot]\n      downloadDir: ${ctx.dl}\n      tmpDir: ${ctx.tmp}\n`;
  ctx.srv = await startServer({
    dataDir: join(ctx.tmp, 'data'), plugins: ['messages'], config,
    env: simEnv(ctx.sim, { WA_MEDIA_CA_FILE: caFile, MIAW_WEBHOOK_URL: ctx.rcv.url }),
  });
  assert.equal((await ctx.srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201);
  assert.equal((await ctx.sim.api('POST', '/sim/accounts', { phone: BOB, name: 'Bob' })).status, 201);
  await pairByQr(ctx.srv, ctx.sim, 'bot', ME, { name: 'Me' });
});

after(async () => {
  let logs = '', exit = null;
  if (ctx.srv) {
    await ctx.srv.stop();
    logs = ctx.srv.logs();
    exit = await ctx.srv.exited;
  }
  if (ctx.sim) await ctx.sim.stop();
  if (ctx.rcv) await ctx.rcv.close();
  if (ctx.files) await new Promise((r) => ctx.files.srv.close(r));
  // no temporary file of the plugin left behind
  const left = ctx.tmp ? readdirSync(ctx.tmp).filter((f) => f.startsWith('miaw-')) : [];
  if (ctx.tmp) rmSync(ctx.tmp, { recursive: true, force: true });
  assert.deepEqual(left, []);
  if (ctx.srv) {
    assert.doesNotMatch(logs, /AddressSanitizer|LeakSanitizer|runtime error:/);
    assert.deepEqual(exit, { code: 0, sig: null });
  }
});

describe('media messages', { timeout: 300000 }, () => {
  it('images: PNG by base64 (converted to JPEG), JPEG by url and by multipart, view once, a quote', async () => {
    let r = await send('image', { to: BOB, base64: b64(fx('img.png')), caption: 'a png' });
    let m = await sentOk(r, 'image');
    assert.equal(m.mimetype, 'image/jpeg');
    assert.equal(m.caption, 'a png');
    assert.equal(m.width, 200);
    assert.equal(m.height, 150);
    assert.ok(m.thumbnailLength > 200 && m.thumbnailLength < 16000, JSON.stringify(m));
    const first = r.json.data.messageId;
    // a media send is acknowledged by the server like a text: message_ack "server"
    await waitFor(() => events(ctx.rcv, 'message_ack').find((e) => e.data.messageId === first && e.data.status === 'server'),
      { what: 'message_ack server for an image' });

    r = await send('image', { to: BOB, url: `${ctx.files.url}/redirect`, quotedMessageId: first });
    m = await sentOk(r, 'image');
    assert.equal(m.width, 320);
    assert.equal(m.height, 240);
    assert.equal(m.fileLength, fx('img.jpg').length); // a JPEG goes as it is
    assert.equal(m.mediaSha256, b64(sha256(fx('img.jpg'))));
    assert.equal(m.quotedId, first);

    r = await sendForm('image', { to: BOB, caption: 'form', viewOnce: 'true' }, fx('img.webp'), 'pic.webp', 'image/webp');
    m = await sentOk(r, 'image');
    assert.equal(m.viewOnce, true);
    assert.equal(m.width, 300);
    assert.equal(m.caption, 'form');
  });

  it('video, audio and voice notes: duration, size, thumbnail, waveform', async () => {
    let r = await send('video', { to: BOB, base64: b64(fx('vid.mp4')), caption: 'clip' });
    let m = await sentOk(r, 'video');
    assert.equal(m.seconds, 2);
    assert.equal(m.width, 160);
    assert.equal(m.height, 120);
    assert.ok(m.thumbnailLength > 100);
    assert.equal(m.mimetype, 'video/mp4');

    r = await sendForm('audio', { to: BOB, ptt: 'true' }, fx('voice.ogg'), 'note.ogg', 'audio/ogg');
    m = await sentOk(r, 'audio');
    assert.equal(m.ptt, true);
    assert.equal(m.seconds, 3);
    assert.equal(m.waveformLength, 64);
    assert.equal(m.mimetype, 'audio/ogg; codecs=opus');

    r = await send('audio', { to: BOB, url: `${ctx.files.url}/f/song.mp3` });
    m = await sentOk(r, 'audio');
    assert.equal(m.ptt, false);
    assert.equal(m.seconds, 2);
    assert.equal(m.mimetype, 'audio/mpeg');
    assert.equal(m.waveformLength, undefined);
  });

  it('documents and stickers', async () => {
    let r = await sendForm('document', { to: BOB, caption: 'the report' }, fx('doc.pdf'), 'report.pdf', 'application/pdf');
    let m = await sentOk(r, 'document');
    assert.equal(m.fileName, 'report.pdf');
    assert.equal(m.mimetype, 'application/pdf');
    assert.equal(m.mediaSha256, b64(sha256(fx('doc.pdf'))));

    r = await send('document', { to: BOB, url: `${ctx.files.url}/f/song.mp3`, fileName: 'tune.mp3' });
    m = await sentOk(r, 'document');
    assert.equal(m.fileName, 'tune.mp3');
    assert.equal(m.mimetype, 'audio/mpeg');

    r = await send('sticker', { to: BOB, base64: b64(fx('img.png')) });
    m = await sentOk(r, 'sticker');
    assert.equal(m.mimetype, 'image/webp');
    assert.equal(m.width, 512);
    assert.equal(m.height, 512);
    assert.equal(m.isAnimated, false);
    assert.ok(m.mediaLength <= 100 * 1024);

    r = await send('sticker', { to: BOB, url: `${ctx.files.url}/f/anim.webp` });
    m = await sentOk(r, 'sticker');
    assert.equal(m.isAnimated, true);
    assert.equal(m.mediaSha256, b64(sha256(fx('anim.webp'))));

    r = await sendForm('sticker', { to: BOB }, fx('sticker.webp'), 's.webp', 'image/webp');
    m = await sentOk(r, 'sticker');
    assert.equal(m.mediaSha256, b64(sha256(fx('sticker.webp')))); // 512x512 WebP: as it is
  });

  it('refuses wrong types (400), oversized files (413) and unreachable urls, naming the field', async () => {
    const blob = randomBytes(3000);
    expectError(await send('image', { to: BOB, base64: b64(blob) }), 400, 'INVALID_REQUEST', 'base64');
    expectError(await sendForm('image', { to: BOB }, blob, 'x.jpg', 'image/jpeg'), 400, 'INVALID_REQUEST', 'file');
    expectError(await send('video', { to: BOB, url: `${ctx.files.url}/f/img.jpg` }), 400, 'INVALID_REQUEST', 'url');
    expectError(await send('audio', { to: BOB, base64: b64(fx('img.png')) }), 400, 'INVALID_REQUEST', 'base64');
    expectError(await send('sticker', { to: BOB, base64: b64(fx('doc.pdf')) }), 400, 'INVALID_REQUEST', 'base64');
    // limits (configured: image 200000, document 250000)
    const big = randomBytes(260000);
    expectError(await send('image', { to: BOB, base64: b64(big) }), 413, 'PAYLOAD_TOO_LARGE', 'base64');
    expectError(await sendForm('document', { to: BOB }, big, 'big.bin'), 413, 'PAYLOAD_TOO_LARGE', 'file');
    expectError(await send('document', { to: BOB, url: `${ctx.files.url}/big` }), 413, 'PAYLOAD_TOO_LARGE', 'url');
    // urls
    const dead = await freePort();
    expectError(await send('image', { to: BOB, url: `http://127.0.0.1:${dead}/x.jpg` }), 400, 'INVALID_REQUEST', 'url');
    expectError(await send('image', { to: BOB, url: `${ctx.files.url}/missing` }), 400, 'INVALID_REQUEST', 'url');
    expectError(await send('image', { to: BOB, url: 'ftp://127.0.0.1/x.jpg' }), 400, 'INVALID_REQUEST', 'url');
    // request shape
    expectError(await send('image', { to: BOB }), 400, 'INVALID_REQUEST', 'file');
    expectError(await send('image', { to: BOB, base64: 'AAAA', url: `${ctx.files.url}/f/img.jpg` }), 400, 'INVALID_REQUEST', 'url');
    expectError(await send('image', { to: 'nobody', base64: b64(fx('img.jpg')) }), 400, 'INVALID_REQUEST', 'to');
    expectError(await send('audio', { to: BOB, base64: 'AAAA', ptt: 'yes' }), 400, 'INVALID_REQUEST', 'ptt');
    expectError(await send('document', { to: BOB, base64: b64(fx('doc.pdf')), viewOnce: true }), 400, 'INVALID_REQUEST', 'viewOnce');
    expectError(await send('image', { to: BOB, base64: '!!not base64!!' }), 400, 'INVALID_REQUEST', 'base64');
  });

  it('received media: the webhook\'s media summary, GET .../media with ranges, 404s, auto-download', async () => {
    const img = fx('img.jpg');
    let r = await ctx.sim.api('POST', `/sim/accounts/${BOB}/messages`,
      { to: ME, image: { base64: b64(img), mimetype: 'image/jpeg', caption: 'from bob' } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const id = r.json.id;
    const ev = await waitFor(() => events(ctx.rcv, 'message').find((e) => e.data.id === id), { what: 'message webhook' });
    const media = ev.data.media;
    assert.ok(media, JSON.stringify(ev.data));
    assert.equal(media.type, 'image');
    assert.equal(media.mimetype, 'image/jpeg');
    assert.equal(media.fileLength, img.length);
    assert.equal(media.sha256, sha256(img).toString('hex'));
    assert.equal(media.caption, 'from bob');
    assert.equal(media.path, `/api/v1/instances/bot/messages/${id}/media`);

    const get = (path, headers = {}) => fetch(ctx.srv.url + path, { headers: { authorization: `Bearer ${ctx.srv.apiKey}`, ...headers } });
    let g = await get(media.path);
    assert.equal(g.status, 200);
    assert.equal(g.headers.get('content-type'), 'image/jpeg');
    assert.equal(g.headers.get('content-length'), String(img.length));
    assert.match(g.headers.get('content-disposition') || '', /inline/);
    assert.ok(Buffer.from(await g.arrayBuffer()).equals(img));
    g = await get(media.path, { range: 'bytes=100-1099' });
    assert.equal(g.status, 206);
    assert.equal(g.headers.get('content-range'), `bytes 100-1099/${img.length}`);
    assert.ok(Buffer.from(await g.arrayBuffer()).equals(img.subarray(100, 1100)));
    g = await get(media.path, { range: `bytes=${img.length + 10}-` });
    assert.equal(g.status, 416);
    await g.arrayBuffer();
    // auto-download (autoDownload: [bot]) kept the same bytes
    const saved = join(ctx.dl, 'bot', `${id}.jpg`);
    await waitFor(() => { try { return readFileSync(saved).equals(img); } catch { return false; } }, { what: saved });

    // a document from the phone: attachment with its file name
    const pdf = fx('doc.pdf');
    r = await ctx.sim.api('POST', `/sim/accounts/${BOB}/messages`,
      { to: ME, document: { base64: b64(pdf), mimetype: 'application/pdf', fileName: 'terms.pdf' } });
    const did = r.json.id;
    await waitFor(() => events(ctx.rcv, 'message').find((e) => e.data.id === did), { what: 'document webhook' });
    // remove the auto-downloaded copy: the route downloads it again itself
    await waitFor(() => { try { rmSync(join(ctx.dl, 'bot', `${did}.pdf`)); return true; } catch { return false; } }, { what: 'auto-downloaded pdf' });
    g = await get(`/api/v1/instances/bot/messages/${did}/media`);
    assert.equal(g.status, 200);
    assert.match(g.headers.get('content-disposition') || '', /attachment/);
    assert.match(g.headers.get('content-disposition') || '', /terms\.pdf/);
    assert.ok(Buffer.from(await g.arrayBuffer()).equals(pdf));

    // a text message has no media; an unknown id is unknown
    r = await ctx.sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, text: 'no media here' });
    const tid = r.json.id;
    await waitFor(() => events(ctx.rcv, 'message').find((e) => e.data.id === tid), { what: 'text webhook' });
    assert.equal(events(ctx.rcv, 'message').find((e) => e.data.id === tid).data.media, undefined);
    let e = await ctx.srv.api('GET', `/api/v1/instances/bot/messages/${tid}/media`);
    assert.equal(e.status, 404);
    assert.equal(e.json.error.code, 'NOT_FOUND');
    e = await ctx.srv.api('GET', '/api/v1/instances/bot/messages/3EB0FFFFFFFFFFFFFFFFFF/media');
    assert.equal(e.status, 404);
    e = await ctx.srv.api('GET', '/api/v1/instances/nope/messages/x/media');
    assert.equal(e.json.error.code, 'INSTANCE_NOT_FOUND');
    // a media message we sent is downloadable too
    r = await send('image', { to: BOB, base64: b64(img) });
    assert.equal(r.status, 200, r.text);
    g = await get(`/api/v1/instances/bot/messages/${r.json.data.messageId}/media`);
    assert.equal(g.status, 200);
    assert.ok(Buffer.from(await g.arrayBuffer()).equals(img));
  });

  it('received video, audio, voice notes and stickers: typed summaries and the exact bytes', async () => {
    const get = (path) => fetch(ctx.srv.url + path, { headers: { authorization: `Bearer ${ctx.srv.apiKey}` } });
    const cases = [
      { kind: 'video', file: 'vid.mp4', obj: { mimetype: 'video/mp4', caption: 'clip', seconds: 2, width: 160, height: 120 },
        want: { type: 'video', mimetype: 'video/mp4', caption: 'clip', seconds: 2, width: 160, height: 120 }, ext: 'mp4' },
      { kind: 'audio', file: 'song.mp3', obj: { mimetype: 'audio/mpeg', seconds: 2 },
        want: { type: 'audio', mimetype: 'audio/mpeg', seconds: 2, ptt: false } },
      { kind: 'audio', file: 'voice.ogg', obj: { seconds: 3, ptt: true }, // mimetype defaults for a voice note
        want: { type: 'audio', mimetype: 'audio/ogg; codecs=opus', seconds: 3, ptt: true } },
      { kind: 'sticker', file: 'sticker.webp', obj: { width: 512, height: 512 },
        want: { type: 'sticker', mimetype: 'image/webp', width: 512, height: 512, isAnimated: false } },
      { kind: 'sticker', file: 'anim.webp', obj: { width: 512, height: 512, isAnimated: true },
        want: { type: 'sticker', mimetype: 'image/webp', isAnimated: true } },
    ];
    for (const c of cases) {
      const bytes = fx(c.file);
      const r = await ctx.sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, [c.kind]: { base64: b64(bytes), ...c.obj } });
      assert.equal(r.status, 201, `${c.file}: ${JSON.stringify(r.json)}`);
      const id = r.json.id;
      const ev = await waitFor(() => events(ctx.rcv, 'message').find((e) => e.data.id === id), { what: `${c.file} webhook` });
      const media = ev.data.media;
      assert.ok(media, JSON.stringify(ev.data));
      for (const [k, v] of Object.entries(c.want)) assert.equal(media[k], v, `${c.file} ${k}: ${JSON.stringify(media)}`);
      assert.equal(media.fileLength, bytes.length, c.file);
      assert.equal(media.sha256, sha256(bytes).toString('hex'), c.file);
      assert.equal(media.path, `/api/v1/instances/bot/messages/${id}/media`);
      // what the phone recorded as sent says the same
      const sent = (await ctx.sim.api('GET', `/sim/accounts/${BOB}/messages`)).json.sent.find((m) => m.id === id);
      assert.equal(sent.type, c.kind);
      assert.equal(sent.fileSha256, b64(sha256(bytes)));
      const g = await get(media.path);
      assert.equal(g.status, 200, c.file);
      assert.equal(g.headers.get('content-type'), c.want.mimetype, c.file);
      assert.ok(Buffer.from(await g.arrayBuffer()).equals(bytes), `${c.file}: GET .../media returned other bytes`);
    }
    // the simulator refuses what does not fit the kind, naming the field
    const bad = async (body, field) => {
      const r = await ctx.sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, ...body });
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal(r.json.error.field, field, JSON.stringify(r.json));
    };
    await bad({ audio: { base64: 'AAAA', ptt: 'yes' } }, 'ptt');
    await bad({ video: { base64: 'AAAA', seconds: -1 } }, 'seconds');
    await bad({ sticker: { base64: 'AAAA', width: 0 } }, 'width');
    await bad({ sticker: { base64: 'AAAA', caption: 'no' } }, 'sticker');
    await bad({ image: { base64: 'AAAA' }, video: { base64: 'AAAA' } }, 'image');
  });

  it('documents every route in OpenAPI, multipart included', async () => {
    const doc = (await ctx.srv.api('GET', '/openapi.json')).json;
    for (const k of ['image', 'video', 'audio', 'document', 'sticker']) {
      const op = doc.paths[`/instances/{instanceId}/messages/${k}`]?.post;
      assert.ok(op, k);
      assert.ok(op.requestBody.content['application/json'], k);
      assert.ok(op.requestBody.content['multipart/form-data'], `${k} multipart`);
      assert.ok(op.summary && op.description, k);
    }
    const get = doc.paths['/instances/{instanceId}/messages/{messageId}/media']?.get;
    assert.ok(get);
    assert.equal(get.operationId, 'downloadMedia');
  });

  it('deleting the instance removes its auto-downloaded files', async () => {
    const dir = join(ctx.dl, 'bot');
    assert.ok(readdirSync(dir).length > 0, 'files were auto-downloaded');
    const r = await ctx.srv.api('DELETE', '/api/v1/instances/bot');
    assert.equal(r.status, 200, r.text);
    await waitFor(() => { try { readdirSync(dir); return false; } catch (e) { return e.code === 'ENOENT'; } },
      { what: `${dir} removed` });
  });
});
