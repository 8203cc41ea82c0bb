// The gateway's own metrics in the Prometheus text format (teleql_<component>_<name>_<unit>).
// Components report what they count; this module only formats (and keeps histograms' buckets).

interface Common {
  name: string;
  help: string;
  labels?: Record<string, string>;
}

export interface MetricSample extends Common {
  type: 'counter' | 'gauge';
  value: number;
}

export interface HistogramSample extends Common {
  type: 'histogram';
  /** Per upper bound `le`, the observations at or below it (cumulative), ascending. */
  buckets: readonly (readonly [number, number])[];
  sum: number;
  count: number;
}

export type MetricsSource = () => MetricSample[];

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

const labelText = (labels: Record<string, string>) => {
  const entries = Object.entries(labels);
  return entries.length ? `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
};
const number = (v: number) => (Number.isFinite(v) ? String(v) : 'NaN');

export function formatPrometheus(samples: readonly (MetricSample | HistogramSample)[]): string {
  const byName = new Map<string, (MetricSample | HistogramSample)[]>();
  for (const s of samples) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const lines: string[] = [];
  for (const [name, group] of byName) {
    lines.push(`# HELP ${name} ${group[0]!.help}`, `# TYPE ${name} ${group[0]!.type}`);
    for (const s of group) {
      const labels = s.labels ?? {};
      if (s.type !== 'histogram') {
        lines.push(`${name}${labelText(labels)} ${number(s.value)}`);
        continue;
      }
      for (const [le, n] of s.buckets) lines.push(`${name}_bucket${labelText({ ...labels, le: String(le) })} ${n}`);
      lines.push(`${name}_bucket${labelText({ ...labels, le: '+Inf' })} ${s.count}`, `${name}_sum${labelText(labels)} ${number(s.sum)}`, `${name}_count${labelText(labels)} ${s.count}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Observations by label set, as one histogram metric with fixed upper bounds. */
export class Histogram {
  private readonly series = new Map<string, { labels: Record<string, string>; counts: number[]; sum: number; count: number }>();

  constructor(
    private readonly name: string,
    private readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  observe(value: number, labels: Record<string, string>): void {
    const key = JSON.stringify(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels, counts: this.bounds.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.bounds.length; i++) if (value <= this.bounds[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  samples(): HistogramSample[] {
    return [...this.series.values()].map((s) => ({
      name: this.name,
      help: this.help,
      type: 'histogram' as const,
      labels: s.labels,
      buckets: this.bounds.map((le, i) => [le, s.counts[i]!] as const),
      sum: s.sum,
      count: s.count,
    }));
  }
}
