// stop.test.mjs — pantaud frozen with SIGSTOP for 20 s while a unit keeps
// publishing (QoS 1), then SIGCONT. pantaud's MQTT keepalive is 5 s (the
// least [mqtt] keepalive takes), so the broker gives up on it after 7.5 s
// (1.5 x keepalive; the stop lasts 2.7 times that) and keeps its session
// (clean session off) and queues what arrives meanwhile (the test broker's
// max_queued_messages 0: no bound, nothing dropped). Checked: /healthz does
// not answer while pantaud is stopped and is 200 again within 10 s of
// SIGCONT; the session survives or is taken up again (Paho reconnects);
// every published sample is stored exactly once. Every loop is bounded in
// count and time; the file in 60 s.
import fs from 'node:fs';
import {
  assert,
  assertEq,
  fetchJson,
  mqttPublisher,
  runCases,
  sleep,
  startStack,
  until,
} from './harness.mjs';

const FILE = 'stop.test.mjs';
const STOP_MS = 20000;
const RATE = 50; // samples per second, from before the stop to after SIGCONT
const BEFORE_MS = 1000; // publishing before SIGSTOP
const AFTER_MS = 1000; // and after SIGCONT
const MAX_SAMPLES = Math.ceil(((BEFORE_MS + STOP_MS + AFTER_MS) / 1000) * RATE) + 2 * RATE;
const TOPIC = 'pantau/pjs/truck-stop/pickups';
const T0 = Date.now() - 60 * 60 * 1000; // device timestamps: in the past, 1 s apart


// The value of a metric without labels in /metrics text, or NaN.
function metric(text, name) {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

// /healthz: {status, json}, or {status: 0, error} when no answer within ms.
async function healthz(base, ms) {
  try {
    const r = await fetchJson(`${base}/healthz`, { ms });
    return { status: r.status, json: r.json };
  } catch (e) {
    return { status: 0, error: e.name || String(e) };
  }
}

// Publishes sample i (value i, ts T0 + i s) at RATE per second while
// running() holds, and at most MAX_SAMPLES. Resolves with the count sent
// once the broker has acknowledged every one.
function publishLoop(pub, running, sent) {
  return (async () => {
    const acks = [];
    const start = Date.now();
    while (running() && sent.n < MAX_SAMPLES) {
      const i = sent.n++;
      acks.push(pub.publish(TOPIC, { value: i, ts: T0 + i * 1000 }));
      const due = start + ((i + 1) * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
    }
    await Promise.all(acks);
    return sent.n;
  })();
}

await runCases(
  FILE,
  [
    [
      'SIGSTOP for 20 s while a unit publishes (QoS 1), then SIGCONT: healthy again, nothing lost, nothing twice',
      async ({ broker, pantaud }) => {
        const base = `http://127.0.0.1:${pantaud.httpPort}`;
        assert(/^max_queued_messages 0$/m.test(fs.readFileSync(broker.conf, 'utf8')), 'the broker queues without a bound');
        const metrics0 = (await fetchJson(`${base}/metrics`)).text;
        const connects0 = metric(metrics0, 'pantau_mqtt_connects_total');
        assertEq((await healthz(base, 5000)).status, 200, 'healthy before');

        const pub = await mqttPublisher(broker);
        const sent = { n: 0 };
        let publishing = true;
        const done = publishLoop(pub, () => publishing, sent);
        try {
          await sleep(BEFORE_MS);
          process.kill(pantaud.pid, 'SIGSTOP');
          const stoppedAt = Date.now();
          try {
            await sleep(1000);
            const during = await healthz(base, 1500);
            assertEq(during.status, 0, `no answer while stopped (${JSON.stringify(during)})`);
            // Sleep out the rest in steps (bounded: STOP_MS in total).
            for (let i = 0; i < 100 && Date.now() - stoppedAt < STOP_MS; i++)
              await sleep(Math.min(1000, STOP_MS - (Date.now() - stoppedAt)));
          } finally {
            process.kill(pantaud.pid, 'SIGCONT');
          }
          const contAt = Date.now();
          const seen = [];
          await until(
            async () => {
              const h = await healthz(base, 1000);
              const last = seen[seen.length - 1];
              const key = h.status ? `${h.status} ${(h.json?.reasons || []).join(',')}` : `no answer (${h.error})`;
              if (!last || last.key !== key) seen.push({ key, at: Date.now() - contAt });
              return h.status === 200;
            },
            10000,
            'healthz 200 within 10 s of SIGCONT',
            100,
          );
          console.log(`  # after SIGCONT: ${seen.map((s) => `${s.at} ms: ${s.key}`).join('; ')}`);
          await sleep(AFTER_MS);
        } finally {
          publishing = false;
          await done;
          await pub.close();
        }
        const n = sent.n;
        console.log(`  # ${n} sent and acknowledged`);
        assert(n >= ((BEFORE_MS + STOP_MS) / 1000) * RATE * 0.9, `published ${n} samples`);

        // Every sample stored, each once: one per ts, with its own value.
        // The newest are in pantaud's head (issue 20): read them through the
        // API, raw, as (count, distinct ts, sum of values, ts matching value).
        const raw = `${base}/api/v1/query?program=pjs&unit=truck-stop&metric=pickups&from=${T0 - 1000}&to=${Date.now() + 3600000}`;
        const stored = async () => {
          const r = await fetchJson(raw);
          if (r.status !== 200) return `status ${r.status}`;
          const pts = r.json.series.flatMap((x) => x.points);
          const distinct = new Set(pts.map(([ts]) => ts)).size;
          const sum = pts.reduce((a, [, v]) => a + v, 0);
          const matching = pts.filter(([ts, v]) => ts === T0 + v * 1000).length;
          return `${pts.length}|${distinct}|${sum}|${matching}`;
        };
        const want = `${n}|${n}|${(n * (n - 1)) / 2}|${n}`;
        let got = '';
        await until(
          async () => (got = await stored()) === want,
          10000,
          `all ${n} samples stored (samples|distinct ts|sum of values|ts matching value; want ${want})`,
          250,
        ).catch((e) => {
          throw new Error(`${e.message}: got ${got}`);
        });
        console.log(`  # stored: ${got}`);

        const metrics1 = (await fetchJson(`${base}/metrics`)).text;
        const connects = metric(metrics1, 'pantau_mqtt_connects_total') - connects0;
        const ingested = metric(metrics1, 'pantau_ingested_total') - metric(metrics0, 'pantau_ingested_total');
        const brokerLog = fs.readFileSync(broker.log, 'utf8');
        const timedOut = /has exceeded timeout, disconnecting/.test(brokerLog);
        console.log(
          `  # ${n} published, ${n} stored once each; ${ingested} messages received ` +
            `(${ingested - n} redelivered); ${connects} reconnect(s); broker timed pantaud out: ${timedOut}`,
        );
        // The broker gave up on the silent client (keepalive 5 s) and Paho
        // connected again, taking up the kept session.
        assert(timedOut, 'the broker dropped the stopped client after 1.5 x keepalive');
        assert(connects >= 1, `pantaud reconnected (${connects})`);
        // Every connection of pantaud's client id kept its session (c0) and
        // spoke MQTT 3.1.1 (p2): Paho's automatic reconnect, its MQTTVersion
        // left at the default, stepped down to 3.1 (p1).
        const conns = [...brokerLog.matchAll(/New client connected from \S+ as pantaud-\S+ \((p\d), (c\d), k\d+\)/g)];
        console.log(`  # pantaud's connections as the broker saw them: ${conns.map((c) => `(${c[1]}, ${c[2]})`).join(' ')}`);
        assert(conns.length >= 2, `the broker saw pantaud connect again (${conns.length})`);
        for (const [line, p, c] of conns) {
          assert(c === 'c0', `clean session off: ${line}`);
          assert(p === 'p2', `MQTT 3.1.1: ${line}`);
        }
        assert(/mqtt: connection to .* lost/.test(pantaud.readLog()), 'pantaud logged the lost connection');
        assertEq(metric(metrics1, 'pantau_mqtt_connected'), 1, 'pantau_mqtt_connected');
        assertEq(metric(metrics1, 'pantau_lost_total'), 0, 'pantau_lost_total');
      },
      58000,
    ],
  ],
  {
    totalMs: 75000,
    before: () => startStack({ config: 'keepalive = 5\n' }),
    after: async ({ broker }) => broker.child.kill('SIGTERM'),
  },
);
