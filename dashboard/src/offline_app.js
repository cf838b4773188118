// offline_app.js — the dashboard as an installable web app (CONTRACT §9):
// registers the service worker (/sw.js, written by build.mjs with the
// build's file list, scope /) that keeps the dashboard's files, so that
// #input opens with no connection once it has been opened; starts sending
// the entries kept on the device (offline.js) whatever view is shown, and
// again whenever a session or the websocket comes back; and, while kept
// entries wait for a sign-in (a 401), says so in a line of its own above
// everything (the sign-in form included). __PANTAU_BUILD__ (build.mjs)
// marks which build this page runs.
import { h, text } from './dom.js';
import { t } from './i18n.js';
import { entries, flush, onQueue, startSender, waitingForSignIn } from './offline.js';
import { onPaint } from './render.js';
import { state } from './state.js';

/* global __PANTAU_BUILD__ */
document.documentElement.dataset.build = typeof __PANTAU_BUILD__ === 'string' ? __PANTAU_BUILD__ : 'dev';
if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {
    /* no worker (a private window, a browser that refuses): online only */
  });
}

let banner = null;
let pending = 0;
function paintBanner() {
  const show = pending > 0 && waitingForSignIn();
  if (!show && !banner) return;
  if (!banner) {
    banner = h('p', { class: 'offline-banner', role: 'status' });
    document.body.prepend(banner);
  }
  banner.hidden = !show;
  if (show) text(banner, `${t('pendingN', { n: pending })} · ${t('waitSignIn')}`);
}
async function countPending() {
  pending = (await entries().catch(() => [])).filter((e) => e.state === 'pending').length;
  paintBanner();
}

if ('indexedDB' in window) {
  onQueue(countPending);
  startSender();
  onPaint((what) => {
    if (what.has('lang')) paintBanner();
    // Signed in again, or the websocket is back: the entries may go now.
    if (what.has('me') || (what.has('conn') && state.conn === 'live')) flush().catch(() => {});
  });
}
