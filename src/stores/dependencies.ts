// Service dependencies (who calls whom, how often): Jaeger answers them itself (`/api/dependencies`,
// which api_v3 lacks); with traces in DuckDB they are the service graph's edges
// (resolvers/dependencies.ts).
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

/** Links by parent, then child: one order whichever store answered. */
export function sortLinks(links: DependencyLink[]): DependencyLink[] {
  return links.sort((a, b) => (a.parent < b.parent ? -1 : a.parent > b.parent ? 1 : a.child < b.child ? -1 : a.child > b.child ? 1 : 0));
}
