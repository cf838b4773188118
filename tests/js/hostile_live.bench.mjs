// hostile_live.bench.mjs — figures for `make bench` (scripts/bench), each
// beside its limit (CONTRACT §10 "Websocket"):
//   - stored samples/s with 1,000 websocket clients holding 16 non-matching
//     filters each, against the rate without them (limit: 0.5x), the median
//     of RUNS alternating runs of N samples;
//   - pantaud's VmRSS growth per client for 20 clients asking a snapshot of
//     100k series and never reading (limit: about 1 MiB each).
// Env: PANTAUD, PANTAU_SIM (harness.mjs), N (150000), RUNS (3).
import { SNAP_METRICS, SNAP_UNITS, ingestRate, makeSeries, metricValue } from './hostile_live_lib.mjs';
import { mqttPublisher, openClient, sleep, startStack } from './harness.mjs';

const N = Number(process.env.N || 150000);
const RUNS = Number(process.env.RUNS || 3);
const T0 = Date.now() - 3 * 3600 * 1000;
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
const line = (label, value) => console.log(`${label.padEnd(46)} ${value}`);

const { broker, pantaud } = await startStack({ config: '[store]\nmax_series = 300000\n' });
const pub = await mqttPublisher(broker);
const ctx = { broker, pantaud, pub };
let ts = T0;
const run = async () => {
  const r = await ingestRate(ctx, 'rate-p', 100, N, ts, 60000);
  ts += N;
  return r;
};

await run(); // warm-up: the series exist
const clients = [];
const hostile = async (on) => {
  if (!on) {
    for (const c of clients.splice(0)) c.close();
    await sleep(500);
    return;
  }
  for (let i = 0; i < 1000; i += 100)
    clients.push(...(await Promise.all(Array.from({ length: 100 }, () => openClient(pantaud.url(), undefined, 20000)))));
  await Promise.all(
    clients.map((c, i) =>
      c.subscribe(
        Array.from({ length: 16 }, (_, k) => [`nm${i}x${k}/+/+`, `+/nm${i}x${k}/#`, `+/+/nm${i}x${k}`, `rate-p/unit-${k}/nm${i}x${k}`][k % 4]),
      ),
    ),
  );
};
const without = [];
const withClients = [];
for (let r = 0; r < RUNS; r++) {
  without.push(await run());
  await hostile(true);
  withClients.push(await run());
  await hostile(false);
}
const a = median(without);
const b = median(withClients);
line('ingest without websocket clients', `${Math.round(a)} samples/s`);
line('ingest with 1,000 x 16 non-matching filters', `${Math.round(b)} samples/s  (${(b / a).toFixed(2)}x; limit 0.5x)`);
line('longest loop turn (whole run)', `${(await metricValue(pantaud, 'pantau_loop_turn_seconds_max')).toFixed(3)} s`);

await makeSeries(ctx, T0 - 3600 * 1000);
const snappers = await Promise.all(Array.from({ length: 20 }, () => openClient(pantaud.url())));
await sleep(300);
const rss0 = pantaud.rss();
for (const c of snappers) {
  c.ws._socket.pause();
  c.send({ op: 'subscribe', filters: ['snap-p/#'], snapshot: true });
}
let rssMax = rss0;
for (const end = performance.now() + 4000; performance.now() < end; await sleep(100))
  rssMax = Math.max(rssMax, pantaud.rss());
const per = (rssMax - rss0) / 1024 / snappers.length;
line(
  `RSS per non-reading ${SNAP_UNITS * SNAP_METRICS / 1000}k-series snapshot client`,
  `${per.toFixed(2)} MiB  (${per.toFixed(2)}x the 1 MiB limit; ${rss0} -> ${rssMax} KiB for 20)`,
);
for (const c of snappers) c.close();
await pub.close();
await pantaud.stop();
process.exit(0);
