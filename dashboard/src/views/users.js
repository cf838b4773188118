// views/users.js — Pengguna (admins, CONTRACT §8): the accounts (name,
// role, programs) from GET /api/v1/users; add one (POST /api/v1/users, the
// programs ticked from the catalog's list, none ticked: not limited);
// remove one after a confirmation in its row (DELETE /api/v1/users/<name>);
// reset a password (POST /api/v1/users/<name>/password). Every change ends
// with the list read again.
import { ApiError, del, get, post } from '../api.js';
import { fill, h } from '../dom.js';
import { getLang, t } from '../i18n.js';
import { state } from '../state.js';

let root = null;
let list = null; // [USER] or null while loading
let note = ''; // the last change's outcome
let noteBad = false;
let confirming = ''; // the name whose removal waits for "Ya, hapus"
let resetting = ''; // the name whose new password is being typed
let busy = false;
let addEl = null; // the add form, kept across redraws (what was typed stays)
let addLang = '';

const ERRS = ['exists', 'weak_password', 'bad_parameter', 'unknown_program', 'not_found', 'busy', 'forbidden'];
function failure(e) {
  if (e instanceof ApiError && ERRS.includes(e.code)) return t(`err_${e.code}`);
  return t('error', { e: e.message });
}

async function load() {
  try {
    list = (await get('/api/v1/users')).users;
  } catch (e) {
    list = [];
    say(failure(e), true);
    return;
  }
  if (root) build();
}

function say(msg, bad) {
  note = msg;
  noteBad = bad;
  if (root) build();
}

// Runs one change; then the list again.
async function change(fn, ok) {
  if (busy) return;
  busy = true;
  try {
    await fn();
    confirming = '';
    resetting = '';
    note = ok;
    noteBad = false;
  } catch (e) {
    note = failure(e);
    noteBad = true;
  }
  busy = false;
  await load();
}

const programName = (id) => state.programs.find((p) => p.id === id)?.name || id;

function actions(u) {
  const path = `/api/v1/users/${encodeURIComponent(u.name)}`;
  if (confirming === u.name) {
    return h(
      'div',
      { class: 'row-actions', role: 'group' },
      h('span', { class: 'bad-t' }, t('confirmRemove', { name: u.name })),
      h(
        'button',
        {
          type: 'button',
          class: 'danger',
          'data-confirm': u.name,
          onclick: () => change(() => del(path), t('userRemoved', { name: u.name })),
        },
        t('yesRemove'),
      ),
      h('button', { type: 'button', onclick: () => ((confirming = ''), build()) }, t('cancel')),
    );
  }
  if (resetting === u.name) {
    return h(
      'form',
      {
        class: 'row-actions',
        onsubmit: (e) => {
          e.preventDefault();
          const password = String(new FormData(e.target).get('password'));
          change(() => post(`${path}/password`, { password }), t('passwordSet', { name: u.name }));
        },
      },
      h(
        'label',
        null,
        h('span', { class: 'sr-only' }, t('newPassword')),
        h('input', {
          name: 'password',
          type: 'password',
          autocomplete: 'new-password',
          minlength: '10',
          required: true,
          placeholder: t('newPassword'),
        }),
      ),
      h('button', { type: 'submit' }, t('save')),
      h('button', { type: 'button', onclick: () => ((resetting = ''), build()) }, t('cancel')),
    );
  }
  return h(
    'div',
    { class: 'row-actions' },
    h(
      'button',
      {
        type: 'button',
        'data-reset': u.name,
        onclick: () => ((resetting = u.name), (confirming = ''), build(), root.querySelector('input[name=password]')?.focus()),
      },
      t('resetPassword'),
    ),
    h(
      'button',
      { type: 'button', class: 'danger', 'data-remove': u.name, onclick: () => ((confirming = u.name), (resetting = ''), build()) },
      t('remove'),
    ),
  );
}

function addForm() {
  return h(
    'form',
    {
      class: 'entry add-user',
      onsubmit: (e) => {
        e.preventDefault();
        const f = new FormData(e.target);
        const name = String(f.get('name')).trim();
        const programs = f.getAll('programs').map(String);
        const body = { name, role: f.get('role'), password: String(f.get('password')), programs: programs.length ? programs : null };
        const form = e.target;
        change(() => post('/api/v1/users', body), t('userAdded', { name })).then(() => {
          if (!noteBad) form.reset();
        });
      },
    },
    h('h2', null, t('addUser')),
    h(
      'label',
      null,
      t('userName'),
      h('input', { name: 'name', required: true, pattern: '[a-z0-9][a-z0-9_\\-]{0,63}', autocomplete: 'off', autocapitalize: 'none' }),
    ),
    h(
      'label',
      null,
      t('role'),
      h(
        'select',
        { name: 'role' },
        ['viewer', 'operator', 'admin'].map((r) => h('option', { value: r, selected: r === 'operator' }, t(`role_${r}`))),
      ),
    ),
    h(
      'label',
      null,
      t('password'),
      h('input', { name: 'password', type: 'password', autocomplete: 'new-password', minlength: '10', required: true }),
    ),
    h(
      'fieldset',
      { class: 'programs-pick' },
      h('legend', null, t('programs'), ' ', h('span', { class: 'muted small' }, `(${t('programsHint')})`)),
      state.programs.map((p) => h('label', null, h('input', { type: 'checkbox', name: 'programs', value: p.id }), ' ', p.name)),
    ),
    h('button', { type: 'submit' }, t('add')),
  );
}

function build() {
  if (!root) return;
  const rows = list || [];
  if (!addEl || addLang !== getLang()) {
    addEl = addForm();
    addLang = getLang();
  }
  fill(
    root,
    h('h1', null, t('users')),
    note ? h('p', { class: noteBad ? 'note bad-note' : 'note', role: noteBad ? 'alert' : 'status' }, note) : null,
    h(
      'div',
      { class: 'cols users-cols' },
      h(
        'section',
        null,
        list === null
          ? h('p', { class: 'muted' }, t('loading'))
          : h(
              'table',
              { class: 'grid users' },
              h('caption', { class: 'sr-only' }, t('users')),
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  ['userName', 'role', 'programs', 'actions'].map((c) => h('th', { scope: 'col' }, t(c))),
                ),
              ),
              h(
                'tbody',
                null,
                rows.map((u) =>
                  h(
                    'tr',
                    { 'data-user': u.name },
                    h('th', { scope: 'row' }, u.name),
                    h('td', null, t(`role_${u.role}`)),
                    h('td', null, u.programs ? u.programs.map(programName).join(', ') : h('span', { class: 'muted' }, t('allPrograms'))),
                    h('td', null, actions(u)),
                  ),
                ),
              ),
            ),
      ),
      addEl,
    ),
  );
}

export default {
  mount(el) {
    root = el;
    list = null;
    addEl = null;
    note = '';
    confirming = '';
    resetting = '';
    build();
    load();
  },
  paint(what) {
    // Not while typing (a password field would lose what was typed).
    // The catalog's list changed: the add form's boxes with it.
    if (what.has('programs') && addEl?.querySelectorAll('input[name=programs]').length !== state.programs.length) addEl = null;
    if ((what.has('lang') || what.has('programs')) && !root.contains(document.activeElement)) build();
  },
  unmount() {
    root = null;
  },
};
