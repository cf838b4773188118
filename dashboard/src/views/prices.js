// views/prices.js — Harga: the SIMAS BAPOKTING board. Every `price` series
// (commodity × market) with its latest value, the commodity's reference
// (the latest `reference_price` with the same commodity label in the same
// program, as the harga-melonjak rule compares), the deviation, the change
// since yesterday's last price; sorted by deviation, spikes (≥ 10 % above
// the reference, or an active alert on the series) marked.
import { get, qs } from '../api.js';
import { fill, h } from '../dom.js';
import { localMidnight, num, signedPct, timeOrDate, tzOffset } from '../format.js';
import { t } from '../i18n.js';
import { WALL_ROWS, isKiosk } from '../nav.js';
import { seriesKey, state } from '../state.js';
import { throttle } from '../throttle.js';

const SPIKE = 0.1;
let root = null;
let yesterday = new Map(); // series key -> yesterday's last price
let timer = null;

function rows() {
  const refs = new Map();
  for (const s of state.latest.values()) {
    if (s.metric !== 'reference_price') continue;
    const k = `${s.program}|${s.labels?.commodity}`;
    if (!refs.has(k) || refs.get(k).ts < s.ts) refs.set(k, s);
  }
  const alerting = new Set([...state.alerts.values()].filter((a) => a.state === 'firing').map((a) => seriesKey(a)));
  const out = [];
  for (const s of state.latest.values()) {
    if (s.metric !== 'price') continue;
    const ref = refs.get(`${s.program}|${s.labels?.commodity}`);
    const dev = ref && ref.value ? s.value / ref.value - 1 : null;
    const key = seriesKey(s);
    const y = yesterday.get(key);
    out.push({ s, ref, dev, change: y === undefined ? null : s.value - y, spike: (dev !== null && dev >= SPIKE) || alerting.has(key) });
  }
  out.sort((a, b) => (b.dev ?? -Infinity) - (a.dev ?? -Infinity) || a.s.labels?.commodity?.localeCompare(b.s.labels?.commodity));
  return out;
}

const pretty = (slug) => (slug || '–').replace(/-/g, ' ');

function build() {
  const all = rows();
  const list = isKiosk() ? all.slice(0, WALL_ROWS) : all;
  const n = list.length;
  // "Change today" needs yesterday's prices; without any, no column of dashes.
  const changes = list.some((r) => r.change !== null);
  const cols = ['commodity', 'market', 'price', 'reference', 'deviation', ...(changes ? ['changeToday'] : []), 'updated'];
  // On the wall every row must fit: the row height follows the count.
  fill(
    root,
    h('h1', null, t('pricesTitle')),
    n
      ? h(
          'table',
          { class: 'grid prices', style: `--n:${n}` },
          h('caption', { class: 'sr-only' }, t('pricesTitle')),
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              cols.map((c) =>
                h('th', { scope: 'col', class: ['price', 'reference', 'deviation', 'changeToday'].includes(c) ? 'num' : null }, t(c)),
              ),
            ),
          ),
          h(
            'tbody',
            null,
            list.map((r) =>
              h(
                'tr',
                { class: r.spike ? 'spike' : null },
                h(
                  'th',
                  { scope: 'row' },
                  pretty(r.s.labels?.commodity),
                  r.spike ? h('span', { class: 'badge bad' }, `▲ ${t('spike')}`) : null,
                ),
                h('td', { class: 'market' }, pretty(r.s.unit)),
                h('td', { class: 'num' }, `Rp ${num(r.s.value)}`),
                h('td', { class: 'num' }, r.ref ? `Rp ${num(r.ref.value)}` : '–'),
                h(
                  'td',
                  { class: `num ${r.dev === null ? '' : r.dev >= SPIKE ? 'bad-t' : r.dev > 0 ? 'warn-t' : 'good-t'}` },
                  signedPct(r.dev),
                ),
                changes
                  ? h(
                      'td',
                      { class: 'num' },
                      r.change === null ? '–' : `${r.change > 0 ? '+' : r.change < 0 ? '−' : ''}${num(Math.abs(r.change))}`,
                    )
                  : null,
                h('td', null, timeOrDate(r.s.ts)),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, t('noPrices')),
    all.length > n ? h('p', { class: 'muted more' }, t('more', { n: num(all.length - n) })) : null,
  );
}

async function loadYesterday() {
  const programs = new Set([...state.latest.values()].filter((s) => s.metric === 'price').map((s) => s.program));
  const today = localMidnight(Date.now());
  const next = new Map();
  for (const program of programs) {
    const q = qs({ program, metric: 'price', from: today - 86400e3, to: today - 1, step: 86400e3, tz: tzOffset(), agg: 'last' });
    const r = await get(`/api/v1/query?${q}`);
    for (const s of r.series) if (s.points.length) next.set(seriesKey(s), s.points[s.points.length - 1][1]);
  }
  yesterday = next;
  if (root) build();
}

// Prices arrive often: rebuild at most twice a second.
const rebuild = throttle(() => root && build(), 500);
export default {
  mount(el) {
    root = el;
    build();
    loadYesterday().catch(() => {});
    timer = setInterval(() => loadYesterday().catch(() => {}), 300e3);
  },
  paint(what) {
    if (!(what.has('samples') || what.has('alerts') || what.has('lang'))) return;
    if (what.has('lang')) rebuild.now();
    else rebuild();
  },
  unmount() {
    clearInterval(timer);
    rebuild.cancel();
    root = null;
  },
};
