// alerts.js — alert lines and the acknowledge action (CONTRACT §6), shared
// by the ticker and the Peringatan view.
import { ApiError, post } from './api.js';
import { h } from './dom.js';
import { dateTime } from './format.js';
import { t } from './i18n.js';
import { onAlert } from './state.js';
import { badge } from './status.js';

export function activeAlerts(alerts) {
  const rank = { critical: 0, warning: 1, info: 2 };
  return [...alerts.values()]
    .filter((a) => a.state === 'firing')
    .sort((a, b) => (rank[a.severity] ?? 3) - (rank[b.severity] ?? 3) || b.fired_at - a.fired_at);
}

export async function acknowledge(id, note, report) {
  try {
    const r = await post(`/api/v1/alerts/${encodeURIComponent(id)}/ack`, note ? { note } : {});
    onAlert(r.alert);
    report?.('');
  } catch (e) {
    report?.(e instanceof ApiError && (e.status === 403 || e.status === 401) ? t('ackForbidden') : t('error', { e: e.message }));
  }
}

export function ackButton(a, report) {
  if (a.acked_at) return h('span', { class: 'muted small' }, t('ackedBy', { who: a.acked_by || '', t: dateTime(a.acked_at) }));
  if (a.state !== 'firing') return null;
  return h('button', { class: 'ack', 'data-alert': a.id, onclick: () => acknowledge(a.id, '', report) }, t('ack'));
}

export function alertLine(a) {
  return [
    badge(a.severity),
    ' ',
    h('span', { class: 'msg' }, a.message || `${a.rule} ${a.unit || ''}`),
    ' ',
    h('span', { class: 'muted' }, dateTime(a.fired_at)),
  ];
}
