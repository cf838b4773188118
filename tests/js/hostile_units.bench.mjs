// hostile_units.bench.mjs — the red team's made-up units attack (CONTRACT
// §10 "Units and series"): N (400,000) `$status` for units nobody has, at
// QoS 0 as fast as MQTT.js sends them, against a pantaud with the default
// [store] max_units (10,000). Prints pantaud's RSS growth and its longest
// loop turn (pantau_loop_turn_seconds_max, over the attack and two presence
// passes after it), each beside its bound. A figure, not a test: make bench.
import {
  fetchJson,
  mqttPublisher,
  rssKiB,
  sleep,
  startBroker,
  startPantaud,
  until,
} from './harness.mjs';

const N = Number(process.env.HOSTILE_UNITS || 400000);
const RSS_BOUND_KIB = 32 * 1024; // growth allowed for max_units units
const TURN_BOUND_MS = 100; // [log] slow_turn_ms: a turn this long is logged as slow

async function metric(pd, name) {
  const r = await fetchJson(`http://127.0.0.1:${pd.httpPort}/metrics`);
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} ([0-9.e+-]+)`, 'm').exec(r.text);
  return m ? Number(m[1]) : NaN;
}

const broker = await startBroker();
const pd = await startPantaud(broker);
const pub = await mqttPublisher(broker);
await sleep(500);
const rss0 = rssKiB(pd.pid);
const t0 = performance.now();
for (let i = 0; i < N; i += 1000) {
  await Promise.all(Array.from({ length: 1000 }, (_, k) => pub.publish(`pantau/made-up/u-${i + k}/$status`, 'online', 0)));
  // Let pantaud keep up (QoS 0 is dropped by a broker whose queue grows).
  if (i % 20000 === 0) await until(async () => (await metric(pd, 'pantau_presence_total')) >= i, 60000, 'pantaud', 50);
}
await until(async () => (await metric(pd, 'pantau_presence_total')) >= N * 0.99, 120000, 'every $status read', 200);
const secs = (performance.now() - t0) / 1000;
await sleep(11000); // two presence passes (every 5 s) over the units kept
const grown = rssKiB(pd.pid) - rss0;
const turn = (await metric(pd, 'pantau_loop_turn_seconds_max')) * 1000;
const refused = await metric(pd, 'pantau_rejected_total{reason="unit_limit"}');
const units = (await fetchJson(`http://127.0.0.1:${pd.httpPort}/api/v1/units`)).json.units.length;
const r = (v, b) => (v / b).toFixed(2);
console.log(`  ${N} made-up units in ${secs.toFixed(1)} s: ${units} kept (max_units), ${refused} refused as unit_limit`);
console.log(`  RSS growth              ${(grown / 1024).toFixed(1)} MB  (bound ${RSS_BOUND_KIB / 1024} MB: ${r(grown, RSS_BOUND_KIB)}x)`);
console.log(`  loop turn max           ${turn.toFixed(1)} ms  (bound ${TURN_BOUND_MS} ms: ${r(turn, TURN_BOUND_MS)}x)`);
await pub.close();
await pd.stop();
await broker.child.kill('SIGTERM');
process.exit(0);
