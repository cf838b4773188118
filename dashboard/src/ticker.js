// ticker.js — the alerts ticker at the foot of every view, headed
// "Peringatan" / "Alerts": the firing alerts, worst first.
import { activeAlerts, alertLine } from './alerts.js';
import { fill, h } from './dom.js';
import { t } from './i18n.js';
import { state } from './state.js';

export function renderTicker(el) {
  const list = activeAlerts(state.alerts);
  fill(
    el,
    h('h2', { class: 'ticker-head' }, t('alerts'), list.length ? h('span', { class: 'count' }, String(list.length)) : null),
    h(
      'div',
      { class: 'ticker-body', 'aria-live': 'polite' },
      list.length
        ? list.slice(0, 6).map((a) => h('span', { class: `tick ${a.severity}`, 'data-alert': a.id }, alertLine(a)))
        : h('span', { class: 'muted' }, t('noAlerts')),
    ),
  );
  el.classList.toggle('has-alerts', list.length > 0);
}
