// nav.js — the views, the hash routes (#ringkasan, #program/<id>, …), and
// the kiosk rotation (?kiosk=1&rotate=SECONDS).
export const VIEWS = [
  { id: 'ringkasan', label: 'overview' },
  { id: 'program', label: 'program' },
  { id: 'harga', label: 'prices' },
  { id: 'unit', label: 'units' },
  { id: 'peringatan', label: 'alerts' },
  { id: 'input', label: 'input' },
  { id: 'laporan', label: 'report' },
  // CONTRACT §7: #wilayah on a hub with regions (regions.js), #evaluasi anywhere.
  { id: 'wilayah', label: 'regions', hub: true },
  { id: 'evaluasi', label: 'evaluations' },
  // CONTRACT §8: admins only (main.js shows them to a signed-in admin).
  { id: 'pengguna', label: 'users', admin: true },
  { id: 'audit', label: 'audit', admin: true },
];
// The wall cycles through the views a room reads.
// (#wilayah only on a hub with regions: main.js skips it elsewhere.)
export const KIOSK_ROTATION = ['ringkasan', 'harga', 'unit', 'peringatan', 'wilayah'];

export function route() {
  const [view, ...rest] = location.hash.replace(/^#/, '').split('/');
  const known = VIEWS.find((v) => v.id === view);
  return { view: known ? view : 'ringkasan', arg: rest.join('/') || null };
}
export function go(view, arg) {
  location.hash = arg ? `${view}/${arg}` : view;
}

// Wall mode (?kiosk=1): views show what fits a screen read from afar.
export const isKiosk = () => document.documentElement.classList.contains('kiosk');
// A wall shows at most this many rows of a list (the worst first) and says
// how many more there are.
export const WALL_ROWS = 18;
