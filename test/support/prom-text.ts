/**
 * A small strict parser for the Prometheus text exposition format (0.0.4), for tests: every line
 * must be a HELP, TYPE, comment or well-formed sample of a declared family; histograms must have
 * a +Inf bucket equal to their _count. Throws on the first problem, naming the line.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('exposition must end with a newline');
  lines.pop();
  lines.forEach((line, index) => {
    const where = `line ${index + 1}: ${line}`;
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      const [, kind, name, ...rest] = line.split(' ');
      if (!name || !NAME.test(name)) throw new Error(`bad metric name, ${where}`);
      const family = families.get(name) ?? { name, type: 'untyped', help: '', samples: [] };
      if (kind === 'TYPE') {
        if (!TYPES.has(rest[0] ?? '') || rest.length !== 1) throw new Error(`bad type, ${where}`);
        if (family.samples.length > 0) throw new Error(`TYPE after samples, ${where}`);
        family.type = rest[0]!;
      } else {
        family.help = rest.join(' ');
      }
      families.set(name, family);
      return;
    }
    if (line.startsWith('#') || line.trim() === '') return;
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, families);
    if (!family) throw new Error(`sample of an undeclared family, ${where}`);
    family.samples.push(sample);
  });
  for (const family of families.values()) {
    if (family.type !== 'histogram') continue;
    const groups = new Map<string, { inf?: number; count?: number }>();
    for (const s of family.samples) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      const group = groups.get(key) ?? {};
      if (s.name.endsWith('_bucket') && le === '+Inf') group.inf = s.value;
      if (s.name.endsWith('_count')) group.count = s.value;
      groups.set(key, group);
    }
    for (const [key, group] of groups) {
      if (group.inf !== group.count)
        throw new Error(
          `histogram ${family.name}${key}: +Inf bucket ${group.inf} != count ${group.count}`,
        );
    }
  }
  return families;
}

function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(sampleName);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const family = families.get(sampleName.slice(0, -suffix.length));
    if (family && (family.type === 'histogram' || family.type === 'summary')) return family;
  }
  return undefined;
}

function parseSample(line: string, where: string): Sample {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)( -?[0-9]+)?$/.exec(line);
  if (!match) throw new Error(`malformed sample, ${where}`);
  const labels: Record<string, string> = {};
  let rest = match[3] ?? '';
  while (rest !== '') {
    const label = /^([^=]+)="((?:[^"\\]|\\["\\n])*)"(,|$)/.exec(rest);
    if (!label || !LABEL_NAME.test(label[1]!)) throw new Error(`malformed labels, ${where}`);
    if (label[1]! in labels) throw new Error(`duplicate label, ${where}`);
    labels[label[1]!] = label[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    rest = rest.slice(label[0].length);
  }
  const raw = match[4]!;
  const value =
    raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? NaN : Number(raw);
  if (Number.isNaN(value) && raw !== 'NaN') throw new Error(`bad value, ${where}`);
  return { name: match[1]!, labels, value };
}

/** Sum of the samples named `name` whose labels include `labels`. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  let total = 0;
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        total += s.value;
    }
  }
  return total;
}
