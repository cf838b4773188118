// views/units.js — Unit lapangan: presence (online / stale / offline), last
// seen, and positions on a map needing no tile server.
import { fill, h } from '../dom.js';
import { num, timeOrDate } from '../format.js';
import { t } from '../i18n.js';
import { unitMap } from '../map.js';
import { WALL_ROWS, isKiosk } from '../nav.js';
import { state } from '../state.js';
import { badge } from '../status.js';
import { throttle } from '../throttle.js';

let root = null;
const ORDER = { offline: 0, stale: 1, online: 2 };

function build() {
  const units = [...state.units.values()].sort(
    (a, b) => (ORDER[a.status] ?? 3) - (ORDER[b.status] ?? 3) || a.program.localeCompare(b.program) || a.unit.localeCompare(b.unit),
  );
  const count = (s) => num(units.filter((u) => u.status === s).length);
  const listed = isKiosk() ? units.slice(0, WALL_ROWS) : units;
  const mapBox = h('div', { class: 'map-box' });
  fill(
    root,
    h(
      'h1',
      null,
      t('units'),
      h(
        'span',
        { class: 'muted sub' },
        ` · ${t('unitsSummary', { online: count('online'), stale: count('stale'), offline: count('offline') })}`,
      ),
    ),
    units.length
      ? h(
          'div',
          { class: 'units-layout' },
          mapBox,
          h(
            'table',
            { class: 'grid units', style: `--n:${listed.length + (listed.length < units.length ? 1 : 0)}` },
            h('caption', { class: 'sr-only' }, t('units')),
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                ['unit', 'program', 'presence', 'lastSeen'].map((c) => h('th', { scope: 'col' }, t(c))),
              ),
            ),
            h(
              'tbody',
              null,
              listed.map((u) => {
                const p = state.programs.find((x) => x.id === u.program);
                return h(
                  'tr',
                  null,
                  h('th', { scope: 'row' }, u.unit),
                  h('td', null, p ? p.name : u.program),
                  h('td', null, badge(u.status)),
                  h('td', null, timeOrDate(u.last_seen)),
                );
              }),
              listed.length < units.length
                ? h('tr', null, h('td', { colspan: 4, class: 'muted' }, t('more', { n: num(units.length - listed.length) })))
                : null,
            ),
          ),
        )
      : h('p', { class: 'muted' }, t('noUnits')),
  );
  if (units.length) {
    const r = mapBox.getBoundingClientRect();
    mapBox.append(unitMap(units, t('map'), r.width > 0 && r.height > 0 ? r.width / r.height : 1.2));
  }
}

const rebuild = throttle(() => root && build(), 1000);
export default {
  mount(el) {
    root = el;
    build();
  },
  paint(what) {
    if (!(what.has('units') || what.has('lang') || what.has('programs'))) return;
    if (what.has('lang')) rebuild.now();
    else rebuild();
  },
  unmount() {
    rebuild.cancel();
    root = null;
  },
};
