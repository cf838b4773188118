// main.js — the dashboard's shell: header (regency, views, language switch,
// connection indicator, clock in WIB/WITA/WIT), the current view, the alerts
// ticker; URL parameters ?lang=en, ?kiosk=1 (wall mode: dark, large type,
// views rotate every ?rotate=SECONDS, default 20), ?points=N|raw (the
// Program chart's resolution); the view is the hash (#harga, #program/<id>).
// Without a working credential it shows people.js's sign-in form first.
import './style.css';
import './offline_app.js'; // the service worker and the offline entries' sender (CONTRACT §9)
import { labelCells, phoneMenu } from './phone.js';
import { fill, h, text } from './dom.js';
import { clock, longDate, timeOrDate, tzLabel } from './format.js';
import { getLang, setLang, t } from './i18n.js';
import { KIOSK_ROTATION, VIEWS, go, route } from './nav.js';
import { invalidate, onPaint } from './render.js';
import { loadAll, loadSeries, state } from './state.js';
import { pauseLive, resumeLive, startLive } from './live.js';
import { paintSignIn, renderUserBox, showSignIn, signInHooks, signOut, userBox, watchSession, whoAmI } from './people.js';
import { renderTicker } from './ticker.js';
import overview from './views/overview.js';
import program from './views/program.js';
import prices from './views/prices.js';
import units from './views/units.js';
import alerts from './views/alerts.js';
import input from './views/input.js';
import report from './views/report.js';
import users from './views/users.js';
import audit from './views/audit.js';
import regions from './views/regions.js';
import evaluations from './views/evaluations.js';
import { hasRegions, loadRegions } from './regions.js';

const MODULES = { ringkasan: overview, program, harga: prices, unit: units, peringatan: alerts, input, laporan: report };
// ---- people (CONTRACT §8): the admin pages ----
Object.assign(MODULES, { pengguna: users, audit });
// ---- federation (CONTRACT §7): a hub's regions, evaluations anywhere ----
Object.assign(MODULES, { wilayah: regions, evaluasi: evaluations });
const params = new URLSearchParams(location.search);
// Opened with ?access_token=: pantaud has set the HttpOnly cookie that
// authorizes everything after; the token leaves the address bar.
if (params.has('access_token')) {
  params.delete('access_token');
  const q = params.toString();
  history.replaceState(null, '', `${location.pathname}${q ? `?${q}` : ''}${location.hash}`);
}
const kiosk = params.get('kiosk') === '1';
const rotateS = Math.max(5, Number(params.get('rotate')) || 20);
setLang(params.get('lang') || 'id');
document.documentElement.classList.toggle('kiosk', kiosk);

const el = {};
let current = null; // {id, arg, mod}

function shell() {
  el.title = h('span', { class: 'regency' });
  el.nav = h('nav', { 'aria-label': t('nav') });
  el.lang = h('button', { class: 'lang', onclick: toggleLang });
  el.conn = h(
    'span',
    { class: 'conn', role: 'status', 'data-state': state.conn },
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    h('span', { class: 'conn-text' }),
  );
  el.stale = h('span', { class: 'stale-mark', hidden: true });
  el.clock = h('time', { class: 'clock' });
  el.date = h('span', { class: 'date' });
  el.main = h('main', { id: 'view' });
  el.ticker = h('aside', { class: 'ticker', 'aria-label': t('alerts') });
  el.who = userBox(() => signOut(pauseLive)); // people.js: name, role, sign-out
  document.body.append(
    h(
      'header',
      { class: 'top' },
      // The signed-in user's line (people.js) under the name: no wider a header.
      h('div', { class: 'brand-col' }, h('div', { class: 'brand' }, h('span', { class: 'logo' }, 'pantau'), el.title), el.who),
      el.nav,
      h('div', { class: 'status' }, el.stale, el.conn, el.lang, h('div', { class: 'when' }, el.clock, el.date)),
    ),
    el.main,
    el.ticker,
  );
}

function renderNav() {
  fill(
    el.nav,
    VIEWS.filter(
      (v) =>
        (!kiosk || KIOSK_ROTATION.includes(v.id) || v.id === current?.id) && !v.admin && (!v.hub || hasRegions() || v.id === current?.id),
    ).map((v) =>
      h(
        'a',
        { href: `#${v.id}`, class: current?.id === v.id ? 'on' : null, 'aria-current': current?.id === v.id ? 'page' : null },
        t(v.label),
      ),
    ),
  );
  el.nav.setAttribute('aria-label', t('nav'));
  el.ticker.setAttribute('aria-label', t('alerts'));
  text(el.lang, t('switchLang'));
  el.lang.setAttribute('aria-label', t('switchLangLabel'));
  el.lang.setAttribute('lang', getLang() === 'id' ? 'en' : 'id');
  text(el.title, state.regency?.name || '');
  renderUserBox(el.who, current?.id);
  document.title = `${state.regency?.name ? `${state.regency.name} — ` : ''}pantau`;
}

function renderConn() {
  el.conn.dataset.state = state.conn;
  text(
    el.conn.querySelector('.conn-text'),
    t(state.conn === 'live' ? 'connLive' : state.conn === 'connecting' ? 'connConnecting' : 'connLost'),
  );
  // Stale: the websocket is down (a live one is pinged every 10 s and
  // dropped when silent for 25 s; a quiet regency is not stale).
  const stale = state.conn === 'lost';
  el.stale.hidden = !stale;
  document.documentElement.classList.toggle('is-stale', stale);
  if (stale) text(el.stale, `⚠ ${t('stale', { t: timeOrDate(state.connSince) })}`);
}

function renderClock() {
  const now = Date.now();
  text(el.clock, `${clock(now)} ${tzLabel()}`);
  el.clock.setAttribute('aria-label', t('clockLabel', { tz: tzLabel() }));
  text(el.date, longDate(now));
}

const lastHash = {}; // view → the hash it was last shown with
function show() {
  const r = route();
  if (current && current.id === r.view && current.arg === r.arg) return;
  current?.mod.unmount();
  const mod = MODULES[r.view];
  current = { id: r.view, arg: r.arg, mod };
  document.documentElement.dataset.view = r.view;
  lastHash[r.view] = location.hash; // the wall comes back to it (#wilayah/urut=…)
  fill(el.main);
  el.main.scrollTop = 0;
  mod.mount(el.main, r.arg);
  renderNav();
  if (kiosk) requestAnimationFrame(fitWall);
}

function toggleLang() {
  setLang(getLang() === 'id' ? 'en' : 'id');
  params.set('lang', getLang());
  history.replaceState(null, '', `${location.pathname}?${params}${location.hash}`);
  invalidate('lang');
}

// The wall must not scroll or clip: when a view's content is taller than
// the window after a paint, shrink its type (--fit) until it fits.
function fitWall() {
  const m = el.main;
  const clipped = (e) => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1;
  // main, and the overview's tiles and the regions' cards (which clip what does not fit them).
  const fits = () => !clipped(m) && ![...m.querySelectorAll('.tile, .region')].some(clipped);
  m.style.removeProperty('--fit');
  if (fits()) return;
  let lo = 0.4;
  let hi = 1;
  for (let i = 0; i < 7; i++) {
    const mid = (lo + hi) / 2;
    m.style.setProperty('--fit', String(mid));
    if (fits()) lo = mid;
    else hi = mid;
  }
  m.style.setProperty('--fit', String(lo));
}

// At most once a second (each try is a layout).
let fitAt = 0;
let fitTimer = null;
function fitSoon() {
  if (fitTimer) return;
  fitTimer = setTimeout(
    () => {
      fitTimer = null;
      fitAt = Date.now();
      fitWall();
    },
    Math.max(0, 1000 - (Date.now() - fitAt)),
  );
}

onPaint((what) => {
  paintSignIn(what);
  if (!booted) return; // the sign-in form alone: no shell yet
  if (what.has('lang') || what.has('programs') || what.has('me') || what.has('regions')) renderNav();
  if (what.has('lang') || what.has('conn') || what.has('tick') || what.has('samples')) renderConn();
  if (what.has('lang') || what.has('tick')) renderClock();
  if (what.has('lang') || what.has('alerts')) renderTicker(el.ticker);
  current?.mod.paint(what);
  if (kiosk && what.size > (what.has('tick') ? 1 : 0)) fitSoon();
});

// ---- people (CONTRACT §8): the sign-in form before the dashboard ----
// A page with no working credential shows the form (no 401 loop: nothing
// else is asked until it is filled in); a session that ends later brings
// it back, and signing in again re-fetches everything and reconnects.
let booted = false;
async function signedInAgain() {
  renderNav();
  await Promise.all([loadAll(), loadSeries(), loadRegions()]).catch(() => {});
  current?.mod.unmount(); // the view is drawn again for who signed in
  current = null;
  show();
  resumeLive();
}
function boot() {
  if (booted) return signedInAgain();
  booted = true;
  watchSession(pauseLive);
  return start();
}
async function begin() {
  signInHooks(boot, toggleLang);
  if ((await whoAmI()) === 'out') showSignIn('');
  else boot();
}

async function start() {
  shell();
  // Phones (CONTRACT §9): a compact menu, list tables stacked as cards.
  const menuLabel = phoneMenu(el.nav);
  onPaint((what) => what.has('lang') && menuLabel());
  labelCells(el.main);
  renderNav();
  renderConn();
  renderClock();
  renderTicker(el.ticker);
  try {
    await Promise.all([loadAll(), loadSeries(), loadRegions()]);
  } catch {
    /* the websocket's connect retries and re-fetches */
  }
  show();
  window.addEventListener('hashchange', show);
  setInterval(() => invalidate('tick'), 1000);
  startLive();
  if (kiosk) {
    // A view with nothing to show (no price series, no firing alert) is
    // skipped: the ticker already says "Tidak ada peringatan aktif".
    const worth = {
      harga: () => [...state.latest.values()].some((s) => s.metric === 'price'),
      unit: () => state.units.size > 0,
      peringatan: () => [...state.alerts.values()].some((a) => a.state === 'firing'),
      wilayah: hasRegions,
    };
    setInterval(() => {
      const i = KIOSK_ROTATION.indexOf(current?.id);
      for (let k = 1; k <= KIOSK_ROTATION.length; k++) {
        const next = KIOSK_ROTATION[(i + k) % KIOSK_ROTATION.length];
        if (!worth[next] || worth[next]()) {
          if (lastHash[next]) location.hash = lastHash[next];
          else go(next);
          break;
        }
      }
    }, rotateS * 1000);
  }
}
begin();
