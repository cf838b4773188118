// reload.test.mjs — live reload (CONTRACT §4, issue "operations"): SIGHUP
// and POST /api/v1/reload re-read the catalog and the tokens together; a
// catalog with problems is refused with its file:line problems (logged, and
// as JSON from POST) and the running one kept; a good one is applied while
// websocket clients stay connected and get the new program's kpi frames.
import fs from 'node:fs';
import path from 'node:path';
import {
  assert,
  assertEq,
  fetchJson,
  mosquittoPub,
  openClient,
  repoRoot,
  runCases,
  sleep,
  startBroker,
  startPantaud,
  tmpdir,
  until,
} from './harness.mjs';

const FILE = 'reload.test.mjs';
const ADMIN = 'admin-token-0123456789';

const BASE = fs.readFileSync(path.join(repoRoot, 'config/catalog/lampung-tengah.ini'), 'utf8');
const NEW_PROGRAM = `
[program tawes-sehat]
name = TAWES SEHAT
dimension = living

[kpi tawes-sehat/kunjungan]
name = Kunjungan posyandu
metric = visits
agg = sum
period = year
target = 1000
`;

const programIds = async (ctx) => {
  const r = await fetchJson(`${ctx.api}/programs`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  assertEq(r.status, 200, 'GET /programs');
  return r.json.programs.map((p) => p.id);
};

const postReload = (ctx) =>
  fetchJson(`${ctx.api}/reload`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}` } });

const cases = [
  [
    'a catalog with problems is refused: POST answers 422 with file:line problems, SIGHUP logs them, nothing changes',
    async (ctx) => {
      const before = await programIds(ctx);
      fs.writeFileSync(ctx.catalog, `${BASE}\n[program rusak]\nname = Rusak\ndimension = nowhere\n`);
      const lines = fs.readFileSync(ctx.catalog, 'utf8').split('\n');
      const badLine = lines.findIndex((l) => l === 'dimension = nowhere') + 1;
      const r = await postReload(ctx);
      assertEq(r.status, 422, `POST /reload with a bad catalog: ${r.text}`);
      assertEq(r.json.error, 'reload_failed', 'error code');
      assert(r.json.problems.length >= 1, 'problems listed');
      const p = r.json.problems[0];
      assertEq(p.file, ctx.catalog, 'problem file');
      assertEq(p.line, badLine, 'problem line');
      assert(/dimension/.test(p.problem), `problem text: ${p.problem}`);
      assertEq(await programIds(ctx), before, 'programs unchanged');

      process.kill(ctx.pd.pid, 'SIGHUP');
      await until(() => ctx.pd.readLog().includes(`reload: ${ctx.catalog}:${badLine}:`), 5000,
        'the SIGHUP reload logging file:line');
      assertEq(await programIds(ctx), before, 'programs unchanged after SIGHUP');
    },
    20000,
  ],
  [
    'a good catalog is applied by SIGHUP; a connected client stays and gets the new program\'s kpi frames',
    async (ctx) => {
      const ws = await openClient(ctx.pd.url(`/api/v1/live?access_token=${ADMIN}`));
      ctx.ws = ws;
      await ws.subscribe(['tawes-sehat/#']);
      fs.writeFileSync(ctx.catalog, BASE + NEW_PROGRAM);
      process.kill(ctx.pd.pid, 'SIGHUP');
      await until(async () => (await programIds(ctx)).includes('tawes-sehat'), 5000, 'the new program');
      await ws.roundTrip(); // still connected: a ping answered
      await mosquittoPub(ctx.broker, 'pantau/tawes-sehat/posyandu-01/visits', '7');
      const f = await ws.nextFrame((x) => x.type === 'kpi' && x.program === 'tawes-sehat' && x.kpi.current === 7,
        5000, 'a kpi frame of the new program');
      assertEq(f.kpi.id, 'kunjungan', 'kpi id');
    },
    20000,
  ],
  [
    'POST /api/v1/reload applies a good catalog and answers {"reloaded":true}',
    async (ctx) => {
      fs.writeFileSync(ctx.catalog, BASE);
      const r = await postReload(ctx);
      assertEq(r.status, 200, `POST /reload: ${r.text}`);
      assertEq(r.json.reloaded, true, 'reloaded');
      await sleep(100);
      assert(!(await programIds(ctx)).includes('tawes-sehat'), 'the removed program is gone');
    },
    20000,
  ],
];

runCases(FILE, cases, {
  totalMs: 90000,
  before: async () => {
    const broker = await startBroker();
    const catalog = path.join(tmpdir(), 'reload-catalog.ini');
    fs.writeFileSync(catalog, BASE);
    const pd = await startPantaud(broker, {
      config: `[store]\nretention_days = 400\n[auth]\nadmin = ${ADMIN}\n`,
      args: ['--catalog', catalog],
    });
    return { broker, pd, catalog, api: `http://127.0.0.1:${pd.httpPort}/api/v1` };
  },
  after: async (ctx) => {
    ctx.ws?.close();
  },
});
