// people.js — who uses the page (CONTRACT §8): GET /api/v1/me, the sign-in
// form (shown when the page has no working credential: neither a session
// nor a token), the header's name, role and sign-out, and the way back to
// the form when a session ends (a 401 on any call, or the websocket
// refused: live.js asks /me then). The form replaces the dashboard on
// screen (html.signed-out hides header, view and ticker) without a reload,
// so a signed-out page never loops.
import { ApiError, get, onUnauthorized, post } from './api.js';
import { fill, h, text } from './dom.js';
import { getLang, t } from './i18n.js';
import { VIEWS } from './nav.js';
import { invalidate } from './render.js';
import { state } from './state.js';

// state.me: {user: USER|null, role} as /api/v1/me gives it; null when not
// signed in (or not known yet).
state.me = null;

// 'in' (state.me set), 'out' (401: the form is needed) or 'unknown' (no
// answer: pantaud is away; the websocket's retries will tell).
export async function whoAmI() {
  try {
    state.me = await get('/api/v1/me');
    invalidate('me');
    return 'in';
  } catch (e) {
    return e instanceof ApiError && e.status === 401 ? 'out' : 'unknown';
  }
}

export const signedIn = () => Boolean(state.me?.user);
// The admin pages (#pengguna, #audit) are in the navigation for a signed-in
// admin (a token's page keeps today's views: a wall has no use for them).
export const isAdmin = () => state.me?.user?.role === 'admin';

// ---- the sign-in form ----

const ERRORS = { bad_credentials: 'signinBad', too_many_attempts: 'signinLocked', busy: 'signinBusy' };
let box = null; // <section class="signin">
let reason = ''; // an i18n key: why the form is shown ('' at first)
let failure = ''; // an i18n key or a server's message
let pending = false;
let then = null; // called once signed in
let typedName = '';
let onLang = null;

function errorText(e) {
  if (e instanceof ApiError && ERRORS[e.code]) return t(ERRORS[e.code]);
  if (e instanceof ApiError && e.status === 503) return t('signinBusy');
  return t('error', { e: e.message });
}

async function submit(ev) {
  ev.preventDefault();
  if (pending) return;
  const f = new FormData(ev.target);
  typedName = String(f.get('user') || '').trim();
  pending = true;
  failure = '';
  render();
  try {
    const r = await post('/api/v1/login', { user: typedName, password: String(f.get('password') || '') });
    state.me = { user: r.user, role: r.user.role };
    pending = false;
    hideSignIn();
    invalidate('me');
    then?.();
  } catch (e) {
    pending = false;
    failure = errorText(e);
    render();
    box.querySelector('input[name=password]')?.focus();
  }
}

function render() {
  if (!box) return;
  fill(
    box,
    h(
      'form',
      { class: 'signin-card', onsubmit: submit, 'aria-labelledby': 'signin-title' },
      h('div', { class: 'signin-brand' }, h('span', { class: 'logo' }, 'pantau'), h('span', { class: 'muted' }, t('app'))),
      h('h1', { id: 'signin-title' }, t('signinTitle')),
      reason ? h('p', { class: 'note', role: 'status' }, t(reason)) : null,
      h(
        'label',
        null,
        t('userName'),
        h('input', {
          name: 'user',
          autocomplete: 'username',
          autocapitalize: 'none',
          spellcheck: 'false',
          required: true,
          maxlength: '64',
          value: typedName,
        }),
      ),
      h('label', null, t('password'), h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
      failure ? h('p', { class: 'signin-error', role: 'alert' }, failure) : null,
      h('button', { type: 'submit', class: 'on', disabled: pending }, pending ? t('signingIn') : t('signin')),
      h(
        'button',
        { type: 'button', class: 'link lang', lang: getLang() === 'id' ? 'en' : 'id', onclick: () => onLang?.() },
        t('switchLang'),
      ),
    ),
  );
}

// next: called once signed in; switchLang: the form's language switch.
export function signInHooks(next, switchLang) {
  then = next;
  onLang = switchLang;
}

// Shows the form; why: an i18n key ('' at first). Idempotent (a second 401
// while it is shown changes nothing).
export function showSignIn(why) {
  const shown = document.documentElement.classList.contains('signed-out');
  if (shown && box) return;
  reason = why || '';
  failure = '';
  state.me = null;
  document.documentElement.classList.add('signed-out');
  if (!box) {
    box = h('section', { class: 'signin', 'aria-label': t('signinTitle') });
    document.body.append(box);
  }
  box.hidden = false;
  render();
  box.querySelector(typedName ? 'input[name=password]' : 'input[name=user]')?.focus();
}

function hideSignIn() {
  document.documentElement.classList.remove('signed-out');
  if (box) {
    box.hidden = true;
    fill(box); // the password field goes with it
  }
}

// A 401 on any call once the dashboard runs: the session has ended.
export function watchSession(ended) {
  onUnauthorized(() => {
    if (document.documentElement.classList.contains('signed-out')) return;
    ended();
    showSignIn('sessionEnded');
  });
}

export async function signOut(ended) {
  try {
    await post('/api/v1/logout', {});
  } catch {
    /* already ended: the form is what we want either way */
  }
  ended();
  typedName = '';
  showSignIn('signedOut');
}

// ---- the header's user line: name, role, the admin pages, sign-out ----

export function userBox(onSignOut) {
  return h(
    'div',
    { class: 'who', hidden: true },
    h('span', { class: 'who-name' }),
    h('span', { class: 'who-role muted' }),
    // Not a <nav>: the view's navigation stays the page's first.
    h('div', { class: 'who-nav', role: 'navigation' }),
    h('button', { type: 'button', class: 'link signout', onclick: onSignOut }),
  );
}

// current: the view shown (its link is marked).
export function renderUserBox(el, current) {
  const u = state.me?.user;
  el.hidden = !u;
  if (!u) return;
  text(el.querySelector('.who-name'), u.name);
  text(el.querySelector('.who-role'), t(`role_${u.role}`));
  const nav = el.querySelector('.who-nav');
  nav.setAttribute('aria-label', t('adminNav'));
  fill(
    nav,
    VIEWS.filter((v) => v.admin && isAdmin()).map((v) =>
      h('a', { href: `#${v.id}`, class: current === v.id ? 'on' : null, 'aria-current': current === v.id ? 'page' : null }, t(v.label)),
    ),
  );
  text(el.querySelector('.signout'), t('signout'));
}

// The form follows the language switch.
export function paintSignIn(what) {
  if (what.has('lang') && box && !box.hidden) {
    const name = box.querySelector('input[name=user]');
    if (name) typedName = name.value;
    render();
  }
}
