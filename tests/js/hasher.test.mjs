// hasher.test.mjs — passwords are hashed in child processes of pantaud
// (daemon/hasher.h), not on its threads: the child is named, at nice 19 and
// SCHED_IDLE in a scheduling group (autogroup) of its own, kept to one CPU
// (the last pantaud may use), and holds no descriptor of pantaud's but its
// socket and output; killed while sign-ins wait, it is logged and replaced,
// the sign-ins in flight are answered (503 busy, none hangs) and the next
// succeeds; children that die at once are replaced at a bounded rate, the
// sign-ins meanwhile answered 503 at once; stopping pantaud ends its child;
// and `pantaud --hasher-child` from a terminal refuses clearly.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import {
  PANTAUD,
  assert,
  assertEq,
  fetchJson,
  runCases,
  sleep,
  startBroker,
  startPantaud,
  until,
  withTimeout,
} from './harness.mjs';

const FILE = 'hasher.test.mjs';
const PW = 'rahasia-hasher-001';
const ctx = {};

// The pids of the children pantaud logged as started, in order.
const childPids = () => [...ctx.pantaud.readLog().matchAll(/hasher: child (\d+) started/g)].map((m) => Number(m[1]));
const lastChild = () => childPids().at(-1);
const alive = (pid) => fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));

const signIn = (password = PW, ms = 20000) =>
  fetchJson(`http://127.0.0.1:${ctx.pantaud.httpPort}/api/v1/login`, {
    method: 'POST',
    body: JSON.stringify({ user: 'hana', password }),
    ms,
  });

// Waits for a child other than `old` to be logged, and returns its pid.
async function nextChild(old, ms = 10000) {
  await until(() => lastChild() && lastChild() !== old && alive(lastChild()), ms, `a child other than ${old}`);
  return lastChild();
}

await runCases(
  FILE,
  [
    [
      'the hasher is a child process: named, nice 19, SCHED_IDLE, one CPU, only its socket and output open',
      async () => {
        const pid = await nextChild(0);
        // Named by itself once set up: "exe" (/proc/self/exe) until then.
        const comm = () => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        await until(() => comm() === 'pantaud-hasher', 10000, `the child to name itself (${comm()})`);
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
        assertEq(Number(f[1]), ctx.pantaud.pid, 'its parent');
        assertEq(Number(f[16]), 19, 'its nice value');
        assertEq(Number(f[38]), 5, 'its scheduling policy (5 = SCHED_IDLE)');
        // Where the kernel groups tasks by session (autogroup), its own group at nice 19.
        const grouped = fs.existsSync('/proc/sys/kernel/sched_autogroup_enabled') &&
          fs.readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1';
        if (grouped) {
          const ag = (p) => fs.readFileSync(`/proc/${p}/autogroup`, 'utf8').trim();
          assert(/ nice 19$/.test(ag(pid)), `its autogroup is at nice 19: ${ag(pid)}`);
          assert(ag(pid).split(' ')[0] !== ag(ctx.pantaud.pid).split(' ')[0], "not pantaud's autogroup");
        }
        // Kept to one CPU, the last pantaud may use (when it may use two or more).
        const cpus = (p) => {
          const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))[1];
          return list.split(',').flatMap((r) => {
            const [a, b = a] = r.split('-').map(Number);
            return Array.from({ length: b - a + 1 }, (_, i) => a + i);
          });
        };
        const mine = cpus(ctx.pantaud.pid);
        assertEq(cpus(pid).join(), mine.length > 1 ? String(mine.at(-1)) : mine.join(), "the child's CPUs");
        const fds = fs.readdirSync(`/proc/${pid}/fd`).map(Number).sort((a, b) => a - b);
        assert(fds.every((fd) => fd <= 2), `only descriptors 0-2 are open, not ${fds}`);
        assert(fs.readlinkSync(`/proc/${pid}/fd/0`).startsWith('socket:'), 'its standard input is a socket');
        assertEq((await signIn()).status, 200, 'a sign-in');
        assertEq((await signIn('salah-sekali-123')).status, 401, 'a wrong password');
      },
    ],
    [
      'a child killed while sign-ins wait: logged, replaced, every sign-in answered, the next one 200',
      async () => {
        const old = lastChild();
        await sleep(1200); // a child that lived a second is replaced at once
        const pending = Array.from({ length: 6 }, () => signIn());
        await sleep(30); // the first is being hashed
        process.kill(old, 'SIGKILL');
        const answers = await withTimeout(Promise.all(pending), 20000, 'the sign-ins in flight to be answered');
        const codes = answers.map((a) => a.status);
        assert(codes.every((c) => c === 200 || c === 503), `200 or 503 each, not ${codes}`);
        for (const a of answers.filter((x) => x.status === 503)) assertEq(a.json?.error, 'busy', 'a 503 error');
        console.log(`  # the 6 sign-ins in flight: ${codes.join(' ')}`);
        // One hash at a time ([http] login_workers = 1): only the one being
        // hashed is lost; the others wait for the next child.
        assert(codes.filter((c) => c === 503).length <= 1, 'at most the sign-in being hashed fails');
        const pid = await nextChild(old);
        assert(/hasher: child \d+ killed by signal 9/.test(ctx.pantaud.readLog()), 'the death is logged');
        assertEq((await signIn()).status, 200, 'the next sign-in');
        assert(alive(pid), 'the new child still runs');
      },
    ],
    [
      'children that die at once are replaced at a bounded rate; sign-ins meanwhile get 503 busy at once',
      async () => {
        const before = childPids().length;
        let pid = lastChild();
        assert(pid && alive(pid), 'a child runs');
        const t0 = performance.now();
        // Kill each new child as soon as it is logged, for 4 s.
        let kills = 0;
        while (performance.now() - t0 < 4000) {
          if (alive(pid)) {
            process.kill(pid, 'SIGKILL');
            kills++;
          }
          await sleep(20);
          pid = lastChild();
        }
        const started = childPids().length - before;
        // 1 at once, then after 1 s and 2 s (doubling): at most 3-4 in 4 s.
        assert(started <= 4, `${started} children started in 4 s (${kills} kills): a bounded rate`);
        const t = performance.now();
        const r = await signIn();
        const took = performance.now() - t;
        if (r.status === 503) assert(took < 1000, `a 503 comes at once, not after ${took.toFixed(0)} ms`);
        else assertEq(r.status, 200, 'a sign-in while a child starts');
        // The next child lives: sign-ins work again within the backoff (<= 8 s here).
        await until(async () => (await signIn()).status === 200, 15000, 'a sign-in to succeed again', 250);
      },
    ],
    [
      'stopping pantaud ends its child; `pantaud --hasher-child` on a terminal refuses',
      async () => {
        const pid = lastChild();
        assert(alive(pid), 'a child runs');
        const { code } = await ctx.pantaud.stop(10000);
        assertEq(code, 0, "pantaud's exit status");
        await until(() => !alive(pid), 5000, 'the child to be gone');
        const r = spawnSync(PANTAUD, ['--hasher-child'], {
          stdio: ['ignore', 'pipe', 'pipe'], // /dev/null (node's pipes are sockets)
          encoding: 'utf8',
          timeout: 5000,
        });
        assertEq(r.status, 2, 'its exit status');
        assert(/for pantaud's own use/.test(r.stderr), `a clear message, not: ${r.stderr}`);
      },
    ],
  ],
  {
    totalMs: 100000,
    before: async () => {
      ctx.broker = await startBroker();
      ctx.pantaud = await startPantaud(ctx.broker);
      const db = ctx.pantaud.db;
      const r = spawnSync(PANTAUD, ['--db', db, 'user', 'add', 'hana', '--role', 'viewer'], {
        input: `${PW}\n`,
        encoding: 'utf8',
        timeout: 20000,
      });
      if (r.status !== 0) throw new Error(`user add: ${r.stderr}`);
    },
  },
);
