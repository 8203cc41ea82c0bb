// What every backend reports about itself: the `backends` GraphQL query and the gateway's /metrics
// read the same figures. Exporters report as WRITE backends, read stores as READ ones; the app
// collects the reporters into one registry.

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

/**
 * An endpoint as it may be shown: a URL without its user and password (a configured
 * `http://user:pass@es:9200` must not reach the `backends` query or a log); anything else as is.
 */
export function endpointWithoutCredentials(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return endpoint;
  }
  if (url.username === '' && url.password === '') return endpoint;
  url.username = '';
  url.password = '';
  return url.toString();
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
