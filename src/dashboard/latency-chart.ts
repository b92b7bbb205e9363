import { svg } from './dom.ts';
import { sparkline, type Sample } from './view-model.ts';

const WIDTH = 240;
const HEIGHT = 44;

/** p50 (solid) and p99 (faint) of one path over the samples this page has seen. */
export function latencyChart(samples: readonly Sample[]): SVGElement {
  const p50 = samples.map((s) => s.p50);
  const p99 = samples.map((s) => s.p99);
  const max = Math.max(1, ...p99.filter((v): v is number => v !== null), ...p50.filter((v): v is number => v !== null));
  return svg(
    'svg',
    { class: 'latency-chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, role: 'img', 'aria-label': `latency p50 and p99, scale 0 to ${Math.round(max)} ms` },
    svg('polyline', { class: 'p99', points: sparkline(p99, WIDTH, HEIGHT, max) }),
    svg('polyline', { class: 'p50', points: sparkline(p50, WIDTH, HEIGHT, max) }),
    svg('text', { x: WIDTH - 2, y: 10, 'text-anchor': 'end' }, document.createTextNode(`${Math.round(max)} ms`)),
  );
}
