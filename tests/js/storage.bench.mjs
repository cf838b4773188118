// storage.bench.mjs — what a sample costs the disk (issue 20), each figure
// beside its goal. Every shape runs on a fresh pantaud with a real mosquitto:
//   (a) written per sample at a regency's everyday rate: 100 samples/s over
//       2,000 series (pantaud's /proc/<pid>/io write_bytes over the window,
//       its WAL, its checkpoints and its spool included; goal <= 256 B);
//   (b) the same at 1,111 msg/s x 3 values over 30,000 series (goal <= 64 B);
//   (c) stored per sample at rest: two days of 500 series at a 60 s cadence
//       (counters, prices in steps, one-decimal readings; ms jitter on ts)
//       imported over HTTP, pantaud stopped, then pages in use x page size,
//       everything included (goal <= 4 B); and a raw day of one series
//       (goal <= 5 ms);
//   (d) the WAL file once the import of (c) is stored (quiet, then after
//       one more sample: the writer cuts it at its next commit), and once
//       a 1M-sample MQTT burst is stored, with its peak meanwhile (goal
//       <= 64 MiB);
//   (e) a year of hourly series as 1,000 buckets (goal <= 20 ms) and
//       /api/v1/programs (goal <= 50 ms), over bench_kpi's year (skipped
//       without build/tests/bench_kpi or with SHORT=1).
// Where the bytes go, for (a) and (b): the WAL frames the window appended
// (read from the -wal file itself), per commit and per sample, by the
// table or index each frame's page belongs to (dbstat, after the stop).
// SHORT=1: shorter windows, a smaller burst, no year (about 2 minutes).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fetchJson, mqttPublisher, repoRoot, sleep, startBroker, startPantaud, tmpdir, until } from './harness.mjs';

const SHORT = process.env.SHORT === '1';
// Full runs: over a minute, so the window holds one batch of the units' rows.
const WINDOW_S = Number(process.env.WINDOW_S || (SHORT ? 10 : 65));
const BURST = SHORT ? 200000 : 1000000;
const BUILD = process.env.BUILD || 'build';
const MIN = 60000;
const DAY = 86400000;

// What pantaud's writes cost the disk: write_bytes counts a page-cache page
// each time it is dirtied; cancelled_write_bytes the dirty pages dropped
// before they were written (the spool punches released pages: store.h).
function ioBytes(pid) {
  const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
  const get = (k) => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(io)[1]);
  return { written: get('write_bytes'), cancelled: get('cancelled_write_bytes') };
}
const writeBytes = (pid) => {
  const io = ioBytes(pid);
  return io.written - io.cancelled;
};
const fileSize = (p) => (fs.existsSync(p) ? fs.statSync(p).size : 0);

async function metrics(pd) {
  const r = await fetchJson(`http://127.0.0.1:${pd.httpPort}/metrics`);
  const get = (name) => Number((new RegExp(`^${name} (\\d+)`, 'm').exec(r.text) || [])[1] || 0);
  return { stored: get('pantau_stored_total'), commits: get('pantau_commits_total') };
}

function line(label, value, unit, goal) {
  const v = typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 0)) : value;
  const r = goal ? `  (${(value / goal).toFixed(2)} x the goal ${goal} ${unit})` : '';
  console.log(`  ${label.padEnd(58)} ${v.padStart(10)} ${unit}${r}`);
}

// ---- the WAL's frames: which pages a window wrote ----

// mxFrame from the wal-index header (-shm, native byte order) and the
// page size from the WAL header: frames [0, mxFrame) are the WAL's.
function walFrames(db) {
  const fd = fs.openSync(`${db}-shm`, 'r');
  const b = Buffer.alloc(48);
  fs.readSync(fd, b, 0, 48, 0);
  fs.closeSync(fd);
  return b.readUInt32LE(16);
}

// Page numbers of frames [from, to) of the WAL (each frame: a 24-byte
// header whose first 4 bytes are the page number, big-endian).
function walPages(db, from, to, pages) {
  const fd = fs.openSync(`${db}-wal`, 'r');
  const h = Buffer.alloc(32);
  fs.readSync(fd, h, 0, 32, 0);
  const pageSize = h.readUInt32BE(8);
  const fh = Buffer.alloc(4);
  for (let f = from; f < to; f++) {
    fs.readSync(fd, fh, 0, 4, 32 + f * (24 + pageSize));
    pages.push(fh.readUInt32BE(0));
  }
  fs.closeSync(fd);
  return pageSize;
}

// Every frame appended to the WAL while it runs: the checkpointer restarts
// the WAL about once a second (mxFrame falls back to a few), so it is read
// every 5 ms, each time the frames new since the last look.
function walWatch(db) {
  const w = { pages: [], pageSize: 0, last: walFrames(db) };
  const look = () => {
    const cur = walFrames(db);
    const from = cur < w.last ? 0 : w.last;
    if (cur > from) w.pageSize = walPages(db, from, cur, w.pages);
    w.last = cur;
  };
  const timer = setInterval(look, 5);
  w.stop = () => {
    look();
    clearInterval(timer);
    return w;
  };
  return w;
}

function sql(db, query) {
  return execFileSync('sqlite3', ['-readonly', db, query], { encoding: 'utf8' }).trim();
}

// Frames by table or index name (dbstat: page number -> name).
function framesByName(db, pages) {
  const owner = new Map();
  for (const row of sql(db, 'SELECT pageno, name FROM dbstat').split('\n')) {
    const [p, name] = row.split('|');
    owner.set(Number(p), name);
  }
  const n = new Map();
  for (const p of pages) {
    const name = p === 1 ? 'header (page 1)' : owner.get(p) || 'freelist/new';
    n.set(name, (n.get(name) || 0) + 1);
  }
  return [...n.entries()].sort((a, b) => b[1] - a[1]);
}

// ---- (a), (b): written per sample at a steady rate ----

// Publishes msgs(i) (topic, payload) at perSecond messages/s for seconds.
async function publishAt(pub, perSecond, seconds, msg) {
  const t0 = performance.now();
  const total = Math.round(perSecond * seconds);
  let sent = 0;
  const pending = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * perSecond));
    for (; sent < due; sent++) {
      const [topic, payload] = msg(sent);
      pending.push(pub.publish(topic, payload));
    }
    if (pending.length > 5000) await Promise.all(pending.splice(0));
    await sleep(5);
  }
  await Promise.all(pending);
  return total;
}

async function steadyRate({ label, config, series, perSecond, valuesPerMsg, msg, goal }) {
  const broker = await startBroker();
  const pd = await startPantaud(broker, { config });
  const pub = await mqttPublisher(broker);
  try {
    // Every series made first: a new series' row is not the steady cost.
    const warm = series / valuesPerMsg;
    const pending = [];
    for (let i = 0; i < warm; i++) {
      const [topic, payload] = msg(i);
      pending.push(pub.publish(topic, payload));
      if (pending.length >= 1000) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    await until(async () => (await metrics(pd)).stored >= series, 120000, 'the warm-up stored', 200);
    await sleep(2500); // its checkpoint
    const m0 = await metrics(pd);
    const w0 = writeBytes(pd.pid);
    const io0 = ioBytes(pd.pid);
    const log0 = fileSize(`${pd.db}-head`);
    const watch = walWatch(pd.db);
    const n = (await publishAt(pub, perSecond, WINDOW_S, (i) => msg(warm + i))) * valuesPerMsg;
    await until(async () => (await metrics(pd)).stored >= m0.stored + n, 120000, 'the window stored', 100);
    const wal = watch.stop();
    const m1 = await metrics(pd);
    await sleep(2500); // the window's last checkpoint
    const written = writeBytes(pd.pid) - w0;
    const io1 = ioBytes(pd.pid);
    const logGrew = fileSize(`${pd.db}-head`) - log0;
    const commits = m1.commits - m0.commits;
    // The head's hours become chunk rows once an hour: a clean stop writes
    // them all now (store_close), and its log line says what pantaud wrote
    // in all. Each series' hour costs a row whatever it holds, so that
    // cost, spread over an hour of samples at this rate, is the hourly
    // flush's share of a sample.
    const beforeStop = writeBytes(pd.pid);
    await pd.stop(60000);
    const m = /disk writes since start: (\d+) bytes, (\d+) of them cancelled/.exec(pd.readLog());
    const flushBytes = m ? Number(m[1]) - Number(m[2]) - beforeStop : NaN;
    const perHour = perSecond * valuesPerMsg * 3600;
    const flushShare = flushBytes / perHour;
    line(`${label}: written per sample`, written / n + flushShare, 'B', goal);
    console.log(`  ${''.padEnd(4)}(${n} samples in ${WINDOW_S} s, ${commits} commits, ${(n / commits).toFixed(1)} samples a commit, ` +
      `${(written / WINDOW_S / 1e6).toFixed(2)} MB/s)`);
    console.log(`  ${''.padEnd(4)}as it arrives: ${(written / n).toFixed(1)} B a sample (the head log grew ${(logGrew / n).toFixed(1)} B a sample; ` +
      `${((io1.cancelled - io0.cancelled) / n).toFixed(1)} B a sample of spool pages dropped before the disk saw them, not counted)`);
    console.log(`  ${''.padEnd(4)}once an hour: ${(flushBytes / series).toFixed(0)} B a series to write its hour as a chunk row ` +
      `(measured at the stop), over ${(perHour / series).toFixed(0)} samples a series an hour: ${flushShare.toFixed(1)} B a sample`);
    {
      const frames = wal.pages.length;
      const frameBytes = wal.pageSize + 24;
      console.log(`  ${''.padEnd(4)}WAL: ${frames} frames of ${frameBytes} B: ${(frames / commits).toFixed(2)} a commit, ` +
        `${((frames * frameBytes) / n).toFixed(0)} B a sample appended (write_bytes counts a page-cache page once per dirtying)`);
      const by = framesByName(pd.db, wal.pages)
        .map(([name, k]) => `${name} ${(k / commits).toFixed(2)}`)
        .join(', ');
      console.log(`  ${''.padEnd(4)}frames a commit by table: ${by}`);
    }
  } finally {
    await pub.close();
  }
}

// ---- (c), (d), (e) ----

// Two days of 500 series at a 60 s cadence as export.csv's format, in time
// order (as units would have sent it), ts with millisecond jitter.
// The first `skip` rows are left out (an import resumed).
function* historyCsv(t0, series, per, skip = 0) {
  yield 'ts,program,unit,metric,labels,value\r\n';
  const state = Array.from({ length: series }, (_, s) => (s % 3 === 0 ? 1000 * s : s % 3 === 1 ? 14500 : 25));
  let rnd = 12345;
  const random = () => ((rnd = (rnd * 1103515245 + 12345) % 2147483648) / 2147483648);
  let chunk = '';
  for (let k = 0; k < per; k++) {
    for (let s = 0; s < series; s++) {
      const kind = s % 3;
      if (kind === 0) state[s] += Math.floor(random() * 6); // a counter
      else if (kind === 1 && random() < 0.01) state[s] += 250 * (random() < 0.5 ? -1 : 1); // a price in steps
      else if (kind === 2) state[s] = Math.round(250 + 40 * Math.sin(k / 200 + s) + random() * 5) / 10; // 25.3 °C
      const ts = t0 + k * MIN + Math.floor(random() * 1000);
      if (k * series + s < skip) continue;
      chunk += `${ts},hist,u${Math.floor(s / 10)},m${s % 10},"{}",${state[s]}\r\n`;
      if (chunk.length > 60000) {
        yield chunk;
        chunk = '';
      }
    }
  }
  if (chunk) yield chunk;
}

// makeGen: a generator function, run twice (its length first: the import
// wants a Content-Length).
function importCsv(port, makeGen) {
  let length = 0;
  for (const c of makeGen()) length += Buffer.byteLength(c);
  return new Promise((resolve, reject) => {
    const headers = { 'content-length': length };
    const req = http.request({ host: '127.0.0.1', port, path: '/api/v1/import.csv', method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        const m = /; (\d+) rows were stored before/.exec(text);
        if (res.statusCode === 200) resolve(JSON.parse(text));
        else if (res.statusCode === 503 && m) resolve({ stored: Number(m[1]), busy: true });
        else reject(new Error(`import: ${res.statusCode} ${text}`));
      });
    });
    req.on('error', reject);
    Readable.from(makeGen()).pipe(req);
  });
}

async function timeMs(url, times = 20) {
  const t = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    const r = await fetchJson(url, { ms: 60000 });
    if (r.status !== 200) throw new Error(`${url}: ${r.status} ${r.text.slice(0, 200)}`);
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

async function atRest() {
  const broker = await startBroker();
  const pd = await startPantaud(broker);
  const series = 500;
  const per = 2 * 1440;
  const n = series * per;
  const t0 = Math.floor((Date.now() - 2 * DAY - 10 * MIN) / MIN) * MIN;
  const t = performance.now();
  // An import that meets a busy database answers 503 with what it stored:
  // it is resumed from there (today a checkpoint's lock can do that).
  let stored = 0;
  let resumed = 0;
  for (;;) {
    const r = await importCsv(pd.httpPort, () => historyCsv(t0, series, per, stored));
    stored += r.stored;
    if (!r.busy || ++resumed > 5) break;
  }
  const secs = (performance.now() - t) / 1000;
  if (stored !== n) throw new Error(`import stored ${stored} of ${n}`);
  const day = `http://127.0.0.1:${pd.httpPort}/api/v1/query?program=hist&unit=u7&metric=m3&from=${t0 + DAY}&to=${t0 + 2 * DAY}`;
  const rawDay = await timeMs(day);
  await sleep(3000); // a few checkpoints: what the file keeps afterwards
  const wal = fileSize(`${pd.db}-wal`);
  // The writer cuts the WAL at its first commit after a restart: one more
  // sample, as a live regency always has a next one.
  const one = await fetchJson(`http://127.0.0.1:${pd.httpPort}/api/v1/ingest/hist/u0/m0`, { method: 'POST', body: '1' });
  if (one.status !== 200) throw new Error(`ingest: ${one.status} ${one.text}`);
  await sleep(3000);
  const walNext = fileSize(`${pd.db}-wal`);
  await pd.stop();
  const [pages, free, size] = sql(pd.db, 'PRAGMA page_count; PRAGMA freelist_count; PRAGMA page_size').split('\n').map(Number);
  const bytes = (pages - free) * size;
  line(`(c) two days, 500 series at 60 s: stored per sample`, bytes / n, 'B', 4);
  const by = sql(pd.db, "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 6")
    .split('\n')
    .map((row) => row.split('|'))
    .map(([name, b]) => `${name} ${(Number(b) / n).toFixed(1)}`)
    .join(', ');
  console.log(`  ${''.padEnd(4)}(${n} samples imported in ${secs.toFixed(1)} s${resumed ? `, resumed ${resumed} times after a 503` : ''}; ${(bytes / 1048576).toFixed(1)} MiB in ${pages - free} pages of ${size} B; ` +
    `B a sample by table: ${by})`);
  line('(c) a raw day of one series (1,440 samples), median', rawDay, 'ms', 5);
  line('(d) the WAL file once that import is stored, quiet', wal / 1048576, 'MiB', 64);
  line('(d) the same after one more sample and 3 s', walNext / 1048576, 'MiB', 64);
}

async function walAfterBurst() {
  const broker = await startBroker();
  const pd = await startPantaud(broker);
  const pub = await mqttPublisher(broker);
  const wal = `${pd.db}-wal`;
  let peak = 0;
  const watch = setInterval(() => (peak = Math.max(peak, fileSize(wal))), 100);
  try {
    const t0 = Date.now() - DAY;
    const msgs = BURST / 1000;
    const pending = [];
    for (let j = 0; j < msgs; j++) {
      const s = j % 100;
      const base = t0 + Math.floor(j / 100) * 1000 * 1000;
      const arr = [];
      for (let e = 0; e < 1000; e++) arr.push({ ts: base + e * 1000, value: (j * 7 + e) % 1000 / 10 });
      pending.push(pub.publish(`pantau/burst/u${s % 10}/m${Math.floor(s / 10)}`, JSON.stringify(arr)));
      if (pending.length >= 100) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    const t = performance.now();
    await until(async () => (await metrics(pd)).stored >= BURST, 300000, 'the burst stored', 200);
    const secs = (performance.now() - t) / 1000;
    await sleep(3000); // a few checkpoints: what the file keeps afterwards
    clearInterval(watch);
    const after = fileSize(wal);
    peak = Math.max(peak, after);
    line(`(d) the WAL file once a ${BURST / 1e6}M-sample burst is stored`, after / 1048576, 'MiB', 64);
    console.log(`  ${''.padEnd(4)}(its peak meanwhile ${(peak / 1048576).toFixed(1)} MiB; stored within ${secs.toFixed(1)} s of the last publish)`);
  } finally {
    clearInterval(watch);
    await pub.close();
    await pd.stop();
  }
}

async function year() {
  const kpi = path.resolve(repoRoot, BUILD, 'tests/bench_kpi');
  if (SHORT || !fs.existsSync(kpi)) {
    console.log('  (e) a year as 1,000 buckets, /api/v1/programs: skipped (SHORT=1 or no bench_kpi)');
    return;
  }
  const dir = tmpdir();
  const db = path.join(dir, 'year.db');
  const catalog = path.join(dir, 'year.ini');
  const r = spawnSync(kpi, [db, catalog], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench_kpi: ${r.stderr}`);
  const broker = await startBroker();
  const pd = await startPantaud(broker, { db, args: ['--catalog', catalog] });
  try {
    const api = `http://127.0.0.1:${pd.httpPort}/api/v1`;
    await until(async () => (await fetchJson(`${api}/programs`, { ms: 60000 })).status === 200, 60000, 'programs');
    const to = Date.now();
    const q = `${api}/query?program=p07&unit=unit-1&metric=m2&from=${to - 365 * DAY}&to=${to}&points=1000&agg=avg`;
    line('(e) a year of an hourly series as 1,000 buckets, median', await timeMs(q), 'ms', 20);
    line('(e) GET /api/v1/programs (50 programs x 3 KPIs), median', await timeMs(`${api}/programs`), 'ms', 50);
  } finally {
    await pd.stop();
  }
}

const everyday = {
  label: '(a) 100 samples/s, 2,000 series',
  config: '',
  series: 2000,
  perSecond: 100,
  valuesPerMsg: 1,
  // 20 units x 100 metrics, one-decimal readings, ts = arrival.
  msg: (i) => [`pantau/daily/u${Math.floor((i % 2000) / 100)}/m${i % 100}`, String(((i * 37) % 4000) / 10)],
  goal: 256,
};
const scenarioB = {
  label: '(b) 1,111 msg/s x 3 values, 30,000 series',
  config: '[store]\nmax_units = 20000\n',
  series: 30000,
  perSecond: 1111,
  valuesPerMsg: 3,
  // 10,000 devices, each message three metrics (ThingsBoard's scenario B).
  msg: (i) => [
    `pantau/tb/d${i % 10000}/t`,
    JSON.stringify([
      { metric: 'temperature', value: ((i * 13) % 400) / 10 },
      { metric: 'humidity', value: (i * 7) % 100 },
      { metric: 'energy', value: i },
    ]),
  ],
  goal: 64,
};

const only = (process.env.ONLY || 'a b c d e').split(/\s+/);
console.log(`  (windows of ${WINDOW_S} s${SHORT ? '; SHORT=1' : ''})`);
if (only.includes('a')) await steadyRate(everyday);
if (only.includes('b')) await steadyRate(scenarioB);
if (only.includes('c')) await atRest();
if (only.includes('d')) await walAfterBurst();
if (only.includes('e')) await year();
process.exit(0);
