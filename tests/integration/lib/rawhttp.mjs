// tests/integration/lib/rawhttp.mjs - HTTP/1.1 over one raw TCP socket, for tests that must
// see exactly what goes on the wire: several requests on one connection (keep-alive),
// malformed requests, bodies that are declared but not (fully) sent. Built-in modules only;
// every wait is bounded.
import { connect } from 'node:net';

/** Opens a socket to 127.0.0.1:port. Returns { send(bytes), response(ms), closed(), end() }. */
export function rawConn(port) {
  const sock = connect({ host: '127.0.0.1', port });
  sock.setNoDelay(true);
  let buf = Buffer.alloc(0);
  let isClosed = false;
  let waiter = null;
  const poke = () => { if (waiter) { const w = waiter; waiter = null; w(); } };
  sock.on('data', (d) => { buf = Buffer.concat([buf, d]); poke(); });
  sock.on('close', () => { isClosed = true; poke(); });
  sock.on('error', () => { isClosed = true; poke(); });
  const ready = new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });

  /** parses one complete response at the start of buf, or null */
  function take() {
    const he = buf.indexOf('\r\n\r\n');
    if (he < 0) return null;
    const head = buf.subarray(0, he).toString('latin1');
    const [status, ...lines] = head.split('\r\n');
    const headers = {};
    for (const l of lines) { const i = l.indexOf(':'); headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim(); }
    let len = 0;
    if (headers['content-length'] !== undefined) len = Number(headers['content-length']);
    else if (headers['transfer-encoding'] === 'chunked') {
      // decode chunked
      let p = he + 4, body = [];
      for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le < 0) return null;
        const n = parseInt(buf.subarray(p, le).toString('latin1'), 16);
        if (buf.length < le + 2 + n + 2) return null;
        if (n === 0) { const out = { status: Number(status.split(' ')[1]), headers, body: Buffer.concat(body).toString() }; buf = buf.subarray(le + 4); return out; }
        body.push(buf.subarray(le + 2, le + 2 + n));
        p = le + 2 + n + 2;
      }
    } else if (!isClosed) return null; // until close
    else len = buf.length - he - 4;
    if (buf.length < he + 4 + len) return null;
    const out = { status: Number(status.split(' ')[1]), headers, body: buf.subarray(he + 4, he + 4 + len).toString() };
    buf = buf.subarray(he + 4 + len);
    return out;
  }

  return {
    sock,
    ready,
    async send(data) { await ready; if (!isClosed) sock.write(data); },
    /** the next response, or throws after ms */
    async response(ms = 10000) {
      await ready;
      const end = Date.now() + ms;
      for (;;) {
        const r = take();
        if (r) return r;
        if (isClosed) throw new Error('connection closed before a complete response');
        const left = end - Date.now();
        if (left <= 0) throw new Error('no response within ' + ms + ' ms');
        await new Promise((res) => { waiter = res; setTimeout(() => { if (waiter === res) { waiter = null; res(); } }, left); });
      }
    },
    /** resolves true when the server closed the connection within ms */
    async closed(ms = 3000) {
      const end = Date.now() + ms;
      while (!isClosed && Date.now() < end) await new Promise((res) => { waiter = res; setTimeout(res, 50); });
      return isClosed;
    },
    isClosed: () => isClosed,
    end() { sock.destroy(); },
  };
}

/** a request as bytes: method, path, headers object, body (string/Buffer or undefined) */
export function req(method, path, headers = {}, body) {
  const h = { host: '127.0.0.1', ...headers };
  if (body !== undefined && h['content-length'] === undefined && h['transfer-encoding'] === undefined) h['content-length'] = Buffer.byteLength(body);
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(h)) head += `${k}: ${v}\r\n`;
  head += '\r\n';
  return body === undefined ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body)]);
}
