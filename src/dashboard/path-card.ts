// A path's card on the live view: state, figures, latency chart, probe and drill lines, Drill button.
import type { Drill, PathStatus } from './api.ts';
import { h } from './dom.ts';
import { latencyChart } from './latency-chart.ts';
import { formatAgo, formatMs, formatRate } from './format.ts';
import {
  drillProofLine,
  egressLine,
  pathView,
  recentFailureRate,
  type Sample,
} from './view-model.ts';

export interface PathCard {
  root: HTMLElement;
  state: HTMLElement;
  grade: HTMLElement;
  figures: HTMLElement;
  probe: HTMLElement;
  proof: HTMLElement;
  chart: HTMLElement;
  drill: HTMLButtonElement;
}

export function createPathCard(
  id: string,
  options: {
    drillMs: number;
    /** Only operators get the Drill button. */
    canOperate: boolean;
    onDrillClick: () => void;
  },
): PathCard {
  const drill = h(
    'button',
    {
      class: 'drill',
      type: 'button',
      title: `Isolate ${id} for ${options.drillMs / 1000} s while traffic continues`,
    },
    'Drill',
  );
  drill.addEventListener('click', options.onDrillClick);
  const card: PathCard = {
    root: h('article', { class: 'path-card', 'data-path': id }),
    state: h('span', { class: 'state' }),
    grade: h('span', { class: 'grade' }),
    figures: h('dl', { class: 'figures' }),
    probe: h('p', { class: 'probe' }),
    proof: h('p', { class: 'proof' }),
    chart: h('div', { class: 'chart' }),
    drill,
  };
  card.root.append(
    h('header', {}, h('h3', {}, id), card.grade, card.state),
    card.figures,
    card.chart,
    card.probe,
    card.proof,
    ...(options.canOperate ? [h('footer', {}, drill)] : []),
  );
  return card;
}

/** Shows `path` as of `now`; `running` is the drill in progress, if any. */
export function updatePathCard(
  card: PathCard,
  path: PathStatus,
  samples: Sample[],
  now: number,
  running: Drill | null,
  traffic: { share: number | null; perSecond: number | null },
  historyMs: number,
): void {
  const view = pathView(path, now);
  card.root.dataset.state = path.state;
  card.root.dataset.tone = view.tone;
  card.root.dataset.down = String(view.down);
  card.state.textContent = view.label;
  card.state.dataset.tone = view.tone;
  card.state.title = `breaker ${path.state}`;
  card.grade.textContent = path.grade;
  const figure = (label: string, value: string, name: string) => [
    h('dt', {}, label),
    h('dd', { 'data-figure': name }, value),
  ];
  // A down path's latency is from before the outage: shown as a figure it reads as current.
  const latency = (ms: number | null) => (view.down ? '—' : formatMs(ms));
  card.figures.replaceChildren(
    ...figure('p50', latency(path.latencyMs.p50), 'p50'),
    ...figure('p99', latency(path.latencyMs.p99), 'p99'),
    ...figure('carried (1 min)', formatRate(traffic.share), 'share'),
    ...figure(
      'rate',
      traffic.perSecond === null
        ? '—'
        : `${traffic.perSecond.toFixed(traffic.perSecond < 10 ? 1 : 0)}/s`,
      'rate',
    ),
    ...figure('failures (1 min)', formatRate(recentFailureRate(samples, now)), 'failure-rate'),
    ...figure('attempts', String(path.requests), 'attempts'),
  );
  card.chart.replaceChildren(latencyChart(samples, now, historyMs));
  const probe = path.lastProbe;
  const lines: string[] = [];
  if (view.down)
    lines.push(
      path.provenAt
        ? `last success ${formatAgo(Date.parse(path.provenAt), now)}`
        : 'no success seen',
    );
  if (path.lastError)
    lines.push(
      `last error ${path.lastError.code}, ${formatAgo(Date.parse(path.lastError.at), now)}`,
    );
  const egress = egressLine(path.egress);
  if (egress) lines.push(egress.text);
  card.root.dataset.egress = egress?.tone ?? 'unknown';
  if (probe)
    lines.push(
      `last probe ${formatAgo(Date.parse(probe.at), now)}: ${probe.error ? `failed (${probe.error})` : `ok in ${formatMs(probe.latencyMs)}`}`,
    );
  else if (probe === null) lines.push('no probe yet');
  card.probe.textContent = lines.join(' · ');
  const proof = drillProofLine(path, now);
  card.proof.hidden = proof === null;
  card.proof.textContent = proof?.text ?? '';
  card.proof.dataset.tone = proof?.tone ?? 'muted';
  const drilling = running !== null && drilledPaths(running).includes(path.id);
  // One drill at a time: only the drilled paths' buttons stay active, to end the drill early.
  card.drill.disabled = running !== null && !drilling;
  card.drill.textContent = drilling ? 'Stop drill' : 'Drill';
}

/** Every path a drill isolates (older gateways send only `path`). */
export function drilledPaths(drill: Drill): string[] {
  return drill.paths && drill.paths.length > 0 ? drill.paths : [drill.path];
}
