// offline.js — entries made in the field kept on the device (CONTRACT §9):
// an IndexedDB queue that survives a reload and a closed tab, sent by §1.1
// (POST /api/v1/ingest/<program>/<unit>/<metric> with {"value","ts"}) in
// entry order, one at a time, whenever a connection is there; and a small
// cache of what the form suggests (programs, units, metrics, a price
// round's commodities) for when there is none.
//
// Every entry carries the ts of the moment it was made, so sending it twice
// stores it once (§1's (series, ts) identity): a retry after a lost answer
// is harmless. Runs on the page's thread; the state it owns is the
// database "pantau-offline" (stores "entries" and "cache").
import { ingestPath, outcome } from './offline_rules.js';

const DB = 'pantau-offline';
const RETRY_MS = 10000; // while entries wait: try again this often
const SEND_MS = 20000; // a weak signal's answer: given up after this (then retried)
let dbp = null;
const listeners = new Set();
let sending = null; // the running flush, if any
let waitSignIn = false; // the last answer was 401
let timer = null;

function open() {
  if (!dbp) {
    dbp = new Promise((resolve, reject) => {
      const r = indexedDB.open(DB, 1);
      r.onupgradeneeded = () => {
        r.result.createObjectStore('entries', { keyPath: 'id', autoIncrement: true });
        r.result.createObjectStore('cache');
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    dbp.catch(() => (dbp = null));
  }
  return dbp;
}

// One transaction on `store`; fn(objectStore) returns a request or nothing.
async function tx(store, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(store, mode);
    const req = fn(t.objectStore(store));
    t.oncomplete = () => resolve(req ? req.result : undefined);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

function changed() {
  for (const fn of listeners) fn();
}
// fn() runs after any change of the queue (a new, sent, rejected or
// discarded entry). Returns the function that stops it.
export function onQueue(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// Every kept entry, oldest first: {id, program, unit, metric, value, ts,
// labels?, made, state: 'pending'|'rejected', error?}.
export function entries() {
  return tx('entries', 'readonly', (s) => s.getAll());
}
export const waitingForSignIn = () => waitSignIn;

// Keeps an entry (ts: the moment Kirim was pressed unless the person gave
// another) and tries to send the queue at once.
export async function keep(e) {
  const entry = { program: e.program, unit: e.unit, metric: e.metric, value: e.value, ts: e.ts, made: Date.now(), state: 'pending' };
  if (e.labels && Object.keys(e.labels).length) entry.labels = e.labels;
  entry.id = await tx('entries', 'readwrite', (s) => s.add(entry));
  changed();
  return entry;
}
export async function discard(id) {
  await tx('entries', 'readwrite', (s) => s.delete(id));
  changed();
}

async function sendOne(e) {
  const body = { value: e.value, ts: e.ts };
  if (e.labels) body.labels = e.labels;
  let status = 0;
  let answer = null;
  try {
    const r = await fetch(ingestPath(e), {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout ? AbortSignal.timeout(SEND_MS) : undefined, // Safari 15 has none
    });
    status = r.status;
    answer = await r.json().catch(() => null);
  } catch {
    status = 0; // no connection
  }
  return outcome(status, answer);
}

// Sends the pending entries in entry order, one at a time, until one cannot
// go (no connection, 401, a server in trouble). Returns {stored, left}.
// One flush at a time in this tab, and (Web Locks) across the device's tabs.
let again = null; // a flush asked for while one runs: one more after it
export function flush() {
  if (sending) {
    again ||= sending
      .catch(() => {})
      .then(() => {
        again = null;
        return flush();
      });
    return again;
  }
  const run = () => flushNow().finally(() => (sending = null));
  sending = navigator.locks ? navigator.locks.request('pantau-offline-flush', run) : run();
  return sending;
}

async function flushNow() {
  let stored = 0;
  const all = await entries();
  for (const e of all) {
    if (e.state !== 'pending') continue;
    const o = await sendOne(e);
    if (o.kind === 'stored') {
      await tx('entries', 'readwrite', (s) => s.delete(e.id));
      stored++;
      waitSignIn = false;
    } else if (o.kind === 'rejected') {
      await tx('entries', 'readwrite', (s) => s.put({ ...e, state: 'rejected', error: o.error }));
      waitSignIn = false;
    } else {
      waitSignIn = o.kind === 'signin';
      break;
    }
    changed();
  }
  const left = (await entries()).filter((e) => e.state === 'pending').length;
  schedule(left);
  changed();
  return { stored, left };
}

function schedule(left) {
  clearTimeout(timer);
  timer = left ? setTimeout(() => flush().catch(() => {}), RETRY_MS) : null;
}

// Starts sending whenever a connection may be back (the browser's online
// event, a tab coming to the front) and whatever was kept before.
let started = false;
export function startSender() {
  if (started) return;
  started = true;
  const go = () => flush().catch(() => {});
  window.addEventListener('online', go);
  document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && go());
  go();
}

// ---- what the form suggests, kept for offline use ----
export function cachePut(key, value) {
  return tx('cache', 'readwrite', (s) => s.put(value, key)).catch(() => {});
}
export function cacheGet(key) {
  return tx('cache', 'readonly', (s) => s.get(key)).catch(() => undefined);
}
