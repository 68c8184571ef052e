// tests/integration/metrics.test.mjs - GET /metrics: authorization (API key, or the
// metrics token when one is configured; the token opens nothing else), the output checked
// by a strict parser of the Prometheus text format 0.0.4 written here (names, HELP/TYPE
// once and before the samples, label syntax and escaping, no duplicate series, histogram
// buckets cumulative up to le="+Inf" = _count), and the figures moving through miaw-sim:
// instances by state, messages sent/received by type, send latency, reconnects, webhook
// deliveries and latency, HTTP requests by route template, process gauges.
// Env: MIAW_BUILD_DIR (default build), MIAW_SIM_LOG=1 to see the simulator's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer, tempDir, waitFor } from './lib/harness.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { startSim, simEnv, status, pairByQr } from './lib/sim.mjs';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** label block `{a="x",b="y"}` from position i of line: [labels object, index after '}'] */
function parseLabels(line, i) {
  const labels = {};
  assert.equal(line[i], '{');
  i++;
  while (line[i] !== '}') {
    let j = i;
    while (j < line.length && line[j] !== '=') j++;
    const name = line.slice(i, j);
    assert.match(name, LABEL, `label name '${name}' in: ${line}`);
    assert.equal(line[j + 1], '"', `quoted label value in: ${line}`);
    let v = '';
    j += 2;
    for (;;) {
      assert.ok(j < line.length, `unterminated label value in: ${line}`);
      const c = line[j];
      if (c === '\\') {
        const e = line[j + 1];
        assert.ok(e === '\\' || e === '"' || e === 'n', `bad escape \\${e} in: ${line}`);
        v += e === 'n' ? '\n' : e;
        j += 2;
      } else if (c === '"') { j++; break; } else { v += c; j++; }
    }
    assert.ok(!(name in labels), `duplicate label ${name} in: ${line}`);
    labels[name] = v;
    if (line[j] === ',') j++;
    else assert.equal(line[j], '}', `',' or '}' expected in: ${line}`);
    i = j;
  }
  return [labels, i + 1];
}

const parseValue = (s, line) => {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  assert.match(s, /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/, `bad value '${s}' in: ${line}`);
  return Number(s);
};

/** strict parse; returns Map family -> { type, help, samples: [{ name, labels, value }] } */
export function parsePrometheus(text) {
  assert.ok(text.endsWith('\n'), 'ends with a line feed');
  const fams = new Map();
  const seen = new Set();
  const closed = new Set(); // families whose samples ended (samples of a family are contiguous)
  let current = null;
  const famOf = (name) => {
    for (const suf of ['_bucket', '_sum', '_count']) {
      if (name.endsWith(suf)) {
        const base = name.slice(0, -suf.length);
        if (fams.get(base)?.type === 'histogram') return base;
      }
    }
    return name;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    assert.ok(line.length > 0, 'no empty lines');
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      assert.ok(m, `comment line: ${line}`);
      const [, kind, name, rest] = m;
      assert.match(name, NAME);
      const f = fams.get(name) || { samples: [] };
      if (kind === 'TYPE') {
        assert.ok(TYPES.has(rest), `type ${rest}`);
        assert.equal(f.type, undefined, `TYPE twice for ${name}`);
        assert.equal(f.samples.length, 0, `TYPE after samples for ${name}`);
        f.type = rest;
      } else {
        assert.equal(f.help, undefined, `HELP twice for ${name}`);
        f.help = rest;
      }
      fams.set(name, f);
      continue;
    }
    let i = 0;
    while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
    const name = line.slice(0, i);
    assert.match(name, NAME, `metric name in: ${line}`);
    let labels = {};
    if (line[i] === '{') [labels, i] = parseLabels(line, i);
    assert.equal(line[i], ' ', `space before the value in: ${line}`);
    const parts = line.slice(i + 1).split(' ');
    assert.ok(parts.length === 1 || (parts.length === 2 && /^-?\d+$/.test(parts[1])), `value [timestamp]: ${line}`);
    const value = parseValue(parts[0], line);
    const fam = famOf(name);
    const f = fams.get(fam);
    assert.ok(f && f.type, `sample before its TYPE: ${line}`);
    if (current !== fam) {
      assert.ok(!closed.has(fam), `samples of ${fam} not contiguous`);
      if (current) closed.add(current);
      current = fam;
    }
    const key = name + JSON.stringify(Object.entries(labels).sort());
    assert.ok(!seen.has(key), `duplicate series: ${line}`);
    seen.add(key);
    if (f.type === 'counter') assert.ok(value >= 0, `negative counter: ${line}`);
    if (f.type === 'histogram') assert.ok(name !== fam, `histogram sample without suffix: ${line}`);
    f.samples.push({ name, labels, value });
  }
  // histograms: per label set, buckets ascending and cumulative, +Inf = _count, _sum present
  for (const [fam, f] of fams) {
    if (f.type !== 'histogram') continue;
    const groups = new Map();
    for (const s of f.samples) {
      const { le, ...rest } = s.labels;
      const k = JSON.stringify(Object.entries(rest).sort());
      if (!groups.has(k)) groups.set(k, { buckets: [], sum: null, count: null });
      const g = groups.get(k);
      if (s.name === fam + '_bucket') { assert.ok(le !== undefined, `bucket without le in ${fam}`); g.buckets.push([parseValue(le, le), s.value]); } else if (s.name === fam + '_sum') g.sum = s.value;
      else g.count = s.value;
    }
    for (const [k, g] of groups) {
      assert.ok(g.sum !== null && g.count !== null, `${fam}${k}: _sum and _count`);
      assert.ok(g.buckets.length > 0, `${fam}${k}: buckets`);
      for (let i = 1; i < g.buckets.length; i++) {
        assert.ok(g.buckets[i][0] > g.buckets[i - 1][0], `${fam}${k}: le ascending`);
        assert.ok(g.buckets[i][1] >= g.buckets[i - 1][1], `${fam}${k}: cumulative`);
      }
      const last = g.buckets[g.buckets.length - 1];
      assert.equal(last[0], Infinity, `${fam}${k}: ends with +Inf`);
      assert.equal(last[1], g.count, `${fam}${k}: +Inf bucket = _count`);
    }
  }
  for (const [name, f] of fams) {
    assert.ok(name.startsWith('miaw_'), `prefix: ${name}`);
    assert.ok(f.type && f.help, `${name} has HELP and TYPE`);
  }
  return fams;
}

/** the value of the sample name{labels} (labels: a subset that must match), summed over matches */
function val(fams, name, labels = {}) {
  let sum = 0, found = false;
  for (const f of fams.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) { sum += s.value; found = true; }
    }
  }
  return found ? sum : undefined;
}

async function scrape(srv, headers) {
  const r = await fetch(srv.url + '/metrics', { headers });
  return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
}

test('the parser of this test refuses malformed exposition', () => {
  const bad = [
    'miaw_x 1\n', // no TYPE
    '# TYPE miaw_x counter\n# HELP miaw_x h\nmiaw_x{a="1} 1\n',
    '# TYPE miaw_x counter\n# HELP miaw_x h\nmiaw_x{a="\\q"} 1\n',
    '# TYPE miaw_x counter\n# HELP miaw_x h\nmiaw_x 1\nmiaw_x 2\n',
    '# TYPE miaw_x counter\n# HELP miaw_x h\nmiaw_x 1', // no final line feed
    '# TYPE miaw_h histogram\n# HELP miaw_h h\nmiaw_h_bucket{le="1"} 2\nmiaw_h_bucket{le="+Inf"} 1\nmiaw_h_sum 1\nmiaw_h_count 1\n',
    '# TYPE miaw_h histogram\n# HELP miaw_h h\nmiaw_h_bucket{le="1"} 1\nmiaw_h_sum 1\nmiaw_h_count 1\n',
    '# TYPE x_total counter\n# HELP x_total h\nx_total 1\n',
    '# TYPE miaw_x counter\n# HELP miaw_x h\nmiaw_x one\n',
  ];
  for (const t of bad) assert.throws(() => parsePrometheus(t), undefined, JSON.stringify(t));
  const good = '# HELP miaw_h h\n# TYPE miaw_h histogram\nmiaw_h_bucket{a="x\\"y",le="0.5"} 1\nmiaw_h_bucket{a="x\\"y",le="+Inf"} 2\n' +
    'miaw_h_sum{a="x\\"y"} 1.5\nmiaw_h_count{a="x\\"y"} 2\n';
  assert.equal(val(parsePrometheus(good), 'miaw_h_count', { a: 'x"y' }), 2);
});

test('GET /metrics: auth, strict format, figures that move', { timeout: 180000 }, async (t) => {
  const simDir = tempDir('miaw-sim-');
  const dataDir = tempDir('miaw-metrics-');
  const sim = await startSim({ stateDir: simDir });
  const rcv = await startReceiver();
  const ctx = { srv: null };
  t.after(async () => {
    if (ctx.srv) await ctx.srv.stop();
    await sim.stop();
    await rcv.close();
    rmSync(simDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  const TOKEN = 'scrape-token-0123456789';
  const srv = ctx.srv = await startServer({ env: simEnv(sim, { MIAW_WEBHOOK_URL: rcv.url, MIAW_METRICS_TOKEN: TOKEN }), dataDir });

  // auth
  assert.equal((await scrape(srv, {})).status, 401);
  assert.equal((await scrape(srv, { authorization: 'Bearer wrong' })).status, 401);
  const noauth = await scrape(srv, {});
  assert.equal(JSON.parse(noauth.text).error.code, 'UNAUTHORIZED');
  let r = await scrape(srv, { authorization: `Bearer ${srv.apiKey}` });
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  r = await scrape(srv, { 'x-api-key': srv.apiKey });
  assert.equal(r.status, 200);
  r = await scrape(srv, { authorization: `Bearer ${TOKEN}` });
  assert.equal(r.status, 200);
  // the metrics token opens nothing else
  assert.equal((await srv.api('GET', '/api/v1/instances', undefined, { authorization: `Bearer ${TOKEN}` })).status, 401);

  let m = parsePrometheus(r.text);
  assert.equal(val(m, 'miaw_instances', { state: 'connected' }), 0);
  assert.ok(val(m, 'miaw_process_resident_memory_bytes') > 1e6);
  assert.ok(val(m, 'miaw_process_open_fds') > 3);
  assert.ok(val(m, 'miaw_database_size_bytes') > 4096);
  // the checkpoint thread's counters (core/base/checkpoint.c): present, none inline yet
  assert.ok(val(m, 'miaw_database_checkpoints_total', { by: 'thread' }) >= 0);
  assert.equal(val(m, 'miaw_database_checkpoints_total', { by: 'inline' }), 0);
  assert.equal(val(m, 'miaw_database_checkpoints_total', { by: 'truncate' }), 0);
  assert.ok(val(m, 'miaw_database_wal_frames') >= 0);
  assert.equal(val(m, 'miaw_build_info'), 1);
  for (const fam of ['miaw_messages_sent_total', 'miaw_messages_received_total', 'miaw_message_send_duration_seconds',
    'miaw_reconnects_total', 'miaw_webhook_queue_depth', 'miaw_webhook_deliveries_total',
    'miaw_webhook_delivery_duration_seconds', 'miaw_http_requests_total', 'miaw_http_request_duration_seconds',
    'miaw_event_streams']) assert.ok(m.has(fam), `family ${fam}`);

  // traffic: pair, send, receive, webhooks, a dropped connection
  const ME = '15550006666', BOB = '15550007777';
  assert.equal((await srv.api('POST', '/api/v1/instances', { instanceId: 'bot' })).status, 201);
  assert.equal((await sim.api('POST', '/sim/accounts', { phone: BOB, name: 'Bob' })).status, 201);
  await pairByQr(srv, sim, 'bot', ME, { name: 'Me' });
  const sent = await srv.api('POST', '/api/v1/instances/bot/messages/text', { to: BOB, text: 'metered' });
  assert.equal(sent.status, 200, sent.text);
  assert.equal((await srv.api('POST', '/api/v1/instances/bot/messages/text', { to: '15559990001', text: 'x' })).status, 404);
  const b = await sim.api('POST', `/sim/accounts/${BOB}/messages`, { to: ME, text: 'hi' });
  assert.equal(b.status, 201);
  await rcv.waitFor((reqs) => reqs.some((q) => JSON.parse(q.body).data?.id === b.json.id), 15000, 'message webhook');
  assert.equal((await sim.api('POST', '/sim/faults', { drop: 'all' })).status, 200);
  await waitFor(async () => {
    const s = await status(srv, 'bot');
    return s.status === 'connected' && val(parsePrometheus((await scrape(srv, { authorization: `Bearer ${TOKEN}` })).text), 'miaw_reconnects_total') >= 1;
  }, { what: 'reconnected', timeoutMs: 20000 });
  await waitFor(async () => {
    m = parsePrometheus((await scrape(srv, { authorization: `Bearer ${TOKEN}` })).text);
    return val(m, 'miaw_webhook_deliveries_total', { result: 'delivered' }) >= 3 && val(m, 'miaw_webhook_queue_depth') === 0;
  }, { what: 'webhooks delivered', timeoutMs: 15000 });

  assert.equal(val(m, 'miaw_instances', { state: 'connected' }), 1);
  assert.equal(val(m, 'miaw_messages_sent_total', { type: 'text' }), 1);
  assert.equal(val(m, 'miaw_messages_send_failed_total', { reason: 'not_found' }), 1);
  assert.equal(val(m, 'miaw_messages_received_total', { type: 'text', chat: 'user' }), 1);
  assert.equal(val(m, 'miaw_message_send_duration_seconds_count'), 1);
  const sendSum = val(m, 'miaw_message_send_duration_seconds_sum');
  assert.ok(sendSum > 0 && sendSum < 30, `send latency ${sendSum}`);
  assert.ok(val(m, 'miaw_reconnects_total') >= 1);
  assert.equal(val(m, 'miaw_webhook_delivery_duration_seconds_count'), val(m, 'miaw_webhook_deliveries_total'));
  assert.equal(val(m, 'miaw_http_requests_total', { method: 'POST', route: '/instances/{instanceId}/messages/text', status: '200' }), 1);
  assert.equal(val(m, 'miaw_http_requests_total', { method: 'POST', route: '/instances/{instanceId}/messages/text', status: '404' }), 1);
  assert.ok(val(m, 'miaw_http_requests_total', { route: '/metrics', status: '401' }) >= 3);
  assert.ok(val(m, 'miaw_http_request_duration_seconds_count', { method: 'POST', route: '/instances' }) >= 1);
  // an unknown path is one series, whatever the path
  await srv.api('GET', '/api/v1/no/such/' + 'x'.repeat(40));
  await srv.api('GET', '/api/v1/other/unknown');
  m = parsePrometheus((await scrape(srv, { authorization: `Bearer ${TOKEN}` })).text);
  assert.equal(val(m, 'miaw_http_requests_total', { route: 'unmatched', status: '404' }), 2);
});
