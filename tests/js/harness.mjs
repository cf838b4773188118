// harness.mjs — real parts for pantau's websocket tests: a mosquitto broker and
// a pantaud on free loopback ports in a temp dir, websocket clients, MQTT
// publishers, and a tiny TAP-like runner.
//
// Every process started here is recorded and killed by PID on exit, on a
// failure and on SIGINT/SIGTERM of the test; the temp dir is removed unless
// PANTAU_KEEP_TMP is set. Every wait has a timeout.
//
// Env: PANTAUD (default build/pantaud), PANTAU_SIM (default build/pantau-sim).
import { spawn, execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const PANTAUD = path.resolve(repoRoot, process.env.PANTAUD || 'build/pantaud');
export const PANTAU_SIM = path.resolve(repoRoot, process.env.PANTAU_SIM || 'build/pantau-sim');

// ---- cleanup: by PID, whatever way the test ends ----

const children = new Set(); // ChildProcess objects still running
let tmpRoot = null;

function killAll() {
  for (const child of children) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  children.clear();
  if (tmpRoot && !process.env.PANTAU_KEEP_TMP) {
    try {
      fs.rmSync(tmpRoot, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
    tmpRoot = null;
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

export function tmpdir() {
  if (!tmpRoot) tmpRoot = fs.mkdtempSync(path.join(process.env.TMPDIR || os.tmpdir(), 'pantau-js-'));
  return tmpRoot;
}

// ---- small helpers ----

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Rejects with `what` if `promise` has not settled within ms.
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Polls fn() until it returns a truthy value or ms pass (then throws).
export async function until(fn, ms, what, every = 20) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timeout after ${ms} ms: ${what}`);
    await sleep(every);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

// Starts a child with stdout+stderr appended to logPath; tracked for cleanup.
function startChild(cmd, args, logPath) {
  const fd = fs.openSync(logPath, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  children.add(child);
  child.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  child.once('error', () => children.delete(child));
  return child;
}

// SIGTERM, wait up to ms, then SIGKILL. Returns {code, signal}.
export async function stopChild(child, ms = 10000) {
  if (!children.has(child)) return child.exited;
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    /* gone */
  }
  try {
    return await withTimeout(child.exited, ms, `pid ${child.pid} to exit`);
  } catch {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    return child.exited;
  }
}

// VmRSS of a process in KiB (Linux), or NaN.
export function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

// True if the process runs under AddressSanitizer or ThreadSanitizer (its RSS
// and speed are then no guide).
export function sanitized(pid) {
  try {
    return /libasan|libtsan|libclang_rt\.(asan|tsan)/.test(fs.readFileSync(`/proc/${pid}/maps`, 'utf8'));
  } catch {
    return false;
  }
}

// True if the process runs under ThreadSanitizer (5-15x slower: a bound on
// a stall means less).
export function threadSanitized(pid) {
  try {
    return /libtsan|libclang_rt\.tsan/.test(fs.readFileSync(`/proc/${pid}/maps`, 'utf8'));
  } catch {
    return false;
  }
}

// ---- every pantaud started, checked at the end ----

const daemons = [];

async function daemonProblems() {
  const problems = [];
  for (const { child, log } of daemons) {
    const { code, signal } = await stopChild(child);
    if (code !== 0 && signal !== 'SIGKILL')
      problems.push(`pantaud ${child.pid} exited with ${code ?? signal} (log ${log})`);
  }
  for (const log of new Set(daemons.map((d) => d.log))) {
    let text = '';
    try {
      text = fs.readFileSync(log, 'utf8');
    } catch {
      continue;
    }
    const m = /(ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|ThreadSanitizer: reported|runtime error:).*/.exec(text);
    if (m) problems.push(`${log}: ${m[0]}`);
  }
  return problems;
}

// ---- broker ----

// opts.port: reuse a port (a broker coming back after an outage); opts.conf:
// further lines of mosquitto.conf.
export async function startBroker(opts = {}) {
  const dir = tmpdir();
  const port = opts.port || (await freePort());
  const conf = path.join(dir, `mosquitto-${port}.conf`);
  const log = path.join(dir, `mosquitto-${port}.log`);
  // max_queued_messages 0: unlimited (the default 1000 silently drops under load).
  fs.writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'max_queued_messages 0',
      'persistence false',
      'log_dest stderr',
      ...(opts.conf || []),
      '',
    ].join('\n'),
  );
  const child = startChild('mosquitto', ['-c', conf], log);
  await until(() => canConnect(port), 5000, `mosquitto on port ${port}`);
  return { child, port, uri: `tcp://127.0.0.1:${port}`, log, conf };
}

// ---- pantaud ----

// Starts pantaud against `broker` with its database in the temp dir; resolves
// once it listens and its MQTT subscription is acknowledged (or, with
// opts.ready, once its log has that line).
// opts: { db, config (INI text), args: [...], httpPort, ready, nofile (an
// open files limit, soft and hard, set by prlimit, which execs pantaud) }
export async function startPantaud(broker, opts = {}) {
  const dir = tmpdir();
  const httpPort = opts.httpPort || (await freePort());
  const db = opts.db || path.join(dir, `pantau-${httpPort}.db`);
  const log = path.join(dir, `pantaud-${httpPort}.log`);
  // The suite runs as root in CI and here: pantaud refuses root without it.
  const args = ['--allow-root', '--mqtt', broker.uri, '--db', db, '--listen', `127.0.0.1:${httpPort}`];
  // One MQTT session per database: two pantauds sharing a client id would
  // take the connection from each other. A restart on the same database
  // keeps its session (and what the broker queued meanwhile).
  const conf = path.join(dir, `pantau-${httpPort}.ini`);
  const clientId = `pantaud-${path.basename(db).replace(/[^a-z0-9]/gi, '-')}`;
  fs.writeFileSync(conf, `[mqtt]\nclient_id = ${clientId}\n${opts.config || ''}`);
  args.unshift('-c', conf);
  args.push(...(opts.args || []));
  const logStart = fs.existsSync(log) ? fs.statSync(log).size : 0;
  const child = opts.nofile
    ? startChild('prlimit', [`--nofile=${opts.nofile}:${opts.nofile}`, PANTAUD, ...args], log)
    : startChild(PANTAUD, args, log);
  daemons.push({ child, log });
  const readLog = () => {
    try {
      return fs.readFileSync(log, 'utf8').slice(logStart);
    } catch {
      return '';
    }
  };
  try {
    await until(
      async () => {
        if (!children.has(child)) throw new Error(`pantaud exited early:\n${readLog()}`);
        return readLog().includes(opts.ready || 'mqtt: subscribed') && (await canConnect(httpPort));
      },
      15000,
      'pantaud to listen and subscribe',
      50,
    );
  } catch (e) {
    await stopChild(child, 2000);
    throw new Error(`${e.message}\n--- pantaud log ---\n${readLog()}`);
  }
  return {
    child,
    pid: child.pid,
    httpPort,
    db,
    log,
    readLog,
    url: (p = '/api/v1/live') => `ws://127.0.0.1:${httpPort}${p}`,
    rss: () => rssKiB(child.pid),
    stop: (ms) => stopChild(child, ms),
  };
}

// An HTTP request whose answer may be JSON: {status, text, json (null when
// not JSON)}. Bounded by ms.
export async function fetchJson(url, { method = 'GET', headers = {}, body, ms = 10000 } = {}) {
  const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(ms) });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, text, json };
}

// Samples a running pantaud holds, counted through its API (issue 20: the
// newest are in its in-memory head, not in the database file yet): /series
// names the (program, metric) pairs, /query?agg=count counts each series'
// samples over all time in one bucket. `where(series)` (program, unit,
// metric, labels) picks the series counted; `series` narrows /series's list
// ("program=P&unit=U"). Throws on an HTTP error.
const ALL_TIME = 'from=0&to=3162240000000&step=3162240000000&agg=count';
export async function countSamples(pantaud, { where = () => true, headers = {}, series = '' } = {}) {
  const base = `http://127.0.0.1:${pantaud.httpPort}/api/v1`;
  const get = async (p) => {
    const r = await fetchJson(`${base}${p}`, { headers, ms: 30000 });
    if (r.status !== 200) throw new Error(`GET ${p}: ${r.status} ${r.text.slice(0, 200)}`);
    return r.json;
  };
  const pairs = new Set((await get(`/series?${series}`)).series.filter(where).map((s) => `${s.program}\n${s.metric}`));
  let n = 0;
  for (const pair of pairs) {
    const [program, metric] = pair.split('\n');
    const q = `/query?program=${encodeURIComponent(program)}&metric=${encodeURIComponent(metric)}&${ALL_TIME}`;
    for (const s of (await get(q)).series) if (where(s)) for (const [, c] of s.points) n += c;
  }
  return n;
}

// Samples at rest in the database file at `db`: after a clean stop every
// sample is in its chunk rows. `where` is SQL over series and chunks'
// columns (program, unit, metric, labels, start).
export function countSamplesAtRest(db, where = '1') {
  const q = `SELECT coalesce(sum(n), 0) FROM chunks JOIN series ON series.id = chunks.series WHERE data IS NOT NULL AND (${where})`;
  return Number(execFileSync('sqlite3', ['-readonly', db, q], { timeout: 10000 }).toString().trim());
}

// A fast fill for tests, in SQL: in a stopped pantaud's database, the old
// layout's tables (schema 6: samples and its rollups) and the mark that has
// the next start convert them to chunk rows (store_convert.h: counted in
// both at the end, logged). After it, in the same transaction: INSERT INTO
// samples (series, ts, value, arrival) ... for series that exist.
export const SAMPLES_TO_CONVERT = `CREATE TABLE samples (series INTEGER NOT NULL, ts INTEGER NOT NULL,
    value REAL NOT NULL, arrival INTEGER NOT NULL, PRIMARY KEY (series, ts)) WITHOUT ROWID;
  CREATE TABLE rollup_1m (series INTEGER NOT NULL, ts INTEGER NOT NULL, min_value REAL NOT NULL,
    max_value REAL NOT NULL, sum_value REAL NOT NULL, n INTEGER NOT NULL, last_value REAL NOT NULL,
    last_ts INTEGER NOT NULL, PRIMARY KEY (series, ts)) WITHOUT ROWID;
  CREATE TABLE rollup_1h (series INTEGER NOT NULL, ts INTEGER NOT NULL, min_value REAL NOT NULL,
    max_value REAL NOT NULL, sum_value REAL NOT NULL, n INTEGER NOT NULL, last_value REAL NOT NULL,
    last_ts INTEGER NOT NULL, PRIMARY KEY (series, ts)) WITHOUT ROWID;
  INSERT OR REPLACE INTO store_meta (key, value) VALUES ('convert_next', 0);`;

// pantau-sim against `broker` with `args`; tracked for cleanup like pantaud.
export function startSim(broker, args = []) {
  const log = path.join(tmpdir(), `sim-${Date.now()}-${Math.random().toString(16).slice(2, 6)}.log`);
  const child = startChild(PANTAU_SIM, ['--mqtt', broker.uri, ...args], log);
  return { child, log, stop: (ms) => stopChild(child, ms) };
}

// A broker and a pantaud: the usual test stack.
export async function startStack(opts = {}) {
  const broker = await startBroker(opts.broker);
  const pantaud = await startPantaud(broker, opts);
  return { broker, pantaud };
}

// ---- publishing ----

// One message with the mosquitto_pub CLI (QoS 1). For a few messages.
export function mosquittoPub(broker, topic, payload) {
  return new Promise((resolve, reject) => {
    execFile(
      'mosquitto_pub',
      ['-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-t', topic, '-m', payload],
      { timeout: 10000 },
      (err, stdout, stderr) => (err ? reject(new Error(`mosquitto_pub: ${err.message} ${stderr}`)) : resolve()),
    );
  });
}

// An MQTT.js publisher (QoS 1) for load; resolves once connected.
export async function mqttPublisher(broker) {
  const client = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, {
    clientId: `pantau-js-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
  await withTimeout(
    new Promise((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    }),
    6000,
    'MQTT publisher to connect',
  );
  return {
    client,
    // Resolves when the broker has acknowledged it (QoS 1).
    publish: (topic, payload, qos = 1) =>
      new Promise((resolve, reject) =>
        client.publish(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos }, (err) =>
          err ? reject(err) : resolve(),
        ),
      ),
    close: () => new Promise((resolve) => client.end(false, {}, resolve)),
  };
}

// ---- websocket clients ----

// A live websocket client that records every frame. protocol: undefined (no
// subprotocol offered) or "pantau.v1".
export class LiveClient {
  constructor(url, protocol) {
    this.frames = [];
    this.samples = []; // every sample of every "samples" frame, in order
    this.sampleFrames = 0;
    this.dropped = 0; // sum of "dropped" counts
    this.pongs = 0;
    this.waiters = new Set();
    this.closed = null;
    this.ws = protocol ? new WebSocket(url, protocol) : new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.opened.catch(() => {});
    this.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.poke();
    });
    this.ws.on('error', () => {});
  }

  onMessage(data, isBinary) {
    let frame;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      frame = { type: '(not JSON)', raw: data.toString().slice(0, 200) };
    }
    frame.receivedAt = performance.now();
    this.frames.push(frame);
    if (frame.type === 'samples') {
      this.sampleFrames++;
      for (const s of frame.samples) this.samples.push(s);
    } else if (frame.type === 'dropped') {
      this.dropped += frame.count;
    } else if (frame.type === 'pong') {
      this.pongs++;
    }
    this.poke();
  }

  poke() {
    for (const w of this.waiters) w();
  }

  // Resolves when cond() holds (checked on every frame), or rejects after ms.
  waitUntil(cond, ms, what) {
    if (cond()) return Promise.resolve();
    let wake;
    const p = new Promise((resolve, reject) => {
      wake = () => {
        if (cond()) resolve();
        else if (this.closed) reject(new Error(`connection closed (${this.closed.code}) waiting for ${what}`));
      };
      this.waiters.add(wake);
    });
    return withTimeout(p, ms, what).finally(() => this.waiters.delete(wake));
  }

  // The first frame from index `from` on that satisfies pred.
  async nextFrame(pred, ms, what, from = 0) {
    let found;
    await this.waitUntil(
      () => (found = this.frames.slice(from).find(pred)) !== undefined,
      ms,
      what || 'a frame',
    );
    return found;
  }

  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  // Sends a ping and waits for its pong: every request sent before it has
  // been handled by then (requests are handled in order).
  async roundTrip(ms = 5000) {
    const want = this.pongs + 1;
    this.send({ op: 'ping' });
    await this.waitUntil(() => this.pongs >= want, ms, 'pong');
  }

  async subscribe(filters, snapshot) {
    const msg = { op: 'subscribe', filters };
    if (snapshot !== undefined) msg.snapshot = snapshot;
    this.send(msg);
    await this.roundTrip();
  }

  close() {
    try {
      this.ws.terminate();
    } catch {
      /* already closed */
    }
  }
}

export async function openClient(url, protocol, ms = 5000) {
  const c = new LiveClient(url, protocol);
  await withTimeout(c.opened, ms, `websocket ${url}`);
  await c.nextFrame((f) => f.type === 'hello', ms, 'hello');
  return c;
}

// ---- runner ----

// Runs the cases in order (PANTAU_JS_ONLY=text: those whose name has it), prints "ok N - name" / "not ok N - name" and the
// summary line scripts/run-tests reads; exits non-zero on failure. The whole
// file is bounded by totalMs.
export async function runCases(file, cases, { totalMs = 110000, before, after } = {}) {
  let passed = 0;
  let failed = 0;
  const summary = () => console.log(`# ${file}: ${passed} passed, ${failed} failed`);
  const guard = setTimeout(() => {
    console.log(`# ${file}: gave up after ${totalMs} ms`);
    failed++;
    summary();
    killAll();
    process.exit(1);
  }, totalMs);
  let ctx;
  try {
    ctx = before ? await before() : {};
  } catch (e) {
    console.log(`not ok 1 - set-up\n  # ${String(e.stack || e).replace(/\n/g, '\n  # ')}`);
    failed++;
    clearTimeout(guard);
    summary();
    killAll();
    process.exit(1);
  }
  let n = 0;
  const only = process.env.PANTAU_JS_ONLY; // run only the cases whose name contains it
  for (const [name, fn, ms = 30000] of cases) {
    n++;
    if (only && !name.includes(only)) continue;
    const t0 = performance.now();
    try {
      await withTimeout(Promise.resolve().then(() => fn(ctx)), ms, name);
      passed++;
      console.log(`ok ${n} - ${name} (${Math.round(performance.now() - t0)} ms)`);
    } catch (e) {
      failed++;
      console.log(`not ok ${n} - ${name}\n  # ${String(e.stack || e).replace(/\n/g, '\n  # ')}`);
    }
  }
  try {
    if (after) await after(ctx);
  } catch (e) {
    console.log(`# clean-up failed: ${e.message}`);
  }
  // Every pantaud must stop cleanly: exit 0 on SIGTERM, and (under
  // SANITIZE=1) no AddressSanitizer, LeakSanitizer or UBSan report, (under
  // TSAN=1) no ThreadSanitizer report.
  n++;
  const problems = await daemonProblems();
  if (problems.length) {
    failed++;
    console.log(`not ok ${n} - pantaud stopped cleanly\n  # ${problems.join('\n  # ')}`);
  } else {
    passed++;
    console.log(`ok ${n} - pantaud stopped cleanly`);
  }
  clearTimeout(guard);
  summary();
  killAll();
  process.exit(failed ? 1 : 0);
}

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

export function assertEq(got, want, what) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
