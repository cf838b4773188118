// format.test.mjs — dashboard/src/format.js: numbers, percentages and times
// as Indonesian (and English) readers see them, in the regency's time zone.
import assert from 'node:assert/strict';
import { test } from 'node:test';

// i18n.js's setLang marks the page's language: a stand-in document.
globalThis.document = { documentElement: {} };
const { setLang } = await import('../../../dashboard/src/i18n.js');
const f = await import('../../../dashboard/src/format.js');

// 2026-12-02T07:05:00Z = 14.05 WIB (+07:00), 15.05 WITA (+08:00).
const T = Date.UTC(2026, 11, 2, 7, 5);

function inLang(lang, fn) {
  setLang(lang);
  try {
    fn();
  } finally {
    setLang('id');
  }
}

test('num: digits by size, id-ID separators, a dash for no number', () => {
  assert.equal(f.num(12345.5), '12.346');
  assert.equal(f.num(42.26), '42,3');
  assert.equal(f.num(3.14159), '3,14');
  assert.equal(f.num(12345.5, 2), '12.345,5');
  for (const v of [null, undefined, NaN, Infinity]) assert.equal(f.num(v), '–');
  inLang('en', () => assert.equal(f.num(12345.5, 1), '12,345.5'));
});

test('compact and withUnit: large values short, units placed as read', () => {
  assert.equal(f.compact(999999), '999.999');
  assert.equal(f.compact(8.5e9), '8,5\u00a0M'); // a no-break space, as Intl writes it
  inLang('en', () => assert.equal(f.compact(8.5e9), '8.5bn'));
  assert.equal(f.withUnit(14500, 'Rp'), 'Rp 14.500');
  assert.equal(f.withUnit(50, '%'), '50 %');
  assert.equal(f.withUnit(3, 'kampung'), '3 kampung');
  assert.equal(f.withUnit(3), '3');
  assert.equal(f.withUnit(null, 'Rp'), '–');
});

test('pct and signedPct: fractions as percentages; deviations always signed, one decimal', () => {
  assert.equal(f.pct(0.251), '25 %');
  assert.equal(f.pct(2.51), '251 %');
  assert.equal(f.pct(0.2512, 1), '25,1 %');
  assert.equal(f.pct(null), '–');
  assert.equal(f.signedPct(0.123), '+12,3 %');
  assert.equal(f.signedPct(-0.01), '−1,0 %');
  assert.equal(f.signedPct(0), '0,0 %');
  assert.equal(f.signedPct(undefined), '–');
});

test('setTimezone: the three Indonesian zones by name, others as UTC±HH:MM, bad input ignored', () => {
  try {
    f.setTimezone('+08:00');
    assert.equal(f.tzLabel(), 'WITA');
    assert.equal(f.tzOffsetMs(), 8 * 3600e3);
    f.setTimezone('+05:30');
    assert.equal(f.tzLabel(), 'UTC+05:30');
    assert.equal(f.tzOffsetMs(), 5.5 * 3600e3);
    f.setTimezone('-03:00');
    assert.equal(f.tzOffsetMs(), -3 * 3600e3);
    f.setTimezone('WIB');
    f.setTimezone(undefined);
    assert.equal(f.tzOffset(), '-03:00');
  } finally {
    f.setTimezone('+07:00');
  }
  assert.equal(f.tzLabel(), 'WIB');
});

test('dateTime, date, timeOrDate, clock: Indonesian month names and dotted times', () => {
  assert.equal(f.dateTime(T), '2 Des 2026 14.05 WIB');
  assert.equal(f.date(T), '2 Des 2026');
  assert.equal(f.timeOrDate(T, T + 3600e3), '14.05');
  assert.equal(f.timeOrDate(T, T + 86400e3), '2 Des 2026 14.05 WIB');
  assert.equal(f.clock(T + 9000), '14.05.09');
  assert.equal(f.dateTime(0), '–');
  inLang('en', () => {
    assert.equal(f.dateTime(T), '2 Dec 2026 14:05 WIB');
    assert.equal(f.clock(T), '14:05:00');
  });
  try {
    f.setTimezone('+08:00');
    assert.equal(f.dateTime(T), '2 Des 2026 15.05 WITA');
  } finally {
    f.setTimezone('+07:00');
  }
});

test('local days: midnight, ISO days and RFC 3339 in the regency zone', () => {
  const midnight = Date.UTC(2026, 11, 1, 17); // 2026-12-02T00:00+07:00
  assert.equal(f.localMidnight(T), midnight);
  assert.equal(f.localDay(midnight), f.localDay(midnight + 86400e3 - 1));
  assert.notEqual(f.localDay(midnight - 1), f.localDay(midnight));
  assert.equal(f.isoDay(T), '2026-12-02');
  assert.equal(f.fromIsoDay('2026-12-02'), midnight);
  assert.equal(f.fromIsoDay('2026-12-02', true), midnight + 86400e3 - 1);
  assert.equal(f.isoLocal(T), '2026-12-02T14:05');
  assert.equal(f.rfc3339('2026-12-02T14:05'), '2026-12-02T14:05:00+07:00');
});
