// format.js — numbers and times for Indonesian readers (12.345,5;
// 2 Des 2026 14.05 WIB) in the regency's time zone, via Intl.
import { getLang } from './i18n.js';

const ZONES = { '+07:00': ['Asia/Jakarta', 'WIB'], '+08:00': ['Asia/Makassar', 'WITA'], '+09:00': ['Asia/Jayapura', 'WIT'] };
let offset = '+07:00';
let zone = 'Asia/Jakarta';
let zoneLabel = 'WIB';
let offsetMs = 7 * 3600e3;
const cache = new Map();

// tz: "±HH:MM" as /api/v1/programs gives regency.timezone.
export function setTimezone(tz) {
  if (!/^[+-]\d\d:\d\d$/.test(tz || '')) return;
  offset = tz;
  const sign = tz[0] === '-' ? -1 : 1;
  offsetMs = sign * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6))) * 60e3;
  const known = ZONES[tz];
  zone = known ? known[0] : tz;
  zoneLabel = known ? known[1] : `UTC${tz}`;
  cache.clear();
}
export const tzOffset = () => offset;
export const tzOffsetMs = () => offsetMs;
export const tzLabel = () => zoneLabel;

function locale() {
  return getLang() === 'en' ? 'en-GB' : 'id-ID';
}
function fmt(kind, opts) {
  const key = `${locale()}|${kind}`;
  let f = cache.get(key);
  if (!f) {
    f = kind.startsWith('n') ? new Intl.NumberFormat(locale(), opts) : new Intl.DateTimeFormat(locale(), { timeZone: zone, ...opts });
    cache.set(key, f);
  }
  return f;
}

export function num(v, digits) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const d = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2);
  return fmt(`n${d}`, { maximumFractionDigits: d }).format(v);
}
// Large values short: 8,5 M (miliar) / 8.5B.
export function compact(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (Math.abs(v) < 1e6) return num(v);
  return fmt('nc', { notation: 'compact', maximumFractionDigits: 1 }).format(v);
}
export function withUnit(v, unit) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (unit === 'Rp') return `Rp ${compact(v)}`;
  if (unit === '%') return `${num(v)} %`;
  return unit ? `${compact(v)} ${unit}` : compact(v);
}
export function pct(v, digits = 0) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return `${num(v * 100, digits)} %`;
}
export function signedPct(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  // Always one decimal, so a column of deviations lines up: "−1,0 %".
  const f = fmt('n1fixed', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  return `${v > 0 ? '+' : v < 0 ? '−' : ''}${f.format(Math.abs(v * 100))} %`;
}

function parts(ms, opts) {
  const o = {};
  for (const p of fmt(`d${JSON.stringify(opts)}`, opts).formatToParts(new Date(ms))) o[p.type] = p.value;
  return o;
}
const DT = { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
const sep = () => (getLang() === 'en' ? ':' : '.');
// 2 Des 2026 14.05 WIB
export function dateTime(ms) {
  if (!ms) return '–';
  const p = parts(ms, DT);
  return `${p.day} ${p.month.replace('.', '')} ${p.year} ${p.hour}${sep()}${p.minute} ${zoneLabel}`;
}
// 2 Des 2026
export function date(ms) {
  if (!ms) return '–';
  const p = parts(ms, DT);
  return `${p.day} ${p.month.replace('.', '')} ${p.year}`;
}
// 14.05 (today), else the full form
export function timeOrDate(ms, now = Date.now()) {
  if (!ms) return '–';
  if (localDay(ms) === localDay(now)) {
    const p = parts(ms, DT);
    return `${p.hour}${sep()}${p.minute}`;
  }
  return dateTime(ms);
}
export function clock(ms) {
  const p = parts(ms, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  return `${p.hour}${sep()}${p.minute}${sep()}${p.second}`;
}
export function longDate(ms) {
  return fmt('dlong', { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' }).format(new Date(ms));
}
// The regency's local day number (for "today" and midnights).
export function localDay(ms) {
  return Math.floor((ms + offsetMs) / 86400e3);
}
export function localMidnight(ms) {
  return localDay(ms) * 86400e3 - offsetMs;
}
// "YYYY-MM-DD" (local) <-> epoch ms, for <input type=date>.
export function isoDay(ms) {
  return new Date(ms + offsetMs).toISOString().slice(0, 10);
}
export function fromIsoDay(s, endOfDay) {
  const ms = Date.parse(`${s}T00:00:00Z`) - offsetMs;
  return endOfDay ? ms + 86400e3 - 1 : ms;
}
export function isoLocal(ms) {
  return new Date(ms + offsetMs).toISOString().slice(0, 16);
}
// "YYYY-MM-DDTHH:MM" local -> RFC 3339 with the regency's offset
export function rfc3339(local) {
  return `${local}:00${offset}`;
}
