// chart.js — a KPI metric's history in uPlot: asks /api/v1/query for at
// most <chart width in px> points over the shown range; drag to zoom (the
// zoomed range is asked again at full resolution), double-click to go back,
// buttons to pan. One uPlot instance and its arrays per chart, replaced
// whole per answer (setData once per answer, never per sample).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { get, qs } from './api.js';
import { h } from './dom.js';
import { compact, dateTime, num, tzOffsetMs } from './format.js';
import { t } from './i18n.js';
import { dailyAgg, labelParams } from './sparkline.js';

export function createChart(box, programId, kpi, { range, points } = {}) {
  let from = Date.now() - (range || 30 * 86400e3);
  let to = Date.now();
  const initial = [from, to];
  let plot = null;
  let seq = 0;
  const info = h('div', { class: 'chart-info', 'aria-live': 'polite' });
  const cursor = h('div', { class: 'chart-cursor' }); // the value under the pointer
  const area = h('div', { class: 'chart-area' });
  box.append(area, h('div', { class: 'chart-foot' }, info, cursor));

  function width() {
    return Math.max(300, Math.floor(area.clientWidth || box.clientWidth || 800));
  }
  function height() {
    return Math.max(180, Math.floor(area.clientHeight || 300));
  }

  async function load() {
    const my = ++seq;
    // points: 'raw' asks for every sample (?points=raw, to inspect or test).
    const sampling = points === 'raw' ? {} : { points: points || width(), agg: dailyAgg(kpi) };
    const q = qs({ program: programId, metric: kpi.metric, from: Math.round(from), to: Math.round(to), ...sampling, ...labelParams(kpi) });
    const r = await get(`/api/v1/query?${q}`);
    if (my !== seq) return;
    // Several series (units, label values): one line of their per-bucket total or mean.
    const acc = new Map();
    for (const s of r.series) {
      if (kpi.units && !kpi.units.includes(s.unit)) continue;
      for (const [ts, v] of s.points) {
        const a = acc.get(ts);
        if (a) ((a[0] += v), a[1]++);
        else acc.set(ts, [v, 1]);
      }
    }
    const keys = [...acc.keys()].sort((a, b) => a - b);
    const xs = new Float64Array(keys.length);
    const ys = new Float64Array(keys.length);
    const mean = kpi.agg === 'avg' || kpi.agg === 'last' || kpi.agg === 'min' || kpi.agg === 'max';
    keys.forEach((k, i) => {
      const [s, c] = acc.get(k);
      xs[i] = k / 1000;
      ys[i] = mean ? s / c : s;
    });
    draw(xs, ys);
    // What a point is: a KPI counting units or label values is drawn as
    // its samples per interval, and says so.
    const what = t(points === 'raw' ? 'agg_raw' : `agg_${dailyAgg(kpi)}`);
    info.textContent = `${kpi.metric}: ${what} · ${t('points', { n: num(keys.length) })} · ${dateTime(from)} – ${dateTime(to)}`;
    box.dataset.points = String(keys.length);
    box.dataset.drawnAt = String(performance.now());
  }

  function draw(xs, ys) {
    if (plot) {
      plot.setData([xs, ys], false);
      plot.setScale('x', { min: from / 1000, max: to / 1000 });
      return;
    }
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue('--fg').trim() || '#222';
    const grid = css.getPropertyValue('--grid').trim() || '#ccc';
    const line = css.getPropertyValue('--accent').trim() || '#1565c0';
    // Axis type follows the page's (large on the wall).
    const px = Math.round(parseFloat(css.fontSize) * 0.8) || 12;
    const font = `${px}px system-ui, 'DejaVu Sans', sans-serif`;
    const axis = { stroke: fg, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    plot = new uPlot(
      {
        width: width(),
        height: height(),
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'UTC'),
        scales: { x: { time: true, auto: false, range: () => [from / 1000, to / 1000] } },
        axes: [
          { ...axis, space: px * 5, values: (u, splits) => splits.map((s) => shortTime(s * 1000, to - from)) },
          // Millions and more short (876 T): a full figure would not fit the axis.
          { ...axis, size: px * 6, values: (u, splits) => splits.map((v) => compact(v)) },
        ],
        series: [
          { label: t('when'), value: (u, v) => (v === null ? '–' : dateTime(v * 1000)) },
          { label: kpi.name, stroke: line, width: 2, points: { show: false }, value: (u, v) => num(v) },
        ],
        cursor: { drag: { x: true, y: false } },
        legend: { show: false },
        hooks: {
          setCursor: [
            (u) => {
              const i = u.cursor.idx;
              cursor.textContent =
                i === null || i === undefined || u.data[0][i] === undefined ? '' : `${dateTime(u.data[0][i] * 1000)}: ${num(u.data[1][i])}`;
            },
          ],
          setSelect: [
            (u) => {
              if (u.select.width < 5) return;
              const a = u.posToVal(u.select.left, 'x') * 1000;
              const b = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
              u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
              setRange(a, b);
            },
          ],
        },
      },
      [xs, ys],
      area,
    );
    plot.over.addEventListener('dblclick', () => setRange(initial[0], initial[1]));
  }

  function setRange(a, b) {
    from = a;
    to = b;
    load().catch((e) => (info.textContent = t('error', { e: e.message })));
  }

  const obs = new ResizeObserver(() => plot && plot.setSize({ width: width(), height: height() }));
  obs.observe(area);
  load().catch((e) => (info.textContent = t('error', { e: e.message })));
  return {
    setRange,
    range: () => [from, to],
    pan(frac) {
      const d = (to - from) * frac;
      setRange(from + d, to + d);
    },
    destroy() {
      obs.disconnect();
      seq++;
      plot?.destroy();
    },
  };
}

// Axis labels in the regency's time: hours for short ranges, days beyond.
function shortTime(ms, span) {
  const d = new Date(ms + tzOffsetMs());
  const p2 = (n) => String(n).padStart(2, '0');
  if (span <= 2 * 86400e3) return `${p2(d.getUTCHours())}.${p2(d.getUTCMinutes())}`;
  return `${d.getUTCDate()}/${d.getUTCMonth() + 1}`;
}
