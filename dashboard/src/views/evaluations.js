// views/evaluations.js — Evaluasi (CONTRACT §7, any pantaud): the frozen
// evaluations, newest as_of first; #evaluasi/<id> shows one as a page that
// prints to A4 (report.js's page for its `report`, a regions table for a
// hub's `regions`); an admin creates one (name, as_of optional: now).
import { ApiError, get, post } from '../api.js';
import { fill, h } from '../dom.js';
import { dateTime, isoLocal, num, pct, rfc3339 } from '../format.js';
import { t } from '../i18n.js';
import { state } from '../state.js';
import { badge } from '../status.js';
import { body as reportBody, table } from './report.js';

const DIMS = ['governance', 'branding', 'economy', 'living', 'society', 'environment'];
let root = null;
let evalId = null;
let list = null; // [{id, name, as_of, created_at, created_by}]
let one = null; // EVALUATION
let error = '';
let note = '';
let pending = false;

// POST is for the admin role: a signed-in admin or an admin's token.
const canCreate = () => (state.me?.user?.role || state.me?.role) === 'admin';

async function loadList() {
  try {
    list = (await get('/api/v1/evaluations')).evaluations;
    error = '';
  } catch (e) {
    error = t('error', { e: e.message });
  }
  build();
}

async function loadOne() {
  const id = evalId;
  try {
    const r = await get(`/api/v1/evaluations/${encodeURIComponent(id)}`);
    if (id !== evalId) return;
    one = r.evaluation;
    error = '';
  } catch (e) {
    if (id !== evalId) return;
    error = e instanceof ApiError && e.status === 404 ? t('evalNotFound') : t('error', { e: e.message });
  }
  build();
}

async function create(ev) {
  ev.preventDefault();
  if (pending) return;
  const f = new FormData(ev.target);
  const name = String(f.get('name') || '').trim();
  const local = String(f.get('as_of') || '');
  const body = { name };
  if (local) body.as_of = Date.parse(rfc3339(local));
  if (body.as_of > Date.now()) {
    note = t('evalFuture');
    return build();
  }
  pending = true;
  note = '';
  build();
  try {
    const r = await post('/api/v1/evaluations', body);
    note = t('evalCreated', { name: r.evaluation.name });
    pending = false;
    await loadList();
  } catch (e) {
    pending = false;
    note = t('error', { e: e.message });
    build();
  }
}

function form() {
  return h(
    'form',
    { class: 'filters no-print eval-form', onsubmit: create, 'aria-label': t('newEvaluation') },
    h('h2', null, t('newEvaluation')),
    h('label', null, t('evalName'), ' ', h('input', { name: 'name', required: true, maxlength: '200', size: '28' })),
    h('label', null, t('asOfOptional'), ' ', h('input', { name: 'as_of', type: 'datetime-local', max: isoLocal(Date.now()) })),
    h('button', { type: 'submit', class: 'on', disabled: pending }, pending ? t('creating') : t('create')),
  );
}

function listView() {
  return [
    h('h1', null, t('evaluations')),
    canCreate() ? form() : null,
    note ? h('p', { class: 'note', role: 'status' }, note) : null,
    error ? h('p', { class: 'note' }, error) : null,
    list === null
      ? h('p', { class: 'muted' }, t('loading'))
      : list.length
        ? table(
            [t('evalName'), t('asOf'), t('createdAt'), t('createdBy')],
            list.map((e) =>
              h(
                'tr',
                { 'data-eval': e.id },
                h('th', { scope: 'row' }, h('a', { href: `#evaluasi/${encodeURIComponent(e.id)}` }, e.name)),
                h('td', null, dateTime(e.as_of)),
                h('td', null, dateTime(e.created_at)),
                h('td', null, e.created_by || '–'),
              ),
            ),
            'evaluations',
          )
        : h('p', { class: 'muted' }, t('noEvaluations')),
  ];
}

function regionsTable(regions) {
  return table(
    [
      t('evalName'),
      t('code'),
      t('province'),
      ...DIMS.map((d) => h('abbr', { title: t(d) }, t(`short_${d}`))),
      t('overall'),
      t('health'),
      t('alertsFiring'),
      t('regionLastSeen'),
    ],
    regions.map((r) =>
      h(
        'tr',
        { 'data-region': r.id },
        h('th', { scope: 'row' }, r.name),
        h('td', null, r.code || '–'),
        h('td', null, r.province || '–'),
        DIMS.map((d) => h('td', { class: 'num' }, pct((r.dimensions || []).find((x) => x.id === d)?.progress ?? null))),
        h('td', { class: 'num' }, pct(r.progress)),
        h('td', null, r.last_seen === null ? t('notHeard') : badge(r.health || 'no_data')),
        h('td', { class: 'num' }, num(r.alerts_firing || 0)),
        h('td', null, r.last_seen === null ? '–' : `${dateTime(r.last_seen)}${r.stale ? ` ${t('regionStale')}` : ''}`),
      ),
    ),
    'eval-regions',
  );
}

function pageView() {
  const back = h(
    'div',
    { class: 'filters no-print' },
    h('a', { href: '#evaluasi', class: 'back' }, t('backToEvaluations')),
    h('button', { type: 'button', onclick: () => window.print(), disabled: !one }, t('print')),
  );
  if (error) return [back, h('p', { class: 'note' }, error)];
  if (!one) return [back, h('p', { class: 'muted' }, t('loading'))];
  const e = one;
  return [
    back,
    h(
      'article',
      { class: 'report evaluation' },
      h(
        'header',
        null,
        h('h1', null, e.name),
        h('p', null, t('evalMeta', { asOf: dateTime(e.as_of), at: dateTime(e.created_at), by: e.created_by || '–' })),
      ),
      e.regions ? [h('h2', null, t('evalRegions')), regionsTable(e.regions)] : null,
      !e.regions && !e.report ? h('p', { class: 'muted' }, t('evalEmpty')) : null,
    ),
    e.report ? reportBody(e.report) : null,
  ];
}

function build() {
  if (!root) return;
  fill(root, evalId ? pageView() : listView());
}

export default {
  mount(el, arg) {
    root = el;
    evalId = arg ? decodeURIComponent(arg) : null;
    one = null;
    error = '';
    note = '';
    build();
    if (evalId) loadOne();
    else loadList();
  },
  paint(what) {
    if (what.has('lang') || what.has('me')) build();
  },
  unmount() {
    root = null;
  },
};
