// browser.mjs — helpers of the browser tests (dashboard, phones): waiting for
// a view to be drawn instead of sleeping a fixed time after a hash change,
// and screenshots only where they are looked at (the browser tests' main
// costs in CI).
//
// settled(page) resolves true once the page has had no request of its own
// in flight for quietMs, <main> says nothing is loading ("Memuat…"/
// "Loading…") and has not changed for quietMs either, or (a view fed by
// live samples is never still) no request for liveMs; false if that has not
// happened within maxMs (the caller goes on as after a sleep of maxMs, never
// shorter than the sleeps this replaces, and a "# not settled" line says
// so). track(page) right after newPage counts the requests from the start
// (settled() starts counting otherwise).
import { sleep } from './harness.mjs';

const tracked = new WeakMap();

// Counts the page's requests in flight (websockets are not requests) and
// when the count last changed.
export function track(page) {
  let n = tracked.get(page);
  if (n) return n;
  n = { inflight: 0, at: Date.now() };
  const change = (d) => {
    n.inflight = Math.max(0, n.inflight + d);
    n.at = Date.now();
  };
  page.on('request', () => change(1));
  page.on('requestfinished', () => change(-1));
  page.on('requestfailed', () => change(-1));
  tracked.set(page, n);
  return n;
}

// Milliseconds since <main> last changed (a MutationObserver installed on
// the first call in each document), or -1 while it says it is loading.
function mainQuietMs() {
  const main = document.querySelector('main') || document.body;
  if (!window.__pantauSettle) {
    const s = { at: performance.now() };
    new MutationObserver(() => (s.at = performance.now())).observe(main, {
      subtree: true,
      childList: true,
      characterData: true,
      attributes: true,
    });
    window.__pantauSettle = s;
  }
  if (/Memuat…|Loading…/.test(main.textContent)) return -1;
  return performance.now() - window.__pantauSettle.at;
}

export async function settled(page, what, { quietMs = 300, liveMs = 1000, maxMs = 3000 } = {}) {
  const net = track(page);
  const end = Date.now() + maxMs;
  for (;;) {
    const quiet = await page.evaluate(mainQuietMs);
    const idle = net.inflight === 0 ? Date.now() - net.at : 0;
    if (quiet >= 0 && idle >= quietMs && (quiet >= quietMs || idle >= liveMs)) return true;
    if (Date.now() >= end) {
      console.log(`  # ${what}: not settled in ${maxMs} ms (${net.inflight} requests in flight, quiet ${Math.round(quiet)} ms)`);
      return false;
    }
    await sleep(50);
  }
}

// Screenshots (build/screenshots, the docs' pictures) are taken in the plain
// suite only: under SANITIZE=1 or TSAN=1 the pages are the same and nobody
// looks at build-san/'s. shoot(page or element, options) is
// target.screenshot(options) there, nothing here (a missing element fails
// in both, as its screenshot did).
const SHOTS = process.env.SANITIZE !== '1' && process.env.TSAN !== '1';
export async function shoot(target, options) {
  if (!target) throw new Error(`nothing to take ${options.path} of (no such element)`);
  if (SHOTS) await target.screenshot(options);
}
