// views/overview.js — Ringkasan: the six dimensions with the masterplan's
// counts, and every program as a tile (agency, headline KPI value, a 30-day
// sparkline, progress vs target with status as colour and word, the latest
// sample that arrived for it).
import { fill, h, text } from '../dom.js';
import { dateTime, num, pct, timeOrDate, withUnit } from '../format.js';
import { getLang, t } from '../i18n.js';
import { loadSparkline, sparkline } from '../sparkline.js';
import { state } from '../state.js';
import { statusClass, statusWord } from '../status.js';

let root = null;
let tiles = new Map(); // program id -> {last}
let sparkTimer = null;

function bar(progress, status) {
  const w = progress === null ? 0 : Math.max(0, Math.min(1, progress)) * 100;
  return h('div', { class: `bar ${statusClass(status)}`, role: 'presentation' }, h('div', { style: `width:${w.toFixed(1)}%` }));
}

export function dimensionCard(d) {
  return h(
    'div',
    { class: 'dim' },
    h('div', { class: 'dim-name' }, d.name),
    // "Smart Governance" is its name in both languages; Indonesian readers also get "Tata Kelola".
    getLang() === 'id' ? h('div', { class: 'dim-sub' }, t(d.id)) : null,
    h('div', { class: 'dim-count' }, t('dimPrograms', { running: num(d.running), programs: num(d.programs) })),
    bar(d.progress, 'on_track'),
    h('div', { class: 'dim-pct' }, `${t('progress')} ${pct(d.progress)}`),
  );
}

function lastLine(p) {
  const s = state.lastByProgram.get(p.id);
  if (!s) return '';
  // When it arrived (a unit flushing its offline buffer sends old ts).
  return `${t('lastSample')}: ${s.metric} ${num(s.value, 2)} · ${s.unit} · ${timeOrDate(s.arrived)}`;
}

// A program with firing alerts says so on its tile, whatever its KPIs say.
function firing(programId, alerts) {
  let n = 0;
  for (const a of alerts) if (a.state === 'firing' && a.program === programId) n++;
  return n ? h('span', { class: 'badge bad tile-alerts' }, t('alertsN', { n: num(n) })) : null;
}

function tile(p) {
  const last = h('div', { class: 'tile-last', 'data-program': p.id }, lastLine(p));
  tiles.set(p.id, { last });
  return programTile(p, { href: `#program/${p.id}`, alerts: state.alerts.values(), spark: true, last });
}

// A PROGRAM (CONTRACT §5) as a tile: this regency's (the overview) or a
// region's, from its STATE (views/regions.js: no sparkline, no link, the
// STATE's firing alerts).
export function programTile(p, { href = null, alerts = [], spark = false, last = null }) {
  const k = p.kpis[0];
  return h(
    href ? 'a' : 'div',
    { class: `tile ${statusClass(p.health)}`, href, 'data-program': p.id },
    h('div', { class: 'tile-head' }, h('span', { class: 'tile-name' }, p.name)),
    h(
      'div',
      { class: 'tile-agency' },
      h('span', null, [p.agency, t(p.dimension)].filter(Boolean).join(' · ')),
      firing(p.id, alerts),
      h('span', { class: `badge ${statusClass(p.health)} tile-health` }, t('programHealth', { s: statusWord(p.health || 'no_data') })),
    ),
    k
      ? [
          // The headline KPI's own status beside its name, apart from the program's badge.
          h(
            'div',
            { class: 'tile-kpi' },
            h('span', { class: 'tile-kpi-name' }, k.name),
            h('span', { class: `tile-kpi-status ${statusClass(k.status)}-t` }, statusWord(k.status)),
          ),
          h(
            'div',
            { class: 'tile-value' },
            h('span', { class: 'big' }, withUnit(k.current, k.display_unit)),
            h('span', { class: 'of' }, ` / ${withUnit(k.target, k.display_unit)}`),
          ),
          spark ? sparkline(p.id, t('spark30', { kpi: k.name }), t('sparkNoData', { kpi: k.name })) : null,
          bar(k.progress, k.status),
          h(
            'div',
            { class: 'tile-foot' },
            h('span', null, `${t('progress')} ${pct(k.progress)}`),
            h('span', null, `${t('deadline')} ${k.deadline ? dateTime(k.deadline).split(' ').slice(0, 3).join(' ') : '–'}`),
          ),
          p.kpis.length > 1 ? h('div', { class: 'tile-more' }, t('moreKpis', { n: p.kpis.length - 1, p: pct(p.progress) })) : null,
        ]
      : h('div', { class: 'tile-kpi' }, t('no_data')),
    last,
  );
}

function build() {
  tiles = new Map();
  const n = state.programs.length;
  const cols = n <= 3 ? n || 1 : n <= 6 ? 3 : n <= 8 ? 4 : n <= 15 ? 5 : Math.ceil(Math.sqrt(n * 1.8));
  fill(
    root,
    h('h1', { class: 'sr-only' }, t('overview')),
    h('section', { class: 'dims', 'aria-label': t('dimensions') }, state.dimensions.map(dimensionCard)),
    n
      ? h(
          'section',
          { class: 'tiles', style: `--cols:${cols};--rows:${Math.ceil(n / cols)}`, 'aria-label': t('programs') },
          state.programs.map(tile),
        )
      : h('p', null, t('noPrograms')),
  );
}

async function refreshSparklines() {
  await Promise.all(state.programs.filter((p) => p.kpis[0]).map((p) => loadSparkline(p.id, p.kpis[0]).catch(() => {})));
  if (root) build();
}

export default {
  mount(el) {
    root = el;
    build();
    refreshSparklines();
    sparkTimer = setInterval(refreshSparklines, 600e3);
  },
  paint(what) {
    if (what.has('programs') || what.has('lang') || what.has('alerts')) {
      const had = tiles.size;
      build();
      if (!had && state.programs.length) refreshSparklines();
    } else if (what.has('samples')) {
      for (const p of state.programs) {
        const tl = tiles.get(p.id);
        if (tl) text(tl.last, lastLine(p));
      }
    }
  },
  unmount() {
    clearInterval(sparkTimer);
    root = null;
  },
};
