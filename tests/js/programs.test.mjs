// programs.test.mjs — CONTRACT §5 (programs, KPIs, targets) black-box, against
// a real pantaud and mosquitto. Written from the contract alone; every
// expected number is computed by hand (literals below, with the arithmetic in
// comments) or by the tiny independent model in this file (model*, evalKpi),
// never by asking the daemon.
//
// What each case checks (contract rules):
//  1. §5.1 current: sum count avg min max last units distinct:<label>; a range
//     period `YYYY-MM-DD..YYYY-MM-DD` (start of its first day .. end of its
//     last, both ends inclusive); `total` (all samples with ts <= T, so a
//     sample 3 min in the future does not count); `labels` filter with `*`
//     (key must be present) and with a value; `units =` filter; a sample
//     without the distinct label does not count; another metric does not
//     count. §5.2 KPI shape: every key, labels object, units array/null, agg as
//     written, period {from,to} ({null,null} for total), start/deadline
//     default to the period's; §2 regency.timezone "+07:00" (default WIB).
//  2. §1 identity + §5.1: a republished (series, ts) replaces (counted once,
//     with the new value, also for `last`); a late sample older than the
//     others counts.
//  3. §5 timezone = WITA: the range is in local dates (+08:00): 00:30 local on
//     the first day and 23:30 / 23:59:59.999 on the last count, 00:00 local
//     the next day and 23:59:59.999 the day before do not; period {from,to}
//     = local midnight .. next local midnight - 1 ms; regency.timezone
//     "+08:00". [catalog] file = PATH in the config.
//  4. §5.1 calendar periods day week month quarter year in WIB (weeks start
//     Monday), relative to now: samples now, at the first ms of today, and
//     at the last ms of each previous period.
//  5. §5.2 progress, f, expected, projected, eta and every status: on_track,
//     at_risk, off_track, worsening, achieved (incl. progress exactly 1),
//     missed, not_started (f = 0), no_data (current/progress/projected/eta
//     null), a decreasing KPI (baseline 28.3 -> target 14).
//  6. §5.3 program progress (mean of clamped progress, null as 0) and health
//     (worst status in the order missed worsening off_track at_risk
//     not_started no_data on_track achieved; null, like progress, without
//     KPIs); §2 PROGRAM shape; GET /programs/<id>; 404 JSON error.
//  7. §5.3 dimensions: the six, in order, with names; programs/running from
//     [masterplan] or from the catalog; catalogued; progress mean of non-null.
//  8. §5.4 report: value_at_from / value_at_to, programs + dimensions as of
//     `to`, alerts array, regency, from, to, generated_at; 400 without from
//     or to.
//  9. §3 kpi frames: `<program>/#` and `<program>/+/+` get
//     {"type":"kpi","program","kpi"} after a sample changes current; another
//     program's subscriber does not.
// 10. §4 SIGHUP: a new valid catalog is applied without dropping a websocket;
//     a broken one (unknown key) is refused, logged as file:line:, the
//     running catalog kept and pantaud keeps running.
// 11. §4 --check-config --catalog: bad catalogs exit non-zero printing
//     file:line:, good ones exit 0; start-up with a bad catalog exits
//     non-zero.
//
// Reading of the contract where it is not explicit (see the report):
//  - a KPI's `agg` in answers is as written in the catalog ("distinct:kampung");
//  - absent agency/description/display_unit are null;
//  - `expected` is a number even without data (it does not depend on current);
//  - `eta` = S + (T - S) / progress whenever 0 < progress < 1, also when
//    T < S (not_started), literally;
//  - answers evaluate at the moment of the request (1 s of slack).
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  PANTAUD,
  assert,
  assertEq,
  fetchJson,
  freePort,
  mqttPublisher,
  openClient,
  runCases,
  sleep,
  startBroker,
  startPantaud,
  tmpdir,
  until,
  withTimeout,
} from './harness.mjs';

const FILE = 'programs.test.mjs';
const MIN = 60 * 1000;
const H = 60 * MIN;
const DAY = 24 * H;
const WIB = 7 * H;
const WITA = 8 * H;
const NOW0 = Date.now();
const SLACK = 1000; // ms around a request in which its T may lie

// ---- the independent model: dates -------------------------------------------

const pad = (n) => String(n).padStart(2, '0');
// The local date (YYYY-MM-DD) k days from today's local date in zone tz.
function localDate(k, tz) {
  const x = new Date(NOW0 + tz);
  const d = new Date(Date.UTC(x.getUTCFullYear(), x.getUTCMonth(), x.getUTCDate() + k));
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}
const parts = (s) => s.split('-').map(Number);
// Local midnight starting day s; the last ms of day s (next midnight - 1).
function dayStart(s, tz) {
  const [y, m, d] = parts(s);
  return Date.UTC(y, m - 1, d) - tz;
}
function dayEnd(s, tz) {
  const [y, m, d] = parts(s);
  return Date.UTC(y, m - 1, d + 1) - tz - 1;
}
// The calendar period holding T in zone tz: [from, to], both inclusive.
function calendar(p, tz, T) {
  const x = new Date(T + tz);
  const y = x.getUTCFullYear();
  const m = x.getUTCMonth();
  const d = x.getUTCDate();
  let a;
  let b;
  if (p === 'day') [a, b] = [Date.UTC(y, m, d), Date.UTC(y, m, d + 1)];
  else if (p === 'week') {
    const dow = (x.getUTCDay() + 6) % 7; // Monday 0
    [a, b] = [Date.UTC(y, m, d - dow), Date.UTC(y, m, d - dow + 7)];
  } else if (p === 'month') [a, b] = [Date.UTC(y, m, 1), Date.UTC(y, m + 1, 1)];
  else if (p === 'quarter') [a, b] = [Date.UTC(y, m - (m % 3), 1), Date.UTC(y, m - (m % 3) + 3, 1)];
  else if (p === 'year') [a, b] = [Date.UTC(y, 0, 1), Date.UTC(y + 1, 0, 1)];
  else throw new Error(`period ${p}`);
  return [a - tz, b - tz - 1];
}
// Pin the date model to epoch values worked out by hand (date -u -d ...):
// 2026-11-22 23:30 WITA = 2026-11-22T15:30Z = 1795361400000;
// 2026-11-12 00:00 WITA = 2026-11-11T16:00Z = 1794412800000;
// the last ms of 2026-11-22 WITA = 2026-11-22T16:00Z - 1 = 1795363199999;
// the week of Wed 2026-12-02 09:00 WIB runs from Mon 2026-11-30 00:00 WIB
// (2026-11-29T17:00Z) to the last ms before Mon 2026-12-07 00:00 WIB.
assertEq(dayStart('2026-11-22', WITA) + 23.5 * H, 1795361400000, 'model: 23:30 WITA');
assertEq(dayStart('2026-11-12', WITA), 1794412800000, 'model: midnight WITA');
assertEq(dayEnd('2026-11-22', WITA), 1795363199999, 'model: end of day WITA');
assertEq(
  calendar('week', WIB, Date.UTC(2026, 11, 2, 2, 0)),
  [Date.UTC(2026, 10, 29, 17, 0), Date.UTC(2026, 11, 6, 17, 0) - 1],
  'model: Monday week',
);
assertEq(
  calendar('quarter', WIB, Date.UTC(2026, 11, 31, 17, 30)), // 2027-01-01 00:30 WIB
  [Date.UTC(2026, 11, 31, 17, 0), Date.UTC(2027, 2, 31, 17, 0) - 1],
  'model: quarter rolls at local midnight',
);

// ---- the independent model: samples and §5.1-5.3 -----------------------------

const canon = (o) =>
  JSON.stringify(
    Object.keys(o || {})
      .sort()
      .map((k) => [k, o[k]]),
  );

// A copy with every object's keys sorted: JSON objects compare by content.
const sortKeys = (v) =>
  v && typeof v === 'object'
    ? Array.isArray(v)
      ? v.map(sortKeys)
      : Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]))
    : v;
const assertSame = (got, want, what) => assertEq(sortKeys(got), sortKeys(want), what);

class Store {
  constructor() {
    this.map = new Map(); // (series, ts) -> sample: a second one replaces the first
  }
  put(s) {
    this.map.set(`${s.program}/${s.unit}/${s.metric}|${canon(s.labels)}|${s.ts}`, s);
  }
  all() {
    return [...this.map.values()];
  }
}

function periodOf(k, tz, T) {
  if (k.period === 'total') return [null, null];
  const m = /^(\d{4}-\d\d-\d\d)\.\.(\d{4}-\d\d-\d\d)$/.exec(k.period);
  if (m) return [dayStart(m[1], tz), dayEnd(m[2], tz)];
  return calendar(k.period, tz, T);
}

function matches(k, s) {
  if (s.program !== k.program || s.metric !== k.metric) return false;
  for (const [lk, lv] of Object.entries(k.labels || {})) {
    if (!(lk in s.labels)) return false;
    if (lv !== '*' && s.labels[lk] !== lv) return false;
  }
  return !k.units || k.units.includes(s.unit);
}

function currentOf(k, tz, T, store) {
  const [pf, pt] = periodOf(k, tz, T);
  const xs = store
    .all()
    .filter((s) => matches(k, s) && s.ts <= T && (pf === null || (s.ts >= pf && s.ts <= pt)));
  if (!xs.length) return null;
  const vals = xs.map((s) => s.value);
  const [agg, label] = k.agg.split(':');
  switch (agg) {
    case 'sum':
      return vals.reduce((a, b) => a + b, 0);
    case 'count':
      return vals.length;
    case 'avg':
      return vals.reduce((a, b) => a + b, 0) / vals.length;
    case 'min':
      return Math.min(...vals);
    case 'max':
      return Math.max(...vals);
    case 'last':
      return xs.reduce((a, b) => (b.ts > a.ts ? b : a)).value;
    case 'units':
      return new Set(xs.map((s) => s.unit)).size;
    case 'distinct': {
      return new Set(xs.filter((s) => label in s.labels).map((s) => s.labels[label])).size;
    }
    default:
      throw new Error(`agg ${k.agg}`);
  }
}

// §5.2 at time T.
function evalKpi(k, tz, T, store) {
  const [pf, pt] = periodOf(k, tz, T);
  const B = k.baseline ?? 0;
  const G = k.target;
  const S = k.start ? dayStart(k.start, tz) : pf;
  const D = k.deadline ? dayEnd(k.deadline, tz) : pt;
  const current = currentOf(k, tz, T, store);
  const f = Math.min(1, Math.max(0, (T - S) / (D - S)));
  const progress = current === null ? null : (current - B) / (G - B);
  const expected = B + (G - B) * f;
  const projected = current !== null && f > 0 ? B + (current - B) / f : null;
  const eta = progress !== null && progress > 0 && progress < 1 ? S + (T - S) / progress : null;
  let status;
  if (current === null) status = 'no_data';
  else if (progress >= 1) status = 'achieved';
  else if (T > D) status = 'missed';
  else if (f === 0) status = 'not_started';
  else {
    const R = progress / f;
    status = R >= 0.95 ? 'on_track' : R >= 0.6 ? 'at_risk' : R >= 0 ? 'off_track' : 'worsening';
  }
  return { period: { from: pf, to: pt }, start: S, deadline: D, current, progress, expected, projected, eta, status };
}

const ORDER = ['missed', 'worsening', 'off_track', 'at_risk', 'not_started', 'no_data', 'on_track', 'achieved'];

function evalProgram(p, tz, T, store) {
  const kpis = p.kpis.map((k) => evalKpi({ ...k, program: p.id }, tz, T, store));
  if (!kpis.length) return { kpis, progress: null, health: null };
  const progress =
    kpis.map((e) => (e.progress === null ? 0 : Math.min(1, Math.max(0, e.progress)))).reduce((a, b) => a + b, 0) /
    kpis.length;
  const health = kpis.map((e) => e.status).sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b))[0];
  return { kpis, progress, health };
}

const DIMS = [
  ['governance', 'Smart Governance'],
  ['branding', 'Smart Branding'],
  ['economy', 'Smart Economy'],
  ['living', 'Smart Living'],
  ['society', 'Smart Society'],
  ['environment', 'Smart Environment'],
];

function evalDimensions(cat, T, store) {
  return DIMS.map(([id, name]) => {
    const progs = cat.programs.filter((p) => p.dimension === id);
    const mp = cat.masterplan?.[id];
    const prog = progs.map((p) => evalProgram(p, cat.tz, T, store).progress).filter((x) => x !== null);
    return {
      id,
      name,
      programs: mp ? Number(mp.split('/')[1]) : progs.length,
      running: mp ? Number(mp.split('/')[0]) : progs.filter((p) => (p.status || 'running') === 'running').length,
      catalogued: progs.length,
      progress: prog.length ? prog.reduce((a, b) => a + b, 0) / prog.length : null,
    };
  });
}

// ---- catalog text -------------------------------------------------------------

function catalogText(cat) {
  const L = ['; written by programs.test.mjs', '[regency]', `id = ${cat.regency.id}`, `name = ${cat.regency.name}`];
  if (cat.timezoneText) L.push(`timezone = ${cat.timezoneText}`);
  if (cat.masterplan) {
    L.push('', '[masterplan]');
    for (const [d, v] of Object.entries(cat.masterplan)) L.push(`${d} = ${v}`);
  }
  for (const p of cat.programs) {
    L.push('', `[program ${p.id}]`, `name = ${p.name}`, `dimension = ${p.dimension}`);
    if (p.agency) L.push(`agency = ${p.agency}`);
    if (p.description) L.push(`description = ${p.description}`);
    if (p.status) L.push(`status = ${p.status}`);
    for (const k of p.kpis) {
      L.push('', `[kpi ${p.id}/${k.id}]`, `name = ${k.name}`, `metric = ${k.metric}`);
      if (k.labels && Object.keys(k.labels).length)
        L.push(`labels = ${Object.entries(k.labels).map(([a, b]) => `${a}=${b}`).join(', ')}`);
      if (k.units) L.push(`units = ${k.units.join(', ')}`);
      L.push(`agg = ${k.agg}`, `period = ${k.period}`, `target = ${k.target}`);
      if (k.baseline !== undefined) L.push(`baseline = ${k.baseline}`);
      if (k.start) L.push(`start = ${k.start}`);
      if (k.deadline) L.push(`deadline = ${k.deadline}`);
      if (k.display_unit) L.push(`display_unit = ${k.display_unit}`);
    }
  }
  return L.join('\n') + '\n';
}

// ---- catalog A (WIB by default) -----------------------------------------------

const D = (k) => localDate(k, WIB);
const RANGE = `${D(-20)}..${D(-10)}`;
const P0 = dayStart(D(-20), WIB); // first ms of the range
const P1 = dayEnd(D(-10), WIB); // last ms of the range
const TOT = { period: 'total', start: D(-30), deadline: D(29) }; // f in [0.5, 0.517) now

// Status KPIs (case 5): each its own metric, one sample at now - 6 days, agg last.
// f now = (30 d + time since local midnight) / (60 d - 1 ms) in [0.5, 0.5167).
const st = (id, value, extra = {}) => ({ id, name: `KPI ${id}`, metric: `m-${id}`, agg: 'last', target: 100, ...TOT, ...extra, value });
const STATUS = {
  on: st('on', 60), //  progress 0.6, R in (1.16, 1.2]  -> on_track
  risk: st('risk', 40), // progress 0.4, R in (0.774, 0.8]  -> at_risk
  off: st('off', 15), //   progress 0.15, R in (0.29, 0.3]  -> off_track
  wors: st('wors', 40, { baseline: 50 }), // progress (40-50)/(100-50) = -0.2 -> worsening
  ach: st('ach', 120), // progress 1.2 -> achieved, eta null
  exact: st('exact', 100), // progress exactly 1 -> achieved
  missed: st('missed', 50, { start: D(-30), deadline: D(-5) }), // T > D, f = 1: expected 100, projected 50
  notst: st('notst', 30, { start: D(10), deadline: D(40) }), // f = 0: expected 0, projected null
  // decreasing: progress (22.9-28.3)/(14-28.3) = -5.4/-14.3 = 0.3776223776; R in (0.731, 0.756] -> at_risk
  dec: st('dec', 22.9, { baseline: 28.3, target: 14, display_unit: '%' }),
  nodata: st('nodata', null),
  nodata2: st('nodata2', null),
  nodata3: st('nodata3', null),
  on2: st('on2', 60),
  on3: st('on3', 60),
};

const kAgg = (id, agg, target, extra = {}) => ({ id, name: `Agg ${id}`, metric: 'visits', agg, period: RANGE, target, ...extra });
const CAT_A = {
  regency: { id: 'lampung-tengah', name: 'Kabupaten Lampung Tengah' }, // no timezone: WIB
  tz: WIB,
  masterplan: { governance: '8/10', society: '3/12' },
  programs: [
    {
      id: 'p-agg',
      name: 'PADUKA LAMTENG',
      dimension: 'governance',
      agency: 'Disdukcapil',
      description: 'Layanan adminduk keliling',
      kpis: [
        kAgg('sum', 'sum', 100),
        kAgg('count', 'count', 6),
        kAgg('avg', 'avg', 10),
        kAgg('min', 'min', 4),
        kAgg('max', 'max', 20),
        kAgg('last', 'last', 12),
        kAgg('units', 'units', 4),
        kAgg('distinct', 'distinct:kampung', 8, { display_unit: 'kampung' }),
        kAgg('ktp-sum', 'sum', 50, { labels: { doc: 'ktp', kampung: '*' } }),
        kAgg('ktp-distinct', 'distinct:kampung', 4, { labels: { doc: 'ktp' } }),
        kAgg('units-sum', 'sum', 36, { units: ['van-01', 'van-03'] }),
        kAgg('units-count', 'count', 6, { units: ['van-02', 'van-03'], labels: { kampung: '*' } }),
        kAgg('t-sum', 'sum', 1000, TOT),
        kAgg('t-count', 'count', 20, TOT),
        kAgg('t-max', 'max', 400, TOT),
        kAgg('t-last', 'last', 400, TOT),
        kAgg('t-units', 'units', 6, TOT),
        kAgg('t-distinct', 'distinct:kampung', 12, TOT),
      ],
    },
    {
      id: 'p-late', // no agency, description: null in answers; planned
      name: 'Laporan terlambat',
      dimension: 'governance',
      status: 'planned',
      kpis: ['sum', 'count', 'last', 'avg', 'min', 'max'].map((a) => ({
        id: `late-${a}`,
        name: `Late ${a}`,
        metric: 'reports',
        agg: a,
        period: RANGE,
        target: 100,
      })),
    },
    { id: 'p-h1', name: 'H1', dimension: 'branding', agency: 'A', kpis: [STATUS.on, STATUS.risk, STATUS.nodata] },
    { id: 'p-h2', name: 'H2', dimension: 'branding', status: 'planned', kpis: [STATUS.ach, STATUS.on2] },
    { id: 'p-h3', name: 'H3', dimension: 'economy', kpis: [STATUS.wors, STATUS.off] },
    { id: 'p-h4', name: 'H4', dimension: 'economy', status: 'done', kpis: [STATUS.notst, STATUS.nodata2] },
    {
      id: 'p-live',
      name: 'Live',
      dimension: 'economy',
      kpis: [{ id: 'live-sum', name: 'Live sum', metric: 'hits', agg: 'sum', target: 8, ...TOT }],
    },
    { id: 'p-empty', name: 'Kosong', dimension: 'living', kpis: [] },
    { id: 'p-h5', name: 'H5', dimension: 'society', kpis: [STATUS.missed, STATUS.dec] },
    { id: 'p-h6', name: 'H6', dimension: 'society', kpis: [STATUS.nodata3, STATUS.on3] },
    { id: 'p-h7', name: 'H7', dimension: 'society', kpis: [STATUS.exact] },
    {
      id: 'p-cal',
      name: 'Kalender',
      dimension: 'society',
      kpis: ['day', 'week', 'month', 'quarter', 'year'].map((p) => ({
        id: `cal-${p}`,
        name: `Cal ${p}`,
        metric: 'cal',
        agg: 'sum',
        period: p,
        target: 1000,
      })),
    },
  ],
};
for (const p of CAT_A.programs) for (const k of p.kpis) k.program = p.id;

// ---- catalog B (WITA, [catalog] file in the config) ---------------------------

const DW = (k) => localDate(k, WITA);
const W0 = dayStart(DW(-20), WITA);
const W1 = dayEnd(DW(-10), WITA);
const witaKpis = [
  { id: 'wita-count', name: 'Cek', metric: 'checks', agg: 'count', period: `${DW(-20)}..${DW(-10)}`, target: 10 },
  { id: 'wita-sum', name: 'Cek sum', metric: 'checks', agg: 'sum', period: `${DW(-20)}..${DW(-10)}`, target: 1000 },
];
const CAT_B = {
  regency: { id: 'kutai-kartanegara', name: 'Kabupaten Kutai Kartanegara' },
  timezoneText: 'WITA',
  tz: WITA,
  programs: [{ id: 'p-wita', name: 'WITA', dimension: 'governance', kpis: witaKpis }],
};
const CAT_B2 = {
  ...CAT_B,
  programs: [
    ...CAT_B.programs,
    { id: 'p-new', name: 'Baru', dimension: 'branding', kpis: [] },
  ],
};
for (const c of [CAT_B, CAT_B2]) for (const p of c.programs) for (const k of p.kpis) k.program = p.id;

// ---- HTTP and checks ---------------------------------------------------------------

function get(base, p) {
  return fetchJson(base + p, { ms: 5000 });
}

// A GET with the interval in which the daemon's T lies.
async function timedGet(base, p) {
  const Ta = Date.now() - SLACK;
  const r = await get(base, p);
  const Tb = Date.now() + SLACK;
  assertEq(r.status, 200, `status of GET ${p}: ${r.text.slice(0, 300)}`);
  return { ...r, Ta, Tb };
}

function expectError(r, status, what) {
  assertEq(r.status, status, `${what}: status of ${r.text.slice(0, 200)}`);
  assert(r.json && typeof r.json.error === 'string' && r.json.error.length > 0, `${what}: error code in ${r.text}`);
  assert(typeof r.json.message === 'string' && r.json.message.length > 0, `${what}: a message in ${r.text}`);
}

const keys = (o) => Object.keys(o).sort();
const KPI_KEYS = [
  'id', 'name', 'metric', 'labels', 'units', 'agg', 'period', 'display_unit', 'baseline', 'target',
  'start', 'deadline', 'current', 'progress', 'expected', 'projected', 'eta', 'status',
].sort();
const PROGRAM_KEYS = ['id', 'name', 'dimension', 'agency', 'description', 'status', 'progress', 'health', 'kpis'].sort();
const DIM_KEYS = ['id', 'name', 'programs', 'running', 'catalogued', 'progress'].sort();

const close = (g, w, tol) => Math.abs(g - w) <= tol;
const relTol = (w) => 1e-9 * Math.max(1, Math.abs(w));

// got must be null when both ends are, else a number between them (tolerance).
function checkBetween(got, a, b, what, absTol = 0) {
  if (a === null || b === null) {
    assert(a === b, `${what}: the model is null at one end only (${a}, ${b}); T crossed a boundary`);
    assertEq(got, null, what);
    return;
  }
  assert(typeof got === 'number', `${what}: got ${JSON.stringify(got)}, want a number near ${a}`);
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  const tol = absTol + relTol(hi);
  assert(got >= lo - tol && got <= hi + tol, `${what}: got ${got}, want in [${lo}, ${hi}]`);
}

function checkEither(got, a, b, what) {
  const g = JSON.stringify(sortKeys(got));
  [a, b] = [sortKeys(a), sortKeys(b)];
  assert(g === JSON.stringify(a) || g === JSON.stringify(b), `${what}: got ${g}, want ${JSON.stringify(a)}${JSON.stringify(a) === JSON.stringify(b) ? '' : ` or ${JSON.stringify(b)}`}`);
}

// One KPI of an answer against the model at T in [Ta, Tb].
function checkKpi(got, k, tz, Ta, Tb, store, what, extraKeys = []) {
  assertEq(keys(got), [...KPI_KEYS, ...extraKeys].sort(), `${what}: keys`);
  assertEq(got.id, k.id, `${what}: id`);
  assertEq(got.name, k.name, `${what}: name`);
  assertEq(got.metric, k.metric, `${what}: metric`);
  assertEq(canon(got.labels), canon(k.labels || {}), `${what}: labels`);
  assert(got.labels && typeof got.labels === 'object' && !Array.isArray(got.labels), `${what}: labels is an object`);
  assertEq(got.units, k.units || null, `${what}: units`);
  assertEq(got.agg, k.agg, `${what}: agg`);
  assertEq(got.display_unit, k.display_unit ?? null, `${what}: display_unit`);
  assertEq(got.baseline, k.baseline ?? 0, `${what}: baseline`);
  assertEq(got.target, k.target, `${what}: target`);
  const a = evalKpi(k, tz, Ta, store);
  const b = evalKpi(k, tz, Tb, store);
  checkEither(got.period, a.period, b.period, `${what}: period`);
  checkEither(got.start, a.start, b.start, `${what}: start`);
  checkEither(got.deadline, a.deadline, b.deadline, `${what}: deadline`);
  checkBetween(got.current, a.current, b.current, `${what}: current`);
  checkBetween(got.progress, a.progress, b.progress, `${what}: progress`);
  checkBetween(got.expected, a.expected, b.expected, `${what}: expected`);
  checkBetween(got.projected, a.projected, b.projected, `${what}: projected`);
  checkBetween(got.eta, a.eta, b.eta, `${what}: eta`, 2);
  if (got.eta !== null) assert(Number.isInteger(got.eta), `${what}: eta is integer ms`);
  checkEither(got.status, a.status, b.status, `${what}: status`);
}

function checkProgram(got, p, tz, Ta, Tb, store, what, kpiExtraKeys = []) {
  assertEq(keys(got), PROGRAM_KEYS, `${what}: keys`);
  assertEq(got.id, p.id, `${what}: id`);
  assertEq(got.name, p.name, `${what}: name`);
  assertEq(got.dimension, p.dimension, `${what}: dimension`);
  assertEq(got.agency, p.agency ?? null, `${what}: agency`);
  assertEq(got.description, p.description ?? null, `${what}: description`);
  assertEq(got.status, p.status || 'running', `${what}: status`);
  const a = evalProgram(p, tz, Ta, store);
  const b = evalProgram(p, tz, Tb, store);
  checkBetween(got.progress, a.progress, b.progress, `${what}: progress`);
  checkEither(got.health, a.health, b.health, `${what}: health`);
  assert(Array.isArray(got.kpis), `${what}: kpis is an array`);
  assertEq(got.kpis.map((x) => x.id).sort(), p.kpis.map((x) => x.id).sort(), `${what}: kpi ids`);
  for (const k of p.kpis)
    checkKpi(got.kpis.find((x) => x.id === k.id), k, tz, Ta, Tb, store, `${what}/${k.id}`, kpiExtraKeys);
}

function checkDimensions(got, cat, Ta, Tb, store, what) {
  assert(Array.isArray(got), `${what}: an array`);
  const a = evalDimensions(cat, Ta, store);
  const b = evalDimensions(cat, Tb, store);
  assertEq(got.map((d) => d.id), DIMS.map((d) => d[0]), `${what}: the six, in order`);
  got.forEach((d, i) => {
    assertEq(keys(d), DIM_KEYS, `${what} ${d.id}: keys`);
    for (const f of ['name', 'programs', 'running', 'catalogued']) assertEq(d[f], a[i][f], `${what} ${d.id}: ${f}`);
    checkBetween(d.progress, a[i].progress, b[i].progress, `${what} ${d.id}: progress`);
  });
}

const findProgram = (json, id) => {
  assert(json && Array.isArray(json.programs), `programs array in ${JSON.stringify(json).slice(0, 200)}`);
  const p = json.programs.find((x) => x.id === id);
  assert(p, `program ${id} in the answer`);
  return p;
};
const findKpi = (json, pid, kid) => {
  const k = findProgram(json, pid).kpis.find((x) => x.id === kid);
  assert(k, `kpi ${pid}/${kid} in the answer`);
  return k;
};

// ---- publishing and waiting ---------------------------------------------------------

async function publish(ctx, s) {
  ctx.store.put(s);
  await ctx.pub.publish(`pantau/${s.program}/${s.unit}/${s.metric}`, { value: s.value, ts: s.ts, labels: s.labels });
}

// Waits until every sample is stored with its value (raw /api/v1/query).
async function waitStored(base, samples, ms = 10000) {
  const groups = new Map();
  for (const s of samples) {
    const g = `${s.program}|${s.metric}`;
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(s);
  }
  for (const xs of groups.values()) {
    const from = Math.min(...xs.map((s) => s.ts));
    const to = Math.max(...xs.map((s) => s.ts));
    const q = `/api/v1/query?program=${xs[0].program}&metric=${xs[0].metric}&from=${from}&to=${to}`;
    await until(
      async () => {
        const r = await get(base, q).catch(() => null);
        if (!r || r.status !== 200 || !r.json || !Array.isArray(r.json.series)) return false;
        return xs.every((s) =>
          r.json.series.some(
            (se) =>
              se.unit === s.unit &&
              canon(se.labels) === canon(s.labels) &&
              se.points.some(([t, v]) => t === s.ts && v === s.value),
          ),
        );
      },
      ms,
      `samples of ${xs[0].program}/${xs[0].metric} stored`,
      100,
    );
  }
}

// Polls GET path until pred(json) holds (the engine may apply a commit a
// moment later), then returns the timed answer for exact checks.
async function settle(base, p, pred, ms = 5000) {
  try {
    await until(async () => {
      const r = await get(base, p).catch(() => null);
      return r && r.status === 200 && r.json && pred(r.json);
    }, ms, `GET ${p} to settle`, 100);
  } catch {
    /* assert below with the details */
  }
  return timedGet(base, p);
}

const needA = (ctx) => {
  if (!ctx.a) throw new Error(`pantaud A did not start: ${ctx.aError}`);
  return ctx.a;
};
const needB = (ctx) => {
  if (!ctx.b) throw new Error(`pantaud B did not start: ${ctx.bError}`);
  return ctx.b;
};

// ---- samples ---------------------------------------------------------------------------

// Case 1: program p-agg, metric visits (WIB range RANGE = [P0, P1]).
//  inside:  s1 van-01 {doc:ktp,kampung:a} P0      5
//           s2 van-01 {doc:ktp,kampung:b} P0+1d   3
//           s3 van-02 {doc:ktp,kampung:a} P0+2d   7
//           s4 van-02 {doc:kk, kampung:c} P0+3d  10
//           s5 van-03 {doc:ktp,kampung:d} P1      6   (the range's last ms)
//           s6 van-03 {doc:ktp}           P0+5d   4   (no kampung)
//  outside: o1 van-01 {doc:ktp,kampung:e} P0-1  100
//           o2 van-02 {doc:ktp,kampung:f} P1+1  200
//           metric "other" van-01 {doc:ktp,kampung:g} P0+1d 1000
//           future: van-01 {doc:ktp,kampung:z} now+3min 10000 (ts > T: never in current here)
const AGG_SAMPLES = [
  ['van-01', { doc: 'ktp', kampung: 'a' }, P0, 5],
  ['van-01', { doc: 'ktp', kampung: 'b' }, P0 + DAY, 3],
  ['van-02', { doc: 'ktp', kampung: 'a' }, P0 + 2 * DAY, 7],
  ['van-02', { doc: 'kk', kampung: 'c' }, P0 + 3 * DAY, 10],
  ['van-03', { doc: 'ktp', kampung: 'd' }, P1, 6],
  ['van-03', { doc: 'ktp' }, P0 + 5 * DAY, 4],
  ['van-01', { doc: 'ktp', kampung: 'e' }, P0 - 1, 100],
  ['van-02', { doc: 'ktp', kampung: 'f' }, P1 + 1, 200],
].map(([unit, labels, ts, value]) => ({ program: 'p-agg', unit, metric: 'visits', labels, ts, value }));
const OTHER_METRIC = { program: 'p-agg', unit: 'van-01', metric: 'other', labels: { doc: 'ktp', kampung: 'g' }, ts: P0 + DAY, value: 1000 };

// Hand-computed currents of case 1 (now).
const AGG_WANT = {
  sum: 35, //          5+3+7+10+6+4
  count: 6,
  avg: 35 / 6, //      5.8333…
  min: 3,
  max: 10,
  last: 6, //          s5 has the latest ts in the range
  units: 3, //         van-01 van-02 van-03
  distinct: 4, //      a b c d (s6 has no kampung)
  'ktp-sum': 21, //    s1 5 + s2 3 + s3 7 + s5 6 (s4 is kk, s6 lacks kampung)
  'ktp-distinct': 3, // a b d (s1 s2 s3 s5; s6 lacks kampung)
  'units-sum': 18, //  van-01/03: s1 5 + s2 3 + s5 6 + s6 4
  'units-count': 3, // van-02/03 with kampung: s3 s4 s5
  't-sum': 335, //     35 + o1 100 + o2 200 (future sample excluded, other metric excluded)
  't-count': 8,
  't-max': 200, //     not the future 10000
  't-last': 200, //    o2 (P1+1) is the latest ts <= T
  't-units': 3,
  't-distinct': 6, //  a b c d e f
};

// Hand-computed statuses and progress of case 5 (f now in [0.5, 0.517)).
const STATUS_WANT = {
  on: ['on_track', 0.6],
  risk: ['at_risk', 0.4],
  off: ['off_track', 0.15],
  wors: ['worsening', -0.2],
  ach: ['achieved', 1.2],
  exact: ['achieved', 1],
  missed: ['missed', 0.5],
  notst: ['not_started', 0.3],
  dec: ['at_risk', -5.4 / -14.3], // 0.37762237762…
  nodata: ['no_data', null],
};

// Hand-computed program progress (clamped to [0,1], null as 0) and health, case 6.
const PROGRAM_WANT = {
  'p-h1': [(0.6 + 0.4 + 0) / 3, 'at_risk'], //   on, risk, no data
  'p-h2': [(1 + 0.6) / 2, 'on_track'], //         achieved (1.2 -> 1), on
  'p-h3': [(0 + 0.15) / 2, 'worsening'], //       worsening (-0.2 -> 0), off
  'p-h4': [(0.3 + 0) / 2, 'not_started'], //      not started, no data
  'p-h5': [(0.5 + 5.4 / 14.3) / 2, 'missed'], //  missed, decreasing at risk
  'p-h6': [(0 + 0.6) / 2, 'no_data'], //          no data, on
  'p-h7': [1, 'achieved'],
  'p-live': [0, 'no_data'], //                    before case 9
  'p-empty': [null, null],
};

// Case 2: p-late, one series; first two samples, then both replaced, a late
// older one, and that one redelivered unchanged.
const late = (ts, value) => ({ program: 'p-late', unit: 'van-01', metric: 'reports', labels: {}, ts, value });
const LATE_FIRST = [late(P0 + H, 10), late(P0 + 2 * H, 20)];
const LATE_SECOND = [late(P0 + H, 15), late(P0 + 2 * H, 25), late(P0 + 30 * MIN, 1), late(P0 + 30 * MIN, 1)];

// Case 3: p-wita. W0 = 00:00 WITA on DW(-20); W1 = 23:59:59.999 WITA on DW(-10).
const wita = (ts, value) => ({ program: 'p-wita', unit: 'pos-1', metric: 'checks', labels: {}, ts, value });
const WITA_SAMPLES = [
  wita(W0 - 1, 10000), //                        23:59:59.999 the day before: out
  wita(W0 + 30 * MIN, 1), //                      00:30 WITA first day (23:30 WIB the day before): in
  wita(dayStart(DW(-10), WITA) + 23.5 * H, 10), // 23:30 WITA last day: in
  wita(W1, 100), //                               last ms: in
  wita(W1 + 1, 1000), //                          00:00 WITA next day (23:00 WIB last day): out
];

// The report's range (case 8): 1.5 days into RANGE .. 5 days ago.
const REPORT_FROM = P0 + 36 * H;
const REPORT_TO = NOW0 - 5 * DAY;

// Samples that set-up publishes (cases 1, 5, 6): the future one first.
const FUTURE = { program: 'p-agg', unit: 'van-01', metric: 'visits', labels: { doc: 'ktp', kampung: 'z' }, ts: NOW0 + 3 * MIN, value: 10000 };
function setupSamples() {
  const xs = [FUTURE, ...AGG_SAMPLES, OTHER_METRIC];
  for (const p of CAT_A.programs)
    for (const k of p.kpis)
      if ('value' in k && k.value !== null)
        xs.push({ program: p.id, unit: 'u1', metric: k.metric, labels: {}, ts: NOW0 - 6 * DAY, value: k.value });
  return xs;
}

// The model against the hand-computed values: a wrong literal or a wrong
// model would show here, without a daemon.
function selfCheck() {
  const T = NOW0 + 1000;
  const store = new Store();
  for (const s of setupSamples()) store.put(s);
  const pa = CAT_A.programs.find((p) => p.id === 'p-agg');
  for (const [id, want] of Object.entries(AGG_WANT)) {
    const got = currentOf(pa.kpis.find((k) => k.id === id), WIB, T, store);
    assert(close(got, want, relTol(want)), `model p-agg/${id}: ${got}, hand ${want}`);
  }
  const pl = CAT_A.programs.find((p) => p.id === 'p-late');
  const lateVals = () => ['sum', 'count', 'last', 'avg', 'min', 'max'].map((a) => currentOf(pl.kpis.find((k) => k.agg === a), WIB, T, store));
  for (const s of LATE_FIRST) store.put(s);
  assertEq(lateVals(), [30, 2, 20, 15, 10, 20], 'model p-late before');
  for (const s of LATE_SECOND) store.put(s);
  assertEq(lateVals(), [41, 3, 25, 41 / 3, 1, 25], 'model p-late after');
  for (const s of WITA_SAMPLES) store.put(s);
  assertEq(witaKpis.map((k) => currentOf(k, WITA, T, store)), [3, 111], 'model p-wita');
  const where = {};
  for (const p of CAT_A.programs) for (const k of p.kpis) where[k.id] = k;
  for (const [id, [status, progress]] of Object.entries(STATUS_WANT)) {
    const e = evalKpi(where[id], WIB, T, store);
    assertEq(e.status, status, `model ${id}: status`);
    assert(progress === null ? e.progress === null : close(e.progress, progress, 1e-12), `model ${id}: progress ${e.progress}`);
  }
  for (const [id, [progress, health]] of Object.entries(PROGRAM_WANT)) {
    const e = evalProgram(CAT_A.programs.find((p) => p.id === id), WIB, T, store);
    assertEq(e.health, health, `model ${id}: health`);
    assert(progress === null ? e.progress === null : close(e.progress, progress, 1e-12), `model ${id}: progress ${e.progress}`);
  }
  const d = evalDimensions(CAT_A, T, store);
  assertEq(d.map((x) => [x.programs, x.running, x.catalogued]), DIM_COUNTS, 'model dimension counts');
  assert(close(d[1].progress, (1 / 3 + 0.8) / 2, 1e-12) && close(d[2].progress, 0.075, 1e-12), 'model dimension progress');
  assertEq([d[3].progress, d[5].progress], [null, null], 'model null dimension progress');
  const at = (id, T2) => currentOf(where[id], WIB, T2, store);
  assertEq([at('sum', REPORT_FROM), at('sum', REPORT_TO), at('t-sum', REPORT_FROM), at('t-sum', REPORT_TO)], [8, 35, 108, 335], 'model report values');
  assertEq([at('count', REPORT_FROM), at('count', REPORT_TO), at('on', REPORT_FROM), at('on', REPORT_TO)], [2, 6, null, 60], 'model report values (2)');
}

// Dimension counts by hand: programs, running, catalogued (case 7).
const DIM_COUNTS = [[10, 8, 2], [2, 1, 2], [3, 2, 3], [1, 1, 1], [12, 3, 4], [0, 0, 0]];

// ---- cases -------------------------------------------------------------------------

const cases = [
  ['0. the model of this test agrees with the hand-computed values', () => selfCheck()],
  [
    '1. every agg over a date range and over total, with label and unit filters',
    async (ctx) => {
      const a = needA(ctx);
      const r = await settle(a.base, '/api/v1/programs', (j) =>
        j.programs?.find((p) => p.id === 'p-agg')?.kpis?.find((k) => k.id === 't-sum')?.current === 335,
      );
      assertEq(keys(r.json), ['programs', 'regency'], 'top-level keys');
      assertSame(r.json.regency, { id: 'lampung-tengah', name: 'Kabupaten Lampung Tengah', timezone: '+07:00' }, 'regency (WIB by default)');
      for (const [id, want] of Object.entries(AGG_WANT)) {
        const got = findKpi(r.json, 'p-agg', id).current;
        assert(typeof got === 'number' && close(got, want, relTol(want)), `p-agg/${id}: current ${got}, want ${want}`);
      }
      const sum = findKpi(r.json, 'p-agg', 'sum');
      assertSame(sum.period, { from: P0, to: P1 }, 'range period');
      assertEq([sum.start, sum.deadline], [P0, P1], 'start/deadline default to the period');
      assertSame(findKpi(r.json, 'p-agg', 't-sum').period, { from: null, to: null }, 'total period');
      assertEq(findKpi(r.json, 'p-agg', 't-sum').start, dayStart(D(-30), WIB), 'total start');
      assertEq(findKpi(r.json, 'p-agg', 't-sum').deadline, dayEnd(D(29), WIB), 'total deadline');
      assertEq(findKpi(r.json, 'p-agg', 'distinct').agg, 'distinct:kampung', 'agg as written');
      assertEq(findKpi(r.json, 'p-agg', 'units-sum').units, ['van-01', 'van-03'], 'units array');
      assertEq(canon(findKpi(r.json, 'p-agg', 'ktp-sum').labels), canon({ doc: 'ktp', kampung: '*' }), 'labels object');
      // sum: progress 35/100 = 0.35; deadline P1 is past -> missed; f = 1 -> expected 100, projected 35.
      assertEq([sum.progress, sum.expected, sum.projected, sum.status], [0.35, 100, 35, 'missed'], 'sum evaluated');
      // count: 6/6 = 1 -> achieved, eta null.
      const count = findKpi(r.json, 'p-agg', 'count');
      assertEq([count.progress, count.status, count.eta], [1, 'achieved', null], 'count evaluated');
      checkProgram(findProgram(r.json, 'p-agg'), CAT_A.programs[0], WIB, r.Ta, r.Tb, ctx.store, 'p-agg');
    },
  ],
  [
    '2. a replaced (series, ts) counts once with its new value; a late older sample counts',
    async (ctx) => {
      const a = needA(ctx);
      const [first, second] = [LATE_FIRST, LATE_SECOND];
      for (const x of first) await publish(ctx, x);
      await waitStored(a.base, first);
      // Before: sum 10+20 = 30, count 2, last 20 (P0+2h), avg 15.
      let r = await settle(a.base, '/api/v1/programs', (j) => findKpi(j, 'p-late', 'late-count').current === 2);
      assertEq(
        ['sum', 'count', 'last', 'avg', 'min', 'max'].map((x) => findKpi(r.json, 'p-late', `late-${x}`).current),
        [30, 2, 20, 15, 10, 20],
        'p-late before',
      );
      // Replace both (10 -> 15 at P0+1h, 20 -> 25 at P0+2h, the latest), add a late
      // sample older than both (1 at P0+30min), and redeliver it unchanged.
      for (const x of second) await publish(ctx, x);
      await waitStored(a.base, second);
      // After: sum 15+25+1 = 41, count 3, last 25, avg 41/3, min 1, max 25.
      r = await settle(a.base, '/api/v1/programs', (j) => findKpi(j, 'p-late', 'late-sum').current === 41);
      const got = ['sum', 'count', 'last', 'min', 'max'].map((x) => findKpi(r.json, 'p-late', `late-${x}`).current);
      assertEq(got, [41, 3, 25, 1, 25], 'p-late after (sum count last min max)');
      const avg = findKpi(r.json, 'p-late', 'late-avg').current;
      assert(close(avg, 41 / 3, 1e-9), `late-avg ${avg}, want ${41 / 3}`);
      checkProgram(findProgram(r.json, 'p-late'), CAT_A.programs[1], WIB, r.Ta, r.Tb, ctx.store, 'p-late');
    },
  ],
  [
    '3. timezone WITA: a range in local dates, regency.timezone +08:00 ([catalog] file in the config)',
    async (ctx) => {
      const b = needB(ctx);
      const xs = WITA_SAMPLES;
      for (const x of xs) await publish(ctx, x);
      await waitStored(b.base, xs);
      const r = await settle(b.base, '/api/v1/programs', (j) => findKpi(j, 'p-wita', 'wita-sum').current === 111);
      assertSame(r.json.regency, { id: 'kutai-kartanegara', name: 'Kabupaten Kutai Kartanegara', timezone: '+08:00' }, 'regency');
      const c = findKpi(r.json, 'p-wita', 'wita-count');
      assertSame(c.period, { from: W0, to: W1 }, 'period: local midnight .. next local midnight - 1');
      assertEq(W1 - W0 + 1, 11 * DAY, '11 local days');
      assertEq(c.current, 3, 'count: 00:30 first day, 23:30 and 23:59:59.999 last day');
      assertEq(findKpi(r.json, 'p-wita', 'wita-sum').current, 111, 'sum 1 + 10 + 100');
      checkProgram(findProgram(r.json, 'p-wita'), CAT_B.programs[0], WITA, r.Ta, r.Tb, ctx.store, 'p-wita');
    },
  ],
  [
    '4. calendar periods day week month quarter year in WIB, relative to now',
    async (ctx) => {
      const a = needA(ctx);
      const now = Date.now();
      const [dayFrom] = calendar('day', WIB, now);
      const s = (k, ts, value) => ({ program: 'p-cal', unit: 'c1', metric: 'cal', labels: { k }, ts, value });
      const xs = [s('now', Math.max(dayFrom, now - 1000), 1), s('daystart', dayFrom, 2)];
      let v = 4;
      for (const p of ['day', 'week', 'month', 'quarter', 'year']) {
        const ts = calendar(p, WIB, now)[0] - 1; // the previous period's last ms
        if (now - ts < 60 * DAY) xs.push(s(`prev${p}`, ts, v)); // inside the raw horizon
        v *= 2;
      }
      // On Wed 2026-12-02 09:00 WIB: day 1+2 = 3; week (from Mon 30 Nov) 3+4 = 7;
      // month 3+4 = 7; quarter 3+4+8+16 = 31; year 31 (prevquarter, 30 Sep, and
      // prevyear are outside the 60 days and not sent).
      for (const x of xs) await publish(ctx, x);
      await waitStored(a.base, xs);
      const r = await settle(a.base, '/api/v1/programs', (j) => findKpi(j, 'p-cal', 'cal-day').current === 3);
      const p = CAT_A.programs.find((x) => x.id === 'p-cal');
      for (const k of p.kpis) {
        const got = findKpi(r.json, 'p-cal', k.id);
        const [from, to] = calendar(k.period, WIB, r.Tb - SLACK); // the period now
        assertSame(got.period, { from, to }, `${k.id}: period`);
        assertEq([got.start, got.deadline], [from, to], `${k.id}: start/deadline are the period's`);
      }
      assertEq(findKpi(r.json, 'p-cal', 'cal-day').current, 3, 'cal-day: now + first ms of today');
      checkProgram(findProgram(r.json, 'p-cal'), p, WIB, r.Ta, r.Tb, ctx.store, 'p-cal');
    },
  ],
  [
    '5. progress, expected, projected, eta and every status (§5.2)',
    async (ctx) => {
      const a = needA(ctx);
      const r = await timedGet(a.base, '/api/v1/programs');
      const S = dayStart(D(-30), WIB);
      const Dl = dayEnd(D(29), WIB);
      const fA = (r.Ta - S) / (Dl - S);
      const fB = (r.Tb - S) / (Dl - S);
      assert(fA >= 0.49 && fB < 0.52, `f now in [0.5, 0.517): ${fA}..${fB}`);
      const want = STATUS_WANT;
      const kp = {};
      for (const p of r.json.programs || []) for (const k of p.kpis || []) kp[`${p.id}/${k.id}`] = k;
      const where = { on: 'p-h1', risk: 'p-h1', nodata: 'p-h1', ach: 'p-h2', wors: 'p-h3', off: 'p-h3', notst: 'p-h4', missed: 'p-h5', dec: 'p-h5', exact: 'p-h7' };
      for (const [id, [status, progress]] of Object.entries(want)) {
        const k = kp[`${where[id]}/${id}`];
        assert(k, `kpi ${where[id]}/${id}`);
        assertEq(k.status, status, `${id}: status`);
        if (progress === null) assertEq(k.progress, null, `${id}: progress`);
        else assert(close(k.progress, progress, 1e-9), `${id}: progress ${k.progress}, want ${progress}`);
        checkKpi(k, STATUS[id], WIB, r.Ta, r.Tb, ctx.store, id);
      }
      // By hand, with f in [fA, fB]:
      const on = kp['p-h1/on'];
      checkBetween(on.expected, 100 * fA, 100 * fB, 'on: expected = 0 + 100 f');
      checkBetween(on.projected, 60 / fA, 60 / fB, 'on: projected = 60 / f');
      checkBetween(on.eta, S + (r.Ta - S) / 0.6, S + (r.Tb - S) / 0.6, 'on: eta = S + (T-S)/0.6', 2);
      const dec = kp['p-h5/dec'];
      checkBetween(dec.expected, 28.3 - 14.3 * fA, 28.3 - 14.3 * fB, 'dec: expected = 28.3 - 14.3 f');
      checkBetween(dec.projected, 28.3 - 5.4 / fA, 28.3 - 5.4 / fB, 'dec: projected = 28.3 + (22.9-28.3)/f');
      assertEq(dec.display_unit, '%', 'dec: display_unit');
      const missed = kp['p-h5/missed'];
      assertEq([missed.expected, missed.projected], [100, 50], 'missed: f = 1');
      assertEq(missed.deadline, dayEnd(D(-5), WIB), 'missed: deadline is the last ms of its day');
      const notst = kp['p-h4/notst'];
      assertEq([notst.expected, notst.projected], [0, null], 'not_started: f = 0');
      assertEq(notst.start, dayStart(D(10), WIB), 'not_started: start');
      const nd = kp['p-h1/nodata'];
      assertEq([nd.current, nd.progress, nd.projected, nd.eta], [null, null, null, null], 'no_data nulls');
      assertEq([kp['p-h2/ach'].eta, kp['p-h7/exact'].eta], [null, null], 'eta null when progress >= 1');
      assertEq(kp['p-h3/wors'].eta, null, 'eta null when progress <= 0');
    },
  ],
  [
    '6. program progress and health; GET /programs/<id>; 404; field sets',
    async (ctx) => {
      const a = needA(ctx);
      const r = await timedGet(a.base, '/api/v1/programs');
      assertEq(
        r.json.programs.map((p) => p.id).sort(),
        CAT_A.programs.map((p) => p.id).sort(),
        'the catalog programs',
      );
      const want = PROGRAM_WANT;
      for (const [id, [progress, health]] of Object.entries(want)) {
        const p = findProgram(r.json, id);
        assertEq(p.health, health, `${id}: health`);
        if (progress === null) assertEq(p.progress, null, `${id}: progress`);
        else assert(close(p.progress, progress, 1e-9), `${id}: progress ${p.progress}, want ${progress}`);
      }
      for (const p of CAT_A.programs) checkProgram(findProgram(r.json, p.id), p, WIB, r.Ta, r.Tb, ctx.store, p.id);
      assertEq(findProgram(r.json, 'p-empty').kpis, [], 'p-empty: no KPIs');
      assertEq([findProgram(r.json, 'p-late').agency, findProgram(r.json, 'p-late').description], [null, null], 'absent agency/description');
      const one = await timedGet(a.base, '/api/v1/programs/p-h5');
      assertEq(keys(one.json), ['program'], '/programs/<id> keys');
      checkProgram(one.json.program, CAT_A.programs.find((p) => p.id === 'p-h5'), WIB, one.Ta, one.Tb, ctx.store, '/programs/p-h5');
      expectError(await get(a.base, '/api/v1/programs/no-such-program'), 404, 'unknown program');
    },
  ],
  [
    '7. dimensions: the six in order, masterplan or catalog counts, progress',
    async (ctx) => {
      const a = needA(ctx);
      const r = await timedGet(a.base, '/api/v1/dimensions');
      assertEq(keys(r.json), ['dimensions'], 'keys');
      const d = r.json.dimensions;
      assertEq(d.map((x) => [x.id, x.name]), DIMS, 'ids and names in order');
      // By hand: governance from [masterplan] 8/10, catalogued p-agg p-late;
      // branding p-h1 running + p-h2 planned: 2/1, progress (1/3 + 0.8)/2;
      // economy p-h3, p-h4 done, p-live: 3/2, progress (0.075 + 0.15 + 0)/3;
      // living p-empty only: 1/1, progress null; society [masterplan] 3/12,
      // catalogued 4; environment nothing: 0/0/0, null.
      assertEq(d.map((x) => [x.programs, x.running, x.catalogued]), DIM_COUNTS, 'programs, running, catalogued');
      assert(close(d[1].progress, (1 / 3 + 0.8) / 2, 1e-9), `branding progress ${d[1].progress}`);
      assert(close(d[2].progress, 0.075, 1e-9), `economy progress ${d[2].progress}`);
      assertEq([d[3].progress, d[5].progress], [null, null], 'living and environment progress');
      checkDimensions(d, CAT_A, r.Ta, r.Tb, ctx.store, 'dimensions');
    },
  ],
  [
    '8. report: values at from and to, programs and dimensions as of to; 400 without from or to',
    async (ctx) => {
      const a = needA(ctx);
      const [from, to] = [REPORT_FROM, REPORT_TO];
      const before = Date.now();
      const r = await timedGet(a.base, `/api/v1/report?from=${from}&to=${to}`);
      const j = r.json;
      assertEq(keys(j), ['alerts', 'dimensions', 'from', 'generated_at', 'programs', 'regency', 'to'], 'report keys');
      assertEq([j.from, j.to], [from, to], 'from, to');
      assert(Number.isInteger(j.generated_at) && j.generated_at >= before - SLACK && j.generated_at <= r.Tb, `generated_at ${j.generated_at}`);
      assertSame(j.regency, { id: 'lampung-tengah', name: 'Kabupaten Lampung Tengah', timezone: '+07:00' }, 'regency');
      assert(Array.isArray(j.alerts), 'alerts is an array');
      // By hand: p-agg/sum at from: s1 5 + s2 3 = 8; at to: 35. t-sum at
      // from: o1 100 + 8 = 108; at to: 335. Status KPIs (samples at now - 6 d):
      // null at from, their value at to. p-live: no data at to.
      const v = (pid, kid) => {
        const k = findKpi(j, pid, kid);
        return [k.value_at_from, k.value_at_to];
      };
      assertEq(v('p-agg', 'sum'), [8, 35], 'p-agg/sum at from, to');
      assertEq(v('p-agg', 't-sum'), [108, 335], 'p-agg/t-sum at from, to');
      assertEq(v('p-agg', 'count'), [2, 6], 'p-agg/count at from, to');
      assertEq(v('p-h1', 'on'), [null, 60], 'p-h1/on at from, to');
      assertEq(v('p-live', 'live-sum'), [null, null], 'p-live at from, to');
      for (const p of CAT_A.programs) {
        const got = findProgram(j, p.id);
        checkProgram(got, p, WIB, to, to, ctx.store, `report ${p.id}`, ['value_at_from', 'value_at_to']);
        for (const k of p.kpis) {
          const gk = got.kpis.find((x) => x.id === k.id);
          const wf = currentOf(k, WIB, from, ctx.store);
          const wt = currentOf(k, WIB, to, ctx.store);
          checkBetween(gk.value_at_from, wf, wf, `report ${p.id}/${k.id}: value_at_from`);
          checkBetween(gk.value_at_to, wt, wt, `report ${p.id}/${k.id}: value_at_to`);
          assertEq(gk.value_at_to, gk.current, `report ${p.id}/${k.id}: current is the value at to`);
        }
      }
      checkDimensions(j.dimensions, CAT_A, to, to, ctx.store, 'report dimensions');
      expectError(await get(a.base, `/api/v1/report?to=${to}`), 400, 'report without from');
      expectError(await get(a.base, `/api/v1/report?from=${from}`), 400, 'report without to');
      expectError(await get(a.base, '/api/v1/report'), 400, 'report without from and to');
    },
  ],
  [
    '9. kpi frames reach <program>/# and <program>/+/+ subscribers, not others',
    async (ctx) => {
      const a = needA(ctx);
      const [c1, c2, c3] = await Promise.all([openClient(a.url()), openClient(a.url()), openClient(a.url(), 'pantau.v1')]);
      try {
        await c1.subscribe(['p-live/#']);
        await c2.subscribe(['p-other/#']);
        await c3.subscribe(['p-live/+/+']);
        const s = { program: 'p-live', unit: 'u1', metric: 'hits', labels: {}, ts: Date.now() - 1000, value: 5 };
        await publish(ctx, s);
        const isLive = (f) => f.type === 'kpi' && f.program === 'p-live' && f.kpi?.id === 'live-sum' && f.kpi.current === 5;
        const f1 = await c1.nextFrame(isLive, 5000, 'kpi frame on p-live/#');
        await c3.nextFrame(isLive, 5000, 'kpi frame on p-live/+/+');
        assertEq(keys(f1).filter((k) => k !== 'receivedAt'), ['kpi', 'program', 'type'], 'kpi frame keys');
        // current 5, target 8: progress 0.625; f in [0.5, 0.517) -> R > 1.2: on_track.
        // The frame's T lies between the sample's ts and now.
        checkKpi(f1.kpi, CAT_A.programs.find((p) => p.id === 'p-live').kpis[0], WIB, s.ts, Date.now() + SLACK, ctx.store, 'kpi frame');
        assertEq([f1.kpi.progress, f1.kpi.status], [0.625, 'on_track'], 'frame progress, status');
        await sleep(1500);
        await c2.roundTrip();
        assertEq(
          c2.frames.filter((f) => f.type === 'kpi' || f.type === 'samples').map((f) => f.type),
          [],
          'p-other/# subscriber gets nothing of p-live',
        );
      } finally {
        for (const c of [c1, c2, c3]) c.close();
      }
    },
  ],
  [
    '10. SIGHUP applies a new catalog without dropping websockets; a broken one is refused (file:line:)',
    async (ctx) => {
      const b = needB(ctx);
      const c = await openClient(b.url());
      try {
        fs.writeFileSync(ctx.catB, catalogText(CAT_B2));
        process.kill(b.pid, 'SIGHUP');
        const r = await settle(b.base, '/api/v1/programs', (j) => j.programs?.some((p) => p.id === 'p-new'), 8000);
        assertEq(r.json.programs.map((p) => p.id).sort(), ['p-new', 'p-wita'], 'programs after reload');
        checkProgram(findProgram(r.json, 'p-new'), CAT_B2.programs[1], WITA, r.Ta, r.Tb, ctx.store, 'p-new');
        assertEq(findKpi(r.json, 'p-wita', 'wita-sum').current, 111, 'p-wita keeps its data after reload');
        assertEq(c.closed, null, 'websocket still open');
        await c.roundTrip();

        // Broken: a new program with an unknown key on a known line.
        const lines = catalogText(CAT_B2).split('\n');
        lines.splice(lines.length - 1, 0, '', '[program p-broken]', 'name = Rusak', 'dimension = living', 'colour = red');
        const badLine = lines.indexOf('colour = red') + 1;
        fs.writeFileSync(ctx.catB, lines.join('\n'));
        process.kill(b.pid, 'SIGHUP');
        const needle = `${path.basename(ctx.catB)}:${badLine}:`;
        await until(() => b.readLog().includes(needle), 5000, `pantaud's log to name ${needle}`, 100).catch((e) => {
          throw new Error(`${e.message}\n--- log tail ---\n${b.readLog().slice(-1500)}`);
        });
        await sleep(300);
        assert(b.child.exitCode === null && b.child.signalCode === null, 'pantaud still running');
        const r2 = await timedGet(b.base, '/api/v1/programs');
        assertEq(r2.json.programs.map((p) => p.id).sort(), ['p-new', 'p-wita'], 'running catalog kept');
        assertEq(c.closed, null, 'websocket still open after the refused reload');
        await c.roundTrip();
      } finally {
        c.close();
      }
    },
  ],
  [
    '11. --check-config --catalog: file:line: and the exit status; start-up with a bad catalog fails',
    async (ctx) => {
      const dir = path.join(tmpdir(), 'check');
      fs.mkdirSync(dir, { recursive: true });
      const good = catalogText({
        regency: { id: 'kota-metro', name: 'Kota Metro' },
        timezoneText: '-03:30',
        programs: [
          {
            id: 'p1',
            name: 'P1',
            dimension: 'environment',
            agency: 'DLH',
            description: 'x',
            status: 'done',
            kpis: [
              { id: 'k1', name: 'K1', metric: 'm', agg: 'distinct:kampung', period: 'quarter', target: 5, baseline: 1, labels: { doc: 'ktp', kampung: '*' }, units: ['a', 'b'], display_unit: 'kampung' },
              { id: 'k2', name: 'K2', metric: 'm', agg: 'sum', period: '2026-01-01..2026-06-30', target: 5, start: '2026-01-01', deadline: '2026-12-31' },
            ],
          },
        ],
      });
      const goodLines = good.split('\n');
      // Bad catalogs: [lines to replace/add, the line the problem is on (null: any line)].
      const variants = {
        'bad-key.ini': (L) => (L.splice(L.indexOf('status = done') + 1, 0, 'colour = red'), L.indexOf('colour = red') + 1),
        'bad-section.ini': (L) => (L.push('[widget w1]', 'name = x'), L.indexOf('[widget w1]') + 1),
        'bad-agg.ini': (L) => (L[L.indexOf('agg = sum')] = 'agg = median', L.indexOf('agg = median') + 1),
        'bad-period.ini': (L) => (L[L.indexOf('period = quarter')] = 'period = fortnight', L.indexOf('period = fortnight') + 1),
        'bad-tz.ini': (L) => (L[L.indexOf('timezone = -03:30')] = 'timezone = CET', L.indexOf('timezone = CET') + 1),
        'bad-dimension.ini': (L) => (L[L.indexOf('dimension = environment')] = 'dimension = sports', L.indexOf('dimension = sports') + 1),
        'bad-noprogram.ini': (L) => (L.push('[kpi nope/k]', 'name = K', 'metric = m', 'agg = sum', 'period = day', 'target = 1'), null),
        'bad-duplicate.ini': (L) => (L.push('[program p1]', 'name = again', 'dimension = living'), null),
        'bad-missing-target.ini': (L) => (L.splice(L.indexOf('target = 5'), 1), null),
        'bad-target-is-baseline.ini': (L) => (L[L.indexOf('target = 5')] = 'target = 1', null),
        'bad-total-without-start.ini': (L) => (L.push('[kpi p1/t]', 'name = T', 'metric = m', 'agg = sum', 'period = total', 'target = 9'), null),
      };
      const run = (args, ms = 10000) =>
        new Promise((resolve) => {
          execFile(PANTAUD, args, { timeout: ms }, (err, stdout, stderr) =>
            resolve({ code: err ? (err.code ?? err.signal) : 0, out: `${stdout}${stderr}` }),
          );
        });
      const goodPath = path.join(dir, 'good.ini');
      fs.writeFileSync(goodPath, good);
      const g = await run(['--check-config', '--catalog', goodPath]);
      assertEq(g.code, 0, `good catalog: exit status (output: ${g.out.slice(0, 500)})`);
      const gA = await run(['--check-config', '--catalog', ctx.catA]);
      assertEq(gA.code, 0, `catalog A: exit status (output: ${gA.out.slice(0, 500)})`);
      const problems = [];
      for (const [name, edit] of Object.entries(variants)) {
        const L = [...goodLines];
        const line = edit(L);
        const p = path.join(dir, name);
        fs.writeFileSync(p, L.join('\n'));
        const res = await run(['--check-config', '--catalog', p]);
        const re = line === null ? new RegExp(`${name.replace(/\./g, '\\.')}:\\d+:`) : null;
        if (res.code === 0) problems.push(`${name}: exit 0`);
        else if (line !== null ? !res.out.includes(`${name}:${line}:`) : !re.test(res.out))
          problems.push(`${name}: no "${name}:${line ?? 'N'}:" in ${JSON.stringify(res.out.slice(0, 300))}`);
      }
      assertEq(problems, [], 'bad catalogs');

      // Start-up with a bad catalog: exits non-zero (bounded: killed after 10 s).
      const port = await freePort();
      const bad = path.join(dir, 'bad-key.ini');
      const child = spawn(
        PANTAUD,
        ['--allow-root', '--mqtt', ctx.broker.uri, '--db', path.join(dir, 'bad.db'), '--listen', `127.0.0.1:${port}`, '--catalog', bad],
        { stdio: 'ignore' },
      );
      const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      let res;
      try {
        res = await withTimeout(exited, 10000, 'pantaud with a bad catalog to exit');
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      assert(res.code !== 0 && res.code !== null, `start-up with a bad catalog: exit ${res.code ?? res.signal}`);
    },
    40000,
  ],
];

// ---- set-up -------------------------------------------------------------------------

async function before() {
  const ctx = { store: new Store() };
  ctx.broker = await startBroker();
  ctx.pub = await mqttPublisher(ctx.broker);
  const dir = tmpdir();
  ctx.catA = path.join(dir, 'cat-a.ini');
  ctx.catB = path.join(dir, 'cat-b.ini');
  fs.writeFileSync(ctx.catA, catalogText(CAT_A));
  fs.writeFileSync(ctx.catB, catalogText(CAT_B));
  const withBase = (d) => ({ ...d, base: `http://127.0.0.1:${d.httpPort}` });
  try {
    ctx.a = withBase(await startPantaud(ctx.broker, { args: ['--catalog', ctx.catA] }));
  } catch (e) {
    ctx.aError = e.message;
  }
  try {
    ctx.b = withBase(await startPantaud(ctx.broker, { config: `[catalog]\nfile = ${ctx.catB}\n` }));
  } catch (e) {
    ctx.bError = e.message;
  }
  // Samples for cases 1, 5 and 6 (cases 2-4 and 9 publish their own): the
  // future one first, so it is in before the others are seen stored.
  const xs = setupSamples();
  for (const x of xs) await publish(ctx, x);
  if (ctx.a) await waitStored(ctx.a.base, xs.slice(1)).catch((e) => (ctx.aError = `samples not stored: ${e.message}`, (ctx.a = null)));
  return ctx;
}

runCases(FILE, cases, {
  totalMs: 100000,
  before,
  after: async (ctx) => {
    await ctx.pub?.close();
  },
});
