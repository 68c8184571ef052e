// tests/integration/lib/receiver.mjs - a local webhook receiver for tests and benches:
// an HTTP server on 127.0.0.1 (free port) that records every request (raw body bytes,
// headers, arrival time) and answers according to a programmable mode: 200, any status,
// "hang" (never answers; the socket is destroyed at close), or a per-request function.
// Built-in modules only.
import { createServer } from 'node:http';

export async function startReceiver({ mode = 200, delayMs = 0 } = {}) {
  const requests = [];
  const waiters = [];
  const sockets = new Set();
  let active = 0;
  const rec = {
    requests, mode, delayMs, maxActive: 0,
    get url() { return `http://127.0.0.1:${rec.port}/hook`; },
    /** distinct X-Miaw-Event-Id values seen, in first-arrival order */
    distinctIds() {
      const seen = new Set();
      for (const r of requests) seen.add(r.headers['x-miaw-event-id']);
      return [...seen];
    },
    /** resolves once pred(requests) is true or rejects after timeoutMs */
    waitFor(pred, timeoutMs = 10000, what = 'requests') {
      if (pred(requests)) return Promise.resolve(requests);
      return new Promise((res, rej) => {
        const w = { pred, res };
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          rej(new Error(`receiver: timed out waiting for ${what} (have ${requests.length})`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    waitCount(n, timeoutMs = 10000) { return rec.waitFor((r) => r.length >= n, timeoutMs, `${n} requests`); },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
      for (const w of waiters.splice(0)) clearTimeout(w.timer);
    },
  };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks);
      const entry = { at: Date.now(), method: req.method, url: req.url, headers: req.headers, raw, body: raw.toString('utf8') };
      requests.push(entry);
      for (const w of [...waiters]) {
        if (w.pred(requests)) { clearTimeout(w.timer); waiters.splice(waiters.indexOf(w), 1); w.res(requests); }
      }
      active++;
      rec.maxActive = Math.max(rec.maxActive, active);
      let m = typeof rec.mode === 'function' ? rec.mode(entry, requests.length) : rec.mode;
      if (m && typeof m === 'object') { if (m.delayMs) await new Promise((r) => setTimeout(r, m.delayMs)); m = m.status; }
      if (rec.delayMs) await new Promise((r) => setTimeout(r, rec.delayMs));
      if (m === 'hang') { entry.hung = true; res.on('close', () => { active--; }); return; }
      active--;
      res.writeHead(m, { 'content-type': 'text/plain' });
      res.end(m >= 200 && m < 300 ? 'OK' : `status ${m}`);
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.keepAliveTimeout = 30000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  rec.port = server.address().port;
  return rec;
}
