// state.test.mjs — dashboard/src/state.js: what the dashboard keeps, and
// that it stays bounded (only the series a view shows, at most 300 alerts),
// with the API answered by a stand-in fetch and frames never drawn.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';

globalThis.requestAnimationFrame = () => 0; // render.js: nothing is drawn here
const calls = [];
const answers = {
  '/api/v1/programs': { regency: { id: 'r', name: 'R', timezone: '+08:00' }, programs: [{ id: 'p', kpis: [{ id: 'k', current: 1 }] }] },
  '/api/v1/dimensions': { dimensions: [{ id: 'living' }] },
};
globalThis.fetch = async (url) => {
  const path = String(url).split('?')[0];
  calls.push(path);
  const body = answers[path];
  return {
    ok: !!body,
    status: body ? 200 : 404,
    headers: { get: () => 'application/json' },
    json: async () => body || { error: 'not_found' },
  };
};
const s = await import('../../../dashboard/src/state.js');
const { state } = s;

test('seriesKey: labels in key order, none as {}', () => {
  assert.equal(s.seriesKey({ program: 'p', unit: 'u', metric: 'm', labels: { b: '2', a: '1' } }), 'p/u/m{a=1,b=2}');
  assert.equal(s.seriesKey({ program: 'p', unit: 'u', metric: 'm' }), 'p/u/m{}');
});

test('onSamples: only shown series kept, a late sample never replaces a newer one, the last arrival per program', () => {
  const price = (ts, value) => ({ program: 'pasar', unit: 'u1', metric: 'price', labels: { commodity: 'beras' }, ts, value });
  s.onSamples([price(2000, 14000), { program: 'pasar', unit: 'u1', metric: 'visits', ts: 2500, value: 3 }], false);
  assert.equal(state.latest.size, 1, 'visits is not a series a view shows');
  s.onSamples([price(1000, 13000)], false);
  assert.equal(state.latest.get('pasar/u1/price{commodity=beras}').value, 14000, 'the late sample is not the latest');
  assert.equal(state.lastByProgram.get('pasar').value, 13000, 'but it is the last that arrived');
  s.onSamples([{ program: 'other', unit: 'u', metric: 'x', ts: 1, value: 1 }], true);
  assert.equal(state.lastByProgram.has('other'), false, 'a snapshot is not an arrival');
  for (let i = 0; i < 1000; i++) s.onSamples([{ program: 'pasar', unit: `u${i}`, metric: 'visits', ts: i, value: i }], false);
  assert.equal(state.latest.size, 1, 'bounded: series no view shows are not kept');
});

test('onAlert: at most 300, the oldest resolved dropped first', () => {
  state.alerts.clear();
  for (let i = 0; i < 250; i++) s.onAlert({ id: `f${i}`, state: 'firing', fired_at: 10000 + i });
  for (let i = 0; i < 100; i++) s.onAlert({ id: `r${i}`, state: 'resolved', fired_at: 20000 + i });
  assert.equal(state.alerts.size, 300);
  assert.equal([...state.alerts.values()].filter((a) => a.state === 'firing').length, 250, 'every firing alert kept');
  assert.ok(state.alerts.has('r99') && !state.alerts.has('r0'), 'the newest resolved kept, the oldest dropped');
});

test('onKpi: replaces or adds a KPI; the programs are re-read once, 5 s later', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    state.programs = [{ id: 'p', kpis: [{ id: 'k', current: 0 }] }];
    calls.length = 0;
    s.onKpi('p', { id: 'k', current: 5 });
    s.onKpi('p', { id: 'k2', current: 1 });
    s.onKpi('nope', { id: 'k', current: 9 });
    assert.deepEqual(
      state.programs[0].kpis.map((k) => [k.id, k.current]),
      [
        ['k', 5],
        ['k2', 1],
      ],
    );
    assert.deepEqual(calls, [], 'not at once');
    mock.timers.tick(5000);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(calls.sort(), ['/api/v1/dimensions', '/api/v1/programs'], 'one re-read for the three frames');
    assert.equal(state.regency.timezone, '+08:00');
    assert.deepEqual(state.dimensions, [{ id: 'living' }]);
  } finally {
    mock.timers.reset();
  }
});

test('setConn: a change of state is stamped, the same state is not', () => {
  s.setConn('live');
  const since = state.connSince;
  s.setConn('live');
  assert.equal(state.connSince, since);
  s.setConn('lost');
  assert.equal(state.conn, 'lost');
  assert.ok(state.connSince >= since);
});

test('loadSeries: the latest of the shown series that have a sample', async () => {
  state.latest.clear();
  answers['/api/v1/series'] = {
    series: [
      { program: 'pasar', unit: 'u1', metric: 'price', labels: {}, last_ts: 5, last_value: 100 },
      { program: 'pasar', unit: 'u2', metric: 'price', labels: {}, last_ts: null, last_value: null },
      { program: 'pasar', unit: 'u1', metric: 'visits', labels: {}, last_ts: 5, last_value: 1 },
    ],
  };
  await s.loadSeries();
  assert.deepEqual([...state.latest.keys()], ['pasar/u1/price{}']);
});
