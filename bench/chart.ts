// Latency-over-time chart (one panel per gateway) as SVG, rendered to PNG with resvg.
import { Resvg } from '@resvg/resvg-js';
import type { Sample } from './open-loop.ts';

export interface ChartSeries {
  name: string;
  samples: Sample[];
  /** ms offsets of the cuts, drawn as vertical lines. */
  cuts: number[];
}

const WIDTH = 1000;
const PANEL = 170;
const LEFT = 70;
const RIGHT = 20;
const TOP = 40;
const MIN_MS = 0.5;
const MAX_MS = 10_000;

export function renderLatencyChart(series: ChartSeries[], title: string): Buffer {
  const span = Math.max(1, ...series.flatMap((s) => s.samples.map((x) => x.scheduledAt)));
  const height = TOP + series.length * PANEL + 30;
  const x = (ms: number) => LEFT + (ms / span) * (WIDTH - LEFT - RIGHT);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="24" font-size="16" font-weight="bold">${title}</text>`,
  ];
  series.forEach((s, i) => {
    const top = TOP + i * PANEL;
    const bottom = top + PANEL - 30;
    const y = (ms: number) =>
      bottom -
      ((Math.log10(Math.min(MAX_MS, Math.max(MIN_MS, ms))) - Math.log10(MIN_MS)) /
        (Math.log10(MAX_MS) - Math.log10(MIN_MS))) *
        (bottom - top);
    parts.push(
      `<rect x="${LEFT}" y="${top}" width="${WIDTH - LEFT - RIGHT}" height="${bottom - top}" fill="#fafafa" stroke="#ccc"/>`,
    );
    for (const tick of [1, 10, 100, 1000, 10000]) {
      parts.push(
        `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(tick)}" y2="${y(tick)}" stroke="#e4e4e4"/>`,
      );
      parts.push(
        `<text x="${LEFT - 6}" y="${y(tick) + 4}" font-size="10" text-anchor="end">${tick >= 1000 ? `${tick / 1000}s` : `${tick}ms`}</text>`,
      );
    }
    for (const cut of s.cuts)
      parts.push(
        `<line x1="${x(cut)}" x2="${x(cut)}" y1="${top}" y2="${bottom}" stroke="#888" stroke-dasharray="4 3"/>`,
      );
    for (const sample of s.samples) {
      const failed = sample.status < 200 || sample.status >= 300;
      parts.push(
        `<circle cx="${x(sample.scheduledAt).toFixed(1)}" cy="${y(sample.latencyMs).toFixed(1)}" r="${failed ? 2.5 : 1.3}" fill="${failed ? '#d62728' : '#1f77b4'}" fill-opacity="0.6"/>`,
      );
    }
    parts.push(
      `<text x="${LEFT + 8}" y="${top + 16}" font-size="13" font-weight="bold">${s.name}</text>`,
    );
    parts.push(
      `<text x="${WIDTH - RIGHT}" y="${bottom + 14}" font-size="10" text-anchor="end">${(span / 1000).toFixed(0)} s · dashed: cut / restore · red: failed</text>`,
    );
  });
  parts.push('</svg>');
  return new Resvg(parts.join(''), { font: { loadSystemFonts: true }, fitTo: { mode: 'original' } })
    .render()
    .asPng();
}
