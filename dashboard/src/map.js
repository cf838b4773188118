// map.js — unit positions over Indonesia's coastline, drawn as SVG with no
// tile server: the outline (Natural Earth 1:10m via world-atlas, made at
// build time) is bundled; an equirectangular projection scaled by cos(lat)
// around the units' positions (at least 2.4° across, so a coast shows).
import outline from 'pantau:outline';
import { h } from './dom.js';
import { statusClass, statusWord } from './status.js';

const W = 1000;
let cachedKey = '';
let cachedPath = '';

function bounds(units) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const u of units) ((x0 = Math.min(x0, u.lon)), (x1 = Math.max(x1, u.lon)), (y0 = Math.min(y0, u.lat)), (y1 = Math.max(y1, u.lat)));
  if (x0 === Infinity) return [95, -11, 141, 6]; // all of Indonesia
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const half = Math.max(1.2, (x1 - x0) * 0.6, (y1 - y0) * 0.6);
  return [cx - half, cy - half, cx + half, cy + half];
}

export function unitMap(units, label, aspect = 1) {
  const placed = units.filter((u) => Number.isFinite(u.lat) && Number.isFinite(u.lon));
  let [x0, y0, x1, y1] = bounds(placed);
  const k = Math.cos((((y0 + y1) / 2) * Math.PI) / 180);
  // Widen the box to the drawing's aspect so nothing is stretched.
  const wDeg = (x1 - x0) * k;
  const hDeg = y1 - y0;
  if (wDeg / hDeg < aspect) {
    const add = (hDeg * aspect - wDeg) / k / 2;
    ((x0 -= add), (x1 += add));
  } else {
    const add = (wDeg / aspect - hDeg) / 2;
    ((y0 -= add), (y1 += add));
  }
  const H = Math.round(W / aspect);
  const sx = W / (x1 - x0);
  const sy = H / (y1 - y0);
  const px = (lon) => (lon - x0) * sx;
  const py = (lat) => (y1 - lat) * sy;
  const key = [x0, y0, x1, y1].map((v) => v.toFixed(3)).join(',');
  if (key !== cachedKey) {
    let d = '';
    for (const ring of outline) {
      // Skip rings wholly outside the box (most of the archipelago).
      let inside = false;
      for (let i = 0; i < ring.length && !inside; i += 2) {
        const lon = ring[i] / 100;
        const lat = ring[i + 1] / 100;
        inside = lon >= x0 - 1 && lon <= x1 + 1 && lat >= y0 - 1 && lat <= y1 + 1;
      }
      if (!inside) continue;
      for (let i = 0; i < ring.length; i += 2) d += `${i ? 'L' : 'M'}${px(ring[i] / 100).toFixed(1)} ${py(ring[i + 1] / 100).toFixed(1)}`;
      d += 'Z';
    }
    cachedKey = key;
    cachedPath = d;
  }
  return h(
    'svg:svg',
    { class: 'map', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, preserveAspectRatio: 'xMidYMid meet' },
    h('svg:rect', { class: 'sea', x: 0, y: 0, width: W, height: H }),
    h('svg:path', { class: 'land', d: cachedPath }),
    placed.map((u) =>
      h(
        'svg:g',
        { class: `pin ${statusClass(u.status)}`, transform: `translate(${px(u.lon).toFixed(1)} ${py(u.lat).toFixed(1)})` },
        h('svg:title', null, `${u.unit} (${u.program}): ${statusWord(u.status)}`),
        h('svg:circle', { r: 9 }),
        // Only the units that need a look are named: clustered names of
        // healthy units would hide them.
        u.status !== 'online' ? h('svg:text', { x: 13, y: 6 }, u.unit) : null,
      ),
    ),
  );
}
