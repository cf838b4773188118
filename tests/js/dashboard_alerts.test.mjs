// dashboard_alerts.test.mjs — the dashboard's alerts (CONTRACT §6 ALERT,
// §3 {"type":"alert","alert":ALERT}, §2 /alerts and /alerts/<id>/ack) in a
// real browser, against a real pantaud (its alert engine) and mosquitto.
//
// Uses the Lampung Tengah catalog's rule stok-beras-menipis (below = 4000,
// clear = 6000, for 0, severity info, message "Stok beras medium di {unit}
// tinggal {value} kg").
//  1. a stock of 3000 fires: the ticker ("Peringatan") shows the message
//     with the number formatted id-ID, live, without a reload;
//  2. Peringatan lists it with an acknowledge button; a click (no tokens:
//     role admin) acknowledges it: the row says who and when;
//  3. a stock of 7000 resolves it: the ticker is empty again, and the list
//     with state=all still shows it, resolved;
//  4. with tokens, a viewer's page (cookie from ?access_token=) is told that
//     an operator token is needed (403), and an operator's page acknowledges.
import path from 'node:path';
import { chromium } from 'playwright-core';
import { assert, mqttPublisher, repoRoot, runCases, startBroker, startPantaud } from './harness.mjs';

const FILE = 'dashboard_alerts.test.mjs';
const CATALOG = path.join(repoRoot, 'config/catalog/lampung-tengah.ini');
const VIEWER = 'viewer-token-0123456789';
const OPERATOR = 'operator-token-0123456789';
const STOCK = 'pantau/simas-bapokting/pasar-uji/stock';
const beras = (value) => JSON.stringify({ value, labels: { commodity: 'beras-medium' } });

async function open(browser, base, url) {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => m.type() === 'error' && !/403/.test(m.text()) && problems.push(m.text()));
  await page.goto(`${base}${url}`);
  await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
  return { page, problems };
}

async function before() {
  const broker = await startBroker();
  const pantaud = await startPantaud(broker, { config: `[catalog]\nfile = ${CATALOG}\n` });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  return { broker, pantaud, browser, base: `http://127.0.0.1:${pantaud.httpPort}` };
}

const cases = [
  [
    'ticker, acknowledge, resolve (no tokens: admin)',
    async ({ broker, browser, base }) => {
      const { page, problems } = await open(browser, base, '/');
      const pub = await mqttPublisher(broker);
      await pub.publish(STOCK, beras(3000));
      await page.waitForFunction(() => document.querySelector('.ticker')?.textContent.includes('tinggal 3.000 kg'), null, { timeout: 5000 });
      assert((await page.textContent('.ticker-head')).startsWith('Peringatan'), 'ticker head');
      await page.evaluate(() => (location.hash = 'peringatan'));
      const ack = await page.waitForSelector('table.alerts button.ack', { timeout: 5000 });
      await ack.click();
      await page.waitForFunction(() => document.querySelector('table.alerts')?.textContent.includes('ditangani admin'), null, { timeout: 5000 });
      await pub.publish(STOCK, beras(7000));
      await page.waitForFunction(() => document.querySelector('.ticker')?.textContent.includes('Tidak ada peringatan aktif'), null, { timeout: 5000 });
      await page.selectOption('select[name=state]', 'all');
      await page.click('form.filters button[type=submit]');
      await page.waitForFunction(() => document.querySelector('table.alerts')?.textContent.includes('selesai'), null, { timeout: 5000 });
      await pub.close();
      assert(problems.length === 0, `console errors: ${problems}`);
      await page.close();
    },
  ],
  [
    'with tokens: a viewer is told an operator is needed; an operator acknowledges',
    async ({ broker, browser }) => {
      const sec = await startPantaud(broker, { config: `[catalog]\nfile = ${CATALOG}\n[auth]\nviewer = ${VIEWER}\noperator = ${OPERATOR}\n` });
      const base = `http://127.0.0.1:${sec.httpPort}`;
      try {
        const pub = await mqttPublisher(broker);
        await pub.publish(STOCK, beras(2500));
        await pub.close();
        for (const [token, want] of [
          [VIEWER, 'Butuh token operator'],
          [OPERATOR, 'ditangani operator'],
        ]) {
          const ctx = await browser.newContext();
          const page = await ctx.newPage();
          await page.goto(`${base}/?access_token=${token}#peringatan`);
          await page.waitForSelector('.conn[data-state="live"]', { timeout: 10000 });
          const ack = await page.waitForSelector('table.alerts button.ack', { timeout: 5000 });
          await ack.click();
          await page.waitForFunction((w) => document.querySelector('main')?.textContent.includes(w), want, { timeout: 5000 });
          await ctx.close();
        }
      } finally {
        await sec.stop();
      }
    },
  ],
];

runCases(FILE, cases, {
  before,
  after: async (ctx) => {
    await ctx.browser?.close();
    await ctx.pantaud?.stop();
  },
  totalMs: 120000,
});
