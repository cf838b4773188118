// latency.bench.mjs — publish→websocket latency through mosquitto and pantaud
// at a steady rate, and pantaud's memory and CPU meanwhile. Prints figures;
// asserts nothing.
//
//   node tests/js/latency.bench.mjs            1000 msg/s for 10 s, 1 client
//   RATE=10000 SECONDS=10 CLIENTS=200 node tests/js/latency.bench.mjs
//
// One MQTT.js publisher (QoS 1) sends {"value": seq} on 10 series; one
// measuring websocket client subscribed to them notes when each seq arrives.
// CLIENTS-1 further clients (in a worker thread) receive everything and read. The first second
// is warm-up and not counted. Latency includes the broker and node's own
// event loop: it is what a screen would see, not pantaud alone.
import fs from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { mqttPublisher, openClient, percentile, sleep, startStack } from './harness.mjs';

// The extra clients read in a worker thread, so that their JSON parsing does
// not delay the measuring client's event loop.
if (!isMainThread) {
  const { url, n } = workerData;
  const clients = [];
  for (let i = 0; i < n; i += 50)
    clients.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(50, n - i) }, (_, k) => openClient(url, k % 2 ? 'pantau.v1' : undefined, 15000)),
      )),
    );
  parentPort.postMessage('open');
  parentPort.on('message', () => {
    for (const c of clients) c.close();
    parentPort.postMessage('closed');
  });
  await new Promise(() => {}); // until the main thread says so
}

const RATE = Number(process.env.RATE || 1000);
const SECONDS = Number(process.env.SECONDS || 10);
const CLIENTS = Math.max(1, Number(process.env.CLIENTS || 1));
const WARMUP_MS = 1000;

function cpuSeconds(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in ticks of 10 ms
  } catch {
    return NaN;
  }
}

const { broker, pantaud } = await startStack();
const pub = await mqttPublisher(broker);
const probe = await openClient(pantaud.url());
await probe.subscribe(['bench/+/seq']);
let others = null;
if (CLIENTS > 1) {
  others = new Worker(new URL(import.meta.url), { workerData: { url: pantaud.url(), n: CLIENTS - 1 } });
  await new Promise((resolve, reject) => {
    others.once('message', resolve);
    others.once('error', reject);
  });
}
await sleep(300);
const rssIdle = pantaud.rss();

const sentAt = new Map();
const latencies = [];
let counted = 0;
probe.ws.on('message', () => {
  // harness's LiveClient has parsed the frame already: take the new samples.
  while (counted < probe.samples.length) {
    const s = probe.samples[counted++];
    const t = sentAt.get(s.value);
    if (t !== undefined && t.counted) latencies.push(performance.now() - t.at);
    sentAt.delete(s.value);
  }
});

const total = RATE * SECONDS;
const cpu0 = cpuSeconds(pantaud.pid);
const t0 = performance.now();
let seq = 0;
let rssPeak = rssIdle;
const rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, pantaud.rss())), 100);
while (seq < total) {
  // Publish what the schedule says is due, then sleep ~1 ms.
  const due = Math.min(total, Math.floor(((performance.now() - t0) * RATE) / 1000));
  while (seq < due) {
    const at = performance.now();
    sentAt.set(seq, { at, counted: at - t0 >= WARMUP_MS });
    pub.publish(`pantau/bench/unit-${seq % 10}/seq`, `{"value":${seq}}`).catch(() => {});
    seq++;
  }
  await sleep(1);
}
const sendSecs = (performance.now() - t0) / 1000;
try {
  await probe.waitUntil(() => probe.samples.length >= total, 30000, 'every sample');
} catch (e) {
  console.log(`# ${e.message}: ${probe.samples.length} of ${total} arrived`);
}
await sleep(50); // let the message handler above count the last frame
const cpu = cpuSeconds(pantaud.pid) - cpu0;
clearInterval(rssTimer);
rssPeak = Math.max(rssPeak, pantaud.rss());

latencies.sort((a, b) => a - b);
const ms = (v) => v.toFixed(2);
console.log(
  `# latency.bench: ${RATE} msg/s for ${SECONDS} s (sent in ${sendSecs.toFixed(1)} s), ${CLIENTS} websocket client(s)`,
);
console.log(
  `# publish->websocket latency over ${latencies.length} samples: p50 ${ms(percentile(latencies, 50))} ms, ` +
    `p90 ${ms(percentile(latencies, 90))} ms, p99 ${ms(percentile(latencies, 99))} ms, ` +
    `max ${ms(latencies[latencies.length - 1] ?? NaN)} ms`,
);
console.log(
  `# samples frames ${probe.sampleFrames} for ${probe.samples.length} samples (${(probe.samples.length / Math.max(1, probe.sampleFrames)).toFixed(1)} per frame), dropped ${probe.dropped}`,
);
console.log(
  `# pantaud: VmRSS ${rssIdle} KiB idle with ${CLIENTS} client(s), peak ${rssPeak} KiB; ` +
    `CPU ${cpu.toFixed(2)} s over the run (${((100 * cpu) / sendSecs).toFixed(0)}% of a core)`,
);
if (others) {
  others.postMessage('close');
  await Promise.race([new Promise((resolve) => others.once('message', resolve)), sleep(2000)]);
  await others.terminate();
}
probe.close();
await pub.close();
await pantaud.stop();
process.exit(0);
