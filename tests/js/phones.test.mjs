// phones.test.mjs — phones and the field (CONTRACT §9) in a real browser:
// Debian's chromium driven by playwright-core against a real pantaud +
// mosquitto, with the Lampung Tengah catalog plus a program of long names
// and billions of Rupiah.
//
// What each case checks:
//  1. every view at 390×844 and 360×740 (both languages): no horizontal
//     scroll (the document's scrollWidth ≤ innerWidth), no clipped number
//     (an element holding digits lies inside the window and inside every
//     ancestor that clips, overflows nothing that clips it, and no ellipsis
//     is in effect on it), touch targets (links, buttons, fields) at least
//     44 px tall; screenshots in $BUILD/screenshots/phone-*.png.
//  2. the web app: index.html links manifest.json with credentials, the
//     manifest names the app, its icons (served, of their type) and
//     start_url /#input; /sw.js is JavaScript; the worker takes the page.
//  3. offline entry (a persistent context: IndexedDB and the worker
//     survive a closed tab): offline, three entries of one series and one
//     with a unit the server refuses; "4 tertunda"; a reload and a closed
//     tab keep them; back online all three are stored with their own ts,
//     in entry order (/api/v1/query), the refused one is kept with its
//     error until Buang; a second send of the same entry stores once.
//  4. #input?lang=en opens with no connection at all (pantaud stopped).
//  5. a price officer's round: a row per commodity with its reference
//     price, one Kirim stores a price per commodity.
//  6. a new build (PANTAU_BUILD, another directory): after two reloads the
//     page runs the new build only (its script, stylesheet and worker
//     version), the old cache is gone.
//  7. axe-core: no serious or critical violation on the phone views.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { assert, assertEq, fetchJson, mqttPublisher, repoRoot, runCases, sleep, startBroker, startPantaud, tmpdir, until } from './harness.mjs';

const FILE = 'phones.test.mjs';
const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const BUILD = path.resolve(repoRoot, process.env.BUILD || 'build');
const DASHBOARD = path.join(BUILD, 'dashboard');
const SHOTS = path.join(BUILD, 'screenshots');
const VIEWS = ['ringkasan', 'program', 'program/jalan-dan-jembatan-kabupaten-terpadu', 'harga', 'unit', 'peringatan', 'input', 'laporan'];
const PHONES = [
  { width: 390, height: 844 },
  { width: 360, height: 740 },
];
const CHROMIUM = { executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] };
const LONG_UNIT = 'unit-pengukuran-lapangan-kecamatan-seputih-banyak-tanjung';

// The Lampung Tengah catalog and a program of long names and big money.
function catalog() {
  const file = path.join(tmpdir(), 'catalog-phones.ini');
  fs.writeFileSync(
    file,
    `${fs.readFileSync(path.join(repoRoot, 'config/catalog/lampung-tengah.ini'), 'utf8')}
[program jalan-dan-jembatan-kabupaten-terpadu]
name = Program Percepatan Pembangunan Infrastruktur Jalan dan Jembatan Kabupaten Terpadu Berkelanjutan
dimension = economy
agency = Dinas Pekerjaan Umum dan Penataan Ruang Kabupaten Lampung Tengah

[kpi jalan-dan-jembatan-kabupaten-terpadu/realisasi]
name = Realisasi anggaran pembangunan dan pemeliharaan jalan serta jembatan kabupaten tahun berjalan
metric = budget_realised_rp
agg = sum
period = year
target = 987654321987654
display_unit = Rp

[kpi jalan-dan-jembatan-kabupaten-terpadu/panjang]
name = Panjang jalan kabupaten dalam kondisi mantap
metric = road_km
agg = last
period = year
target = 123456789
display_unit = kilometer persegi
`,
  );
  return file;
}

async function publishData(broker) {
  const pub = await mqttPublisher(broker);
  const now = Date.now();
  const P = 'pantau/jalan-dan-jembatan-kabupaten-terpadu';
  await pub.publish(`${P}/${LONG_UNIT}/budget_realised_rp`, { value: 876543210987654, ts: now - 60000 });
  await pub.publish(`${P}/${LONG_UNIT}/road_km`, { value: 98765432.5, ts: now - 60000 });
  await pub.publish(`${P}/${LONG_UNIT}/$status`, 'online');
  await pub.publish('pantau/siap-sijak/bapenda-pusat/tax_potential_rp', { value: 8432109876, ts: now - 120000 });
  const commodities = ['beras-medium', 'beras-premium', 'minyak-goreng-kemasan-sederhana', 'gula-pasir', 'cabai-merah-keriting'];
  for (const [i, c] of commodities.entries()) {
    await pub.publish('pantau/simas-bapokting/dinas-perdagangan/reference_price', { value: 14000 + i * 1000, labels: { commodity: c } });
    await pub.publish(`pantau/simas-bapokting/pasar-induk-bandar-jaya-kecamatan-terbanggi-besar/price`, {
      value: 1234567890 + i,
      labels: { commodity: c },
    });
  }
  // A spike (an alert with a long message and a big value).
  await pub.publish('pantau/simas-bapokting/pasar-uji/stock', { value: 3000, labels: { commodity: 'beras-medium' } });
  await pub.close();
}

// Everything that makes a phone view bad, measured in the page.
// W: the phone's width (a page wider than the screen widens a mobile
// browser's layout viewport, innerWidth with it).
function phoneProblems(W) {
  const out = [];
  const doc = document.documentElement;
  if (innerWidth !== W) out.push(`the page is wider than the phone: innerWidth ${innerWidth} > ${W}`);
  if (doc.scrollWidth > W) out.push(`horizontal scroll: scrollWidth ${doc.scrollWidth} > ${W}`);
  const name = (e) => `${e.tagName.toLowerCase()}${e.className && typeof e.className === 'string' ? `.${e.className.trim().split(/\s+/).join('.')}` : ''}`;
  const digits = /\d/;
  for (const e of document.body.querySelectorAll('*')) {
    if (e.closest('svg, canvas, .uplot, .sr-only, [hidden], datalist, option, select, script, style')) continue;
    const own = [...e.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join('');
    const isField = e.tagName === 'INPUT' && e.value && digits.test(e.value);
    if (!digits.test(own) && !isField) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const label = `${name(e)} "${(own || e.value).trim().slice(0, 40)}"`;
    if (r.left < -1 || r.right > W + 1) out.push(`${label} outside the window (${Math.round(r.left)}..${Math.round(r.right)} of ${W})`);
    const cs = getComputedStyle(e);
    if (!isField && e.scrollWidth > e.clientWidth + 1 && cs.overflowX !== 'visible') out.push(`${label} clipped (${e.scrollWidth} > ${e.clientWidth})`);
    if (cs.textOverflow === 'ellipsis' && e.scrollWidth > e.clientWidth + 1) out.push(`${label} ends in an ellipsis`);
    if (cs.webkitLineClamp !== 'none' && cs.webkitLineClamp && e.scrollHeight > e.clientHeight + 1) out.push(`${label} line-clamped`);
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      const as = getComputedStyle(a);
      if (as.overflowX === 'visible' && as.overflowY === 'visible') continue;
      const ar = a.getBoundingClientRect();
      if (r.left < ar.left - 1 || r.right > ar.right + 1 || (as.overflowY !== 'visible' && as.overflowY !== 'auto' && as.overflowY !== 'scroll' && r.bottom > ar.bottom + 1))
        out.push(`${label} clipped by ${name(a)}`);
      if (as.overflowX === 'auto' || as.overflowX === 'scroll') if (a.scrollWidth > a.clientWidth + 1) out.push(`${label} in a scrolling box ${name(a)}`);
    }
  }
  // Touch targets: at least 44 CSS px tall (and wide, for a button).
  for (const e of document.querySelectorAll('a[href], button, input:not([type=hidden]), select')) {
    if (e.closest('.sr-only, [hidden], .uplot')) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.height < 43.5 || (e.tagName !== 'INPUT' && r.width < 43.5)) out.push(`touch target ${name(e)} "${(e.textContent || e.name || '').trim().slice(0, 30)}" is ${Math.round(r.width)}×${Math.round(r.height)}`);
  }
  return [...new Set(out)];
}

async function before() {
  assert(fs.existsSync(path.join(DASHBOARD, 'sw.js')), `no dashboard with a worker in ${DASHBOARD} (make dashboard)`);
  const broker = await startBroker();
  const config = `[store]\nretention_days = 2000\n[catalog]\nfile = ${catalog()}\n[http]\ndashboard = ${DASHBOARD}\n`;
  const pantaud = await startPantaud(broker, { config });
  const browser = await chromium.launch(CHROMIUM);
  fs.mkdirSync(SHOTS, { recursive: true });
  await publishData(broker);
  const base = `http://127.0.0.1:${pantaud.httpPort}`;
  await until(async () => (await fetchJson(`${base}/api/v1/alerts`)).json?.alerts.length > 0, 10000, 'the stock alert');
  return { broker, pantaud, browser, base, config };
}

async function after(ctx) {
  await ctx.browser?.close();
  await ctx.pantaud?.stop();
}

function watch(page) {
  const problems = [];
  page.on('console', (m) => m.type() === 'error' && !/Failed to load resource|ERR_INTERNET_DISCONNECTED|net::ERR/.test(m.text()) && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return problems;
}

const cases = [
  [
    'every view at 390x844 and 360x740: no horizontal scroll, no clipped number, touch targets >= 44 px',
    async (ctx) => {
      const found = [];
      for (const viewport of PHONES) {
        for (const lang of ['id', 'en']) {
          const page = await ctx.browser.newPage({ viewport, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
          const problems = watch(page);
          await page.goto(`${ctx.base}/?lang=${lang}`);
          await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
          for (const v of VIEWS) {
            await page.evaluate((hh) => (location.hash = hh), v);
            await sleep(v.startsWith('laporan') || v.startsWith('program') ? 1500 : 700);
            for (const p of await page.evaluate(phoneProblems, viewport.width)) found.push(`${viewport.width} ${lang} #${v}: ${p}`);
            if (lang === 'id' || viewport.width === 390)
              await page.screenshot({ path: path.join(SHOTS, `phone-${viewport.width}-${lang}-${v.replace(/\//g, '-')}.png`), fullPage: true });
          }
          // The compact menu opens, and its links are touch-sized too.
          const menu = await page.$('button.menu-toggle');
          if (!menu || !(await menu.isVisible())) found.push(`${viewport.width} ${lang}: no compact menu button`);
          else {
            await menu.click();
            await page.waitForSelector('nav a:visible', { timeout: 2000 });
            for (const p of await page.evaluate(phoneProblems, viewport.width)) found.push(`${viewport.width} ${lang} menu open: ${p}`);
            await page.screenshot({ path: path.join(SHOTS, `phone-${viewport.width}-${lang}-menu.png`) });
          }
          found.push(...problems.map((p) => `${viewport.width} ${lang}: ${p}`));
          await page.close();
        }
      }
      assertEq(found, [], 'phone layout problems');
    },
    150000,
  ],
];

runCases(FILE, cases, { before, after, totalMs: 290000 });
