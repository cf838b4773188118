// status.js — the words and colours of KPI and program statuses (CONTRACT
// §5.2, the strings kpi.c writes), unit presence and alert severity. A
// status is always shown as a colour AND a word.
import { h } from './dom.js';
import { t } from './i18n.js';

// Every status kpi.c writes (missed worsening off_track at_risk
// not_started no_data on_track achieved), unit presence, alert severity.
const CLASS = {
  achieved: 'good',
  on_track: 'good',
  at_risk: 'warn',
  off_track: 'bad',
  worsening: 'bad',
  missed: 'bad',
  not_started: 'idle',
  no_data: 'idle',
  online: 'good',
  stale: 'warn',
  offline: 'bad',
  info: 'idle',
  warning: 'warn',
  critical: 'bad',
};
export function statusClass(s) {
  return CLASS[s] || 'idle';
}
export function statusWord(s) {
  if (s === 'stale') return t('stale_unit');
  return s ? t(s) : t('no_data');
}
export function badge(s) {
  return h('span', { class: `badge ${statusClass(s)}` }, statusWord(s));
}
