// hostile_answers.test.mjs — CONTRACT §10 "Answers" and §1.1's import against a
// real pantaud and mosquitto, with one viewer (and one operator) token:
//  a. GET /series over 100,000 series asked by 25 clients that never read:
//     pantaud's RSS grows by little (each holds one chunk, not the answer);
//  b. a raw GET /query of 400,000 samples by 20 clients that never read: the same;
//  c. 200 concurrent GET /report: at most [http] max_heavy (4) run, the rest
//     get 503 busy with Retry-After at once; /healthz stays fast; RSS bounded;
//  d. 8 concurrent large CSV imports: 4 served (every row stored), 4 busy,
//     RSS bounded;
//  e. a streamed answer (chunked) parses and equals what a small one gives:
//     /series and /query read whole and in pieces agree with the database.
// The database is filled directly with sqlite3 (as http.test.mjs does for
// its export), so 100k series exist in seconds: samples in the old layout's
// table, which pantaud's start converts to chunk rows (SAMPLES_TO_CONVERT).
// Scale: PANTAU_ANSWERS_SCALE (default 0.25: 25k series, 100k raw samples,
// imports of 30k rows; make bench runs 1, the sizes above). At any scale a
// deaf client's RSS bound (a, b, f) is at most half of what holding its
// whole answer would take, so a daemon that buffered answers fails it; the
// counts and equalities (c, d, e) are exact at any scale.
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import {
  assert,
  assertEq,
  countSamples,
  fetchJson,
  percentile,
  runCases,
  SAMPLES_TO_CONVERT,
  sanitized,
  sleep,
  startBroker,
  startPantaud,
  tmpdir,
  until,
} from './harness.mjs';

const VIEWER = 'wall-screen-token-0123456789';
const OPERATOR = 'bappeda-operator-token-0123456789';
const TOKENS = `[auth]\nviewer = ${VIEWER}\noperator = ${OPERATOR}\n[store]\nmax_series = 1000000\n`;
const SCALE = Number(process.env.PANTAU_ANSWERS_SCALE || 0.25);
const N_SERIES = Math.round(100000 * SCALE);
const N_RAW = Math.round(400000 * SCALE);
// Resolved alerts in the period, three to a fired_at (ties cross pages): more
// than the 10,000 an answer lists.
const N_ALERTS = 12000;
const ALERTS_LIMIT = 10000;
const H = 3600 * 1000;
const T0 = Math.floor((Date.now() - 3 * 24 * H) / H) * H; // inside the raw retention
const MiB = 1024;

const CATALOG = `[regency]
id = lampung-tengah
name = Kabupaten Lampung Tengah

[program pjs]
name = Pengelolaan Sampah
dimension = environment

[program bulk]
name = Data logger
dimension = environment

[program imp]
name = Impor
dimension = governance

[kpi pjs/kampung]
name = Kampung terlayani
metric = waste_kg
agg = distinct:kampung
period = total
target = ${N_SERIES}
start = 2020-01-01
deadline = 2030-12-31

[kpi pjs/total]
name = Sampah
metric = waste_kg
agg = sum
period = total
target = 1000000000000
start = 2020-01-01
deadline = 2030-12-31
`;

// N_SERIES series of pjs/waste_kg (100 a unit, labels of ~70 bytes), each with
// one sample; and one series bulk/logger/level with N_RAW samples, 1 s apart.
function fillDb(db) {
  execFileSync('sqlite3', [
    db,
    `BEGIN;
     ${SAMPLES_TO_CONVERT}
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${N_SERIES})
     INSERT INTO series (id, program, unit, metric, labels, created, last_ts, last_value)
       SELECT i, 'pjs', printf('u-%04d', i / 100), 'waste_kg',
              printf('{"kampung":"k-%06d","pad":"%s"}', i, 'abcdefghijklmnopqrstuvwxyz0123456789abcdefgh'),
              0, ${T0} + i, i FROM n;
     INSERT INTO samples (series, ts, value, arrival) SELECT id, last_ts, last_value, 0 FROM series;
     INSERT INTO series (id, program, unit, metric, labels, created, last_ts, last_value)
       VALUES (${N_SERIES + 1}, 'bulk', 'logger', 'level', '{}', 0, ${T0}, ${N_RAW - 1});
     WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${N_RAW - 1})
     INSERT INTO samples (series, ts, value, arrival) SELECT ${N_SERIES + 1}, ${T0} - (${N_RAW - 1} - i) * 1000, i, 0 FROM n;
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${N_ALERTS})
     INSERT INTO alerts (id, rule, severity, program, unit, metric, labels, series, since, fired_at,
                         resolved_at, value, message)
       SELECT i, 'harga-melonjak', 'warning', 'pjs', printf('u-%04d', i % 1000), 'waste_kg', '{}', NULL,
              ${T0} + (i / 3) * 1000, ${T0} + (i / 3) * 1000, ${T0} + (i / 3) * 1000 + 500, i,
              printf('Harga %d di pasar %s jauh di atas acuan: %s', i, printf('u-%04d', i % 1000),
                     'abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789') FROM n;
     COMMIT;`,
  ]);
}

const auth = (token = VIEWER) => ({ authorization: `Bearer ${token}` });

// Clients that send a GET and never read: their sockets are paused at once.
function deafClients(port, p, n) {
  const socks = [];
  for (let i = 0; i < n; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.on('connect', () => {
      s.write(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${VIEWER}\r\n\r\n`);
      s.pause();
    });
    socks.push(s);
  }
  return socks;
}

// The largest RSS over `ms` (sampled every 100 ms), in KiB.
async function maxRssOver(p, ms) {
  let max = p.rss();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await sleep(100);
    max = Math.max(max, p.rss());
  }
  return max;
}

// Warms the four worker threads' read connections (their page caches are
// part of the baseline, not of what a deaf client holds). Resolves the
// answer's size in KiB.
async function warm(base, p) {
  const answers = await Promise.all([0, 1, 2, 3].map(() => fetchJson(base + p, { headers: auth(), ms: 60000 })));
  return Buffer.byteLength(answers[0].text) / 1024;
}

async function deafCase(ctx, p, n, label) {
  const { pd, base } = ctx;
  const answerKiB = await warm(base, p);
  const rss0 = pd.rss();
  const socks = deafClients(pd.httpPort, p, n);
  try {
    const max = await maxRssOver(pd, 4000);
    const growth = max - rss0;
    console.log(`  # ${label}: ${n} deaf clients, RSS ${rss0} -> max ${max} KiB (+${growth} KiB, ${(growth / n).toFixed(0)} KiB a client); an answer ${Math.round(answerKiB)} KiB`);
    // /healthz answers meanwhile.
    assertEq((await fetchJson(`${base}/healthz`, { ms: 2000 })).status, 200, 'healthz meanwhile');
    // 64 MiB, or half of what n whole answers would hold if that is less
    // (a small scale): the bound fails a daemon that buffers the answer.
    const bound = Math.min(64 * MiB, (n * answerKiB) / 2);
    if (!sanitized(pd.pid)) assert(growth < bound, `RSS grew ${growth} KiB with ${n} deaf clients (bound ${Math.round(bound)} KiB)`);
  } finally {
    for (const s of socks) s.destroy();
  }
}

// POST over a raw socket, reading as it writes: a 503 sent before the body
// is read (and the connection closed) is seen, not lost in a reset. With
// headWaitMs the body follows the head only that much later, so that
// requests sent together are all in (holding their slots, or refused)
// before any body is: a quick import cannot end and free its slot while
// the last heads are still on the way.
function postRaw(port, p, token, body, ms, headWaitMs = 0) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      const m = /^HTTP\/1\.1 (\d+)/.exec(got);
      const head = got.split('\r\n\r\n')[0];
      const retry = /\r\nretry-after: *(\d+)/i.exec(head);
      let text = got.slice(head.length + 4);
      if (/transfer-encoding: chunked/i.test(head)) text = text.replace(/^[0-9a-f]+\r\n/, '').replace(/\r\n0\r\n\r\n$/, '');
      resolve({ status: m ? Number(m[1]) : -1, retry: retry ? retry[1] : null, text });
    };
    const timer = setTimeout(done, ms);
    s.on('data', (d) => {
      got += d.toString('latin1');
      const head = got.split('\r\n\r\n')[0];
      const len = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (len && got.length >= head.length + 4 + Number(len[1])) done();
    });
    s.on('error', () => {});
    s.on('close', done);
    s.on('connect', async () => {
      s.write(
        `POST ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
      );
      if (headWaitMs) await sleep(headWaitMs);
      for (let at = 0; at < body.length && !s.destroyed; at += 65536) {
        if (!s.write(body.slice(at, at + 65536))) await new Promise((r) => s.once('drain', r).once('close', r));
      }
    });
  });
}

function csvRows(unit, n) {
  const rows = ['ts,program,unit,metric,labels,value'];
  for (let i = 0; i < n; i++) rows.push(`${T0 - i * 1000},imp,${unit},load,"{""shift"":""s-${i % 7}""}",${i}`);
  return rows.join('\r\n') + '\r\n';
}

await runCases(
  'hostile_answers.test.mjs',
  [
    [
      'a. /series over 100k series, 25 clients that never read: RSS bounded',
      (ctx) => deafCase(ctx, '/api/v1/series', 25, '/series'),
      60000,
    ],
    [
      'b. raw /query of 400k samples, 20 clients that never read: RSS bounded',
      (ctx) => deafCase(ctx, `/api/v1/query?program=bulk&metric=level&from=0&to=${Date.now()}`, 20, 'raw /query'),
      60000,
    ],
    [
      'c. 200 concurrent /report: 4 run, the rest 503 busy with Retry-After at once; /healthz fast',
      async ({ pd, base }) => {
        const rss0 = pd.rss();
        const url = `${base}/api/v1/report?from=${T0 - 30 * 24 * H}&to=${Date.now()}`;
        let healthzDone = false;
        const lat = [];
        const probe = (async () => {
          while (!healthzDone) {
            const t = performance.now();
            const r = await fetchJson(`${base}/healthz`, { ms: 5000 });
            lat.push(performance.now() - t);
            assertEq(r.status, 200, 'healthz');
            await sleep(20);
          }
        })();
        let maxRss = rss0;
        const rssTimer = setInterval(() => (maxRss = Math.max(maxRss, pd.rss())), 100);
        const t0 = performance.now();
        const answers = await Promise.all(
          Array.from({ length: 200 }, async () => {
            const res = await fetch(url, { headers: auth(), signal: AbortSignal.timeout(120000) });
            const text = await res.text();
            return { status: res.status, retry: res.headers.get('retry-after'), text, ms: performance.now() - t0 };
          }),
        );
        healthzDone = true;
        await probe;
        clearInterval(rssTimer);
        const ok = answers.filter((a) => a.status === 200);
        const busy = answers.filter((a) => a.status === 503);
        lat.sort((a, b) => a - b);
        console.log(
          `  # 200 reports: ${ok.length} served, ${busy.length} busy; /healthz p50 ${percentile(lat, 50).toFixed(1)} ms p99 ${percentile(lat, 99).toFixed(1)} ms max ${lat[lat.length - 1].toFixed(1)} ms (${lat.length}); RSS +${maxRss - rss0} KiB`,
        );
        assertEq(ok.length + busy.length, 200, 'every answer 200 or 503');
        assert(ok.length >= 4 && ok.length <= 40, `about 4 at a time served (${ok.length})`);
        for (const b of busy) {
          const j = JSON.parse(b.text);
          assertEq(j.error, 'busy', 'busy error');
          assert(Number(b.retry) > 0, `Retry-After: ${b.retry}`);
        }
        const busyMs = busy.map((b) => b.ms).sort((a, b) => a - b);
        assert(percentile(busyMs, 50) < 2000, `busy answered at once (p50 ${percentile(busyMs, 50)} ms)`);
        const r = JSON.parse(ok[0].text);
        const kampung = r.programs[0].kpis.find((k) => k.id === 'kampung');
        assertEq(kampung.value_at_to, N_SERIES, 'the report counts every kampung');
        assert(lat.length >= 3, 'healthz probed during the reports');
        if (!sanitized(pd.pid)) {
          assert(percentile(lat, 99) < 1000, `/healthz p99 ${percentile(lat, 99)} ms`);
          // 4 reports at once, each a read connection (page cache up to 16 MiB)
          // and a set of 100k distinct kampung: bounded, whatever the callers.
          assert(maxRss - rss0 < 128 * MiB, `RSS grew ${maxRss - rss0} KiB`);
        }
        // Once they are done, a report runs again.
        assertEq((await fetchJson(url, { headers: auth(), ms: 60000 })).status, 200, 'a report after the storm');
      },
      150000,
    ],
    [
      'd. 8 concurrent large imports: 4 served with every row stored, 4 busy; RSS bounded',
      async ({ pd, base }) => {
        const rows = Math.round(120000 * SCALE);
        const bodies = Array.from({ length: 8 }, (_, i) => csvRows(`imp-${i}`, rows));
        const rss0 = pd.rss();
        let maxRss = rss0;
        const rssTimer = setInterval(() => (maxRss = Math.max(maxRss, pd.rss())), 100);
        const answers = await Promise.all(bodies.map((body) => postRaw(pd.httpPort, '/api/v1/import.csv', OPERATOR, body, 240000, 1000)));
        clearInterval(rssTimer);
        const served = answers.map((a, i) => ({ ...a, i })).filter((a) => a.status === 200);
        const busy = answers.filter((a) => a.status === 503);
        console.log(
          `  # 8 imports of ${(bodies[0].length / 1e6).toFixed(1)} MB: ${served.length} served, ${busy.length} busy; RSS +${maxRss - rss0} KiB`,
        );
        assertEq(served.length, 4, `4 served: ${answers.map((a) => a.status)}`);
        assertEq(busy.length, 4, '4 busy');
        for (const b of busy) {
          assertEq(JSON.parse(b.text).error, 'busy', 'busy error');
          assert(Number(b.retry) > 0, 'Retry-After');
        }
        for (const s of served) {
          assertEq(JSON.parse(s.text).stored, rows, `import ${s.i} stored every row`);
          const n = await countSamples(pd, {
            series: `program=imp&unit=imp-${s.i}`,
            where: (x) => x.unit === `imp-${s.i}`,
            headers: auth(),
          });
          assertEq(n, rows, `import ${s.i}: samples stored`);
        }
        if (!sanitized(pd.pid)) assert(maxRss - rss0 < 64 * MiB, `RSS grew ${maxRss - rss0} KiB`);
      },
      260000,
    ],
    [
      'e. streamed answers parse and equal the database, whole and for a small case',
      async ({ pd, base }) => {
        // Small: one chunk, Content-Length; large: chunked. Both JSON.
        const small = await fetch(`${base}/api/v1/series?unit=u-0001`, { headers: auth() });
        const smallText = await small.text();
        assert(small.headers.get('content-length'), 'a small answer has a Content-Length');
        const sj = JSON.parse(smallText);
        assertEq(sj.series.length, 100, 'unit u-0001 has 100 series');
        const s0 = sj.series.find((s) => s.labels.kampung === 'k-000100');
        assertEq(
          s0,
          {
            program: 'pjs',
            unit: 'u-0001',
            metric: 'waste_kg',
            labels: { kampung: 'k-000100', pad: 'abcdefghijklmnopqrstuvwxyz0123456789abcdefgh' },
            last_ts: T0 + 100,
            last_value: 100,
          },
          'one series',
        );
        const all = await fetch(`${base}/api/v1/series`, { headers: auth() });
        assertEq(all.headers.get('transfer-encoding'), 'chunked', 'a large answer is streamed');
        const aj = JSON.parse(await all.text());
        const inDb = Number(execFileSync('sqlite3', [pd.db, 'SELECT count(*) FROM series;']).toString().trim());
        assert(inDb >= N_SERIES + 1, `the database has the series (${inDb})`);
        assertEq(aj.series.length, inDb, 'every series of the database');
        const keys = new Set(aj.series.map((s) => `${s.program}/${s.unit}/${s.metric}/${JSON.stringify(s.labels)}`));
        assertEq(keys.size, aj.series.length, 'no series twice');
        const inUnit = aj.series.filter((s) => s.unit === 'u-0001');
        assertEq(inUnit, sj.series, 'the streamed list holds the small answer as it is');
        // Raw query: streamed in pieces, every sample once, in ts order.
        const q = await fetch(`${base}/api/v1/query?program=bulk&metric=level&from=0&to=${Date.now()}`, { headers: auth() });
        assertEq(q.headers.get('transfer-encoding'), 'chunked', 'a large query is streamed');
        const qj = JSON.parse(await q.text());
        const pts = qj.series[0].points;
        assertEq(pts.length, N_RAW, 'every sample');
        assert(
          pts.every((p, i) => p[1] === i && (i === 0 || p[0] - pts[i - 1][0] === 1000)),
          'in order, once each',
        );
        assertEq(qj.step, 0, 'raw');
        // Buckets over many series: streamed equals the sum of its parts.
        const b = await fetchJson(`${base}/api/v1/query?program=pjs&metric=waste_kg&from=0&to=${Date.now()}&step=${24 * H}&agg=sum`, {
          headers: auth(),
          ms: 60000,
        });
        assertEq(b.json.series.length, N_SERIES, 'a bucketed answer lists every series');
        const total = b.json.series.reduce((t, s) => t + s.points.reduce((u, p) => u + p[1], 0), 0);
        assertEq(total, (N_SERIES * (N_SERIES + 1)) / 2, 'bucket sums');
      },
      120000,
    ],
    [
      "f. a period's alerts and the report's are streamed as the client reads: newest first, each once",
      async (ctx) => {
        const { base } = ctx;
        const to = Date.now();
        const r = await fetch(`${base}/api/v1/alerts?state=all&from=0&to=${to}`, { headers: auth() });
        assertEq(r.headers.get('transfer-encoding'), 'chunked', 'a long alert list is streamed');
        const alerts = JSON.parse(await r.text()).alerts;
        assertEq(alerts.length, ALERTS_LIMIT, 'at most 10,000 alerts');
        assertEq(new Set(alerts.map((a) => a.id)).size, alerts.length, 'each alert once');
        assert(
          alerts.every(
            (a, i) => i === 0 || a.fired_at < alerts[i - 1].fired_at || (a.fired_at === alerts[i - 1].fired_at && a.id < alerts[i - 1].id),
          ),
          'newest first, ties by id',
        );
        assertEq(alerts[0].id, N_ALERTS, 'from the newest');
        const small = await fetch(`${base}/api/v1/alerts?state=all&from=${T0 + 1000 * 1000}&to=${T0 + 1001 * 1000}`, { headers: auth() });
        assert(small.headers.get('content-length'), 'a short list is one answer with a Content-Length');
        assertEq(JSON.parse(await small.text()).alerts.length, 3 + 3, 'the alerts of two seconds');
        const rep = await fetch(`${base}/api/v1/report?from=0&to=${to}`, { headers: auth() });
        assertEq(rep.status, 200, 'the report');
        assertEq(rep.headers.get('transfer-encoding'), 'chunked', 'a report with many alerts is streamed');
        const rj = JSON.parse(await rep.text());
        assertEq(rj.alerts.length, ALERTS_LIMIT, "the report's alerts");
        assert(rj.programs.length >= 3 && rj.dimensions.length === 6, 'and the rest of the report');
        await deafCase(ctx, `/api/v1/alerts?state=all&from=0&to=${to}`, 25, 'alerts');
      },
      120000,
    ],
  ],
  {
    totalMs: 600000,
    before: async () => {
      const broker = await startBroker();
      const db = path.join(tmpdir(), 'answers.db');
      const first = await startPantaud(broker, { db });
      await first.stop();
      fillDb(db);
      const catalog = path.join(tmpdir(), 'answers-catalog.ini');
      (await import('node:fs')).writeFileSync(catalog, CATALOG);
      const pd = await startPantaud(broker, { db, config: TOKENS, args: ['--catalog', catalog] });
      const base = `http://127.0.0.1:${pd.httpPort}`;
      await until(async () => (await fetchJson(`${base}/healthz`)).status === 200, 10000, 'healthy');
      return { broker, pd, base };
    },
    after: async ({ pd }) => {
      await pd?.stop();
    },
  },
);
