// loopwatch.test.mjs — the loop's slow-turn watch (daemon/loopwatch.c) counts
// work, not waiting: a SIGHUP that wakes an idle loop is not a slow turn.
// libuv 1.44 loses the idle time of an epoll_wait interrupted by a signal
// (EINTR restarts the wait and its clock), so every SIGHUP used to log "a
// turn took 680 ms" and count pantau_loop_slow_turns_total; POST
// /api/v1/reload, which wakes the loop through a socket, never did.
import fs from 'node:fs';
import path from 'node:path';
import {
  assert,
  assertEq,
  fetchJson,
  repoRoot,
  runCases,
  sleep,
  startBroker,
  startPantaud,
  tmpdir,
  until,
} from './harness.mjs';

const FILE = 'loopwatch.test.mjs';
const ADMIN = 'admin-token-0123456789';
const SIGNALS = 6;

async function slowTurns(ctx) {
  const r = await fetchJson(`${ctx.base}/metrics`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  assertEq(r.status, 200, 'GET /metrics');
  const m = /^pantau_loop_slow_turns_total (\d+)$/m.exec(r.text);
  assert(m, 'pantau_loop_slow_turns_total in /metrics');
  return Number(m[1]);
}

const slowLines = (ctx) => ctx.pd.readLog().split('\n').filter((l) => l.includes('loop: a turn took'));
const reloads = (ctx) => ctx.pd.readLog().split('\n').filter((l) => l.includes('reload: ') && l.includes('applied')).length;

// Waits for the loop to idle (no request, no message) for about waitMs, then
// wakes it the way `wake` does, `SIGNALS` times; each reload must be logged.
async function wakeIdleLoop(ctx, wake, what) {
  const before = await slowTurns(ctx);
  const beforeLines = slowLines(ctx).length;
  for (let i = 0; i < SIGNALS; i++) {
    const n = reloads(ctx);
    await sleep(350 + 100 * i); // idle, longer than slow_turn_ms (100 ms)
    await wake(ctx);
    await until(() => reloads(ctx) > n, 5000, `${what} ${i + 1} logged as applied`);
  }
  const lines = slowLines(ctx).slice(beforeLines);
  assertEq(lines, [], `slow-turn warnings after ${SIGNALS} ${what}`);
  assertEq((await slowTurns(ctx)) - before, 0, `pantau_loop_slow_turns_total growth after ${SIGNALS} ${what}`);
}

const cases = [
  [
    `${SIGNALS} SIGHUPs to an idle loop: no slow-turn warning, pantau_loop_slow_turns_total unchanged`,
    (ctx) => wakeIdleLoop(ctx, async () => process.kill(ctx.pd.pid, 'SIGHUP'), 'SIGHUPs'),
    30000,
  ],
  [
    `${SIGNALS} POST /api/v1/reload to an idle loop: no slow-turn warning either`,
    (ctx) =>
      wakeIdleLoop(
        ctx,
        async () => {
          const r = await fetchJson(`${ctx.base}/api/v1/reload`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${ADMIN}` },
          });
          assertEq(r.status, 200, `POST /reload: ${r.text}`);
        },
        'POST /reload',
      ),
    30000,
  ],
];

runCases(FILE, cases, {
  totalMs: 90000,
  before: async () => {
    const broker = await startBroker();
    const catalog = path.join(tmpdir(), 'loopwatch-catalog.ini');
    fs.copyFileSync(path.join(repoRoot, 'config/catalog/lampung-tengah.ini'), catalog);
    const pd = await startPantaud(broker, {
      config: `[log]\nslow_turn_ms = 100\n[auth]\nadmin = ${ADMIN}\n`,
      args: ['--catalog', catalog],
    });
    return { broker, pd, base: `http://127.0.0.1:${pd.httpPort}` };
  },
});
