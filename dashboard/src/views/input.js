// views/input.js — Input data: an operator enters a survey figure
// (POST /api/v1/ingest/<program>/<unit>/<metric>, CONTRACT §1.1) or uploads
// a CSV in export.csv's format (POST /api/v1/import.csv).
import { ApiError, post } from '../api.js';
import { fill, h } from '../dom.js';
import { isoLocal, num, rfc3339 } from '../format.js';
import { t } from '../i18n.js';
import { state } from '../state.js';

let root = null;
let result = '';
let csvResult = '';
let chosen = '';

function failure(e) {
  if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return t('needOperator');
  if (e instanceof ApiError && e.code) return t('rejected', { reason: e.code });
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

function build() {
  const program = state.programs.find((p) => p.id === chosen) || state.programs[0];
  const metrics = program ? [...new Set(program.kpis.map((k) => k.metric))] : [];
  fill(
    root,
    h('h1', null, t('input')),
    h(
      'div',
      { class: 'cols' },
      h(
        'form',
        {
          class: 'entry',
          onsubmit: async (e) => {
            e.preventDefault();
            const f = new FormData(e.target);
            const body = { value: Number(String(f.get('value')).replace(',', '.')) };
            if (f.get('ts')) body.ts = rfc3339(f.get('ts'));
            const labels = parseLabels(String(f.get('labels') || ''));
            if (Object.keys(labels).length) body.labels = labels;
            const path = ['program', 'unit', 'metric'].map((k) => encodeURIComponent(String(f.get(k)).trim())).join('/');
            try {
              const r = await post(`/api/v1/ingest/${path}`, body);
              result = r.rejected?.length ? t('rejected', { reason: r.rejected[0].reason }) : t('stored', { n: num(r.stored) });
            } catch (err) {
              result = failure(err);
            }
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
            { name: 'program', required: true, onchange: (e) => ((chosen = e.target.value), build()) },
            state.programs.map((p) => h('option', { value: p.id, selected: p === program }, p.name)),
          ),
        ),
        h(
          'label',
          null,
          t('unit'),
          h('input', { name: 'unit', required: true, pattern: '[a-z0-9][a-z0-9_\\-]{0,63}', placeholder: 'dinkes' }),
        ),
        h(
          'label',
          null,
          t('metric'),
          h('input', { name: 'metric', required: true, list: 'metrics', pattern: '[a-z0-9][a-z0-9_\\-]{0,63}', value: metrics[0] || '' }),
        ),
        h(
          'datalist',
          { id: 'metrics' },
          metrics.map((m) => h('option', { value: m })),
        ),
        h('label', null, t('value'), h('input', { name: 'value', required: true, inputmode: 'decimal', pattern: '-?[0-9]+([.,][0-9]+)?' })),
        h('label', null, t('when'), h('input', { name: 'ts', type: 'datetime-local', value: isoLocal(Date.now()) })),
        h('label', null, t('labels'), h('input', { name: 'labels', placeholder: 'kecamatan=gunung-sugih' })),
        h('button', { type: 'submit' }, t('send')),
        result ? h('p', { class: 'note', role: 'status' }, result) : null,
      ),
      h(
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
              csvResult = failure(err);
            }
            build();
          },
        },
        h('h2', null, t('csvTitle')),
        h('p', { class: 'muted' }, t('csvHint')),
        h('label', null, t('csvFile'), h('input', { type: 'file', name: 'csv', accept: '.csv,text/csv', required: true })),
        h('button', { type: 'submit' }, t('upload')),
        csvResult ? h('pre', { class: 'note', role: 'status' }, csvResult) : null,
      ),
    ),
  );
}

export default {
  mount(el) {
    root = el;
    build();
  },
  paint(what) {
    if (what.has('lang') || (what.has('programs') && !root.contains(document.activeElement))) build();
  },
  unmount() {
    root = null;
  },
};
