// views/input.js — Input data (CONTRACT §1.1, §9): an operator or an
// enumerator enters a figure, a price officer a market's daily round (a row
// per commodity, its reference price beside it), or uploads a CSV in
// export.csv's format (POST /api/v1/import.csv). Figures are kept on the
// device first (offline.js) and sent in entry order when a connection is
// there; the queue is listed with its count, a rejected entry with its
// error and a Buang button. What the form suggests (programs, units,
// metrics, commodities and their references) is cached for offline use.
import { get, post, qs } from '../api.js';
import { fill, h, text } from '../dom.js';
import { dateTime, num, rfc3339 } from '../format.js';
import { getLang, t } from '../i18n.js';
import { cacheGet, cachePut, discard, entries, flush, keep, onQueue, startSender, waitingForSignIn } from '../offline.js';
import { ingestPath, parseValue } from '../offline_rules.js';
import { state } from '../state.js';

const SLUG = '[a-z0-9][a-z0-9_\\-]{0,63}';
let root = null;
let stopQueue = null;
let parts = {}; // the elements repainted apart from the forms
let result = '';
let roundResult = '';
let csvResult = '';
let csvEl = null; // the upload form, kept across rebuilds
let csvLang = '';
let draft = { program: '', unit: '', metric: '', value: '', ts: '', labels: '' };
let round = { program: '', market: '', prices: {} };
let cached = { programs: [] }; // from the device, for when the API is out of reach
let kept = []; // the queue, as last read
// Until the device's queue has been read once, its count is not shown: a
// "0 pending" before the read would say what is not known.
let keptRead = false;
let suggest = new Map(); // program -> {metrics, units, commodities} (from /api/v1/series, cached)

function failure(e) {
  return t('error', { e: e.message });
}

function parseLabels(s) {
  const labels = {};
  for (const part of s.split(',')) {
    const [k, ...v] = part.split('=');
    if (k.trim()) labels[k.trim()] = v.join('=').trim();
  }
  return labels;
}

// The programs as the API gave them, else as this device last saw them.
function programs() {
  if (state.programs.length) return state.programs;
  return cached.programs;
}
function remember() {
  if (!state.programs.length) return;
  const slim = state.programs.map((p) => ({
    id: p.id,
    name: p.name,
    kpis: p.kpis.map((k) => ({ metric: k.metric, agg: k.agg, display_unit: k.display_unit })),
  }));
  cached.programs = slim;
  cachePut('programs', slim);
}

// The unit a metric's values are read in: a KPI that sums, averages or
// picks its values says it; prices are Rupiah.
function displayUnit(p, metric) {
  const k = p?.kpis.find((x) => x.metric === metric && /^(sum|avg|min|max|last)$/.test(x.agg || '') && x.display_unit);
  if (k) return k.display_unit;
  return /(^|_)(price|rp)$|_rp_|^price/.test(metric || '') ? 'Rp' : '';
}

// Known units and metrics of a program: the live state, its KPIs, and
// /api/v1/series (fetched once per program when online, cached).
function known(p) {
  const s = suggest.get(p?.id) || { metrics: [], units: [] };
  const units = new Set(s.units);
  for (const u of state.units.values()) if (u.program === p?.id) units.add(u.unit);
  const metrics = new Set(p ? p.kpis.map((k) => k.metric) : []);
  for (const m of s.metrics) metrics.add(m);
  return { units: [...units].sort(), metrics: [...metrics].sort() };
}
async function loadSuggestions(id) {
  if (!id || suggest.has(id)) return;
  const key = `series:${id}`;
  const fromDevice = await cacheGet(key);
  if (fromDevice) suggest.set(id, fromDevice);
  try {
    const r = await get(`/api/v1/series?${qs({ program: id })}`);
    const s = {
      metrics: [...new Set(r.series.map((x) => x.metric))].slice(0, 200),
      units: [...new Set(r.series.map((x) => x.unit))].slice(0, 500),
      commodities: {},
    };
    // A price round's commodities and their references (as prices.js finds them).
    for (const x of r.series) {
      const c = x.labels?.commodity;
      if (!c || (x.metric !== 'price' && x.metric !== 'reference_price')) continue;
      const have = s.commodities[c] || { ref: null, refTs: 0 };
      if (x.metric === 'reference_price' && x.last_ts !== null && x.last_ts >= have.refTs) {
        have.ref = x.last_value;
        have.refTs = x.last_ts;
      }
      s.commodities[c] = have;
    }
    suggest.set(id, s);
    cachePut(key, s);
  } catch {
    /* offline: what the device had */
  }
  soon();
}

// ---- the single figure ----

function valueHint(p) {
  const v = parseValue(draft.value, getLang());
  const unit = displayUnit(p, draft.metric || known(p).metrics[0]);
  if (draft.value.trim() === '') return unit;
  if (v === null) return t('notNumber');
  return `= ${num(v, 6)}${unit ? ` ${unit}` : ''}`;
}

function entryForm() {
  const list = programs();
  const p = list.find((x) => x.id === draft.program) || list[0];
  if (p) draft.program = p.id;
  const { units, metrics } = known(p);
  const hint = h('output', { class: 'value-unit', 'aria-live': 'polite' }, valueHint(p));
  const onInput = (e) => {
    if (e.target.name in draft) draft[e.target.name] = e.target.value;
    if (e.target.name === 'value' || e.target.name === 'metric') {
      text(hint, valueHint(p));
      const bad = draft.value.trim() !== '' && parseValue(draft.value, getLang()) === null;
      e.target.form.elements.value.setCustomValidity(bad ? t('notNumber') : '');
    }
  };
  return h(
    'form',
    {
      class: 'entry',
      oninput: onInput,
      onsubmit: async (e) => {
        e.preventDefault();
        // What the form holds (a field left as suggested is in no draft).
        for (const [k, v] of new FormData(e.target)) if (k in draft) draft[k] = String(v);
        const ts = draft.ts ? Date.parse(rfc3339(draft.ts)) : Date.now();
        const value = parseValue(draft.value, getLang());
        if (value === null) {
          result = t('notNumber');
          build();
          return;
        }
        const labels = parseLabels(draft.labels);
        const entry = { program: draft.program, unit: draft.unit.trim(), metric: draft.metric.trim(), value, ts, labels };
        result = await keepAndSend([entry]);
        draft.value = '';
        build();
      },
    },
    h('h2', null, t('inputTitle')),
    h(
      'label',
      null,
      t('program'),
      h(
        'select',
        {
          name: 'program',
          required: true,
          onchange: (e) => {
            draft.program = e.target.value;
            draft.metric = ''; // the new program's first metric is suggested
            loadSuggestions(draft.program);
            build();
          },
        },
        list.map((x) => h('option', { value: x.id, selected: x === p }, x.name)),
      ),
    ),
    // Typed, not only chosen: a name the server refuses reaches it and is
    // answered with its reason.
    h('label', null, t('unit'), h('input', { name: 'unit', required: true, list: 'dl-units', autocapitalize: 'none', value: draft.unit })),
    h(
      'datalist',
      { id: 'dl-units' },
      units.map((u) => h('option', { value: u })),
    ),
    h(
      'label',
      null,
      t('metric'),
      h('input', { name: 'metric', required: true, list: 'dl-metrics', autocapitalize: 'none', value: draft.metric || metrics[0] || '' }),
    ),
    h(
      'datalist',
      { id: 'dl-metrics' },
      metrics.map((m) => h('option', { value: m })),
    ),
    h(
      'label',
      null,
      t('value'),
      h('span', { class: 'value-row' }, h('input', { name: 'value', required: true, inputmode: 'decimal', value: draft.value }), hint),
    ),
    h(
      'label',
      null,
      t('when'),
      h('input', { name: 'ts', type: 'datetime-local', value: draft.ts }),
      h('span', { class: 'muted small' }, t('whenHint')),
    ),
    h('label', null, t('labels'), h('input', { name: 'labels', placeholder: 'kecamatan=gunung-sugih', value: draft.labels })),
    h('button', { type: 'submit' }, t('send')),
    result ? h('p', { class: 'note', role: 'status' }, result) : null,
  );
}

// Keeps the entries on the device and tries to send them now; where the
// device keeps nothing (no IndexedDB: an old private window) sends them
// straight away, as before offline entry. Returns what to tell the person.
async function keepAndSend(list) {
  let made;
  try {
    made = [];
    for (const e of list) made.push(await keep(e));
  } catch {
    return sendNow(list);
  }
  return sent(made);
}
async function sendNow(list) {
  let stored = 0;
  for (const e of list) {
    const body = { value: e.value, ts: e.ts, ...(Object.keys(e.labels || {}).length ? { labels: e.labels } : {}) };
    try {
      const r = await post(ingestPath(e), body);
      if (r.rejected?.length) return t('rejected', { reason: r.rejected[0].reason });
      stored += r.stored;
    } catch (err) {
      return err.code ? t('rejected', { reason: err.code }) : failure(err);
    }
  }
  return t('stored', { n: num(stored) });
}

// After keeping entries: try to send them now, and say what became of them.
async function sent(made) {
  await flush().catch(() => {});
  const now = await entries();
  const left = made.map((m) => now.find((x) => x.id === m.id)).filter(Boolean);
  const stored = made.length - left.length;
  const rejected = left.filter((x) => x.state === 'rejected');
  if (rejected.length) return t('rejected', { reason: rejected[0].error });
  if (!left.length) return t('stored', { n: num(stored) });
  return waitingForSignIn() ? t('waitSignIn') : t('keptOffline');
}

// ---- a price officer's daily round ----

function roundForm() {
  const list = programs().filter((p) => p.kpis.some((k) => k.metric === 'price'));
  if (!list.length) return null;
  const p = list.find((x) => x.id === round.program) || list[0];
  round.program = p.id;
  const s = suggest.get(p.id);
  const comm = new Map(Object.entries(s?.commodities || {}));
  for (const x of state.latest.values()) {
    const c = x.labels?.commodity;
    if (x.program !== p.id || !c) continue;
    const have = comm.get(c) || { ref: null, refTs: 0 };
    if (x.metric === 'reference_price' && x.ts >= have.refTs) comm.set(c, { ref: x.value, refTs: x.ts });
    else comm.set(c, have);
  }
  const commodities = [...comm.keys()].sort();
  const markets = [
    ...new Set([...(s?.units || []), ...[...state.units.values()].filter((u) => u.program === p.id).map((u) => u.unit)]),
  ].sort();
  return h(
    'form',
    {
      class: 'entry round',
      oninput: (e) => {
        const n = e.target.name;
        if (n === 'market') round.market = e.target.value;
        else if (n.startsWith('price:')) {
          round.prices[n.slice(6)] = e.target.value;
          const bad = e.target.value.trim() !== '' && parseValue(e.target.value, getLang()) === null;
          e.target.setCustomValidity(bad ? t('notNumber') : '');
        }
      },
      onsubmit: async (e) => {
        e.preventDefault();
        const ts = Date.now(); // one moment for the round: each commodity is its own series
        const list = [];
        for (const c of commodities) {
          const v = parseValue(round.prices[c] || '', getLang());
          if (v !== null) list.push({ program: p.id, unit: round.market.trim(), metric: 'price', value: v, ts, labels: { commodity: c } });
        }
        if (!list.length) return;
        roundResult = await keepAndSend(list);
        round.prices = {};
        build();
      },
    },
    h('h2', null, t('roundTitle')),
    h('p', { class: 'muted' }, t('roundHint')),
    list.length > 1
      ? h(
          'label',
          null,
          t('program'),
          h(
            'select',
            {
              name: 'round-program',
              onchange: (e) => {
                round.program = e.target.value;
                loadSuggestions(round.program);
                build();
              },
            },
            list.map((x) => h('option', { value: x.id, selected: x === p }, x.name)),
          ),
        )
      : null,
    h(
      'label',
      null,
      t('market'),
      h('input', { name: 'market', required: true, list: 'dl-markets', autocapitalize: 'none', value: round.market }),
    ),
    h(
      'datalist',
      { id: 'dl-markets' },
      markets.map((m) => h('option', { value: m })),
    ),
    commodities.length
      ? h(
          'div',
          { class: 'round-rows', role: 'group', 'aria-label': t('roundTitle') },
          commodities.map((c) =>
            h(
              'label',
              { class: 'round-row' },
              h('span', { class: 'round-name' }, c.replace(/-/g, ' ')),
              h('span', { class: 'round-ref muted' }, `${t('reference')} ${comm.get(c).ref === null ? '–' : `Rp ${num(comm.get(c).ref)}`}`),
              h(
                'span',
                { class: 'value-row' },
                h('span', { class: 'value-unit' }, 'Rp'),
                h('input', {
                  name: `price:${c}`,
                  inputmode: 'decimal',
                  value: round.prices[c] || '',
                  'aria-label': `${t('price')} ${c.replace(/-/g, ' ')}`,
                }),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, t('noCommodities')),
    commodities.length ? h('button', { type: 'submit' }, t('send')) : null,
    roundResult ? h('p', { class: 'note', role: 'status' }, roundResult) : null,
  );
}

// ---- the queue ----

function renderQueue() {
  if (!parts.queue || !keptRead) return;
  const pending = kept.filter((e) => e.state === 'pending');
  const rejected = kept.filter((e) => e.state === 'rejected');
  fill(
    parts.queue,
    h(
      'h2',
      null,
      h('span', { class: 'pending-count' }, t('pendingN', { n: num(pending.length) })),
      rejected.length ? h('span', { class: 'bad-t rejected-count' }, ` · ${t('rejectedN', { n: num(rejected.length) })}`) : null,
    ),
    pending.length && waitingForSignIn() ? h('p', { class: 'note sign-in-wait', role: 'status' }, t('waitSignIn')) : null,
    kept.length
      ? h(
          'ul',
          { class: 'queue' },
          kept.map((e) =>
            h(
              'li',
              { class: `queued ${e.state}`, 'data-entry': e.id },
              h(
                'div',
                { class: 'queued-what' },
                h('span', { class: 'queued-series' }, `${e.program} / ${e.unit} / ${e.metric}`),
                e.labels
                  ? h(
                      'span',
                      { class: 'muted' },
                      Object.entries(e.labels)
                        .map(([k, v]) => `${k}=${v}`)
                        .join(', '),
                    )
                  : null,
              ),
              h('div', { class: 'queued-value' }, num(e.value, 6)),
              h('div', { class: 'muted small' }, dateTime(e.ts)),
              h(
                'div',
                { class: e.state === 'rejected' ? 'queued-state bad-t' : 'queued-state muted' },
                e.state === 'rejected' ? t('rejected', { reason: e.error }) : t('entryPending'),
              ),
              h('button', { type: 'button', class: 'discard', onclick: () => discard(e.id) }, t('discard')),
            ),
          ),
        )
      : null,
  );
}
async function refreshQueue() {
  try {
    kept = await entries();
  } catch {
    kept = [];
  }
  keptRead = true;
  renderQueue();
}

// ---- the CSV upload ----

function csvForm() {
  return h(
    'form',
    {
      class: 'entry',
      onsubmit: async (e) => {
        e.preventDefault();
        const file = e.target.elements.csv.files[0];
        if (!file) return;
        try {
          const r = await post('/api/v1/import.csv', file, 'text/csv');
          csvResult = [
            t('csvResult', { n: num(r.stored), m: num(r.rejected_count) }),
            ...r.rejected.slice(0, 5).map((x) => t('line', { n: x.line, reason: x.reason })),
          ].join('\n');
        } catch (err) {
          csvResult =
            err.status === 401 || err.status === 403 ? t('needOperator') : err.code ? t('rejected', { reason: err.code }) : failure(err);
        }
        csvEl = null;
        build();
      },
    },
    h('h2', null, t('csvTitle')),
    h('p', { class: 'muted' }, t('csvHint')),
    h('label', null, t('csvFile'), h('input', { type: 'file', name: 'csv', accept: '.csv,text/csv', required: true })),
    h('button', { type: 'submit' }, t('upload')),
    csvResult ? h('pre', { class: 'note', role: 'status' }, csvResult) : null,
  );
}

// What the forms are made of: a rebuild when it has not changed is skipped
// (kpi frames re-read the programs every few seconds).
function signature() {
  const p = programs().map((x) => [x.id, x.name, x.kpis.map((k) => [k.metric, k.agg, k.display_unit])]);
  const priced = [...state.latest.values()].filter((x) => x.labels?.commodity).map((x) => [x.program, x.unit, x.labels.commodity]);
  return JSON.stringify([getLang(), p, [...suggest], [...state.units.keys()], priced.length]);
}
let built = '';
let later = null;
// Rebuilds when something the forms show changed, but not under the
// person's fingers: while a field has focus, it waits.
function soon() {
  if (!root || signature() === built) return;
  if (root.contains(document.activeElement)) {
    clearTimeout(later);
    later = setTimeout(soon, 1000);
    return;
  }
  build();
}

function build() {
  remember();
  built = signature();
  parts = { queue: h('section', { class: 'entry queue-box', 'aria-live': 'polite' }) };
  // The upload form is kept across rebuilds (a chosen file stays chosen).
  if (!csvEl || csvLang !== getLang()) {
    csvEl = csvForm();
    csvLang = getLang();
  }
  fill(root, h('h1', null, t('input')), h('div', { class: 'cols input-cols' }, entryForm(), parts.queue, roundForm(), csvEl));
  renderQueue();
}

export default {
  async mount(el) {
    root = el;
    stopQueue = onQueue(refreshQueue);
    if (!state.programs.length) cached.programs = (await cacheGet('programs')) || [];
    if (root !== el) return;
    build();
    refreshQueue();
    startSender();
    const list = programs();
    loadSuggestions(draft.program || list[0]?.id);
    const priced = list.find((p) => p.kpis.some((k) => k.metric === 'price'));
    if (priced) loadSuggestions(priced.id);
  },
  paint(what) {
    if (!root) return;
    if (what.has('lang')) build();
    else if (what.has('programs') || what.has('units')) soon();
  },
  unmount() {
    stopQueue?.();
    stopQueue = null;
    clearTimeout(later);
    csvEl = null;
    root = null;
  },
};
