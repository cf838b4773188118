// hostile_ingest.test.mjs — CONTRACT §10 "Units and series", "Retained
// messages", "Values" and "Damage", against a real mosquitto and pantaud:
// made-up units past [store] max_units and one unit's made-up series past
// max_series_per_unit are refused (counted) while the others go on; with a
// catalog a program it does not list is refused (MQTT and HTTP) until a
// reload lists it; a retained sample without ts is stored once however often
// the broker replays it; a KPI summing to inf is no_data in valid JSON; a
// damaged database is refused at start, moved aside with --salvage, and
// corruption met at run time turns /healthz to 503 database_corrupt.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  PANTAUD,
  assert,
  assertEq,
  countSamples,
  fetchJson,
  mqttPublisher,
  runCases,
  SAMPLES_TO_CONVERT,
  sanitized,
  sleep,
  startBroker,
  startPantaud,
  tmpdir,
  until,
} from './harness.mjs';

const FILE = 'hostile_ingest.test.mjs';

const sql = (db, q) => execFileSync('sqlite3', ['-readonly', db, q], { timeout: 10000 }).toString().trim();
// Samples of the series that where(series) picks, through the API: the
// newest are in pantaud's head, not in the file (issue 20).
const countOf = (pd, where) => countSamples(pd, { where });
const unitsOf = async (pd, program = '') =>
  (await fetchJson(`http://127.0.0.1:${pd.httpPort}/api/v1/units${program && `?program=${program}`}`)).json.units.length;

// pantau_rejected_total{reason=...} and other counters from /metrics.
async function metric(pd, name) {
  const r = await fetchJson(`http://127.0.0.1:${pd.httpPort}/metrics`);
  const esc = name.replace(/[{}"]/g, (c) => `\\${c}`);
  const m = new RegExp(`^${esc} (\\d+)`, 'm').exec(r.text);
  return m ? Number(m[1]) : NaN;
}
// GET with node:http: {status, bytes, complete}; complete is false when the
// connection closed before the chunked body's last chunk (fetch in node 20
// does not always tell).
const getWhole = (url) =>
  new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 20000 }, (res) => {
      let bytes = 0;
      res.on('data', (c) => (bytes += c.length));
      const done = () => resolve({ status: res.statusCode, bytes, complete: res.complete });
      res.on('end', done);
      res.on('aborted', done);
      res.on('error', done);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });

const rejected = (pd, reason) => metric(pd, `pantau_rejected_total{reason="${reason}"}`);

const CATALOG = `[regency]
id = uji
name = Kabupaten Uji

[program pjs]
name = PJS
dimension = environment

[kpi pjs/pickups]
name = Pickups
metric = pickups
agg = sum
period = total
target = 100
start = 2020-01-01
deadline = 2030-12-31
`;

const cases = [
  [
    'without a catalog any program is taken',
    async (ctx) => {
      await ctx.pub.publish('pantau/any-program/u-1/m', '1');
      await until(async () => (await countOf(ctx.a, (x) => x.program === 'any-program')) === 1, 5000, 'the sample stored');
    },
  ],
  [
    '(b) one unit past max_series_per_unit: its extra series refused as series_limit, another unit still starts one',
    async (ctx) => {
      const now = Date.now();
      const batch = Array.from({ length: 80 }, (_, i) => ({ value: i, ts: now - i, labels: { serial: `s${i}` } }));
      await ctx.pub.publish('pantau/pjs/greedy/pickups', JSON.stringify(batch));
      await until(async () => (await rejected(ctx.a, 'series_limit')) === 30, 5000, '30 series_limit');
      await until(async () => (await countOf(ctx.a, (x) => x.unit === 'greedy')) === 50, 5000, '50 of its series stored');
      await ctx.pub.publish('pantau/pjs/modest/pickups', JSON.stringify({ value: 1, labels: { serial: 'x' } }));
      await until(async () => (await countOf(ctx.a, (x) => x.unit === 'modest')) === 1, 5000, "another unit's new series stored");
      await ctx.pub.publish('pantau/pjs/greedy/pickups', JSON.stringify({ value: 9, labels: { serial: 's3' } }));
      await until(async () => (await countOf(ctx.a, (x) => x.unit === 'greedy')) === 51, 5000, "the greedy unit's known series still taken");
    },
  ],
  [
    '(c) with a catalog: unknown_program for MQTT samples, $status and HTTP ingest; a reload that lists it lets it in',
    async (ctx) => {
      const b = ctx.b;
      // b sees every case's messages too (none of their programs is in its
      // catalog), maybe still while this one runs: count by topic in the
      // reject log, not by the total.
      const liar = async () => {
        const r = await fetchJson(`http://127.0.0.1:${b.httpPort}/api/v1/rejects`);
        return (r.json?.rejects ?? []).filter((e) => e.reason === 'unknown_program' && e.topic.startsWith('pantau/liar/u-1/')).length;
      };
      await ctx.pub.publish('pantau/liar/u-1/m', '1');
      await ctx.pub.publish('pantau/liar/u-1/$status', 'online');
      await until(async () => (await liar()) === 2, 15000, '2 unknown_program');
      const h = await fetchJson(`http://127.0.0.1:${b.httpPort}/api/v1/ingest/liar/u-1/m`, { method: 'POST', body: '5' });
      assertEq(h.status, 400, `HTTP ingest: ${h.text}`);
      assertEq(h.json.error, 'unknown_program', 'HTTP error');
      assertEq(await unitsOf(b, 'liar'), 0, 'no unit made');
      fs.writeFileSync(ctx.catalog, `${CATALOG}\n[program liar]\nname = Liar\ndimension = society\n`);
      process.kill(b.pid, 'SIGHUP');
      await until(() => b.readLog().includes('reload: catalog'), 5000, 'the reload');
      await ctx.pub.publish('pantau/liar/u-1/m', '2');
      await until(async () => (await countOf(b, (x) => x.program === 'liar')) === 1, 5000, 'stored after the reload');
    },
  ],
  [
    '(e) a KPI summing two 1.7e308 is null and no_data; /programs and /query stay valid JSON',
    async (ctx) => {
      const now = Date.now();
      await ctx.pub.publish('pantau/pjs/truck-09/pickups', JSON.stringify([
        { value: 1.7e308, ts: now - 2000 },
        { value: 1.7e308, ts: now - 1000 },
      ]));
      await until(async () => (await countOf(ctx.b, (x) => x.unit === 'truck-09')) === 2, 5000, 'both stored');
      await until(
        async () => {
          const r = await fetchJson(`http://127.0.0.1:${ctx.b.httpPort}/api/v1/programs`);
          assert(r.json, `/api/v1/programs is not JSON: ${r.text.slice(0, 300)}`);
          const k = r.json.programs.find((p) => p.id === 'pjs').kpis.find((x) => x.id === 'pickups');
          return k.current === null && k.status === 'no_data';
        },
        5000,
        'the KPI null and no_data',
      );
      const q = await fetchJson(
        `http://127.0.0.1:${ctx.b.httpPort}/api/v1/query?program=pjs&metric=pickups&from=${now - 60000}&to=${now}&step=60000&agg=sum`,
      );
      assertEq(q.status, 200, `/query: ${q.text}`);
      assert(q.json, `/query is not JSON: ${q.text.slice(0, 300)}`);
    },
  ],
  [
    '(a) 20,000 $status for made-up units past max_units: refused as unit_limit, RSS bounded, known units fine',
    async (ctx) => {
      const known = await unitsOf(ctx.a);
      const rss0 = ctx.a.rss();
      const presence0 = await metric(ctx.a, 'pantau_presence_total');
      for (let i = 0; i < 20000; i += 500) {
        await Promise.all(
          Array.from({ length: 500 }, (_, k) => ctx.pub.publish(`pantau/pjs/fake-${i + k}/$status`, 'online', 0)),
        );
      }
      await until(
        async () => (await metric(ctx.a, 'pantau_presence_total')) - presence0 >= 20000,
        30000,
        'every $status read',
        200,
      );
      const want = 20000 - (1000 - known);
      assertEq(await rejected(ctx.a, 'unit_limit'), want, 'unit_limit rejections');
      const units = await fetchJson(`http://127.0.0.1:${ctx.a.httpPort}/api/v1/units`);
      assertEq(units.json.units.length, 1000, '/api/v1/units');
      const grown = ctx.a.rss() - rss0;
      console.log(`# 20,000 made-up units: RSS grew ${grown} KiB (bound 20480)`);
      // (ASan's quarantine keeps freed memory: no guide there.)
      if (!sanitized(ctx.a.pid)) assert(grown < 20480, `RSS grew ${grown} KiB`);
      const r = await fetchJson(`http://127.0.0.1:${ctx.a.httpPort}/api/v1/rejects`);
      assert(r.json.rejects.some((e) => e.reason === 'unit_limit'), 'the reject log keeps unit_limit');
      await ctx.pub.publish('pantau/pjs/modest/$status', 'offline');
      await ctx.pub.publish('pantau/pjs/modest/pickups', JSON.stringify({ value: 2, labels: { serial: 'x' } }));
      await until(async () => (await countOf(ctx.a, (x) => x.unit === 'modest')) === 2, 5000, "a known unit's sample stored");
      await until(
        () => sql(ctx.a.db, "SELECT online FROM units WHERE unit = 'modest'") === '0',
        5000,
        "a known unit's $status applied",
      );
    },
    60000,
  ],
  [
    '(d) a retained bare number is stored at most once over three reconnects (retained_without_ts); one with ts once',
    async (ctx) => {
      const dir = tmpdir();
      const db = path.join(dir, 'retained.db');
      let pd = await startPantaud(ctx.broker, { db });
      const ts = Date.now() - 5000;
      await new Promise((res, rej) =>
        ctx.pub.client.publish('pantau/pjs/kpi-box/count', '5', { qos: 1, retain: true }, (e) => (e ? rej(e) : res())),
      );
      await new Promise((res, rej) =>
        ctx.pub.client.publish('pantau/pjs/kpi-box/with_ts', JSON.stringify({ value: 7, ts }), { qos: 1, retain: true }, (e) =>
          e ? rej(e) : res(),
        ),
      );
      await until(async () => (await countOf(pd, (x) => x.unit === 'kpi-box')) === 2, 5000, 'both stored once, live');
      for (let i = 0; i < 3; i++) {
        await pd.stop();
        pd = await startPantaud(ctx.broker, { db });
        await until(async () => (await rejected(pd, 'retained_without_ts')) >= 1, 5000, `replay ${i + 1} rejected`);
        await sleep(300);
      }
      assertEq(await countOf(pd, (x) => x.unit === 'kpi-box' && x.metric === 'count'), 1, 'the bare number, stored once');
      assertEq(await countOf(pd, (x) => x.unit === 'kpi-box' && x.metric === 'with_ts'), 1, 'the sample with ts, stored once');
      await new Promise((res) => ctx.pub.client.publish('pantau/pjs/kpi-box/count', '', { qos: 1, retain: true }, res));
      await new Promise((res) => ctx.pub.client.publish('pantau/pjs/kpi-box/with_ts', '', { qos: 1, retain: true }, res));
      await pd.stop();
    },
    60000,
  ],
  [
    '(f) a damaged database is refused at start, --salvage moves it aside, corruption at run time is database_corrupt',
    async (ctx) => {
      const dir = tmpdir();
      const good = path.join(dir, 'good.db');
      let pd = await startPantaud(ctx.broker, { db: good });
      await pd.stop();
      // Enough data for pages in the middle: 300,000 samples of random
      // values (~3 MB), 100 in an hour of each of 3,000 series, so that each
      // chunk row lies in a table page (not an overflow page). Converted to
      // chunk rows by a start, then vacuumed: the pages are chunk rows.
      const hour = Math.floor((Date.now() - 2 * 86400000) / 3600000) * 3600000;
      execFileSync('sqlite3', [
        good,
        `BEGIN; ${SAMPLES_TO_CONVERT}` +
          'WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000)' +
          " INSERT INTO series (id, program, unit, metric, labels, created) SELECT i, 'pjs', 'truck-1', 'pickups'," +
          " printf('{\"bin\":\"b%d\"}', i), 0 FROM c;" +
          'WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 299999)' +
          ` INSERT INTO samples SELECT 1 + i / 100, ${hour} + (i % 100) * 36000, random() / 7.0, 0 FROM c; COMMIT;`,
      ]);
      pd = await startPantaud(ctx.broker, { db: good });
      await pd.stop();
      sql(good, 'SELECT 1');
      execFileSync('sqlite3', [good, 'VACUUM; PRAGMA wal_checkpoint(TRUNCATE);']);
      assertEq(sql(good, "SELECT count(*) FROM sqlite_master WHERE name = 'samples'"), '0', 'converted');
      const pageSize = Number(sql(good, 'PRAGMA page_size'));
      const pages = Number(sql(good, 'PRAGMA page_count'));
      const damage = (file) => {
        const fd = fs.openSync(file, 'r+');
        const junk = Buffer.alloc(pageSize - 200, 0xa5);
        for (let p = Math.floor(pages * 0.4); p < Math.floor(pages * 0.5); p++) fs.writeSync(fd, junk, 0, junk.length, p * pageSize + 100);
        fs.closeSync(fd);
      };
      const bad = path.join(dir, 'bad.db');
      fs.copyFileSync(good, bad);
      damage(bad);
      const refused = spawnSync(PANTAUD, ['--allow-root', '--db', bad, '--listen', '127.0.0.1:1', '--mqtt', ctx.broker.uri], {
        timeout: 20000,
      });
      const out = refused.stderr.toString() + refused.stdout.toString();
      assertEq(refused.status, 1, `exit status (${out})`);
      assert(/is damaged \(PRAGMA quick_check: .*--salvage/.test(out), `a clear message: ${out}`);
      assert(fs.existsSync(bad) && !fs.readdirSync(dir).some((f) => f.startsWith('bad.db.damaged-')), 'left in place');

      pd = await startPantaud(ctx.broker, { db: bad, args: ['--salvage'] });
      const moved = fs.readdirSync(dir).filter((f) => /^bad\.db\.damaged-\d{8}T\d{6}Z$/.test(f));
      assertEq(moved.length, 1, `moved aside: ${fs.readdirSync(dir)}`);
      assert(pd.readLog().includes(`moved it (and its -wal, -shm) to ${path.join(dir, moved[0])}`), 'the log says where');
      assertEq(await countSamples(pd), 0, 'started empty');
      const h0 = await fetchJson(`http://127.0.0.1:${pd.httpPort}/healthz`);
      assert(!h0.json.reasons.includes('database_corrupt'), `healthy after salvage: ${h0.text}`);
      await pd.stop();

      // At run time: damage the file under a running pantaud, then read it.
      const live = path.join(dir, 'live.db');
      fs.copyFileSync(good, live);
      pd = await startPantaud(ctx.broker, { db: live });
      assertEq((await fetchJson(`http://127.0.0.1:${pd.httpPort}/healthz`)).status, 200, '/healthz before');
      damage(live);
      const exp = await getWhole(`http://127.0.0.1:${pd.httpPort}/api/v1/export.csv?from=0&to=1800000000000`);
      assert(
        !exp.complete,
        `an export cut short by corruption does not end as a clean 200 (${exp.status}, ${exp.bytes} bytes, complete)`,
      );
      const h = await fetchJson(`http://127.0.0.1:${pd.httpPort}/healthz`);
      assertEq(h.status, 503, `/healthz after: ${h.text}`);
      assert(h.json.reasons.includes('database_corrupt'), `reason database_corrupt: ${h.text}`);
      await pd.stop();
    },
    90000,
  ],
];

await runCases(FILE, cases, {
  totalMs: 240000,
  before: async () => {
    const broker = await startBroker();
    const catalog = path.join(tmpdir(), 'hostile-catalog.ini');
    fs.writeFileSync(catalog, CATALOG);
    const a = await startPantaud(broker, { config: '[store]\nmax_units = 1000\nmax_series_per_unit = 50\n' });
    const b = await startPantaud(broker, { args: ['--catalog', catalog] });
    const pub = await mqttPublisher(broker);
    return { broker, a, b, pub, catalog };
  },
  after: async (ctx) => {
    await ctx.pub.close();
  },
});
