// people.test.mjs — CONTRACT §8's accounts, sessions, program scope and
// audit log end to end: real mosquitto, real pantaud, real SQLite files.
// Accounts are made with `pantaud user ...` before the daemon starts and
// while it runs; officials sign in (cookie flags, the same 401 for an
// unknown user and a wrong password, in about the same time, lockout after
// 5 failures), their sessions authorize the API and the websocket and end
// at once when the account goes (command line or API) or after the idle
// time; a user limited to a program enters data, imports rows and
// acknowledges alerts only there, and acked_by names the user; every action
// is in the audit log, whose chain this test recomputes with node's crypto
// and whose tampering /audit/verify reports; 20 concurrent sign-ins do not
// delay the live push (hashing is off the loop).
import crypto from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import WebSocket from 'ws';
import {
  PANTAUD,
  assert,
  assertEq,
  mqttPublisher,
  runCases,
  sleep,
  startBroker,
  startPantaud,
  tmpdir,
  until,
  withTimeout,
} from './harness.mjs';

const FILE = 'people.test.mjs';
const VIEWER_TOKEN = 'layar-dinding-0123456789';
const PW = {
  budi: 'rahasia-admin-001',
  ani: 'rahasia-operator-002',
  citra: 'rahasia-citra-003',
  dedi: 'rahasia-dedi-004',
  eko: 'rahasia-eko-005',
};

const CATALOG = [
  '[regency]', 'id = uji', 'name = Kabupaten Uji',
  '[program p1]', 'name = P1', 'dimension = living',
  '[program p2]', 'name = P2', 'dimension = economy',
  '[rule r1]', 'program = p1', 'metric = m', 'above = 10',
  '[rule r2]', 'program = p2', 'metric = m', 'above = 10',
  '',
].join('\n');

// pantaud --db DB user ARGS with `input` on standard input.
function cli(db, args, input = '') {
  const r = spawnSync(PANTAUD, ['--db', db, 'user', ...args], { input, encoding: 'utf8', timeout: 20000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// One HTTP request with full control of its headers (Cookie, Origin):
// {status, headers, json, text}.
function request(ctx, p, { method = 'GET', cookie, token, body, ms = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const headers = {};
    if (cookie) {
      headers.cookie = cookie;
      headers.origin = `http://127.0.0.1:${ctx.port}`; // CONTRACT §10: cookie changes need it
    }
    if (token) headers.authorization = `Bearer ${token}`;
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    if (data !== undefined) headers['content-length'] = Buffer.byteLength(data);
    const req = http.request({ host: '127.0.0.1', port: ctx.port, path: p, method, headers, timeout: ms }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let json = null;
        try {
          json = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode, headers: res.headers, json, text });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${p}: timed out`)));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

async function login(ctx, user, password = PW[user]) {
  const r = await request(ctx, '/api/v1/login', { method: 'POST', body: { user, password } });
  const set = r.headers['set-cookie']?.[0] || '';
  return { ...r, setCookie: set, cookie: set.split(';')[0] };
}

async function signedIn(ctx, user) {
  const r = await login(ctx, user);
  assertEq(r.status, 200, `${user} signs in: ${r.text}`);
  return r.cookie;
}

const adminCookie = async (ctx) => ctx.admin || (ctx.admin = await signedIn(ctx, 'budi'));

async function auditEvents(ctx, query = '') {
  const r = await request(ctx, `/api/v1/audit?from=0${query}`, { cookie: await adminCookie(ctx) });
  assertEq(r.status, 200, `GET /audit: ${r.text}`);
  return r.json.events;
}

// A websocket with a Cookie header; resolves once open, rejects on refusal.
function openWs(ctx, cookie) {
  const ws = new WebSocket(`ws://127.0.0.1:${ctx.port}/api/v1/live`, {
    headers: cookie ? { cookie, origin: `http://127.0.0.1:${ctx.port}` } : {},
  });
  ws.samples = [];
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString());
    if (f.type === 'samples') for (const s of f.samples) ws.samples.push({ ...s, at: Date.now() });
  });
  ws.on('error', () => {});
  return withTimeout(
    new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    }),
    5000,
    'websocket',
  );
}

const cases = [
  [
    'the command line adds, lists, changes and deletes accounts while pantaud runs; errors are clear',
    async (ctx) => {
      let r = cli(ctx.db, ['add', 'ani', '--role', 'operator', '--programs', 'p1'], `${PW.ani}\n`);
      assertEq(r.code, 0, `user add ani: ${r.err}`);
      r = cli(ctx.db, ['add', 'dedi', '--role', 'viewer'], `${PW.dedi}\n`);
      assertEq(r.code, 0, `user add dedi: ${r.err}`);
      r = cli(ctx.db, ['list']);
      assertEq(r.code, 0, 'user list');
      assertEq(r.out, 'ani operator p1\nbudi admin -\ndedi viewer -\n', 'user list lines');
      assert(!/argon2|\$/.test(r.out), 'no hash in the list');
      r = cli(ctx.db, ['add', 'x1', '--role', 'viewer'], 'pendek\n');
      assertEq(r.code, 3, 'a short password exits 3');
      assert(r.err.includes('weak_password'), `weak_password said: ${r.err}`);
      r = cli(ctx.db, ['add', 'ani', '--role', 'viewer'], `${PW.ani}\n`);
      assertEq(r.code, 4, 'a taken name exits 4');
      assert(r.err.includes('exists'), `exists said: ${r.err}`);
      r = cli(ctx.db, ['passwd', 'nobody'], `${PW.ani}\n`);
      assertEq(r.code, 5, 'passwd of an unknown user exits 5');
      r = cli(ctx.db, ['del', 'nobody']);
      assertEq(r.code, 5, 'del of an unknown user exits 5');
      r = cli(ctx.db, ['add', 'Bad Name', '--role', 'viewer'], `${PW.ani}\n`);
      assertEq(r.code, 2, 'a bad name exits 2');
      r = cli(ctx.db, ['add', 'x2', '--role', 'root'], `${PW.ani}\n`);
      assertEq(r.code, 2, 'a bad role exits 2');
      r = cli(ctx.db, ['add', 'x3', '--role', 'viewer', '--programs', 'p1,p1'], `${PW.ani}\n`);
      assertEq(r.code, 2, 'a bad program list exits 2');
      // passwd: the old password stops working, the new one works.
      r = cli(ctx.db, ['passwd', 'dedi'], 'dedi-baru-12345\n');
      assertEq(r.code, 0, `passwd: ${r.err}`);
      assertEq((await login(ctx, 'dedi')).status, 401, 'the old password');
      assertEq((await login(ctx, 'dedi', 'dedi-baru-12345')).status, 200, 'the new password');
      r = cli(ctx.db, ['passwd', 'dedi'], `${PW.dedi}\n`);
      assertEq(r.code, 0, 'passwd back');
    },
  ],
  [
    'sign-in: 200 with USER and an HttpOnly SameSite=Strict session cookie; /me; logout ends that session only',
    async (ctx) => {
      const r = await login(ctx, 'ani');
      assertEq(r.status, 200, `login: ${r.text}`);
      assertEq(r.json, { user: { name: 'ani', role: 'operator', programs: ['p1'] } }, 'login answer');
      assert(/^pantau_session=[0-9a-f]{64}; /.test(r.setCookie), `cookie: ${r.setCookie}`);
      for (const flag of ['HttpOnly', 'SameSite=Strict', 'Path=/'])
        assert(r.setCookie.split('; ').includes(flag), `cookie has ${flag}: ${r.setCookie}`);
      assert(!r.setCookie.includes('Secure'), 'no Secure without [http] secure_cookies');
      assert(!r.text.includes(PW.ani) && !/argon2/.test(r.text), 'no password or hash in the answer');
      const other = await signedIn(ctx, 'ani');
      let me = await request(ctx, '/api/v1/me', { cookie: r.cookie });
      assertEq(me.json, { user: { name: 'ani', role: 'operator', programs: ['p1'] } }, '/me');
      me = await request(ctx, '/api/v1/me', { token: VIEWER_TOKEN });
      assertEq(me.json, { user: null, role: 'viewer' }, '/me for a token');
      const out = await request(ctx, '/api/v1/logout', { method: 'POST', cookie: r.cookie });
      assertEq(out.status, 200, 'logout');
      assertEq((await request(ctx, '/api/v1/me', { cookie: r.cookie })).status, 401, 'that session is over');
      assertEq((await request(ctx, '/api/v1/me', { cookie: other })).status, 200, 'the other session stays');
      assertEq((await request(ctx, '/api/v1/me')).status, 401, 'no credential: 401');
      const forged = `pantau_session=${'ab'.repeat(32)}`;
      assertEq((await request(ctx, '/api/v1/me', { cookie: forged })).status, 401, 'a forged session: 401');
      assertEq((await request(ctx, '/api/v1/series', { token: VIEWER_TOKEN })).status, 200, 'tokens still work');
    },
  ],
  [
    'a wrong password and an unknown user get the same 401 bad_credentials in about the same time',
    async (ctx) => {
      const wrong = [];
      const unknown = [];
      for (let i = 0; i < 3; i++) {
        let t0 = performance.now();
        const a = await login(ctx, 'dedi', 'salah-sekali-123');
        wrong.push(performance.now() - t0);
        t0 = performance.now();
        const b = await login(ctx, 'tidak-ada', 'salah-sekali-123');
        unknown.push(performance.now() - t0);
        assertEq(a.status, 401, 'wrong password');
        assertEq(b.status, 401, 'unknown user');
        assertEq(a.json.error, 'bad_credentials', 'wrong password code');
        assertEq(JSON.stringify(a.json), JSON.stringify(b.json), 'the same body');
        assert(!a.setCookie && !b.setCookie, 'no cookie');
      }
      const med = (v) => v.sort((x, y) => x - y)[1];
      const ratio = med(wrong) / med(unknown);
      console.log(`  # median sign-in: wrong password ${med(wrong).toFixed(1)} ms, unknown user ${med(unknown).toFixed(1)} ms`);
      assert(med(wrong) > 5 && med(unknown) > 5, 'both pay for a hash (a memory-hard hash takes ms)');
      assert(ratio > 1 / 3 && ratio < 3, `times within a factor of 3 (ratio ${ratio.toFixed(2)})`);
      assertEq((await login(ctx, 'dedi')).status, 200, 'the right password still works');
      const bad = await request(ctx, '/api/v1/login', { method: 'POST', body: 'not json' });
      assertEq(bad.status, 400, 'a body that is not JSON: 400');
      const long = await login(ctx, 'x'.repeat(5000), 'y'.repeat(3000));
      assertEq(long.status, 401, 'a long name and password: 401');
      const binary = await login(ctx, 'a\u0001\u001f\uFFFDb\u00fc', 'p\u0007w-long-enough');
      assertEq(binary.status, 401, 'a name of control characters: 401');
      const nul = await login(ctx, 'a\u0000b', 'p\u0000w-long-enough');
      assertEq([nul.status, nul.json.error], [400, 'bad_json'], 'a NUL in a JSON string: 400 bad_json');
    },
  ],
  [
    'five failures within 5 minutes lock a name: 429 too_many_attempts even with the right password',
    async (ctx) => {
      const add = await request(ctx, '/api/v1/users', {
        method: 'POST',
        cookie: await adminCookie(ctx),
        body: { name: 'citra', role: 'viewer', password: PW.citra, programs: null },
      });
      assertEq(add.status, 201, `POST /users: ${add.text}`);
      assertEq(add.json, { user: { name: 'citra', role: 'viewer', programs: null } }, 'USER');
      for (let i = 0; i < 5; i++) assertEq((await login(ctx, 'citra', 'salah-salah-salah')).status, 401, `failure ${i + 1}`);
      const locked = await login(ctx, 'citra');
      assertEq(locked.status, 429, 'the right password after 5 failures');
      assertEq(locked.json.error, 'too_many_attempts', 'code');
      assertEq((await login(ctx, 'dedi')).status, 200, 'another name is not locked');
    },
  ],
  [
    '/api/v1/users: admin only; 400 weak_password and bad fields, 409 exists, GET lists, DELETE 404 unknown',
    async (ctx) => {
      const admin = await adminCookie(ctx);
      const post = (body, cookie = admin) => request(ctx, '/api/v1/users', { method: 'POST', cookie, body });
      let r = await post({ name: 'fajar', role: 'viewer', password: 'pendek', programs: null });
      assertEq([r.status, r.json.error], [400, 'weak_password'], 'weak password');
      r = await post({ name: 'citra', role: 'viewer', password: PW.citra, programs: null });
      assertEq([r.status, r.json.error], [409, 'exists'], 'taken name');
      for (const body of [
        { name: 'Bad Name', role: 'viewer', password: PW.citra },
        { name: 'fajar', role: 'root', password: PW.citra },
        { name: 'fajar', role: 'viewer', password: PW.citra, programs: ['p1', 'p1'] },
        { name: 'fajar', role: 'viewer', password: PW.citra, programs: 'p1' },
        { name: 'fajar', role: 'viewer', password: PW.citra, programs: ['tidak-ada'] },
      ]) {
        r = await post(body);
        assertEq(r.status, 400, `bad ${JSON.stringify(body)}: ${r.text}`);
      }
      const ani = await signedIn(ctx, 'ani');
      r = await post({ name: 'fajar', role: 'viewer', password: PW.citra }, ani);
      assertEq(r.status, 403, 'an operator may not add users');
      assertEq((await request(ctx, '/api/v1/users', { cookie: ani })).status, 403, 'nor list them');
      r = await request(ctx, '/api/v1/users', { cookie: admin });
      assertEq(r.json.users.map((u) => u.name), ['ani', 'budi', 'citra', 'dedi'], 'GET /users');
      assertEq(r.json.users[0], { name: 'ani', role: 'operator', programs: ['p1'] }, 'a USER');
      assert(!/argon2|password|hash/.test(r.text), 'no secret in the list');
      r = await request(ctx, '/api/v1/users/tidak-ada', { method: 'DELETE', cookie: admin });
      assertEq(r.status, 404, 'DELETE unknown');
    },
  ],
  [
    "a deleted user's sessions end at once (command line and API), and so do a changed password's",
    async (ctx) => {
      const dedi = await signedIn(ctx, 'dedi');
      assertEq((await request(ctx, '/api/v1/me', { cookie: dedi })).status, 200, 'dedi is in');
      let r = cli(ctx.db, ['del', 'dedi']);
      assertEq(r.code, 0, `user del: ${r.err}`);
      assertEq((await request(ctx, '/api/v1/me', { cookie: dedi })).status, 401, 'deleted on the command line: out at once');
      r = cli(ctx.db, ['add', 'dedi', '--role', 'viewer'], `${PW.dedi}\n`);
      assertEq(r.code, 0, 're-add dedi');
      assertEq((await request(ctx, '/api/v1/me', { cookie: dedi })).status, 401, 'a new account of that name does not revive it');

      const add = await request(ctx, '/api/v1/users', {
        method: 'POST',
        cookie: await adminCookie(ctx),
        body: { name: 'eko', role: 'operator', password: PW.eko, programs: ['p2'] },
      });
      assertEq(add.status, 201, 'add eko');
      const eko = await signedIn(ctx, 'eko');
      const ws = await openWs(ctx, eko);
      r = await request(ctx, '/api/v1/users/eko', { method: 'DELETE', cookie: await adminCookie(ctx) });
      assertEq(r.status, 200, `DELETE /users/eko: ${r.text}`);
      assertEq((await request(ctx, '/api/v1/me', { cookie: eko })).status, 401, 'deleted by the API: out at once');
      await withTimeout(openWs(ctx, eko).then(() => assert(false, 'upgrade refused')), 5000, 'ws refused').catch((e) =>
        assert(/401/.test(e.message), `a deleted user's websocket upgrade: ${e.message}`),
      );
      ws.terminate();

      const again = await signedIn(ctx, 'dedi');
      assertEq(cli(ctx.db, ['passwd', 'dedi'], `${PW.dedi}\n`).code, 0, 'passwd');
      assertEq((await request(ctx, '/api/v1/me', { cookie: again })).status, 401, 'a new password ends sessions');
    },
  ],
  [
    'a session authorizes the API by its role and the websocket, which receives live samples',
    async (ctx) => {
      const dedi = await signedIn(ctx, 'dedi');
      assertEq((await request(ctx, '/api/v1/series', { cookie: dedi })).status, 200, 'viewer reads');
      const r = await request(ctx, '/api/v1/ingest/p1/u1/m', { method: 'POST', cookie: dedi, body: '1' });
      assertEq(r.status, 403, 'a viewer may not enter data');
      await withTimeout(openWs(ctx, null).then(() => assert(false, 'refused')), 5000, 'ws').catch((e) =>
        assert(/401/.test(e.message), `no credential: ${e.message}`),
      );
      const ws = await openWs(ctx, dedi);
      await ctx.pub.publish('pantau/p1/ws-unit/m', JSON.stringify({ value: 3, ts: Date.now() }));
      await until(() => ws.samples.some((s) => s.unit === 'ws-unit'), 5000, 'the sample on the websocket');
      ws.terminate();
    },
  ],
  [
    'program scope: 403 forbidden_program for data entry and acks of other programs; import rows rejected; acked_by is the user',
    async (ctx) => {
      const ani = await signedIn(ctx, 'ani'); // operator, programs p1
      let r = await request(ctx, '/api/v1/ingest/p1/kantor/m', { method: 'POST', cookie: ani, body: '4' });
      assertEq([r.status, r.json.stored], [200, 1], `ingest p1: ${r.text}`);
      r = await request(ctx, '/api/v1/ingest/p2/kantor/m', { method: 'POST', cookie: ani, body: '4' });
      assertEq([r.status, r.json.error], [403, 'forbidden_program'], `ingest p2: ${r.text}`);
      const now = Date.now();
      const csv = `ts,program,unit,metric,labels,value\n${now},p1,imp,m,,1\n${now},p2,imp,m,,2\n${now + 1},p1,imp,m,,3\n`;
      r = await request(ctx, '/api/v1/import.csv', { method: 'POST', cookie: ani, body: csv });
      assertEq(r.status, 200, `import: ${r.text}`);
      assertEq([r.json.stored, r.json.rejected_count], [2, 1], 'stored and rejected');
      assertEq(r.json.rejected, [{ line: 3, reason: 'forbidden_program' }], 'the p2 row');

      // An alert in each program (value 50 > 10).
      await ctx.pub.publish('pantau/p1/pasar/m', JSON.stringify({ value: 50, ts: Date.now() }));
      await ctx.pub.publish('pantau/p2/pasar/m', JSON.stringify({ value: 50, ts: Date.now() }));
      let alerts;
      await until(async () => {
        alerts = (await request(ctx, '/api/v1/alerts', { token: VIEWER_TOKEN })).json.alerts;
        return alerts.length >= 2;
      }, 10000, 'two firing alerts');
      const a1 = alerts.find((a) => a.program === 'p1');
      const a2 = alerts.find((a) => a.program === 'p2');
      r = await request(ctx, `/api/v1/alerts/${a2.id}/ack`, { method: 'POST', cookie: ani, body: '{}' });
      assertEq([r.status, r.json.error], [403, 'forbidden_program'], `ack p2: ${r.text}`);
      r = await request(ctx, `/api/v1/alerts/${a1.id}/ack`, { method: 'POST', cookie: ani, body: { note: 'dicek "lapangan"\n' } });
      assertEq(r.status, 200, `ack p1: ${r.text}`);
      assertEq(r.json.alert.acked_by, 'ani', 'acked_by is the user name');
      r = await request(ctx, `/api/v1/alerts/${a2.id}/ack`, { method: 'POST', cookie: await adminCookie(ctx), body: '{}' });
      assertEq(r.json.alert.acked_by, 'budi', 'an unlimited admin acks p2');
      ctx.ackedId = a1.id;
    },
  ],
  [
    'idle sessions end after [http] session_idle; use keeps one alive',
    async (ctx) => {
      const pd = await startPantaud(ctx.broker, {
        db: path.join(tmpdir(), 'people-idle.db'),
        config: '[http]\nsession_idle = 2\n',
      });
      const c = { port: pd.httpPort };
      assertEq(cli(pd.db, ['add', 'gita', '--role', 'viewer'], 'rahasia-gita-006\n').code, 0, 'add gita');
      const idle = await login(c, 'gita', 'rahasia-gita-006');
      const kept = await login(c, 'gita', 'rahasia-gita-006');
      assertEq([idle.status, kept.status], [200, 200], 'gita signs in twice');
      for (let i = 0; i < 6; i++) {
        await sleep(500);
        assertEq((await request(c, '/api/v1/me', { cookie: kept.cookie })).status, 200, `kept alive at ${i}`);
      }
      assertEq((await request(c, '/api/v1/me', { cookie: idle.cookie })).status, 401, 'idle 3 s > 2 s: ended');
      await pd.stop();
    },
  ],
  [
    '20 concurrent sign-ins do not delay the live push (hashing runs off the loop)',
    async (ctx) => {
      const ws = await openWs(ctx, await signedIn(ctx, 'dedi'));
      const delays = [];
      let sending = true;
      const sender = (async () => {
        for (let i = 0; sending && i < 2000; i++) {
          await ctx.pub.publish('pantau/p1/burst/m', JSON.stringify({ value: i % 5, ts: Date.now() }));
          await sleep(10);
        }
      })();
      await sleep(1000);
      const base = ws.samples.filter((s) => s.unit === 'burst').map((s) => s.at - s.ts).sort((a, b) => a - b);
      const from = ws.samples.length;
      const t0 = performance.now();
      let results;
      let took;
      try {
        results = await Promise.all(Array.from({ length: 20 }, () => login(ctx, 'dedi')));
        took = performance.now() - t0;
        await sleep(200);
      } finally {
        sending = false; // also when a sign-in failed: no publish after the broker goes
        await sender;
      }
      for (const s of ws.samples.slice(from)) if (s.unit === 'burst') delays.push(s.at - s.ts);
      ws.terminate();
      assert(results.every((r) => r.status === 200), `every sign-in succeeds: ${results.map((r) => r.status)}`);
      delays.sort((a, b) => a - b);
      const max = delays[delays.length - 1];
      const p99 = delays[Math.floor(delays.length * 0.99)];
      console.log(`  # 20 sign-ins took ${took.toFixed(0)} ms; live delay over ${delays.length} samples: p99 ${p99} ms, max ${max} ms (before: max ${base[base.length - 1]} ms over ${base.length})`);
      assert(delays.length >= 10, 'samples arrived during the burst');
      // On the loop, 20 Argon2id hashes would hold it for the whole burst.
      assert(max < Math.max(250, took / 2), `max live delay ${max} ms during ${took.toFixed(0)} ms of sign-ins`);
    },
    60000,
  ],
  [
    'the audit log has every action, its chain recomputes with node crypto, /audit/verify says ok',
    async (ctx) => {
      const admin = await adminCookie(ctx);
      assertEq((await request(ctx, '/api/v1/reload', { method: 'POST', cookie: admin })).status, 200, 'reload');
      const events = await auditEvents(ctx);
      const has = (pred, what) => assert(events.some(pred), `an event for ${what}`);
      has((e) => e.action === 'user_add' && e.target === 'budi' && e.user === null && e.ip === null, 'user_add from the command line');
      has((e) => e.action === 'user_add' && e.target === 'citra' && e.user === 'budi' && e.ip === '127.0.0.1', 'user_add by the API');
      has((e) => e.action === 'user_del' && e.target === 'dedi' && e.user === null, 'user_del from the command line');
      has((e) => e.action === 'user_del' && e.target === 'eko' && e.user === 'budi', 'user_del by the API');
      has((e) => e.action === 'user_passwd' && e.target === 'dedi', 'user_passwd');
      has((e) => e.action === 'login' && e.user === 'ani' && e.role === 'operator' && e.target === 'ani', 'login');
      has((e) => e.action === 'login_failed' && e.target === 'tidak-ada' && e.user === null, 'login_failed of an unknown name');
      has((e) => e.action === 'logout' && e.user === 'ani', 'logout');
      has((e) => e.action === 'ingest' && e.target === 'p1/kantor/m' && e.user === 'ani' && e.detail.stored === 1, 'ingest');
      has((e) => e.action === 'import' && e.user === 'ani' && e.detail.stored === 2 && e.detail.rejected === 1, 'import');
      has((e) => e.action === 'ack' && e.target === String(ctx.ackedId) && e.user === 'ani', 'ack');
      has((e) => e.action === 'reload' && e.user === 'budi', 'reload');
      assert(!JSON.stringify(events).includes('rahasia'), 'no password in the log');
      // newest first, ids one apart
      for (let i = 1; i < events.length; i++) assertEq(events[i - 1].id, events[i].id + 1, 'ids grow by one');
      // recompute the chain from the answer
      let prev = '0'.repeat(64);
      for (const e of [...events].reverse()) {
        const { hash, ...rest } = e;
        const want = crypto.createHash('sha256').update(prev + JSON.stringify(rest)).digest('hex');
        assertEq(hash, want, `hash of event ${e.id}`);
        prev = hash;
      }
      const v = await request(ctx, '/api/v1/audit/verify', { cookie: admin });
      assertEq(v.json, { ok: true, events: events.length }, '/audit/verify');
      const filtered = await auditEvents(ctx, '&action=login&user=ani');
      assert(filtered.length >= 1 && filtered.every((e) => e.action === 'login' && e.user === 'ani'), 'filters');
      const ani = await signedIn(ctx, 'ani');
      assertEq((await request(ctx, '/api/v1/audit', { cookie: ani })).status, 403, 'admin only');
      ctx.lastId = events[0].id;
    },
  ],
  [
    '--backup copies the accounts and the audit log (they are in the database)',
    async (ctx) => {
      const copy = path.join(tmpdir(), 'people-backup.db');
      const r = spawnSync(PANTAUD, ['--db', ctx.db, '--backup', copy], { encoding: 'utf8', timeout: 30000 });
      assertEq(r.status, 0, `--backup: ${r.stderr}`);
      const q = (sql) => execFileSync('sqlite3', [copy, sql], { encoding: 'utf8', timeout: 10000 }).trim();
      assert(Number(q('SELECT count(*) FROM audit')) >= ctx.lastId, 'the audit events are in the copy');
      assertEq(q('SELECT group_concat(name) FROM (SELECT name FROM users ORDER BY name)'), 'ani,budi,citra,dedi', 'the accounts');
      assertEq(cli(copy, ['list']).out.split('\n')[0], 'ani operator p1', 'the copy opens as a pantau database');
    },
  ],
  [
    'a tampered audit row is reported by /audit/verify, never repaired',
    async (ctx) => {
      const events = await auditEvents(ctx);
      const victim = events.find((e) => e.action === 'ack');
      execFileSync('sqlite3', [ctx.db, `UPDATE audit SET target = '999' WHERE id = ${victim.id}`], { timeout: 10000 });
      const admin = await adminCookie(ctx);
      let v = await request(ctx, '/api/v1/audit/verify', { cookie: admin });
      assertEq(v.json, { ok: false, first_bad_id: victim.id }, 'verify after tampering');
      v = await request(ctx, '/api/v1/audit/verify', { cookie: admin });
      assertEq(v.json.ok, false, 'still reported');
    },
  ],
];

runCases(FILE, cases, {
  totalMs: 170000,
  before: async () => {
    const dir = tmpdir();
    const db = path.join(dir, 'people.db');
    const catalog = path.join(dir, 'people-catalog.ini');
    fs.writeFileSync(catalog, CATALOG);
    // The first admin, made with no daemon running (the database is created).
    const r = cli(db, ['add', 'budi', '--role', 'admin'], `${PW.budi}\n`);
    if (r.code !== 0) throw new Error(`user add budi: ${r.err}`);
    const broker = await startBroker();
    const pd = await startPantaud(broker, {
      db,
      args: ['--catalog', catalog],
      config: `[auth]\nviewer = ${VIEWER_TOKEN}\n`,
    });
    const pub = await mqttPublisher(broker);
    return { broker, pd, db, pub, port: pd.httpPort };
  },
  after: async (ctx) => {
    await ctx.pub.close();
  },
});
