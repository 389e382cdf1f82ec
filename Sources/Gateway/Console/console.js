// CityGate control-room console. Plain JavaScript, no framework, no build step: served by the gateway itself.
// Every API call goes to ../v1/ relative to this page, so the console works behind a reverse proxy's path prefix.
'use strict';

(() => {
  const API = new URL('../v1/', location.href);
  const TOKEN_KEY = 'citygate.token';
  const SEVERITIES = ['critical', 'major', 'minor', 'warning', 'info'];
  const STATE_RANK = { pending: 0, firing: 1, resolved: 2 };
  const RESOLVED_KEEP_MS = 15 * 60 * 1000;
  const params = new URLSearchParams(location.search);
  const wall = params.get('wall') === '1' || params.get('wall') === 'true';

  const $ = (id) => document.getElementById(id);
  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    user: null,
    alerts: new Map(),       // id -> alert
    seen: new Set(),         // alert ids already shown once (for the "new critical" cue)
    lastSeq: null,           // last event id of the live feed
    stream: null,            // AbortController of the live feed
    devices: [],
    deadletters: [],
    payloadAs: 'hex',
    chart: { device: '', metric: '', range: 3600000, data: null, unit: '' },
  };

  // ---- small DOM helper: h('td', {class: 'x', dataset: {a: 1}}, 'text', child) ----
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const SVG_NS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, text) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // ---- formatting ----
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  function fmtTime(ms, withSeconds = true) {
    if (ms === undefined || ms === null) return '';
    const d = new Date(ms), now = new Date();
    const hm = pad(d.getHours()) + ':' + pad(d.getMinutes()) + (withSeconds ? ':' + pad(d.getSeconds()) : '');
    if (d.toDateString() === now.toDateString()) return hm;
    const day = pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ';
    return (d.getFullYear() === now.getFullYear() ? day : d.getFullYear() + '-' + day) + hm.slice(0, 5);
  }
  function fmtAgo(ms) {
    if (!ms) return 'never';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + pad(Math.floor((s % 3600) / 60)) + ' min ago';
    return Math.floor(s / 86400) + ' d ago';
  }
  function fmtNum(v) {
    if (v === undefined || v === null) return '';
    if (typeof v === 'string') return v;              // "NaN", "Infinity" as the server writes them
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e7 || a < 1e-3)) return v.toExponential(3);
    return String(Number(v.toFixed(a >= 100 ? 1 : a >= 1 ? 3 : 4)));
  }

  // ---- status bar ----
  let statusTimer = null;
  function status(text, level = 'info', sticky = false) {
    const el = $('status');
    el.textContent = text;
    el.className = 'status' + (level === 'info' ? '' : ' ' + level);
    clearTimeout(statusTimer);
    if (!sticky) statusTimer = setTimeout(() => { el.textContent = ''; el.className = 'status'; }, level === 'info' ? 6000 : 15000);
  }

  // ---- API ----
  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }
  async function api(method, path, body) {
    const headers = { Authorization: 'Bearer ' + state.token, Accept: 'application/json' };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) { headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    let res;
    try {
      res = await fetch(new URL(path, API), init);
    } catch (e) {
      status('The gateway cannot be reached (' + e.message + ').', 'error');
      throw new ApiError(0, 'unreachable');
    }
    let data = null;
    const text = await res.text();
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (res.ok) return data;
    const message = (data && data.error) || res.statusText || ('HTTP ' + res.status);
    if (res.status === 401) {
      signOut('Your token was not accepted (' + message + '). Sign in again.');
    } else if (res.status === 403) {
      status('Your role (' + (state.user ? state.user.role : '?') + ') cannot do this: ' + message, 'error');
    } else if (res.status === 429) {
      const after = res.headers.get('Retry-After');
      status('Too many requests; retry ' + (after ? 'in ' + after + ' s' : 'later') + '.', 'warn');
    } else {
      status(method + ' ' + path + ' failed: ' + res.status + ' ' + message, 'error');
    }
    throw new ApiError(res.status, message);
  }
  const canOperate = () => !!state.user && (state.user.role === 'operator' || state.user.role === 'admin');

  // ---- sign in / out ----
  let signInRetry = null;
  async function signIn(token) {
    clearTimeout(signInRetry);
    state.token = token;
    let who;
    try {
      const res = await fetch(new URL('whoami', API), { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' });
      const data = await res.json().catch(() => ({}));
      if (!res.ok) throw new ApiError(res.status, data.error || res.statusText);
      who = data;
    } catch (e) {
      state.token = null;
      if (!(e instanceof ApiError)) {
        // The gateway is down or restarting: keep the token and try again (a wall screen signs itself back in).
        showLogin('Cannot reach the gateway (' + e.message + '); trying again in 5 s.');
        signInRetry = setTimeout(() => signIn(token), 5000);
        return;
      }
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin(e.status === 401 ? 'This token is not known to the gateway.' :
        e.status === 429 ? 'Too many attempts; wait a moment.' : 'Sign-in failed: ' + e.message);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    state.user = who;
    document.body.dataset.role = who.role;
    $('whoami').replaceChildren(h('b', {}, who.name), ' · ' + who.role);
    $('login').hidden = true;
    $('app').hidden = false;
    showPane(currentPane());
    startAlerts();
  }

  function signOut(message) {
    if (state.stream) state.stream.abort();
    state.stream = null;
    state.token = null;
    state.user = null;
    state.alerts.clear();
    state.seen.clear();
    state.lastSeq = null;
    sessionStorage.removeItem(TOKEN_KEY);
    rowCache.clear();
    units.clear();
    unitQueue.length = 0;
    firstLoad = true;
    status('');
    $('alert-rows').replaceChildren();
    $('app').hidden = true;
    showLogin(message || '');
  }

  function showLogin(message) {
    $('app').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('token').value = '';
    $('token').focus();
  }

  // ---- panes ----
  const PANES = ['alerts', 'devices', 'chart', 'deadletters'];
  function currentPane() {
    const name = location.hash.slice(1).split('?')[0];
    return PANES.includes(name) ? name : 'alerts';
  }
  function showPane(name) {
    for (const p of PANES) $('pane-' + p).hidden = p !== name;
    for (const a of document.querySelectorAll('.tabs a')) a.setAttribute('aria-selected', String(a.dataset.pane === name));
    if (name === 'devices') loadDevices();
    if (name === 'chart') openChart();
    if (name === 'deadletters') loadDeadLetters();
  }

  // ================= Alerts =================
  // A newer copy of an alert replaces an older one: states only move forward, acknowledgement and escalation only
  // get set. So a list read and a live event can arrive in either order and the row still ends up right.
  function progress(a) {
    return (STATE_RANK[a.state] ?? 0) * 4 + (a.acknowledged ? 2 : 0) + (a.escalated ? 1 : 0);
  }
  function mergeAlert(a) {
    const old = state.alerts.get(a.id);
    if (old && progress(old) > progress(a)) return false;
    if (a.state === 'resolved' && !a.resolved_ms) a.resolved_ms = Date.now();
    state.alerts.set(a.id, a);
    return true;
  }

  let firstLoad = true;
  async function loadOpenAlerts() {
    const data = await api('GET', 'alerts?state=open');
    const ids = new Set();
    for (const a of data.alerts || []) { ids.add(a.id); mergeAlert(a); if (firstLoad) state.seen.add(a.id); }
    firstLoad = false;
    // Alerts we show as open that the gateway no longer lists closed meanwhile: ask for each.
    const gone = [...state.alerts.values()].filter((a) => a.state !== 'resolved' && !ids.has(a.id));
    for (const a of gone) {
      try { mergeAlert(await api('GET', 'alerts/' + a.id)); } catch (e) { if (e.status === 404) state.alerts.delete(a.id); }
    }
    renderAlerts();
  }

  function startAlerts() {
    if (state.stream) state.stream.abort();
    const controller = new AbortController();
    state.stream = controller;
    runStream(controller.signal);
  }

  // The live feed: Server-Sent Events read with fetch so the token goes in the Authorization header. After an error
  // it reconnects with Last-Event-ID (backoff 1 s doubling to 30 s) and re-reads the open alerts.
  async function runStream(signal) {
    let backoff = 1000;
    while (!signal.aborted) {
      let opened = false;
      try {
        const headers = { Authorization: 'Bearer ' + state.token, Accept: 'text/event-stream' };
        if (state.lastSeq !== null) headers['Last-Event-ID'] = String(state.lastSeq);
        const res = await fetch(new URL('alerts/stream', API), { headers, signal, cache: 'no-store' });
        if (res.status === 401) { signOut('Your token was not accepted. Sign in again.'); return; }
        if (res.status === 429) {
          const after = Number(res.headers.get('Retry-After')) || 0;
          backoff = Math.max(backoff, after * 1000);
          throw new Error('rate limited');
        }
        if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
        opened = true;
        setLive('on');
        await loadOpenAlerts().catch(() => {});
        backoff = 1000;
        await readEvents(res.body, signal);
        if (!signal.aborted) throw new Error('the feed closed');
      } catch (e) {
        if (signal.aborted) return;
        setLive('retry', 'reconnecting in ' + Math.round(backoff / 1000) + ' s');
        if (opened) status('Live alert feed interrupted (' + e.message + '); reconnecting.', 'warn');
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, 30000);
      }
    }
  }

  async function readEvents(body, signal) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let event = { id: null, type: 'message', data: [] };
    signal.addEventListener('abort', () => reader.cancel().catch(() => {}), { once: true });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
        if (line === '') {
          if (event.data.length) dispatch(event);
          event = { id: null, type: 'message', data: [] };
          continue;
        }
        if (line.startsWith(':')) continue; // comment / keep-alive
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'id') event.id = val;
        else if (field === 'event') event.type = val;
        else if (field === 'data') event.data.push(val);
      }
    }
  }

  let resyncTimer = null;
  function dispatch(ev) {
    let body;
    try { body = JSON.parse(ev.data.join('\n')); } catch (_) { return; }
    const seq = Number(ev.id ?? body.seq);
    if (Number.isFinite(seq)) {
      // A gap in the sequence (a slow reader lost events): read the open alerts again, once things settle.
      if (state.lastSeq !== null && seq > state.lastSeq + 1) {
        clearTimeout(resyncTimer);
        resyncTimer = setTimeout(() => loadOpenAlerts().catch(() => {}), 500);
      }
      if (state.lastSeq === null || seq > state.lastSeq) state.lastSeq = seq;
    }
    if (!body.alert) return;
    mergeAlert(body.alert);
    renderAlerts();
  }

  function setLive(mode, title) {
    const el = $('live');
    el.dataset.live = mode;
    el.textContent = mode === 'on' ? 'live' : mode === 'retry' ? 'reconnecting' : 'feed off';
    el.title = title || 'live alert feed';
  }

  function sleep(ms, signal) {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
    });
  }

  function alertOrder(a, b) {
    const open = (x) => (x.state === 'resolved' ? 1 : 0);
    return open(a) - open(b)
      || (a.state === 'firing' ? 0 : 1) - (b.state === 'firing' ? 0 : 1)
      || sevRank(a.severity) - sevRank(b.severity)
      || (a.acknowledged ? 1 : 0) - (b.acknowledged ? 1 : 0)
      || (b.fired_ms ?? b.started_ms) - (a.fired_ms ?? a.started_ms);
  }
  const sevRank = (s) => { const i = SEVERITIES.indexOf(s); return i < 0 ? SEVERITIES.length : i; };

  const rowCache = new Map(); // alert id -> { sig, tr }
  function renderAlerts() {
    const showResolved = $('show-resolved').checked || false;
    const showPending = $('show-pending').checked;
    const now = Date.now();
    for (const [id, a] of state.alerts) {
      if (a.state === 'resolved' && now - (a.resolved_ms || now) > RESOLVED_KEEP_MS) state.alerts.delete(id);
    }
    const list = [...state.alerts.values()]
      .filter((a) => (a.state !== 'resolved' || showResolved) && (a.state !== 'pending' || showPending))
      .sort(alertOrder);
    let freshCritical = false;
    // Rows are kept per alert and rebuilt only when what they show changed, so a row under the pointer (or a
    // button being pressed) is not replaced by every event of another alert.
    const tbody = $('alert-rows');
    const keep = new Set();
    list.forEach((a, i) => {
      const isNew = !state.seen.has(a.id) && a.state === 'firing';
      if (isNew) { state.seen.add(a.id); if (a.severity === 'critical') freshCritical = true; }
      const since = a.state === 'resolved' ? a.resolved_ms : (a.fired_ms ?? a.started_ms);
      const sig = JSON.stringify(a) + '|' + canOperate() + '|' + fmtAgo(since) + '|' + (units.get(a.device)?.get(a.metric) ?? '');
      let cached = rowCache.get(a.id);
      if (!cached || cached.sig !== sig) {
        const tr = alertRow(a, isNew);
        if (cached) cached.tr.replaceWith(tr);
        cached = { sig, tr };
        rowCache.set(a.id, cached);
      }
      keep.add(a.id);
      if (tbody.children[i] !== cached.tr) tbody.insertBefore(cached.tr, tbody.children[i] || null);
    });
    for (const [id, cached] of rowCache) if (!keep.has(id)) { cached.tr.remove(); rowCache.delete(id); }
    $('alerts-empty').hidden = list.length > 0;
    renderCounts();
    if (freshCritical) document.body.animate?.([{ opacity: 1 }, { opacity: .6 }, { opacity: 1 }], { duration: 600, iterations: 2 });
  }

  // Alerts carry no unit: the device's metric list has it. Asked once per device, one request at a time.
  const units = new Map(); // device -> Map(metric -> unit), or null while asked
  const unitQueue = [];
  let unitBusy = false;
  function unitOf(device, metric) {
    const known = units.get(device);
    if (known) return known.get(metric) || '';
    if (known === undefined) { units.set(device, null); unitQueue.push(device); pumpUnits(); }
    return '';
  }
  async function pumpUnits() {
    if (unitBusy) return;
    unitBusy = true;
    while (unitQueue.length && state.token) {
      const device = unitQueue.shift();
      const map = new Map();
      try {
        const res = await fetch(new URL('devices/' + encodeURIComponent(device), API), { headers: { Authorization: 'Bearer ' + state.token }, cache: 'no-store' });
        if (res.ok) for (const m of (await res.json()).metrics || []) map.set(m.metric, m.unit || '');
      } catch (_) { /* no unit then */ }
      units.set(device, map);
      if (map.size) renderAlerts();
    }
    unitBusy = false;
  }

  function alertRow(a, isNew) {
    const unit = a.metric ? unitOf(a.device, a.metric) : '';
    const withUnit = (v) => fmtNum(v) + (unit ? ' ' + unit : '');
    const value = a.value !== undefined && a.value !== null ? withUnit(a.value) : '';
    const last = a.last_value !== undefined && a.last_value !== null && a.last_value !== a.value ? withUnit(a.last_value) : '';
    const since = a.state === 'resolved' ? a.resolved_ms : (a.fired_ms ?? a.started_ms);
    const actions = [];
    if (canOperate() && a.state === 'firing' && !a.acknowledged) {
      actions.push(h('button', { type: 'button', class: 'primary ack', 'data-action': 'acknowledge', onclick: () => act(a, 'acknowledge') }, 'Acknowledge'));
    }
    if (canOperate() && a.state !== 'resolved') {
      actions.push(h('button', { type: 'button', class: 'resolve', 'data-action': 'resolve', onclick: () => act(a, 'resolve') }, 'Resolve'));
    }
    return h('tr', {
      class: 'sev-' + (SEVERITIES.includes(a.severity) ? a.severity : 'info') + (isNew ? ' new' : ''),
      dataset: { alertId: a.id, state: a.state, acknowledged: String(!!a.acknowledged), severity: a.severity, device: a.device },
    },
    h('td', {}, h('span', { class: 'badge' }, a.severity), a.escalated ? h('span', { class: 'escalated', title: 'escalated' }, ' ▲') : null),
    h('td', { class: 'state state-' + a.state }, a.state + (a.state === 'resolved' && a.resolved_by ? ' (' + a.resolved_by + ')' : '')),
    h('td', {}, h('div', { class: 'rule' }, a.rule), a.summary ? h('div', { class: 'summary-line' }, a.summary) : null),
    h('td', { class: 'mono device' }, a.device),
    h('td', {}, a.metric || h('span', { class: 'dim' }, '—'), a.kind ? h('div', { class: 'dim small' }, a.kind) : null),
    h('td', { class: 'num value' }, value, last ? h('div', { class: 'dim small' }, 'now ' + last) : null),
    h('td', { class: 'since', title: a.started_ms ? 'breach began ' + fmtTime(a.started_ms) : '' }, fmtTime(since), h('div', { class: 'dim small' }, fmtAgo(since))),
    h('td', { class: 'ackcell' }, a.acknowledged
      ? h('span', { class: 'acked' }, '✓ ', h('span', { class: 'acked-by' }, a.acknowledged_by || '?'), a.acknowledged_ms ? h('div', { class: 'dim small' }, fmtTime(a.acknowledged_ms)) : null)
      : h('span', { class: 'dim' }, '—')),
    h('td', { class: 'actions' }, actions));
  }

  async function act(a, action) {
    if (action === 'resolve' && !confirm('Resolve alert ' + a.rule + ' on ' + a.device + '?')) return;
    for (const b of document.querySelectorAll('tr[data-alert-id="' + a.id + '"] button')) b.disabled = true;
    try {
      const updated = await api('POST', 'alerts/' + a.id + '/' + action);
      if (updated && updated.id !== undefined) mergeAlert(updated);
      status((action === 'acknowledge' ? 'Acknowledged ' : 'Resolved ') + a.rule + ' on ' + a.device + '.');
    } catch (_) { /* the status bar says why */ }
    renderAlerts();
  }

  function renderCounts() {
    const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
    let open = 0;
    for (const a of state.alerts.values()) {
      if (a.state === 'resolved') continue;
      open++;
      if (counts[a.severity] !== undefined) counts[a.severity]++;
    }
    $('counts').replaceChildren(...SEVERITIES.filter((s) => s !== 'minor' || counts.minor > 0).map((s) =>
      h('span', { class: 'count sev-' + s + (counts[s] ? '' : ' zero'), title: counts[s] + ' open ' + s, dataset: { severity: s, count: counts[s] } }, counts[s] + ' ' + s)));
    document.title = (open ? '(' + open + ') ' : '') + 'CityGate console';
  }

  // ================= Devices =================
  async function loadDevices() {
    try {
      const data = await api('GET', 'devices?limit=10000');
      state.devices = (data.devices || []).sort((a, b) => String(a.id).localeCompare(String(b.id)));
      const sum = data.summary || {};
      $('device-summary').textContent = (sum.total ?? state.devices.length) + ' devices · ' + (sum.online ?? '?') + ' online · ' + (sum.offline ?? '?') + ' offline';
      renderDevices();
      fillDeviceSelect();
    } catch (_) { /* status bar */ }
  }

  function batteryCell(b) {
    if (!b || b.value === undefined || b.value === null) return h('td', { class: 'num dim' }, '—');
    const low = b.unit === '%' ? b.value < 20 : b.unit === 'V' ? b.value < 3.3 : false;
    return h('td', { class: 'num' + (low ? ' low' : '') }, fmtNum(b.value) + ' ' + (b.unit || ''));
  }
  const sigCell = (v, unit) => (v === undefined || v === null) ? h('td', { class: 'num dim' }, '—') : h('td', { class: 'num' }, fmtNum(v) + ' ' + unit);

  function renderDevices() {
    const q = $('device-filter').value.trim().toLowerCase();
    const words = q.split(/\s+/).filter(Boolean);
    const list = state.devices.filter((d) => {
      const hay = [d.id, d.profile, d.family, d.state].join(' ').toLowerCase();
      return words.every((w) => hay.includes(w));
    });
    $('device-rows').replaceChildren(...list.map((d) => {
      const sig = d.signal || {};
      return h('tr', { dataset: { deviceId: d.id, state: d.state }, title: 'chart ' + d.id, onclick: () => { location.hash = 'chart'; chartFor(d.id); } },
        h('td', { class: 'mono' }, d.id),
        h('td', {}, d.profile || '', d.profile_version ? h('span', { class: 'dim small' }, ' v' + d.profile_version) : null),
        h('td', {}, d.family || ''),
        h('td', { class: 'state-' + (d.state || 'unknown') }, d.state || 'unknown'),
        h('td', { title: fmtTime(d.last_seen_ms) }, fmtAgo(d.last_seen_ms)),
        batteryCell(d.battery),
        sigCell(sig.rsrp_dbm, 'dBm'), sigCell(sig.sinr_db, 'dB'), sigCell(sig.csq_dbm, 'dBm'),
        h('td', { class: 'num' }, d.message_count ?? ''));
    }));
    $('devices-empty').hidden = list.length > 0;
  }

  // ================= Chart =================
  function fillDeviceSelect() {
    const sel = $('chart-device');
    const current = state.chart.device || sel.value;
    const ids = state.devices.map((d) => d.id);
    if (current && !ids.includes(current)) ids.unshift(current);
    sel.replaceChildren(h('option', { value: '' }, '— device —'), ...ids.map((id) => h('option', { value: id }, id)));
    sel.value = current || '';
  }

  async function openChart() {
    if (!state.devices.length) await loadDevices();
    else fillDeviceSelect();
    if (state.chart.device) drawChartFor();
    else drawMessage('Pick a device and a metric.');
    markRange();
  }

  async function chartFor(device, metric) {
    state.chart.device = device;
    state.chart.metric = metric || '';
    fillDeviceSelect();
    let info;
    try { info = await api('GET', 'devices/' + encodeURIComponent(device)); } catch (_) { return; }
    const metrics = info.metrics || [];
    const sel = $('chart-metric');
    sel.replaceChildren(...metrics.map((m) => h('option', { value: m.metric },
      m.metric + (m.unit ? ' (' + m.unit + ')' : '') + (m.last_value !== undefined && m.last_value !== null ? ' · last ' + fmtNum(m.last_value) : ''))));
    if (!metrics.length) { drawMessage('This device has no stored metrics.'); return; }
    // Open on the device's own measurement rather than its battery or radio values.
    const main = metrics.find((x) => !/battery|rssi|snr|rsrp|sinr|csq|signal/i.test(x.metric)) || metrics[0];
    if (!metrics.some((m) => m.metric === state.chart.metric)) state.chart.metric = main.metric;
    sel.value = state.chart.metric;
    const m = metrics.find((x) => x.metric === state.chart.metric);
    // Open on the range that holds the latest data.
    if (!metric && m && m.last_ms && Date.now() - m.last_ms > state.chart.range) {
      state.chart.range = [3600000, 21600000, 86400000, 604800000].find((r) => Date.now() - m.last_ms < r) || 604800000;
      markRange();
    }
    drawChartFor();
  }

  function markRange() {
    for (const b of document.querySelectorAll('[data-range]')) b.classList.toggle('active', Number(b.dataset.range) === state.chart.range);
  }

  function niceStep(ms) {
    const steps = [1e3, 5e3, 1e4, 15e3, 3e4, 6e4, 3e5, 6e5, 9e5, 18e5, 36e5, 108e5, 216e5, 432e5, 864e5];
    return steps.find((x) => x >= ms) || steps[steps.length - 1];
  }

  async function drawChartFor() {
    const { device, metric, range } = state.chart;
    if (!device || !metric) { drawMessage('Pick a device and a metric.'); return; }
    const to = Date.now(), from = to - range;
    const raw = $('chart-raw').checked;
    const step = niceStep(range / 240);
    const q = 'series/' + encodeURIComponent(device) + '/' + encodeURIComponent(metric) + '?from=' + from + '&to=' + to + (raw ? '' : '&step=' + step);
    drawMessage('Loading…');
    let data;
    try { data = await api('GET', q); } catch (_) { drawMessage('Could not load the series.'); return; }
    if (state.chart.device !== device || state.chart.metric !== metric) return; // the user moved on
    // Raw points come as points: [{t, v}]; steps as steps: [{t, min, max, avg, count, last}].
    state.chart.data = { ...data, points: (raw ? data.points : data.steps) || [], from, to, step: raw ? null : step };
    drawChart();
  }

  function drawMessage(text) {
    const svg = s('svg', { viewBox: '0 0 1000 300', role: 'img' });
    svg.append(s('text', { x: 500, y: 150, 'text-anchor': 'middle', class: 'message' }, text));
    $('chart').replaceChildren(svg);
    $('chart-readout').textContent = '';
  }

  function niceTicks(min, max, count) {
    if (min === max) { min -= 1; max += 1; }
    const span = max - min, raw = span / count, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((x) => x >= raw);
    const lo = Math.floor(min / step) * step, hi = Math.ceil(max / step) * step, out = [];
    for (let v = lo; v <= hi + step / 2; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }

  function timeTicks(from, to, count) {
    const span = to - from;
    const steps = [6e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5, 864e5, 1728e5];
    const step = steps.find((x) => span / x <= count) || 1728e5;
    const offset = new Date().getTimezoneOffset() * 60000; // align ticks to local midnight / hours
    const out = [];
    for (let t = Math.ceil((from - offset) / step) * step + offset; t <= to; t += step) out.push(t);
    return { ticks: out, step };
  }

  function drawChart() {
    const d = state.chart.data;
    const pts = (d.points || []).filter((p) => typeof (p.avg ?? p.v) === 'number');
    if (!pts.length) { drawMessage('No data for ' + d.metric + ' in this range.'); return; }
    const box = $('chart');
    const W = Math.max(600, box.clientWidth - 10), H = wall ? 560 : 420;
    const m = { l: 80, r: 20, t: 30, b: 40 };
    const aggregated = !!d.step;
    let lo = Infinity, hi = -Infinity;
    for (const p of pts) {
      const a = aggregated ? p.min : p.v, b = aggregated ? p.max : p.v;
      if (a < lo) lo = a; if (b > hi) hi = b;
    }
    const yt = niceTicks(lo, hi, 6);
    const y0 = yt[0], y1 = yt[yt.length - 1];
    const X = (t) => Math.max(m.l, m.l + (t - d.from) / (d.to - d.from) * (W - m.l - m.r)); // a step begun before `from` starts at the axis
    const Y = (v) => H - m.b - (v - y0) / (y1 - y0) * (H - m.t - m.b);
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': d.device + ' ' + d.metric });
    for (const v of yt) {
      svg.append(s('line', { x1: m.l, x2: W - m.r, y1: Y(v), y2: Y(v), class: 'grid-line' }));
      svg.append(s('text', { x: m.l - 8, y: Y(v) + 4, 'text-anchor': 'end' }, fmtNum(v)));
    }
    const { ticks, step } = timeTicks(d.from, d.to, Math.floor((W - m.l - m.r) / 110));
    for (const t of ticks) {
      const dt = new Date(t);
      const label = step >= 864e5 || (dt.getHours() === 0 && dt.getMinutes() === 0)
        ? pad(dt.getMonth() + 1) + '-' + pad(dt.getDate()) + (step < 864e5 ? ' 00:00' : '')
        : pad(dt.getHours()) + ':' + pad(dt.getMinutes());
      svg.append(s('line', { x1: X(t), x2: X(t), y1: m.t, y2: H - m.b, class: 'grid-line' }));
      svg.append(s('text', { x: X(t), y: H - m.b + 20, 'text-anchor': 'middle' }, label));
    }
    svg.append(s('line', { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b, class: 'axis' }));
    svg.append(s('line', { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, class: 'axis' }));
    svg.append(s('text', { x: m.l, y: 18, 'text-anchor': 'start' },
      d.device + ' · ' + d.metric + (d.unit ? ' [' + d.unit + ']' : '') + ' · ' + (aggregated ? 'min–max band and average per ' + fmtDuration(d.step) : 'raw points')));

    // Runs of consecutive points: a gap longer than 2.5 times the usual spacing of the points (and than 1.5 steps)
    // breaks the line, so a device that went quiet shows as a hole, not as a straight line across it.
    const spacing = pts.slice(1).map((p, i) => p.t - pts[i].t).sort((a, b) => a - b);
    const usual = spacing.length ? spacing[Math.floor(spacing.length / 2)] : 0;
    const gap = Math.max(usual * 2.5, aggregated ? d.step * 1.5 : 0) || Infinity;
    const runs = [];
    for (const p of pts) {
      const run = runs[runs.length - 1];
      if (run && p.t - run[run.length - 1].t <= gap) run.push(p); else runs.push([p]);
    }
    for (const run of runs) {
      if (aggregated) {
        const top = run.map((p) => X(p.t) + ',' + Y(p.max)), bottom = run.slice().reverse().map((p) => X(p.t) + ',' + Y(p.min));
        if (run.length > 1) svg.append(s('polygon', { points: top.concat(bottom).join(' '), class: 'band' }));
        else svg.append(s('line', { x1: X(run[0].t), x2: X(run[0].t), y1: Y(run[0].min), y2: Y(run[0].max), class: 'line' }));
      }
      const key = aggregated ? 'avg' : 'v';
      if (run.length > 1) svg.append(s('polyline', { points: run.map((p) => X(p.t) + ',' + Y(p[key])).join(' '), class: 'line' }));
      if (run.length === 1 || (!aggregated && pts.length <= 400)) for (const p of run) svg.append(s('circle', { cx: X(p.t), cy: Y(p[key]), r: 2.5, class: 'dot' }));
    }
    const cursor = s('line', { x1: 0, x2: 0, y1: m.t, y2: H - m.b, class: 'cursor', visibility: 'hidden' });
    svg.append(cursor);
    svg.addEventListener('mousemove', (ev) => {
      const r = svg.getBoundingClientRect();
      const x = (ev.clientX - r.left) * W / r.width;
      const t = d.from + (x - m.l) / (W - m.l - m.r) * (d.to - d.from);
      let best = pts[0];
      for (const p of pts) if (Math.abs(p.t - t) < Math.abs(best.t - t)) best = p;
      cursor.setAttribute('x1', X(best.t)); cursor.setAttribute('x2', X(best.t)); cursor.setAttribute('visibility', 'visible');
      const u = d.unit ? ' ' + d.unit : '';
      $('chart-readout').textContent = fmtTime(best.t) + '  ' + (aggregated
        ? 'min ' + fmtNum(best.min) + u + ' · avg ' + fmtNum(best.avg) + u + ' · max ' + fmtNum(best.max) + u + ' · ' + best.count + ' samples'
        : fmtNum(best.v) + u);
    });
    svg.addEventListener('mouseleave', () => cursor.setAttribute('visibility', 'hidden'));
    box.replaceChildren(svg);
    $('chart-readout').textContent = pts.length + (aggregated ? ' steps' : ' points') + ' · ' + fmtTime(d.from, false) + ' – ' + fmtTime(d.to, false);
  }

  function fmtDuration(ms) {
    if (ms % 864e5 === 0) return ms / 864e5 + ' d';
    if (ms % 36e5 === 0) return ms / 36e5 + ' h';
    if (ms % 6e4 === 0) return ms / 6e4 + ' min';
    return ms / 1e3 + ' s';
  }

  // ================= Dead letters =================
  async function loadDeadLetters() {
    try {
      const data = await api('GET', 'deadletters?limit=200');
      state.deadletters = data.deadletters || [];
      renderDeadLetters();
    } catch (_) { /* status bar */ }
  }

  function payloadCell(dl) {
    const text = dl.payload_text;
    // Text only when it reads as text: valid UTF-8 without control characters (binary frames can be valid UTF-8).
    const readable = typeof text === 'string' && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text);
    const asText = state.payloadAs === 'text' && readable;
    const shown = asText ? text : (dl.payload_hex || '').replace(/(..)(?!$)/g, '$1 ');
    const cut = shown.length > 160 ? shown.slice(0, 160) + '…' : shown;
    const more = dl.payload_bytes > (dl.payload_hex || '').length / 2 ? ' of ' + dl.payload_bytes + ' bytes' : '';
    return h('td', { class: 'mono wrap payload', title: shown.length > 160 ? shown : '' },
      cut, !asText && state.payloadAs === 'text' ? h('div', { class: 'dim small' }, '(binary: hex)') : null,
      more ? h('div', { class: 'dim small' }, 'first ' + (dl.payload_hex.length / 2) + more) : null);
  }

  function renderDeadLetters() {
    const words = $('dl-filter').value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const list = state.deadletters.filter((dl) => {
      const hay = [dl.device, dl.topic, dl.reason, dl.error, dl.transport, dl.status, dl.profile].join(' ').toLowerCase();
      return words.every((w) => hay.includes(w));
    });
    for (const b of document.querySelectorAll('[data-payload]')) b.classList.toggle('active', b.dataset.payload === state.payloadAs);
    $('dl-rows').replaceChildren(...list.map((dl) => h('tr', { dataset: { deadletterId: dl.id, status: dl.status } },
      h('td', { title: fmtAgo(dl.received_ms) }, fmtTime(dl.received_ms)),
      h('td', {}, dl.transport || ''),
      h('td', { class: 'mono wrap topic' }, dl.topic || ''),
      h('td', { class: 'mono' }, dl.device || h('span', { class: 'dim' }, '—')),
      h('td', {}, dl.reason || '', dl.profile ? h('div', { class: 'dim small' }, dl.profile) : null),
      h('td', { class: 'small error' }, dl.error || ''),
      payloadCell(dl),
      h('td', {}, dl.status || '', dl.replay_attempts ? h('div', { class: 'dim small' }, dl.replay_attempts + ' replays') : null),
      h('td', { class: 'actions' }, canOperate() && dl.status !== 'replayed'
        ? h('button', { type: 'button', 'data-action': 'replay', onclick: (ev) => replay(dl, ev.target) }, 'Replay') : null))));
    $('dl-empty').hidden = list.length > 0;
  }

  async function replay(dl, button) {
    button.disabled = true;
    try {
      // The answer: {replayed, failed, samples, letters: [the letter as it is now]}.
      const r = await api('POST', 'deadletters/' + encodeURIComponent(dl.id) + '/replay');
      const now = (r.letters || []).find((x) => x.id === dl.id);
      if (now) Object.assign(dl, now);
      if (r.replayed) status('Dead letter ' + dl.id + ' replayed: ' + r.samples + ' samples stored.');
      else status('Dead letter ' + dl.id + ' failed again: ' + (dl.replay_error || dl.error || 'no reason given') + '.', 'warn');
    } catch (_) { /* status bar */ }
    renderDeadLetters();
  }

  // ================= wiring =================
  function tick() {
    const d = new Date();
    $('clock').textContent = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function init() {
    if (wall) document.body.classList.add('wall');
    $('login-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const token = $('token').value.trim();
      if (token) signIn(token);
    });
    $('sign-out').addEventListener('click', () => signOut('Signed out.'));
    window.addEventListener('hashchange', () => { if (state.user) showPane(currentPane()); });
    $('show-resolved').addEventListener('change', renderAlerts);
    $('show-pending').addEventListener('change', renderAlerts);
    $('device-filter').addEventListener('input', renderDevices);
    $('devices-refresh').addEventListener('click', loadDevices);
    $('chart-device').addEventListener('change', (ev) => { if (ev.target.value) chartFor(ev.target.value); });
    $('chart-metric').addEventListener('change', (ev) => { state.chart.metric = ev.target.value; drawChartFor(); });
    $('chart-raw').addEventListener('change', drawChartFor);
    for (const b of document.querySelectorAll('[data-range]')) {
      b.addEventListener('click', () => { state.chart.range = Number(b.dataset.range); markRange(); drawChartFor(); });
    }
    $('dl-filter').addEventListener('input', renderDeadLetters);
    $('dl-refresh').addEventListener('click', loadDeadLetters);
    for (const b of document.querySelectorAll('[data-payload]')) {
      b.addEventListener('click', () => { state.payloadAs = b.dataset.payload; renderDeadLetters(); });
    }
    let resizeTimer = null;
    window.addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => { if (state.chart.data && currentPane() === 'chart') drawChart(); }, 200); });
    setInterval(() => { if (state.user) renderAlerts(); }, 30000); // age out resolved rows, refresh "since"
    // Pending alerts that end quietly send no event: read the open list again now and then.
    setInterval(() => { if (state.user && $('live').dataset.live === 'on') loadOpenAlerts().catch(() => {}); }, 60000);
    setInterval(() => { if (state.user && currentPane() === 'devices') loadDevices(); }, 30000);
    tick();
    setInterval(tick, 1000);
    renderCounts();
    if (state.token) signIn(state.token); else showLogin('');
  }

  init();
})();
