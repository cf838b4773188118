// phone.js — the dashboard on a phone (CONTRACT §9; style.css's "phones"
// block does the rest):
// - phoneMenu(nav): a Menu button before the navigation that shows and
//   hides it on a narrow screen (hidden, and the navigation always shown,
//   on wider ones); a chosen view closes it;
// - labelCells(root): a list table (prices, units, alerts, KPIs, the
//   report's) is marked .cards and each of its cells gets its column's
//   heading as data-label, so that the table stacked as cards on a phone
//   still says what each figure is. Watches root (a MutationObserver) and
//   labels the tables each paint makes.
import { h } from './dom.js';
import { t } from './i18n.js';

export function phoneMenu(nav) {
  nav.id ||= 'nav';
  const button = h('button', { type: 'button', class: 'menu-toggle', 'aria-controls': nav.id, 'aria-expanded': 'false' });
  const set = (open) => {
    nav.classList.toggle('open', open);
    button.setAttribute('aria-expanded', String(open));
  };
  button.addEventListener('click', () => set(!nav.classList.contains('open')));
  window.addEventListener('hashchange', () => set(false));
  nav.before(button);
  const label = () => {
    button.textContent = `☰ ${t('menu')}`;
  };
  label();
  return label; // call again after a language change
}

const CARD_TABLES = 'table.prices, table.units, table.alerts, table.kpis, .report table.grid, table.evaluations';
function label(root) {
  for (const table of root.querySelectorAll(CARD_TABLES)) {
    table.classList.add('cards');
    const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim());
    for (const tr of table.querySelectorAll('tbody tr')) {
      let i = 0;
      for (const cell of tr.children) {
        const want = heads[i] || '';
        if (cell.dataset.label !== want) cell.dataset.label = want;
        i += Number(cell.getAttribute('colspan')) || 1;
      }
    }
  }
}
export function labelCells(root) {
  label(root);
  new MutationObserver(() => label(root)).observe(root, { childList: true, subtree: true });
}
