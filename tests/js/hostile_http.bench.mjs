// hostile_http.bench.mjs — figures for CONTRACT §10's connection limits,
// each beside its limit (make bench, part "hostile"). Default config only, so
// it runs against any pantaud (PANTAUD=old/pantaud for a before figure):
//   trickle: seconds until a head / a body sent at 1 byte/s is closed (limit
//            min_rate_window, 10 s; "open" when not closed in 40 s);
//   tricklers: an authenticated request's latency (p50, max) from 127.0.0.1
//            while 2,000 unauthenticated connections from 127.0.0.2-40
//            trickle heads (limit 1 s);
//   fds:     pantaud under an open files limit of FDS (4096), 1.25 x FDS
//            connections from 250 addresses: how many it holds, and the
//            authenticated requests answered meanwhile (limit: all, < 1 s).
// One JSON line per figure on stdout, {"figure","value","limit",...}.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

const FDS = Number(process.env.BENCH_FDS || 4096);
const TOKEN = 'operator-token-0123456789abc';
const auth = { Authorization: `Bearer ${TOKEN}` };

// pantaud under a hard open files limit: a wrapper the harness starts.
const real = path.resolve(process.env.PANTAUD || 'build/pantaud');
const { tmpdir } = await import('./harness.mjs');
const wrapper = path.join(tmpdir(), 'pantaud-limited');
fs.writeFileSync(wrapper, `#!/bin/sh\nexec prlimit --nofile=${FDS}:${FDS} "${real}" "$@"\n`, { mode: 0o755 });
const { percentile, rssKiB, sleep, startBroker, startPantaud, until } = await import('./harness.mjs');

function request(port, p, headers, ms = 5000) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port, path: p, headers, agent: false, timeout: ms }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    req.end();
  });
}

function sock(port, local) {
  const s = net.connect({ host: '127.0.0.1', port, localAddress: local });
  const r = { s, openedAt: null, closedAt: null, i: 0 };
  s.on('connect', () => (r.openedAt = performance.now()));
  s.on('error', () => {});
  s.on('close', () => (r.closedAt = performance.now()));
  return r;
}

const emit = (o) => console.log(JSON.stringify(o));
const HEAD = 'GET /api/v1/programs HTTP/1.1\r\nHost: x\r\n' + 'X-Pad: ' + 'a'.repeat(4000) + '\r\n\r\n';

async function trickle(port, what, start, rest) {
  const r = sock(port);
  await until(() => r.openedAt !== null, 3000, 'connect');
  if (start) r.s.write(start);
  const t0 = performance.now();
  const timer = setInterval(() => r.closedAt === null && r.i < rest.length && r.s.write(rest[r.i++]), 1000);
  await until(() => r.closedAt !== null || performance.now() - t0 > 40000, 45000, 'close', 50);
  clearInterval(timer);
  r.s.destroy();
  const s = r.closedAt === null ? null : (r.closedAt - t0) / 1000;
  emit({ figure: `trickle_${what}_close_s`, value: s === null ? 'open after 40 s' : Number(s.toFixed(1)), limit: 10 });
}

// n connections trickling heads from `addrs` addresses; a closed one comes back.
function attack(port, n, addrs) {
  const socks = new Set();
  let stop = false;
  const open = (i) => {
    if (stop) return;
    const r = sock(port, `127.0.${Math.floor((2 + (i % addrs)) / 256)}.${(2 + (i % addrs)) % 256}`);
    socks.add(r);
    r.s.on('close', () => {
      socks.delete(r);
      if (!stop) setTimeout(() => open(i), 200);
    });
  };
  for (let i = 0; i < n; i++) open(i);
  const tick = setInterval(() => {
    for (const r of socks) if (r.openedAt !== null && r.closedAt === null && r.i < HEAD.length) r.s.write(HEAD[r.i++]);
  }, 1000);
  return {
    open: () => [...socks].filter((r) => r.openedAt !== null && r.closedAt === null).length,
    stop: () => {
      stop = true;
      clearInterval(tick);
      for (const r of socks) r.s.destroy();
    },
  };
}

async function latencies(port, seconds) {
  const lat = [];
  let failed = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const r = await request(port, '/api/v1/programs', auth, 3000);
    if (r.status === 200) lat.push(r.ms);
    else failed++;
    await sleep(250);
  }
  lat.sort((a, b) => a - b);
  return { lat, failed };
}

const broker = await startBroker();
const config = `[auth]\noperator = ${TOKEN}\n`;
const d = await startPantaud(broker, { config });
await trickle(d.httpPort, 'head', '', HEAD);
await trickle(
  d.httpPort,
  'body',
  `POST /api/v1/ingest/p/u/m HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 500\r\n\r\n`,
  '{"value":' + ' '.repeat(480) + '1}',
);
{
  const a = attack(d.httpPort, 2000, 39);
  await sleep(3000);
  const { lat, failed } = await latencies(d.httpPort, 12);
  const rss = rssKiB(d.pid);
  emit({
    figure: 'auth_latency_2000_tricklers_ms',
    p50: Number(percentile(lat, 50).toFixed(1)),
    value: Number((lat[lat.length - 1] ?? NaN).toFixed(1)),
    limit: 1000,
    failed,
    tricklers_open: a.open(),
    pantaud_rss_mib: Number((rss / 1024).toFixed(1)),
  });
  a.stop();
}
await d.stop();

// At the open files limit.
process.env.PANTAUD = wrapper;
const { startPantaud: startLimited } = await import(`./harness.mjs?limited`);
const lim = await startLimited(broker, { config });
{
  const n = Math.round(FDS * 1.25);
  const a = attack(lim.httpPort, n, 250);
  await sleep(4000);
  const held = a.open();
  const { lat, failed } = await latencies(lim.httpPort, 8);
  emit({
    figure: `auth_at_fd_limit_${FDS}`,
    value: Number((lat[lat.length - 1] ?? NaN).toFixed(1)),
    limit: 1000,
    answered: lat.length,
    failed,
    attackers_held: held,
    attempted: n,
  });
  a.stop();
}
await lim.stop();
process.exit(0);
