// federation.test.mjs — dashboard/src/federation.js: #wilayah's orders and
// its hash state, and two evaluations compared (CONTRACT §7).
import assert from 'node:assert/strict';
import { test } from 'node:test';

const f = await import('../../../dashboard/src/federation.js');

const R = (id, o = {}) => ({
  id,
  name: id,
  code: null,
  province: null,
  last_seen: 1000,
  progress: null,
  health: null,
  alerts_firing: 0,
  dimensions: [],
  ...o,
});
// The API's order (by code).
const regions = [
  R('lombok-barat', { name: 'Lombok Barat', province: 'Nusa Tenggara Barat', progress: 0.5, health: 'at_risk', last_seen: 500 }),
  R('lampung-tengah', { name: 'Lampung Tengah', province: 'Lampung', progress: 0.9, health: 'on_track', alerts_firing: 2 }),
  R('bima', { name: 'Kota Bima', province: 'Nusa Tenggara Barat', last_seen: null }),
  R('dompu', { name: 'Dompu', province: 'Nusa Tenggara Barat', progress: 0.2, health: 'missed', alerts_firing: 5, last_seen: 900 }),
  R('lepas', { name: 'Aceh Lepas', progress: 0.5, health: 'no_data' }),
];
// Numbers in names in their order.
test('sortRegions: "Kabupaten 2" before "Kabupaten 10"', () => {
  const rs = [R('k10', { name: 'Kabupaten 10' }), R('k2', { name: 'Kabupaten 2' })];
  assert.deepEqual(
    f.sortRegions(rs, 'nama').map((r) => r.id),
    ['k2', 'k10'],
  );
});
const ids = (rs) => rs.map((r) => r.id);

test('sortRegions: every order, ties in the API order, missing values last', () => {
  const cases = [
    ['kode', ['lombok-barat', 'lampung-tengah', 'bima', 'dompu', 'lepas']],
    ['provinsi', ['lampung-tengah', 'dompu', 'bima', 'lombok-barat', 'lepas']],
    ['nama', ['lepas', 'dompu', 'bima', 'lampung-tengah', 'lombok-barat']],
    ['kemajuan-rendah', ['dompu', 'lombok-barat', 'lepas', 'lampung-tengah', 'bima']],
    ['kemajuan-tinggi', ['lampung-tengah', 'lombok-barat', 'lepas', 'dompu', 'bima']],
    ['kesehatan', ['dompu', 'lombok-barat', 'lepas', 'lampung-tengah', 'bima']],
    ['terdengar', ['bima', 'lombok-barat', 'dompu', 'lampung-tengah', 'lepas']],
    ['peringatan', ['dompu', 'lampung-tengah', 'lombok-barat', 'bima', 'lepas']],
    ['no-such-order', ['lombok-barat', 'lampung-tengah', 'bima', 'dompu', 'lepas']],
  ];
  for (const [key, want] of cases) assert.deepEqual(ids(f.sortRegions(regions, key)), want, key);
  assert.deepEqual(ids(regions), ['lombok-barat', 'lampung-tengah', 'bima', 'dompu', 'lepas'], 'the input is not reordered');
});

test('listState/listArg: the hash both ways, defaults left out, junk ignored', () => {
  const cases = [
    // [arg, state, arg written back]
    [null, { sort: 'kode', province: '' }, ''],
    ['', { sort: 'kode', province: '' }, ''],
    ['urut=provinsi', { sort: 'provinsi', province: '' }, 'urut=provinsi'],
    ['urut=kemajuan-rendah&provinsi=Nusa+Tenggara+Barat', { sort: 'kemajuan-rendah', province: 'Nusa Tenggara Barat' }, null],
    ['provinsi=Nusa%20Tenggara%20Barat', { sort: 'kode', province: 'Nusa Tenggara Barat' }, 'provinsi=Nusa+Tenggara+Barat'],
    ['urut=tidak-ada', { sort: 'kode', province: '' }, ''],
    ['lampung-tengah', { sort: 'kode', province: '' }, ''], // a region's id is no list state
  ];
  for (const [arg, want, back] of cases) {
    const s = f.listState(arg);
    assert.deepEqual(s, want, String(arg));
    assert.equal(f.listArg(s), back ?? arg, `written back: ${arg}`);
  }
});

const dims = (o) => f.DIMS.map((id) => ({ id, name: id, progress: id in o ? o[id] : 0.5 }));
const hubEval = (regions) => ({ id: 1, name: 'E', as_of: 0, regions, report: null });

test('compareEvaluations (hub): rises and falls per region and dimension, biggest first, the ones in one only', () => {
  const a = hubEval([
    R('a', { progress: 0.4, dimensions: dims({ governance: 0.2, economy: 0.6 }) }),
    R('b', { progress: 0.7, dimensions: dims({ living: 0.8, environment: null }) }),
    R('c', { progress: 0.5, dimensions: dims({}) }),
    R('gone', { progress: 0.1, dimensions: dims({}) }),
    R('w', { last_seen: null }),
  ]);
  const b = hubEval([
    R('a', { progress: 0.55, dimensions: dims({ governance: 0.5, economy: 0.5 }) }),
    R('b', { progress: 0.45, dimensions: dims({ living: 0.3, environment: 0.4 }) }),
    R('c', { progress: 0.5, dimensions: dims({}) }),
    R('new', { progress: 0.3, dimensions: dims({}) }),
    R('w', { last_seen: null }),
  ]);
  const c = f.compareEvaluations(a, b);
  assert.equal(c.kind, 'regions');
  assert.deepEqual(
    c.rows.map((r) => [r.id, r.d]),
    [
      ['b', -25],
      ['a', 15],
      ['c', 0],
      ['w', null],
    ],
  );
  const ra = c.rows.find((r) => r.id === 'a');
  assert.deepEqual([ra.dims.governance.d, ra.dims.economy.d, ra.dims.living.d], [30, -10, 0]);
  const rb = c.rows.find((r) => r.id === 'b');
  assert.deepEqual([rb.dims.living.d, rb.dims.environment], [-50, { from: null, to: 0.4, d: null }]);
  assert.deepEqual(c.counts, { up: 1, down: 1, same: 1, none: 1 });
  assert.deepEqual(
    c.only.map((r) => [r.id, r.in]),
    [
      ['new', 'to'],
      ['gone', 'from'],
    ],
  );
  const byId = Object.fromEntries(c.dims.map((d) => [d.id, d]));
  assert.deepEqual([byId.governance.rose, byId.governance.fell, byId.governance.same, byId.governance.d], [1, 0, 2, 10]);
  assert.deepEqual([byId.economy.rose, byId.economy.fell, byId.economy.d], [0, 1, -3.3]);
  assert.deepEqual([byId.living.fell, byId.living.down], [1, { id: 'b', name: 'b', d: -50 }]);
  assert.deepEqual([byId.environment.rose, byId.environment.fell, byId.environment.same], [0, 0, 2], 'null → value is not a rise');
  assert.deepEqual(
    c.dims.map((d) => d.id),
    ['living', 'governance', 'economy', 'branding', 'society', 'environment'],
    'biggest mean change first',
  );
});

test('change: whole points as the pages show them; direction', () => {
  assert.equal(f.change(0.43, 0.58), 15);
  assert.equal(f.change(0.004, 0.0049), 0, 'under half a point is no change');
  assert.equal(f.change(null, 0.5), null);
  assert.deepEqual([5, -1, 0, null].map(f.direction), ['up', 'down', 'same', 'none']);
});

test('compareEvaluations (regency): programs and its own dimensions; mixed kinds cannot be compared', () => {
  const rep = (p, d) => ({
    id: 2,
    name: 'R',
    as_of: 0,
    regions: null,
    report: { dimensions: dims(d), programs: p.map(([id, progress]) => ({ id, name: id, dimension: 'living', progress })) },
  });
  const c = f.compareEvaluations(
    rep(
      [
        ['x', 0.1],
        ['y', 0.5],
      ],
      { living: 0.3 },
    ),
    rep(
      [
        ['y', 0.9],
        ['x', 0.2],
        ['z', 0],
      ],
      { living: 0.55 },
    ),
  );
  assert.equal(c.kind, 'programs');
  assert.deepEqual(
    c.rows.map((r) => [r.id, r.d, r.dimension]),
    [
      ['y', 40, 'living'],
      ['x', 10, 'living'],
    ],
  );
  assert.deepEqual(
    c.only.map((r) => r.id),
    ['z'],
  );
  assert.deepEqual([c.dims[0].id, c.dims[0].d], ['living', 25]);
  assert.equal(f.compareEvaluations(hubEval([]), rep([], {})).kind, 'none');
});
