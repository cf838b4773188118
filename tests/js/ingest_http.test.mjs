// ingest_http.test.mjs — CONTRACT §1.1 against a real pantaud: the operator
// role, POST /api/v1/ingest/<program>/<unit>/<metric> (stored, pushed live,
// rejected as MQTT rejects, counted), and POST /api/v1/import.csv (a round
// trip through export.csv, header and line-number errors, and a streamed
// 1,000,000-row import while MQTT samples keep flowing).
import { spawn } from 'node:child_process';
import http from 'node:http';
import {
  assert,
  assertEq,
  fetchJson,
  mqttPublisher,
  openClient,
  percentile,
  runCases,
  sanitized,
  sleep,
  startBroker,
  startPantaud,
  threadSanitized,
  until,
} from './harness.mjs';

const VIEWER = 'wall-screen-token-0123456789';
const OPERATOR = 'bappeda-operator-token-0123456789';
const ADMIN = 'kominfo-admin-token-0123456789';
const TOKENS = `[auth]\nviewer = ${VIEWER}\noperator = ${OPERATOR}\nadmin = ${ADMIN}\n`;
const H = 3600 * 1000;
const T0 = Math.floor((Date.now() - 2 * 24 * H) / H) * H;
const HEADER = 'ts,program,unit,metric,labels,value\r\n';

const bearer = (token) => (token ? { authorization: `Bearer ${token}` } : {});

function request(base, p, { method = 'GET', token, body } = {}) {
  return fetchJson(base + p, { method, headers: bearer(token), body, ms: 120000 });
}

const post = (base, p, body, token = OPERATOR) =>
  request(base, p, { method: 'POST', token, body: typeof body === 'string' ? body : JSON.stringify(body) });

function expectError(r, status, code) {
  assertEq(r.status, status, `status of ${r.text}`);
  assert(r.json && r.json.error === code, `error ${code} in ${r.text}`);
  assert(typeof r.json.message === 'string' && r.json.message, `a message in ${r.text}`);
}

async function rejectedTotals(base) {
  const r = await request(base, '/metrics', { token: VIEWER });
  const out = {};
  for (const m of r.text.matchAll(/^pantau_rejected_total\{reason="([a-z_]+)"\} (\d+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

async function exportCsv(base, token = VIEWER) {
  const r = await request(base, `/api/v1/export.csv?from=${T0 - H}&to=${Date.now() + 60000}`, { token });
  assertEq(r.status, 200, 'export status');
  return r.text;
}

// The 1M-row import runs in a child node process (generating the body as it
// sends it, never whole), so that this process, which times the MQTT
// samples' way to the websocket, is not busy building 68 MiB of text.
const BULK_ROWS = 1000000;
const BULK_SERIES = 100;
const BULK_T0 = Math.floor((Date.now() - 20 * 24 * H) / 60000) * 60000;
const IMPORTER = `
const http = require('node:http');
const { Readable } = require('node:stream');
const [port, token, rows, series, t0] = process.argv.slice(1).map((a, i) => (i === 1 ? a : Number(a)));
function* chunks() {
  yield 'ts,program,unit,metric,labels,value\\r\\n';
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    const ts = t0 + Math.floor(i / series) * 60000;
    chunk += ts + ',bulk,desa-' + (i % series) + ',luas_panen,"{""komoditas"":""padi""}",' + (i % 1000) / 4 + '\\r\\n';
    if (chunk.length > 60000) { yield chunk; chunk = ''; }
  }
  if (chunk) yield chunk;
}
let length = 0;
for (const c of chunks()) length += Buffer.byteLength(c);
const t = performance.now();
const req = http.request({ host: '127.0.0.1', port, path: '/api/v1/import.csv', method: 'POST',
  headers: { 'content-length': length, authorization: 'Bearer ' + token } }, (res) => {
  let text = '';
  res.on('data', (d) => (text += d));
  res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, text, length,
    secs: (performance.now() - t) / 1000 })));
});
req.on('error', (e) => console.log(JSON.stringify({ error: e.message })));
Readable.from(chunks()).pipe(req);
`;

function runImporter(port, rows) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', IMPORTER, String(port), OPERATOR, rows, BULK_SERIES, BULK_T0], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 80000);
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`importer: ${out}`));
      }
    });
  });
}

let base;
let baseB;
let broker;
let pantaud;
let pantaudB;

await runCases(
  'ingest_http.test.mjs',
  [
    [
      'roles: 401 without a token, 403 viewer, 200 operator and admin',
      async () => {
        const p = '/api/v1/ingest/survei/dinkes/kunjungan';
        expectError(await post(base, p, '1', null), 401, 'unauthorized');
        const v = await post(base, p, '1', VIEWER);
        expectError(v, 403, 'forbidden');
        assert(v.json.message.includes('operator'), `names the role: ${v.text}`);
        assertEq((await post(base, p, '1', OPERATOR)).json, { stored: 1, rejected: [] }, 'operator');
        assertEq((await post(base, p, '2', ADMIN)).json, { stored: 1, rejected: [] }, 'admin');
        expectError(await post(base, '/api/v1/import.csv', HEADER, VIEWER), 403, 'forbidden');
        // The operator reads as a viewer does, but is no admin.
        assertEq((await request(base, '/api/v1/series', { token: OPERATOR })).status, 200, 'operator reads');
        expectError(await request(base, '/api/v1/rejects', { token: OPERATOR }), 403, 'forbidden');
        expectError(await post(base, '/api/v1/reload', '', OPERATOR), 403, 'forbidden');
      },
    ],
    [
      'a survey figure: stored, in /query, pushed on the websocket',
      async () => {
        const ws = await openClient(`${pantaud.url()}?access_token=${VIEWER}`);
        try {
          await ws.subscribe(['survei/#']);
          const ts = T0 + 5 * 60000;
          const r = await post(base, '/api/v1/ingest/survei/dinkes-lamteng/prevalensi_stunting', {
            value: 17.4,
            ts,
            labels: { kecamatan: 'gunung-sugih' },
          });
          assertEq(r.status, 200, r.text);
          assertEq(r.json, { stored: 1, rejected: [] }, 'answer');
          await ws.waitUntil(
            () => ws.samples.some((s) => s.metric === 'prevalensi_stunting' && s.value === 17.4 && s.ts === ts),
            3000,
            'the sample on the websocket',
          );
          const q = await request(
            base,
            `/api/v1/query?program=survei&metric=prevalensi_stunting&from=${T0}&to=${T0 + H}`,
            { token: VIEWER },
          );
          assertEq(q.json.series, [
            {
              program: 'survei',
              unit: 'dinkes-lamteng',
              metric: 'prevalensi_stunting',
              labels: { kecamatan: 'gunung-sugih' },
              points: [[ts, 17.4]],
            },
          ], 'query');
        } finally {
          ws.close();
        }
      },
    ],
    [
      'an array: good elements stored, bad ones listed by index and reason, counted',
      async () => {
        const before = await rejectedTotals(base);
        const r = await post(base, '/api/v1/ingest/survei/disdik/angka_partisipasi', [
          { value: 91.2, ts: T0 },
          { value: 'tinggi', ts: T0 + 1 },
          { value: 3, ts: 1000 },
          5,
          { value: 92.5, ts: T0 + 2, labels: { jenjang: 'smp' } },
          { value: 1, labels: { 'Bad Key': 'x' } },
        ]);
        assertEq(r.status, 200, r.text);
        assertEq(
          r.json,
          {
            stored: 2,
            rejected: [
              { index: 1, reason: 'bad_value' },
              { index: 2, reason: 'ts_too_old' },
              { index: 3, reason: 'bad_element' },
              { index: 5, reason: 'bad_labels' },
            ],
          },
          'answer',
        );
        const after = await rejectedTotals(base);
        for (const reason of ['bad_value', 'ts_too_old', 'bad_element', 'bad_labels'])
          assertEq(after[reason] - before[reason], 1, `pantau_rejected_total{reason="${reason}"}`);
      },
    ],
    [
      'rejected whole: 400 with the reason as error, counted as MQTT rejects are',
      async () => {
        const before = await rejectedTotals(base);
        const p = '/api/v1/ingest/survei/dinkes/kunjungan';
        expectError(await post(base, p, { value: 'banyak' }), 400, 'bad_value');
        expectError(await post(base, p, 'nan'), 400, 'bad_json');
        expectError(await post(base, p, ''), 400, 'bad_json');
        expectError(await post(base, p, { value: 1, ts: Date.now() + H }), 400, 'ts_in_future');
        expectError(await post(base, p, '[]'), 400, 'bad_batch');
        expectError(await post(base, '/api/v1/ingest/Survei/dinkes/kunjungan', '1'), 400, 'bad_topic');
        expectError(await post(base, '/api/v1/ingest/survei/dinkes', '1'), 400, 'bad_topic');
        expectError(await post(base, '/api/v1/ingest/survei/dinkes/a/b', '1'), 400, 'bad_topic');
        expectError(await post(base, '/api/v1/ingest/survei/dinkes/$status', 'online'), 400, 'bad_topic');
        expectError(await post(base, p, `[${'1,'.repeat(40000)}1]`), 400, 'too_large');
        const after = await rejectedTotals(base);
        const d = (k) => after[k] - (before[k] || 0);
        assertEq(
          [d('bad_value'), d('bad_json'), d('ts_in_future'), d('bad_batch'), d('bad_topic'), d('too_large')],
          [1, 2, 1, 1, 4, 1],
          'rejects counted by reason',
        );
        // The connection is still good after a too-large body.
        assertEq((await post(base, p, '3')).status, 200, 'next request');
      },
    ],
    [
      'CSV round trip: export -> import into a fresh pantaud -> the same export',
      async () => {
        const labels = [{ toko: 'Toko "Maju", Jaya' }, { catatan: 'a,b;"c"' }, {}];
        for (let i = 0; i < 30; i++) {
          const r = await post(base, `/api/v1/ingest/pasar/toko-${i % 3}/harga`, {
            value: 12000.5 + i,
            ts: T0 + i * 60000,
            labels: labels[i % 3],
          });
          assertEq(r.json.stored, 1, r.text);
        }
        const a = await exportCsv(base);
        const rows = a.split('\r\n').filter(Boolean).length - 1;
        assert(a.includes('"{""toko"":""Toko \\""Maju\\"", Jaya""}"'), `quotes and commas in labels: ${a.slice(0, 400)}`);
        const r = await post(baseB, '/api/v1/import.csv', a);
        assertEq(r.status, 200, r.text);
        assertEq(r.json, { stored: rows, rejected_count: 0, rejected: [] }, 'import answer');
        const b = await exportCsv(baseB);
        assertEq(b, a, 'export of the import');
        // Importing again replaces (same series and ts): nothing changes.
        assertEq((await post(baseB, '/api/v1/import.csv', a)).json.stored, rows, 'second import');
        assertEq(await exportCsv(baseB), a, 'export after a second import');
      },
    ],
    [
      'import.csv: a header other than the export\'s is a 400; 413 over the limit',
      async () => {
        expectError(await post(baseB, '/api/v1/import.csv', 'time,program,unit,metric,labels,value\r\n'), 400, 'bad_header');
        expectError(await post(baseB, '/api/v1/import.csv', 'ts,program,unit,metric,value\n1,a,b,c,2\n'), 400, 'bad_header');
        expectError(await post(baseB, '/api/v1/import.csv', ''), 400, 'bad_header');
        // pantaud B is configured with import_max_bytes = 128 MiB.
        const r = await new Promise((resolve, reject) => {
          const req = http.request(
            {
              host: '127.0.0.1',
              port: pantaudB.httpPort,
              path: '/api/v1/import.csv',
              method: 'POST',
              headers: { 'content-length': 200 << 20, ...bearer(OPERATOR) },
            },
            (res) => {
              let text = '';
              res.on('data', (d) => (text += d));
              res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(text), text }));
            },
          );
          req.on('error', reject);
          req.write(HEADER); // the rest never comes: the answer must not wait for it
        });
        expectError(r, 413, 'body_too_large');
      },
    ],
    [
      'import.csv: rejected rows by the line they start on (a quoted field spanning lines)',
      async () => {
        const before = await rejectedTotals(baseB);
        const csv = [
          'ts,program,unit,metric,labels,value', // 1
          `${T0},survei,kec-1,ipm,"{}",70.1`, // 2
          `${T0},survei,kec-2,ipm,"{""nama"":""baris`, // 3: a quoted field spanning 3-4
          `dua""}",70.2`, // 4 (bad_labels: a raw newline in a JSON string)
          `${T0},survei,kec-3,ipm,"{}",tujuh puluh`, // 5 bad_value
          '', // 6 blank: skipped
          `${T0},survei,kec-4,ipm,"{}"`, // 7 bad_row
          `1000,survei,kec-5,ipm,"{}",70`, // 8 ts_too_old
          `${Date.now() + H},survei,kec-6,ipm,"{}",70`, // 9 ts_in_future
          `${T0},Survei,kec-7,ipm,"{}",70`, // 10 bad_topic
          `${T0},survei,kec-8,ipm,"{""a"":1}",70`, // 11 bad_labels
          `"${T0}","survei","kec-9","ipm","{""x"":""y""}","71.5"`, // 12 every field quoted: fine
          `${T0},survei,kec-10,ipm,,72`, // 13 no labels: fine
          `${T0},survei,kec-11,$status,"{}",1`, // 14 bad_topic
          `${T0},survei,kec-12,ipm,"{}",1e999`, // 15 bad_value (not finite)
          `2026-11-22T08:15:00+07:00,survei,kec-13,ipm,"{}",1`, // 16 RFC 3339 ts: taken as in a payload
          `${T0},survei,kec-14,ipm,"{}",73`, // 17 no line end at the end
        ].join('\n');
        const r = await post(baseB, '/api/v1/import.csv', csv);
        assertEq(r.status, 200, r.text);
        const rfc = Date.parse('2026-11-22T08:15:00+07:00');
        const line16 = rfc > Date.now() + 300000 ? [{ line: 16, reason: 'ts_in_future' }] : [];
        const rejected = [
          { line: 3, reason: 'bad_labels' },
          { line: 5, reason: 'bad_value' },
          { line: 7, reason: 'bad_row' },
          { line: 8, reason: 'ts_too_old' },
          { line: 9, reason: 'ts_in_future' },
          { line: 10, reason: 'bad_topic' },
          { line: 11, reason: 'bad_labels' },
          { line: 14, reason: 'bad_topic' },
          { line: 15, reason: 'bad_value' },
          ...line16,
        ];
        assertEq(r.json, { stored: 14 - rejected.length, rejected_count: rejected.length, rejected }, 'answer');
        const after = await rejectedTotals(baseB);
        assertEq((after.bad_row || 0) - (before.bad_row || 0), 1, 'bad_row counted');
        assertEq(after.bad_labels - (before.bad_labels || 0), 2, 'bad_labels counted');
        const q = await request(baseB, `/api/v1/query?program=survei&metric=ipm&unit=kec-9&from=${T0}&to=${T0}`, {
          token: VIEWER,
        });
        assertEq(q.json.series[0].labels, { x: 'y' }, 'quoted fields read');
        assertEq(q.json.series[0].points, [[T0, 71.5]], 'quoted value read');
      },
    ],
    [
      'import.csv: 1,000,000 rows streamed while MQTT samples flow',
      async () => {
        const ws = await openClient(`${pantaudB.url()}?access_token=${VIEWER}`);
        await ws.subscribe(['lapangan/#']);
        const pub = await mqttPublisher(broker);
        const rssBefore = pantaudB.rss();
        let rssPeak = rssBefore;
        const rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, pantaudB.rss())), 100);
        // MQTT: one sample every 20 ms with its publish time as value.
        let importing = true;
        const sent = new Map();
        let seq = 0;
        const publishing = (async () => {
          while (importing) {
            const n = seq++;
            sent.set(n, performance.now());
            pub.publish('pantau/lapangan/truk-01/muatan', { value: n }).catch(() => {});
            await sleep(20);
          }
        })();
        // Under ASan every row costs several times more: a quarter of the rows
        // keeps the case within its time while still streaming in many steps.
        const rows = sanitized(pantaudB.pid) ? BULK_ROWS / 4 : BULK_ROWS;
        let r;
        try {
          r = await runImporter(pantaudB.httpPort, rows);
        } finally {
          importing = false;
          clearInterval(rssTimer);
        }
        assert(!r.error, `importer: ${r.error}`);
        const { secs, length } = r;
        r.json = JSON.parse(r.text);
        await publishing;
        const published = seq;
        assertEq(r.status, 200, r.text);
        assertEq(r.json, { stored: rows, rejected_count: 0, rejected: [] }, 'import answer');
        await ws.waitUntil(() => ws.samples.length >= published, 5000, 'every MQTT sample on the websocket');
        pub.close();
        ws.close();
        // publish -> websocket latency per MQTT sample, from the frames' arrival.
        const latencies = [];
        for (const f of ws.frames)
          if (f.type === 'samples')
            for (const s of f.samples) if (sent.has(s.value)) latencies.push(f.receivedAt - sent.get(s.value));
        latencies.sort((x, y) => x - y);
        assertEq(new Set(ws.samples.map((s) => s.value)).size, published, 'every MQTT sample pushed once');
        const q = await request(
          baseB,
          `/api/v1/query?program=bulk&metric=luas_panen&agg=count&step=${365 * 24 * H}&from=${BULK_T0}&to=${Date.now()}`,
          { token: VIEWER },
        );
        const counted = q.json.series.reduce((n, s) => n + s.points.reduce((m, p) => m + p[1], 0), 0);
        assertEq(counted, rows, 'rows in the database');
        console.log(
          `# ${rows}-row import: ${(length / 1048576).toFixed(1)} MiB in ${secs.toFixed(1)} s = ${Math.round(rows / secs)} rows/s; ` +
            `RSS ${Math.round(rssBefore / 1024)} MiB before, ${Math.round(rssPeak / 1024)} MiB peak; ` +
            `MQTT during import: ${published} published, all stored and pushed; publish->websocket ` +
            `p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, ` +
            `max ${latencies[latencies.length - 1].toFixed(1)} ms`,
        );
        assert(published >= 10 * secs, `MQTT kept publishing (${published})`);
        // SQLite's page cache (cache_size = 64 MiB) fills during the import; beyond
        // it, the import's own memory is a step of rows, not the 68 MiB body.
        if (!sanitized(pantaudB.pid))
          assert(rssPeak - rssBefore < 96 * 1024, `RSS growth bounded (${rssPeak - rssBefore} KiB)`);
        // Under TSan (every access checked; 2 shared cores) 0.5-1.7 s was seen.
        const stallMs = threadSanitized(pantaudB.pid) ? 3000 : 1000;
        assert(latencies[latencies.length - 1] < stallMs, `no loop stall of ${stallMs / 1000} s`);
      },
      90000,
    ],
  ],
  {
    totalMs: 170000,
    before: async () => {
      broker = await startBroker();
      pantaud = await startPantaud(broker, { config: TOKENS });
      pantaudB = await startPantaud(broker, { config: `[http]\nimport_max_bytes = 134217728\n${TOKENS}` });
      base = `http://127.0.0.1:${pantaud.httpPort}`;
      baseB = `http://127.0.0.1:${pantaudB.httpPort}`;
      await until(async () => (await request(base, '/healthz')).status === 200, 5000, 'healthz');
      return {};
    },
  },
);
