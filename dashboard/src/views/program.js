// views/program.js — one program: each KPI's current, target, baseline,
// deadline, expected vs actual, projected value, ETA and status; a history
// chart of the chosen KPI (uPlot, zoom/pan); its units and alerts.
import { createChart } from '../chart.js';
import { fill, h } from '../dom.js';
import { date, dateTime, pct, timeOrDate, withUnit } from '../format.js';
import { t } from '../i18n.js';
import { go } from '../nav.js';
import { state } from '../state.js';
import { badge } from '../status.js';

let root = null;
let chart = null;
let programId = null;
let kpiIndex = 0;
const RANGES = [
  ['r1d', 86400e3],
  ['r7d', 7 * 86400e3],
  ['r30d', 30 * 86400e3],
  ['r1y', 365 * 86400e3],
];
let rangeMs = 30 * 86400e3;

function kpiRow(p, k, i) {
  return h(
    'tr',
    { class: i === kpiIndex ? 'sel' : null },
    h('th', { scope: 'row' }, h('button', { class: 'link', onclick: () => ((kpiIndex = i), build()) }, k.name)),
    h('td', { class: 'num' }, withUnit(k.current, k.display_unit)),
    h('td', { class: 'num' }, withUnit(k.target, k.display_unit)),
    h('td', { class: 'num' }, withUnit(k.baseline, k.display_unit)),
    h('td', { class: 'num' }, withUnit(k.expected, k.display_unit)),
    h('td', { class: 'num' }, withUnit(k.projected, k.display_unit)),
    h('td', { class: 'num' }, pct(k.progress)),
    h('td', null, k.deadline ? date(k.deadline) : '–'),
    h('td', null, k.eta ? date(k.eta) : '–'),
    h('td', null, badge(k.status)),
  );
}

function build() {
  chart?.destroy();
  chart = null;
  const p = state.programs.find((x) => x.id === programId) || state.programs[0];
  if (!p) {
    fill(root, h('p', null, t('noPrograms')));
    return;
  }
  programId = p.id;
  const k = p.kpis[Math.min(kpiIndex, p.kpis.length - 1)];
  const units = [...state.units.values()].filter((u) => u.program === p.id);
  const alerts = [...state.alerts.values()].filter((a) => a.program === p.id);
  const chartBox = h('div', { class: 'chart', id: 'chart' });
  fill(
    root,
    h(
      'div',
      { class: 'prog-head' },
      h(
        'label',
        null,
        h('span', { class: 'sr-only' }, t('chooseProgram')),
        h(
          'select',
          { onchange: (e) => go('program', e.target.value), 'aria-label': t('chooseProgram') },
          state.programs.map((x) => h('option', { value: x.id, selected: x.id === p.id }, x.name)),
        ),
      ),
      h('h1', null, p.name),
      badge(p.health || 'no_data'),
      h('span', { class: 'muted' }, [p.agency, t(p.dimension), t(p.status)].filter(Boolean).join(' · ')),
    ),
    p.description ? h('p', { class: 'desc' }, p.description) : null,
    h(
      'div',
      { class: 'scroll-x' },
      h(
        'table',
        { class: 'grid kpis' },
        h('caption', { class: 'sr-only' }, t('kpi')),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ['kpi', 'current', 'target', 'baseline', 'expected', 'projected', 'progress', 'deadline', 'eta', 'status'].map((c) =>
              h('th', { scope: 'col' }, t(c)),
            ),
          ),
        ),
        h(
          'tbody',
          null,
          p.kpis.map((kk, i) => kpiRow(p, kk, i)),
        ),
      ),
    ),
    k
      ? h(
          'section',
          { class: 'chart-box' },
          h(
            'div',
            { class: 'chart-bar' },
            h('h2', null, t('history', { kpi: k.name })),
            h(
              'div',
              { class: 'btns', role: 'group', 'aria-label': t('range') },
              RANGES.map(([key, ms]) =>
                h(
                  'button',
                  { class: ms === rangeMs ? 'on' : null, 'aria-pressed': String(ms === rangeMs), onclick: () => ((rangeMs = ms), build()) },
                  t(key),
                ),
              ),
              h('button', { 'aria-label': t('panLeft'), onclick: () => chart?.pan(-0.5) }, '◀'),
              h('button', { 'aria-label': t('panRight'), onclick: () => chart?.pan(0.5) }, '▶'),
            ),
            h('span', { class: 'muted small' }, t('zoomHint')),
          ),
          chartBox,
        )
      : null,
    h(
      'div',
      { class: 'cols' },
      h(
        'section',
        null,
        h('h2', null, t('units')),
        units.length
          ? h(
              'ul',
              { class: 'plain' },
              units.map((u) => h('li', null, badge(u.status), ` ${u.unit} · ${t('lastSeen').toLowerCase()} ${timeOrDate(u.last_seen)}`)),
            )
          : h('p', { class: 'muted' }, t('noUnits')),
      ),
      h(
        'section',
        null,
        h('h2', null, t('alerts')),
        alerts.length
          ? h(
              'ul',
              { class: 'plain' },
              alerts.map((a) => h('li', null, badge(a.severity), ` ${a.message} · ${dateTime(a.fired_at)}`)),
            )
          : h('p', { class: 'muted' }, t('noAlerts')),
      ),
    ),
  );
  if (k) {
    // ?points=N overrides the chart's N (its width in px); ?points=raw: every sample.
    const pp = new URLSearchParams(location.search).get('points');
    const points = pp === 'raw' ? 'raw' : Number(pp) || undefined;
    requestAnimationFrame(() => {
      if (root && chartBox.isConnected) chart = createChart(chartBox, p.id, k, { range: rangeMs, points });
    });
  }
}

export default {
  mount(el, arg) {
    root = el;
    if (arg !== programId) kpiIndex = 0;
    programId = arg;
    build();
  },
  paint(what) {
    // KPI figures change often; the chart is rebuilt only on a language change.
    if (what.has('lang')) build();
    else if (what.has('programs')) {
      const p = state.programs.find((x) => x.id === programId);
      const tbody = root.querySelector('table.kpis tbody');
      if (p && tbody) tbody.replaceChildren(...p.kpis.map((kk, i) => kpiRow(p, kk, i)));
    }
  },
  unmount() {
    chart?.destroy();
    chart = null;
    root = null;
  },
};
