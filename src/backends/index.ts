// The backends registry of one gateway: every component that reports a status (the queued
// exporters), the embedded DuckDB store, and the read sources (wrapped by observeStore).
import type { Signal } from '../model/telemetry.ts';
import type { MetricSample } from '../server/metrics.ts';
import { isBackendReporter, type BackendRegistry, type BackendRole, type BackendStatus } from './status.ts';

export { observeStore } from './observed-store.ts';
export { createBackendRegistry, isBackendReporter, type BackendRegistry, type BackendReporter, type BackendRole, type BackendStatus } from './status.ts';

const TABLE_SIGNAL: Record<string, Signal> = { spans: 'traces', logs: 'logs', metric_points: 'metrics' };

/**
 * The embedded store as a backend: per signal, WRITE when a pipeline writes to it, READ when queries
 * read it. `exporterStats` sums the signal's DuckDB exporters' records not written and retries.
 */
export function duckDbReporters(
  stats: () => { rowsWritten: Record<string, number>; writeErrors: number; lastWriteError: { table: string; message: string; at: number } | null; failingTables: readonly string[] },
  exporterStats: (signal: Signal) => { failedItems: number; retries: number },
  roles: Record<Signal, BackendRole[]>,
  path: string,
): { backendStatus(): BackendStatus }[] {
  return Object.entries(TABLE_SIGNAL)
    .filter(([, signal]) => roles[signal].length > 0)
    .map(([table, signal]) => ({
      backendStatus: (): BackendStatus => {
        const s = stats();
        const last = s.lastWriteError?.table === table ? s.lastWriteError : null;
        const exported = exporterStats(signal);
        return {
          id: `duckdb/${signal}`,
          kind: 'duckdb',
          signal,
          roles: roles[signal],
          endpoint: path,
          // Unhealthy while this table's writes fail; a refused write that a retry then wrote is history.
          healthy: !s.failingTables.includes(table),
          lastError: last?.message ?? null,
          lastErrorAt: last ? new Date(last.at) : null,
          queueDepth: 0,
          itemsWritten: s.rowsWritten[table] ?? 0,
          itemsFailed: exported.failedItems,
          spilled: 0,
          dropped: 0,
          retries: exported.retries,
        };
      },
    }));
}

/** Adds every pipeline component that reports a status. */
export function addComponentReporters(registry: BackendRegistry, components: Iterable<unknown>): void {
  for (const c of components) if (isBackendReporter(c)) registry.add(c);
}

/** `teleql_backend_healthy` per backend and role, beside the exporters' own teleql_exporter_* series. */
export function backendMetrics(statuses: readonly BackendStatus[]): MetricSample[] {
  return statuses.flatMap((s) =>
    s.roles.map((role) => ({
      name: 'teleql_backend_healthy',
      help: '1 when the backend answered its last request',
      type: 'gauge' as const,
      value: s.healthy ? 1 : 0,
      labels: { backend: s.id, kind: s.kind, role: role.toLowerCase() },
    })),
  );
}

