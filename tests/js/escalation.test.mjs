// escalation.test.mjs — CONTRACT §8 "Escalation" end to end: real mosquitto,
// pantaud with a rule that escalates after 3 s, and two webhook receivers in
// node ([alerts] webhook and [alerts] escalate_webhook, each with its own
// token). A firing alert not acknowledged is escalated once within the
// bound: escalated_at in /alerts and in the websocket's alert frame, the
// escalation at escalate_webhook while firing and resolved go to webhook;
// an acknowledged alert is never escalated; an alert that falls due while
// pantaud is down escalates within 10 s of its start, and a restart keeps
// escalated_at and sends nothing twice. Also: a SIGHUP reload is an audit
// event with user, role and ip null.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import {
  assert,
  assertEq,
  fetchJson,
  mqttPublisher,
  openClient,
  runCases,
  sleep,
  startBroker,
  startPantaud,
  tmpdir,
  until,
} from './harness.mjs';

const FILE = 'escalation.test.mjs';
const VIEWER = 'lihat-eskalasi-12345678';
const OPERATOR = 'operator-eskalasi-9876';
const ADMIN = 'admin-eskalasi-24680135';
const HOOK_TOKEN = 'token-webhook-biasa-0123';
const ESC_TOKEN = 'token-kepala-dinas-4567';
const ESCALATE_MS = 3000;
const CHECK_BOUND_MS = 10000; // CONTRACT: "escalated once, within 10 s"

const CATALOG = `[regency]
id = uji-eskalasi
name = Kabupaten Uji

[program gudang]
name = Gudang Pangan
dimension = economy

[rule stok-habis]
program = gudang
metric = stock
below = 100
clear = 150
severity = critical
escalate = 3s
`;

// A receiver that records every POST (path, Authorization, body) and answers 204.
function startReceiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      let json = null;
      try {
        json = JSON.parse(body);
      } catch {
        /* recorded as null: a failure below */
      }
      got.push({ at: Date.now(), path: req.url, auth: req.headers.authorization, body: json });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, got, port: server.address().port })),
  );
}

const auth = (token) => ({ Authorization: `Bearer ${token}` });
const api = (ctx, p) => `http://127.0.0.1:${ctx.pd.httpPort}/api/v1${p}`;

async function alertsOf(ctx, query = '') {
  const r = await fetchJson(api(ctx, `/alerts${query}`), { headers: auth(VIEWER) });
  assertEq(r.status, 200, `GET /alerts${query}`);
  return r.json.alerts;
}

// The notifications a receiver got for one alert, by event name.
const events = (rx, id) => rx.got.filter((g) => g.body?.alert?.id === id).map((g) => g.body.event);

const stock = (ctx, unit, value) =>
  ctx.pub.publish(`pantau/gudang/${unit}/stock`, JSON.stringify({ value, ts: Date.now() }));

async function firing(ctx, ws, unit) {
  const f = await ws.nextFrame(
    (f) => f.type === 'alert' && f.alert.unit === unit && f.alert.state === 'firing',
    10000,
    `the firing frame of ${unit}`,
  );
  assert('escalated_at' in f.alert, 'every ALERT has escalated_at');
  assertEq(f.alert.escalated_at, null, 'escalated_at is null until escalated');
  return f.alert;
}

async function openLive(ctx) {
  const ws = await openClient(ctx.pd.url(`/api/v1/live?access_token=${VIEWER}`));
  await ws.subscribe(['gudang/#']);
  return ws;
}

const cases = [
  [
    'a firing alert nobody acknowledges is escalated once, within the bound, to escalate_webhook',
    async (ctx) => {
      await stock(ctx, 'gudang-a', 50);
      const a = await firing(ctx, ctx.ws, 'gudang-a');
      const esc = await ctx.ws.nextFrame(
        (f) => f.type === 'alert' && f.alert.id === a.id && f.alert.escalated_at !== null,
        ESCALATE_MS + CHECK_BOUND_MS + 5000,
        'the escalation frame',
      );
      const late = esc.alert.escalated_at - a.fired_at;
      console.log(`  # escalated ${late} ms after fired_at (escalate = ${ESCALATE_MS} ms)`);
      assert(late >= ESCALATE_MS, `not before the deadline (${late} ms)`);
      assert(late <= ESCALATE_MS + CHECK_BOUND_MS, `within 10 s of it (${late} ms)`);
      assertEq(esc.alert.state, 'firing', 'still firing');
      assertEq(esc.alert.acked_at, null, 'not acknowledged');

      const listed = (await alertsOf(ctx)).find((x) => x.id === a.id);
      assertEq(listed.escalated_at, esc.alert.escalated_at, '/alerts has the same escalated_at');

      const got = await until(() => {
        const e = ctx.esc.got.filter((g) => g.body?.alert?.id === a.id);
        return e.length ? e : null;
      }, 10000, 'the escalation at escalate_webhook');
      assertEq(got[0].body.event, 'escalated', 'event');
      assertEq(got[0].path, '/kepala-dinas', 'at escalate_webhook');
      assertEq(got[0].auth, `Bearer ${ESC_TOKEN}`, "escalate_webhook_token, not webhook's");
      assertEq(got[0].body.alert.escalated_at, esc.alert.escalated_at, 'the ALERT as escalated');
      await until(() => events(ctx.hook, a.id).includes('firing'), 10000, 'firing at webhook');

      await sleep(6000); // more than a check: nothing more
      assertEq(events(ctx.esc, a.id), ['escalated'], 'escalated once');
      assertEq(events(ctx.hook, a.id), ['firing'], 'the webhook got only firing so far');
      assertEq(
        ctx.ws.frames.filter((f) => f.type === 'alert' && f.alert.id === a.id).length,
        2,
        'two frames: firing, escalated',
      );
      const m = await fetchJson(`http://127.0.0.1:${ctx.pd.httpPort}/metrics`, { headers: auth(VIEWER) });
      assert(/pantau_alerts_escalated_total\{rule="stok-habis"\} 1\n/.test(m.text), 'pantau_alerts_escalated_total');
      ctx.escalated = esc.alert;
    },
    40000,
  ],
  [
    'an alert acknowledged before its deadline is never escalated',
    async (ctx) => {
      await stock(ctx, 'gudang-b', 40);
      const b = await firing(ctx, ctx.ws, 'gudang-b');
      const ack = await fetchJson(api(ctx, `/alerts/${b.id}/ack`), {
        method: 'POST',
        headers: { ...auth(OPERATOR), 'Content-Type': 'application/json' },
        body: JSON.stringify({ note: 'truk dikirim' }),
      });
      assertEq(ack.status, 200, 'ack');
      assert(ack.json.alert.acked_at - b.fired_at < ESCALATE_MS, 'acknowledged before the deadline');
      assertEq(ack.json.alert.escalated_at, null, 'the ack answer has escalated_at null');
      await sleep(ESCALATE_MS + 7000); // past the deadline and a check
      const listed = (await alertsOf(ctx)).find((x) => x.id === b.id);
      assertEq(listed.escalated_at, null, 'not escalated');
      assert(!ctx.ws.frames.some((f) => f.type === 'alert' && f.alert.id === b.id && f.alert.escalated_at !== null),
        'no escalation frame');
      assertEq(events(ctx.esc, b.id), [], 'nothing at escalate_webhook');
      await until(() => events(ctx.hook, b.id).includes('acked'), 10000, 'acked at webhook');
      assertEq(events(ctx.hook, b.id), ['firing', 'acked'], 'the webhook: firing, acked');
    },
    30000,
  ],
  [
    'an alert due while pantaud is down escalates after the start; a restart repeats nothing',
    async (ctx) => {
      await stock(ctx, 'gudang-c', 30);
      const c = await firing(ctx, ctx.ws, 'gudang-c');
      await ctx.pd.stop(); // at once: its deadline is seconds away
      ctx.ws.close();
      const escNow = Object.fromEntries([ctx.escalated.id, c.id].map((id) => [id, events(ctx.esc, id).length]));
      assertEq(escNow[c.id], 0, 'not escalated before the stop');
      await sleep(ESCALATE_MS + 1000);
      const started = Date.now();
      ctx.pd = await startPantaud(ctx.broker, { ...ctx.pdOpts, db: ctx.pd.db });
      ctx.ws = await openLive(ctx);
      const got = await until(() => ctx.esc.got.find((g) => g.body?.alert?.id === c.id),
        CHECK_BOUND_MS + 5000, 'the escalation of the alert due while pantaud was down');
      const at = got.body.alert.escalated_at;
      console.log(`  # escalated ${at - started} ms after the start began, ${got.at - started} ms to the receiver`);
      assert(at >= started && at - started <= CHECK_BOUND_MS, `within 10 s of the start (${at - started} ms)`);
      assert(at - c.fired_at >= ESCALATE_MS, 'after its deadline');

      // A second restart: escalated_at kept, nothing sent twice.
      await ctx.pd.stop();
      ctx.ws.close();
      ctx.pd = await startPantaud(ctx.broker, { ...ctx.pdOpts, db: ctx.pd.db });
      ctx.ws = await openLive(ctx);
      await sleep(7000); // more than a check
      const listed = await alertsOf(ctx);
      assertEq(listed.find((x) => x.id === ctx.escalated.id)?.escalated_at, ctx.escalated.escalated_at,
        'the first alert keeps its escalated_at');
      assertEq(listed.find((x) => x.id === c.id)?.escalated_at, at, 'the third keeps its own');
      assertEq(events(ctx.esc, ctx.escalated.id), ['escalated'], 'the first alert escalated once');
      assertEq(events(ctx.esc, c.id), ['escalated'], 'the third escalated once');
      assert(!ctx.ws.frames.some((f) => f.type === 'alert' && f.alert.escalated_at !== null && f.alert.state === 'firing'),
        'no escalation frame after the second restart');

      // Resolving: to the webhook, escalated_at kept; nothing at escalate_webhook.
      await stock(ctx, 'gudang-a', 500);
      const r = await ctx.ws.nextFrame((f) => f.type === 'alert' && f.alert.id === ctx.escalated.id
        && f.alert.state === 'resolved', 10000, 'the escalated alert resolving');
      assertEq(r.alert.escalated_at, ctx.escalated.escalated_at, 'a resolved alert keeps escalated_at');
      await until(() => events(ctx.hook, ctx.escalated.id).includes('resolved'), 10000, 'resolved at webhook');
      assertEq(events(ctx.hook, ctx.escalated.id), ['firing', 'resolved'], 'the webhook: firing, resolved');
      assertEq(events(ctx.esc, ctx.escalated.id), ['escalated'], 'escalate_webhook: only the escalation');
      const all = await alertsOf(ctx, `?state=all&from=${ctx.escalated.fired_at - 1000}`);
      assertEq(all.find((x) => x.id === ctx.escalated.id)?.escalated_at, ctx.escalated.escalated_at,
        '/alerts?state=all has it');
      for (const g of ctx.hook.got) {
        assertEq(g.path, '/hook', 'webhook path');
        assertEq(g.auth, `Bearer ${HOOK_TOKEN}`, 'webhook token');
        assert(g.body.event !== 'escalated', 'no escalation at webhook');
      }
    },
    60000,
  ],
  [
    'a SIGHUP reload is an audit event with user, role and ip null',
    async (ctx) => {
      const before = await fetchJson(api(ctx, '/audit?action=reload'), { headers: auth(ADMIN) });
      assertEq(before.status, 200, 'GET /audit');
      process.kill(ctx.pd.pid, 'SIGHUP');
      let ev;
      await until(async () => {
        const r = await fetchJson(api(ctx, '/audit?action=reload'), { headers: auth(ADMIN) });
        ev = r.json.events.length > before.json.events.length ? r.json.events[0] : null;
        return ev;
      }, 10000, 'the reload event');
      assertEq([ev.user, ev.role, ev.ip, ev.target], [null, null, null, null], 'nobody, on no address');
      assertEq(ev.detail, { problems: 0 }, 'detail');
      const v = await fetchJson(api(ctx, '/audit/verify'), { headers: auth(ADMIN) });
      assertEq(v.json.ok, true, 'the chain still verifies');
    },
    20000,
  ],
];

runCases(FILE, cases, {
  totalMs: 170000,
  before: async () => {
    const broker = await startBroker();
    const hook = await startReceiver();
    const esc = await startReceiver();
    const catalog = path.join(tmpdir(), 'escalation-catalog.ini');
    fs.writeFileSync(catalog, CATALOG);
    const pdOpts = {
      config:
        `[auth]\nviewer = ${VIEWER}\noperator = ${OPERATOR}\nadmin = ${ADMIN}\n` +
        `[alerts]\nwebhook = http://127.0.0.1:${hook.port}/hook\nwebhook_token = ${HOOK_TOKEN}\n` +
        `escalate_webhook = http://127.0.0.1:${esc.port}/kepala-dinas\nescalate_webhook_token = ${ESC_TOKEN}\n`,
      args: ['--catalog', catalog],
    };
    const pd = await startPantaud(broker, pdOpts);
    const pub = await mqttPublisher(broker);
    const ctx = { broker, pd, pdOpts, hook, esc, pub };
    ctx.ws = await openLive(ctx);
    return ctx;
  },
  after: async (ctx) => {
    ctx.ws?.close();
    await ctx.pub?.close();
    ctx.hook?.server.close();
    ctx.esc?.server.close();
  },
});
