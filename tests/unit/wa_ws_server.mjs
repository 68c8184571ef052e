// tests/unit/wa_ws_server.mjs - a tiny WebSocket server for test_wa_ws (Node built-ins only,
// 127.0.0.1). Serves ws:// and, when given a key and cert, wss://. Prints "PORTS <ws> <wss>".
// Behaviour on /echo: first sends a binary "origin:<Origin header>", then echoes binary
// messages, except these commands: "close-me" -> close 4001 "bye"; "ping-me" -> ping "p1"
// and, when the pong arrives, binary "pong-ok"; "text-me" -> a text frame then binary
// "after-text"; "frag-me" -> "fragmented" in three frames; "silence" -> stop answering pings;
// "drop-me" -> end the TCP connection without a close frame. Any other path: HTTP 403.
// A client close frame is echoed with the same code, then the socket ends.
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import fs from 'node:fs';

const [keyFile, certFile] = process.argv.slice(2);

function frame(opcode, payload, fin = true) {
  const len = payload.length;
  let head;
  if (len < 126) head = Buffer.from([(fin ? 0x80 : 0) | opcode, len]);
  else if (len < 65536) { head = Buffer.alloc(4); head[0] = (fin ? 0x80 : 0) | opcode; head[1] = 126; head.writeUInt16BE(len, 2); }
  else { head = Buffer.alloc(10); head[0] = (fin ? 0x80 : 0) | opcode; head[1] = 127; head.writeBigUInt64BE(BigInt(len), 2); }
  return Buffer.concat([head, payload]);
}

function onUpgrade(req, socket, head) {
  if (req.url !== '/echo' || req.headers['sec-websocket-version'] !== '13') {
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${accept}\r\n\r\n`);
  socket.write(frame(2, Buffer.from('origin:' + (req.headers.origin || ''))));
  let buf = head && head.length ? Buffer.from(head) : Buffer.alloc(0);
  let silent = false, closed = false;
  socket.on('error', () => {});
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (buf.length < 2) return;
      const op = buf[0] & 15, masked = buf[1] & 0x80;
      let len = buf[1] & 127, off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      if (!masked) { socket.destroy(); return; } // clients must mask
      if (buf.length < off + 4 + len) return;
      const mask = buf.subarray(off, off + 4);
      const p = Buffer.from(buf.subarray(off + 4, off + 4 + len));
      for (let i = 0; i < p.length; i++) p[i] ^= mask[i & 3];
      buf = buf.subarray(off + 4 + len);
      if (op === 8) { if (!closed) { closed = true; socket.write(frame(8, p)); } socket.end(); return; }
      if (op === 9) { if (!silent) socket.write(frame(10, p)); continue; }
      if (op === 10) { if (p.toString() === 'p1') socket.write(frame(2, Buffer.from('pong-ok'))); continue; }
      const s = p.toString();
      if (s === 'close-me') { const c = Buffer.alloc(2); c.writeUInt16BE(4001); closed = true; socket.write(frame(8, Buffer.concat([c, Buffer.from('bye')]))); }
      else if (s === 'ping-me') socket.write(frame(9, Buffer.from('p1')));
      else if (s === 'text-me') { socket.write(frame(1, Buffer.from('hello'))); socket.write(frame(2, Buffer.from('after-text'))); }
      else if (s === 'frag-me') { socket.write(frame(2, Buffer.from('frag'), false)); socket.write(frame(0, Buffer.from('men'), false)); socket.write(frame(0, Buffer.from('ted'))); }
      else if (s === 'silence') silent = true;
      else if (s === 'drop-me') socket.destroy();
      else socket.write(frame(2, p));
    }
  });
}

const plain = http.createServer((req, res) => { res.writeHead(404); res.end(); });
plain.on('upgrade', onUpgrade);
await new Promise((r) => plain.listen(0, '127.0.0.1', r));
let tlsPort = 0;
if (keyFile && certFile) {
  const secure = https.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) }, (req, res) => { res.writeHead(404); res.end(); });
  secure.on('upgrade', onUpgrade);
  secure.on('tlsClientError', () => {});
  await new Promise((r) => secure.listen(0, '127.0.0.1', r));
  tlsPort = secure.address().port;
}
process.stdout.write(`PORTS ${plain.address().port} ${tlsPort}\n`);
process.stdin.on('end', () => process.exit(0)); // the test closes our stdin when done
process.stdin.resume();
