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
//  4b. no valid session (401): an entry made offline is kept when the
//     connection returns without a session, a line says it waits for a
//     sign-in; once signed in again it is sent.
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
import {
  assert,
  assertEq,
  fetchJson,
  mqttPublisher,
  repoRoot,
  runCases,
  sleep,
  startBroker,
  startPantaud,
  tmpdir,
  until,
} from './harness.mjs';
import { settled, shoot, track } from './browser.mjs';

const FILE = 'phones.test.mjs';
const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const BUILD = path.resolve(repoRoot, process.env.BUILD || 'build');
const DASHBOARD = path.join(BUILD, 'dashboard');
const SHOTS = path.join(BUILD, 'screenshots');
const VIEWS = ['ringkasan', 'program', 'program/jalan-dan-jembatan-kabupaten-terpadu', 'harga', 'unit', 'peringatan', 'input', 'laporan', 'evaluasi'];
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
  const name = (e) =>
    `${e.tagName.toLowerCase()}${e.className && typeof e.className === 'string' ? `.${e.className.trim().split(/\s+/).join('.')}` : ''}`;
  const digits = /\d/;
  for (const e of document.body.querySelectorAll('*')) {
    if (e.closest('svg, canvas, .uplot, .sr-only, [hidden], datalist, option, select, script, style')) continue;
    const own = [...e.childNodes]
      .filter((n) => n.nodeType === 3)
      .map((n) => n.textContent)
      .join('');
    const isField = e.tagName === 'INPUT' && e.value && digits.test(e.value);
    if (!digits.test(own) && !isField) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const label = `${name(e)} "${(own || e.value).trim().slice(0, 40)}"`;
    if (r.left < -1 || r.right > W + 1) out.push(`${label} outside the window (${Math.round(r.left)}..${Math.round(r.right)} of ${W})`);
    const cs = getComputedStyle(e);
    if (!isField && e.scrollWidth > e.clientWidth + 1 && cs.overflowX !== 'visible')
      out.push(`${label} clipped (${e.scrollWidth} > ${e.clientWidth})`);
    if (cs.textOverflow === 'ellipsis' && e.scrollWidth > e.clientWidth + 1) out.push(`${label} ends in an ellipsis`);
    if (cs.webkitLineClamp !== 'none' && cs.webkitLineClamp && e.scrollHeight > e.clientHeight + 1) out.push(`${label} line-clamped`);
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      const as = getComputedStyle(a);
      if (as.overflowX === 'visible' && as.overflowY === 'visible') continue;
      const ar = a.getBoundingClientRect();
      if (
        r.left < ar.left - 1 ||
        r.right > ar.right + 1 ||
        (as.overflowY !== 'visible' && as.overflowY !== 'auto' && as.overflowY !== 'scroll' && r.bottom > ar.bottom + 1)
      )
        out.push(`${label} clipped by ${name(a)}`);
      if (as.overflowX === 'auto' || as.overflowX === 'scroll')
        if (a.scrollWidth > a.clientWidth + 1) out.push(`${label} in a scrolling box ${name(a)}`);
    }
  }
  // Touch targets: at least 44 CSS px tall (and wide, for a button).
  for (const e of document.querySelectorAll('a[href], button, input:not([type=hidden]), select')) {
    if (e.closest('.sr-only, [hidden], .uplot')) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.height < 43.5 || (e.tagName !== 'INPUT' && r.width < 43.5))
      out.push(
        `touch target ${name(e)} "${(e.textContent || e.name || '').trim().slice(0, 30)}" is ${Math.round(r.width)}×${Math.round(r.height)}`,
      );
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
  await ctx.context?.close();
  await ctx.browser?.close();
  await ctx.pantaud?.stop();
}

// The states of the entries the page's device keeps (IndexedDB).
function keptStates(page) {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const r = indexedDB.open('pantau-offline');
        r.onerror = () => reject(r.error);
        r.onsuccess = () => {
          const g = r.result.transaction('entries').objectStore('entries').getAll();
          g.onsuccess = () => {
            r.result.close();
            resolve(g.result.map((e) => e.state));
          };
        };
      }),
  );
}

function watch(page) {
  const problems = [];
  page.on(
    'console',
    (m) =>
      m.type() === 'error' &&
      !/Failed to load resource|ERR_INTERNET_DISCONNECTED|net::ERR/.test(m.text()) &&
      problems.push(`console: ${m.text()}`),
  );
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
          track(page);
          const problems = watch(page);
          await page.goto(`${ctx.base}/?lang=${lang}`);
          await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
          for (const v of VIEWS) {
            await page.evaluate((hh) => (location.hash = hh), v);
            await settled(page, `${viewport.width} ${lang} #${v}`);
            for (const p of await page.evaluate(phoneProblems, viewport.width)) found.push(`${viewport.width} ${lang} #${v}: ${p}`);
            if (lang === 'id' || viewport.width === 390)
              await shoot(page, {
                path: path.join(SHOTS, `phone-${viewport.width}-${lang}-${v.replace(/\//g, '-')}.png`),
                fullPage: true,
              });
            if (v === 'ringkasan')
              for (const id of ['jalan-dan-jembatan-kabupaten-terpadu', 'siap-sijak'])
                await shoot(await page.$(`.tile[data-program="${id}"]`), {
                  path: path.join(SHOTS, `phone-${viewport.width}-${lang}-tile-${id}.png`),
                });
          }
          // The compact menu opens, and its links are touch-sized too.
          const menu = await page.$('button.menu-toggle');
          if (!menu || !(await menu.isVisible())) found.push(`${viewport.width} ${lang}: no compact menu button`);
          else {
            await menu.click();
            await page.waitForSelector('nav a:visible', { timeout: 2000 });
            for (const p of await page.evaluate(phoneProblems, viewport.width)) found.push(`${viewport.width} ${lang} menu open: ${p}`);
            await shoot(page, { path: path.join(SHOTS, `phone-${viewport.width}-${lang}-menu.png`) });
          }
          found.push(...problems.map((p) => `${viewport.width} ${lang}: ${p}`));
          await page.close();
        }
      }
      assertEq(found, [], 'phone layout problems');
    },
    150000,
  ],
  [
    'web app: the manifest (linked with credentials, start_url /#input, icons served) and /sw.js as JavaScript',
    async (ctx) => {
      const html = await (await fetch(`${ctx.base}/`)).text();
      assert(
        /<link rel="manifest" href="\/manifest.json" crossorigin="use-credentials">/.test(html),
        `index.html links the manifest:\n${html}`,
      );
      const m = await fetchJson(`${ctx.base}/manifest.json`);
      assertEq(m.status, 200, 'manifest status');
      assert(m.json.name.includes('pantau') && m.json.short_name === 'pantau', `names: ${m.json.name}`);
      assertEq([m.json.start_url, m.json.scope, m.json.display], ['/#input', '/', 'standalone'], 'start_url, scope, display');
      for (const icon of m.json.icons) {
        const r = await fetch(`${ctx.base}${icon.src}`);
        assertEq([r.status, r.headers.get('content-type')], [200, icon.type], `${icon.src}`);
        if (icon.type === 'image/png') {
          const png = Buffer.from(await r.arrayBuffer());
          assertEq(`${png.readUInt32BE(16)}x${png.readUInt32BE(20)}`, icon.sizes, `${icon.src}'s size`);
        }
      }
      assert(m.json.icons.some((i) => i.sizes === '512x512') && m.json.icons.some((i) => i.sizes === '192x192'), 'a 192 and a 512 icon');
      const sw = await fetch(`${ctx.base}/sw.js`);
      assertEq(sw.status, 200, '/sw.js status');
      assert(/^(application|text)\/javascript/.test(sw.headers.get('content-type')), `/sw.js type: ${sw.headers.get('content-type')}`);
      assert(/default-src 'self'/.test(sw.headers.get('content-security-policy')), 'the CSP is there (and allows a same-origin worker)');
      const text = await sw.text();
      assert(!/\/api\//.test(text.match(/\[[^\]]*\]/)[0]), 'no API path among the files kept');
    },
  ],
  [
    'offline entry: three entries and a refused one kept through a reload and a closed tab, sent in order when back online',
    async (ctx) => {
      ctx.profile = fs.mkdtempSync(path.join(tmpdir(), 'chromium-profile-'));
      ctx.context = await chromium.launchPersistentContext(ctx.profile, {
        ...CHROMIUM,
        viewport: PHONES[0],
        isMobile: true,
        hasTouch: true,
      });
      const context = ctx.context;
      let page = context.pages()[0] || (await context.newPage());
      const problems = watch(page);
      await page.goto(`${ctx.base}/#input`);
      await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
      await page.waitForSelector('form.entry select[name=program] option[value="grebek-stunting"]', { state: 'attached' });
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 10000 });
      await context.setOffline(true);
      const typed = [
        ['posyandu-melati', '12,5', 12.5],
        ['posyandu-melati', '13', 13],
        ['posyandu-melati', '14,25', 14.25],
        ['Posyandu-Mawar', '9', 9], // refused: a unit is a slug
      ];
      const pressed = [];
      for (const [i, [unit, value]] of typed.entries()) {
        await page.selectOption('form.entry select[name=program]', 'grebek-stunting');
        await page.fill('form.entry input[name=unit]', unit);
        await page.fill('form.entry input[name=metric]', 'balita_ditimbang');
        await page.fill('form.entry input[name=value]', value);
        const t0 = Date.now();
        await page.click('form.entry button[type=submit] >> text=Kirim');
        await page.waitForFunction((n) => document.querySelector('.pending-count')?.textContent === `${n} tertunda`, i + 1, {
          timeout: 10000,
        });
        pressed.push([t0, Date.now()]);
        assert((await page.textContent('form.entry .note')).includes('Disimpan di perangkat'), 'it says the entry waits on the device');
        await sleep(20);
      }
      // Not a number: refused before it is kept.
      await page.fill('form.entry input[name=value]', '12a');
      assert((await page.textContent('form.entry output.value-unit')).includes('angka'), 'the value is checked as a number');
      await page.reload();
      await page.waitForFunction(() => document.querySelector('.pending-count')?.textContent === '4 tertunda', null, { timeout: 10000 });
      await page.close();
      page = await context.newPage();
      problems.push(...watch(page));
      await page.goto(`${ctx.base}/#input`);
      await page.waitForFunction(() => document.querySelector('.pending-count')?.textContent === '4 tertunda', null, { timeout: 10000 });
      await shoot(page, { path: path.join(SHOTS, 'phone-390-id-input-offline.png'), fullPage: true });
      // Nothing reached pantaud meanwhile.
      const query = async () =>
        (await fetchJson(`${ctx.base}/api/v1/query?program=grebek-stunting&metric=balita_ditimbang&from=${pressed[0][0] - 1000}`)).json
          .series;
      assertEq(await query(), [], 'nothing stored while offline');
      await context.setOffline(false);
      await page.waitForFunction(() => document.querySelector('.pending-count')?.textContent === '0 tertunda', null, { timeout: 20000 });
      const series = await query();
      assertEq(series.length, 1, 'one series stored');
      const points = series[0].points;
      assertEq(
        points.map((p) => p[1]),
        [12.5, 13, 14.25],
        'the three values in entry order',
      );
      for (const [i, [ts]] of points.entries())
        assert(ts >= pressed[i][0] && ts <= pressed[i][1], `entry ${i}'s ts is when Kirim was pressed: ${ts} in ${pressed[i]}`);
      // The refused one stays with the server's error, until Buang.
      const refused = await fetchJson(`${ctx.base}/api/v1/ingest/grebek-stunting/Posyandu-Mawar/balita_ditimbang`, {
        method: 'POST',
        body: '{"value":9}',
      });
      assertEq(refused.status, 400, 'the server refuses the capital letter');
      const li = await page.waitForSelector('li.queued.rejected', { timeout: 5000 });
      assert(
        (await li.textContent()).includes(refused.json.error),
        `the entry shows the error "${refused.json.error}": ${await li.textContent()}`,
      );
      assert((await page.textContent('.rejected-count')).includes('1 ditolak'), 'counted as rejected');
      await page.reload();
      await page.waitForSelector('li.queued.rejected', { timeout: 10000 });
      await page.click('li.queued.rejected button.discard >> text=Buang');
      await page.waitForFunction(() => !document.querySelector('li.queued'), null, { timeout: 5000 });
      // Sent twice (an answer lost): stored once, by the (series, ts) identity.
      await page.evaluate(
        ([ts]) =>
          new Promise((resolve, reject) => {
            const r = indexedDB.open('pantau-offline');
            r.onsuccess = () => {
              const tx = r.result.transaction('entries', 'readwrite');
              tx.objectStore('entries').add({
                program: 'grebek-stunting',
                unit: 'posyandu-melati',
                metric: 'balita_ditimbang',
                value: 13,
                ts,
                made: Date.now(),
                state: 'pending',
              });
              tx.oncomplete = () => resolve();
              tx.onerror = () => reject(tx.error);
            };
          }),
        [points[1][0]],
      );
      await page.evaluate(() => window.dispatchEvent(new Event('online')));
      await until(async () => (await keptStates(page)).length === 0, 10000, 'the resent entry sent');
      assertEq((await query())[0].points, points, 'the resent entry stored once');
      assertEq(problems, [], 'console errors');
      await page.close();
    },
    60000,
  ],
  [
    '#input?lang=en opens with no connection at all (pantaud stopped)',
    async (ctx) => {
      await ctx.pantaud.stop();
      try {
        const page = await ctx.context.newPage();
        await page.goto(`${ctx.base}/?lang=en#input`);
        await page.waitForSelector('form.entry button[type=submit] >> text=Send', { timeout: 10000 });
        const labels = await page.$$eval('form.entry:first-of-type label', (ls) => ls.map((l) => l.firstChild.textContent.trim()));
        for (const want of ['Program', 'Unit', 'Metric', 'Value']) assert(labels.includes(want), `a field labelled ${want}: ${labels}`);
        await page
          .waitForFunction(() => document.querySelector('.pending-count')?.textContent === '0 pending', null, { timeout: 10000 })
          .catch(async (e) => {
            throw new Error(`${e.message}: ${await page.textContent('main')}`);
          });
        // The programs as this device last saw them.
        assert(await page.$('form.entry select[name=program] option[value="grebek-stunting"]'), 'the programs from the device');
        await shoot(page, { path: path.join(SHOTS, 'phone-390-en-input-no-connection.png') });
        await page.close();
      } finally {
        ctx.pantaud = await startPantaud(ctx.broker, { config: ctx.config, httpPort: ctx.pantaud.httpPort, db: ctx.pantaud.db });
      }
    },
    40000,
  ],
  [
    'no valid session (401): the entries wait for a sign-in, say so, and go once there is one',
    async (ctx) => {
      const OP = 'operator-token-phones-0123456789';
      const sec = await startPantaud(ctx.broker, { config: `${ctx.config}[auth]\noperator = ${OP}\n` });
      const base = `http://127.0.0.1:${sec.httpPort}`;
      const context = await ctx.browser.newContext({ viewport: PHONES[0], isMobile: true, hasTouch: true });
      try {
        const page = await context.newPage();
        const problems = watch(page);
        await page.goto(`${base}/?access_token=${OP}#input`);
        await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
        await page.waitForSelector('form.entry select[name=program] option[value="grebek-stunting"]', { state: 'attached' });
        // Made offline; back online, the session is gone (expired, signed out).
        await context.setOffline(true);
        await page.selectOption('form.entry select[name=program]', 'grebek-stunting');
        await page.fill('form.entry input[name=unit]', 'posyandu-kenanga');
        await page.fill('form.entry input[name=metric]', 'balita_ditimbang');
        await page.fill('form.entry input[name=value]', '21');
        await page.click('form.entry button[type=submit] >> text=Kirim');
        await page.waitForSelector('form.entry .note >> text=Disimpan di perangkat', { timeout: 10000 });
        await context.clearCookies();
        await context.setOffline(false);
        // The 401 keeps it, and says so above everything (a sign-in form too).
        const banner = await page.waitForSelector('.offline-banner:not([hidden])', { timeout: 15000 });
        const said = await banner.textContent();
        assert(said.includes('1 tertunda') && said.includes('Menunggu masuk'), `the banner: ${said}`);
        assertEq(await keptStates(page), ['pending'], 'kept as pending, not rejected');
        // Signed in again: the entry goes.
        await page.goto(`${base}/?access_token=${OP}#input`);
        await page.waitForFunction(() => document.querySelector('.pending-count')?.textContent === '0 tertunda', null, { timeout: 15000 });
        const q = await fetchJson(`${base}/api/v1/series?program=grebek-stunting&unit=posyandu-kenanga`, {
          headers: { authorization: `Bearer ${OP}` },
        });
        assertEq(
          q.json.series.map((x) => x.last_value),
          [21],
          'stored after the sign-in',
        );
        assertEq(problems, [], 'console errors');
      } finally {
        await context.close();
        await sec.stop();
      }
    },
    40000,
  ],
  [
    "a price officer's round: a row per commodity with its reference, one Kirim stores them all",
    async (ctx) => {
      const page = await ctx.context.newPage();
      const problems = watch(page);
      await page.goto(`${ctx.base}/#input`);
      await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
      const row = await page.waitForSelector('form.round label.round-row:has-text("beras medium")', { timeout: 10000 });
      assert((await row.textContent()).includes('Acuan Rp 14.000'), `the reference beside it: ${await row.textContent()}`);
      assertEq((await page.$$('form.round label.round-row')).length, 5, 'a row per commodity');
      await page.fill('form.round input[name=market]', 'pasar-bandar-jaya');
      await page.fill('form.round input[name="price:beras-medium"]', '14.500');
      await page.fill('form.round input[name="price:gula-pasir"]', '17.250');
      await shoot(page, { path: path.join(SHOTS, 'phone-390-id-price-round.png'), fullPage: true });
      await page.click('form.round button[type=submit]');
      await page.waitForSelector('form.round .note >> text=Tersimpan: 2', { timeout: 10000 });
      const q = await fetchJson(`${ctx.base}/api/v1/series?program=simas-bapokting&unit=pasar-bandar-jaya&metric=price`);
      assertEq(
        q.json.series.map((x) => [x.labels.commodity, x.last_value]).sort(),
        [
          ['beras-medium', 14500],
          ['gula-pasir', 17250],
        ],
        'the prices stored',
      );
      assertEq(problems, [], 'console errors');
      await page.close();
    },
  ],
  [
    'a new build: after two reloads the page runs it alone (script, stylesheet, worker cache), no stale mix',
    async (ctx) => {
      const page = await ctx.context.newPage();
      await page.goto(`${ctx.base}/#input`);
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 10000 });
      assertEq(await page.getAttribute('html', 'data-build'), 'pantau', 'the first build');
      const second = path.join(tmpdir(), 'dashboard-2');
      execFileSync('node', [path.join(repoRoot, 'dashboard/build.mjs'), second], {
        env: { ...process.env, PANTAU_BUILD: 'phones-2' },
        stdio: 'ignore',
      });
      const version = /pantau-[0-9a-f]{16}/.exec(fs.readFileSync(path.join(second, 'sw.js'), 'utf8'))[0];
      const oldVersion = /pantau-[0-9a-f]{16}/.exec(fs.readFileSync(path.join(DASHBOARD, 'sw.js'), 'utf8'))[0];
      assert(version !== oldVersion, 'a new worker version');
      await ctx.pantaud.stop();
      ctx.config2 = ctx.config.replace(`dashboard = ${DASHBOARD}`, `dashboard = ${second}`);
      ctx.pantaud = await startPantaud(ctx.broker, { config: ctx.config2, httpPort: ctx.pantaud.httpPort, db: ctx.pantaud.db });
      await page.reload();
      await page.waitForSelector('form.entry', { timeout: 10000 });
      await page.reload();
      await page.waitForSelector('form.entry', { timeout: 10000 });
      await until(
        async () => JSON.stringify(await page.evaluate(() => caches.keys())) === JSON.stringify([version]),
        10000,
        'only the new cache',
      );
      assertEq(await page.getAttribute('html', 'data-build'), 'phones-2', 'the page runs the new build');
      const assets = fs.readdirSync(path.join(second, 'assets'));
      const used = await page.evaluate(() => [
        ...[...document.querySelectorAll('script[src], link[rel=stylesheet]')].map((e) => e.src || e.href),
        ...performance.getEntriesByType('resource').map((r) => r.name),
      ]);
      for (const u of used.filter((x) => x.includes('/assets/')))
        assert(assets.includes(u.split('/assets/')[1]), `a file of the new build: ${u}`);
      // Offline, the new build's page opens (from the new cache).
      await ctx.context.setOffline(true);
      await page.reload();
      await page.waitForSelector('form.entry', { timeout: 10000 });
      assertEq(await page.getAttribute('html', 'data-build'), 'phones-2', 'offline: the new build');
      await ctx.context.setOffline(false);
      await page.close();
    },
    60000,
  ],
  [
    'axe-core: no serious or critical violation on the phone views',
    async (ctx) => {
      const page = await ctx.browser.newPage({ viewport: PHONES[0], isMobile: true, hasTouch: true });
      track(page);
      await page.goto(`${ctx.base}/`);
      await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
      await page.evaluate(fs.readFileSync(AXE, 'utf8'));
      const found = [];
      for (const v of VIEWS) {
        await page.evaluate((hh) => (location.hash = hh), v);
        await settled(page, `axe #${v}`);
        const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations);
        for (const x of violations)
          if (x.impact === 'serious' || x.impact === 'critical')
            found.push(
              `#${v}: ${x.id} (${x.impact}) ${x.nodes
                .slice(0, 3)
                .map((n) => n.target.join(' '))
                .join(', ')}`,
            );
      }
      await page.close();
      assertEq(found, [], 'axe violations');
    },
    60000,
  ],
];

runCases(FILE, cases, { before, after, totalMs: 290000 });
