// offline.test.mjs — dashboard/src/offline_rules.js: what a person types
// read as a number (or refused before it is kept), and what an answer of
// POST /api/v1/ingest means for an entry kept on the device (CONTRACT §9).
import assert from 'node:assert/strict';
import { test } from 'node:test';

const { ingestPath, outcome, parseValue } = await import('../../../dashboard/src/offline_rules.js');

test('parseValue: decimal comma or point, thousands groups, a refusal for anything else', () => {
  const cases = [
    // [typed, lang, value]
    ['17,4', 'id', 17.4],
    ['17.4', 'id', 17.4],
    ['14.500', 'id', 14500],
    ['1.234.567', 'id', 1234567],
    ['12.345,5', 'id', 12345.5],
    ['14,500', 'en', 14500],
    ['12,345.5', 'en', 12345.5],
    ['14,500', 'id', 14.5],
    ['14.500', 'en', 14.5],
    [' 42 ', 'id', 42],
    ['-3', 'id', -3],
    ['−3,5', 'id', -3.5],
    ['0', 'id', 0],
    ['1 234', 'id', 1234],
    ['', 'id', null],
    ['12a', 'id', null],
    ['1e3', 'id', null],
    ['--1', 'id', null],
    ['1,', 'id', null],
    ['.5', 'id', null],
    ['1.2.3', 'id', null],
    ['1,2,3', 'id', null],
    ['12.34,5', 'id', null],
    ['Infinity', 'id', null],
    [null, 'id', null],
  ];
  for (const [typed, lang, want] of cases) assert.equal(parseValue(typed, lang), want, `${JSON.stringify(typed)} (${lang})`);
});

test('outcome: stored, rejected for good, wait for a sign-in, or try again', () => {
  const cases = [
    [200, { stored: 1, rejected: [] }, { kind: 'stored' }],
    [200, { stored: 0, rejected: [{ index: 0, reason: 'ts_in_future' }] }, { kind: 'rejected', error: 'ts_in_future' }],
    [400, { error: 'bad_topic', message: '…' }, { kind: 'rejected', error: 'bad_topic' }],
    [403, { error: 'forbidden_program' }, { kind: 'rejected', error: 'forbidden_program' }],
    [413, null, { kind: 'rejected', error: 'HTTP 413' }],
    [401, { error: 'unauthorized' }, { kind: 'signin' }],
    [0, null, { kind: 'retry' }],
    [429, { error: 'too_many_requests' }, { kind: 'retry' }],
    [503, { error: 'stopping' }, { kind: 'retry' }],
  ];
  for (const [status, body, want] of cases) assert.deepEqual(outcome(status, body), want, `${status} ${JSON.stringify(body)}`);
});

test('ingestPath: each part escaped and trimmed, so a refused name still reaches the server', () => {
  assert.equal(
    ingestPath({ program: 'grebek-stunting', unit: ' posyandu-1 ', metric: 'bb' }),
    '/api/v1/ingest/grebek-stunting/posyandu-1/bb',
  );
  assert.equal(ingestPath({ program: 'p', unit: 'Pasar Baru/2', metric: 'price' }), '/api/v1/ingest/p/Pasar%20Baru%2F2/price');
});
