import { h, svg } from './dom.ts';
import { sparkline, type Sample } from './view-model.ts';

const WIDTH = 300;
const HEIGHT = 44;

/** p50 (dark) and p99 (light) of one path over the last `windowMs`, newest on the right. */
export function latencyChart(samples: readonly Sample[], now: number, windowMs: number): HTMLElement {
  const values = samples.flatMap((s) => [s.p50, s.p99]).filter((v): v is number => v !== null);
  const max = Math.max(1, ...values);
  const line = (pick: (s: Sample) => number | null) => sparkline(samples.map((s) => ({ at: s.at, value: pick(s) })), now - windowMs, now, WIDTH, HEIGHT, max);
  return h(
    'figure',
    { class: 'latency' },
    svg(
      'svg',
      { class: 'latency-chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': `latency p50 and p99 over the last ${windowMs / 60_000} minutes, up to ${Math.round(max)} ms` },
      svg('polyline', { class: 'p99', points: line((s) => s.p99) }),
      svg('polyline', { class: 'p50', points: line((s) => s.p50) }),
    ),
    h('figcaption', {}, `latency, last ${windowMs / 60_000} min · p50 `, h('span', { class: 'key p50' }), ' p99 ', h('span', { class: 'key p99' }), ` · top ${Math.round(max)} ms`),
  );
}
