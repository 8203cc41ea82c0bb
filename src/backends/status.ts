// What every backend reports about itself: the `backends` GraphQL query and the gateway's /metrics
// read the same figures. Exporters report as WRITE backends, read stores as READ ones; the app
// collects the reporters into one registry.
import { endpointWithoutCredentials } from '../url-credentials.ts';

export type BackendRole = 'WRITE' | 'READ';

export interface BackendStatus {
  /** The component or store id, e.g. `jaeger/traces` or `read/traces`. */
  id: string;
  /** duckdb, jaeger, prometheus, elasticsearch… */
  kind: string;
  signal: string;
  roles: BackendRole[];
  /** Where it sends or reads (never with credentials). */
  endpoint: string;
  healthy: boolean;
  lastError: string | null;
  lastErrorAt: Date | null;
  /** Items waiting to be written (memory and spill). */
  queueDepth: number;
  itemsWritten: number;
  itemsFailed: number;
  spilled: number;
  dropped: number;
  retries: number;
}

export interface BackendReporter {
  backendStatus(): BackendStatus;
}

export function isBackendReporter(v: unknown): v is BackendReporter {
  return typeof (v as Partial<BackendReporter> | null)?.backendStatus === 'function';
}

/** A set of reporters; statuses come out sorted by id so answers are stable. */
export interface BackendRegistry {
  add(reporter: BackendReporter): void;
  statuses(): BackendStatus[];
}

export function createBackendRegistry(): BackendRegistry {
  const reporters: BackendReporter[] = [];
  return {
    add: (r) => void reporters.push(r),
    statuses: () =>
      reporters
        .map((r) => r.backendStatus())
        .map((s) => ({ ...s, endpoint: endpointWithoutCredentials(s.endpoint) }))
        .sort((a, b) => a.id.localeCompare(b.id)),
  };
}
