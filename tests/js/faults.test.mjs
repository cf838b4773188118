// faults.test.mjs — pantaud under hostile or broken clients, each bounded in
// count and time: garbage on the HTTP port (malformed request lines, bad
// UTF-8, encoded path traversal, oversize heads) while normal requests keep
// being answered; 1,000 websocket connects and disconnects with flat memory;
// 2,000 half-open HTTP requests while normal requests are still answered.
import net from 'node:net';
import {
  assert,
  assertEq,
  fetchJson,
  openClient,
  runCases,
  sanitized,
  sleep,
  startStack,
  withTimeout,
} from './harness.mjs';

// True once `got` holds a whole answer: a head and the body its
// Content-Length or chunked framing says (an answer of neither kind ends at
// the close).
function answerComplete(got) {
  const end = got.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = got.slice(0, end);
  const body = got.slice(end + 4);
  const len = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (len) return body.length >= Number(len[1]);
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) return /(^|\r\n)0\r\n\r\n$/.test(body);
  return false;
}

// Writes `data` on a fresh connection and resolves with what came back
// (up to the close, the end of one whole answer on a connection kept open,
// or after ms).
function raw(port, data, ms = 3000) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const done = () => {
      clearTimeout(t);
      s.destroy();
      resolve(got);
    };
    const t = setTimeout(done, ms);
    s.on('connect', () => s.write(data));
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (answerComplete(got)) done();
    });
    s.on('error', done);
    s.on('close', done);
  });
}

async function healthy(base) {
  const r = await fetchJson(`${base}/api/v1/series`, { ms: 5000 });
  assertEq(r.status, 200, 'a normal request meanwhile');
}

await runCases(
  'faults.test.mjs',
  [
    [
      'garbage on the HTTP port: refused, and normal requests still answered',
      async ({ pantaud }) => {
        const port = pantaud.httpPort;
        const base = `http://127.0.0.1:${port}`;
        const garbage = [
          'GARBAGE\r\n\r\n',
          'GET\r\n\r\n',
          'GET / HTTP/9.9\r\n\r\n',
          '\x00\x01\x02\xff\xfe\r\n\r\n',
          'GET /\xc3\x28\xff HTTP/1.1\r\nHost: x\r\n\r\n',
          'GET /api/v1/series?program=\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n',
          'GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n',
          'GET /assets/..%2f..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: x\r\n\r\n',
          'GET /..%252f..%252fetc/passwd HTTP/1.1\r\nHost: x\r\n\r\n',
          `GET /${'a'.repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
          `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`,
          `GET / HTTP/1.1\r\n${'X-H: 1\r\n'.repeat(2000)}\r\n`,
          'POST /api/v1/ingest/p/u/m HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
          'POST /api/v1/ingest/p/u/m HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
        ];
        for (const g of garbage) {
          const answer = await raw(port, g);
          assert(!answer.includes('root:x:0:0'), `no file outside the dashboard for ${JSON.stringify(g.slice(0, 60))}`);
          assert(!/^HTTP\/1\.[01] 200/.test(answer) || !g.includes('passwd'), 'traversal is not a 200');
          await healthy(base);
        }
        assertEq(pantaud.child.exitCode, null, 'pantaud still runs');
      },
      60000,
    ],
    [
      '1,000 websocket connects and disconnects: memory stays flat',
      async ({ pantaud }) => {
        const url = pantaud.url();
        const cycle = async (n) => {
          for (let i = 0; i < n; i += 10) {
            const batch = await Promise.all(Array.from({ length: 10 }, () => openClient(url, 'pantau.v1')));
            for (const c of batch) c.ws.terminate();
          }
        };
        await cycle(200); // warm-up: allocator pools, lws's tables
        await sleep(300);
        const before = pantaud.rss();
        await cycle(1000);
        await sleep(500);
        const after = pantaud.rss();
        await healthy(`http://127.0.0.1:${pantaud.httpPort}`);
        if (!sanitized(pantaud.pid))
          assert(after - before < 8 * 1024, `RSS grew ${after - before} KiB over 1,000 connects (${before} -> ${after})`);
        else console.log(`  # sanitized: RSS ${before} -> ${after} KiB, not judged`);
      },
      90000,
    ],
    [
      '2,000 half-open HTTP requests: normal requests still answered',
      async ({ pantaud }) => {
        const port = pantaud.httpPort;
        const sockets = [];
        try {
          for (let i = 0; i < 2000; i++) {
            const s = net.connect(port, '127.0.0.1');
            s.on('error', () => {});
            s.on('connect', () => s.write('GET /api/v1/series HTTP/1.1\r\nHost: x\r\n')); // no blank line
            sockets.push(s);
            if (i % 200 === 199) await sleep(20);
          }
          await sleep(500);
          for (let i = 0; i < 5; i++) await withTimeout(healthy(`http://127.0.0.1:${port}`), 5000, 'an answer beside 2,000 half-open requests');
        } finally {
          for (const s of sockets) s.destroy();
        }
        await sleep(300);
        await healthy(`http://127.0.0.1:${port}`);
      },
      60000,
    ],
  ],
  {
    totalMs: 240000,
    before: () => startStack(),
    after: async ({ broker }) => broker.child.kill('SIGTERM'),
  },
);
