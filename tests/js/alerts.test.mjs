// alerts.test.mjs — alerts and field units end to end (CONTRACT §2, §3, §6):
// real mosquitto, pantaud with the Lampung Tengah catalog (its durations
// shortened for a test) and pantau-sim's scheduled incidents sped up: the
// cabai merah price spike at a market fires harga-melonjak, an operator
// acknowledges it, it resolves when the spike ends, and every transition
// reaches a websocket client subscribed to that program (and not one
// subscribed elsewhere) and a local webhook receiver that fails its first
// two attempts; the silent van fires paduka-van-diam and its unit goes
// stale; roles guard the acknowledgement; a restart keeps the firing alert
// without firing it again.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  assert,
  assertEq,
  fetchJson,
  openClient,
  repoRoot,
  runCases,
  startBroker,
  startPantaud,
  startSim,
  tmpdir,
  until,
} from './harness.mjs';

const FILE = 'alerts.test.mjs';
const VIEWER = 'lihat-saja-1234567890';
const OPERATOR = 'operator-cc-4567890123';
const ADMIN = 'admin-cc-7890123456789';

// for = 15m -> 2s, silent 1h / 30m -> 4s, stale_after 30m -> 3s: the
// incidents (at --incident-speed 60) last 25 s (spike) and 67 s (van): the
// spike's end bounds case 1; the van is still silent when case 3 ends.
function testCatalog() {
  const text = fs
    .readFileSync(path.join(repoRoot, 'config/catalog/lampung-tengah.ini'), 'utf8')
    .replace(/^for = 15m/m, 'for = 2s')
    .replace(/^silent = 1h/m, 'silent = 4s')
    .replace(/^silent = 30m/m, 'silent = 4s')
    .replace(/^stale_after = 30m/m, 'stale_after = 3s');
  const file = path.join(tmpdir(), 'alerts-catalog.ini');
  fs.writeFileSync(file, text);
  return file;
}

const HOOK_TOKEN = 'kirim-ke-telegram-0123456789';

// A webhook receiver that answers 500 to its first two requests, then 200.
function startReceiver() {
  const got = [];
  let attempts = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      attempts++;
      if (attempts <= 2) {
        res.writeHead(500).end('not yet');
        return;
      }
      got.push({ at: Date.now(), auth: req.headers.authorization, type: req.headers['content-type'],
        body: JSON.parse(body) });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () =>
    resolve({ server, got, attempts: () => attempts, port: server.address().port })));
}

const auth = (token) => ({ Authorization: `Bearer ${token}` });
const api = (ctx, p) => `http://127.0.0.1:${ctx.pd.httpPort}/api/v1${p}`;

async function alerts(ctx, query = '') {
  const r = await fetchJson(api(ctx, `/alerts${query}`), { headers: auth(VIEWER) });
  assertEq(r.status, 200, `GET /alerts${query}`);
  return r.json.alerts;
}

const ALERT_KEYS = ['id', 'rule', 'severity', 'program', 'unit', 'metric', 'labels', 'state', 'since', 'fired_at',
  'resolved_at', 'value', 'reference', 'deviation', 'message', 'acked_at', 'acked_by', 'ack_note'];

const cases = [
  [
    'a price spike fires, is acknowledged by an operator and resolves; each transition reaches its subscribers',
    async (ctx) => {
      const price = (f) => f.type === 'alert' && f.alert.rule === 'harga-melonjak';
      const firing = await ctx.simas.nextFrame((f) => price(f) && f.alert.state === 'firing', 30000, 'a firing price alert');
      const a = firing.alert;
      for (const k of ALERT_KEYS) assert(k in a, `ALERT has ${k}`);
      assertEq(a.program, 'simas-bapokting', 'program');
      assertEq(a.metric, 'price', 'metric');
      assertEq(a.labels.commodity, 'cabai-merah', 'labels');
      assert(a.value > a.reference * 1.1, `value ${a.value} over reference ${a.reference} + 10 %`);
      assert(Math.abs(a.deviation - (a.value / a.reference - 1)) < 1e-9, 'deviation');
      assert(a.fired_at - a.since >= 2000, `fired ${a.fired_at - a.since} ms after since (for = 2s)`);
      assert(/^Harga cabai-merah di pasar-[a-z-]+ \d{1,3}(\.\d{3})* \(\d+,\d % di atas acuan \d{1,3}(\.\d{3})*\) sejak \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}\.\d{2} WIB$/.test(a.message),
        `message in Indonesian: ${a.message}`);

      const listed = await alerts(ctx);
      assert(listed.some((x) => x.id === a.id && x.state === 'firing'), '/alerts lists it as active');

      // viewer may not acknowledge; operator may; a second ack keeps the first
      const denied = await fetchJson(api(ctx, `/alerts/${a.id}/ack`), { method: 'POST', headers: auth(VIEWER) });
      assertEq(denied.status, 403, 'a viewer acknowledging');
      const none = await fetchJson(api(ctx, `/alerts/${a.id}/ack`), { method: 'POST' });
      assertEq(none.status, 401, 'no token');
      const ack = await fetchJson(api(ctx, `/alerts/${a.id}/ack`), {
        method: 'POST',
        headers: { ...auth(OPERATOR), 'Content-Type': 'application/json' },
        body: JSON.stringify({ note: 'petugas pasar dikirim' }),
      });
      assertEq(ack.status, 200, 'operator ack');
      assertEq(ack.json.alert.acked_by, 'operator', 'acked_by');
      assertEq(ack.json.alert.ack_note, 'petugas pasar dikirim', 'ack_note');
      const again = await fetchJson(api(ctx, `/alerts/${a.id}/ack`), {
        method: 'POST',
        headers: auth(ADMIN),
        body: '{"note":"lagi"}',
      });
      assertEq(again.status, 200, 'second ack');
      assertEq(again.json.alert.acked_at, ack.json.alert.acked_at, 'the first acknowledgement stays');
      assertEq(again.json.alert.ack_note, 'petugas pasar dikirim', 'the first note stays');
      const unknown = await fetchJson(api(ctx, '/alerts/999999/ack'), { method: 'POST', headers: auth(ADMIN) });
      assertEq(unknown.status, 404, 'unknown alert');
      await ctx.simas.nextFrame((f) => price(f) && f.alert.id === a.id && f.alert.acked_at !== null, 5000, 'the acked frame');

      const resolved = await ctx.simas.nextFrame((f) => price(f) && f.alert.id === a.id && f.alert.state === 'resolved',
        45000, 'the price alert resolving when the spike ends');
      const r = resolved.alert;
      assert(r.resolved_at >= r.fired_at, 'resolved after it fired');
      assert(r.value <= r.reference * 1.05, `resolved at ${r.value} <= reference ${r.reference} + 5 %`);
      assertEq(r.acked_by, 'operator', 'the acknowledgement is kept');

      const all = await alerts(ctx, `?state=all&from=${r.fired_at - 60000}&program=simas-bapokting`);
      assert(all.some((x) => x.id === a.id && x.state === 'resolved'), '/alerts?state=all lists the resolved alert');
      assert(all.every((x) => x.program === 'simas-bapokting'), 'program filter');
      assert(!(await alerts(ctx)).some((x) => x.id === a.id), 'no longer active');
      assert(!ctx.paduka.frames.some(price), 'a paduka-lamteng subscriber gets no price alert');

      const m = await fetchJson(`http://127.0.0.1:${ctx.pd.httpPort}/metrics`, { headers: auth(VIEWER) });
      assert(/pantau_alerts_fired_total\{rule="harga-melonjak"\} [1-9]/.test(m.text), 'pantau_alerts_fired_total');
      assert(/pantau_alerts_firing\{severity="warning"\} \d+/.test(m.text), 'pantau_alerts_firing');

      const rep = await fetchJson(api(ctx, `/report?from=${r.fired_at - 1000}&to=${Date.now()}`), { headers: auth(VIEWER) });
      assertEq(rep.status, 200, 'report');
      assert(rep.json.alerts.some((x) => x.id === a.id), 'the report lists the period\'s alert');

      // the webhook: every transition of this alert, in order, after two failed attempts
      const hook = ctx.receiver;
      const events = await until(() => {
        const e = hook.got.filter((g) => g.body.alert.id === a.id).map((g) => g.body.event);
        return e.includes('resolved') ? e : null;
      }, 30000, 'the webhook receiving the resolved notification');
      assertEq(events, ['firing', 'acked', 'resolved'], 'notifications of the alert, in order');
      assert(hook.attempts() >= hook.got.length + 2, 'the first two attempts failed and were retried');
      for (const g of hook.got) {
        assertEq(g.auth, `Bearer ${HOOK_TOKEN}`, 'Authorization');
        assertEq(g.type, 'application/json', 'Content-Type');
      }
      const m2 = await fetchJson(`http://127.0.0.1:${ctx.pd.httpPort}/metrics`, { headers: auth(VIEWER) });
      assert(/pantau_webhook_failures_total [2-9]/.test(m2.text), 'pantau_webhook_failures_total counts the failures');
    },
    70000,
  ],
  [
    'the silent van fires paduka-van-diam and goes stale; its frames reach paduka subscribers only',
    async (ctx) => {
      const silent = await ctx.paduka.nextFrame((f) => f.type === 'alert' && f.alert.rule === 'paduka-van-diam',
        30000, 'a silent-unit alert');
      const a = silent.alert;
      assertEq(a.metric, null, 'a silent alert has no metric');
      assertEq(a.labels, null, 'nor labels');
      assertEq(a.fired_at - a.since, 4000, 'fired_at = since + 4 s');
      assert(a.message.startsWith(`Mobil PADUKA ${a.unit} tidak mengirim data sejak `), a.message);
      await ctx.paduka.nextFrame((f) => f.type === 'unit' && f.unit.unit === a.unit && f.unit.status === 'stale',
        15000, 'the van becoming stale');
      assert(!ctx.simas.frames.some((f) => f.type === 'alert' && f.alert.program === 'paduka-lamteng'),
        'a simas subscriber gets no paduka alert');
      assert(!ctx.simas.frames.some((f) => f.type === 'unit' && f.unit.program === 'paduka-lamteng'),
        'nor paduka unit frames');
      ctx.silentId = a.id;
    },
    40000,
  ],
  [
    'a restart keeps the firing alert and does not fire it again',
    async (ctx) => {
      const before = (await alerts(ctx)).find((x) => x.id === ctx.silentId);
      assert(before && before.state === 'firing', 'the silent alert is firing before the restart');
      await ctx.pd.stop();
      ctx.pd = await startPantaud(ctx.broker, { ...ctx.pdOpts, db: ctx.pd.db });
      const ws = await openClient(ctx.pd.url(`/api/v1/live?access_token=${VIEWER}`));
      ctx.after = ws;
      await ws.subscribe(['paduka-lamteng/#']);
      const after = (await alerts(ctx)).filter((x) => x.rule === 'paduka-van-diam' && x.unit === before.unit);
      assertEq(after.length, 1, 'one firing alert for the van');
      assertEq(after[0].id, before.id, 'the same alert');
      assertEq(after[0].fired_at, before.fired_at, 'fired_at kept');
      await new Promise((r) => setTimeout(r, 6000)); // more than a silence check
      assert(!ws.frames.some((f) => f.type === 'alert' && f.alert.state === 'firing' && f.alert.unit === before.unit
        && f.alert.rule === 'paduka-van-diam'), 'no second firing of the same alert');
    },
    40000,
  ],
];

runCases(FILE, cases, {
  totalMs: 170000,
  before: async () => {
    const broker = await startBroker();
    const receiver = await startReceiver();
    const pdOpts = {
      config: `[store]\nretention_days = 400\n[auth]\nviewer = ${VIEWER}\noperator = ${OPERATOR}\nadmin = ${ADMIN}\n`
        + `[alerts]\nwebhook = http://127.0.0.1:${receiver.port}/pantau\nwebhook_token = ${HOOK_TOKEN}\n`,
      args: ['--catalog', testCatalog()],
    };
    const pd = await startPantaud(broker, pdOpts);
    const url = pd.url(`/api/v1/live?access_token=${VIEWER}`);
    const simas = await openClient(url);
    await simas.subscribe(['simas-bapokting/#']);
    const paduka = await openClient(url);
    await paduka.subscribe(['paduka-lamteng/+/+']);
    const sim = startSim(broker, ['--scenario', 'lampung-tengah', '--units', '3', '--rate', '100',
      '--incident-speed', '60', '--duration', '170']);
    return { broker, pd, pdOpts, simas, paduka, sim, receiver };
  },
  after: async (ctx) => {
    ctx.simas?.close();
    ctx.paduka?.close();
    ctx.after?.close();
    await ctx.sim?.stop(5000);
    ctx.receiver?.server.close();
  },
});
