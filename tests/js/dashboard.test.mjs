// dashboard.test.mjs — the dashboard (CONTRACT §2 `GET /`) in a real browser:
// Debian's chromium, headless, driven by playwright-core, against a real
// pantaud + mosquitto with the Lampung Tengah catalog (and, from the
// screenshot case on, its simulated field units).
//
// What each case checks:
//  1. no console error and no request to another host; a value published
//     over MQTT shows on its program's tile, formatted id-ID, within 1 s.
//  2. the language switch: Bahasa Indonesia by default, English by the
//     button and by ?lang=en (the alerts ticker headed "Peringatan"/"Alerts").
//  2b. a tile says whose status is whose: the badge is the program's health
//     ("Program: tertinggal"), the headline KPI's status sits beside the
//     KPI's name; a KPI with no sample in 30 days draws no sparkline.
//  3. the connection indicator turns red (and the stale mark shows) when
//     pantaud stops, and green again when it returns, without a reload
//     (a 1920×1080 screenshot of each).
//  4. kiosk mode: every rotated view fits 1920×1080 and 3840×2160 (the
//     document's scroll size is the window's, no tile clipped); it rotates.
//  5. a 10,000-point chart renders (the Program view's uPlot, raw samples);
//     a drag zooms (the range is asked again).
//  5b. Input data: a survey figure (decimal comma) and a CSV upload are
//     stored; the CSV's rejected line is named.
//  6. axe-core: no serious or critical violation on any view.
//  7. the report prints to an A4 PDF; its first page names the regency,
//     the period and the dimensions.
//  8. screenshots (kiosk 1920×1080, laptop 1366×768, both languages) with
//     the simulated field units running, in $BUILD/screenshots/.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  assert,
  assertEq,
  mqttPublisher,
  repoRoot,
  runCases,
  sleep,
  startBroker,
  startPantaud,
  startSim,
  tmpdir,
  until,
} from './harness.mjs';
import { settled, shoot, track } from './browser.mjs';

const FILE = 'dashboard.test.mjs';
const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const BUILD = path.resolve(repoRoot, process.env.BUILD || 'build');
const SHOTS = path.join(BUILD, 'screenshots');
const CATALOG = path.join(repoRoot, 'config/catalog/lampung-tengah.ini');
const CONFIG = `[store]\nretention_days = 2000\n[catalog]\nfile = ${CATALOG}\n`;
const VIEWS = ['ringkasan', 'program', 'harga', 'unit', 'peringatan', 'input', 'laporan'];
const KIOSK_VIEWS = ['ringkasan', 'harga', 'unit', 'peringatan'];
// The status words (CONTRACT §5.2) as the dashboard shows them.
const WORDS = {
  id: {
    achieved: 'tercapai',
    on_track: 'sesuai jalur',
    at_risk: 'perlu percepatan',
    off_track: 'tertinggal',
    worsening: 'memburuk',
    missed: 'tidak tercapai',
    not_started: 'belum dimulai',
    no_data: 'belum ada data',
  },
  en: {
    achieved: 'achieved',
    on_track: 'on track',
    at_risk: 'needs acceleration',
    off_track: 'off track',
    worsening: 'worsening',
    missed: 'missed',
    not_started: 'not started',
    no_data: 'no data',
  },
};

// A page that records console errors, page errors and requests to other hosts.
async function open(ctx, url, viewport = { width: 1366, height: 768 }) {
  const page = await ctx.browser.newPage({ viewport });
  track(page);
  const problems = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(ctx.base) && !u.startsWith(ctx.base.replace('http', 'ws')) && !u.startsWith('data:')) problems.push(`request to another host: ${u}`);
  });
  await page.goto(`${ctx.base}${url}`);
  await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
  return { page, problems };
}

async function startDaemon(broker, ctx = {}) {
  return startPantaud(broker, { config: CONFIG, httpPort: ctx.httpPort, db: ctx.db });
}

async function before() {
  assert(fs.existsSync(path.join(BUILD, 'dashboard/index.html')), `no dashboard in ${BUILD}/dashboard (make dashboard)`);
  const broker = await startBroker();
  const pantaud = await startDaemon(broker);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  fs.mkdirSync(SHOTS, { recursive: true });
  return { broker, pantaud, browser, base: `http://127.0.0.1:${pantaud.httpPort}`, httpPort: pantaud.httpPort, db: pantaud.db };
}

async function after(ctx) {
  await ctx.browser?.close();
  await ctx.sim?.stop();
  await ctx.pantaud?.stop();
}

const cases = [
  [
    'overview: no console error, no other host; an MQTT value on its tile in id-ID within 1 s',
    async (ctx) => {
      const loadStart = Date.now();
      const { page, problems } = await open(ctx, '/');
      await page.waitForSelector('.tile[data-program="grebek-stunting"]');
      console.log(`  # page load -> tiles and a live websocket: ${Date.now() - loadStart} ms`);
      // Record in the page when the value first shows (a MutationObserver).
      await page.evaluate(() => {
        window.__seen = 0;
        new MutationObserver(() => {
          if (!window.__seen && document.querySelector('.tile[data-program="grebek-stunting"]')?.textContent.includes('12.345,5')) window.__seen = Date.now();
        }).observe(document.body, { subtree: true, childList: true, characterData: true });
      });
      const pub = await mqttPublisher(ctx.broker);
      const t0 = Date.now();
      await pub.publish('pantau/grebek-stunting/uji-01/toddlers_fed', JSON.stringify({ value: 12345.5 }));
      await page.waitForFunction(() => window.__seen > 0, null, { timeout: 5000 });
      const seen = await page.evaluate(() => window.__seen);
      await pub.close();
      console.log(`  # publish -> tile: ${seen - t0} ms`);
      assert(seen - t0 <= 1000, `shown ${seen - t0} ms after the publish`);
      assertEq(problems, [], 'console errors and foreign requests');
      await page.close();
    },
  ],
  [
    'language: Bahasa Indonesia by default, English by the switch and by ?lang=en',
    async (ctx) => {
      const { page, problems } = await open(ctx, '/');
      assertEq(await page.getAttribute('html', 'lang'), 'id', 'default lang');
      assertEq((await page.textContent('.ticker-head')).replace(/\d+$/, ''), 'Peringatan', 'ticker head (id)');
      assert((await page.textContent('nav')).includes('Ringkasan'), 'nav in Indonesian');
      await page.click('button.lang');
      await page.waitForFunction(() => document.documentElement.lang === 'en');
      assertEq((await page.textContent('.ticker-head')).replace(/\d+$/, ''), 'Alerts', 'ticker head (en)');
      assert((await page.textContent('nav')).includes('Overview'), 'nav in English');
      assert((await page.textContent('.dims')).includes('programs running'), 'dimension counts in English');
      assert(page.url().includes('lang=en'), `the URL keeps the choice: ${page.url()}`);
      await page.close();
      const en = await open(ctx, '/?lang=en');
      assertEq((await en.page.textContent('.ticker-head')).replace(/\d+$/, ''), 'Alerts', '?lang=en');
      assertEq([...problems, ...en.problems], [], 'console errors');
      await en.page.close();
    },
  ],
  [
    'tiles: the badge is the program\'s health, the KPI\'s status is beside the KPI; no data draws no sparkline',
    async (ctx) => {
      const pub = await mqttPublisher(ctx.broker);
      await pub.publish('pantau/grebek-stunting/uji-01/toddlers_fed', JSON.stringify({ value: 7 }));
      await pub.close();
      const grebek = async () => (await fetch(`${ctx.base}/api/v1/programs`).then((r) => r.json())).programs;
      await until(async () => (await grebek()).find((p) => p.id === 'grebek-stunting').kpis[0].current > 0, 5000, 'the sample stored');
      const programs = await grebek();
      for (const lang of ['id', 'en']) {
        const { page, problems } = await open(ctx, `/?lang=${lang}`);
        await page.waitForSelector('.tile[data-program="paduka-lamteng"] .spark');
        // The sparklines load after the first paint: wait for grebek-stunting's.
        await page.waitForSelector('.tile[data-program="grebek-stunting"] .spark path', { timeout: 10000 });
        const tiles = await page.$$eval('.tile', (els) =>
          els.map((e) => ({
            id: e.dataset.program,
            health: e.querySelector('.tile-agency .tile-health')?.textContent,
            kpiStatus: e.querySelector('.tile-kpi .tile-kpi-status')?.textContent,
            foot: e.querySelector('.tile-foot')?.textContent,
            paths: e.querySelectorAll('.spark path').length,
            sparkLabel: e.querySelector('.spark')?.getAttribute('aria-label'),
          })),
        );
        assertEq(tiles.length, programs.length, 'a tile per program');
        for (const p of programs) {
          const tile = tiles.find((x) => x.id === p.id);
          assertEq(tile.health, `Program: ${WORDS[lang][p.health || 'no_data']}`, `${p.id}'s badge (${lang})`);
          if (p.kpis[0]) {
            assertEq(tile.kpiStatus, WORDS[lang][p.kpis[0].status || 'no_data'], `${p.id}'s headline KPI status (${lang})`);
            for (const w of Object.values(WORDS[lang])) assert(!tile.foot.includes(w), `${p.id}: no status word under the bar: ${tile.foot}`);
          }
        }
        const paduka = tiles.find((x) => x.id === 'paduka-lamteng');
        assertEq(paduka.paths, 0, 'paduka-lamteng (no sample yet): no sparkline drawn');
        assert(/belum ada data|no data/.test(paduka.sparkLabel), `its label says no data: ${paduka.sparkLabel}`);
        assertEq(tiles.find((x) => x.id === 'grebek-stunting').paths, 1, 'grebek-stunting (a sample today): a sparkline');
        assertEq(problems, [], 'console errors');
        await page.close();
      }
    },
  ],
  [
    'connection indicator: red when pantaud stops, green again when it returns, no reload',
    async (ctx) => {
      const { page } = await open(ctx, '/', { width: 1920, height: 1080 });
      await page.evaluate(() => (window.__sameDocument = true));
      await ctx.pantaud.stop();
      await page.waitForSelector('.conn[data-state="lost"]', { timeout: 5000 });
      const colour = await page.$eval('.conn .dot', (e) => getComputedStyle(e).backgroundColor);
      const [r, g] = colour.match(/\d+/g).map(Number);
      assert(r > 150 && g < 120, `the dot is red: ${colour}`);
      await page.waitForSelector('.stale-mark:not([hidden])', { timeout: 2000 });
      await shoot(page, { path: path.join(SHOTS, 'restart-stopped-1920x1080-id.png') });
      ctx.pantaud = await startDaemon(ctx.broker, ctx);
      await page.waitForSelector('.conn[data-state="live"]', { timeout: 20000 });
      assert(await page.evaluate(() => window.__sameDocument === true), 'no reload');
      assert(await page.$eval('.stale-mark', (e) => e.hidden), 'the stale mark is gone');
      await shoot(page, { path: path.join(SHOTS, 'restart-back-1920x1080-id.png') });
      await page.close();
    },
    40000,
  ],
  [
    'auth: opened with ?access_token=, the HttpOnly cookie carries the page, its API calls and websocket',
    async (ctx) => {
      const token = 'viewer-token-0123456789abcdef';
      const sec = await startPantaud(ctx.broker, { config: `${CONFIG}[auth]\nviewer = ${token}\n` });
      const base = `http://127.0.0.1:${sec.httpPort}`;
      const context = await ctx.browser.newContext();
      try {
        const page = await context.newPage();
        const problems = [];
        page.on('pageerror', (e) => problems.push(e.message));
        page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
        // The page needs no token (it shows a sign-in form, CONTRACT §8); its API does.
        assertEq((await fetch(`${base}/`)).status, 200, 'the page without a token');
        assertEq((await fetch(`${base}/api/v1/programs`)).status, 401, 'the API without a token');
        await page.goto(`${base}/?access_token=${token}`);
        await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
        await page.waitForSelector('.tile[data-program="paduka-lamteng"]', { timeout: 5000 });
        assert(!page.url().includes(token), `the token left the address bar: ${page.url()}`);
        const [cookie] = await context.cookies(base);
        assert(cookie?.name === 'pantau_token' && cookie.httpOnly, `HttpOnly cookie: ${JSON.stringify(cookie)}`);
        assert(!(await page.evaluate(() => document.cookie)).includes(token), 'scripts cannot read it');
        await page.reload();
        await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
        assertEq(problems, [], 'console errors');
      } finally {
        await context.close();
        await sec.stop();
      }
    },
  ],
  [
    'screenshots with the simulated field units: kiosk 1920x1080 and laptop 1366x768, both languages',
    async (ctx) => {
      ctx.sim = startSim(ctx.broker, ['--scenario', 'lampung-tengah', '--units', '4', '--rate', '4']);
      await until(async () => (await fetch(`${ctx.base}/api/v1/units`).then((r) => r.json())).units.length >= 20, 30000, 'the simulated units');
      await sleep(3000); // a few live samples and kpi frames
      for (const lang of ['id', 'en']) {
        for (const [name, url, viewport] of [
          [`kiosk-1920x1080-${lang}`, `/?kiosk=1&rotate=600&lang=${lang}`, { width: 1920, height: 1080 }],
          [`laptop-1366x768-${lang}`, `/?lang=${lang}`, { width: 1366, height: 768 }],
        ]) {
          const { page, problems } = await open(ctx, url, viewport);
          await page.waitForSelector('.spark path', { timeout: 10000 });
          await shoot(page, { path: path.join(SHOTS, `overview-${name}.png`) });
          for (const v of ['program', 'harga', 'unit', 'laporan']) {
            await page.evaluate((h) => (location.hash = h), v);
            await settled(page, `${name} #${v}`);
            await shoot(page, { path: path.join(SHOTS, `${v}-${name}.png`) });
          }
          assertEq(problems, [], `console errors (${name})`);
          await page.close();
        }
      }
    },
    90000,
  ],
  [
    'kiosk: every rotated view fits 1920x1080 and 3840x2160 (no scrolling)',
    async (ctx) => {
      for (const viewport of [
        { width: 1920, height: 1080 },
        { width: 3840, height: 2160 },
      ]) {
        const { page, problems } = await open(ctx, '/?kiosk=1&rotate=600', viewport);
        for (const v of KIOSK_VIEWS) {
          await page.evaluate((h) => (location.hash = h), v);
          await settled(page, `kiosk ${viewport.width} #${v}`);
          const [sw, sh, w, hh] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight, innerWidth, innerHeight]);
          assertEq([sw, sh], [w, hh], `scroll size of ${v} at ${viewport.width}x${viewport.height}`);
          // Nothing clipped: main's content fits main, a tile's its tile.
          // The wall's fit runs at most once a second: 2.5 s is two turns.
          const fits = () =>
            page.evaluate(
              () => ![document.querySelector('main'), ...document.querySelectorAll('.tile')].some((e) => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1),
            );
          await until(fits, 2500, `${v} at ${viewport.width}x${viewport.height}: the view fits, nothing clipped`, 100);
          if (viewport.width === 3840) await shoot(page, { path: path.join(SHOTS, `${v}-kiosk-3840x2160-id.png`) });
        }
        if (viewport.width === 1920) {
          // The rotation moves on by itself (?rotate=5: every 5 s) to a
          // view with something to show (a price, here).
          const pub = await mqttPublisher(ctx.broker);
          await pub.publish('pantau/simas-bapokting/pasar-uji/price', JSON.stringify({ value: 14000, labels: { commodity: 'beras-medium' } }));
          await pub.close();
          await page.goto(`${ctx.base}/?kiosk=1&rotate=5#ringkasan`);
          await page.waitForFunction(() => location.hash !== '#ringkasan' && location.hash !== '', null, { timeout: 8000 });
        }
        assertEq(problems, [], 'console errors');
        await page.close();
      }
    },
    60000,
  ],
  [
    'program: a 10,000-point chart renders',
    async (ctx) => {
      const pub = await mqttPublisher(ctx.broker);
      const now = Date.now();
      // 10,000 samples, one every 4 minutes back from now (27.8 days).
      for (let b = 0; b < 10; b++) {
        const batch = [];
        for (let i = 0; i < 1000; i++) {
          const k = b * 1000 + i;
          batch.push({ value: 50 + 40 * Math.sin(k / 150) + (k % 7), ts: now - (10000 - k) * 240000 });
        }
        await pub.publish('pantau/mobilika/uji-grafik/waste_sorted_kg', JSON.stringify(batch));
      }
      await pub.close();
      await until(
        async () => {
          const q = await fetch(`${ctx.base}/api/v1/query?program=mobilika&metric=waste_sorted_kg&unit=uji-grafik&from=${now - 30 * 86400e3}`).then((r) => r.json());
          return q.series[0]?.points.length === 10000;
        },
        20000,
        'the 10,000 samples to be stored',
      );
      const { page, problems } = await open(ctx, '/?points=raw#program/mobilika', { width: 1920, height: 1080 });
      const t0 = Date.now();
      await page.waitForSelector('#chart[data-points]', { timeout: 15000 });
      const n = Number(await page.getAttribute('#chart', 'data-points'));
      console.log(`  # chart of ${n} points drawn in ${Date.now() - t0} ms`);
      assert(n >= 10000, `points drawn: ${n}`);
      assert(await page.$('#chart canvas'), 'a canvas');
      await shoot(page, { path: path.join(SHOTS, 'program-10000-points.png') });
      // Zoom: a drag over the middle fifth asks that range again.
      const info = await page.textContent('.chart-info');
      const box = await page.$eval('#chart .u-over', (e) => {
        const r = e.getBoundingClientRect();
        return { x: r.x, y: r.y, w: r.width, h: r.height };
      });
      await page.mouse.move(box.x + box.w * 0.4, box.y + box.h / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.w * 0.6, box.y + box.h / 2, { steps: 5 });
      await page.mouse.up();
      await page.waitForFunction((before) => document.querySelector('.chart-info').textContent !== before, info, { timeout: 5000 });
      const zoomed = Number(await page.getAttribute('#chart', 'data-points'));
      assert(zoomed > 1000 && zoomed < 3000, `the zoomed range holds a fifth of the points: ${zoomed}`);
      assertEq(problems, [], 'console errors');
      await page.close();
    },
    60000,
  ],
  [
    'input data: a survey figure and a CSV upload are stored',
    async (ctx) => {
      const { page, problems } = await open(ctx, '/#input');
      await page.selectOption('form.entry select[name=program]', 'grebek-stunting');
      await page.fill('form.entry input[name=unit]', 'dinkes-lamteng');
      await page.fill('form.entry input[name=metric]', 'prevalensi');
      await page.fill('form.entry input[name=value]', '17,4');
      await page.fill('form.entry input[name=labels]', 'kecamatan=gunung-sugih');
      await page.click('form.entry button[type=submit] >> text=Kirim');
      await page.waitForSelector('text=Tersimpan: 1', { timeout: 15000 });
      const q = await fetch(`${ctx.base}/api/v1/series?program=grebek-stunting&metric=prevalensi`).then((r) => r.json());
      assertEq(q.series.map((x) => [x.unit, x.labels, x.last_value]), [['dinkes-lamteng', { kecamatan: 'gunung-sugih' }, 17.4]], 'the figure');
      const csv = path.join(tmpdir(), 'survei.csv');
      const ts = Date.now() - 86400e3;
      fs.writeFileSync(csv, `ts,program,unit,metric,labels,value\r\n${ts},grebek-stunting,dinkes-lamteng,prevalensi,"{""kecamatan"":""bandar-jaya""}",21.5\r\n${ts},grebek-stunting,dinkes-lamteng,prevalensi,"{""kecamatan"":""seputih""}",x\r\n`);
      await page.setInputFiles('form.entry input[type=file]', csv);
      await page.click('form.entry button[type=submit] >> text=Unggah');
      await page.waitForSelector('text=Tersimpan 1, ditolak 1', { timeout: 15000 });
      assert((await page.textContent('main')).includes('baris 3'), 'the rejected line is named');
      assertEq(problems, [], 'console errors');
      await page.close();
    },
  ],
  [
    'axe-core: no serious or critical violation on any view (laptop and kiosk)',
    async (ctx) => {
      const found = [];
      for (const url of ['/', '/?kiosk=1&rotate=600']) {
        const { page } = await open(ctx, url);
        // Evaluated, not a <script> tag: the page's CSP refuses inline scripts.
        await page.evaluate(fs.readFileSync(AXE, 'utf8'));
        for (const v of VIEWS) {
          if (url.includes('kiosk') && !KIOSK_VIEWS.includes(v)) continue;
          await page.evaluate((h) => (location.hash = h), v);
          await settled(page, `axe ${url}#${v}`);
          const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations);
          for (const x of violations)
            if (x.impact === 'serious' || x.impact === 'critical')
              found.push(`${url}#${v}: ${x.id} (${x.impact}) ${x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
        }
        await page.close();
      }
      assertEq(found, [], 'axe violations');
    },
    60000,
  ],
  [
    'report: prints to an A4 PDF whose first page names the regency, the period and the dimensions',
    async (ctx) => {
      const { page, problems } = await open(ctx, '/#laporan/2026-11-01..2026-11-30');
      await page.waitForSelector('article.report', { timeout: 15000 });
      await page.emulateMedia({ media: 'print' });
      const pdf = path.join(SHOTS, 'laporan.pdf');
      await page.pdf({ path: pdf, format: 'A4', printBackground: true });
      const text = execFileSync('pdftotext', ['-f', '1', '-l', '1', '-layout', pdf, '-'], { encoding: 'utf8' });
      for (const want of ['Laporan evaluasi', 'Kabupaten Lampung Tengah', 'Periode 1 Nov 2026 – 30 Nov 2026', 'Dimensi', 'Smart Governance'])
        assert(text.includes(want), `page 1 has "${want}":\n${text.slice(0, 600)}`);
      assert(!text.includes('Ringkasan'), 'no navigation in print');
      const info = execFileSync('pdfinfo', [pdf], { encoding: 'utf8' });
      assert(/Page size:.*\(A4\)/.test(info), `A4: ${info}`);
      execFileSync('pdftoppm', ['-f', '1', '-l', '1', '-r', '60', '-png', pdf, path.join(SHOTS, 'laporan')]);
      assertEq(problems, [], 'console errors');
      await page.close();
    },
  ],
];

runCases(FILE, cases, { before, after, totalMs: 280000 }); // under run-tests' 300 s
