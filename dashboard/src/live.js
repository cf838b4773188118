// live.js — the websocket /api/v1/live (subprotocol pantau.v1): subscribes
// to everything with a snapshot, reconnects with backoff (1 s doubling to
// 10 s, with jitter), and after every (re)connect re-fetches programs,
// alerts and units, so a wall screen is never silently stale.
import { get } from './api.js';
import { loadAll, onAlert, onKpi, onSamples, onUnit, setConn } from './state.js';

let ws = null;
let attempt = 0;
let lastFrame = 0;
let paused = false; // signed out (people.js): no socket, no retries

// CONTRACT §8: the session ended (sign-out, or a 401): close, stop retrying.
export function pauseLive() {
  paused = true;
  const s = ws;
  ws = null;
  s?.close();
}
// Signed in again: connect at once (the open re-fetches everything).
export function resumeLive() {
  if (!paused) return;
  paused = false;
  attempt = 0;
  connect();
}

export function startLive() {
  connect();
  // A dead TCP connection (pantaud's host gone) shows no close: ping, and
  // give up on a socket that answers nothing for 25 s.
  setInterval(() => {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - lastFrame > 25000) ws.close();
    else ws.send('{"op":"ping"}');
  }, 10000);
}

function connect() {
  if (paused || ws) return;
  setConn(attempt === 0 ? 'connecting' : 'lost');
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/live`;
  let sock;
  try {
    sock = new WebSocket(url, 'pantau.v1');
  } catch {
    retry();
    return;
  }
  ws = sock;
  let opened = false;
  sock.onopen = () => {
    opened = true;
    lastFrame = Date.now();
    sock.send(JSON.stringify({ op: 'subscribe', filters: ['#'], snapshot: true }));
    loadAll().then(
      () => {
        if (ws !== sock) return;
        attempt = 0;
        setConn('live');
      },
      () => sock.close(),
    );
  };
  let snapshotPending = true;
  sock.onmessage = (ev) => {
    lastFrame = Date.now();
    let m;
    try {
      m = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (m.type === 'samples') {
      onSamples(m.samples, snapshotPending);
      snapshotPending = false;
    } else if (m.type === 'kpi') onKpi(m.program, m.kpi);
    else if (m.type === 'unit') onUnit(m.unit);
    else if (m.type === 'alert') onAlert(m.alert);
  };
  sock.onclose = () => {
    if (ws !== sock) return;
    ws = null;
    setConn('lost');
    // A refused upgrade shows no status to scripts: ask whether the
    // credential still works (a 401 brings the sign-in form, api.js).
    if (!opened) get('/api/v1/me').catch(() => {});
    retry();
  };
  sock.onerror = () => {};
}

function retry() {
  const delay = Math.min(10000, 1000 * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() * 0.5);
  attempt++;
  setTimeout(connect, attempt === 1 ? 500 : delay);
}
