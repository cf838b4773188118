// state.js — what the dashboard knows, bounded: the programs and dimensions
// (as the API last gave them, patched by kpi frames), units, alerts (at most
// MAX_ALERTS), the latest sample of each series a view shows (the price
// board's), and per program the latest sample that arrived. Nothing grows
// per sample, nor with series no view shows: a regency's field units make
// new series all day (every kampung a van visits), and a wall screen that
// kept one entry per series would grow for weeks.
import { get, qs } from './api.js';
import { setTimezone } from './format.js';
import { invalidate } from './render.js';

const MAX_ALERTS = 300;
export const state = {
  regency: null,
  programs: [],
  dimensions: [],
  units: new Map(), // "program/unit" -> unit
  alerts: new Map(), // id -> ALERT (firing ones, and recent transitions)
  latest: new Map(), // series key -> {program, unit, metric, labels, ts, value}; shown series only
  lastByProgram: new Map(), // program -> the latest sample that arrived for it
  conn: 'connecting',
  connSince: Date.now(),
};

// The series whose latest sample a view shows: the price board's prices and
// their references (views/prices.js).
const SHOWN_METRICS = new Set(['price', 'reference_price']);
const shown = (s) => SHOWN_METRICS.has(s.metric);

export function seriesKey(s) {
  const l = s.labels
    ? Object.keys(s.labels)
        .sort()
        .map((k) => `${k}=${s.labels[k]}`)
        .join(',')
    : '';
  return `${s.program}/${s.unit}/${s.metric}{${l}}`;
}

export async function loadPrograms() {
  const [p, d] = await Promise.all([get('/api/v1/programs'), get('/api/v1/dimensions')]);
  state.regency = p.regency;
  setTimezone(p.regency?.timezone);
  state.programs = p.programs;
  state.dimensions = d.dimensions;
  invalidate('programs');
}
export async function loadUnits() {
  const u = await get('/api/v1/units');
  state.units.clear();
  for (const x of u.units) state.units.set(`${x.program}/${x.unit}`, x);
  invalidate('units');
}
export async function loadAlerts() {
  const a = await get(`/api/v1/alerts?${qs({ state: 'active' })}`);
  state.alerts.clear();
  for (const x of a.alerts.slice(0, MAX_ALERTS)) state.alerts.set(x.id, x);
  invalidate('alerts');
}
export async function loadSeries() {
  const s = await get('/api/v1/series');
  for (const x of s.series) {
    if (x.last_ts === null || !shown(x)) continue;
    const sample = { program: x.program, unit: x.unit, metric: x.metric, labels: x.labels, ts: x.last_ts, value: x.last_value };
    state.latest.set(seriesKey(sample), sample);
  }
  invalidate('samples');
}
// After every (re)connect; the latest samples come with the websocket's
// snapshot (loadSeries is for the first paint only).
export function loadAll() {
  return Promise.all([loadPrograms(), loadUnits(), loadAlerts()]);
}

// ---- live frames (CONTRACT §3) ----
export function onSamples(samples, fromSnapshot) {
  for (const s of samples) {
    if (!fromSnapshot) state.lastByProgram.set(s.program, { ...s, arrived: Date.now() });
    if (!shown(s)) continue;
    const key = seriesKey(s);
    const prev = state.latest.get(key);
    if (prev && prev.ts > s.ts) continue; // a late sample is not the latest
    state.latest.set(key, s);
  }
  invalidate('samples');
}
export function onKpi(programId, kpi) {
  const p = state.programs.find((x) => x.id === programId);
  if (!p) return;
  const i = p.kpis.findIndex((k) => k.id === kpi.id);
  if (i >= 0) p.kpis[i] = kpi;
  else p.kpis.push(kpi);
  invalidate('programs');
  scheduleProgramsReload();
}
export function onUnit(u) {
  state.units.set(`${u.program}/${u.unit}`, u);
  invalidate('units');
}
export function onAlert(a) {
  state.alerts.set(a.id, a);
  if (state.alerts.size > MAX_ALERTS) {
    // Drop the oldest resolved ones first, then the oldest.
    const byAge = [...state.alerts.values()].sort((x, y) => (x.state === 'resolved') - (y.state === 'resolved') || y.fired_at - x.fired_at);
    for (const old of byAge.slice(MAX_ALERTS)) state.alerts.delete(old.id);
  }
  invalidate('alerts');
}
export function setConn(c) {
  if (state.conn === c) return;
  state.conn = c;
  state.connSince = Date.now();
  invalidate('conn');
}

// A kpi frame changes one KPI; a program's progress/health and the
// dimensions follow from all of them: re-read them, at most every 5 s.
let reloadTimer = null;
function scheduleProgramsReload() {
  if (reloadTimer) return;
  reloadTimer = setTimeout(() => {
    reloadTimer = null;
    loadPrograms().catch(() => {});
  }, 5000);
}
