// federation.bench.mjs — a hub's cost at the ministry's scale (CONTRACT §7):
// 514 regions each publishing a STATE every 10 s (the contract's fastest
// rate), for ROUNDS rounds, spread evenly over each 10 s. The STATE is a
// real one: Lampung Tengah's, as a regency pantaud publishes it (only the
// id and generated_at changed per region). Prints the hub's CPU (its
// utime + stime over the run, as a share of one core), the database's
// growth per state and per day at that rate, and GET /api/v1/regions' time
// (p50 / p99 of 50 requests at the end, beside the 50 ms limit) and size.
// A figure, not a test: make bench.
import fs from 'node:fs';
import path from 'node:path';
import {
  fetchJson,
  mqttPublisher,
  repoRoot,
  sleep,
  startBroker,
  startPantaud,
  tmpdir,
  until,
} from './harness.mjs';

const REGIONS = Number(process.env.FED_REGIONS || 514);
const ROUNDS = Number(process.env.FED_ROUNDS || 6);
const PERIOD_MS = 10000;
const LIMIT_MS = 50;

function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (100/s)
}
const dbBytes = (db) => ['', '-wal'].reduce((s, x) => s + (fs.existsSync(db + x) ? fs.statSync(db + x).size : 0), 0);

const broker = await startBroker();
const dir = tmpdir();
// A regency's real STATE.
const regency = await startPantaud(broker, {
  config: '[federation]\npublish = yes\n',
  args: ['--catalog', path.join(repoRoot, 'config/catalog/lampung-tengah.ini')],
});
const rec = await mqttPublisher(broker);
let template = null;
rec.client.on('message', (t, p) => (template = p.toString()));
rec.client.subscribe('pantau-fed/lampung-tengah/state', { qos: 1 });
await until(() => template, 15000, 'the regency\'s STATE');
await regency.stop();
const state = JSON.parse(template);

const hubCatalog = path.join(dir, 'hub514.ini');
let cat = '[regency]\nid = kemendagri\nname = Kementerian Dalam Negeri\n';
for (let i = 0; i < REGIONS; i++)
  cat += `[region r-${i}]\nname = Wilayah ${i}\ncode = ${String(11 + (i % 80)).padStart(2, '0')}.${String(i % 100).padStart(2, '0')}\n`;
fs.writeFileSync(hubCatalog, cat);
const hub = await startPantaud(broker, {
  config: '[federation]\nhub = yes\n',
  args: ['--catalog', hubCatalog],
});
await sleep(1000);
const pub = await mqttPublisher(broker);
const cpu0 = cpuSeconds(hub.pid);
const db0 = dbBytes(hub.db);
const t0 = performance.now();
let sent = 0;
for (let round = 0; round < ROUNDS; round++) {
  const start = performance.now();
  for (let i = 0; i < REGIONS; i++) {
    const due = start + (i * PERIOD_MS) / REGIONS;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    state.regency.id = `r-${i}`;
    state.generated_at = Date.now();
    pub.publish(`pantau-fed/r-${i}/state`, JSON.stringify(state));
    sent++;
  }
  const rest = start + PERIOD_MS - performance.now();
  if (rest > 0) await sleep(rest);
}
const bytes = Buffer.byteLength(template);
await until(
  async () => {
    const r = await fetchJson(`http://127.0.0.1:${hub.httpPort}/metrics`);
    const m = /^pantau_federation_states_total ([0-9]+)/m.exec(r.text);
    return m && Number(m[1]) >= sent;
  },
  60000,
  'every state stored',
  500,
);
const secs = (performance.now() - t0) / 1000;
const cpu = cpuSeconds(hub.pid) - cpu0;
const grown = dbBytes(hub.db) - db0;
const times = [];
let size = 0;
for (let i = 0; i < 50; i++) {
  const a = performance.now();
  const r = await fetchJson(`http://127.0.0.1:${hub.httpPort}/api/v1/regions`);
  times.push(performance.now() - a);
  size = r.text.length;
}
times.sort((a, b) => a - b);
const p50 = times[24];
const p99 = times[49];
const perDay = (grown / sent) * REGIONS * 8640;
console.log(`  ${REGIONS} regions x ${ROUNDS} rounds of 10 s: ${sent} states of ${bytes} bytes (Lampung Tengah's)`);
console.log(`  rate                    ${(REGIONS / 10).toFixed(1)} states/s, ${((REGIONS / 10) * bytes / 1024).toFixed(0)} KiB/s of payload`);
console.log(`  hub CPU                 ${((cpu / secs) * 100).toFixed(1)} % of one core (${cpu.toFixed(2)} s over ${secs.toFixed(1)} s)`);
console.log(`  database growth         ${(grown / sent / 1024).toFixed(1)} KiB per state; ${(perDay / 2 ** 30).toFixed(1)} GiB/day at this rate (WAL included)`);
console.log(`  GET /api/v1/regions     p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (limit ${LIMIT_MS} ms: ${(p99 / LIMIT_MS).toFixed(2)}x), ${(size / 1024).toFixed(0)} KiB`);
await pub.close();
rec.client.end(true);
await hub.stop();
await broker.child.kill('SIGTERM');
process.exit(0);
