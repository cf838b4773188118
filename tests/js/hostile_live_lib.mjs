// hostile_live_lib.mjs — what hostile_live.test.mjs and hostile_live.bench.mjs
// share: pantaud's counters, an ingest rate measured by stored samples, and a
// store of SNAP_UNITS x SNAP_METRICS series for snapshots. ctx holds
// { pantaud, pub } as harness.mjs makes them.
import { fetchJson, sleep, until } from './harness.mjs';

export const SNAP_UNITS = 200; // x SNAP_METRICS series for the snapshot cases
export const SNAP_METRICS = 500;

export async function metricValue(pantaud, name) {
  const { text } = await fetchJson(`http://127.0.0.1:${pantaud.httpPort}/metrics`);
  const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

// Publishes `total` samples in arrays of 1000 (20 series of each of `units`
// units of program `program`, every ts unique), then waits until pantaud has
// stored them or `ms` passed. Returns stored samples per second.
export async function ingestRate(ctx, program, units, total, firstTs, ms) {
  const before = await metricValue(ctx.pantaud, 'pantau_stored_total');
  const t0 = performance.now();
  const pending = [];
  for (let done = 0, m = 0; done < total; m++) {
    const batch = [];
    for (let i = 0; i < 1000 && done < total; i++, done++)
      batch.push({ metric: `m${i % 20}`, value: done, ts: firstTs + done });
    pending.push(ctx.pub.publish(`pantau/${program}/unit-${m % units}/m0`, batch));
    if (pending.length >= 20) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  let stored = 0;
  const end = t0 + ms;
  while (performance.now() < end) {
    stored = (await metricValue(ctx.pantaud, 'pantau_stored_total')) - before;
    if (stored >= total) break;
    await sleep(25);
  }
  return (stored / (performance.now() - t0)) * 1000;
}

// Publishes SNAP_UNITS x SNAP_METRICS series (one sample each, device time
// from T0; a second, later one for the first metric of every 50th unit) and
// waits until stored.
export async function makeSeries(ctx, T0) {
  const before = await metricValue(ctx.pantaud, 'pantau_stored_total');
  const pending = [];
  for (let u = 0; u < SNAP_UNITS; u++) {
    const batch = [];
    for (let k = 0; k < SNAP_METRICS; k++) batch.push({ metric: `s${k}`, value: k, ts: T0 + k });
    pending.push(ctx.pub.publish(`pantau/snap-p/unit-${u}/s0`, batch));
    if (pending.length >= 20) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  const total = SNAP_UNITS * SNAP_METRICS;
  await until(
    async () => (await metricValue(ctx.pantaud, 'pantau_stored_total')) - before >= total,
    60000,
    `${total} series stored`,
    100,
  );
  // The latest value differs from the first: the snapshot must carry it.
  for (let u = 0; u < SNAP_UNITS; u += 50)
    await ctx.pub.publish(`pantau/snap-p/unit-${u}/s0`, { value: -1, ts: T0 + 100000 });
  await until(
    async () => (await metricValue(ctx.pantaud, 'pantau_stored_total')) - before >= total + SNAP_UNITS / 50,
    10000,
    'the later samples stored',
  );
}
