// bench/webhooks/node-dispatcher.mjs - the peer of the webhooks bench: a minimal webhook
// dispatcher in Node, the in-memory design of the Node/Go gateways. It takes events the
// way the bench gives them to miaw (POST /api/v1/instances {instanceId, webhookUrl}, then
// POST /api/v1/instances/{id}/webhook/test {count}, answered 202 with the event ids once
// queued, in memory only), and delivers them as miaw does: the same {event, instanceId,
// timestamp, data} body built when the event is accepted, HMAC-SHA256 with key secret +
// timestamp at send time, the same headers, one request in flight per instance (order),
// at most CONNS requests in flight in all over keep-alive connections, retried on failure.
// Nothing survives a crash. Usage: node node-dispatcher.mjs CONNS   (prints "port N")
import crypto from 'node:crypto';
import http from 'node:http';

const CONNS = Number(process.argv[2] || 64);
const SECRET = 'bench-secret';
const agent = new http.Agent({ keepAlive: true, maxSockets: CONNS });
const lanes = new Map(); // instanceId -> {url, queue: [], busy, seq}

function post(u, body, headers) {
  return new Promise((res, rej) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers }, (r) => {
      r.resume();
      r.on('end', () => res(r.statusCode));
    });
    req.on('error', rej);
    req.end(body);
  });
}

async function drain(inst, lane) {
  lane.busy = true;
  while (lane.queue.length) {
    const ev = lane.queue[0];
    for (;;) {
      const ts = String(Date.now());
      const sig = 'sha256=' + crypto.createHmac('sha256', SECRET + ts).update(ev.body).digest('hex');
      const st = await post(lane.url, ev.body, { 'content-type': 'application/json',
        'content-length': Buffer.byteLength(ev.body), 'user-agent': 'node-dispatcher', 'x-miaw-instance': inst,
        'x-miaw-event': 'test', 'x-miaw-event-id': ev.id, 'x-miaw-timestamp': ts, 'x-miaw-sequence': String(ev.seq),
        'x-miaw-attempt': '1', 'x-miaw-signature': sig }).catch(() => 0);
      if (st >= 200 && st < 300) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    lane.queue.shift();
  }
  lane.busy = false;
}

function reply(res, status, data) {
  const b = JSON.stringify({ success: status < 300, data });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) });
  res.end(b);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = {};
    try { body = chunks.length ? JSON.parse(Buffer.concat(chunks)) : {}; } catch { return reply(res, 400, {}); }
    if (req.method === 'POST' && req.url === '/api/v1/instances') {
      lanes.set(body.instanceId, { url: new URL(body.webhookUrl), queue: [], busy: false, seq: 0 });
      return reply(res, 201, { instanceId: body.instanceId });
    }
    const m = /^\/api\/v1\/instances\/([^/]+)\/webhook\/test$/.exec(req.url);
    const lane = m && lanes.get(m[1]);
    if (req.method !== 'POST' || !lane) return reply(res, 404, {});
    const n = body.count || 1, ids = [];
    for (let i = 1; i <= n; i++) {
      const ev = { id: 'evt_' + crypto.randomBytes(13).toString('hex'), seq: ++lane.seq,
        body: JSON.stringify({ event: 'test', instanceId: m[1], timestamp: Date.now(),
          data: { message: 'This is a test event from miaw', index: i, count: n } }) };
      lane.queue.push(ev);
      ids.push(ev.id);
    }
    if (!lane.busy) drain(m[1], lane);
    reply(res, 202, { count: n, queued: n, eventIds: ids });
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${server.address().port}\n`));
