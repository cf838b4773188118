// views/regions.js — Wilayah (CONTRACT §7, a hub): every region side by
// side as a card — name, code, province, the six dimensions' progress as
// a heat row (colour by progress, the value written), overall progress and
// health, firing alerts, last heard (stale and never-heard regions marked)
// — sorted (the API's order by code, or province then name, progress,
// health, last heard, alerts) and filtered by province, both kept in the
// hash (#wilayah/urut=provinsi&provinsi=Lampung); #wilayah/<id>
// opens a region's latest STATE: its dimensions and programs drawn as that
// regency's own overview draws them (overview.js's tiles).
import { get } from '../api.js';
import { fill, h } from '../dom.js';
import { num, pct, timeOrDate, dateTime } from '../format.js';
import { t } from '../i18n.js';
import { REGIONS_EVERY_MS, loadRegions, watchRegions } from '../regions.js';
import { state } from '../state.js';
import { badge, statusClass } from '../status.js';
import { dimensionCard, programTile } from './overview.js';
import { DEFAULT_SORT, DIMS, SORTS, listArg, listState, sortRegions } from '../federation.js';

let root = null;
let regionId = null; // #wilayah/<id>: one region
let province = ''; // the filter ('' = all), from the hash
let sort = DEFAULT_SORT; // a key of SORTS, from the hash
let detail = null; // {region, state} of /regions/<id>
let detailError = '';
let detailTimer = null;

// Progress as heat: the status colours, by how far along (null: grey).
export function heatClass(p) {
  if (p === null || p === undefined) return 'idle';
  return p >= 0.66 ? 'good' : p >= 0.33 ? 'warn' : 'bad';
}

function heatRow(r) {
  const byId = new Map((r.dimensions || []).map((d) => [d.id, d]));
  return h(
    'div',
    { class: 'heat', role: 'list', 'aria-label': t('dimensions') },
    DIMS.map((id) => {
      const d = byId.get(id);
      const p = d ? d.progress : null;
      return h(
        'div',
        { class: `heat-cell ${heatClass(p)}`, role: 'listitem', title: `${d?.name || t(id)}: ${pct(p)}`, 'data-dim': id },
        h('span', { class: 'heat-dim' }, t(`short_${id}`)),
        h('span', { class: 'heat-val' }, pct(p)),
      );
    }),
  );
}

function lastSeen(r) {
  if (r.last_seen === null) return h('span', { class: 'region-seen waiting' }, t('notHeard'));
  if (r.stale) return h('span', { class: 'region-seen stale bad-t' }, t('regionStaleLong', { t: timeOrDate(r.last_seen) }));
  return h('span', { class: 'region-seen' }, t('lastSeenAt', { t: timeOrDate(r.last_seen) }));
}

function card(r) {
  const waiting = r.last_seen === null;
  return h(
    'a',
    {
      class: `region ${statusClass(r.health)}${r.stale ? ' is-stale' : ''}${waiting ? ' is-waiting' : ''}`,
      href: `#wilayah/${encodeURIComponent(r.id)}`,
      'data-region': r.id,
    },
    h(
      'div',
      { class: 'region-head' },
      h('span', { class: 'region-name' }, r.name),
      r.code ? h('span', { class: 'region-code' }, r.code) : null,
    ),
    h('div', { class: 'region-prov muted' }, r.province || '–'),
    heatRow(r),
    h(
      'div',
      { class: 'region-overall' },
      h('div', { class: `bar ${heatClass(r.progress)}`, role: 'presentation' }, h('div', { style: `width:${barWidth(r.progress)}%` })),
      h('span', { class: 'region-pct', title: t('overall') }, pct(r.progress)),
      waiting ? null : badge(r.health || 'no_data'),
    ),
    h(
      'div',
      { class: 'region-foot' },
      r.alerts_firing
        ? h('span', { class: 'badge bad region-alerts' }, t('alertsN', { n: num(r.alerts_firing) }))
        : h('span', { class: 'muted region-alerts' }, waiting ? '' : t('noAlertsShort')),
      lastSeen(r),
    ),
  );
}

const barWidth = (p) => (p === null || p === undefined ? 0 : Math.max(0, Math.min(1, p)) * 100).toFixed(1);

// The wall's grid: about 16:9 cells for n regions.
function grid(n) {
  const cols = n <= 3 ? Math.max(n, 1) : Math.ceil(Math.sqrt(n * 1.6));
  return { cols, rows: Math.ceil(n / cols) };
}

// The list's hash: a choice is drawn at once, then kept in the address
// (a new history entry, as #program/<id>: Back undoes it).
const listHash = () => {
  const a = listArg({ sort, province });
  return a ? `#wilayah/${a}` : '#wilayah';
};
function choose() {
  build();
  if (location.hash !== listHash()) location.hash = listHash();
}

function sortSelect() {
  return h(
    'label',
    { class: 'region-sort' },
    `${t('sortBy')} `,
    h(
      'select',
      {
        name: 'sort',
        onchange: (e) => {
          sort = e.target.value;
          choose();
        },
      },
      Object.keys(SORTS).map((k) => h('option', { value: k, selected: k === sort }, t(`sort_${k}`))),
    ),
  );
}

function filterSelect(all) {
  const provinces = [...new Set(all.map((r) => r.province).filter(Boolean))].sort((a, b) => a.localeCompare(b));
  // A province the hash names but no region has (yet): still offered, so
  // that the choice shows what the list is filtered by.
  if (province && !provinces.includes(province) && state.regions !== null) provinces.push(province);
  return h(
    'label',
    { class: 'region-filter' },
    `${t('province')} `,
    h(
      'select',
      {
        name: 'province',
        onchange: (e) => {
          province = e.target.value;
          choose();
        },
      },
      h('option', { value: '', selected: province === '' }, t('allProvinces')),
      provinces.map((p) => h('option', { value: p, selected: p === province }, p)),
    ),
  );
}

function listView() {
  const all = state.regions || [];
  const shown = sortRegions(province ? all.filter((r) => r.province === province) : all, sort);
  const { cols, rows } = grid(shown.length);
  return [
    h(
      'div',
      { class: 'regions-head' },
      h('h1', null, t('regionsTitle', { n: num(all.length) })),
      all.length ? h('div', { class: 'regions-tools' }, sortSelect(), filterSelect(all)) : null,
    ),
    state.regionsError ? h('p', { class: 'note' }, t('error', { e: state.regionsError })) : null,
    shown.length
      ? h('section', { class: 'regions', style: `--cols:${cols};--rows:${rows}`, 'aria-label': t('regions') }, shown.map(card))
      : h('p', { class: 'muted' }, state.regions === null ? t('loading') : all.length ? t('noRegionsIn') : t('noRegions')),
  ];
}

function detailView() {
  const back = h('a', { href: listHash(), class: 'back no-print' }, t('backToRegions'));
  if (detailError) return [back, h('p', { class: 'note' }, detailError)];
  if (!detail) return [back, h('p', { class: 'muted' }, t('loading'))];
  const r = detail.region;
  const s = detail.state;
  const head = h(
    'div',
    { class: 'region-page-head' },
    h('h1', null, r.name, r.code ? h('span', { class: 'sub muted' }, ` ${r.code}`) : null),
    h(
      'p',
      { class: 'muted' },
      [r.province, s ? t('stateAt', { t: dateTime(s.generated_at) }) : null].filter(Boolean).join(' · '),
      ' · ',
      lastSeen(r),
    ),
    s?.units
      ? h(
          'p',
          { class: 'muted' },
          t('unitsLine', { online: num(s.units.online), stale: num(s.units.stale), offline: num(s.units.offline) }),
        )
      : null,
  );
  if (!s) return [back, head, h('p', { class: 'note' }, t('regionWaiting', { name: r.name }))];
  const n = s.programs.length;
  const cols = n <= 3 ? n || 1 : n <= 6 ? 3 : n <= 8 ? 4 : n <= 15 ? 5 : Math.ceil(Math.sqrt(n * 1.8));
  return [
    back,
    head,
    h('section', { class: 'dims', 'aria-label': t('dimensions') }, s.dimensions.map(dimensionCard)),
    n
      ? h(
          'section',
          { class: 'tiles', style: `--cols:${cols};--rows:${Math.ceil(n / cols)}`, 'aria-label': t('regionPrograms', { name: r.name }) },
          s.programs.map((p) => programTile(p, { alerts: s.alerts || [] })),
        )
      : h('p', null, t('noPrograms')),
  ];
}

function build() {
  if (!root) return;
  fill(root, regionId ? detailView() : listView());
}

async function loadDetail() {
  const id = regionId;
  try {
    const d = await get(`/api/v1/regions/${encodeURIComponent(id)}`);
    if (id !== regionId) return;
    detail = d;
    detailError = '';
  } catch (e) {
    if (id !== regionId) return;
    detailError = e.status === 404 ? t('regionUnknown', { id }) : t('error', { e: e.message });
  }
  build();
}

export default {
  mount(el, arg) {
    root = el;
    // #wilayah/<id> is a region; #wilayah or #wilayah/urut=…&provinsi=… the
    // list (a region keeps the list's choice for its way back).
    const list = !arg || arg.includes('=');
    regionId = list ? null : decodeURIComponent(arg);
    if (list) ({ sort, province } = listState(arg));
    detail = null;
    detailError = '';
    build();
    if (regionId) {
      loadDetail();
      detailTimer = setInterval(loadDetail, REGIONS_EVERY_MS);
    } else {
      loadRegions();
      watchRegions();
    }
  },
  paint(what) {
    if (what.has('lang') || (!regionId && what.has('regions'))) build();
  },
  unmount() {
    clearInterval(detailTimer);
    detailTimer = null;
    root = null;
  },
};
