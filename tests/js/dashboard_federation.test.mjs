// dashboard_federation.test.mjs — the dashboard's side of CONTRACT §7 in a
// real browser (Debian's chromium via playwright-core) against real parts:
// one mosquitto, a regency pantaud (Lampung Tengah's catalog, [federation]
// publish, heartbeat 10 s) and a hub pantaud ([federation] hub, its catalog
// expecting Lampung Tengah and Kota Bima, which never publishes), with an
// admin and a viewer account on the hub and a viewer token for the wall.
//  1. #wilayah lists both regions in the API's order, Kota Bima waiting
//     ("belum terdengar"); Lampung Tengah's six heat cells and overall
//     progress are the API's (as the dashboard formats them), its health
//     word is status.js's; the navigation offers #wilayah on the hub only;
//  2. the province filter shows one province's regions, and all again;
//  3. a region opens its latest STATE's programs as tiles (every program's
//     name, the headline KPI's current), and its dimensions; a waiting
//     region says it has not been heard;
//  4. #evaluasi: an admin creates one with the form; it is listed (name,
//     creator) and opens as a page with the regions table, which prints to
//     an A4 PDF; a viewer sees the list but no form; on the regency an
//     evaluation's page shows its report (report.js's page);
//  5. English: the labels of both views;
//  6. phones (390×844): #wilayah, a region, #evaluasi and an evaluation
//     have no horizontal scroll and every number inside the window;
//  7. axe-core: no serious or critical violation on either view (laptop);
//  8. the wall (?kiosk=1, 1920×1080) with 40 regions (38 more published as
//     STATEs): #wilayah fits (document scroll size = window, no card
//     clipped), it is in the rotation, and the rotation reaches it;
//  9. #wilayah sorted by province then name (and by progress), the choice
//     and the province filter in the hash: kept by a reload and by a
//     region's way back; on the wall and a phone;
// 10. #evaluasi/banding: two evaluations the test makes from STATEs of
//     known values (one region rose, one fell, one unchanged, one new):
//     the rises and falls per region and dimension, biggest first, the
//     new region "only in the later"; swapped; English; the wall, a phone
//     (no horizontal scroll), axe-core;
// with screenshots in $BUILD/screenshots/wilayah-*.png, evaluasi-*.png, and
// no console error in any case (but the 401 a sign-in page provokes).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  PANTAUD,
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

// A wait that failed says what the page showed and what pantaud logged
// (these waits failed once in a full suite and never alone: the next
// failure should say why).
async function said(e, page, pd) {
  const main = await page.textContent('main').catch(() => '?');
  const log = pd.readLog().split('\n').slice(-15).join('\n');
  throw new Error(`${e.message}\n--- the page: ${main.slice(0, 800)}\n--- pantaud's log:\n${log}`);
}

const FILE = 'dashboard_federation.test.mjs';
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const BUILD = path.resolve(repoRoot, process.env.BUILD || 'build');
const SHOTS = path.join(BUILD, 'screenshots');
const CATALOG = path.join(repoRoot, 'config/catalog/lampung-tengah.ini');
const WALL = 'dinding-provinsi-0123456789';
const ADMIN = 'admin-provinsi-token-9876543210';
const PW = { budi: 'rahasia-admin-001', eka: 'rahasia-eka-00004' };
const DIMS = ['governance', 'branding', 'economy', 'living', 'society', 'environment'];
const EXPECTED = /status of 401/; // the sign-in page's /me before signing in
const pctText = (v, lang = 'id') =>
  v === null || v === undefined
    ? '–'
    : `${new Intl.NumberFormat(lang === 'en' ? 'en-GB' : 'id-ID', { maximumFractionDigits: 0 }).format(v * 100)} %`;

function cli(db, args, input = '') {
  const r = spawnSync(PANTAUD, ['--db', db, 'user', ...args], { input, encoding: 'utf8', timeout: 20000 });
  if (r.status !== 0) throw new Error(`pantaud user ${args.join(' ')}: ${r.stderr}`);
}

async function before() {
  const dir = tmpdir();
  const hubCatalog = path.join(dir, 'hub.ini');
  fs.writeFileSync(
    hubCatalog,
    '[regency]\nid = provinsi\nname = Provinsi Uji\n' +
      '[region lampung-tengah]\nname = Lamteng (katalog)\ncode = 18.02\nprovince = Lampung\n' +
      '[region kota-bima]\nname = Kota Bima\ncode = 52.72\nprovince = Nusa Tenggara Barat\n',
  );
  const db = path.join(dir, 'hub.db');
  cli(db, ['add', 'budi', '--role', 'admin'], `${PW.budi}\n`);
  cli(db, ['add', 'eka', '--role', 'viewer'], `${PW.eka}\n`);
  const broker = await startBroker();
  const hub = await startPantaud(broker, {
    db,
    config: `[federation]\nhub = yes\n[auth]\nviewer = ${WALL}\nadmin = ${ADMIN}\n`,
    args: ['--catalog', hubCatalog],
  });
  const regency = await startPantaud(broker, {
    config: '[federation]\npublish = yes\nheartbeat = 10s\n',
    args: ['--catalog', CATALOG],
  });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  fs.mkdirSync(SHOTS, { recursive: true });
  const ctx = { broker, hub, regency, browser, db, base: `http://127.0.0.1:${hub.httpPort}`, wallQ: `access_token=${WALL}` };
  ctx.api = async (p) => {
    const r = await fetchJson(`${ctx.base}${p}`, { headers: { authorization: `Bearer ${WALL}` } });
    assertEq(r.status, 200, `GET ${p}`);
    return r.json;
  };
  await until(
    async () => (await ctx.api('/api/v1/regions')).regions.some((r) => r.last_seen !== null),
    20000,
    'the hub to hear Lampung Tengah',
  );
  return ctx;
}

async function open(ctx, url, viewport = { width: 1366, height: 768 }) {
  const context = await ctx.browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => m.type() === 'error' && !EXPECTED.test(m.text()) && problems.push(m.text()));
  await page.goto(`${ctx.base}${url}`);
  return { context, page, problems };
}

async function signIn(page, user) {
  await page.waitForSelector('.signin input[name=user]', { timeout: 10000 });
  await page.fill('.signin input[name=user]', user);
  await page.fill('.signin input[name=password]', PW[user]);
  await page.click('.signin button[type=submit]');
  await page.waitForSelector('header.top .who-name', { timeout: 10000 });
}

const shot = (page, name, opts = {}) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), ...opts });
const cards = (page) =>
  page.$$eval('.regions .region', (els) =>
    els.map((e) => ({
      id: e.dataset.region,
      name: e.querySelector('.region-name').textContent,
      code: e.querySelector('.region-code')?.textContent ?? null,
      province: e.querySelector('.region-prov').textContent,
      heat: [...e.querySelectorAll('.heat-cell')].map((c) => [c.dataset.dim, c.querySelector('.heat-val').textContent, c.className]),
      pct: e.querySelector('.region-pct').textContent,
      health: e.querySelector('.region-overall .badge')?.textContent ?? null,
      seen: e.querySelector('.region-seen').textContent,
      waiting: e.classList.contains('is-waiting'),
    })),
  );
async function noHScroll(page, what) {
  const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
  assert(sw <= w, `${what}: no horizontal scroll (${sw} > ${w})`);
}
const wallScroll = (page) =>
  page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight, innerWidth, innerHeight]);

// A STATE (CONTRACT §7) of known values: one program of `progress`, the six
// dimensions at 0.5 but for those `dims` names (null: no value).
function stateOf(id, name, code, generatedAt, progress, dims = {}) {
  return {
    regency: { id, name, code, province: 'Bali', timezone: '+08:00' },
    generated_at: generatedAt,
    programs: [
      {
        id: 'p0',
        name: 'P0',
        dimension: 'governance',
        agency: null,
        description: null,
        status: 'running',
        progress,
        health: 'on_track',
        kpis: [],
      },
    ],
    dimensions: DIMS.map((d) => ({ id: d, name: d, programs: 1, running: 1, catalogued: 1, progress: d in dims ? dims[d] : 0.5 })),
    alerts: [],
    units: { online: 1, offline: 0, stale: 0 },
  };
}
// Numbers cut by a phone's window: an element of main with digits of its
// own outside [0, W], and the document wider than W.
const phoneBad = (page, W) =>
  page.evaluate((W) => {
    const out = [];
    if (document.documentElement.scrollWidth > W) out.push(`scrollWidth ${document.documentElement.scrollWidth}`);
    for (const e of document.querySelectorAll('main *')) {
      const own = [...e.childNodes]
        .filter((n) => n.nodeType === 3)
        .map((n) => n.textContent)
        .join('');
      if (!/\d/.test(own)) continue;
      const r = e.getBoundingClientRect();
      if (r.width && (r.left < -1 || r.right > W + 1))
        out.push(`"${own.trim().slice(0, 30)}" outside (${Math.round(r.left)}..${Math.round(r.right)})`);
    }
    return out;
  }, W);
const phoneContext = (ctx) =>
  ctx.browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
const ids = (page) => cards(page).then((cs) => cs.map((c) => c.id));
// The comparison's rows: id, and each change cell's direction, text (arrow,
// the screen reader's word, the signed points) and points.
const compareRows = (page) =>
  page.$$eval('table.eval-compare tbody tr', (trs) =>
    trs.map((tr) => ({
      id: tr.dataset.row,
      ...Object.fromEntries(
        [...tr.querySelectorAll('td[data-dim]')].map((td) => {
          const c = td.querySelector('.chg');
          return [
            td.dataset.dim,
            { dir: c.classList[1], text: td.textContent.trim(), d: c.dataset.d === undefined ? null : Number(c.dataset.d) },
          ];
        }),
      ),
    })),
  );

const cases = [
  [
    '#wilayah: both regions in the API order, one waiting; the heard one equals the API; the hub only offers it',
    async (ctx) => {
      const { context, page, problems } = await open(ctx, `/?${ctx.wallQ}#wilayah`);
      await page.waitForSelector('.regions .region[data-region="kota-bima"]', { timeout: 10000 });
      const api = (await ctx.api('/api/v1/regions')).regions;
      const got = await cards(page);
      assertEq(
        got.map((c) => c.id),
        api.map((r) => r.id),
        'cards in the API order (by code)',
      );
      assertEq(
        got.map((c) => c.id),
        ['lampung-tengah', 'kota-bima'],
        'by code: 18.02 before 52.72',
      );
      const bima = got.find((c) => c.id === 'kota-bima');
      assert(bima.waiting, 'Kota Bima is marked waiting');
      assertEq(bima.seen, 'belum terdengar', 'Kota Bima not heard yet');
      assertEq(bima.pct, '–', 'a waiting region has no progress');
      const lt = got.find((c) => c.id === 'lampung-tengah');
      const r = api.find((x) => x.id === 'lampung-tengah');
      assertEq([lt.name, lt.code, lt.province], [r.name, r.code, r.province], 'name, code, province');
      assertEq(
        lt.heat.map(([d, v]) => [d, v]),
        DIMS.map((d) => [d, pctText(r.dimensions.find((x) => x.id === d)?.progress)]),
        'the six dimensions as the API gives them',
      );
      assertEq(lt.pct, pctText(r.progress), 'overall progress');
      for (const [, , cls] of lt.heat) assert(/heat-cell (good|warn|bad|idle)/.test(cls), `a heat colour: ${cls}`);
      const words = {
        achieved: 'tercapai',
        on_track: 'sesuai jalur',
        at_risk: 'perlu percepatan',
        off_track: 'tertinggal',
        worsening: 'memburuk',
        missed: 'tidak tercapai',
        not_started: 'belum dimulai',
        no_data: 'belum ada data',
      };
      assertEq(lt.health, words[r.health || 'no_data'], `health word of ${r.health}`);
      assert(!lt.waiting && /terakhir terdengar/.test(lt.seen), `last heard: ${lt.seen}`);
      assert(await page.$('header nav a[href="#wilayah"]'), 'the hub offers #wilayah');
      assert(await page.$('header nav a[href="#evaluasi"]'), '#evaluasi in the navigation');
      await noHScroll(page, '#wilayah at 1366x768');
      await shot(page, 'wilayah-1366x768-id');
      // The regency (no regions) does not offer it.
      const reg = await context.newPage();
      await reg.goto(`http://127.0.0.1:${ctx.regency.httpPort}/`);
      await reg.waitForSelector('header nav a[href="#evaluasi"]', { timeout: 10000 });
      await sleep(500);
      assert(!(await reg.$('header nav a[href="#wilayah"]')), 'a regency does not offer #wilayah');
      // Re-read every 10 s (no websocket frames for regions).
      let reads = 0;
      page.on('request', (q) => q.url().endsWith('/api/v1/regions') && reads++);
      await sleep(11000);
      assert(reads >= 1 && reads <= 2, `/api/v1/regions read ${reads} times in 11 s`);
      assertEq(problems, [], 'console errors');
      await context.close();
    },
    45000,
  ],
  [
    '#wilayah: the province filter',
    async (ctx) => {
      const { context, page, problems } = await open(ctx, `/?${ctx.wallQ}#wilayah`);
      await page.waitForSelector('.regions .region[data-region="kota-bima"]', { timeout: 10000 });
      await page.selectOption('.region-filter select', 'Nusa Tenggara Barat');
      assertEq(
        (await cards(page)).map((c) => c.id),
        ['kota-bima'],
        'NTB only',
      );
      await page.selectOption('.region-filter select', 'Lampung');
      assertEq(
        (await cards(page)).map((c) => c.id),
        ['lampung-tengah'],
        'Lampung only',
      );
      await shot(page, 'wilayah-filter-lampung-id');
      await page.selectOption('.region-filter select', '');
      assertEq((await cards(page)).length, 2, 'all again');
      assertEq(problems, [], 'console errors');
      await context.close();
    },
  ],
  [
    'a region opens its programs (tiles from its STATE); a waiting one says so',
    async (ctx) => {
      const { context, page, problems } = await open(ctx, `/?${ctx.wallQ}#wilayah`);
      await page.waitForSelector('.regions .region[data-region="lampung-tengah"]', { timeout: 10000 });
      await page.click('.region[data-region="lampung-tengah"]');
      await page.waitForSelector('.tiles .tile', { timeout: 10000 });
      assertEq(await page.evaluate(() => location.hash), '#wilayah/lampung-tengah', 'the route');
      const { state } = await ctx.api('/api/v1/regions/lampung-tengah');
      const tiles = await page.$$eval('.tiles .tile', (els) =>
        els.map((e) => ({
          id: e.dataset.program,
          name: e.querySelector('.tile-name').textContent,
          big: e.querySelector('.tile-value .big')?.textContent ?? null,
        })),
      );
      assertEq(
        tiles.map((x) => [x.id, x.name]),
        state.programs.map((p) => [p.id, p.name]),
        'every program of the STATE, in its order',
      );
      const own = (await fetchJson(`http://127.0.0.1:${ctx.regency.httpPort}/api/v1/programs`)).json.programs;
      assertEq(
        tiles.map((x) => x.id),
        own.map((p) => p.id),
        "the regency's own programs",
      );
      assertEq((await page.$$('.dims .dim')).length, 6, 'the six dimensions');
      assert((await page.textContent('main h1')).includes(state.regency.name), 'the region named');
      await noHScroll(page, 'a region at 1366x768');
      await shot(page, 'wilayah-region-1366x768-id');
      await page.evaluate(() => (location.hash = '#wilayah/kota-bima'));
      await page.waitForFunction(() => document.querySelector('main')?.textContent.includes('belum terdengar'), null, { timeout: 5000 });
      assertEq((await page.$$('.tiles .tile')).length, 0, 'a waiting region has no tiles');
      await page.evaluate(() => (location.hash = '#wilayah/tidak-ada'));
      await page.waitForFunction(() => document.querySelector('main')?.textContent.includes('tidak dikenal'), null, { timeout: 5000 });
      assertEq(
        problems.filter((p) => !/status of 404/.test(p)),
        [],
        'console errors (but the unknown region 404)',
      );
      await context.close();
    },
  ],
  [
    '#evaluasi: an admin creates one, it is listed and opens as a printable page; a viewer sees no form',
    async (ctx) => {
      const { context, page, problems } = await open(ctx, '/#evaluasi');
      await signIn(page, 'budi');
      await page.waitForSelector('form.eval-form input[name=name]', { timeout: 10000 });
      await page.fill('form.eval-form input[name=name]', 'Evaluasi Uji Desember');
      await page.click('form.eval-form button[type=submit]');
      await page.waitForSelector('table.evaluations tbody tr', { timeout: 10000 });
      const list = (await ctx.api('/api/v1/evaluations')).evaluations;
      assertEq(list.length, 1, 'one evaluation');
      assertEq([list[0].name, list[0].created_by], ['Evaluasi Uji Desember', 'budi'], 'name and creator');
      const row = await page.textContent(`table.evaluations tr[data-eval="${list[0].id}"]`);
      assert(row.includes('Evaluasi Uji Desember') && row.includes('budi'), `the listed row: ${row}`);
      await shot(page, 'evaluasi-list-admin-id');
      await page.click(`table.evaluations tr[data-eval="${list[0].id}"] a`);
      await page.waitForSelector('article.evaluation table.eval-regions', { timeout: 10000 });
      const regions = await page.$$eval('table.eval-regions tbody tr', (rs) => rs.map((r) => r.dataset.region));
      assertEq(regions, ['lampung-tengah', 'kota-bima'], "the evaluation's regions, in its order");
      await noHScroll(page, 'an evaluation at 1366x768');
      await shot(page, 'evaluasi-page-id', { fullPage: true });
      await page.emulateMedia({ media: 'print' });
      const pdf = path.join(SHOTS, 'evaluasi.pdf');
      await page.pdf({ path: pdf, format: 'A4', printBackground: true });
      const text = execFileSync('pdftotext', ['-f', '1', '-l', '1', '-layout', pdf, '-'], { encoding: 'utf8' });
      for (const want of ['Evaluasi Uji Desember', 'Kota Bima', 'belum terdengar'])
        assert(text.includes(want), `the PDF has "${want}":\n${text.slice(0, 600)}`);
      assert(!text.includes('Semua evaluasi'), 'the back link does not print');
      assertEq(problems, [], 'console errors (admin)');
      await context.close();
      // A viewer: the list, no form.
      const v = await open(ctx, '/#evaluasi');
      await signIn(v.page, 'eka');
      await v.page.waitForSelector('table.evaluations tbody tr', { timeout: 10000 });
      assert(!(await v.page.$('form.eval-form')), 'no form for a viewer');
      assertEq(v.problems, [], 'console errors (viewer)');
      await v.context.close();
      // The regency (open, no accounts): an evaluation is its report.
      const reg = await ctx.browser.newContext({ viewport: { width: 1366, height: 768 } });
      const rp = await reg.newPage();
      const rProblems = [];
      rp.on('console', (m) => m.type() === 'error' && rProblems.push(m.text()));
      await rp.goto(`http://127.0.0.1:${ctx.regency.httpPort}/#evaluasi`);
      await rp.waitForSelector('form.eval-form input[name=name]', { timeout: 10000 });
      await rp.fill('form.eval-form input[name=name]', 'Evaluasi Kabupaten');
      await rp.click('form.eval-form button[type=submit]');
      await rp.waitForSelector('table.evaluations tbody tr a', { timeout: 10000 }).catch((e) => said(e, rp, ctx.regency));
      await rp.click('table.evaluations tbody tr a');
      await rp.waitForSelector('article.report .report-program', { timeout: 10000 });
      const rt = await rp.textContent('main');
      assert(
        rt.includes('Evaluasi Kabupaten') && rt.includes('Kabupaten Lampung Tengah') && rt.includes('Smart Governance'),
        'the report on the page',
      );
      assert(!(await rp.$('table.eval-regions')), 'no regions table on a regency');
      await rp.screenshot({ path: path.join(SHOTS, 'evaluasi-regency-id.png'), fullPage: true });
      assertEq(rProblems, [], 'console errors (regency)');
      await reg.close();
    },
    60000,
  ],
  [
    'English: both views',
    async (ctx) => {
      const { context, page, problems } = await open(ctx, `/?lang=en&${ctx.wallQ}#wilayah`);
      await page.waitForSelector('.regions .region[data-region="kota-bima"]', { timeout: 10000 });
      const bima = (await cards(page)).find((c) => c.id === 'kota-bima');
      assertEq(bima.seen, 'not heard yet', 'waiting in English');
      const main = await page.textContent('main');
      for (const w of ['Regions', 'All provinces', 'last heard', 'Gov', 'Env'])
        assert(main.includes(w), `"${w}" in English: ${main.slice(0, 300)}`);
      assert(!/belum|terdengar|Semua/.test(main), `no Bahasa left: ${main.slice(0, 300)}`);
      await shot(page, 'wilayah-1366x768-en');
      await page.evaluate(() => (location.hash = '#evaluasi'));
      await page.waitForSelector('table.evaluations', { timeout: 10000 });
      const ev = await page.textContent('main');
      for (const w of ['Evaluations', 'Name', 'As of', 'Created', 'By']) assert(ev.includes(w), `"${w}" in English`);
      assertEq(problems, [], 'console errors');
      await context.close();
    },
  ],
  [
    'phones 390x844: #wilayah, a region, #evaluasi and an evaluation without horizontal scroll',
    async (ctx) => {
      const context = await ctx.browser.newContext({
        viewport: { width: 390, height: 844 },
        isMobile: true,
        hasTouch: true,
        deviceScaleFactor: 2,
      });
      const page = await context.newPage();
      const problems = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      const id = (await ctx.api('/api/v1/evaluations')).evaluations[0].id;
      const found = [];
      for (const lang of ['id', 'en']) {
        await page.goto(`${ctx.base}/?lang=${lang}&${ctx.wallQ}#wilayah`);
        await page.waitForSelector('.regions .region', { timeout: 10000 });
        for (const [v, sel] of [
          ['wilayah', '.regions .region'],
          ['wilayah/lampung-tengah', '.tiles .tile'],
          ['evaluasi', 'table.evaluations'],
          [`evaluasi/${id}`, 'table.eval-regions'],
        ]) {
          await page.evaluate((hh) => (location.hash = hh), v);
          await page.waitForSelector(sel, { timeout: 10000 });
          await sleep(300);
          const bad = await page.evaluate(() => {
            const out = [];
            const W = 390;
            if (innerWidth !== W) out.push(`innerWidth ${innerWidth}`);
            if (document.documentElement.scrollWidth > W) out.push(`scrollWidth ${document.documentElement.scrollWidth}`);
            for (const e of document.querySelectorAll('main *')) {
              const own = [...e.childNodes]
                .filter((n) => n.nodeType === 3)
                .map((n) => n.textContent)
                .join('');
              if (!/\d/.test(own)) continue;
              const r = e.getBoundingClientRect();
              if (r.width && (r.left < -1 || r.right > W + 1))
                out.push(`"${own.trim().slice(0, 30)}" outside (${Math.round(r.left)}..${Math.round(r.right)})`);
            }
            return out;
          });
          for (const b of bad) found.push(`${lang} #${v}: ${b}`);
          await shot(page, `wilayah-phone-390-${lang}-${v.replace(/\//g, '-')}`, { fullPage: true });
        }
      }
      assertEq(found, [], 'phone layout problems');
      assertEq(problems, [], 'console errors');
      await context.close();
    },
    60000,
  ],
  [
    'axe-core: no serious or critical violation on #wilayah, a region, #evaluasi, an evaluation',
    async (ctx) => {
      const id = (await ctx.api('/api/v1/evaluations')).evaluations[0].id;
      const { context, page, problems } = await open(ctx, `/?${ctx.wallQ}#wilayah`);
      await page.waitForSelector('.regions .region', { timeout: 10000 });
      // Evaluated, not a <script> tag: the page's CSP refuses inline scripts.
      await page.evaluate(fs.readFileSync(AXE, 'utf8'));
      const found = [];
      for (const [v, sel] of [
        ['wilayah', '.regions .region'],
        ['wilayah/lampung-tengah', '.tiles .tile'],
        ['evaluasi', 'table.evaluations'],
        [`evaluasi/${id}`, 'table.eval-regions'],
      ]) {
        await page.evaluate((hh) => (location.hash = hh), v);
        await page.waitForSelector(sel, { timeout: 10000 });
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
      assertEq(found, [], 'axe violations');
      assertEq(problems, [], 'console errors');
      await context.close();
    },
    60000,
  ],
  [
    'the wall 1920x1080 with 40 regions: #wilayah fits, is in the rotation and the rotation reaches it',
    async (ctx) => {
      // 38 more regions, as STATEs on the broker.
      const pub = await mqttPublisher(ctx.broker);
      const now = Date.now();
      for (let i = 0; i < 38; i++) {
        const id = `kab-uji-${String(i).padStart(2, '0')}`;
        const state = {
          regency: {
            id,
            name: `Kabupaten Uji Panjang Namanya ${i}`,
            code: `6${i % 3}.${String(i + 1).padStart(2, '0')}`,
            province: ['Sulawesi Tengah', 'Kalimantan Barat', 'Maluku'][i % 3],
            timezone: '+08:00',
          },
          generated_at: now - 1000,
          programs: [0, 1, 2].map((j) => ({
            id: `p${j}`,
            name: `P${j}`,
            dimension: DIMS[j],
            agency: null,
            description: null,
            status: 'running',
            progress: ((i * 7 + j * 13) % 100) / 100,
            health: ['on_track', 'at_risk', 'off_track'][(i + j) % 3],
            kpis: [],
          })),
          dimensions: DIMS.map((d, k) => ({
            id: d,
            name: d,
            programs: 1,
            running: 1,
            catalogued: 1,
            progress: k === 5 && i % 4 === 0 ? null : ((i * 11 + k * 17) % 100) / 100,
          })),
          alerts: [],
          units: { online: 1, offline: 0, stale: 0 },
        };
        await pub.publish(`pantau-fed/${id}/state`, JSON.stringify(state));
      }
      await pub.close();
      await until(async () => (await ctx.api('/api/v1/regions')).regions.length === 40, 10000, '40 regions on the hub');
      for (const lang of ['id', 'en']) {
        const { context, page, problems } = await open(ctx, `/?kiosk=1&rotate=600&lang=${lang}&${ctx.wallQ}#wilayah`, {
          width: 1920,
          height: 1080,
        });
        await page.waitForFunction(() => document.querySelectorAll('.regions .region').length === 40, null, { timeout: 15000 });
        await sleep(1500); // the wall's fit runs at most once a second
        const [sw, sh, w, hh] = await wallScroll(page);
        assertEq([sw, sh], [w, hh], `scroll size of #wilayah at 1920x1080 (${lang})`);
        const clipped = await page.evaluate(
          () =>
            [document.querySelector('main'), ...document.querySelectorAll('.region')].filter(
              (e) => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1,
            ).length,
        );
        assertEq(clipped, 0, `clipped cards (${lang})`);
        // Every heat value and label whole, inside its cell.
        const cut = await page.evaluate(
          () =>
            [...document.querySelectorAll('.heat-cell')].filter((c) => {
              const r = c.getBoundingClientRect();
              return [...c.children].some((e) => {
                const q = e.getBoundingClientRect();
                return e.scrollWidth > e.clientWidth + 1 || q.left < r.left - 1 || q.right > r.right + 1;
              });
            }).length,
        );
        assertEq(cut, 0, `heat cells with a value or label cut (${lang})`);
        // Every value readable: a heat value at least 9 px tall.
        const small = await page.$eval('.heat-val', (e) => parseFloat(getComputedStyle(e).fontSize));
        assert(small >= 9, `heat values readable on the wall: ${small}px`);
        assert(await page.$('header nav a[href="#wilayah"]'), 'in the wall navigation');
        await shot(page, `wilayah-kiosk-1920x1080-${lang}`);
        assertEq(problems, [], `console errors (${lang})`);
        await context.close();
      }
      // The rotation reaches #wilayah by itself (every 5 s).
      const { context, page, problems } = await open(ctx, `/?kiosk=1&rotate=5&${ctx.wallQ}#peringatan`, { width: 1920, height: 1080 });
      await page.waitForFunction(() => location.hash === '#wilayah', null, { timeout: 30000 });
      await page.waitForSelector('.regions .region', { timeout: 10000 });
      assertEq(problems, [], 'console errors (rotation)');
      await context.close();
    },
    90000,
  ],
  [
    "#wilayah: sorted by province then name, kept in the hash (a reload, a region's way back); the wall and a phone",
    async (ctx) => {
      const api = (await ctx.api('/api/v1/regions')).regions;
      assertEq(api.length, 40, 'the 40 regions of the wall case');
      const byProv = [...api]
        .sort((a, b) => a.province.localeCompare(b.province, 'id') || a.name.localeCompare(b.name, 'id', { numeric: true }))
        .map((r) => r.id);
      assert(byProv.join() !== api.map((r) => r.id).join(), 'the province order is not the code order');
      const { context, page, problems } = await open(ctx, `/?${ctx.wallQ}#wilayah`);
      await page.waitForFunction(() => document.querySelectorAll('.regions .region').length === 40, null, { timeout: 15000 });
      await page.selectOption('.region-sort select', 'provinsi');
      assertEq(await ids(page), byProv, 'by province, then name');
      await page.waitForFunction(() => location.hash === '#wilayah/urut=provinsi', null, { timeout: 5000 });
      await shot(page, 'wilayah-sort-provinsi-1366x768-id');
      await page.selectOption('.region-filter select', 'Maluku');
      await page.waitForFunction(() => location.hash === '#wilayah/urut=provinsi&provinsi=Maluku', null, { timeout: 5000 });
      const maluku = byProv.filter((id) => api.find((r) => r.id === id).province === 'Maluku');
      assertEq(await ids(page), maluku, 'Maluku, by name');
      await page.reload();
      await page.waitForFunction((n) => document.querySelectorAll('.regions .region').length === n, maluku.length, { timeout: 15000 });
      assertEq(await ids(page), maluku, 'the same after a reload');
      assertEq(
        [await page.$eval('.region-sort select', (e) => e.value), await page.$eval('.region-filter select', (e) => e.value)],
        ['provinsi', 'Maluku'],
        'the choices shown after a reload',
      );
      await page.click(`.region[data-region="${maluku[0]}"]`);
      await page.waitForSelector('a.back', { timeout: 10000 });
      await page.click('a.back');
      await page.waitForFunction(() => location.hash === '#wilayah/urut=provinsi&provinsi=Maluku', null, { timeout: 5000 });
      await page.waitForSelector('.regions .region', { timeout: 10000 });
      assertEq(await ids(page), maluku, "a region's way back keeps the order and the filter");
      await page.selectOption('.region-filter select', '');
      await page.selectOption('.region-sort select', 'kemajuan-rendah');
      await page.waitForFunction(() => location.hash === '#wilayah/urut=kemajuan-rendah', null, { timeout: 5000 });
      const low = api
        .map((r, i) => [r, i])
        .sort(([a, i], [b, j]) => (a.progress ?? 2) - (b.progress ?? 2) || i - j)
        .map(([r]) => r.id);
      assertEq(await ids(page), low, 'lowest progress first, never heard last');
      assertEq(problems, [], 'console errors');
      await context.close();
      for (const lang of ['id', 'en']) {
        const w = await open(ctx, `/?kiosk=1&rotate=600&lang=${lang}&${ctx.wallQ}#wilayah/urut=provinsi`, { width: 1920, height: 1080 });
        await w.page.waitForFunction(() => document.querySelectorAll('.regions .region').length === 40, null, { timeout: 15000 });
        await sleep(1500); // the wall's fit
        assertEq(await ids(w.page), byProv, `the wall by province (${lang})`);
        const [sw, sh, ww, wh] = await wallScroll(w.page);
        assertEq([sw, sh], [ww, wh], `the wall fits (${lang})`);
        await shot(w.page, `wilayah-sort-kiosk-1920x1080-${lang}`);
        assertEq(w.problems, [], `console errors (wall, ${lang})`);
        await w.context.close();
        if (lang === 'en') continue;
        // The rotation leaves #wilayah and comes back to it sorted.
        const r = await open(ctx, `/?kiosk=1&rotate=5&${ctx.wallQ}#wilayah/urut=provinsi`, { width: 1920, height: 1080 });
        await r.page.waitForFunction(() => !location.hash.startsWith('#wilayah'), null, { timeout: 15000 });
        await r.page.waitForFunction(() => location.hash === '#wilayah/urut=provinsi', null, { timeout: 30000 });
        await r.page.waitForFunction(() => document.querySelectorAll('.regions .region').length === 40, null, { timeout: 10000 });
        assertEq(await ids(r.page), byProv, 'the rotation comes back to #wilayah by province');
        assertEq(r.problems, [], 'console errors (rotation)');
        await r.context.close();
        const phone = await phoneContext(ctx);
        const pp = await phone.newPage();
        const pProblems = [];
        pp.on('console', (m) => m.type() === 'error' && pProblems.push(m.text()));
        await pp.goto(`${ctx.base}/?lang=${lang}&${ctx.wallQ}#wilayah/urut=provinsi`);
        await pp.waitForFunction(() => document.querySelectorAll('.regions .region').length === 40, null, { timeout: 15000 });
        assertEq(await ids(pp), byProv, `a phone by province (${lang})`);
        assertEq(await phoneBad(pp, 390), [], `phone layout (${lang})`);
        await shot(pp, `wilayah-sort-phone-390-${lang}`);
        assertEq(pProblems, [], `console errors (phone, ${lang})`);
        await phone.close();
      }
    },
    90000,
  ],
  [
    '#evaluasi/banding: two evaluations of known values compared, per region and dimension, biggest change first',
    async (ctx) => {
      const admin = { authorization: `Bearer ${ADMIN}` };
      const evaluate = async (body) => {
        const r = await fetchJson(`${ctx.base}/api/v1/evaluations`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
        assertEq(r.status, 201, `POST evaluation ${body.name}: ${JSON.stringify(r.json)}`);
        return r.json.evaluation;
      };
      const pub = await mqttPublisher(ctx.broker);
      const t0 = Date.now();
      // June: three regions of Bali.
      const june = [
        stateOf('cmp-naik', 'Kota Naik', '51.01', t0 - 5000, 0.4, { governance: 0.2, economy: 0.6 }),
        stateOf('cmp-turun', 'Kabupaten Turun', '51.02', t0 - 5000, 0.7, { living: 0.8, environment: null }),
        stateOf('cmp-tetap', 'Kabupaten Tetap', '51.03', t0 - 5000, 0.5),
      ];
      for (const st of june) await pub.publish(`pantau-fed/${st.regency.id}/state`, JSON.stringify(st));
      await until(
        async () => (await ctx.api('/api/v1/regions')).regions.filter((r) => r.id.startsWith('cmp-') && r.last_seen !== null).length === 3,
        10000,
        "June's three regions on the hub",
      );
      const a = await evaluate({ name: 'Evaluasi Juni', as_of: t0 - 2000 });
      // November: one rose, one fell, one did not publish, one is new.
      const november = [
        stateOf('cmp-naik', 'Kota Naik', '51.01', t0 - 1000, 0.55, { governance: 0.5, economy: 0.5 }),
        stateOf('cmp-turun', 'Kabupaten Turun', '51.02', t0 - 1000, 0.45, { living: 0.3, environment: 0.4 }),
        stateOf('cmp-baru', 'Kota Baru', '51.04', t0 - 1000, 0.3),
      ];
      for (const st of november) await pub.publish(`pantau-fed/${st.regency.id}/state`, JSON.stringify(st));
      await pub.close();
      await until(
        async () => {
          const rs = (await ctx.api('/api/v1/regions')).regions;
          return (
            ['cmp-naik', 'cmp-turun', 'cmp-baru'].every((id) => rs.find((r) => r.id === id)?.last_seen >= 0) &&
            (await ctx.api('/api/v1/regions/cmp-turun')).state.generated_at === t0 - 1000 &&
            (await ctx.api('/api/v1/regions/cmp-naik')).state.generated_at === t0 - 1000
          );
        },
        10000,
        "November's states on the hub",
      );
      const b = await evaluate({ name: 'Evaluasi November' });
      const list = (await ctx.api('/api/v1/evaluations')).evaluations;
      assertEq(
        list.slice(0, 2).map((e) => e.id),
        [b.id, a.id],
        'November, then June, newest first',
      );

      const { context, page, problems } = await open(ctx, `/?${ctx.wallQ}#evaluasi`);
      await page.waitForSelector('a.compare-link', { timeout: 10000 });
      await page.click('a.compare-link');
      await page.waitForSelector('table.eval-compare tbody tr', { timeout: 10000 });
      assertEq(
        [
          await page.$eval('.compare-pick select[name=from]', (e) => e.value),
          await page.$eval('.compare-pick select[name=to]', (e) => e.value),
        ],
        [String(a.id), String(b.id)],
        'by default: the one before the newest, and the newest',
      );
      let rows = await compareRows(page);
      assertEq(
        rows.slice(0, 2).map((r) => r.id),
        ['cmp-turun', 'cmp-naik'],
        'biggest change first: −25, then +15',
      );
      const sizes = rows.map((r) => (r.overall.d === null ? -1 : Math.abs(r.overall.d)));
      assertEq(
        sizes,
        [...sizes].sort((x, y) => y - x),
        'sorted by the size of the change',
      );
      const naik = rows.find((r) => r.id === 'cmp-naik');
      const turun = rows.find((r) => r.id === 'cmp-turun');
      const tetap = rows.find((r) => r.id === 'cmp-tetap');
      assertEq([naik.overall.dir, naik.overall.text], ['up', '▲naik +15 poin'], 'Kota Naik rose 15 points (40 % → 55 %)');
      assertEq([turun.overall.dir, turun.overall.text], ['down', '▼turun −25 poin'], 'Kabupaten Turun fell 25 points');
      assertEq([tetap.overall.dir, tetap.overall.text], ['same', '=tetap 0 poin'], 'Kabupaten Tetap unchanged');
      assertEq(
        [naik.governance, naik.economy, naik.living].map((x) => [x.dir, x.text]),
        [
          ['up', '▲naik +30'],
          ['down', '▼turun −10'],
          ['same', '=tetap 0'],
        ],
        "Kota Naik's dimensions",
      );
      assertEq(
        [turun.living, turun.environment].map((x) => [x.dir, x.text]),
        [
          ['down', '▼turun −50'],
          ['none', '–'],
        ],
        "Kabupaten Turun's living fell 50; its environment had no value in June",
      );
      assert(!rows.some((r) => r.id === 'cmp-baru'), 'the new region is not compared');
      const only = await page.$$eval('table.eval-only tbody tr', (trs) => trs.map((tr) => [tr.dataset.row, tr.dataset.in, tr.textContent]));
      assertEq(
        only.map(([id, at]) => [id, at]),
        [['cmp-baru', 'to']],
        'only in November: Kota Baru',
      );
      assert(only[0][2].includes('hanya di evaluasi akhir (Evaluasi November)'), `said so: ${only[0][2]}`);
      const dim = (id) =>
        page.$eval(`table.eval-dims tr[data-dim="${id}"]`, (tr) =>
          ['rose', 'fell'].map((k) => tr.querySelector(`td[data-n=${k}]`).textContent),
        );
      assertEq(
        [await dim('governance'), await dim('economy'), await dim('living')],
        [
          ['1', '0'],
          ['0', '1'],
          ['0', '1'],
        ],
        'per dimension: how many regions rose and fell',
      );
      assert(
        (await page.textContent('table.eval-dims tr[data-dim="living"]')).includes('Kabupaten Turun (−50)'),
        "living's biggest fall is Kabupaten Turun's",
      );
      await noHScroll(page, 'the comparison at 1366x768');
      await shot(page, 'evaluasi-banding-1366x768-id', { fullPage: true });
      // axe-core on the comparison.
      await page.evaluate(fs.readFileSync(AXE, 'utf8'));
      const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations);
      assertEq(
        violations.filter((x) => x.impact === 'serious' || x.impact === 'critical').map((x) => `${x.id}: ${x.nodes[0].target}`),
        [],
        'axe on the comparison',
      );
      // Another pair through the selects: the hash follows.
      const december = list.find((e) => e.name === 'Evaluasi Uji Desember');
      await page.selectOption('.compare-pick select[name=from]', String(december.id));
      await page.waitForFunction((h) => location.hash === h, `#evaluasi/banding/${december.id}..${b.id}`, { timeout: 5000 });
      await page.waitForFunction(() => document.querySelectorAll('table.eval-only tbody tr').length >= 4, null, { timeout: 10000 });
      const newer = await page.$$eval('table.eval-only tbody tr', (trs) => trs.map((tr) => [tr.dataset.row, tr.dataset.in]));
      for (const id of ['cmp-naik', 'cmp-turun', 'cmp-tetap', 'cmp-baru'])
        assert(
          newer.some(([x, at]) => x === id && at === 'to'),
          `${id} is only in November against December's: ${JSON.stringify(newer)}`,
        );
      // Swapped: June's values counted from November.
      await page.evaluate((h) => (location.hash = h), `#evaluasi/banding/${a.id}..${b.id}`);
      await page.waitForFunction(() => document.querySelector('table.eval-compare tr[data-row="cmp-naik"]'), null, { timeout: 10000 });
      await page.click('.compare-pick button:not([disabled])');
      await page.waitForFunction((h) => location.hash === h, `#evaluasi/banding/${b.id}..${a.id}`, { timeout: 5000 });
      await page.waitForSelector('table.eval-only tr[data-in="from"]', { timeout: 10000 });
      rows = await compareRows(page);
      assertEq(
        rows.slice(0, 2).map((r) => [r.id, r.overall.text]),
        [
          ['cmp-turun', '▲naik +25 poin'],
          ['cmp-naik', '▼turun −15 poin'],
        ],
        'swapped',
      );
      assert(await page.$('article.compare header p.note'), 'the backwards order is said');
      assertEq(problems, [], 'console errors');
      await context.close();

      // English, the wall and a phone.
      const pairHash = `#evaluasi/banding/${a.id}..${b.id}`;
      const en = await open(ctx, `/?lang=en&${ctx.wallQ}${pairHash}`);
      await en.page.waitForSelector('table.eval-compare tbody tr', { timeout: 10000 });
      const enRows = await compareRows(en.page);
      assertEq(enRows.find((r) => r.id === 'cmp-naik').overall.text, '▲rose +15 pts', 'English change');
      const main = await en.page.textContent('main');
      for (const w of [
        'Evaluations compared',
        'By region',
        'By dimension',
        'In one evaluation only',
        'only in the later evaluation',
        'Earlier evaluation',
      ])
        assert(main.includes(w), `"${w}" in English`);
      const left = main.match(/.{0,40}\b(naik|turun|poin|Perbandingan|hanya)\b.{0,40}/);
      assert(!left, `no Bahasa left: ${left?.[0]}`);
      await shot(en.page, 'evaluasi-banding-1366x768-en', { fullPage: true });
      assertEq(en.problems, [], 'console errors (en)');
      await en.context.close();
      for (const lang of ['id', 'en']) {
        const w = await open(ctx, `/?kiosk=1&rotate=600&lang=${lang}&${ctx.wallQ}${pairHash}`, { width: 1920, height: 1080 });
        await w.page.waitForSelector('table.eval-compare tbody tr', { timeout: 10000 });
        await sleep(1500); // the wall's fit
        const [sw, sh, ww, wh] = await wallScroll(w.page);
        assertEq([sw, sh], [ww, wh], `the comparison fits the wall (${lang})`);
        const clipped = await w.page.evaluate(() => {
          const m = document.querySelector('main');
          return m.scrollHeight > m.clientHeight + 1 || m.scrollWidth > m.clientWidth + 1;
        });
        assert(!clipped, `nothing clipped on the wall (${lang})`);
        // The wall: what changed (at most 18 rows), what did not only counted.
        assertEq(
          await w.page.$$eval('table.eval-compare tbody tr', (trs) => trs.map((tr) => tr.dataset.row)),
          ['cmp-turun', 'cmp-naik'],
          `the wall shows what changed (${lang})`,
        );
        assert(await w.page.$('article.compare p.compare-still'), 'and counts what did not');
        await shot(w.page, `evaluasi-banding-kiosk-1920x1080-${lang}`);
        assertEq(w.problems, [], `console errors (wall, ${lang})`);
        await w.context.close();
        const phone = await phoneContext(ctx);
        const pp = await phone.newPage();
        const pProblems = [];
        pp.on('console', (m) => m.type() === 'error' && pProblems.push(m.text()));
        await pp.goto(`${ctx.base}/?lang=${lang}&${ctx.wallQ}${pairHash}`);
        await pp.waitForSelector('table.eval-compare tbody tr', { timeout: 10000 });
        await sleep(300);
        assertEq(await phoneBad(pp, 390), [], `phone layout of the comparison (${lang})`);
        assert(await pp.$eval('table.eval-compare', (e) => e.classList.contains('cards')), 'the comparison is stacked as cards on a phone');
        await shot(pp, `evaluasi-banding-phone-390-${lang}`, { fullPage: true });
        assertEq(pProblems, [], `console errors (phone, ${lang})`);
        await phone.close();
      }
      // A regency's two evaluations: its programs and its own dimensions.
      const regBase = `http://127.0.0.1:${ctx.regency.httpPort}`;
      const made = await fetchJson(`${regBase}/api/v1/evaluations`, {
        method: 'POST',
        body: JSON.stringify({ name: 'Evaluasi Kabupaten II' }),
      });
      assertEq(made.status, 201, 'a second evaluation on the regency');
      const rg = await ctx.browser.newContext({ viewport: { width: 1366, height: 768 } });
      const rp = await rg.newPage();
      const rProblems = [];
      rp.on('console', (m) => m.type() === 'error' && rProblems.push(m.text()));
      await rp.goto(`${regBase}/#evaluasi/banding`);
      await rp.waitForSelector('table.eval-dims tbody tr', { timeout: 10000 }).catch((e) => said(e, rp, ctx.regency));
      const rText = await rp.textContent('main');
      assert(rText.includes('Per program') && rText.includes('Evaluasi Kabupaten II'), 'by program, the two named');
      assertEq((await rp.$$('table.eval-dims tbody tr')).length, 6, "the regency's six dimensions");
      const programs = (await fetchJson(`${regBase}/api/v1/programs`)).json.programs;
      assertEq(
        (await rp.$$eval('table.eval-compare tbody tr', (trs) => trs.map((tr) => tr.dataset.row))).sort(),
        programs.map((p) => p.id).sort(),
        'every program compared',
      );
      await rp.screenshot({ path: path.join(SHOTS, 'evaluasi-banding-regency-id.png'), fullPage: true });
      assertEq(rProblems, [], 'console errors (regency)');
      await rg.close();
    },
    120000,
  ],
];

runCases(FILE, cases, {
  before,
  after: async (ctx) => {
    await ctx.browser?.close();
  },
  totalMs: 420000,
});
