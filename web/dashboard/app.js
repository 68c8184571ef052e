// web/dashboard/app.js - the miaw web dashboard: sign-in with the API key (kept in this
// closure only: never in storage, cookies or URLs), the instance list with live states,
// create / delete / connect / disconnect / log out, the QR shown live (img#qr-img carries
// the QR payload in data-qr) and pairing by phone-number code, the live event feed (GET
// {api}/events read with fetch so the key travels in a header; resumed with Last-Event-ID),
// webhook deliveries with dead letters and retry, and a test message form. Everything the
// server sends is written with textContent (never parsed as HTML).
'use strict';
(() => {
  const env = window.MIAW_ENV || { basePath: '', apiPrefix: '/api/v1' };
  const API = env.basePath + env.apiPrefix;
  const MAX_EVENTS = 200;
  const $ = (sel) => document.querySelector(sel);

  let apiKey = null;          // the only copy of the key: this variable
  let selected = null;        // instance id shown in the detail panel
  let instances = new Map();  // id -> instance JSON (status kept live)
  let stream = null;          // { ac: AbortController }
  let lastEventId = null;
  let pollTimer = null;
  let qrTimer = null;

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || `HTTP ${status}`);
      this.status = status;
      this.code = body && body.error && body.error.code;
    }
  }

  async function api(method, path, body) {
    const headers = { authorization: `Bearer ${apiKey}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let j = null;
    try { j = await r.json(); } catch { /* not JSON */ }
    if (!r.ok || !j || j.success !== true) throw new ApiError(r.status, j);
    return j.data;
  }

  const enc = encodeURIComponent;
  const setText = (sel, t) => { $(sel).textContent = t == null ? '' : String(t); };
  function el(tag, props = {}, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      else e[k] = v;
    }
    for (const c of kids) e.append(c);
    return e;
  }
  /** runs fn, showing its error in the element sel */
  async function guard(sel, fn) {
    setText(sel, '');
    try { return await fn(); } catch (e) {
      if (e.status === 401) return signOut('the API key was refused');
      setText(sel, e.message);
    }
  }

  // ------------------------------------------------------------ sign in / out
  async function signIn(key) {
    apiKey = key;
    try {
      await api('GET', '/instances');
    } catch (e) {
      apiKey = null;
      setText('#signin-error', e.status === 401 ? 'This API key is not valid.' : `Cannot reach the server: ${e.message}`);
      return;
    }
    $('#apikey').value = '';
    setText('#signin-error', '');
    $('#signin-panel').hidden = true;
    $('#app').hidden = false;
    $('#signout').hidden = false;
    setText('#conn-state', 'signed in');
    await refreshInstances();
    startEvents();
    pollTimer = setInterval(refreshInstances, 5000);
  }

  function signOut(why) {
    apiKey = null;
    selected = null;
    instances = new Map();
    lastEventId = null;
    if (stream) stream.ac.abort();
    stream = null;
    clearInterval(pollTimer);
    clearInterval(qrTimer);
    $('#app').hidden = true;
    $('#signout').hidden = true;
    $('#signin-panel').hidden = false;
    $('#detail-panel').hidden = true;
    $('#instances tbody').replaceChildren();
    $('#events').replaceChildren();
    setText('#conn-state', 'signed out');
    setText('#signin-error', why || '');
  }

  // ------------------------------------------------------------ instances
  async function refreshInstances() {
    if (!apiKey) return;
    await guard('#instances-error', async () => {
      const list = await api('GET', '/instances');
      instances = new Map(list.map((i) => [i.instanceId, i]));
      renderInstances();
      if (selected && !instances.has(selected)) closeDetail();
      else if (selected) renderDetail();
    });
  }

  function renderInstances() {
    const rows = [...instances.values()].map((i) => el('tr', { dataset: { id: i.instanceId } },
      el('td', { className: 'id' }, i.instanceId),
      el('td', { className: 'status' }, el('span', { className: `badge st-${i.status}`, textContent: i.status })),
      el('td', { className: 'jid muted', textContent: (i.jid || i.phone || '') }),
      el('td', {}, el('button', { type: 'button', textContent: 'Open', on: { click: () => openDetail(i.instanceId) } }))));
    $('#instances tbody').replaceChildren(...rows);
  }

  function setStatus(id, status, reason) {
    const i = instances.get(id);
    if (!i) return;
    i.status = status;
    if (reason !== undefined) i.reason = reason;
    renderInstances();
    if (id === selected) renderDetail();
  }

  // ------------------------------------------------------------ detail
  function openDetail(id) {
    selected = id;
    $('#detail-panel').hidden = false;
    setText('#pair-code', '');
    setText('#send-result', '');
    setText('#detail-error', '');
    renderDetail();
    refreshStatus();
    loadDeliveries();
  }

  function closeDetail() {
    selected = null;
    clearInterval(qrTimer);
    $('#detail-panel').hidden = true;
  }

  function renderDetail() {
    const i = instances.get(selected);
    if (!i) return;
    setText('#detail-id', i.instanceId);
    const b = $('#detail-status');
    b.textContent = i.status;
    b.className = `badge st-${i.status}`;
    const info = [i.jid ? `account ${i.jid}` : null, i.reason ? `(${i.reason})` : null].filter(Boolean).join(' ');
    setText('#detail-info', info);
    const showQr = i.status === 'qr';
    $('#qr-box').hidden = !showQr;
    if (showQr && !qrTimer) { loadQr(); qrTimer = setInterval(loadQr, 3000); }
    if (!showQr && qrTimer) { clearInterval(qrTimer); qrTimer = null; }
  }

  async function refreshStatus() {
    const id = selected;
    if (!id) return;
    await guard('#detail-error', async () => {
      const s = await api('GET', `/instances/${enc(id)}/status`);
      const i = instances.get(id);
      if (i) Object.assign(i, { status: s.status, reason: s.reason, jid: s.jid || null });
      renderInstances();
      if (id === selected) renderDetail();
    });
  }

  async function loadQr() {
    const id = selected;
    if (!id || !apiKey) return;
    try {
      const q = await api('GET', `/instances/${enc(id)}/qr`);
      if (id !== selected) return;
      const img = $('#qr-img');
      if (img.dataset.qr !== q.qr) {
        img.src = q.base64;
        img.dataset.qr = q.qr;
      }
    } catch (e) {
      if (e.status === 401) signOut('the API key was refused');
      /* 404/409: no code right now; the status tells why */
    }
  }

  async function action(method, suffix, body) {
    const id = selected;
    await guard('#detail-error', async () => {
      const d = await api(method, `/instances/${enc(id)}${suffix}`, body);
      if (d && d.status) setStatus(id, d.status, d.reason);
      await refreshStatus();
    });
  }

  async function deleteSelected() {
    const id = selected;
    if (!id || !window.confirm(`Delete instance ${id}? Its device is unlinked from the phone and its data removed.`)) return;
    await guard('#detail-error', async () => {
      await api('DELETE', `/instances/${enc(id)}`);
      closeDetail();
      await refreshInstances();
    });
  }

  // ------------------------------------------------------------ deliveries
  async function loadDeliveries() {
    const id = selected;
    if (!id) return;
    const st = $('#deliv-status').value;
    await guard('#detail-error', async () => {
      const d = await api('GET', `/instances/${enc(id)}/webhook/deliveries?limit=100${st ? `&status=${st}` : ''}`);
      const s = await api('GET', `/instances/${enc(id)}/webhook/status`);
      setText('#deliv-summary', `queue ${s.queueDepth}, dead letters ${s.deadLetters}, delivered ${s.delivered}`);
      const rows = d.items.map((x) => el('tr', { dataset: { eventId: x.eventId, status: x.status } },
        el('td', { textContent: x.event }), el('td', { textContent: x.sequence }),
        el('td', { className: 'status', textContent: x.status === 'failed' ? 'dead letter' : x.status }),
        el('td', { textContent: x.attempts }), el('td', { className: 'muted', textContent: x.lastError || '' }),
        el('td', {}, x.status === 'pending' ? '' : el('button', {
          type: 'button', className: 'retry', textContent: 'Retry',
          on: { click: () => retry(id, x.eventId) },
        }))));
      $('#deliveries tbody').replaceChildren(...rows);
    });
  }

  async function retry(id, eventId) {
    await guard('#detail-error', async () => {
      await api('POST', `/instances/${enc(id)}/webhook/deliveries/${enc(eventId)}/retry`);
      await loadDeliveries();
    });
  }

  // ------------------------------------------------------------ live events
  function addEvent(ev) {
    const d = ev.data || {};
    const summary = d.data ? JSON.stringify(d.data).slice(0, 160) : '';
    const li = el('li', { dataset: { event: ev.event, instance: d.instanceId || '' } },
      el('time', { textContent: new Date(d.timestamp || Date.now()).toLocaleTimeString() }), ' ',
      el('b', { textContent: ev.event }), ' ', el('span', { className: 'muted', textContent: d.instanceId || '' }), ' ',
      el('code', { textContent: summary }));
    const list = $('#events');
    list.prepend(li);
    while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
    const id = d.instanceId;
    if (ev.event === 'connection' && d.data) setStatus(id, d.data.state, d.data.reason);
    if ((ev.event === 'qr') && id === selected) loadQr();
    if (ev.event === 'ready' || ev.event === 'disconnected') { refreshInstances(); if (id === selected) refreshStatus(); }
  }

  function parseBlock(block) {
    const ev = {};
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const c = line.indexOf(':');
      const f = c < 0 ? line : line.slice(0, c);
      const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
      if (f === 'data') ev.data = (ev.data === undefined ? '' : ev.data + '\n') + v;
      else if (f === 'id' || f === 'event') ev[f] = v;
    }
    if (!ev.event || ev.data === undefined) return null;
    try { ev.data = JSON.parse(ev.data); } catch { return null; }
    return ev;
  }

  async function runStream(ac) {
    const headers = { authorization: `Bearer ${apiKey}` };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    const r = await fetch(`${API}/events`, { headers, signal: ac.signal });
    if (r.status === 401) { signOut('the API key was refused'); return; }
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    setText('#events-state', 'live');
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let k;
      while ((k = buf.indexOf('\n\n')) >= 0) {
        const ev = parseBlock(buf.slice(0, k));
        buf = buf.slice(k + 2);
        if (!ev) continue;
        if (ev.id) lastEventId = ev.id;
        addEvent(ev);
      }
    }
  }

  function startEvents() {
    const ac = new AbortController();
    stream = { ac };
    (async () => {
      let delay = 1000;
      while (!ac.signal.aborted && apiKey) {
        try { await runStream(ac); delay = 1000; } catch { /* dropped: resume below */ }
        if (ac.signal.aborted || !apiKey) break;
        setText('#events-state', 'reconnecting…');
        await new Promise((res) => setTimeout(res, delay));
        delay = Math.min(delay * 2, 15000);
      }
    })();
  }

  // ------------------------------------------------------------ wiring
  function init() {
    $('#signin-form').addEventListener('submit', (e) => { e.preventDefault(); signIn($('#apikey').value.trim()); });
    $('#signout').addEventListener('click', () => signOut(''));
    $('#create-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const id = $('#new-id').value.trim();
      await guard('#instances-error', async () => {
        const i = await api('POST', '/instances', id ? { instanceId: id } : {});
        $('#new-id').value = '';
        await refreshInstances();
        openDetail(i.instanceId);
      });
    });
    $('#btn-connect').addEventListener('click', () => action('POST', '/connect'));
    $('#btn-disconnect').addEventListener('click', () => action('POST', '/disconnect'));
    $('#btn-logout').addEventListener('click', () => action('POST', '/logout'));
    $('#btn-delete').addEventListener('click', deleteSelected);
    $('#paircode-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const id = selected;
      await guard('#detail-error', async () => {
        setText('#pair-code', 'asking WhatsApp for a code…');
        const d = await api('POST', `/instances/${enc(id)}/pair-code`, { phone: $('#pair-phone').value.trim() });
        setText('#pair-code', `Type ${d.code} on the phone (Linked devices > Link with phone number instead)`);
      });
    });
    $('#send-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const id = selected;
      await guard('#send-result', async () => {
        setText('#send-result', 'sending…');
        const d = await api('POST', `/instances/${enc(id)}/messages/text`,
          { to: $('#send-to').value.trim(), text: $('#send-text').value });
        setText('#send-result', `sent: ${d.messageId}`);
      });
    });
    $('#deliv-refresh').addEventListener('click', loadDeliveries);
    $('#deliv-status').addEventListener('change', loadDeliveries);
  }
  init();
})();
