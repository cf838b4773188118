// dashboard_wall_header.test.mjs — the wall's header (?kiosk=1) in a real
// browser (Debian's chromium via playwright-core) against real pantauds: a
// hub with NTB's catalog (config/catalog/ntb.ini: "Provinsi Nusa Tenggara
// Barat", and #wilayah in its navigation) and a regency (Lampung Tengah).
//
// What each case checks, at 1920x1080, 1280x1024 and 3840x2160, in Bahasa
// and English:
//  1. the hub: nothing in the header reaches past the window's right edge
//     (the clock and the date were pushed 44-51 px off a 1920 px wall), the
//     name is whole (wrapped, not cut), and the header stays under 12 % of
//     the height;
//  2. the regency: the same, its name on one line.
import path from 'node:path';
import { chromium } from 'playwright-core';
import { assert, assertEq, repoRoot, runCases, startBroker, startPantaud } from './harness.mjs';

const FILE = 'dashboard_wall_header.test.mjs';
const SIZES = [
  [1920, 1080],
  [1280, 1024],
  [3840, 2160],
];

async function before() {
  const broker = await startBroker();
  const hub = await startPantaud(broker, {
    config: '[federation]\nhub = yes\n',
    args: ['--catalog', path.join(repoRoot, 'config/catalog/ntb.ini')],
  });
  const regency = await startPantaud(broker, { args: ['--catalog', path.join(repoRoot, 'config/catalog/lampung-tengah.ini')] });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  return { broker, hub, regency, browser };
}

// The header's layout on the wall at one size and language.
// zone: the catalog's time zone, which the clock shows once the page has read
// it (WIB before).
async function header(ctx, pd, hash, zone, [width, height], lang) {
  const context = await ctx.browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`http://127.0.0.1:${pd.httpPort}/?kiosk=1&rotate=600&lang=${lang}${hash}`);
  await page.waitForFunction((z) => (document.querySelector('.clock')?.textContent || '').endsWith(z), zone, { timeout: 10000 });
  await page.waitForSelector('header nav a', { timeout: 10000 });
  const r = await page.evaluate(() => {
    const top = document.querySelector('header.top').getBoundingClientRect();
    const name = document.querySelector('.regency');
    const range = document.createRange();
    range.selectNodeContents(name);
    return {
      past: [...document.querySelectorAll('header.top *')]
        .filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5)
        .map((e) => `${e.className || e.tagName}: ${e.textContent.trim().slice(0, 20)}`),
      cut: [...document.querySelectorAll('.regency, .clock, .date, header nav a')]
        .filter((e) => e.scrollWidth > e.clientWidth + 1)
        .map((e) => e.textContent.trim()),
      name: name.textContent,
      nameLines: new Set([...range.getClientRects()].map((q) => Math.round(q.top))).size,
      navs: [...document.querySelectorAll('header nav a')].map((a) => a.getAttribute('href')),
      share: top.height / innerHeight,
    };
  });
  await context.close();
  assertEq(problems, [], `page errors at ${width}x${height} (${lang})`);
  return r;
}

runCases(
  FILE,
  [
    [
      "a hub's wall header: the clock on the wall, the name whole",
      async (ctx) => {
        for (const size of SIZES) {
          for (const lang of ['id', 'en']) {
            const r = await header(ctx, ctx.hub, '#wilayah', 'WITA', size, lang);
            const at = `${size.join('x')} (${lang})`;
            assert(r.navs.includes('#wilayah'), `#wilayah in the hub's navigation at ${at}: ${r.navs}`);
            assertEq(r.name, 'Provinsi Nusa Tenggara Barat', `the name at ${at}`);
            assertEq(r.past, [], `header elements past the right edge at ${at}`);
            assertEq(r.cut, [], `header texts cut at ${at}`);
            assert(r.nameLines <= 2, `the name on at most two lines at ${at}: ${r.nameLines}`);
            assert(r.share < 0.12, `the header under 12 % of the height at ${at}: ${(r.share * 100).toFixed(1)} %`);
          }
        }
      },
      60000,
    ],
    [
      "a regency's wall header: the same, its name on one line",
      async (ctx) => {
        for (const size of SIZES) {
          for (const lang of ['id', 'en']) {
            const r = await header(ctx, ctx.regency, '#ringkasan', 'WIB', size, lang);
            const at = `${size.join('x')} (${lang})`;
            assertEq(r.past, [], `header elements past the right edge at ${at}`);
            assertEq(r.cut, [], `header texts cut at ${at}`);
            assertEq(r.nameLines, 1, `the name's lines at ${at}`);
          }
        }
      },
      60000,
    ],
  ],
  { before, after: async (ctx) => ctx.browser.close() },
);
