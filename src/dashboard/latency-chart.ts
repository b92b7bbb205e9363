import { h, svg } from './dom.ts';
import { sparkline, type Sample } from './view-model.ts';

const WIDTH = 300;
const HEIGHT = 44;

/** p50 (dark) and p99 (light) of one path since this page's first sample, at most `windowMs`, newest on the right. */
export function latencyChart(
  samples: readonly Sample[],
  now: number,
  windowMs: number,
): HTMLElement {
  const values = samples.flatMap((s) => [s.p50, s.p99]).filter((v): v is number => v !== null);
  const max = Math.max(1, ...values);
  // Until the page has seen a whole window, the chart spans what it has seen, so it is never mostly empty.
  const from = Math.max(now - windowMs, Math.min(samples[0]?.at ?? now, now - 10_000));
  const line = (pick: (s: Sample) => number | null) =>
    sparkline(
      samples.map((s) => ({ at: s.at, value: pick(s) })),
      from,
      now,
      WIDTH,
      HEIGHT,
      max,
    );
  const span = Math.round((now - from) / 1000);
  const spanText = span >= 120 ? `${Math.round(span / 60)} min` : `${span} s`;
  return h(
    'figure',
    { class: 'latency' },
    // Axes as text beside the plot: the SVG stretches to the card, and stretched SVG text would be unreadable.
    h(
      'span',
      { class: 'axis y', 'aria-hidden': 'true' },
      h('span', {}, `${Math.round(max)} ms`),
      h('span', {}, '0'),
    ),
    svg(
      'svg',
      {
        class: 'latency-chart',
        viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
        preserveAspectRatio: 'none',
        role: 'img',
        'aria-label': `latency p50 and p99 over the last ${span} seconds, up to ${Math.round(max)} ms`,
      },
      svg('polyline', { class: 'p99', points: line((s) => s.p99) }),
      svg('polyline', { class: 'p50', points: line((s) => s.p50) }),
    ),
    h(
      'span',
      { class: 'axis x', 'aria-hidden': 'true' },
      h('span', {}, `−${spanText}`),
      h('span', {}, 'now'),
    ),
    h(
      'figcaption',
      {},
      'latency · p50 ',
      h('span', { class: 'key p50' }),
      ' p99 ',
      h('span', { class: 'key p99' }),
    ),
  );
}
