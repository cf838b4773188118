// views/report.js — Laporan: the evaluation report (CONTRACT §5.4) of a
// chosen period, as a page that prints to A4 (print stylesheet): regency,
// period, dimensions, programs with every KPI at the period's start and end,
// and the alerts of the period.
import { get, qs } from '../api.js';
import { fill, h } from '../dom.js';
import { date, dateTime, fromIsoDay, isoDay, num, pct, withUnit } from '../format.js';
import { t } from '../i18n.js';
import { badge } from '../status.js';

let root = null;
let range = null;
let report = null;
let error = '';

async function load() {
  report = null;
  error = '';
  build();
  try {
    report = await get(`/api/v1/report?${qs({ from: fromIsoDay(range.from), to: fromIsoDay(range.to, true) })}`);
  } catch (e) {
    error = t('error', { e: e.message });
  }
  if (root) build();
}

export function table(cols, rows, cls) {
  return h(
    'table',
    { class: `grid ${cls || ''}` },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        cols.map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    h('tbody', null, rows),
  );
}

export function body(r) {
  return h(
    'article',
    { class: 'report' },
    h(
      'header',
      null,
      h('h1', null, `${t('reportTitle')} — ${r.regency?.name || ''}`),
      h('p', null, t('periodRange', { from: date(r.from), to: date(r.to) })),
      h('p', { class: 'muted' }, t('generatedAt', { t: dateTime(r.generated_at) })),
    ),
    h('h2', null, t('dimensions')),
    table(
      [t('dimensions'), t('programs'), t('progress')],
      r.dimensions.map((d) =>
        h(
          'tr',
          null,
          h('th', { scope: 'row' }, `${d.name} (${t(d.id)})`),
          h('td', null, t('dimPrograms', { running: num(d.running), programs: num(d.programs) })),
          h('td', { class: 'num' }, pct(d.progress)),
        ),
      ),
    ),
    h('h2', null, t('programs')),
    r.programs.map((p) =>
      h(
        'section',
        { class: 'report-program' },
        h(
          'h3',
          null,
          p.name,
          ' ',
          badge(p.health || 'no_data'),
          h(
            'span',
            { class: 'muted small' },
            ` ${[p.agency, t(p.dimension)].filter(Boolean).join(' · ')} · ${t('progress')} ${pct(p.progress)}`,
          ),
        ),
        table(
          [t('kpi'), t('valueAtFrom'), t('valueAtTo'), t('target'), t('progress'), t('deadline'), t('status')],
          p.kpis.map((k) =>
            h(
              'tr',
              null,
              h('th', { scope: 'row' }, k.name),
              h('td', { class: 'num' }, withUnit(k.value_at_from, k.display_unit)),
              h('td', { class: 'num' }, withUnit(k.value_at_to, k.display_unit)),
              h('td', { class: 'num' }, withUnit(k.target, k.display_unit)),
              h('td', { class: 'num' }, pct(k.progress)),
              h('td', null, k.deadline ? date(k.deadline) : '–'),
              h('td', null, badge(k.status)),
            ),
          ),
        ),
      ),
    ),
    h('h2', null, t('alerts')),
    r.alerts.length
      ? table(
          [t('severity'), t('message'), t('firedAt'), t('resolvedAt')],
          r.alerts.map((a) =>
            h(
              'tr',
              null,
              h('td', null, badge(a.severity)),
              h('th', { scope: 'row' }, a.message || a.rule),
              h('td', null, dateTime(a.fired_at)),
              h('td', null, a.resolved_at ? dateTime(a.resolved_at) : '–'),
            ),
          ),
        )
      : h('p', { class: 'muted' }, t('noAlerts')),
  );
}

function build() {
  fill(
    root,
    h(
      'form',
      {
        class: 'filters no-print',
        onsubmit: (e) => {
          e.preventDefault();
          const f = new FormData(e.target);
          range = { from: f.get('from'), to: f.get('to') };
          load();
        },
      },
      h('label', null, t('from'), ' ', h('input', { type: 'date', name: 'from', value: range.from, required: true })),
      h('label', null, t('to'), ' ', h('input', { type: 'date', name: 'to', value: range.to, required: true })),
      h('button', { type: 'submit' }, t('generate')),
      h('button', { type: 'button', onclick: () => window.print(), disabled: !report }, t('print')),
    ),
    error ? h('p', { class: 'note' }, error) : null,
    report ? body(report) : error ? null : h('p', { class: 'muted' }, t('loading')),
  );
}

export default {
  // arg: "YYYY-MM-DD..YYYY-MM-DD" (#laporan/2026-11-01..2026-11-30)
  mount(el, arg) {
    root = el;
    const m = /^(\d{4}-\d\d-\d\d)\.\.(\d{4}-\d\d-\d\d)$/.exec(arg || '');
    if (m) range = { from: m[1], to: m[2] };
    if (!range) range = { from: isoDay(Date.now() - 29 * 86400e3), to: isoDay(Date.now()) };
    build();
    load();
  },
  paint(what) {
    if (what.has('lang')) build();
  },
  unmount() {
    root = null;
  },
};
