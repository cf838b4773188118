// sparkline.js — a KPI's last 30 local days as a small SVG line, one fixed
// array per program (re-read every 10 minutes and after a reconnect).
import { get, qs } from './api.js';
import { h } from './dom.js';
import { localMidnight, tzOffset } from './format.js';

const DAYS = 30;
const data = new Map(); // program id -> Float64Array(DAYS) (NaN: no data)

// The query aggregate that shows a KPI's daily activity.
export function dailyAgg(kpi) {
  if (['sum', 'count', 'avg', 'min', 'max', 'last'].includes(kpi.agg)) return kpi.agg;
  return 'count';
}
// label.K=V for the KPI's fixed label values (a `*` matches any).
export function labelParams(kpi) {
  const p = {};
  for (const [k, v] of Object.entries(kpi.labels || {})) if (v !== '*') p[`label.${k}`] = v;
  return p;
}

export async function loadSparkline(programId, kpi) {
  const now = Date.now();
  const from = localMidnight(now) - (DAYS - 1) * 86400e3;
  const q = qs({
    program: programId,
    metric: kpi.metric,
    from,
    to: now,
    step: 86400e3,
    tz: tzOffset(),
    agg: dailyAgg(kpi),
    ...labelParams(kpi),
  });
  const r = await get(`/api/v1/query?${q}`);
  const arr = data.get(programId) || new Float64Array(DAYS);
  // Counted KPIs: a day without samples is a 0; measured ones: a gap.
  const sumOver = kpi.agg === 'sum' || kpi.agg === 'count' || kpi.agg.startsWith('distinct') || kpi.agg === 'units';
  arr.fill(sumOver ? 0 : NaN);
  let points = 0;
  for (const s of r.series) {
    if (kpi.units && !kpi.units.includes(s.unit)) continue;
    for (const [ts, v] of s.points) {
      const i = Math.round((ts - from) / 86400e3);
      if (i < 0 || i >= DAYS) continue;
      arr[i] = sumOver ? arr[i] + v : Number.isNaN(arr[i]) ? v : Math.max(arr[i], v);
      points++;
    }
  }
  // No sample in 30 days is no data, not 30 days of zeros: nothing is drawn.
  if (!points) arr.fill(NaN);
  data.set(programId, arr);
}

// The line, or (no sample in 30 days, or not loaded yet) an empty box
// labelled noDataLabel.
export function sparkline(programId, label, noDataLabel = label) {
  const arr = data.get(programId);
  const W = 100;
  const H = 24;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of arr || []) if (!Number.isNaN(v)) ((lo = Math.min(lo, v)), (hi = Math.max(hi, v)));
  const empty = lo === Infinity;
  const svg = h('svg:svg', {
    class: empty ? 'spark spark-empty' : 'spark',
    viewBox: `0 0 ${W} ${H}`,
    preserveAspectRatio: 'none',
    role: 'img',
    'aria-label': empty ? noDataLabel : label,
  });
  if (empty) return svg;
  if (hi === lo) ((hi += 1), (lo -= 1));
  let d = '';
  let pen = 'M';
  arr.forEach((v, i) => {
    if (Number.isNaN(v)) return; // gaps are bridged
    d += `${pen}${((i / (DAYS - 1)) * W).toFixed(1)} ${(H - 2 - ((v - lo) / (hi - lo)) * (H - 4)).toFixed(1)}`;
    pen = 'L';
  });
  svg.append(h('svg:path', { d, 'vector-effect': 'non-scaling-stroke' }));
  return svg;
}
