// dashboard_memory.bench.mjs — the wall screen's memory under load: the
// dashboard in kiosk mode (views rotating) in Debian's chromium while the
// Lampung Tengah simulator publishes RATE samples/s through mosquitto and
// pantaud. Prints the JS heap (after a forced GC) and the DOM node count
// after the first minute and at the end, and their ratio against the limit
// (1.10: the heap at the end within 10 % of the first minute's). Asserts
// nothing: a figure for `make bench`.
//
//   node tests/js/dashboard_memory.bench.mjs          1000 samples/s, 600 s
//   RATE=5000 SECONDS=120 node tests/js/dashboard_memory.bench.mjs
import path from 'node:path';
import { chromium } from 'playwright-core';
import { repoRoot, sleep, startBroker, startPantaud, startSim } from './harness.mjs';

const RATE = Number(process.env.RATE || 1000);
const SECONDS = Math.max(90, Number(process.env.SECONDS || 600));
const CATALOG = path.join(repoRoot, 'config/catalog/lampung-tengah.ini');

async function measure(cdp) {
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = await cdp.send('Runtime.getHeapUsage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  const nodes = metrics.find((m) => m.name === 'Nodes')?.value ?? 0;
  return { heap: heap.usedSize, nodes };
}

const mib = (b) => (b / 1048576).toFixed(2);

const broker = await startBroker();
const pd = await startPantaud(broker, { config: '[store]\nretention_days = 2000\n', args: ['--catalog', CATALOG] });
const sim = startSim(broker, ['--scenario', 'lampung-tengah', '--units', '10', '--rate', String(RATE),
  '--offline-fraction', '0.2', '--offline-secs', '20', '--duration', String(SECONDS + 30)]);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
try {
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${pd.httpPort}/?kiosk=1&rotate=15`);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  await sleep(60000);
  const first = await measure(cdp);
  const samples = [];
  for (let t = 60; t < SECONDS; t += 60) {
    await sleep(Math.min(60, SECONDS - t) * 1000);
    samples.push(await measure(cdp));
  }
  const last = samples[samples.length - 1];
  const ratio = last.heap / first.heap;
  console.log(`  dashboard (kiosk, views rotating every 15 s) at ${RATE} samples/s for ${SECONDS} s:`);
  console.log(`    JS heap after 1 min ${mib(first.heap)} MiB, at the end ${mib(last.heap)} MiB ` +
    `(${ratio.toFixed(2)} x; limit 1.10); each minute: ${samples.map((s) => mib(s.heap)).join(' ')} MiB`);
  console.log(`    DOM nodes after 1 min ${first.nodes}, at the end ${last.nodes}; page errors: ${errors.length}`);
  console.log(`    pantaud RSS at the end ${pd.rss()} KiB`);
} finally {
  await browser.close();
  await sim.stop(5000);
  await pd.stop();
}
process.exit(0); // the broker is killed by the harness at exit
