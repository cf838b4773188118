// dashboard_people.test.mjs — the dashboard's side of CONTRACT §8 in a real
// browser (Debian's chromium via playwright-core), against a real pantaud
// and mosquitto, with accounts made by `pantaud --db DB user add` (the
// password on standard input) and a viewer token for a wall screen:
//  1. without a credential the page (served without one) shows the sign-in
//     form, in Bahasa Indonesia and with ?lang=en in English; the API
//     answers 401;
//  2. a wrong password shows "bad_credentials" in words; five failures
//     lock the name and the form says so, with the 5 minutes;
//  3. signing in shows the dashboard, the name and role in the header, no
//     admin pages for an operator; the websocket (the session cookie)
//     brings live samples and alerts;
//  4. an operator limited to another program is told why the ack is
//     refused (403 forbidden_program); one allowed acks with a note:
//     acked_by is the user's name and the view and ticker show it; an
//     escalated alert (escalated_at) is marked with its time;
//  5. an admin adds a user (programs from the catalog), resets its password
//     and removes it in #pengguna (the command line and sign-ins agree);
//     #audit lists the events, filters them and shows the chain verified;
//  6. a viewer sees no admin pages (and #pengguna says it is for admins);
//  7. sign-out brings the form back and the API answers 401; signing in
//     again works without a reload; a session ended elsewhere (the user
//     deleted) brings the form back on the next call, without a reload loop;
//  8. a token wall screen (?kiosk=1&access_token=) shows no form;
//  9. a tampered audit row shows the chain broken, in red;
// with screenshots (laptop 1366×768 and wall 1920×1080, both languages) in
// $BUILD/screenshots/people-*.png, and no console error but the refused
// calls' own (the browser logs a 401/403/429 answer).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { PANTAUD, assert, assertEq, mqttPublisher, repoRoot, runCases, sleep, startBroker, startPantaud, tmpdir } from './harness.mjs';

const FILE = 'dashboard_people.test.mjs';
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const BUILD = path.resolve(repoRoot, process.env.BUILD || 'build');
const SHOTS = path.join(BUILD, 'screenshots');
const CATALOG = path.join(repoRoot, 'config/catalog/lampung-tengah.ini');
const WALL = 'layar-dinding-0123456789';
const PW = {
  budi: 'rahasia-admin-001',
  ani: 'rahasia-ani-0002',
  dedi: 'rahasia-dedi-0003',
  eka: 'rahasia-eka-00004',
  fajar: 'rahasia-fajar-005',
  hadi: 'rahasia-hadi-0006',
};
const STOCK = 'pantau/simas-bapokting/pasar-uji/stock';
const PRICE = 'pantau/simas-bapokting/pasar-uji/price';
const beras = (value) => JSON.stringify({ value, labels: { commodity: 'beras-medium' } });
// What a browser logs for an answer the test provokes (401 before signing
// in, 403 for a refused ack, 409 for a taken name, 429 for a locked name):
// nothing else may show.
const EXPECTED = /status of (401|403|409|429)/;

function cli(db, args, input = '') {
  const r = spawnSync(PANTAUD, ['--db', db, 'user', ...args], { input, encoding: 'utf8', timeout: 20000 });
  if (r.status !== 0) throw new Error(`pantaud user ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function before() {
  const db = path.join(tmpdir(), 'people-dash.db');
  cli(db, ['add', 'budi', '--role', 'admin'], `${PW.budi}\n`);
  cli(db, ['add', 'ani', '--role', 'operator', '--programs', 'paduka-lamteng'], `${PW.ani}\n`);
  cli(db, ['add', 'dedi', '--role', 'operator', '--programs', 'simas-bapokting'], `${PW.dedi}\n`);
  cli(db, ['add', 'eka', '--role', 'viewer'], `${PW.eka}\n`);
  cli(db, ['add', 'fajar', '--role', 'viewer'], `${PW.fajar}\n`);
  cli(db, ['add', 'hadi', '--role', 'viewer'], `${PW.hadi}\n`);
  const broker = await startBroker();
  const pantaud = await startPantaud(broker, { db, config: `[catalog]\nfile = ${CATALOG}\n[auth]\nviewer = ${WALL}\n` });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  fs.mkdirSync(SHOTS, { recursive: true });
  return { broker, pantaud, browser, db, base: `http://127.0.0.1:${pantaud.httpPort}` };
}

// A fresh browser context (its own cookies) and page; problems collects
// page errors and unexpected console errors.
async function open(ctx, url, viewport = { width: 1366, height: 768 }) {
  const context = await ctx.browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => m.type() === 'error' && !EXPECTED.test(m.text()) && problems.push(m.text()));
  let loads = 0;
  page.on('load', () => loads++);
  await page.goto(`${ctx.base}${url}`);
  return { context, page, problems, loads: () => loads };
}

async function signIn(page, user, password = PW[user]) {
  await page.waitForSelector('.signin input[name=user]', { timeout: 10000 });
  await page.fill('.signin input[name=user]', user);
  await page.fill('.signin input[name=password]', password);
  await page.click('.signin button[type=submit]');
}

const bodyText = (page) => page.evaluate(() => document.body.innerText);
const visible = (page, sel) => page.evaluate((s) => Boolean(document.querySelector(s)?.getClientRects().length), sel);
const apiStatus = (page, p) => page.evaluate(async (u) => (await fetch(u)).status, p);
async function textIn(page, sel, want, ms = 5000) {
  await page.waitForFunction(([s, w]) => document.querySelector(s)?.textContent.includes(w), [sel, want], { timeout: ms });
}
const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `people-${name}.png`) });

const cases = [
  [
    'without a credential: the page and its files load, the form shows (id and en), the API answers 401',
    async (ctx) => {
      assertEq((await fetch(`${ctx.base}/api/v1/programs`)).status, 401, 'the API without a credential');
      for (const [lang, want] of [
        ['', ['Masuk', 'Nama pengguna', 'Kata sandi']],
        ['?lang=en', ['Sign in', 'User name', 'Password']],
      ]) {
        const { context, page, problems } = await open(ctx, `/${lang}`);
        await page.waitForSelector('.signin form', { timeout: 10000 });
        const text = await page.textContent('.signin');
        for (const w of want) assert(text.includes(w), `${lang || 'id'}: "${w}" in the form: ${text}`);
        assert(!(await visible(page, 'header.top')), 'no header before signing in');
        assert(!(await visible(page, 'main')), 'no view before signing in');
        assertEq(await page.evaluate(() => document.documentElement.lang), lang ? 'en' : 'id', 'the page language');
        await shot(page, `signin-${lang ? 'en' : 'id'}`);
        // The language switch on the form.
        await page.click('.signin button.lang');
        await textIn(page, '.signin', lang ? 'Nama pengguna' : 'User name');
        assertEq(problems, [], 'console errors');
        await context.close();
      }
    },
  ],
  [
    'a wrong password shows the error in words; five failures lock the name for 5 minutes',
    async (ctx) => {
      const { context, page, problems } = await open(ctx, '/');
      await signIn(page, 'fajar', 'salah-salah-salah');
      await textIn(page, '.signin-error', 'Nama pengguna atau kata sandi salah.');
      assertEq(await page.inputValue('.signin input[name=user]'), 'fajar', 'the name stays');
      // Four more failures (by the API: the lock is the name's), then the
      // right password in the form: locked.
      for (let i = 0; i < 4; i++) {
        const r = await fetch(`${ctx.base}/api/v1/login`, {
          method: 'POST',
          body: JSON.stringify({ user: 'fajar', password: 'salah-salah-salah' }),
        });
        assertEq(r.status, 401, `failure ${i + 2}`);
      }
      await signIn(page, 'fajar');
      await textIn(page, '.signin-error', '5 menit');
      assert((await page.textContent('.signin-error')).includes('Terlalu banyak percobaan'), 'too_many_attempts in words');
      await shot(page, 'signin-locked-id');
      assert(!(await visible(page, 'header.top')), 'still signed out');
      assertEq(problems, [], 'console errors');
      await context.close();
    },
  ],
  [
    'signing in shows the dashboard, the name and role; the websocket brings live samples under the session',
    async (ctx) => {
      const { context, page, problems, loads } = await open(ctx, '/#harga');
      await signIn(page, 'dedi');
      await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
      await textIn(page, '.who-name', 'dedi');
      assertEq(await page.textContent('.who-role'), 'operator', 'the role');
      assert(await visible(page, '.who .signout'), 'a sign-out button');
      assert(!(await page.$('a[href="#pengguna"]')) && !(await page.$('a[href="#audit"]')), 'no admin pages for an operator');
      const cookies = await context.cookies(ctx.base);
      const session = cookies.find((c) => c.name === 'pantau_session');
      assert(session?.httpOnly && session.sameSite === 'Strict', `the session cookie: ${JSON.stringify(cookies)}`);
      assert(!(await page.evaluate(() => document.cookie)).includes(session.value), 'scripts cannot read it');
      // Live: a price sample and an alert frame, without a reload.
      const pub = await mqttPublisher(ctx.broker);
      await pub.publish(PRICE, JSON.stringify({ value: 13300, labels: { commodity: 'beras-medium' } }));
      await pub.publish(STOCK, beras(3000));
      await textIn(page, 'main', '13.300');
      await textIn(page, '.ticker', 'tinggal 3.000 kg');
      await pub.close();
      assertEq(loads(), 1, 'no reload');
      assertEq(problems, [], 'console errors');
      await context.close();
    },
  ],
  [
    'acknowledgements show who: a program scope that refuses says why; an allowed ack names the user',
    async (ctx) => {
      // ani is limited to paduka-lamteng: the rice stock alert is not hers.
      const a = await open(ctx, '/#peringatan');
      await signIn(a.page, 'ani');
      await a.page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
      await (await a.page.waitForSelector('table.alerts button.ack', { timeout: 5000 })).click();
      await textIn(a.page, 'main', 'Anda hanya boleh menangani peringatan program Anda sendiri.');
      assertEq(a.problems, [], 'console errors (ani)');
      await a.context.close();
      // dedi may: with a note.
      const d = await open(ctx, '/#peringatan');
      await signIn(d.page, 'dedi');
      await d.page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
      await d.page.waitForSelector('table.alerts button.ack', { timeout: 5000 });
      await d.page.fill('table.alerts input.ack-note', 'sudah dicek ke pasar');
      await d.page.click('table.alerts button.ack');
      await textIn(d.page, 'table.alerts', 'ditangani dedi');
      await textIn(d.page, 'table.alerts', 'sudah dicek ke pasar');
      await textIn(d.page, '.ticker', '✓ dedi');
      const alerts = await d.page.evaluate(async () => (await (await fetch('/api/v1/alerts')).json()).alerts);
      const acked = alerts.find((x) => x.rule === 'stok-beras-menipis');
      assertEq([acked?.acked_by, acked?.ack_note], ['dedi', 'sudah dicek ke pasar'], 'acked_by and ack_note');
      await shot(d.page, 'alerts-acked-id');
      // English too.
      await d.page.click('header button.lang');
      await textIn(d.page, 'table.alerts', 'acknowledged by dedi');
      await shot(d.page, 'alerts-acked-en');
      assertEq(d.problems, [], 'console errors (dedi)');
      await d.context.close();
    },
  ],
  [
    'an escalated alert (ALERT escalated_at) is marked with its time in the view and the ticker',
    async (ctx) => {
      // escalated_at comes from the escalation engine (another branch):
      // here pantaud's own answer gets one, as that engine will set it.
      const { context, page, problems } = await open(ctx, '/#peringatan');
      await page.route('**/api/v1/alerts?*', async (route) => {
        const res = await route.fetch();
        const body = await res.json();
        for (const a of body.alerts) if (a.state === 'firing') a.escalated_at = a.fired_at + 30 * 60000;
        await route.fulfill({ response: res, json: body });
      });
      await signIn(page, 'eka');
      await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
      await textIn(page, 'table.alerts .escalated', 'dieskalasi');
      await textIn(page, '.ticker .escalated', 'dieskalasi');
      await shot(page, 'alerts-escalated-id');
      assertEq(problems, [], 'console errors');
      await context.close();
    },
  ],
  [
    'an admin adds, resets and removes a user in #pengguna; #audit lists the events and the chain verifies',
    async (ctx) => {
      const { context, page, problems } = await open(ctx, '/');
      await signIn(page, 'budi');
      await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
      await page.waitForSelector('a[href="#pengguna"]', { timeout: 5000 });
      assert(await page.$('a[href="#audit"]'), 'Audit in the navigation');
      await page.click('a[href="#pengguna"]');
      await page.waitForSelector('table.users tr[data-user="dedi"]', { timeout: 5000 });
      await shot(page, 'users-id');
      // Add gita, a viewer limited to SIMAS BAPOKTING.
      await page.fill('form.add-user input[name=name]', 'gita');
      await page.selectOption('form.add-user select[name=role]', 'viewer');
      await page.fill('form.add-user input[name=password]', 'rahasia-gita-0007');
      await page.check('form.add-user input[name=programs][value="simas-bapokting"]');
      await page.click('form.add-user button[type=submit]');
      await page.waitForSelector('table.users tr[data-user="gita"]', { timeout: 10000 });
      await textIn(page, 'main .note', 'Pengguna gita ditambahkan.');
      assert(cli(ctx.db, ['list']).includes('gita viewer simas-bapokting'), 'the command line lists gita');
      // A taken name says so.
      await page.fill('form.add-user input[name=name]', 'gita');
      await page.fill('form.add-user input[name=password]', 'rahasia-gita-0007');
      await page.click('form.add-user button[type=submit]');
      await textIn(page, 'main .note', 'Nama itu sudah dipakai.');
      // Reset gita's password.
      await page.click('button[data-reset="gita"]');
      await page.fill('tr[data-user="gita"] input[name=password]', 'rahasia-baru-gita-8');
      await page.click('tr[data-user="gita"] button[type=submit]');
      await textIn(page, 'main .note', 'Kata sandi gita diganti');
      const login = (pw) => fetch(`${ctx.base}/api/v1/login`, { method: 'POST', body: JSON.stringify({ user: 'gita', password: pw }) });
      assertEq((await login('rahasia-gita-0007')).status, 401, 'the old password');
      assertEq((await login('rahasia-baru-gita-8')).status, 200, 'the new password');
      // Remove gita: a confirmation first.
      await page.click('button[data-remove="gita"]');
      await textIn(page, 'tr[data-user="gita"]', 'Hapus gita?');
      await page.click('button[data-confirm="gita"]');
      await page.waitForFunction(() => !document.querySelector('table.users tr[data-user="gita"]'), null, { timeout: 10000 });
      assertEq((await login('rahasia-baru-gita-8')).status, 401, 'gita is gone');
      assert(!cli(ctx.db, ['list']).includes('gita'), 'the command line agrees');
      // The audit log, newest first, and its chain.
      await page.click('a[href="#audit"]');
      await page.waitForSelector('table.audit tr[data-action="user_del"]', { timeout: 10000 });
      await textIn(page, '.chain-ok', 'Rantai audit utuh');
      const actions = await page.$$eval('table.audit tbody tr', (rows) => rows.map((r) => r.dataset.action));
      for (const a of ['login', 'login_failed', 'ack', 'user_add', 'user_passwd', 'user_del'])
        assert(actions.includes(a), `${a} listed: ${actions}`);
      const ids = await page.$$eval('table.audit tbody tr', (rows) => rows.map((r) => Number(r.dataset.event)));
      assert(
        ids.every((id, i) => i === 0 || id < ids[i - 1]),
        'newest first',
      );
      const delRow = await page.textContent('table.audit tr[data-action="user_del"]');
      assert(delRow.includes('budi') && delRow.includes('gita'), `who removed whom: ${delRow}`);
      await shot(page, 'audit-id');
      // A filter: only the password changes.
      await page.selectOption('form.filters select[name=action]', 'user_passwd');
      await page.click('form.filters button[type=submit]');
      await page.waitForFunction(
        () => {
          const rows = [...document.querySelectorAll('table.audit tbody tr')];
          return rows.length > 0 && rows.every((r) => r.dataset.action === 'user_passwd');
        },
        null,
        { timeout: 5000 },
      );
      await page.click('header button.lang');
      await textIn(page, '.chain-ok', 'Audit chain intact');
      await shot(page, 'audit-en');
      await page.click('a[href="#pengguna"]');
      await page.waitForSelector('table.users tr[data-user="budi"]', { timeout: 5000 });
      await shot(page, 'users-en');
      assertEq(problems, [], 'console errors');
      await context.close();
    },
    60000,
  ],
  [
    'a viewer sees no admin pages',
    async (ctx) => {
      const { context, page, problems } = await open(ctx, '/');
      await signIn(page, 'eka');
      await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
      await textIn(page, '.who', 'eka');
      assert(!(await page.$('a[href="#pengguna"]')) && !(await page.$('a[href="#audit"]')), 'no admin pages for a viewer');
      await page.evaluate(() => (location.hash = 'pengguna'));
      await textIn(page, 'main', 'Halaman ini hanya untuk admin.');
      assertEq(problems, [], 'console errors');
      await context.close();
    },
  ],
  [
    'sign-out brings the form back and the API answers 401; a session ended elsewhere too, with no reload loop',
    async (ctx) => {
      const { context, page, problems, loads } = await open(ctx, '/');
      await signIn(page, 'hadi');
      await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
      await page.click('.who .signout');
      await textIn(page, '.signin', 'Anda telah keluar.');
      assert(!(await visible(page, 'header.top')), 'the dashboard is hidden');
      assertEq(await apiStatus(page, '/api/v1/me'), 401, 'the API after sign-out');
      // Again, without a reload.
      await signIn(page, 'hadi');
      await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
      await textIn(page, '.who-name', 'hadi');
      assertEq(await apiStatus(page, '/api/v1/me'), 200, 'signed in again');
      // The account deleted by the command line: the next call brings the form.
      cli(ctx.db, ['del', 'hadi']);
      let mes = 0;
      page.on('request', (r) => r.url().endsWith('/api/v1/me') && mes++);
      await page.evaluate(() => (location.hash = 'laporan'));
      await textIn(page, '.signin', 'Sesi Anda telah berakhir.', 10000);
      await sleep(3000); // no loop: the form stays, few requests
      assert(await visible(page, '.signin form'), 'the form stays');
      assert(mes <= 3, `requests to /me while signed out: ${mes}`);
      assertEq(loads(), 1, 'never reloaded');
      assertEq(problems, [], 'console errors');
      await context.close();
    },
  ],
  [
    'a token wall screen (?kiosk=1&access_token=) shows no form, as before',
    async (ctx) => {
      for (const lang of ['id', 'en']) {
        const { context, page, problems } = await open(ctx, `/?kiosk=1&lang=${lang}&access_token=${WALL}`, { width: 1920, height: 1080 });
        await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
        await page.waitForSelector('.tile', { timeout: 5000 });
        assert(!(await visible(page, '.signin')), 'no sign-in form');
        assert(!(await visible(page, '.who')), 'no user in the header');
        assert(!(await page.$('a[href="#pengguna"]')), 'no admin pages');
        const fits = await page.evaluate(
          () => document.documentElement.scrollHeight <= innerHeight && document.documentElement.scrollWidth <= innerWidth,
        );
        assert(fits, 'the wall fits');
        await shot(page, `wall-${lang}`);
        assertEq(problems, [], 'console errors');
        await context.close();
      }
    },
  ],
  [
    'axe-core: no serious or critical violation on the sign-in form, #pengguna and #audit',
    async (ctx) => {
      const found = [];
      const { context, page } = await open(ctx, '/?lang=en');
      const check = async (where) => {
        // Evaluated, not a <script> tag: the page's CSP refuses inline scripts.
        if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(fs.readFileSync(AXE, 'utf8'));
        const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations);
        for (const x of violations)
          if (x.impact === 'serious' || x.impact === 'critical')
            found.push(
              `${where}: ${x.id} (${x.impact}) ${x.nodes
                .slice(0, 3)
                .map((n) => n.target.join(' '))
                .join(', ')}`,
            );
      };
      await page.waitForSelector('.signin form', { timeout: 10000 });
      await check('sign-in');
      await signIn(page, 'budi', 'salah-salah-salah');
      await page.waitForSelector('.signin-error', { timeout: 5000 });
      await check('sign-in with an error');
      await signIn(page, 'budi');
      await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
      await page.evaluate(() => (location.hash = 'pengguna'));
      await page.waitForSelector('table.users tr[data-user="budi"]', { timeout: 5000 });
      await check('#pengguna');
      await page.click('button[data-remove="eka"]');
      await check('#pengguna confirming');
      await page.evaluate(() => (location.hash = 'audit'));
      await page.waitForSelector('.chain-ok', { timeout: 5000 });
      await check('#audit');
      await context.close();
      assertEq(found, [], 'axe violations');
    },
  ],
  [
    'a tampered audit row: #audit shows the chain broken, in red',
    async (ctx) => {
      const { context, page, problems } = await open(ctx, '/#audit');
      await signIn(page, 'budi');
      await page.waitForSelector('.chain-ok', { timeout: 10000 });
      const victim = Number(await page.$eval('table.audit tbody tr:last-child', (r) => r.dataset.event));
      execFileSync('sqlite3', [ctx.db, `UPDATE audit SET target = 'dipalsukan' WHERE id = ${victim}`], { timeout: 10000 });
      await page.click('form.filters button[type=submit]');
      await textIn(page, '.chain-bad', `#${victim}`, 10000);
      const color = await page.$eval('.chain-bad', (e) => getComputedStyle(e).color);
      assert(/^rgb\((1[5-9]\d|2\d\d), \d{1,2}, \d{1,2}\)$/.test(color), `red: ${color}`);
      await shot(page, 'audit-broken-id');
      assertEq(problems, [], 'console errors');
      await context.close();
    },
  ],
];

runCases(FILE, cases, {
  before,
  after: async (ctx) => {
    await ctx.browser?.close();
    await ctx.pantaud?.stop();
  },
  totalMs: 240000,
});
