// views/alerts.js — Peringatan: the full list with filters (state, period,
// program: /api/v1/alerts?state=all&from=&to=&program=), live transitions,
// and an acknowledge button for operators.
import { ackButton, activeAlerts, escalatedMark } from '../alerts.js';
import { get, qs } from '../api.js';
import { fill, h } from '../dom.js';
import { dateTime, fromIsoDay, isoDay, num, signedPct, timeOrDate } from '../format.js';
import { t } from '../i18n.js';
import { isKiosk } from '../nav.js';
import { state } from '../state.js';
import { badge } from '../status.js';

const WALL_ALERTS = 15; // rows a room can read

let root = null;
let filter = { state: 'active', from: null, to: null, program: '' };
let list = null; // the last answer (state=all), or null: the live active set
let note = '';

function shown() {
  if (filter.state === 'active') {
    return [...state.alerts.values()]
      .filter((a) => a.state === 'firing' && (!filter.program || a.program === filter.program))
      .sort((a, b) => b.fired_at - a.fired_at);
  }
  // Live transitions update the answered list in place.
  return (list || []).map((a) => state.alerts.get(a.id) || a);
}

async function fetchAll() {
  const from = filter.from ? fromIsoDay(filter.from) : Date.now() - 7 * 86400e3;
  const to = filter.to ? fromIsoDay(filter.to, true) : Date.now();
  const r = await get(`/api/v1/alerts?${qs({ state: 'all', from, to, program: filter.program })}`);
  list = r.alerts.slice(0, 500);
  build();
}

function build() {
  // The wall shows the firing alerts, worst first, without the filters.
  const wall = isKiosk();
  const all = wall ? activeAlerts(state.alerts) : shown();
  const rows = wall ? all.slice(0, WALL_ALERTS) : all;
  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: (e) => {
        e.preventDefault();
        const f = new FormData(e.target);
        filter = { state: f.get('state'), from: f.get('from'), to: f.get('to'), program: f.get('program') };
        if (filter.state === 'all') fetchAll().catch((err) => (note = t('error', { e: err.message })));
        else build();
      },
    },
    h(
      'label',
      null,
      t('state'),
      ' ',
      h(
        'select',
        { name: 'state' },
        h('option', { value: 'active', selected: filter.state === 'active' }, t('active')),
        h('option', { value: 'all', selected: filter.state === 'all' }, t('all')),
      ),
    ),
    h('label', null, t('from'), ' ', h('input', { type: 'date', name: 'from', value: filter.from || isoDay(Date.now() - 7 * 86400e3) })),
    h('label', null, t('to'), ' ', h('input', { type: 'date', name: 'to', value: filter.to || isoDay(Date.now()) })),
    h(
      'label',
      null,
      t('program'),
      ' ',
      h(
        'select',
        { name: 'program' },
        h('option', { value: '' }, t('all')),
        state.programs.map((p) => h('option', { value: p.id, selected: p.id === filter.program }, p.name)),
      ),
    ),
    h('button', { type: 'submit' }, t('show')),
  );
  const report = (msg) => {
    note = msg;
    build();
  };
  fill(
    root,
    h('h1', null, t('alerts')),
    wall ? null : form,
    note ? h('p', { class: 'note', role: 'status' }, note) : null,
    rows.length
      ? h(
          'table',
          { class: 'grid alerts', style: `--n:${rows.length + 1}` },
          h('caption', { class: 'sr-only' }, t('alerts')),
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              (wall
                ? ['severity', 'message', 'firedAt']
                : ['severity', 'message', 'program', 'value', 'deviation', 'firedAt', 'resolvedAt', 'state', 'ack']
              ).map((c) => h('th', { scope: 'col' }, t(c))),
            ),
          ),
          h(
            'tbody',
            null,
            rows.map((a) =>
              h(
                'tr',
                { class: a.state === 'firing' ? `firing ${a.severity}` : null, 'data-alert': a.id },
                h('td', null, badge(a.severity)),
                h('th', { scope: 'row' }, a.message || a.rule, a.escalated_at ? [' ', escalatedMark(a, wall)] : null),
                wall ? null : h('td', null, [a.program, a.unit].filter(Boolean).join(' / ')),
                // On the wall the message (which names value and deviation) gets the width.
                wall ? null : h('td', { class: 'num' }, num(a.value)),
                wall ? null : h('td', { class: 'num' }, signedPct(a.deviation)),
                h('td', null, wall ? timeOrDate(a.fired_at) : dateTime(a.fired_at)),
                wall ? null : h('td', null, a.resolved_at ? dateTime(a.resolved_at) : '–'),
                wall ? null : h('td', null, a.state === 'firing' ? t('firing') : t('resolved')),
                wall ? null : h('td', null, ackButton(a, report, true)),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, t('noAlerts')),
    all.length > rows.length ? h('p', { class: 'muted more' }, t('more', { n: num(all.length - rows.length) })) : null,
  );
}

export default {
  mount(el) {
    root = el;
    note = '';
    if (filter.state === 'all') fetchAll().catch(() => build());
    build();
  },
  paint(what) {
    // Not while a note is being typed (a redraw would lose it).
    if (document.activeElement?.matches('input.ack-note') && root.contains(document.activeElement)) return;
    if (what.has('alerts') || what.has('lang') || what.has('programs')) build();
  },
  unmount() {
    root = null;
  },
};
