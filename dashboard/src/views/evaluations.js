// views/evaluations.js — Evaluasi (CONTRACT §7, any pantaud): the frozen
// evaluations, newest as_of first; #evaluasi/<id> shows one as a page that
// prints to A4 (report.js's page for its `report`, a regions table for a
// hub's `regions`); an admin creates one (name, as_of optional: now).
// #evaluasi/banding[/<from>..<to>] compares two (by default the newest and
// the one before): what rose and fell per region (a regency's: per
// program) and per dimension, biggest change first, computed here from
// the two frozen documents (federation.js).
import { ApiError, get, post } from '../api.js';
import { fill, h } from '../dom.js';
import { date, dateTime, isoLocal, num, pct, rfc3339 } from '../format.js';
import { t } from '../i18n.js';
import { state } from '../state.js';
import { badge } from '../status.js';
import { body as reportBody, table } from './report.js';
import { DIMS, compareEvaluations, direction } from '../federation.js';
import { WALL_ROWS, isKiosk } from '../nav.js';

let root = null;
let evalId = null;
let list = null; // [{id, name, as_of, created_at, created_by}]
let one = null; // EVALUATION
let error = '';
let note = '';
let pending = false;
let cmp = null; // #evaluasi/banding…: {from, to} (ids; null: the defaults)
let pair = null; // the two EVALUATIONs compared, [from, to]
// Evaluations never change: the two compared are kept while compared.
const docs = new Map();

// POST is for the admin role: a signed-in admin or an admin's token.
const canCreate = () => (state.me?.user?.role || state.me?.role) === 'admin';

async function loadList() {
  try {
    list = (await get('/api/v1/evaluations')).evaluations;
    error = '';
  } catch (e) {
    error = t('error', { e: e.message });
  }
  build();
}

async function loadOne() {
  const id = evalId;
  try {
    const r = await get(`/api/v1/evaluations/${encodeURIComponent(id)}`);
    if (id !== evalId) return;
    one = r.evaluation;
    error = '';
  } catch (e) {
    if (id !== evalId) return;
    error = e instanceof ApiError && e.status === 404 ? t('evalNotFound') : t('error', { e: e.message });
  }
  build();
}

async function doc(id) {
  if (!docs.has(id)) docs.set(id, (await get(`/api/v1/evaluations/${encodeURIComponent(id)}`)).evaluation);
  return docs.get(id);
}

// The list, then the two documents (the newest and the one before unless
// the hash names them). gen: a later mount makes this answer moot.
let gen = 0;
async function loadPair() {
  const g = gen;
  try {
    const l = (await get('/api/v1/evaluations')).evaluations;
    if (g !== gen) return;
    list = l;
    if (!cmp) {
      if (list.length < 2) return build();
      cmp = { from: String(list[1].id), to: String(list[0].id) };
    }
    const ids = [cmp.from, cmp.to];
    const got = await Promise.all(ids.map(doc));
    if (g !== gen) return;
    for (const k of docs.keys()) if (!ids.includes(k)) docs.delete(k);
    pair = got;
    error = '';
  } catch (e) {
    if (g !== gen) return;
    error = e instanceof ApiError && e.status === 404 ? t('evalNotFound') : t('error', { e: e.message });
  }
  build();
}

async function create(ev) {
  ev.preventDefault();
  if (pending) return;
  const f = new FormData(ev.target);
  const name = String(f.get('name') || '').trim();
  const local = String(f.get('as_of') || '');
  const body = { name };
  if (local) body.as_of = Date.parse(rfc3339(local));
  if (body.as_of > Date.now()) {
    note = t('evalFuture');
    return build();
  }
  pending = true;
  note = '';
  build();
  try {
    const r = await post('/api/v1/evaluations', body);
    note = t('evalCreated', { name: r.evaluation.name });
    pending = false;
    await loadList();
  } catch (e) {
    pending = false;
    note = t('error', { e: e.message });
    build();
  }
}

function form() {
  return h(
    'form',
    { class: 'filters no-print eval-form', onsubmit: create, 'aria-label': t('newEvaluation') },
    h('h2', null, t('newEvaluation')),
    h('label', null, t('evalName'), ' ', h('input', { name: 'name', required: true, maxlength: '200', size: '28' })),
    h('label', null, t('asOfOptional'), ' ', h('input', { name: 'as_of', type: 'datetime-local', max: isoLocal(Date.now()) })),
    h('button', { type: 'submit', class: 'on', disabled: pending }, pending ? t('creating') : t('create')),
  );
}

function listView() {
  return [
    h(
      'div',
      { class: 'regions-head' },
      h('h1', null, t('evaluations')),
      list?.length >= 2 ? h('a', { href: '#evaluasi/banding', class: 'compare-link' }, t('compareTwo')) : null,
    ),
    canCreate() ? form() : null,
    note ? h('p', { class: 'note', role: 'status' }, note) : null,
    error ? h('p', { class: 'note' }, error) : null,
    list === null
      ? h('p', { class: 'muted' }, t('loading'))
      : list.length
        ? table(
            [t('evalName'), t('asOf'), t('createdAt'), t('createdBy')],
            list.map((e) =>
              h(
                'tr',
                { 'data-eval': e.id },
                h('th', { scope: 'row' }, h('a', { href: `#evaluasi/${encodeURIComponent(e.id)}` }, e.name)),
                h('td', null, dateTime(e.as_of)),
                h('td', null, dateTime(e.created_at)),
                h('td', null, e.created_by || '–'),
              ),
            ),
            'evaluations',
          )
        : h('p', { class: 'muted' }, t('noEvaluations')),
  ];
}

function regionsTable(regions) {
  return table(
    [
      t('evalName'),
      t('code'),
      t('province'),
      ...DIMS.map((d) => h('abbr', { title: t(d) }, t(`short_${d}`))),
      t('overall'),
      t('health'),
      t('alertsFiring'),
      t('regionLastSeen'),
    ],
    regions.map((r) =>
      h(
        'tr',
        { 'data-region': r.id },
        h('th', { scope: 'row' }, r.name),
        h('td', null, r.code || '–'),
        h('td', null, r.province || '–'),
        DIMS.map((d) => h('td', { class: 'num' }, pct((r.dimensions || []).find((x) => x.id === d)?.progress ?? null))),
        h('td', { class: 'num' }, pct(r.progress)),
        h('td', null, r.last_seen === null ? t('notHeard') : badge(r.health || 'no_data')),
        h('td', { class: 'num' }, num(r.alerts_firing || 0)),
        h('td', null, r.last_seen === null ? '–' : `${dateTime(r.last_seen)}${r.stale ? ` ${t('regionStale')}` : ''}`),
      ),
    ),
    'eval-regions',
  );
}

function pageView() {
  const back = h(
    'div',
    { class: 'filters no-print' },
    h('a', { href: '#evaluasi', class: 'back' }, t('backToEvaluations')),
    h('button', { type: 'button', onclick: () => window.print(), disabled: !one }, t('print')),
  );
  if (error) return [back, h('p', { class: 'note' }, error)];
  if (!one) return [back, h('p', { class: 'muted' }, t('loading'))];
  const e = one;
  return [
    back,
    h(
      'article',
      { class: 'report evaluation' },
      h(
        'header',
        null,
        h('h1', null, e.name),
        h('p', null, t('evalMeta', { asOf: dateTime(e.as_of), at: dateTime(e.created_at), by: e.created_by || '–' })),
      ),
      e.regions ? [h('h2', null, t('evalRegions')), regionsTable(e.regions)] : null,
      !e.regions && !e.report ? h('p', { class: 'muted' }, t('evalEmpty')) : null,
    ),
    e.report ? reportBody(e.report) : null,
  ];
}

// ---- two evaluations compared ----

const ARROW = { up: '▲', down: '▼', same: '=', none: '' };
const signed = (d) => (d > 0 ? `+${num(d, 0)}` : d < 0 ? `−${num(-d, 0)}` : num(0, 0));
const signed1 = (d) => (d > 0 ? `+${num(d, 1)}` : d < 0 ? `−${num(-d, 1)}` : num(0, 0));

// A change as arrow, word (for screen readers) and signed points: never
// the colour alone.
function chg(d, { unit = false, one = false, title = null } = {}) {
  const dir = direction(d);
  if (dir === 'none') return h('span', { class: 'chg none', title }, '–');
  const v = one ? signed1(d) : signed(d);
  return h(
    'span',
    { class: `chg ${dir}`, title, 'data-d': String(d) },
    h('span', { class: 'chg-arrow', 'aria-hidden': 'true' }, ARROW[dir]),
    h('span', { class: 'sr-only' }, `${t(`chg_${dir}`)} `),
    unit ? t('pointsN', { n: v }) : v,
  );
}

const evalLabel = (e) => `${e.name} (${date(e.as_of)})`;

function pickForm() {
  const pick = (name, value) =>
    h(
      'label',
      null,
      t(name === 'from' ? 'compareFrom' : 'compareTo'),
      ' ',
      h(
        'select',
        {
          name,
          onchange: (e) => {
            const next = { ...cmp, [name]: e.target.value };
            location.hash = `#evaluasi/banding/${next.from}..${next.to}`;
          },
        },
        list.map((e) => h('option', { value: String(e.id), selected: String(e.id) === value }, evalLabel(e))),
      ),
    );
  return h(
    'form',
    { class: 'filters no-print compare-pick', onsubmit: (e) => e.preventDefault() },
    pick('from', cmp.from),
    pick('to', cmp.to),
    h('button', { type: 'button', onclick: () => (location.hash = `#evaluasi/banding/${cmp.to}..${cmp.from}`) }, t('compareSwap')),
    h('button', { type: 'button', onclick: () => window.print(), disabled: !pair }, t('print')),
  );
}

// The wall shows the biggest changes that fit and says how many more.
const wallCut = (rows) => (isKiosk() ? rows.slice(0, WALL_ROWS) : rows);
const more = (rows) =>
  isKiosk() && rows.length > WALL_ROWS ? h('p', { class: 'more muted' }, t('more', { n: num(rows.length - WALL_ROWS, 0) })) : null;

function rowsTable(c, rows, a, b) {
  const regions = c.kind === 'regions';
  const cols = [
    regions ? t('region') : t('program'),
    regions ? t('province') : t('dimensions'),
    h('span', null, t('progressIn', { name: a.name })),
    h('span', null, t('progressIn', { name: b.name })),
    t('changeCol'),
    ...(regions ? DIMS.map((d) => h('abbr', { title: `${t(d)} (${t('changePoints')})` }, t(`short_${d}`))) : []),
  ];
  const tbl = table(
    cols,
    wallCut(rows).map((r) =>
      h(
        'tr',
        { 'data-row': r.id, class: `chg-${direction(r.d)}` },
        h('th', { scope: 'row' }, r.name, regions && r.code ? h('span', { class: 'muted sub' }, ` ${r.code}`) : null),
        h('td', null, regions ? r.province || '–' : r.dimension ? t(r.dimension) : '–'),
        h('td', { class: 'num' }, pct(r.from)),
        h('td', { class: 'num' }, pct(r.to)),
        h('td', { class: 'num', 'data-dim': 'overall' }, chg(r.d, { unit: true })),
        regions
          ? DIMS.map((d) => {
              const x = r.dims[d];
              return h('td', { class: 'num', 'data-dim': d }, chg(x.d, { title: `${t(d)}: ${pct(x.from)} → ${pct(x.to)}` }));
            })
          : null,
      ),
    ),
    'eval-compare',
  );
  return [tbl, more(rows)];
}

function dimsTable(c) {
  const regions = c.kind === 'regions';
  const best = (x) => (x ? `${x.name} (${signed(x.d)})` : '–');
  return table(
    regions
      ? [t('dimensions'), t('meanChange'), t('roseIn'), t('fellIn'), t('sameIn'), t('biggestRise'), t('biggestFall')]
      : [t('dimensions'), t('progressFrom'), t('progressTo'), t('changeCol')],
    c.dims.map((d) =>
      h(
        'tr',
        { 'data-dim': d.id, class: `chg-${direction(d.d)}` },
        h('th', { scope: 'row' }, d.name || t(d.id)),
        regions
          ? [
              h('td', { class: 'num' }, chg(d.d, { unit: true, one: true })),
              h('td', { class: 'num', 'data-n': 'rose' }, num(d.rose, 0)),
              h('td', { class: 'num', 'data-n': 'fell' }, num(d.fell, 0)),
              h('td', { class: 'num', 'data-n': 'same' }, num(d.same, 0)),
              h('td', null, best(d.up)),
              h('td', null, best(d.down)),
            ]
          : [
              h('td', { class: 'num' }, pct(d.from)),
              h('td', { class: 'num' }, pct(d.to)),
              h('td', { class: 'num' }, chg(d.d, { unit: true })),
            ],
      ),
    ),
    'eval-dims',
  );
}

function onlyList(c, a, b) {
  const tbl = table(
    [c.kind === 'regions' ? t('region') : t('program'), t('code'), t('onlyIn')],
    wallCut(c.only).map((r) =>
      h(
        'tr',
        { 'data-row': r.id, 'data-in': r.in },
        h('th', { scope: 'row' }, r.name),
        h('td', null, r.code || '–'),
        h('td', null, t(r.in === 'to' ? 'onlyInTo' : 'onlyInFrom', { name: r.in === 'to' ? b.name : a.name })),
      ),
    ),
    'eval-only',
  );
  return [tbl, more(c.only)];
}

// What changed (overall or in a dimension) first; what did not, or has no
// value to compare, folded away (on the wall: only counted).
const moved = (r) => (r.d !== null && r.d !== 0) || Object.values(r.dims).some((x) => x.d !== null && x.d !== 0);
function changedRows(c, a, b) {
  if (!c.rows.length) return h('p', { class: 'muted' }, t('compareNoneInBoth'));
  const changed = c.rows.filter(moved);
  const still = c.rows.filter((r) => !moved(r));
  const label = t(c.kind === 'regions' ? 'compareStillRegions' : 'compareStillPrograms', { n: num(still.length, 0) });
  return [
    changed.length ? rowsTable(c, changed, a, b) : h('p', { class: 'muted' }, t('compareNoChange')),
    !still.length
      ? null
      : isKiosk()
        ? h('p', { class: 'muted compare-still' }, label)
        : h('details', { class: 'compare-still' }, h('summary', null, label), rowsTable(c, still, a, b)),
  ];
}

function compareView() {
  const back = h('a', { href: '#evaluasi', class: 'back no-print' }, t('backToEvaluations'));
  const head = h('h1', null, t('compareTitle'));
  if (error) return [back, head, h('p', { class: 'note' }, error)];
  if (list && list.length < 2) return [back, head, h('p', { class: 'muted' }, t('compareNeedTwo'))];
  if (!list || !cmp || !pair) return [back, head, h('p', { class: 'muted' }, t('loading'))];
  const [a, b] = pair;
  const c = compareEvaluations(a, b);
  const parts = [back, head, pickForm()];
  const counts =
    c.kind === 'none'
      ? null
      : h(
          'p',
          { class: 'compare-counts' },
          t(c.kind === 'regions' ? 'compareCountsRegions' : 'compareCountsPrograms', {
            up: num(c.counts.up, 0),
            down: num(c.counts.down, 0),
            same: num(c.counts.same, 0),
            none: num(c.counts.none, 0),
            only: num(c.only.length, 0),
          }),
        );
  const head2 = h(
    'header',
    null,
    h('p', { class: 'compare-what' }, t('compareWhat', { a: evalLabel(a), b: evalLabel(b) })),
    a.as_of > b.as_of ? h('p', { class: 'note' }, t('compareBackwards')) : null,
    counts,
  );
  const body =
    c.kind === 'none'
      ? [h('p', { class: 'muted' }, t('compareNothing'))]
      : [
          h('h2', null, t(c.kind === 'regions' ? 'compareByRegion' : 'compareByProgram')),
          changedRows(c, a, b),
          h('h2', null, t('compareByDimension')),
          h('p', { class: 'muted small' }, t(c.kind === 'regions' ? 'compareDimsNote' : 'compareDimsNoteRegency')),
          dimsTable(c),
          c.only.length ? [h('h2', null, t('compareOnly')), onlyList(c, a, b)] : null,
        ];
  return [...parts, h('article', { class: 'report evaluation compare' }, head2, body)];
}

function build() {
  if (!root) return;
  fill(root, evalId === 'banding' ? compareView() : evalId ? pageView() : listView());
}

export default {
  mount(el, arg) {
    root = el;
    evalId = arg ? decodeURIComponent(arg) : null;
    one = null;
    error = '';
    note = '';
    pair = null;
    cmp = null;
    gen++;
    // banding, or banding/<from>..<to>
    const m = /^banding(?:\/(\d+)\.\.(\d+))?$/.exec(evalId || '');
    if (m) {
      evalId = 'banding';
      if (m[1]) cmp = { from: m[1], to: m[2] };
      build();
      loadPair();
      return;
    }
    build();
    if (evalId) loadOne();
    else loadList();
  },
  paint(what) {
    if (what.has('lang') || what.has('me')) build();
  },
  unmount() {
    root = null;
  },
};
