// hostile_live.test.mjs — CONTRACT §10 "Websocket" against a real pantaud and
// mosquitto with real websocket clients: what one hostile token holder can do
// to the live endpoint. 1,000 clients with 16 non-matching filters each keep
// ingest at >= half its rate without them and no loop turn long; 17 filters
// get too_many_filters (not applied); the 101st upgrade with one token gets
// 429 while another token still connects; a snapshot of 100k series comes as
// several frames of at most 256 KiB; 20 clients asking for that snapshot and
// never reading hold little memory; a second snapshot within 10 s gets
// too_many_snapshots. Prints "ok N - name" lines and ends with
// "# hostile_live.test.mjs: P passed, F failed"; bounded in time.
import WebSocket from 'ws';
import { SNAP_METRICS, SNAP_UNITS, ingestRate, makeSeries, metricValue } from './hostile_live_lib.mjs';
import {
  assert,
  assertEq,
  mqttPublisher,
  openClient,
  runCases,
  sanitized,
  sleep,
  startPantaud,
  startStack,
  until,
  withTimeout,
} from './harness.mjs';

const FILE = 'hostile_live.test.mjs';
const T0 = Date.now() - 2 * 3600 * 1000; // device timestamps: recent, in the past
const FRAME_MAX = 256 * 1024;
const key = (s) => `${s.program}/${s.unit}/${s.metric}`;

// An upgrade that may be refused: resolves {open: ws} or {status, body}.
function tryUpgrade(url) {
  return withTimeout(
    new Promise((resolve) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve({ open: ws }));
      ws.once('unexpected-response', (req, res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      });
      ws.once('error', (e) => resolve({ error: e.message }));
    }),
    10000,
    `upgrade ${url}`,
  );
}

const cases = [
  [
    '1,000 clients with 16 non-matching filters each keep ingest at >= 0.5x its rate; no long loop turn',
    async (ctx) => {
      const units = 100;
      const total = 150000;
      await ingestRate(ctx, 'rate-p', units, 20000, T0, 30000); // warm-up: the series exist
      const without = await ingestRate(ctx, 'rate-p', units, total, T0 + 1e6, 30000);
      const clients = [];
      try {
        for (let i = 0; i < 1000; i += 100) {
          const batch = await Promise.all(
            Array.from({ length: 100 }, () => openClient(ctx.pantaud.url(), undefined, 20000)),
          );
          clients.push(...batch);
        }
        // Every shape of filter, none matching: literal program, wildcards
        // before a literal, and the real program and unit with another metric.
        await Promise.all(
          clients.map((c, i) => {
            const filters = [];
            for (let k = 0; k < 16; k++) {
              const x = `nm${i}x${k}`;
              filters.push([`${x}/+/+`, `+/${x}/#`, `+/+/${x}`, `rate-p/unit-${k}/${x}`][k % 4]);
            }
            return c.subscribe(filters, undefined);
          }),
        );
        const withClients = await ingestRate(ctx, 'rate-p', units, total, T0 + 2e6, 20000);
        const ratio = withClients / without;
        const turnMax = await metricValue(ctx.pantaud, 'pantau_loop_turn_seconds_max');
        console.log(
          `  # ingest ${Math.round(without)} samples/s without clients, ${Math.round(withClients)} with ` +
            `1,000 x 16 filters: ratio ${ratio.toFixed(2)} (limit 0.5); longest loop turn ${turnMax} s`,
        );
        assert(ratio >= 0.5, `ingest with the clients is ${ratio.toFixed(2)}x the rate without (< 0.5)`);
        // 1 s: a turn waiting on the shared machine or a commit can take some
        // 100 ms; scanning every filter per sample took seconds (29 s at 990 x 64).
        assert(turnMax < 1, `a loop turn took ${turnMax} s`);
        const sent = clients.reduce((n, c) => n + c.samples.length, 0);
        assertEq(sent, 0, 'samples pushed to clients whose filters match nothing');
      } finally {
        for (const c of clients) c.close();
      }
    },
    120000,
  ],
  [
    '17 filters get too_many_filters and the subscribe is not applied; 16 are accepted',
    async (ctx) => {
      const c = await openClient(ctx.pantaud.url());
      try {
        await c.subscribe(['filt-p/keep/#']);
        const from = c.frames.length;
        const many = Array.from({ length: 17 }, (_, i) => `filt-p/new-${i}/#`);
        c.send({ op: 'subscribe', filters: many });
        const err = await c.nextFrame((f) => f.type === 'error', 5000, 'the error', from);
        assertEq(err.error, 'too_many_filters', 'error code');
        await c.roundTrip();
        await ctx.pub.publish('pantau/filt-p/new-1/m', { value: 1, ts: T0 + 1 });
        await ctx.pub.publish('pantau/filt-p/keep/m', { value: 2, ts: T0 + 2 });
        await c.waitUntil(() => c.samples.length >= 1, 5000, 'the kept filter sample');
        await sleep(200);
        assertEq(
          c.samples.map((s) => [key(s), s.value]),
          [['filt-p/keep/m', 2]],
          'only the old filter applies',
        );
        const from2 = c.frames.length;
        await c.subscribe(many.slice(0, 16));
        assert(!c.frames.slice(from2).some((f) => f.type === 'error'), '16 filters refused');
        await ctx.pub.publish('pantau/filt-p/new-1/m', { value: 3, ts: T0 + 3 });
        await c.waitUntil(() => c.samples.length >= 2, 5000, 'a sample of the 16 filters');
        assertEq(c.samples[1].value, 3, 'sample of the new filters');
      } finally {
        c.close();
      }
    },
  ],
  [
    'the 101st upgrade with one token gets 429; another token still connects; a closed one frees its place',
    async (ctx) => {
      const tokA = 'viewer-token-aaaaaaaaaaaa';
      const tokB = 'viewer-token-bbbbbbbbbbbb';
      const p = await startPantaud(ctx.broker, {
        config: `[auth]\nviewer = ${tokA}\nviewer = ${tokB}\n`,
      });
      const open = [];
      try {
        const urlA = p.url(`/api/v1/live?access_token=${tokA}`);
        for (let i = 0; i < 100; i += 25)
          open.push(...(await Promise.all(Array.from({ length: 25 }, () => openClient(urlA, undefined, 10000)))));
        const refused = await tryUpgrade(urlA);
        if (refused.open) refused.open.terminate();
        assertEq(refused.status, 429, '101st upgrade status');
        const body = JSON.parse(refused.body);
        assertEq(body.error, 'too_many_connections', 'error code');
        assert(typeof body.message === 'string', 'a message');
        // The Authorization header names the same credential.
        const byHeader = await withTimeout(
          new Promise((resolve) => {
            const ws = new WebSocket(p.url(), { headers: { Authorization: `Bearer ${tokA}` } });
            ws.once('open', () => resolve({ open: ws }));
            ws.once('unexpected-response', (req, res) => resolve({ status: res.statusCode }));
            ws.once('error', (e) => resolve({ error: e.message }));
          }),
          10000,
          'upgrade with the header',
        );
        if (byHeader.open) byHeader.open.terminate();
        assertEq(byHeader.status, 429, 'the same token in a header');
        const b = await openClient(p.url(`/api/v1/live?access_token=${tokB}`));
        open.push(b);
        assertEq(b.frames[0].type, 'hello', 'the other token is served');
        const wrong = await tryUpgrade(p.url('/api/v1/live?access_token=not-a-token-at-all'));
        assertEq(wrong.status, 401, 'a wrong token is still 401');
        open.shift().close();
        await until(
          async () => {
            const again = await tryUpgrade(urlA);
            if (again.open) open.push({ close: () => again.open.terminate() });
            return again.open;
          },
          5000,
          'a place freed by a closed connection',
          100,
        );
      } finally {
        for (const c of open) c.close();
        await p.stop();
      }
    },
    60000,
  ],
  [
    'a snapshot of 100k series comes complete, in several frames of at most 256 KiB, latest values',
    async (ctx) => {
      await makeSeries(ctx, T0);
      const c = await openClient(ctx.pantaud.url());
      const sizes = [];
      c.ws.on('message', (d) => sizes.push(d.length));
      try {
        const from = c.frames.length;
        const n0 = c.samples.length;
        c.send({ op: 'subscribe', filters: ['snap-p/#'], snapshot: true });
        const total = SNAP_UNITS * SNAP_METRICS;
        await c.waitUntil(() => c.samples.length - n0 >= total, 30000, `${total} snapshot samples`);
        const got = new Map();
        for (const s of c.samples.slice(n0)) got.set(`${s.unit}/${s.metric}`, s.value);
        assertEq(got.size, total, 'distinct series in the snapshot');
        assertEq(got.get('unit-0/s0'), -1, 'the latest value of a series updated twice');
        assertEq(got.get('unit-1/s7'), 7, 'a value');
        const frames = c.frames.slice(from).filter((f) => f.type === 'samples').length;
        const biggest = Math.max(...sizes);
        console.log(`  # ${total} series in ${frames} frames, the largest ${biggest} bytes`);
        assert(frames >= 2, `${frames} frames`);
        assert(biggest <= FRAME_MAX, `a frame of ${biggest} bytes`);
      } finally {
        c.close();
      }
    },
    90000,
  ],
  [
    '20 clients asking for a 100k-series snapshot and never reading hold little memory',
    async (ctx) => {
      const clients = await Promise.all(Array.from({ length: 20 }, () => openClient(ctx.pantaud.url())));
      try {
        await sleep(300);
        const rss0 = ctx.pantaud.rss();
        for (const c of clients) {
          c.ws._socket.pause(); // never reads: the kernel buffers fill, then pantaud's
          c.send({ op: 'subscribe', filters: ['snap-p/#'], snapshot: true });
        }
        let rssMax = rss0;
        const end = performance.now() + 4000;
        while (performance.now() < end) {
          rssMax = Math.max(rssMax, ctx.pantaud.rss());
          await sleep(100);
        }
        const growMiB = (rssMax - rss0) / 1024;
        console.log(
          `  # 20 non-reading snapshot clients: VmRSS ${rss0} -> max ${rssMax} KiB ` +
            `(+${growMiB.toFixed(1)} MiB, ${(growMiB / 20).toFixed(2)} MiB per client; limit ~1 MiB)`,
        );
        if (!sanitized(ctx.pantaud.pid)) assert(growMiB < 100, `RSS grew ${growMiB.toFixed(1)} MiB`);
        // They were being served: one that reads again gets it all.
        const c = clients[0];
        const n0 = c.samples.length;
        c.ws._socket.resume();
        const total = SNAP_UNITS * SNAP_METRICS;
        await c.waitUntil(() => c.samples.length - n0 >= total, 30000, 'the snapshot after resuming');
        // The daemon still serves: a new client gets its hello and a pong.
        const probe = await openClient(ctx.pantaud.url());
        await probe.roundTrip();
        probe.close();
      } finally {
        for (const c of clients) c.close();
      }
    },
    60000,
  ],
  [
    'a second snapshot within 10 s gets too_many_snapshots; its filters still apply',
    async (ctx) => {
      const c = await openClient(ctx.pantaud.url());
      try {
        const from = c.frames.length;
        await c.subscribe(['twice-p/a/#'], true);
        await c.nextFrame((f) => f.type === 'samples', 5000, 'the first snapshot', from);
        const from2 = c.frames.length;
        c.send({ op: 'subscribe', filters: ['twice-p/b/#'], snapshot: true });
        const err = await c.nextFrame((f) => f.type === 'error', 5000, 'the error', from2);
        assertEq(err.error, 'too_many_snapshots', 'error code');
        await c.roundTrip();
        assert(!c.frames.slice(from2).some((f) => f.type === 'samples'), 'no second snapshot');
        await ctx.pub.publish('pantau/twice-p/a/m', { value: 1, ts: T0 + 1 });
        await ctx.pub.publish('pantau/twice-p/b/m', { value: 2, ts: T0 + 2 });
        await c.waitUntil(() => c.samples.length >= 1, 5000, 'a sample of the new filters');
        await sleep(200);
        assertEq(
          c.samples.map((s) => [key(s), s.value]),
          [['twice-p/b/m', 2]],
          'the second subscribe filters apply',
        );
      } finally {
        c.close();
      }
    },
  ],
];

await runCases(FILE, cases, {
  totalMs: 300000,
  before: async () => {
    const { broker, pantaud } = await startStack({ config: '[store]\nmax_series = 300000\n' });
    const pub = await mqttPublisher(broker);
    return { broker, pantaud, pub };
  },
  after: async (ctx) => {
    await ctx.pub.close();
    const st = await ctx.pantaud.stop();
    if (st.code !== 0) console.log(`# pantaud exited ${st.code} ${st.signal || ''}`);
  },
});
