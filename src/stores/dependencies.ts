// Service dependencies (who calls whom, how often): Jaeger answers them itself (`/api/dependencies`,
// which api_v3 lacks); any other trace store gets them computed from the spans of the time range.
import { serviceName } from '../model/values.ts';
import type { SpanRecord } from '../model/telemetry.ts';
import type { TimeRange, TraceStore } from './types.ts';

export interface DependencyLink {
  parent: string;
  child: string;
  callCount: number;
}

/** A trace store that knows the dependency graph itself. */
export interface DependencyStore {
  dependencies(tenant: string, range: Required<TimeRange>, service?: string): Promise<DependencyLink[]>;
}

export function hasDependencies(store: TraceStore): store is TraceStore & DependencyStore {
  return typeof (store as Partial<DependencyStore>).dependencies === 'function';
}

/** Parent → child service calls among `spans`: a span whose parent is in the set and in another service. */
export function dependenciesFromSpans(spans: Iterable<SpanRecord>): DependencyLink[] {
  const byId = new Map<string, SpanRecord>();
  const list: SpanRecord[] = [];
  for (const s of spans) {
    byId.set(`${s.traceId}/${s.spanId}`, s);
    list.push(s);
  }
  const counts = new Map<string, DependencyLink>();
  for (const s of list) {
    if (!s.parentSpanId) continue;
    const parent = byId.get(`${s.traceId}/${s.parentSpanId}`);
    if (!parent) continue;
    const from = serviceName(parent.resource);
    const to = serviceName(s.resource);
    if (from === to) continue;
    const key = `${from}\0${to}`;
    const link = counts.get(key);
    if (link) link.callCount++;
    else counts.set(key, { parent: from, child: to, callCount: 1 });
  }
  return sortLinks([...counts.values()]);
}

export function sortLinks(links: DependencyLink[]): DependencyLink[] {
  return links.sort((a, b) => (a.parent < b.parent ? -1 : a.parent > b.parent ? 1 : a.child < b.child ? -1 : a.child > b.child ? 1 : 0));
}
