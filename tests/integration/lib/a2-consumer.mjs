// tests/integration/lib/a2-consumer.mjs - the webhook consumer of the spec's Appendix A.2,
// as written, on node:http instead of express: express.json() is JSON.parse of the raw
// body; every other line (signature over JSON.stringify(req.body), the 5-minute replay
// check, the answers) is the appendix's. Records what it accepted and rejected.
import crypto from 'node:crypto';
import { createServer } from 'node:http';

export async function startA2Consumer(API_SECRET) {
  const accepted = [];
  const rejected = [];
  const app = (req, res) => {
    // Verify signature
    const receivedSignature = req.headers["x-miaw-signature"];
    const timestamp = req.headers["x-miaw-timestamp"];
    const computedSignature = crypto
      .createHmac("sha256", API_SECRET + timestamp)
      .update(JSON.stringify(req.body))
      .digest("hex");

    if (receivedSignature !== `sha256=${computedSignature}`) {
      rejected.push({ why: "Invalid signature", req });
      return res.status(401).send("Invalid signature");
    }

    // Check timestamp (prevent replay attacks)
    const now = Date.now();
    if (now - parseInt(timestamp) > 5 * 60 * 1000) {
      rejected.push({ why: "Request too old", req });
      return res.status(401).send("Request too old");
    }

    // Handle event
    const { event, instanceId, data } = req.body;
    accepted.push({ event, instanceId, data, headers: req.headers });

    // Respond with success
    res.status(200).send("OK");
  };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      // express.json(): parse application/json bodies into req.body
      try { req.body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { res.writeHead(400); return res.end(); }
      res.status = (code) => ({ send: (text) => { res.writeHead(code, { 'content-type': 'text/plain' }); res.end(text); } });
      app(req, res);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  return {
    accepted, rejected, port, url: `http://127.0.0.1:${port}/webhook`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}
