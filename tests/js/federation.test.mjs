// federation.test.mjs — CONTRACT §7 against real parts: one mosquitto, a
// regency pantaud (Lampung Tengah's catalog, [federation] publish) and a hub
// pantaud ([federation] hub, expecting Lampung Tengah and Kota Bima), an MQTT
// subscriber that records every STATE the broker delivers, and a second
// regency (Lombok Utara) whose spool is tiny, flooded while it publishes.
//
// What each case checks:
//  1. STATE's shape (regency with code and province, generated_at, PROGRAMs,
//     the six dimensions, firing alerts, unit counts), retained; its programs
//     and dimensions equal the regency's own /programs and /dimensions.
//  2. A sample that changes a KPI's current is in a STATE within 10 s; two
//     STATEs are never less than 10 s apart.
//  3. The hub's REGION equals what the regency answers itself (progress =
//     mean with null as 0, health = worst, dimensions, units), and
//     /regions/<id>'s state is the latest STATE.
//  4. bad_state: bad JSON, another regency's id, a missing part, a STATE from
//     the future, a JSON array: each counted once as bad_state, none stored,
//     no sample or other reject counted.
//  5. A redelivered STATE changes nothing (history, last_seen).
//  6. /regions: sorted by code, regions without a code last; a catalog region
//     never heard is waiting (stale, nulls); progress and health folded; a
//     region silent past region_stale_after is stale, and not dropped.
//  7. /regions/<id>/history: each stored STATE in [from, to], oldest first,
//     with each dimension's progress; 404 for an unknown region.
//  8. Evaluations on the hub: 201 with every REGION as of as_of (the latest
//     STATE with generated_at <= as_of), frozen after later data; as_of in
//     the future 400; listing newest as_of first without bodies; 404; the
//     audit event. On the regency: §5.4's report from the start of as_of's
//     year (WIB) to as_of, regions null.
//  9. The heartbeat: with nothing changed, a STATE at least every
//     `heartbeat` (set to 12 s here: [federation] heartbeat, a documented
//     key; the default is 5 minutes).
// 10. A full spool ([mqtt] queue_messages = 100, flooded) while STATEs are
//     published: no deadlock — /healthz answers, a STATE generated during
//     the flood reaches the broker, every message is taken, and pantaud stops
//     cleanly (the runner's last check).
// 11. Retention (the hub's prune pass, a minute after start, then hourly):
//     states older than thin_after_days (1) keep only the last of each hour
//     of each region; older than state_retention_days (400) they go, except
//     a region's latest.
import fs from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import {
  assert,
  assertEq,
  fetchJson,
  mqttPublisher,
  repoRoot,
  runCases,
  sleep,
  startBroker,
  startPantaud,
  tmpdir,
  until,
} from './harness.mjs';

const HEARTBEAT_S = 12;
const STALE_S = 15;
const STATUSES = ['missed', 'worsening', 'off_track', 'at_risk', 'not_started', 'no_data', 'on_track', 'achieved'];
const DIMS = ['governance', 'branding', 'economy', 'living', 'society', 'environment'];

const api = (pd, p, opts) => fetchJson(`http://127.0.0.1:${pd.httpPort}${p}`, opts);
async function metric(pd, name) {
  const r = await api(pd, '/metrics');
  const line = r.text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ').pop()) : 0;
}

// Every STATE delivered on <prefix>/+/state, with its arrival time.
async function stateRecorder(broker) {
  const states = [];
  const client = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, {
    clientId: `fed-rec-${process.pid}`,
    reconnectPeriod: 500,
  });
  client.on('message', (topic, payload, packet) => {
    let json = null;
    try {
      json = JSON.parse(payload.toString());
    } catch {
      /* a bad one of case 4 */
    }
    states.push({ topic, text: payload.toString(), json, at: Date.now(), retain: packet.retain });
  });
  await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  await new Promise((resolve, reject) =>
    client.subscribe('pantau-fed/+/state', { qos: 1 }, (e) => (e ? reject(e) : resolve())),
  );
  return { states, of: (id) => states.filter((s) => s.topic === `pantau-fed/${id}/state` && s.json), client };
}

function syntheticState(id, { code = null, name, generatedAt, programs = [], alerts = [] }) {
  return {
    regency: { id, name: name || `Kabupaten ${id}`, code, province: 'Nusa Tenggara Barat', timezone: '+08:00' },
    generated_at: generatedAt,
    programs: programs.map(([progress, health], i) => ({
      id: `p${i}`,
      name: `P${i}`,
      dimension: DIMS[i % 6],
      agency: null,
      description: null,
      status: 'running',
      progress,
      health,
      kpis: [{ id: 'k', current: 1, status: health || 'no_data' }],
    })),
    dimensions: DIMS.map((d, i) => ({ id: d, name: d, programs: 1, running: 1, catalogued: 1, progress: i / 10 })),
    alerts,
    units: { online: 2, offline: 1, stale: 0 },
  };
}

// An hour 8 days ago: past thin_after_days (1).
const retentionHour = Math.floor((Date.now() - 8 * 86400000) / 3600000) * 3600000;
const worst = (hs) => hs.filter((h) => h).sort((a, b) => STATUSES.indexOf(a) - STATUSES.indexOf(b))[0] ?? null;

async function before() {
  const broker = await startBroker();
  const dir = tmpdir();
  const hubCatalog = path.join(dir, 'hub.ini');
  fs.writeFileSync(
    hubCatalog,
    '[regency]\nid = hub\nname = Hub\n' +
      '[region lampung-tengah]\nname = Lamteng (katalog)\ncode = 18.02\nprovince = Lampung\n' +
      '[region kota-bima]\nname = Kota Bima\ncode = 52.72\nprovince = Nusa Tenggara Barat\n',
  );
  const rec = await stateRecorder(broker);
  const hubOpts = { config: `[federation]\nhub = yes\nregion_stale_after = ${STALE_S}s\n`, args: ['--catalog', hubCatalog] };
  const hub = await startPantaud(broker, hubOpts);
  const regency = await startPantaud(broker, {
    config: `[federation]\npublish = yes\nheartbeat = ${HEARTBEAT_S}s\n`,
    args: ['--catalog', path.join(repoRoot, 'config/catalog/lampung-tengah.ini')],
  });
  const pub = await mqttPublisher(broker);
  await until(() => rec.of('lampung-tengah').length > 0, 15000, 'the first STATE');
  return { broker, hub, hubOpts, regency, rec, pub };
}

const cases = [
  [
    'STATE shape; equals the regency\'s own programs and dimensions',
    async ({ broker, regency, rec }) => {
      const first = rec.of('lampung-tengah')[0];
      const s = first.json;
      assertEq(Object.keys(s).sort().join(), 'alerts,dimensions,generated_at,programs,regency,units', 'STATE keys');
      assertEq(
        JSON.stringify(s.regency),
        JSON.stringify({ id: 'lampung-tengah', name: 'Kabupaten Lampung Tengah', code: '18.02', province: 'Lampung', timezone: '+07:00' }),
        'regency',
      );
      assert(Number.isInteger(s.generated_at) && Math.abs(s.generated_at - first.at) < 5000, 'generated_at is now');
      assertEq(s.programs.length, 6, 'programs');
      for (const p of s.programs)
        assertEq(
          Object.keys(p).sort().join(),
          'agency,description,dimension,health,id,kpis,name,progress,status',
          `PROGRAM ${p.id} keys`,
        );
      assertEq(s.dimensions.map((d) => d.id).join(), DIMS.join(), 'six dimensions in order');
      assert(Array.isArray(s.alerts), 'alerts');
      assertEq(Object.keys(s.units).sort().join(), 'offline,online,stale', 'units');
      console.log(`# STATE of Lampung Tengah: ${Buffer.byteLength(first.text)} bytes`);
      // retained: a new subscriber gets it at once
      const late = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, { clientId: `late-${process.pid}` });
      const got = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no retained STATE')), 5000);
        late.on('message', (t, p, packet) => {
          clearTimeout(timer);
          resolve(packet.retain);
        });
        late.on('connect', () => late.subscribe('pantau-fed/lampung-tengah/state', { qos: 1 }));
      });
      late.end(true);
      assert(got, 'the STATE is retained');
      // the same numbers as the regency's own answers (no data changes meanwhile)
      const programs = (await api(regency, '/api/v1/programs')).json.programs;
      const dims = (await api(regency, '/api/v1/dimensions')).json.dimensions;
      const latest = rec.of('lampung-tengah').at(-1).json;
      for (const p of programs) {
        const q = latest.programs.find((x) => x.id === p.id);
        assertEq(q.progress, p.progress, `${p.id} progress`);
        assertEq(q.health, p.health, `${p.id} health`);
        assertEq(
          JSON.stringify(q.kpis.map((k) => [k.id, k.current, k.status])),
          JSON.stringify(p.kpis.map((k) => [k.id, k.current, k.status])),
          `${p.id} KPIs`,
        );
      }
      assertEq(JSON.stringify(latest.dimensions), JSON.stringify(dims), 'dimensions as /dimensions');
    },
  ],
  [
    'retention (before the first prune pass): old states are stored',
    async ({ hub, pub }) => {
      for (const dt of [60000, 120000, 180000, 3600000 + 60000])
        await pub.publish('pantau-fed/sim-t/state', syntheticState('sim-t', { generatedAt: retentionHour + dt, programs: [[dt / 1e7, 'at_risk']] }));
      const old = Date.now() - 500 * 86400000;
      for (const g of [old, old + 1000, Date.now()])
        await pub.publish('pantau-fed/sim-u/state', syntheticState('sim-u', { generatedAt: g }));
      const count = async (id) => (await api(hub, `/api/v1/regions/${id}/history?from=0`)).json?.history?.length;
      await until(async () => (await count('sim-t')) === 4 && (await count('sim-u')) === 3, 5000, 'stored');
    },
  ],
  [
    'a change is published within 10 s; never two STATEs within 10 s',
    async ({ rec, pub }) => {
      const mine = () => rec.of('lampung-tengah');
      const n0 = mine().length;
      await until(() => mine().length > n0 || true, 100, '');
      await sleep(1000);
      const t0 = Date.now();
      await pub.publish(
        'pantau/paduka-lamteng/van-01/documents_issued',
        { value: 7, labels: { doc: 'ktp', kampung: 'gunung-sugih' } },
      );
      const ktp = (s) => s.json.programs.find((p) => p.id === 'paduka-lamteng').kpis.find((k) => k.id === 'ktp').current;
      const hit = await until(() => mine().find((s) => s.at >= t0 && ktp(s) === 7), 15000, 'a STATE with the new KPI');
      const delay = hit.at - t0;
      console.log(`# change -> STATE at the broker's subscriber: ${delay} ms`);
      assert(delay <= 10000, `published within 10 s of the change (took ${delay} ms)`);
      const gens = [...new Set(mine().map((s) => s.json.generated_at))].sort((a, b) => a - b);
      for (let i = 1; i < gens.length; i++)
        assert(gens[i] - gens[i - 1] >= 9900, `STATEs ${gens[i] - gens[i - 1]} ms apart`);
    },
    25000,
  ],
  [
    'the hub\'s region equals what the regency answers itself',
    async ({ hub, regency, rec }) => {
      const latest = rec.of('lampung-tengah').at(-1).json;
      await until(
        async () => (await api(hub, '/api/v1/regions/lampung-tengah')).json?.state?.generated_at === latest.generated_at,
        10000,
        'the hub to hold the latest STATE',
      );
      const { region, state } = (await api(hub, '/api/v1/regions/lampung-tengah')).json;
      assertEq(JSON.stringify(state), JSON.stringify(latest), 'state as received');
      const programs = (await api(regency, '/api/v1/programs')).json.programs;
      const mean = programs.reduce((s, p) => s + (p.progress ?? 0), 0) / programs.length;
      assert(Math.abs(region.progress - mean) < 1e-9, `progress ${region.progress} = mean ${mean}`);
      assertEq(region.health, worst(programs.map((p) => p.health)), 'health: the worst');
      assertEq(region.programs, 6, 'programs');
      assertEq(region.alerts_firing, latest.alerts.length, 'alerts_firing');
      assertEq(JSON.stringify(region.dimensions), JSON.stringify((await api(regency, '/api/v1/dimensions')).json.dimensions), 'dimensions');
      assertEq(JSON.stringify(region.units), JSON.stringify(latest.units), 'units');
      assertEq(region.name, 'Kabupaten Lampung Tengah', 'name from the STATE, not the catalog');
      assertEq(region.stale, false, 'not stale');
    },
  ],
  [
    'bad_state: refused, counted, never stored, no sample counted',
    async ({ hub, pub }) => {
      const bad0 = await metric(hub, 'pantau_rejected_total{reason="bad_state"}');
      const samples0 = await metric(hub, 'pantau_stored_total');
      const badJson0 = await metric(hub, 'pantau_rejected_total{reason="bad_json"}');
      const good = syntheticState('evil', { generatedAt: Date.now() });
      await pub.publish('pantau-fed/evil/state', '{"regency":');
      await pub.publish('pantau-fed/evil/state', syntheticState('lampung-tengah', { generatedAt: Date.now() }));
      await pub.publish('pantau-fed/evil/state', { ...good, units: undefined });
      await pub.publish('pantau-fed/evil/state', { ...good, generated_at: Date.now() + 6 * 60000 });
      await pub.publish('pantau-fed/evil/state', [good]);
      await until(
        async () => (await metric(hub, 'pantau_rejected_total{reason="bad_state"}')) >= bad0 + 5,
        5000,
        'five bad_state rejects',
      );
      await sleep(300);
      assertEq(await metric(hub, 'pantau_rejected_total{reason="bad_state"}'), bad0 + 5, 'each counted once');
      assertEq(await metric(hub, 'pantau_rejected_total{reason="bad_json"}'), badJson0, 'not bad_json');
      assertEq(await metric(hub, 'pantau_stored_total'), samples0, 'no sample');
      assertEq((await api(hub, '/api/v1/regions/evil')).status, 404, 'evil never stored');
      const lt = (await api(hub, '/api/v1/regions/lampung-tengah')).json.state;
      assertEq(lt.regency.name, 'Kabupaten Lampung Tengah', 'a STATE for another id did not replace its region');
      const rejects = (await api(hub, '/api/v1/rejects')).json.rejects.filter((r) => r.reason === 'bad_state');
      assert(rejects.some((r) => /differs from the topic/.test(r.detail)), 'the reject log says why');
    },
  ],
  [
    'a redelivered STATE changes nothing',
    async ({ hub, pub }) => {
      const t = Date.now() - 60000;
      const s = syntheticState('sim-r', { code: '52.03', generatedAt: t, programs: [[0.5, 'on_track']] });
      await pub.publish('pantau-fed/sim-r/state', s);
      await until(async () => (await api(hub, '/api/v1/regions/sim-r')).status === 200, 5000, 'sim-r');
      const first = (await api(hub, '/api/v1/regions/sim-r')).json.region;
      const dup0 = await metric(hub, 'pantau_federation_states_duplicate_total');
      await sleep(50);
      await pub.publish('pantau-fed/sim-r/state', s);
      await pub.publish('pantau-fed/sim-r/state', s);
      await until(async () => (await metric(hub, 'pantau_federation_states_duplicate_total')) >= dup0 + 2, 5000, 'duplicates');
      const again = (await api(hub, '/api/v1/regions/sim-r')).json.region;
      assertEq(again.last_seen, first.last_seen, 'last_seen: the first copy\'s arrival');
      const h = (await api(hub, `/api/v1/regions/sim-r/history?from=${t - 1}&to=${t + 1}`)).json.history;
      assertEq(h.length, 1, 'stored once');
    },
  ],
  [
    '/regions: order by code, waiting regions, folding, staleness',
    async ({ hub, pub }) => {
      const now = Date.now();
      await pub.publish(
        'pantau-fed/sim-b/state',
        syntheticState('sim-b', { code: '52.01', generatedAt: now, programs: [[0.4, 'on_track'], [null, 'off_track'], [1, null]] }),
      );
      await pub.publish('pantau-fed/sim-c/state', syntheticState('sim-c', { generatedAt: now }));
      await until(async () => (await api(hub, '/api/v1/regions/sim-c')).status === 200, 5000, 'sim-c');
      const t0 = Date.now();
      const regions = (await api(hub, '/api/v1/regions')).json.regions;
      assertEq(
        regions.map((r) => r.id).join(),
        'lampung-tengah,sim-b,sim-r,kota-bima,sim-c,sim-t,sim-u',
        'by code (18.02, 52.01, 52.03, 52.72), then those without one',
      );
      const b = regions.find((r) => r.id === 'sim-b');
      assert(Math.abs(b.progress - (0.4 + 0 + 1) / 3) < 1e-9, `progress ${b.progress}: null as 0`);
      assertEq(b.health, 'off_track', 'the worst health');
      assertEq(b.stale, false, 'fresh');
      const c = regions.find((r) => r.id === 'sim-c');
      assertEq(c.progress, null, 'no programs: progress null');
      assertEq(c.health, null, 'no programs: health null');
      const w = regions.find((r) => r.id === 'kota-bima');
      assertEq(
        JSON.stringify(w),
        JSON.stringify({
          id: 'kota-bima', name: 'Kota Bima', code: '52.72', province: 'Nusa Tenggara Barat', last_seen: null, stale: true,
          progress: null, health: null, dimensions: null, programs: null, alerts_firing: null, units: null,
        }),
        'a catalog region never heard: waiting',
      );
      // silent past region_stale_after: stale (lampung-tengah keeps publishing)
      await until(
        async () => (await api(hub, '/api/v1/regions')).json.regions.find((r) => r.id === 'sim-b').stale,
        (STALE_S + 10) * 1000,
        'sim-b stale',
        500,
      );
      const took = Date.now() - t0;
      assert(took >= (STALE_S - 1) * 1000, `not stale before region_stale_after (${took} ms)`);
      const after = (await api(hub, '/api/v1/regions')).json.regions;
      assertEq(after.find((r) => r.id === 'lampung-tengah').stale, false, 'a region that publishes is not stale');
      assertEq(after.find((r) => r.id === 'sim-b').progress, b.progress, 'stale, not dropped');
    },
    40000,
  ],
  [
    '/regions/<id>/history: stored STATEs in [from, to], oldest first',
    async ({ hub, pub }) => {
      const t = Date.now() - 3 * 3600000;
      for (const [dt, p] of [[2000, 0.3], [0, 0.1], [1000, 0.2]])
        await pub.publish('pantau-fed/sim-h/state', syntheticState('sim-h', { generatedAt: t + dt, programs: [[p, 'at_risk']] }));
      await until(
        async () => (await api(hub, `/api/v1/regions/sim-h/history?from=${t}&to=${t + 5000}`)).json?.history?.length === 3,
        5000,
        'three states',
      );
      const h = (await api(hub, `/api/v1/regions/sim-h/history?from=${t}&to=${t + 1500}`)).json.history;
      assertEq(JSON.stringify(h.map((x) => [x.generated_at, x.progress, x.health])),
        JSON.stringify([[t, 0.1, 'at_risk'], [t + 1000, 0.2, 'at_risk']]), 'oldest first, inclusive range');
      assertEq(JSON.stringify(h[0].dimensions), JSON.stringify({ governance: 0, branding: 0.1, economy: 0.2, living: 0.3, society: 0.4, environment: 0.5 }), 'dimensions');
      const latest = (await api(hub, '/api/v1/regions/sim-h')).json.state;
      assertEq(latest.generated_at, t + 2000, 'the latest is the greatest generated_at, not the last to arrive');
      assertEq((await api(hub, '/api/v1/regions/nowhere/history')).status, 404, 'unknown region');
      assertEq((await api(hub, '/api/v1/regions/kota-bima/history')).json.history.length, 0, 'waiting region: empty');
    },
  ],
  [
    'evaluations: hub regions as of, frozen; regency report; 400, 404, listing, audit',
    async ({ hub, regency, pub }) => {
      const post = (pd, body) => api(pd, '/api/v1/evaluations', { method: 'POST', body: JSON.stringify(body) });
      const hist = (await api(hub, `/api/v1/regions/sim-h/history?from=0`)).json.history;
      const t = hist[0].generated_at;
      const r1 = await post(hub, { name: 'Evaluasi Juni 2027' });
      assertEq(r1.status, 201, 'created');
      const e1 = r1.json.evaluation;
      assertEq(Object.keys(e1).join(), 'id,name,as_of,created_at,created_by,report,regions', 'EVALUATION keys');
      assertEq(e1.created_by, 'admin', 'created_by: the role without accounts');
      assertEq(e1.report, null, 'a hub without programs: report null');
      assertEq(e1.regions.map((r) => r.id).join(), (await api(hub, '/api/v1/regions')).json.regions.map((r) => r.id).join(), 'every REGION, in /regions\' order');
      const r2 = await post(hub, { name: 'Sebelum', as_of: t + 1500 });
      assertEq(r2.status, 201, 'created as of the past');
      const h2 = r2.json.evaluation.regions.find((r) => r.id === 'sim-h');
      assertEq(h2.progress, 0.2, 'as of as_of: the STATE generated at t + 1000');
      assertEq(r2.json.evaluation.regions.find((r) => r.id === 'sim-b'), undefined, 'a region not yet heard then is absent');
      // later data does not change it
      await pub.publish('pantau-fed/sim-h/state', syntheticState('sim-h', { generatedAt: Date.now(), programs: [[0.9, 'achieved']] }));
      await until(async () => (await api(hub, '/api/v1/regions/sim-h')).json.region.progress === 0.9, 5000, 'new sim-h');
      const g1 = await api(hub, `/api/v1/evaluations/${e1.id}`);
      assertEq(JSON.stringify(g1.json.evaluation), JSON.stringify(e1), 'frozen');
      assertEq((await post(hub, { name: 'Nanti', as_of: Date.now() + 60000 })).status, 400, 'as_of in the future');
      assertEq((await post(hub, { as_of: Date.now() })).status, 400, 'no name');
      assertEq((await api(hub, '/api/v1/evaluations/99999')).status, 404, 'unknown');
      const list = (await api(hub, '/api/v1/evaluations')).json.evaluations;
      assertEq(list.map((e) => e.name).join(), 'Evaluasi Juni 2027,Sebelum', 'newest as_of first');
      assertEq(Object.keys(list[0]).join(), 'id,name,as_of,created_at,created_by', 'without bodies');
      const audit = (await api(hub, '/api/v1/audit?action=evaluation&from=0')).json.events;
      assertEq(audit.length, 2, 'an audit event per evaluation');
      // a regency
      const r3 = await post(regency, { name: 'Evaluasi Kabupaten' });
      assertEq(r3.status, 201, 'regency: created');
      const e3 = r3.json.evaluation;
      assertEq(e3.regions, null, 'regency: regions null');
      const year = new Date(e3.as_of + 7 * 3600000).getUTCFullYear();
      assertEq(e3.report.from, Date.UTC(year, 0, 1) - 7 * 3600000, 'from: the start of the year in WIB');
      assertEq(e3.report.to, e3.as_of, 'to: as_of');
      assertEq(e3.report.programs.length, 6, 'the report\'s programs');
      assert('value_at_from' in e3.report.programs[0].kpis[0], 'KPIs with value_at_from');
      assert(Array.isArray(e3.report.alerts), 'alerts');
      const g3 = await api(regency, `/api/v1/evaluations/${e3.id}`);
      assertEq(JSON.stringify(g3.json.evaluation), JSON.stringify(e3), 'regency: stored whole');
    },
  ],
  [
    'heartbeat: a STATE at least every heartbeat with nothing changed',
    async ({ rec }) => {
      // From case 2 on nothing changed Lampung Tengah's data.
      const start = Date.now();
      await sleep(HEARTBEAT_S * 1000 + 3000);
      const gens = [...new Set(rec.of('lampung-tengah').map((s) => s.json.generated_at))].sort((a, b) => a - b);
      const recent = gens.filter((g) => g >= start - HEARTBEAT_S * 1000);
      assert(recent.length >= 1 && recent.at(-1) >= start, 'a STATE came while nothing changed');
      for (let i = 1; i < gens.length; i++)
        assert(gens[i] - gens[i - 1] <= HEARTBEAT_S * 1000 + 1500, `at most a heartbeat apart (${gens[i] - gens[i - 1]} ms)`);
    },
    30000,
  ],
  [
    'a full spool while STATEs are published: no deadlock',
    async ({ broker, rec }) => {
      const lu = await startPantaud(broker, {
        config: '[mqtt]\nqueue_messages = 100\n[federation]\npublish = yes\nheartbeat = 10s\n',
        args: ['--catalog', path.join(repoRoot, 'config/catalog/lombok-utara.ini')],
      });
      await until(() => rec.of('lombok-utara').length > 0, 15000, 'Lombok Utara\'s first STATE');
      const flood = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, { clientId: `flood-${process.pid}` });
      await new Promise((r) => flood.once('connect', r));
      const t0 = Date.now();
      let sent = 0;
      let healthMax = 0;
      const end = t0 + 14000;
      // 500 messages every 70 ms at most (~7,000 a second): enough to keep a
      // 100-message spool full, and a backlog pantaud stores within the
      // waits below. Unpaced, a fast node queued 194,000 in 14 s, more than
      // the broker took in time (MQTT.js's publish only queues them).
      while (Date.now() < end) {
        const b0 = Date.now();
        for (let i = 0; i < 500; i++, sent++)
          flood.publish(
            'pantau/oss-keliling/van-01/permits_issued',
            JSON.stringify({ value: 1, ts: t0 - 3600000 + sent, labels: { permit: 'nib', desa: `d${sent % 50}` } }),
            { qos: 1 },
          );
        const h0 = Date.now();
        const h = await api(lu, '/healthz', { ms: 5000 });
        healthMax = Math.max(healthMax, Date.now() - h0);
        assert(h.status === 200 || h.status === 503, 'healthz answers');
        await sleep(Math.max(20, 70 - (Date.now() - b0)));
      }
      await new Promise((r) => flood.end(false, {}, r));
      console.log(`# flood: ${sent} messages in 14 s; slowest /healthz ${healthMax} ms`);
      assert((await metric(lu, 'pantau_ingest_queue_waits_total')) > 0, 'the spool was full (Paho waited)');
      await until(
        () => rec.of('lombok-utara').some((s) => s.json.generated_at > t0 + 1000 && s.json.generated_at < end),
        20000,
        'a STATE generated during the flood reached the broker',
      );
      await until(async () => (await metric(lu, 'pantau_ingested_total')) >= sent, 30000, 'every message taken', 200);
      assert(healthMax < 5000, `the loop kept answering (${healthMax} ms)`);
      await until(
        () => rec.of('lombok-utara').some((s) => s.json.programs.find((p) => p.id === 'oss-keliling').kpis.find((k) => k.id === 'nib').current === sent),
        25000,
        'the flood\'s total in a later STATE',
      );
    },
    90000,
  ],
  [
    'retention: thinned to the last of each hour after a day, gone after 400',
    async ({ hub }) => {
      const count = async (id) => (await api(hub, `/api/v1/regions/${id}/history?from=0`)).json?.history?.length;
      // The old states were stored in the second case; the first pass runs a minute after start.
      await until(async () => (await count('sim-t')) === 2 && (await count('sim-u')) === 1, 70000, 'the prune pass', 500);
      const t = (await api(hub, '/api/v1/regions/sim-t/history?from=0')).json.history.map((h) => h.generated_at);
      assertEq(t.join(), [retentionHour + 180000, retentionHour + 3600000 + 60000].join(), 'the last of each hour');
      const u = (await api(hub, '/api/v1/regions/sim-u')).json;
      assert(u.state && u.state.generated_at > Date.now() - 3600000, 'the latest stays');
    },
    80000,
  ],
  [
    'a hub restarted keeps every region and its history',
    async (ctx) => {
      const strip = (regions) => JSON.stringify(regions.map(({ stale, ...r }) => r));
      const sims = (regions) => regions.filter((r) => r.id.startsWith('sim-'));
      const regions = sims((await api(ctx.hub, '/api/v1/regions')).json.regions);
      const history = (await api(ctx.hub, '/api/v1/regions/sim-h/history?from=0')).json.history;
      const evaluations = (await api(ctx.hub, '/api/v1/evaluations')).json.evaluations;
      await ctx.hub.stop();
      ctx.hub = await startPantaud(ctx.broker, { ...ctx.hubOpts, db: ctx.hub.db });
      // The synthetic regions publish no more: their retained states come back
      // from the broker as redeliveries, which change nothing.
      assertEq(strip(sims((await api(ctx.hub, '/api/v1/regions')).json.regions)), strip(regions), 'the same regions, last_seen included');
      assertEq(JSON.stringify((await api(ctx.hub, '/api/v1/regions/sim-h/history?from=0')).json.history), JSON.stringify(history), 'the same history');
      assertEq(JSON.stringify((await api(ctx.hub, '/api/v1/evaluations')).json.evaluations), JSON.stringify(evaluations), 'the same evaluations');
    },
  ],
];

runCases('federation.test.mjs', cases, {
  totalMs: 300000,
  before,
  after: async ({ pub, rec }) => {
    await pub?.close();
    rec?.client.end(true);
  },
});
