// bench/webhooks/node-dispatcher.mjs - the peer of the bench: a minimal webhook
// dispatcher in Node doing what miaw does per event (the same {event, instanceId,
// timestamp, data} body, HMAC-SHA256 with key secret + timestamp, the same headers,
// one request in flight per instance, keep-alive connections) but with no outbox: the
// in-memory design of the Node/Go gateways. Usage: node node-dispatcher.mjs URL K PER_INSTANCE
import crypto from 'node:crypto';
import http from 'node:http';

const [url, k, per] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const SECRET = 'bench-secret';
const agent = new http.Agent({ keepAlive: true, maxSockets: k });
const u = new URL(url);

function post(body, headers) {
  return new Promise((res, rej) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers }, (r) => {
      r.resume();
      r.on('end', () => res(r.statusCode));
    });
    req.on('error', rej);
    req.end(body);
  });
}

async function lane(inst) {
  for (let i = 1; i <= per; i++) {
    const body = JSON.stringify({ event: 'test', instanceId: inst, timestamp: Date.now(),
      data: { message: 'This is a test event from miaw', index: i, count: per } });
    const id = 'evt_' + crypto.randomBytes(13).toString('hex');
    for (;;) {
      const ts = String(Date.now());
      const sig = 'sha256=' + crypto.createHmac('sha256', SECRET + ts).update(body).digest('hex');
      const st = await post(body, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
        'x-miaw-instance': inst, 'x-miaw-event': 'test', 'x-miaw-event-id': id, 'x-miaw-timestamp': ts,
        'x-miaw-sequence': String(i), 'x-miaw-signature': sig }).catch(() => 0);
      if (st >= 200 && st < 300) break;
    }
  }
}

const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: k }, (_, i) => lane('node' + i)));
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
process.stdout.write(JSON.stringify({ ms }) + '\n');
agent.destroy();
