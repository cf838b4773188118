// federation.js — the pure logic of a hub's views (CONTRACT §7), apart from
// the DOM and the network so that tests/js/unit/federation.test.mjs can
// table-test it:
// - listState/listArg: #wilayah's sort and province filter, read from and
//   written to the hash's argument ("urut=provinsi&provinsi=Lampung"; a
//   region's id is a slug, never holds '=', so the two cannot be confused);
// - sortRegions: REGIONs in one of SORTS' orders (stable: ties keep the
//   API's order, by code);
// - compareEvaluations: what rose and fell between two frozen evaluations,
//   per region (or per program on a regency) and per dimension, in whole
//   percentage points as the pages show them (so "43 % → 58 %" is "+15").

export const DIMS = ['governance', 'branding', 'economy', 'living', 'society', 'environment'];

// §5.3's order, worst first; a region never heard (health null) after all.
const HEALTH = ['missed', 'worsening', 'off_track', 'at_risk', 'not_started', 'no_data', 'on_track', 'achieved'];
const healthRank = (r) =>
  r.last_seen === null || r.last_seen === undefined ? HEALTH.length : Math.max(0, HEALTH.indexOf(r.health || 'no_data'));
// Names with numbers in order ("Kabupaten 2" before "Kabupaten 10").
const COLLATE = { numeric: true };
const byName = (a, b) => String(a.name || a.id).localeCompare(String(b.name || b.id), 'id', COLLATE);
// Missing last: a number for the ascending compare, a null pushed behind.
const nullLast = (x, y, asc) => (x === null && y === null ? 0 : x === null ? 1 : y === null ? -1 : asc ? x - y : y - x);
const num = (v) => (v === null || v === undefined || !Number.isFinite(v) ? null : v);

// key in the hash → how two regions compare (0: keep the API's order).
export const SORTS = {
  kode: () => 0,
  provinsi: (a, b) =>
    (a.province ? (b.province ? a.province.localeCompare(b.province, 'id', COLLATE) : -1) : b.province ? 1 : 0) || byName(a, b),
  nama: byName,
  'kemajuan-rendah': (a, b) => nullLast(num(a.progress), num(b.progress), true),
  'kemajuan-tinggi': (a, b) => nullLast(num(a.progress), num(b.progress), false),
  kesehatan: (a, b) => healthRank(a) - healthRank(b),
  // Silent longest first: never heard, then the oldest last_seen.
  terdengar: (a, b) => (a.last_seen ?? -Infinity) - (b.last_seen ?? -Infinity) || 0,
  peringatan: (a, b) => (b.alerts_firing || 0) - (a.alerts_firing || 0),
};
export const DEFAULT_SORT = 'kode';

export function sortRegions(regions, key) {
  const cmp = SORTS[key] || SORTS[DEFAULT_SORT];
  return regions
    .map((r, i) => [r, i])
    .sort(([a, i], [b, j]) => cmp(a, b) || i - j)
    .map(([r]) => r);
}

// "urut=provinsi&provinsi=Nusa+Tenggara+Barat" → {sort, province}.
export function listState(arg) {
  const q = new URLSearchParams(arg && arg.includes('=') ? arg : '');
  const sort = q.get('urut');
  return { sort: sort && sort in SORTS ? sort : DEFAULT_SORT, province: q.get('provinsi') || '' };
}
export function listArg({ sort, province }) {
  const q = new URLSearchParams();
  if (sort && sort !== DEFAULT_SORT) q.set('urut', sort);
  if (province) q.set('provinsi', province);
  return q.toString();
}

// Whole percentage points as the pages write a progress (pct(): no
// decimals); null when either is unknown.
export const points = (p) => (num(p) === null ? null : Math.round(p * 100));
export function change(a, b) {
  const x = points(a);
  const y = points(b);
  return x === null || y === null ? null : y - x;
}
export const direction = (d) => (d === null ? 'none' : d > 0 ? 'up' : d < 0 ? 'down' : 'same');

const dimProgress = (dims, id) => num((dims || []).find((d) => d.id === id)?.progress ?? null);

// The rows compared: a hub's regions, else a regency's report's programs.
function rowsOf(ev) {
  if (Array.isArray(ev.regions)) return { kind: 'regions', rows: ev.regions };
  if (ev.report) return { kind: 'programs', rows: ev.report.programs || [] };
  return { kind: 'none', rows: [] };
}

function rowChange(a, b, kind) {
  const dims = {};
  if (kind === 'regions')
    for (const id of DIMS) {
      const x = dimProgress(a.dimensions, id);
      const y = dimProgress(b.dimensions, id);
      dims[id] = { from: x, to: y, d: change(x, y) };
    }
  return {
    id: b.id,
    name: b.name || a.name || b.id,
    code: b.code ?? a.code ?? null,
    province: b.province ?? a.province ?? null,
    dimension: b.dimension ?? a.dimension ?? null,
    from: num(a.progress),
    to: num(b.progress),
    d: change(a.progress, b.progress),
    dims,
  };
}

// The biggest change of a row, for the order: its overall one, then its
// largest dimension's.
const size = (r) => (r.d === null ? -1 : Math.abs(r.d));
const dimSize = (r) => Math.max(-1, ...Object.values(r.dims).map((x) => (x.d === null ? -1 : Math.abs(x.d))));

// a: the earlier evaluation ("from"), b: the later ("to"), as the reader
// chose them; the answer: {kind, rows (in both, biggest change first; ties
// in b's order), only [{…row, in: 'from'|'to'}], dims [per dimension: from,
// to, d, rose, fell, same, up (the row of the biggest rise), down] biggest
// mean change first, counts {up, down, same, none}}.
export function compareEvaluations(a, b) {
  const A = rowsOf(a);
  const B = rowsOf(b);
  const kind = A.kind === B.kind ? A.kind : 'none';
  const inA = new Map(A.rows.map((r) => [r.id, r]));
  const inB = new Map(B.rows.map((r) => [r.id, r]));
  const rows = [];
  const only = [];
  if (kind !== 'none') {
    B.rows.forEach((r, i) =>
      inA.has(r.id) ? rows.push({ ...rowChange(inA.get(r.id), r, kind), order: i }) : only.push({ ...rowChange(r, r, kind), in: 'to' }),
    );
    for (const r of A.rows) if (!inB.has(r.id)) only.push({ ...rowChange(r, r, kind), in: 'from' });
  }
  rows.sort((x, y) => size(y) - size(x) || dimSize(y) - dimSize(x) || x.order - y.order);
  const counts = { up: 0, down: 0, same: 0, none: 0 };
  for (const r of rows) counts[direction(r.d)]++;
  return { kind, rows, only, dims: dimChanges(kind, rows, a, b), counts };
}

function dimChanges(kind, rows, a, b) {
  const out = DIMS.map((id) => {
    const e = { id, name: null, from: null, to: null, d: null, rose: 0, fell: 0, same: 0, up: null, down: null };
    if (kind === 'regions') {
      // Over the regions in both with a value in both: the mean change,
      // how many rose and fell, the biggest rise and fall.
      let sum = 0;
      let n = 0;
      for (const r of rows) {
        const x = r.dims[id];
        if (x.d === null) continue;
        sum += x.d;
        n++;
        if (x.d > 0) e.rose++;
        else if (x.d < 0) e.fell++;
        else e.same++;
        if (x.d > 0 && (!e.up || x.d > e.up.d)) e.up = { id: r.id, name: r.name, d: x.d };
        if (x.d < 0 && (!e.down || x.d < e.down.d)) e.down = { id: r.id, name: r.name, d: x.d };
      }
      e.d = n ? Math.round((sum / n) * 10) / 10 : null;
    } else if (kind === 'programs') {
      // A regency's own dimensions, as its two reports give them.
      e.from = dimProgress(a.report.dimensions, id);
      e.to = dimProgress(b.report.dimensions, id);
      e.d = change(e.from, e.to);
      e.name = (b.report.dimensions || []).find((d) => d.id === id)?.name ?? null;
    }
    return e;
  });
  return out
    .map((e, i) => [e, i])
    .sort(([x, i], [y, j]) => (y.d === null ? -1 : Math.abs(y.d)) - (x.d === null ? -1 : Math.abs(x.d)) || i - j)
    .map(([e]) => e);
}
