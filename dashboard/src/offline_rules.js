// offline_rules.js — the pure rules of offline entry (CONTRACT §9), apart
// from IndexedDB and fetch so that they are table-tested in node:
// parseValue() reads what a person typed as a number; outcome() says what
// an answer of POST /api/v1/ingest (§1.1) means for a kept entry.

// A figure as typed on a phone: "17,4" and "17.4" are 17.4; with both
// separators the last one is the decimal mark ("12.345,5", "12,345.5"); a
// dot followed by groups of exactly three digits is a thousands separator
// in Indonesian ("14.500" is Rp 14,500, as a price officer writes it) and a
// comma so in English. Anything else (letters, "1e", "", "--1") is null, so
// that it is refused before it is kept.
export function parseValue(raw, lang = 'id') {
  let s = String(raw ?? '')
    .trim()
    .replace(/[\s\u00a0]/g, '')
    .replace(/^−/, '-');
  if (!/^-?[0-9][0-9.,]*$/.test(s) || /[.,]$/.test(s)) return null;
  const dot = s.lastIndexOf('.');
  const comma = s.lastIndexOf(',');
  const grouped = (sep) => new RegExp(`^-?\\d{1,3}(\\${sep}\\d{3})+$`).test(s);
  if (dot >= 0 && comma >= 0) {
    const dec = dot > comma ? '.' : ',';
    const group = dec === '.' ? ',' : '.';
    const [int, frac] = [s.slice(0, s.lastIndexOf(dec)), s.slice(s.lastIndexOf(dec) + 1)];
    if (!new RegExp(`^-?\\d{1,3}(\\${group}\\d{3})*$`).test(int) || !/^\d+$/.test(frac)) return null;
    s = `${int.split(group).join('')}.${frac}`;
  } else if (dot >= 0 || comma >= 0) {
    const sep = dot >= 0 ? '.' : ',';
    const thousands = lang === 'en' ? ',' : '.';
    if (sep === thousands && grouped(sep)) s = s.split(sep).join('');
    else if (s.split(sep).length === 2) s = s.replace(',', '.');
    else return null;
  }
  const v = Number(s);
  return Number.isFinite(v) ? v : null;
}

// What an answer to a kept entry's POST means:
//   stored  — 200 and nothing rejected: drop it from the device;
//   rejected — the server refuses it for good (400 with `error`, 403
//              forbidden_program or another 403, 404, 413, 200 with the
//              sample in `rejected`): keep it with `error` until discarded;
//   signin  — 401: no valid session; keep it, wait for a sign-in;
//   retry   — no answer (status 0), 408, 429, 5xx: keep it, try later.
export function outcome(status, body) {
  if (status === 200) {
    const r = body && Array.isArray(body.rejected) ? body.rejected : [];
    return r.length ? { kind: 'rejected', error: String(r[0].reason || 'rejected') } : { kind: 'stored' };
  }
  if (status === 401) return { kind: 'signin' };
  if (status === 0 || status === 408 || status === 429 || status >= 500) return { kind: 'retry' };
  return { kind: 'rejected', error: String((body && body.error) || `HTTP ${status}`) };
}

// The path of an entry under POST /api/v1/ingest/ (each part escaped, so a
// name the server refuses still reaches it and gets its 400).
export function ingestPath(e) {
  return `/api/v1/ingest/${[e.program, e.unit, e.metric].map((x) => encodeURIComponent(String(x).trim())).join('/')}`;
}
