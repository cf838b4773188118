// alerts.js — alert lines and the acknowledge action (CONTRACT §6), shared
// by the ticker and the Peringatan view.
import { ApiError, post } from './api.js';
import { h } from './dom.js';
import { dateTime, timeOrDate } from './format.js';
import { t } from './i18n.js';
import { onAlert, state } from './state.js';
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
    report?.(ackFailure(e));
  }
}

// CONTRACT §8: a signed-in user limited to some programs gets 403
// forbidden_program for another's alert; a viewer (signed in or by token)
// gets 403 forbidden.
function ackFailure(e) {
  if (!(e instanceof ApiError) || (e.status !== 403 && e.status !== 401)) return t('error', { e: e.message });
  if (e.code === 'forbidden_program') return t('ackForbiddenProgram');
  return state.me?.user ? t('ackNeedRole') : t('ackForbidden');
}

// Who acknowledged, when, and the note they left.
export function ackedLine(a) {
  return h(
    'span',
    { class: 'acked small', 'data-acked-by': a.acked_by || '' },
    t('ackedBy', { who: a.acked_by || '', t: dateTime(a.acked_at) }),
    a.ack_note ? h('q', { class: 'ack-note-text' }, a.ack_note) : null,
  );
}

// CONTRACT §8 escalation: ALERT's escalated_at (null or absent: not).
export function escalatedMark(a, short) {
  if (!a.escalated_at) return null;
  const when = short ? timeOrDate(a.escalated_at) : dateTime(a.escalated_at);
  return h('span', { class: 'badge bad escalated', 'data-escalated': String(a.escalated_at) }, `▲ ${t('escalated', { t: when })}`);
}

// withNote: an optional note field before the button (the Peringatan view).
export function ackButton(a, report, withNote) {
  if (a.acked_at) return ackedLine(a);
  if (a.state !== 'firing') return null;
  const note = withNote
    ? h('input', { class: 'ack-note', name: 'note', maxlength: '500', placeholder: t('ackNotePh'), 'aria-label': t('ackNote') })
    : null;
  return h(
    'span',
    { class: 'ack-box' },
    note,
    h('button', { class: 'ack', 'data-alert': a.id, onclick: () => acknowledge(a.id, note ? note.value.trim() : '', report) }, t('ack')),
  );
}

export function alertLine(a) {
  return [
    badge(a.severity),
    ' ',
    h('span', { class: 'msg' }, a.message || `${a.rule} ${a.unit || ''}`),
    ' ',
    h('span', { class: 'muted' }, dateTime(a.fired_at)),
    // CONTRACT §8: who acknowledged it, and an escalation.
    a.acked_at ? [' ', h('span', { class: 'tick-acked' }, `✓ ${a.acked_by || ''}`)] : null,
    a.escalated_at ? [' ', escalatedMark(a, true)] : null,
  ];
}
