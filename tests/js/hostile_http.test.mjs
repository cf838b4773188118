// hostile_http.test.mjs — CONTRACT §10 "Connections" and "Cross-site
// requests" against a real pantaud: refused requests closed unread, heads and
// bodies that trickle closed, the per-address connection cap, authenticated
// requests answered while 600 connections trickle, the Origin check of
// cookie-authorized changes and websocket upgrades, the security headers on
// every kind of answer, and X-Forwarded-For trusted only from the proxy.
//
// Scale: 600 tricklers, and 512 open files for the fd-limited daemon (whose
// max_conns then falls to 256, under the tricklers: without its reserve they
// would take every file, so the bound on its open files still fails);
// PANTAU_HOSTILE_FULL=1: 2,000 and 1,024, the figures of CONTRACT §10 that
// make bench measures (hostile_http.bench.mjs).
//
// Needs about 2,100 open files at full scale: re-runs itself under `ulimit
// -n 8192` when the limit is lower.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { assert, assertEq, percentile, runCases, sleep, startBroker, startPantaud, until } from './harness.mjs';

const self = fileURLToPath(import.meta.url);
const openFiles = Number(spawnSync('bash', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
if (openFiles < 4500 && !process.env.PANTAU_HOSTILE_REEXEC) {
  const r = spawnSync('bash', ['-c', `ulimit -n 8192 && exec "${process.execPath}" "${self}"`], {
    stdio: 'inherit',
    env: { ...process.env, PANTAU_HOSTILE_REEXEC: '1' },
  });
  process.exit(r.status ?? 1);
}

const OPERATOR = 'operator-token-0123456789abc';
const VIEWER = 'viewer-token-0123456789abcdef';
const PROXY = '127.0.0.9';
const WINDOW = 2; // [http] min_rate_window of the quick daemon, seconds
const FULL = process.env.PANTAU_HOSTILE_FULL === '1';
const TRICKLERS = FULL ? 2000 : 600;
const NOFILE = FULL ? 1024 : 512; // the fd-limited daemon's open files limit
const SECURITY = {
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

// One request with node's client (agent-less: a connection of its own).
// local: the source address. Resolves {status, headers, text, json, ms}.
function request(port, { method = 'GET', path = '/', headers = {}, body, local, ms = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(
      { host: '127.0.0.1', port, method, path, headers, localAddress: local, agent: false, timeout: ms },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let json = null;
          try {
            json = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode, headers: res.headers, text, json, ms: performance.now() - t0 });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${ms} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

// A raw socket that records what it receives and when it is closed.
function rawSocket(port, local) {
  const sock = net.connect({ host: '127.0.0.1', port, localAddress: local });
  const s = { sock, data: '', closedAt: null, openedAt: null };
  s.opened = new Promise((resolve, reject) => {
    sock.once('connect', () => {
      s.openedAt = performance.now();
      resolve();
    });
    sock.once('error', reject);
  });
  s.opened.catch(() => {});
  sock.on('data', (d) => (s.data += d.toString('latin1')));
  sock.on('error', () => {});
  sock.on('close', () => (s.closedAt = performance.now()));
  s.closed = (ms, what) => until(() => s.closedAt !== null, ms, what, 10);
  s.write = (text) => {
    if (!sock.destroyed && sock.writable) sock.write(text);
  };
  return s;
}

// Writes `text` one byte every `every` ms until the socket closes or ms pass.
function trickle(s, text, every, ms) {
  let i = 0;
  const end = performance.now() + ms;
  const timer = setInterval(() => {
    if (s.closedAt !== null || i >= text.length || performance.now() > end) return clearInterval(timer);
    s.write(text[i++]);
  }, every);
  return timer;
}

function checkSecurityHeaders(headers, what) {
  for (const [k, v] of Object.entries(SECURITY)) assertEq(headers[k], v, `${what}: ${k}`);
}

// TRICKLERS unauthenticated connections from 127.0.0.2-127.0.0.40 (at most
// 52 each at full scale) trickling a head at 1 byte/s (a closed one comes
// back), while an authenticated client from 127.0.0.1 asks every 250 ms for
// `ms`: each answer
// must come in under 1 s. Returns how many trickle at the end (as the
// clients see it: some may wait in the kernel's accept queue) and, given
// pantaud's pid, how many files pantaud has open then.
async function underAttack(port, ms, pid) {
  const socks = new Set();
  let stop = false;
  let opened = 0;
  const head = 'GET /api/v1/programs HTTP/1.1\r\nHost: x\r\n' + 'X-Pad: ' + 'a'.repeat(4000) + '\r\n\r\n';
  const open = (i) => {
    if (stop) return;
    const s = rawSocket(port, `127.0.0.${2 + (i % 39)}`);
    socks.add(s);
    s.opened.then(() => opened++, () => {});
    s.i = 0;
    s.sock.on('close', () => {
      socks.delete(s);
      if (!stop) setTimeout(() => open(i), 200);
    });
  };
  for (let i = 0; i < TRICKLERS; i++) {
    open(i);
    if (i % 200 === 199) await sleep(20);
  }
  const tick = setInterval(() => {
    for (const s of socks) if (s.openedAt !== null && s.i < head.length) s.write(head[s.i++]);
  }, 1000);
  try {
    await until(() => opened >= TRICKLERS, 15000, `${TRICKLERS} connections made`);
    await sleep(500);
    const lat = [];
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      const r = await request(port, { path: '/api/v1/programs', headers: auth, ms: 5000 });
      assertEq(r.status, 200, 'authenticated answer');
      lat.push(r.ms);
      await sleep(250);
    }
    const live = [...socks].filter((s) => s.openedAt !== null && s.closedAt === null).length;
    const fds = pid ? fs.readdirSync(`/proc/${pid}/fd`).length : null;
    lat.sort((a, b) => a - b);
    const max = lat[lat.length - 1];
    console.log(`  # ${lat.length} requests: p50 ${percentile(lat, 50).toFixed(1)} ms, max ${max.toFixed(1)} ms; ${live} trickling at the end${fds === null ? '' : `, pantaud has ${fds} files open`}`);
    assert(max < 1000, `every answer under 1 s (max ${max.toFixed(0)} ms)`);
    return { live, fds };
  } finally {
    stop = true;
    clearInterval(tick);
    for (const s of socks) s.sock.destroy();
  }
}

async function before() {
  const broker = await startBroker();
  const common = `[auth]\noperator = ${OPERATOR}\nviewer = ${VIEWER}\n[log]\nlevel = debug\n`;
  // quick: a short window so trickle cases are short; a trusted proxy.
  const quick = await startPantaud(broker, {
    config: `[http]\nmin_rate_window = ${WINDOW}\nproxy = ${PROXY}\n${common}`,
  });
  // plain: every default (10 s window, 64 per address, no proxy).
  const plain = await startPantaud(broker, { config: common });
  return { broker, quick, plain };
}

const auth = { Authorization: `Bearer ${OPERATOR}` };

const cases = [
  [
    'a refused POST (401) is answered and closed without its body being read',
    async ({ quick }) => {
      for (const length of [100 * 1024 * 1024, 60000]) {
        const s = rawSocket(quick.httpPort);
        await s.opened;
        s.write(`POST /api/v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`);
        // Keep sending body as a client that does not listen would.
        const chunk = 'x'.repeat(16384);
        let sent = 0;
        const pump = setInterval(() => {
          if (s.closedAt === null && sent < length) {
            s.write(chunk);
            sent += chunk.length;
          }
        }, 5);
        try {
          await s.closed(1500, `close after 401 (Content-Length ${length})`);
        } finally {
          clearInterval(pump);
        }
        assert(/^HTTP\/1\.1 401/.test(s.data), `401 first: ${s.data.slice(0, 80)}`);
        assert(/"error":"unauthorized"/.test(s.data), 'the JSON error');
        assert(s.closedAt - s.openedAt < 1500, `closed ${Math.round(s.closedAt - s.openedAt)} ms after connect`);
        assert(sent < length, `the body was not read: ${sent} of ${length} bytes sent`);
      }
    },
  ],
  [
    'a refused POST (403) is closed without its body: viewer import, viewer reload, cookie without Origin',
    async ({ quick }) => {
      const heads = [
        `POST /api/v1/import.csv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${VIEWER}\r\nContent-Length: 10000000\r\n\r\n`,
        // reload reads no body as a stream: its role is checked at the head all the same
        `POST /api/v1/reload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${VIEWER}\r\nContent-Length: 60000\r\n\r\n`,
        `POST /api/v1/alerts/1/ack HTTP/1.1\r\nHost: x\r\nCookie: pantau_token=${OPERATOR}\r\nContent-Length: 60000\r\n\r\n`,
      ];
      for (const head of heads) {
        const s = rawSocket(quick.httpPort);
        await s.opened;
        s.write(head);
        await s.closed(1500, 'close after 403');
        assert(/^HTTP\/1\.1 403/.test(s.data), `403: ${s.data.slice(0, 200)}`);
      }
    },
  ],
  [
    `a trickling head and a trickling body are closed within the window (${WINDOW} s)`,
    async ({ quick }) => {
      const head = rawSocket(quick.httpPort);
      await head.opened;
      trickle(head, `GET /api/v1/programs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${OPERATOR}\r\n\r\n`, 1000, 15000);
      const body = rawSocket(quick.httpPort);
      await body.opened;
      body.write(
        `POST /api/v1/ingest/paduka/u1/m1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${OPERATOR}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 500\r\n\r\n',
      );
      const bodyStart = performance.now();
      trickle(body, '{"value":' + ' '.repeat(480) + '1}', 1000, 15000);
      const bound = WINDOW * 1000 + 1500;
      await head.closed(bound + 2000, 'the trickling head closed');
      await body.closed(bound + 2000, 'the trickling body closed');
      const headMs = head.closedAt - head.openedAt;
      const bodyMs = body.closedAt - bodyStart;
      console.log(`  # closed after: head ${Math.round(headMs)} ms, body ${Math.round(bodyMs)} ms (window ${WINDOW} s)`);
      assert(headMs < bound && bodyMs < bound, `closed within ${bound} ms`);
      assert(headMs > WINDOW * 1000 - 600 && bodyMs > WINDOW * 1000 - 600, 'not before the window');
      assertEq(head.data, '', 'no answer to the unfinished head');
      // A body at the rate is not closed: 1 KiB per second takes 3 windows.
      const fast = rawSocket(quick.httpPort);
      await fast.opened;
      const n = 3 * 1024;
      fast.write(
        `POST /api/v1/ingest/paduka/u1/m1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${OPERATOR}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${n + 11}\r\n\r\n{"value":1`,
      );
      for (let i = 0; i < 6; i++) {
        fast.write(' '.repeat(512));
        await sleep(500);
      }
      fast.write('}');
      await until(() => /^HTTP\/1\.1 \d+/.test(fast.data), 3000, 'an answer to the body at the rate');
      assert(!/^HTTP\/1\.1 (408|5)/.test(fast.data), `answered: ${fast.data.slice(0, 60)}`);
      fast.sock.destroy();
    },
  ],
  [
    'by default (10 s) a body trickling 1 byte/s is closed within 10-12 s',
    async ({ plain }) => {
      const s = rawSocket(plain.httpPort);
      await s.opened;
      s.write(
        `POST /api/v1/ingest/paduka/u1/m1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${OPERATOR}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 500\r\n\r\n',
      );
      const t0 = performance.now();
      trickle(s, '{"value":' + ' '.repeat(480) + '1}', 1000, 20000);
      await s.closed(16000, 'the trickling body closed');
      const ms = s.closedAt - t0;
      console.log(`  # closed after ${Math.round(ms)} ms`);
      assert(ms > 9400 && ms < 12000, `closed after ${Math.round(ms)} ms`);
    },
    25000,
  ],
  [
    '65 connections from 127.0.0.2: the 65th closed at once; 127.0.0.1 and the proxy exempt',
    async ({ plain, quick }) => {
      const opened = [];
      try {
        for (let i = 0; i < 64; i++) opened.push(rawSocket(plain.httpPort, '127.0.0.2'));
        await Promise.all(opened.map((s) => s.opened));
        const other = rawSocket(plain.httpPort, '127.0.0.3'); // its own count
        const extra = rawSocket(plain.httpPort, '127.0.0.2');
        opened.push(other, extra);
        await extra.closed(1000, 'the 65th connection closed at once');
        assertEq(extra.data, '', 'closed without an answer');
        await sleep(200);
        assertEq(opened.slice(0, 64).filter((s) => s.closedAt !== null).length, 0, 'the first 64 still open');
        assertEq(other.closedAt, null, '127.0.0.3 is counted apart');
        // The 64 going away frees the address.
        for (const s of opened) s.sock.destroy();
        await until(async () => (await request(plain.httpPort, { path: '/healthz', local: '127.0.0.2' }).catch(() => null)) !== null, 3000, '127.0.0.2 served again');
        // Exempt: 127.0.0.1 (on plain) and the proxy (on quick).
        for (const [port, local] of [
          [plain.httpPort, '127.0.0.1'],
          [quick.httpPort, PROXY],
        ]) {
          const many = [];
          for (let i = 0; i < 70; i++) many.push(rawSocket(port, local));
          opened.push(...many);
          await Promise.all(many.map((s) => s.opened));
          await sleep(300);
          assertEq(many.filter((s) => s.closedAt !== null).length, 0, `${local}: 70 connections open`);
          const r = await request(port, { path: '/healthz', local });
          assert(r.status === 200 || r.status === 503, `${local}: a 71st is answered (${r.status})`);
          for (const s of many) s.sock.destroy();
        }
      } finally {
        for (const s of opened) s.sock.destroy();
      }
    },
  ],
  [
    `authenticated requests answered in under 1 s while ${TRICKLERS} connections trickle`,
    async ({ plain }) => {
      const { live } = await underAttack(plain.httpPort, 12000);
      assert(live >= TRICKLERS * 0.8, `the attack holds (${live} open)`);
    },
    60000,
  ],
  [
    `... and at an open files limit of ${NOFILE}, which ${TRICKLERS} connections would exhaust`,
    async ({ broker }) => {
      const limited = await startPantaud(broker, {
        config: `[auth]\noperator = ${OPERATOR}\n`,
        nofile: NOFILE,
      });
      try {
        // A turn of the 10 s window is not needed here: the limit is met at once.
        const { fds } = await underAttack(limited.httpPort, 6000, limited.pid);
        // max_conns is lowered to leave 256 files free for the rest.
        assert(fds <= NOFILE - 128, `pantaud keeps files in reserve (${fds} open of ${NOFILE})`);
      } finally {
        await limited.stop();
      }
    },
    60000,
  ],
  [
    'cross-site: cookie changes need our Origin; bearer and query tokens do not',
    async ({ quick }) => {
      const port = quick.httpPort;
      const cookie = { Cookie: `pantau_token=${OPERATOR}` };
      const ours = `http://127.0.0.1:${port}`;
      const foreign = `http://127.0.0.1:${port + 1}`;
      const matrix = [
        // [method, path, headers, want status, want bad_origin]
        ['POST', '/api/v1/alerts/999999/ack', { ...cookie }, 403, true],
        ['POST', '/api/v1/alerts/999999/ack', { ...cookie, Origin: foreign }, 403, true],
        ['POST', '/api/v1/alerts/999999/ack', { ...cookie, Origin: 'null' }, 403, true],
        ['POST', '/api/v1/alerts/999999/ack', { ...cookie, Origin: ours }, 404, false],
        ['POST', '/api/v1/alerts/999999/ack', { ...cookie, Origin: `https://localhost:${port}`, Host: `LocalHost:${port}` }, 404, false],
        ['POST', '/api/v1/alerts/999999/ack', { ...auth, Origin: foreign }, 404, false],
        ['POST', `/api/v1/alerts/999999/ack?access_token=${OPERATOR}`, { Origin: foreign }, 404, false],
        ['DELETE', '/api/v1/alerts/999999', { ...cookie }, 403, true],
        ['DELETE', '/api/v1/alerts/999999', { ...cookie, Origin: foreign }, 403, true],
        ['DELETE', '/api/v1/alerts/999999', { ...cookie, Origin: ours }, null, false],
        ['POST', '/api/v1/reload', { ...cookie, Origin: foreign }, 403, true],
        ['POST', '/api/v1/ingest/p/u/m', { ...cookie, Origin: foreign, 'Content-Type': 'application/json' }, 403, true],
        ['POST', '/api/v1/import.csv', { ...cookie, Origin: foreign, 'Content-Type': 'text/csv' }, 403, true],
        ['GET', '/api/v1/programs', { ...cookie, Origin: foreign }, 200, false],
      ];
      for (const [method, path, headers, want, badOrigin] of matrix) {
        const r = await request(port, { method, path, headers, body: method === 'POST' ? '{}' : undefined });
        const what = `${method} ${path} ${JSON.stringify(headers)} -> ${r.status} ${r.text.slice(0, 80)}`;
        if (want !== null) assertEq(r.status, want, what);
        assertEq(r.json?.error === 'bad_origin', badOrigin, `bad_origin: ${what}`);
      }
    },
  ],
  [
    'cross-site: a websocket opened by cookie with a foreign Origin gets 403, ours 101',
    async ({ quick }) => {
      const port = quick.httpPort;
      const open = (origin) =>
        new Promise((resolve) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/live`, {
            headers: { Cookie: `pantau_token=${OPERATOR}` },
            origin,
          });
          ws.once('open', () => {
            ws.terminate();
            resolve({ status: 101 });
          });
          ws.once('unexpected-response', (req, res) => {
            resolve({ status: res.statusCode, headers: res.headers });
            req.destroy();
          });
          ws.once('error', (e) => resolve({ status: 0, error: e.message }));
        });
      const bad = await open(`http://127.0.0.1:${port + 1}`);
      assertEq(bad.status, 403, 'foreign Origin');
      checkSecurityHeaders(bad.headers, 'refused upgrade (403)');
      assertEq((await open(`http://127.0.0.1:${port}`)).status, 101, 'our Origin');
      assertEq((await open(`http://localhost:${port}`)).status, 403, 'another host name is another site');
    },
  ],
  [
    'every kind of answer carries the security headers',
    async ({ quick }) => {
      const port = quick.httpPort;
      const answers = [
        ['api 200', { path: '/api/v1/programs', headers: auth }],
        ['api 404', { path: '/api/v1/nothing', headers: auth }],
        ['401', { path: '/api/v1/programs' }],
        ['403', { method: 'POST', path: '/api/v1/reload', headers: auth, body: '' }],
        ['healthz', { path: '/healthz' }],
        ['metrics', { path: '/metrics', headers: auth }],
        ['page', { path: '/', headers: auth }],
        ['HEAD page', { method: 'HEAD', path: '/', headers: auth }],
        ['missing file', { path: '/no-such-file.js', headers: auth }],
        ['413', { method: 'POST', path: '/api/v1/reload', headers: { ...auth, 'Content-Length': 10000000 } }],
      ];
      for (const [what, opts] of answers) {
        const r = await request(port, opts).catch((e) => ({ error: e }));
        if (r.error) throw new Error(`${what}: ${r.error.message}`);
        checkSecurityHeaders(r.headers, `${what} (${r.status})`);
      }
      // A refused upgrade (401).
      const refused = await new Promise((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/live`);
        ws.once('unexpected-response', (req, res) => {
          resolve(res);
          req.destroy();
        });
        ws.once('open', () => resolve(null));
        ws.once('error', () => {});
      });
      assert(refused && refused.statusCode === 401, 'upgrade without a token refused');
      checkSecurityHeaders(refused.headers, 'refused upgrade (401)');
    },
  ],
  [
    'X-Forwarded-For is trusted only from the proxy; the cookie is Secure behind one',
    async ({ quick, plain }) => {
      const port = quick.httpPort;
      const via = await request(port, {
        path: '/api/v1/probe-xff-proxy',
        headers: { ...auth, 'X-Forwarded-For': `198.51.100.7, ${PROXY}` },
        local: PROXY,
      });
      assertEq(via.status, 404, 'answered');
      const direct = await request(port, {
        path: '/api/v1/probe-xff-direct',
        headers: { ...auth, 'X-Forwarded-For': '203.0.113.5' },
        local: '127.0.0.2',
      });
      assertEq(direct.status, 404, 'answered');
      await until(() => /probe-xff-direct/.test(quick.readLog()), 3000, 'the request lines in the log');
      const log = quick.readLog();
      assert(/http: 198\.51\.100\.7 GET \/api\/v1\/probe-xff-proxy -> 404/.test(log), 'the proxied client is logged');
      assert(/http: 127\.0\.0\.2 GET \/api\/v1\/probe-xff-direct -> 404/.test(log), 'a direct client is its peer');
      assert(!/203\.0\.113\.5/.test(log), 'a direct X-Forwarded-For is ignored');
      const page = await request(port, { path: `/?access_token=${VIEWER}` });
      if (page.status === 404) {
        console.log('  # cookie part skipped: no dashboard beside this pantaud (make dashboard)');
        return;
      }
      const secure = String(page.headers['set-cookie'] || '');
      assert(/pantau_token=.*HttpOnly/.test(secure) && /;\s*Secure/.test(secure), `Secure behind a proxy: ${secure}`);
      const plainPage = await request(plain.httpPort, { path: `/?access_token=${VIEWER}` });
      const cookie = String(plainPage.headers['set-cookie'] || '');
      assert(/pantau_token=/.test(cookie) && !/Secure/.test(cookie), `not Secure without a proxy: ${cookie}`);
    },
  ],
  [
    'a non-loopback listen without tokens is warned about at start',
    async ({ broker, quick }) => {
      const log = fs.readFileSync(quick.log, 'utf8');
      assert(!/reachable beyond this machine/.test(log), 'no warning with tokens on loopback');
      const open = await startPantaud(broker, {
        config: '[http]\nopen = yes\n',
        args: ['--listen', `0.0.0.0:${quick.httpPort + 2}`],
        httpPort: quick.httpPort + 2,
      }).catch((e) => ({ error: e }));
      if (open.error) {
        console.log(`  # skipped: ${open.error.message.split('\n')[0]}`);
        return;
      }
      assert(/warn.*reachable beyond this machine.*no \[auth\] tokens/.test(open.readLog()), 'the warning');
      await open.stop();
    },
  ],
];

runCases('hostile_http.test.mjs', cases, { totalMs: 240000, before });
