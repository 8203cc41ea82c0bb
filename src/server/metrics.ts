// The gateway's own metrics in the Prometheus text format (teleql_<component>_<name>_<unit>).
// Components report what they count; this module only formats.

export interface MetricSample {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  value: number;
  labels?: Record<string, string>;
}

export type MetricsSource = () => MetricSample[];

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export function formatPrometheus(samples: readonly MetricSample[]): string {
  const byName = new Map<string, MetricSample[]>();
  for (const s of samples) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const lines: string[] = [];
  for (const [name, group] of byName) {
    lines.push(`# HELP ${name} ${group[0]!.help}`, `# TYPE ${name} ${group[0]!.type}`);
    for (const s of group) {
      const labels = Object.entries(s.labels ?? {});
      const l = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
      lines.push(`${name}${l} ${Number.isFinite(s.value) ? s.value : 'NaN'}`);
    }
  }
  return lines.join('\n') + '\n';
}
