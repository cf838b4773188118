// views/audit.js — Audit (admins, CONTRACT §8): the log newest first
// (GET /api/v1/audit?from=&to=&user=&action=, at most [people]
// audit_list_max events as pantaud answers) with its filters, and the
// chain's verification (GET /api/v1/audit/verify): intact with the number
// of events checked, or the first bad event's id, in red.
import { ApiError, get, qs } from '../api.js';
import { fill, h } from '../dom.js';
import { dateTime, fromIsoDay, isoDay, num } from '../format.js';
import { t } from '../i18n.js';

const ACTIONS = [
  'login',
  'login_failed',
  'logout',
  'ack',
  'ingest',
  'import',
  'reload',
  'evaluation',
  'user_add',
  'user_del',
  'user_passwd',
];
const WEEK = 7 * 86400e3;

let root = null;
let filter = { from: '', to: '', user: '', action: '' };
let events = null; // [EVENT] or null while loading
let verify = null; // {ok, events} | {ok:false, first_bad_id} | null while checking
let error = '';

function failure(e) {
  if (e instanceof ApiError && e.code === 'forbidden') return t('err_forbidden');
  return t('error', { e: e.message });
}

async function load() {
  events = null;
  error = '';
  build();
  const from = filter.from ? fromIsoDay(filter.from) : Date.now() - WEEK;
  const to = filter.to ? fromIsoDay(filter.to, true) : Date.now();
  try {
    events = (await get(`/api/v1/audit?${qs({ from, to, user: filter.user, action: filter.action })}`)).events;
  } catch (e) {
    events = [];
    error = failure(e);
  }
  if (root) build();
}

async function check() {
  verify = null;
  build();
  try {
    verify = await get('/api/v1/audit/verify');
  } catch (e) {
    verify = { error: failure(e) };
  }
  if (root) build();
}

function chain() {
  if (!verify) return h('p', { class: 'chain muted', role: 'status' }, t('chainChecking'));
  if (verify.error) return h('p', { class: 'chain note bad-note', role: 'status' }, verify.error);
  return verify.ok
    ? h('p', { class: 'chain chain-ok', role: 'status', 'data-ok': 'true' }, t('chainOk', { n: num(verify.events) }))
    : h('p', { class: 'chain chain-bad', role: 'alert', 'data-ok': 'false' }, t('chainBad', { id: verify.first_bad_id }));
}

function form() {
  return h(
    'form',
    {
      class: 'filters',
      onsubmit: (e) => {
        e.preventDefault();
        const f = new FormData(e.target);
        filter = { from: f.get('from'), to: f.get('to'), user: String(f.get('user')).trim(), action: f.get('action') };
        load();
        check();
      },
    },
    h('label', null, t('from'), ' ', h('input', { type: 'date', name: 'from', value: filter.from || isoDay(Date.now() - WEEK) })),
    h('label', null, t('to'), ' ', h('input', { type: 'date', name: 'to', value: filter.to || isoDay(Date.now()) })),
    h(
      'label',
      null,
      t('user'),
      ' ',
      h('input', {
        name: 'user',
        value: filter.user,
        pattern: '[a-z0-9][a-z0-9_\\-]{0,63}',
        placeholder: t('anyone'),
        autocapitalize: 'none',
        size: '14',
      }),
    ),
    h(
      'label',
      null,
      t('action'),
      ' ',
      h(
        'select',
        { name: 'action' },
        h('option', { value: '' }, t('all')),
        ACTIONS.map((a) => h('option', { value: a, selected: a === filter.action }, t(`act_${a}`))),
      ),
    ),
    h('button', { type: 'submit' }, t('show')),
  );
}

// The acting user, else the role of a token, else the command line.
function who(e) {
  if (e.user) return e.user;
  if (e.role) return h('span', { class: 'muted' }, t('viaToken', { role: t(`role_${e.role}`) }));
  return h('span', { class: 'muted' }, e.ip ? '–' : t('cli'));
}

function table() {
  if (events === null) return h('p', { class: 'muted' }, t('loading'));
  if (!events.length) return h('p', { class: 'muted' }, t('noEvents'));
  return [
    h('p', { class: 'muted small' }, t('eventsN', { n: num(events.length) })),
    h(
      'div',
      { class: 'scroll-x' },
      h(
        'table',
        { class: 'grid audit' },
        h('caption', { class: 'sr-only' }, t('auditTitle')),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ['#', t('time'), t('user'), t('action'), t('targetCol'), t('detail'), t('ip')].map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        h(
          'tbody',
          null,
          events.map((e) =>
            h(
              'tr',
              { 'data-event': e.id, 'data-action': e.action, class: e.action === 'login_failed' ? 'warn-row' : null },
              h('td', { class: 'num muted' }, String(e.id)),
              h('td', { class: 'nowrap' }, dateTime(e.ts)),
              h('td', null, who(e)),
              h('th', { scope: 'row' }, t(`act_${e.action}`)),
              h('td', { class: 'wrap' }, e.target ?? '–'),
              h('td', { class: 'wrap mono small' }, e.detail ? JSON.stringify(e.detail) : '–'),
              h('td', { class: 'muted small' }, e.ip ?? '–'),
            ),
          ),
        ),
      ),
    ),
  ];
}

function build() {
  if (!root) return;
  fill(
    root,
    h('h1', null, t('auditTitle')),
    chain(),
    form(),
    error ? h('p', { class: 'note bad-note', role: 'alert' }, error) : null,
    table(),
  );
}

export default {
  mount(el) {
    root = el;
    load();
    check();
  },
  paint(what) {
    if (what.has('lang') && !root.contains(document.activeElement)) build();
  },
  unmount() {
    root = null;
  },
};
