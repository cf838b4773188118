// scenario.test.mjs — the shipped Lampung Tengah catalog and its simulated
// field units end to end (real mosquitto, pantaud, pantau-sim): the
// simulator's vans and markets move the catalog's KPIs, a websocket client
// subscribed to one program gets kpi frames for it (and none for others),
// /programs, /dimensions and /report answer with the catalog's programs and
// live values, and /units?program= lists that program's units.
import path from 'node:path';
import {
  assert,
  assertEq,
  openClient,
  repoRoot,
  runCases,
  startBroker,
  startPantaud,
  startSim,
  until,
} from './harness.mjs';

const FILE = 'scenario.test.mjs';
const CATALOG = path.join(repoRoot, 'config/catalog/lampung-tengah.ini');

const getJson = async (base, p) => {
  const res = await fetch(`${base}${p}`);
  assertEq(res.status, 200, `GET ${p}`);
  return res.json();
};

const cases = [
  [
    'the simulator moves PADUKA LAMTENG KPIs; kpi frames reach its subscribers only',
    async (ctx) => {
      const ws = await openClient(ctx.pd.url());
      await ws.subscribe(['paduka-lamteng/#']);
      ctx.ws = ws;
      ctx.sim = startSim(ctx.broker, ['--scenario', 'lampung-tengah', '--units', '2', '--rate', '40', '--duration', '20']);
      const frame = await ws.nextFrame(
        (f) => f.type === 'kpi' && f.kpi.current !== null,
        20000,
        'a kpi frame with a current value',
      );
      assertEq(frame.program, 'paduka-lamteng', 'kpi frame program');
      for (const f of ws.frames) {
        if (f.type === 'kpi') assertEq(f.program, 'paduka-lamteng', 'every kpi frame is for the subscribed program');
      }
      for (const key of ['id', 'name', 'metric', 'labels', 'units', 'agg', 'period', 'baseline', 'target', 'current', 'progress', 'expected', 'status']) {
        assert(key in frame.kpi, `kpi frame has ${key}`);
      }
    },
    30000,
  ],
  [
    '/programs, /dimensions, /report and /units?program= show the catalog with live values',
    async (ctx) => {
      const base = `http://127.0.0.1:${ctx.pd.httpPort}/api/v1`;
      const programs = await until(
        async () => {
          const p = await getJson(base, '/programs');
          const paduka = p.programs.find((x) => x.id === 'paduka-lamteng');
          return paduka && paduka.kpis.some((k) => k.current > 0) ? p : null;
        },
        15000,
        'PADUKA LAMTENG with a current value',
      );
      assertEq(programs.regency.id, 'lampung-tengah', 'regency');
      assertEq(programs.regency.timezone, '+07:00', 'timezone');
      assertEq(programs.programs.length, 6, 'six programs, one per dimension');
      const dims = new Set(programs.programs.map((p) => p.dimension));
      assertEq(dims.size, 6, 'every dimension has a program');
      const paduka = programs.programs.find((x) => x.id === 'paduka-lamteng');
      assert(paduka.health !== null && paduka.progress > 0, `paduka health ${paduka.health}, progress ${paduka.progress}`);

      const d = await getJson(base, '/dimensions');
      assertEq(d.dimensions.map((x) => x.id), ['governance', 'branding', 'economy', 'living', 'society', 'environment'], 'dimensions');
      assert(d.dimensions.every((x) => x.catalogued === 1), 'one catalogued program per dimension');

      const to = Date.now();
      const r = await getJson(base, `/report?from=${to - 86400000}&to=${to}`);
      const rp = r.programs.find((x) => x.id === 'paduka-lamteng');
      assert(rp.kpis.every((k) => 'value_at_from' in k && 'value_at_to' in k), 'report KPIs have values at from and to');
      assert(rp.kpis.some((k) => k.value_at_to > 0), 'a report KPI moved');

      const u = await getJson(base, '/units?program=simas-bapokting');
      assert(u.units.length > 0, 'simas-bapokting has units');
      assert(u.units.every((x) => x.program === 'simas-bapokting'), 'only that program');
    },
    30000,
  ],
];

runCases(FILE, cases, {
  totalMs: 90000,
  before: async () => {
    const broker = await startBroker();
    // The scenario sends the year's history at start: keep it (raw retention).
    const pd = await startPantaud(broker, { config: '[store]\nretention_days = 400\n', args: ['--catalog', CATALOG] });
    return { broker, pd };
  },
  after: async (ctx) => {
    ctx.ws?.close();
    await ctx.sim?.stop(5000);
  },
});
