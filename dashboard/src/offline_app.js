// offline_app.js — the dashboard as an installable web app (CONTRACT §9):
// registers the service worker (/sw.js, written by build.mjs with the
// build's file list, scope /) that keeps the dashboard's files, so that
// #input opens with no connection once it has been opened; and starts
// sending the entries kept on the device (offline.js) whatever view is
// shown. __PANTAU_BUILD__ (build.mjs) marks which build this page runs.
import { startSender } from './offline.js';

/* global __PANTAU_BUILD__ */
document.documentElement.dataset.build = typeof __PANTAU_BUILD__ === 'string' ? __PANTAU_BUILD__ : 'dev';
if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {
    /* no worker (a private window, a browser that refuses): online only */
  });
}
if ('indexedDB' in window) startSender();
