// latency.bench.mjs — publish→websocket latency through mosquitto and pantaud
// at a steady rate, and pantaud's memory and CPU meanwhile. Prints figures;
// asserts nothing.
//
//   node tests/js/latency.bench.mjs            1000 msg/s for 10 s, 1 client
//   RATE=10000 SECONDS=10 CLIENTS=200 node tests/js/latency.bench.mjs
//   BURST=50000 node tests/js/latency.bench.mjs   the same right after a burst
//
// BURST=N: before the steady stream, pantau-sim publishes N samples of the
// Lampung Tengah scenario as fast as it can (QoS 1, ~2,000 series: a backlog
// of units flushing); the stream starts the moment pantaud has stored them
// all, and every sample of it counts (no warm-up): the seconds after a burst
// are when the database is busiest (WAL checkpoints, a big page cache).
//
// One MQTT.js publisher (QoS 1) sends {"value": seq} from UNITS units (one
// series each; RATE/10 by default, so each unit sends 10 a second: field
// units send each series' samples milliseconds apart at most, and 10 series
// at 10,000 msg/s put 40 % of the samples on the millisecond of the one
// before, a replace and not an insert). One measuring websocket client,
// in a worker thread of its own, subscribed to them notes when each seq
// arrives: the publisher notes the send time in shared memory on the
// process-wide monotonic clock. CLIENTS-1 further clients (in another worker
// thread) receive everything and count what they get: delivered / expected
// is printed. The first second is warm-up and not counted. Latency includes
// the broker and node: it is what a screen would see, not pantaud alone; but
// the measuring client has an event loop of its own, so that what it sees is
// not the publisher's garbage collection (at 10,000 msg/s that held the
// shared loop up to 117 ms).
import { fork, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { PANTAUD, fetchJson, mqttPublisher, openClient, percentile, sleep, startSim, startStack, until } from './harness.mjs';

// The extra clients read in a worker thread, so that they do not delay the
// measuring client's event loop. They count samples by scanning each frame
// for `"ts":` rather than parsing it: 500 clients parsing every frame would
// need more CPU than the machine has, and pantaud's sockets would back up
// behind them (what is measured then is node, not pantaud).
// The measuring client: latency of every counted seq, from the send time
// the publisher stored in `sent` (hrtime ns; sent[total] is when it began).
async function probeThread({ url, sentBuf, total, warmupNs }) {
  const sent = new BigInt64Array(sentBuf);
  const probe = await openClient(url);
  await probe.subscribe(['bench/+/seq']);
  const latencies = [];
  const seqs = []; // seqs[i]: the seq whose latency is latencies[i]
  let counted = 0;
  probe.ws.on('message', () => {
    // harness's LiveClient has parsed the frame already: take the new samples.
    const now = process.hrtime.bigint();
    while (counted < probe.samples.length) {
      const seq = probe.samples[counted++].value;
      const at = seq >= 0 && seq < total ? Atomics.exchange(sent, seq, 0n) : 0n; // once per seq
      if (at > 0n && at - Atomics.load(sent, total) >= warmupNs) {
        latencies.push(Number(now - at) / 1e6);
        seqs.push(seq);
      }
    }
  });
  parentPort.postMessage('open');
  parentPort.on('message', async (what) => {
    if (what === 'report') {
      try {
        await probe.waitUntil(() => probe.samples.length >= total, 30000, 'every sample');
      } catch (e) {
        console.log(`# ${e.message}: ${probe.samples.length} of ${total} arrived`);
      }
      await sleep(50); // let the message handler above count the last frame
      parentPort.postMessage({
        latencies,
        seqs,
        samples: probe.samples.length,
        frames: probe.sampleFrames,
        dropped: probe.dropped,
      });
      return;
    }
    probe.close();
    parentPort.postMessage('closed');
  });
  await new Promise(() => {}); // until the main thread says so
}

// The sign-ins' process (SIGNINS): officials' browsers, not the publisher's
// event loop, so that answering 50 requests never delays a publish. Each
// message {url, n, body} is a round: n concurrent sign-ins; it answers with
// their statuses (0: no answer in 2 minutes: a loaded machine may take long).
async function signinProcess() {
  process.on('disconnect', () => process.exit(0));
  process.on('message', async ({ url, n, body }) => {
    const one = () =>
      fetchJson(url, { method: 'POST', body, ms: 120000 }).then(
        (r) => r.status,
        () => 0,
      );
    process.send(await Promise.all(Array.from({ length: n }, one)));
  });
  await new Promise(() => {}); // until the bench disconnects
}

if (process.argv[2] === 'signins') await signinProcess();
if (!isMainThread && workerData.role === 'probe') await probeThread(workerData);
if (!isMainThread) {
  const { url, n } = workerData;
  const clients = [];
  const tally = { samples: 0, frames: 0, dropped: 0 };
  const samplesHead = Buffer.from('{"type":"samples"');
  const droppedHead = Buffer.from('{"type":"dropped"');
  const tsKey = Buffer.from('"ts":');
  const count = (data) => {
    if (data.subarray(0, samplesHead.length).equals(samplesHead)) {
      tally.frames++;
      for (let at = data.indexOf(tsKey); at >= 0; at = data.indexOf(tsKey, at + tsKey.length)) tally.samples++;
    } else if (data.subarray(0, droppedHead.length).equals(droppedHead)) {
      tally.dropped += JSON.parse(data.toString()).count;
    }
  };
  for (let i = 0; i < n; i += 50)
    clients.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(50, n - i) }, (_, k) => openClient(url, k % 2 ? 'pantau.v1' : undefined, 15000)),
      )),
    );
  for (const c of clients) {
    c.ws.removeAllListeners('message'); // no parsing from here on
    c.ws.on('message', count);
  }
  parentPort.postMessage('open');
  parentPort.on('message', (what) => {
    if (what === 'tally') {
      parentPort.postMessage(tally);
      return;
    }
    for (const c of clients) c.close();
    parentPort.postMessage('closed');
  });
  await new Promise(() => {}); // until the main thread says so
}

const RATE = Number(process.env.RATE || 1000);
const SECONDS = Number(process.env.SECONDS || 10);
const CLIENTS = Math.max(1, Number(process.env.CLIENTS || 1));
const UNITS = Math.max(1, Number(process.env.UNITS || Math.max(10, RATE / 10)));
const BURST = Number(process.env.BURST || 0);
// SIGNINS=N: rounds of N concurrent sign-ins (CONTRACT §8) during the
// stream, each after a quiet spell as long as the round before it took (at
// least 1 s): the p99 of the samples published while a round ran beside the
// p99 of those published in the quiet spells, in the same run of the same
// daemon (so that the machine's other load weighs on both alike). Their
// Argon2id hashing must not move the live push (it runs in a child). The
// sign-ins come from a process of their own, as officials' browsers would.
const SIGNINS = Number(process.env.SIGNINS || 0);
const WARMUP_MS = BURST ? 0 : 1000;

function cpuSeconds(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in ticks of 10 ms
  } catch {
    return NaN;
  }
}

// The broker as scripts/bench's: mosquitto's default of 20 QoS 1 messages in
// flight per client caps what it hands pantaud at one round trip per 20
// messages, which a loaded machine stretches below 10,000 msg/s.
const { broker, pantaud } = await startStack({
  // The simulator's PADUKA vans make 1,244 series each (> max_series_per_unit's 1,000).
  config: process.env.PANTAUD_CONFIG || '[store]\nmax_series_per_unit = 2000\n',
  broker: { conf: (process.env.BROKER_CONF ?? 'max_inflight_messages 100\nset_tcp_nodelay true').split('\n') },
});
const pub = await mqttPublisher(broker);
const total = RATE * SECONDS;
const sentBuf = new SharedArrayBuffer(8 * (total + 1));
const sent = new BigInt64Array(sentBuf);
const worker = async (data) => {
  const w = new Worker(new URL(import.meta.url), { workerData: data });
  await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  return w;
};
// ask(w, what): posts `what` and resolves with the worker's answer.
const ask = (w, what) => {
  const answer = new Promise((resolve) => w.once('message', resolve));
  w.postMessage(what);
  return answer;
};
const prober = await worker({
  role: 'probe',
  url: pantaud.url(),
  sentBuf,
  total,
  warmupNs: BigInt(WARMUP_MS) * 1000000n,
});
let others = null;
if (CLIENTS > 1) others = await worker({ role: 'others', url: pantaud.url(), n: CLIENTS - 1 });
await sleep(300);
const rssIdle = pantaud.rss();

// pantaud's own part of the latency: its live delay histogram (arrival at
// pantaud -> pushed to the websocket clients), cumulative counts by bound.
// With SIGNINS an account exists, so /metrics needs a credential: a session.
let auth = {};
async function liveDelay() {
  const { text } = await fetchJson(`http://127.0.0.1:${pantaud.httpPort}/metrics`, { headers: auth });
  return [...text.matchAll(/^pantau_live_delay_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)].map((m) => [
    m[1] === '+Inf' ? Infinity : 1000 * Number(m[1]),
    Number(m[2]),
  ]);
}

// "p99 <= B ms" from the histogram's growth between a and b: the first bound
// holding 99 % of the samples counted, and the share within each limit.
// p99est: the same estimated within that bucket as Prometheus'
// histogram_quantile does, linearly between its bounds (finer than the
// bounds, but an estimate).
function delayP99(a, b) {
  const grown = b.map(([le, n], i) => [le, n - (a[i]?.[1] ?? 0)]);
  const count = grown[grown.length - 1]?.[1] ?? 0;
  if (!count) return { grown, count, p99: NaN, p99est: NaN };
  const i = grown.findIndex(([, n]) => n >= 0.99 * count);
  const [lo, below] = i > 0 ? grown[i - 1] : [0, 0];
  const [hi, upto] = grown[i];
  const p99est = hi === Infinity ? lo : lo + ((hi - lo) * (0.99 * count - below)) / Math.max(1, upto - below);
  return { grown, count, p99: hi, p99est };
}

function delayLine(a, b) {
  const { grown, count, p99 } = delayP99(a, b);
  if (!count) return '(no samples counted)';
  const within = (ms) => (100 * (grown.find(([le]) => le >= ms)?.[1] ?? count)) / count;
  return (
    `p99 <= ${p99} ms (histogram bound); ${within(5).toFixed(2)} % within 5 ms, ` +
    `${within(25).toFixed(2)} % within 25 ms, of ${count} samples`
  );
}

async function storedTotal() {
  const { text } = await fetchJson(`http://127.0.0.1:${pantaud.httpPort}/metrics`);
  const m = /^pantau_stored_total (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

// The burst: N samples as fast as the simulator can, then wait until stored.
let burstNote = '';
let burstSim = null;
if (BURST) {
  const before = await storedTotal();
  const t = performance.now();
  burstSim = startSim(broker, ['--rate', '0', '--count', String(BURST), '--ts-mode', 'seq', '--seed', '7', '--qos', '1']);
  // Not its exit: the simulator may take a second to disconnect, and a
  // second with nothing for pantaud's MQTT client costs the next message up
  // to 100 ms (Paho's receive thread sleeps 100 ms blind after each idle
  // second), which units streaming on through a burst would never see.
  await until(async () => (await storedTotal()) - before >= BURST, 120000, `pantaud to store the ${BURST}-sample burst`, 5);
  const secs = (performance.now() - t) / 1000;
  burstNote = `, right after a burst of ${BURST} samples (published and stored in ${secs.toFixed(1)} s)`;
}

// The account the sign-ins use, and one sign-in alone: its time is the
// password hash's, plus a local HTTP round trip (the median of 5).
let signins = null;
let signinNote = '';
let oneSigninMs = NaN;
let signer = null; // the sign-ins' process
const rounds = []; // [first seq published during a round, first seq after it]
let quietFrom = 0; // when the next round may start (performance.now())
const loginUrl = `http://127.0.0.1:${pantaud.httpPort}/api/v1/login`;
const loginBody = JSON.stringify({ user: 'bench', password: 'bench-password-123' });
const signinRound = (n) => {
  const answer = new Promise((resolve) => signer.once('message', resolve));
  signer.send({ url: loginUrl, n, body: loginBody });
  return answer;
};
if (SIGNINS) {
  const r = spawnSync(PANTAUD, ['--db', pantaud.db, 'user', 'add', 'bench', '--role', 'viewer'], {
    input: 'bench-password-123\n',
    timeout: 20000,
  });
  if (r.status !== 0) throw new Error(`user add: ${r.stderr}`);
  signer = fork(fileURLToPath(import.meta.url), ['signins'], { stdio: 'inherit' });
  await signinRound(1); // the first may hash the dummy too
  const alone = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const res = await fetch(loginUrl, { method: 'POST', body: loginBody });
    await res.text();
    alone.push(performance.now() - t);
    auth = { cookie: (res.headers.get('set-cookie') || '').split(';')[0] };
  }
  oneSigninMs = alone.sort((a, b) => a - b)[2];
}

const delay0 = await liveDelay();
const cpu0 = cpuSeconds(pantaud.pid);
const t0 = performance.now();
Atomics.store(sent, total, process.hrtime.bigint());
let seq = 0;
let rssPeak = rssIdle;
const rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, pantaud.rss())), 100);
while (seq < total) {
  // Publish what the schedule says is due, then sleep ~1 ms.
  const due = Math.min(total, Math.floor(((performance.now() - t0) * RATE) / 1000));
  while (seq < due) {
    Atomics.store(sent, seq, process.hrtime.bigint());
    pub.publish(`pantau/bench/unit-${seq % UNITS}/seq`, `{"value":${seq}}`).catch(() => {});
    seq++;
  }
  // A round of sign-ins after 2 s of quiet (warm-up included), then one
  // after each quiet spell, while at least 2 s of the stream are left.
  const now = performance.now();
  if (SIGNINS && !signins && now >= t0 + 2000 + quietFrom && seq < total - 2 * RATE) {
    const round = [seq, total];
    rounds.push(round);
    const h0 = liveDelay(); // pantaud's own delays, counted from here ...
    signins = signinRound(SIGNINS).then(async (statuses) => {
      const took = performance.now() - now;
      round[1] = seq;
      round.push(statuses.filter((status) => status === 200).length, took);
      round.own = [await h0, await liveDelay()]; // ... to here
      quietFrom = performance.now() - t0 - 2000 + Math.max(1000, took);
      signins = null;
    });
  }
  await sleep(1);
}
await signins;
if (SIGNINS)
  signinNote =
    `, with ${rounds.length} round(s) of ${SIGNINS} concurrent sign-ins (answered 200: ` +
    `${rounds.map((r) => `${r[2]} in ${r[3].toFixed(0)} ms`).join(', ')}; one alone ${oneSigninMs.toFixed(1)} ms)`;
const sendSecs = (performance.now() - t0) / 1000;
await burstSim?.child.exited;
const probe = await ask(prober, 'report');
const latencies = probe.latencies;
// Every sample to every other client: wait (up to 30 s) until all arrived.
let othersLine = '';
if (others) {
  const expected = total * (CLIENTS - 1);
  let tally = { samples: 0, frames: 0, dropped: 0 };
  for (let end = performance.now() + 30000; performance.now() < end; await sleep(200)) {
    tally = await ask(others, 'tally');
    if (tally.samples + tally.dropped >= expected) break;
  }
  othersLine =
    `# ${CLIENTS - 1} other clients: delivered ${tally.samples} of ${expected} samples ` +
    `(${(tally.samples / expected).toFixed(4)}), dropped ${tally.dropped}, ` +
    `${(tally.samples / Math.max(1, tally.frames)).toFixed(1)} samples per frame`;
}
const cpu = cpuSeconds(pantaud.pid) - cpu0;
const delay1 = await liveDelay();
const metricsText = (await fetchJson(`http://127.0.0.1:${pantaud.httpPort}/metrics`, { headers: auth })).text;
const metric = (name) => (new RegExp(`^${name} (\\S+)`, 'm').exec(metricsText) || [])[1];
let walBytes = NaN;
try {
  walBytes = fs.statSync(`${pantaud.db}-wal`).size;
} catch {
  /* no WAL */
}
clearInterval(rssTimer);
rssPeak = Math.max(rssPeak, pantaud.rss());

// pantaud's own part (its histogram) while sign-ins ran, and the rest of the
// run (quiet): without the broker's, node's and the kernel's part, in
// bounds of 0.25, 0.5, 1, 2, 5 ms, and estimated between them.
let ownLine = '';
let ownDuring = {};
let ownQuiet = {};
if (SIGNINS) {
  const add = (a, b, sign) => a.map(([le, n], i) => [le, n + sign * (b[i]?.[1] ?? 0)]);
  let during = delay0.map(([le]) => [le, 0]);
  for (const r of rounds) if (r.own) during = add(during, add(r.own[1], r.own[0], -1), 1);
  const zero = delay0.map(([le]) => [le, 0]);
  const quiet = add(add(delay1, delay0, -1), during, -1);
  const p = (h) => delayP99(zero, h);
  ownDuring = p(during);
  ownQuiet = p(quiet);
  const share = (h, ms) => ((100 * (h.grown.find(([le]) => le >= ms)?.[1] ?? 0)) / Math.max(1, h.count)).toFixed(2);
  ownLine =
    `# pantaud's part: p99 <= ${ownDuring.p99} ms (~${ownDuring.p99est.toFixed(2)}) while sign-ins ran ` +
    `(${ownDuring.count} samples; ${share(ownDuring, 1)} % within 1 ms), <= ${ownQuiet.p99} ms ` +
    `(~${ownQuiet.p99est.toFixed(2)}) in the quiet spells (${ownQuiet.count}; ${share(ownQuiet, 1)} % within 1 ms): ` +
    `moved by ~${(ownDuring.p99est - ownQuiet.p99est).toFixed(2)} ms`;
}
// The samples published while sign-ins ran, and the others (quiet).
const during = [];
const quiet = [];
probe.seqs.forEach((s, i) => (rounds.some(([a, b]) => s >= a && s < b) ? during : quiet).push(latencies[i]));
during.sort((a, b) => a - b);
quiet.sort((a, b) => a - b);
latencies.sort((a, b) => a - b);
const ms = (v) => v.toFixed(2);
console.log(
  `# latency.bench: ${RATE} msg/s for ${SECONDS} s (sent in ${sendSecs.toFixed(1)} s), ${CLIENTS} websocket client(s)${burstNote}${signinNote}`,
);
console.log(
  `# publish->websocket latency over ${latencies.length} samples: p50 ${ms(percentile(latencies, 50))} ms, ` +
    `p90 ${ms(percentile(latencies, 90))} ms, p99 ${ms(percentile(latencies, 99))} ms, ` +
    `max ${ms(latencies[latencies.length - 1] ?? NaN)} ms`,
);
if (SIGNINS)
  console.log(
    `# p99 while sign-ins ran ${ms(percentile(during, 99))} ms (${during.length} samples), in the quiet ` +
      `spells ${ms(percentile(quiet, 99))} ms (${quiet.length}): moved by ` +
      `${ms(percentile(during, 99) - percentile(quiet, 99))} ms (limit 1 ms)`,
  );
console.log(`# pantaud's part (arrival at pantaud -> pushed to the clients): ${delayLine(delay0, delay1)}`);
if (ownLine) console.log(ownLine);
console.log(
  `# samples frames ${probe.frames} for ${probe.samples} samples (${(probe.samples / Math.max(1, probe.frames)).toFixed(1)} per frame) from ${UNITS} units, dropped ${probe.dropped}`,
);
console.log(
  `# pantaud: VmRSS ${rssIdle} KiB idle with ${CLIENTS} client(s), peak ${rssPeak} KiB; ` +
    `CPU ${cpu.toFixed(2)} s over the run (${((100 * cpu) / sendSecs).toFixed(0)}% of a core)`,
);
console.log(
  `# WAL: ${(walBytes / 1048576).toFixed(1)} MiB on disk, ${metric('pantau_wal_frames')} frames at the last checkpoint, ` +
    `${metric('pantau_checkpoints_caught_up_total')} of ${metric('pantau_checkpoints_total')} checkpoints caught up ` +
    `(writer lock held <= ${(1000 * Number(metric('pantau_checkpoint_lock_seconds_max'))).toFixed(1)} ms); ` +
    `loop: ${metric('pantau_loop_slow_turns_total')} slow turns, longest ${(1000 * Number(metric('pantau_loop_turn_seconds_max'))).toFixed(1)} ms; ` +
    `websocket writes held up to ${(1000 * Number(metric('pantau_ws_write_hold_seconds_max'))).toFixed(0)} ms`,
);
// One line for scripts/bench to read the figures from.
const summary = {
  rate: RATE,
  clients: CLIENTS,
  burst: BURST,
  signins: SIGNINS,
  signin_ms: oneSigninMs,
  signin_rounds: rounds.length,
  p99_signins: percentile(during, 99),
  p99_quiet: percentile(quiet, 99),
  p50: percentile(latencies, 50),
  p99: percentile(latencies, 99),
  max: latencies[latencies.length - 1] ?? NaN,
  cpu: cpu / sendSecs, // of one core
  delivered: probe.samples,
  expected: total,
  own_p99_le: delayP99(delay0, delay1).p99, // pantaud's part: a histogram bound (ms)
  own_p99_signins: ownDuring.p99est, // ... estimated within its bucket, while sign-ins ran
  own_p99_quiet: ownQuiet.p99est,
};
if (others) {
  const m = /delivered (\d+) of (\d+) samples/.exec(othersLine);
  if (m) {
    summary.delivered += Number(m[1]);
    summary.expected += Number(m[2]);
  }
}
console.log(`# summary ${JSON.stringify(summary)}`);
if (others) {
  console.log(othersLine);
  await Promise.race([ask(others, 'close'), sleep(2000)]);
  await others.terminate();
}
await Promise.race([ask(prober, 'close'), sleep(2000)]);
await prober.terminate();
await pub.close();
signer?.disconnect();
await pantaud.stop();
process.exit(0);
