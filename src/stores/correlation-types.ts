// Store capabilities for cross-signal correlation: RED series per service, the service graph,
// exception occurrences and logs around a span. Each is its own interface so a backend can supply
// one without the others (e.g. RED from Prometheus spanmetrics, the graph from DuckDB spans).
// Batch methods take a list of keys and return one result per key, in key order (DataLoader).
import type { SpanRef, StoredLogRecord, TimeRange } from './types.ts';

/** One RED query: a service over [from, to] cut into steps of `stepNano`. */
export interface RedKey {
  service: string;
  range: Required<TimeRange>;
  stepNano: bigint;
}

/**
 * Requests, errors and duration of one step. Requests are a service's entry spans (kind SERVER or
 * CONSUMER, as spanmetrics' `span_kind` label selects them); errors are those with status ERROR.
 * Rates are per second over the step; quantiles are in ns and null when the step had no request.
 */
export interface RedPoint {
  timeUnixNano: bigint;
  requests: number;
  errors: number;
  requestRate: number;
  errorRate: number;
  p50Nano: number | null;
  p95Nano: number | null;
  p99Nano: number | null;
}

export interface RedSeries {
  service: string;
  range: Required<TimeRange>;
  stepNano: bigint;
  /** Every step of the range, oldest first, including empty ones (requests 0). */
  points: RedPoint[];
  /** The whole range as one step. */
  total: Omit<RedPoint, 'timeUnixNano'>;
}

export interface RedMetricsStore {
  /** Names where the numbers come from, e.g. `duckdb (derived from spans)` or `prometheus`. */
  readonly backend: string;
  redSeries(tenant: string, keys: readonly RedKey[]): Promise<RedSeries[]>;
}

export interface ServiceNodeStats {
  service: string;
  requests: number;
  errors: number;
  /** ns; null when the service had no entry span in the range. */
  p95Nano: number | null;
}

/** Calls from `source` to `target`: child spans in `target` whose parent span is in `source`. */
export interface ServiceEdgeStats {
  source: string;
  target: string;
  calls: number;
  /** Calls whose child span has status ERROR. */
  errors: number;
  /** p95 of the child spans' durations (ns). */
  p95Nano: number;
}

export interface ServiceGraph {
  range: Required<TimeRange>;
  nodes: ServiceNodeStats[];
  edges: ServiceEdgeStats[];
}

export interface ServiceGraphQuery {
  range: Required<TimeRange>;
  /** Only edges touching one of these services (and their nodes); all when absent. */
  services?: readonly string[];
}

export interface ServiceGraphStore {
  readonly backend: string;
  serviceGraph(tenant: string, q: ServiceGraphQuery): Promise<ServiceGraph>;
}

export type ExceptionSignal = 'SPAN' | 'LOG';

/**
 * Occurrences that share signal, service, exception type and the exact stack trace text. The store
 * aggregates these (cheap, exact); grouping by fingerprint (normalised frames) happens above it, so
 * the normalisation rules live in one place (`src/correlation/fingerprint.ts`).
 */
export interface ExceptionOccurrences {
  signal: ExceptionSignal;
  service: string;
  type: string;
  stacktrace: string;
  /** One message of the group (messages vary with IDs; they are not part of the grouping). */
  sampleMessage: string;
  count: number;
  firstSeen: bigint;
  lastSeen: bigint;
  /** Occurrences per step start, only steps that had some. */
  buckets: { timeUnixNano: bigint; count: number }[];
  /** Up to `examples` of the most recent spans (SPAN), or spans the logs point to (LOG), with the occurrence's time. */
  spans: (SpanRef & { timeUnixNano: bigint })[];
  /** Up to `examples` of the most recent logs (LOG only). */
  logs: { id: string; timeUnixNano: bigint }[];
}

export interface ExceptionQuery {
  range: Required<TimeRange>;
  stepNano: bigint;
  services?: readonly string[];
  /** Rows of these exception.type values, and rows without one (whose type the caller reads from the stack). */
  types?: readonly string[];
  traceIds?: readonly string[];
  /** Example spans and logs kept per group. */
  examples: number;
}

export interface ExceptionGroupStore {
  readonly backend: string;
  exceptionOccurrences(tenant: string, q: ExceptionQuery): Promise<ExceptionOccurrences[]>;
}

/**
 * The logs around one span: those of its trace, and those of its service that carry no trace ID
 * at all (code that logs without trace context), timed within `range`.
 */
export interface LogWindowKey {
  traceId: string;
  service: string;
  range: Required<TimeRange>;
}

export interface LogWindowStore {
  readonly backend: string;
  /**
   * Logs per key, earliest first, at most `limitPerKey` each, in key order. Past the limit, the
   * trace's logs are kept before logs without a trace ID, and within each, those nearest the
   * middle of the range (the span, for a range around one): a chatty service's untraced lines
   * never push out the trace's own logs.
   */
  logsAround(tenant: string, keys: readonly LogWindowKey[], limitPerKey: number): Promise<StoredLogRecord[][]>;
}

/** Everything correlation reads beyond the per-signal stores. */
export interface CorrelationStores {
  red: RedMetricsStore;
  serviceGraph: ServiceGraphStore;
  exceptions: ExceptionGroupStore;
  /** Absent when logs are read from a backend other than the one holding these tables. */
  logWindows?: LogWindowStore;
}
