// sw.js — the dashboard's service worker (CONTRACT §9), served by pantaud
// at /sw.js (scope /). build.mjs bundles it with __VERSION__ (a hash of
// the build's files: a new worker per build) and __FILES__ (index.html as
// "/", the content-hashed assets, the icons and the manifest).
//
// - install: every file of this build into the cache "pantau-<version>";
// - activate: every other pantau cache deleted (no stale mix of builds),
//   the open pages taken over;
// - a page (navigation), whatever its query (?lang=en) or hash (#input):
//   the network first (a new build shows at once), else this build's "/";
// - the build's files: from the cache, else the network;
// - the API (/api/…, /healthz, /metrics) and any other origin: never
//   touched, so never answered from a cache.
/* global __VERSION__, __FILES__ */
const CACHE = `pantau-${__VERSION__}`;
const FILES = __FILES__;

self.addEventListener('install', (e) => {
  e.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(FILES.map((f) => new Request(f, { cache: 'reload', credentials: 'same-origin' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (e) => {
  e.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('pantau-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function isApi(path) {
  return path.startsWith('/api/') || path === '/api' || path === '/healthz' || path === '/metrics';
}

// The network's page, unless it fails, answers an error or keeps a weak
// signal waiting longer than NAV_MS while this build's page is at hand.
const NAV_MS = 5000;
async function navigate(req) {
  const cached = () => caches.match('/', { cacheName: CACHE });
  const net = fetch(req);
  net.catch(() => {}); // answered from the cache when it fails
  let timer;
  const slow = new Promise((resolve) => (timer = setTimeout(resolve, NAV_MS)));
  try {
    const r = await Promise.race([net, slow]);
    if (r && r.ok) return r;
    const hit = await cached();
    if (hit) return hit;
    return r || (await net);
  } catch {
    return (await cached()) || Response.error();
  } finally {
    clearTimeout(timer);
  }
}

self.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin || isApi(url.pathname)) return;
  if (req.mode === 'navigate') {
    e.respondWith(navigate(req));
    return;
  }
  e.respondWith(caches.match(req, { cacheName: CACHE, ignoreSearch: true }).then((hit) => hit || fetch(req)));
});
