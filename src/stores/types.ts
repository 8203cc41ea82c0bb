// Per-signal store interfaces. Resolvers depend on these only; each backend implements them and
// turns its own errors into StoreError codes, so no driver error ever reaches a resolver.
import type { LogRecord, MetricPoint, MetricType, SpanKind, SpanRecord } from '../model/telemetry.ts';

/** BAD_ARGUMENT: an argument of the read other than its filter (a page cursor) is not one the store can use. */
export type StoreErrorCode = 'NOT_FOUND' | 'UNAVAILABLE' | 'BAD_QUERY' | 'BAD_ARGUMENT' | 'INTERNAL';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  readonly backend: string;
  /**
   * The HTTP status the backend answered with, when that answer is the error (a 4xx the gateway's
   * request got). The one detail of an INTERNAL error a client is shown (src/errors.ts).
   */
  readonly status?: number;
  constructor(code: StoreErrorCode, backend: string, message: string, cause?: unknown, status?: number) {
    super(message, { cause });
    this.name = 'StoreError';
    this.code = code;
    this.backend = backend;
    if (status !== undefined) this.status = status;
  }
}

/** Nanoseconds since the Unix epoch; both ends inclusive, either may be open. */
export interface TimeRange {
  from?: bigint;
  to?: bigint;
}

export type AttributeOp = 'eq' | 'neq' | 'in' | 'regex' | 'exists' | 'gt' | 'gte' | 'lt' | 'lte';

/**
 * A condition on one attribute key. The key is looked up on the record first (span/log/point
 * attributes) and then on its resource, as Tempo's unscoped `.key` does. Values compare as strings
 * (`eq`, `neq`, `in`, `regex`) or numbers (`gt`, `gte`, `lt`, `lte`).
 */
export interface AttributeCondition {
  key: string;
  op: AttributeOp;
  value?: string;
  values?: string[];
  number?: number;
}

/**
 * The one filter language for spans, traces and logs. Fields on one level are ANDed; `and`, `or`
 * and `not` nest. A field that does not apply to a signal (e.g. `kind` on logs) is a BAD_QUERY.
 * For traces, a trace matches when at least one of its spans matches.
 */
export interface TelemetryFilter {
  timeRange?: TimeRange;
  service?: string[];
  name?: string[]; // span name (operation) or log event name
  status?: ('UNSET' | 'OK' | 'ERROR')[];
  kind?: SpanKind[];
  minDuration?: bigint; // ns
  maxDuration?: bigint; // ns
  telemetrySource?: string[];
  traceId?: string[];
  spanId?: string[];
  minSeverity?: number; // logs: severity number ≥
  bodyContains?: string; // logs: case-insensitive substring of the body
  attributes?: AttributeCondition[];
  and?: TelemetryFilter[];
  or?: TelemetryFilter[];
  not?: TelemetryFilter;
}

export interface PageRequest {
  first: number;
  /** Opaque cursor from a previous page's `endCursor`. */
  after?: string;
  /** Newest first unless set. */
  order?: 'NEWEST_FIRST' | 'OLDEST_FIRST';
}

export interface Page<T> {
  items: { node: T; cursor: string }[];
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface TraceSummary {
  traceId: string;
  rootServiceName: string | null;
  rootSpanName: string | null;
  startTimeUnixNano: bigint;
  durationNano: bigint;
  spanCount: number;
  errorCount: number;
  services: string[];
}

export interface SpanRef {
  traceId: string;
  spanId: string;
}

/**
 * Remarks a backend attaches to a search result, for the client to see: e.g. that part of the filter
 * was evaluated by the gateway after fetching a bounded number of traces, so older matches may be
 * missing, or that a catalog list was cut (DuckDB's attributeKeys / attributeValues). Absent (not an
 * empty list) when there is nothing to say.
 */
export interface QueryNotes {
  notes?: string[];
}

/**
 * The parts of a span a read may leave out when the caller does not need them (trace-by-id reads
 * only what the GraphQL selection asks for). Left out: attributes, events and links are [], the
 * resource and scope are empty. IDs, names, times, kind, status, trace state, flags and the dropped
 * counts are always read.
 */
export type SpanPart = 'attributes' | 'events' | 'links' | 'resource' | 'scope';

export interface TraceStore {
  readonly backend: string;
  /**
   * Every span of each trace asked for, in key order, each trace's spans in start order (ties by span
   * ID; resolvers rely on it and do not sort again); a missing trace is an empty list. With `parts`,
   * a store may read only those optional parts of each span and leave the others empty (SpanPart):
   * such spans are partial and must never be cached or handed out as whole spans.
   */
  getTraces(tenant: string, traceIds: readonly string[], parts?: ReadonlySet<SpanPart>): Promise<SpanRecord[][]>;
  getSpans(tenant: string, refs: readonly SpanRef[]): Promise<(SpanRecord | null)[]>;
  searchTraces(tenant: string, filter: TelemetryFilter, limit: number): Promise<TraceSummary[] & QueryNotes>;
  searchSpans(tenant: string, filter: TelemetryFilter, page: PageRequest): Promise<Page<SpanRecord> & QueryNotes>;
  services(tenant: string, range?: TimeRange): Promise<string[]>;
  operations(tenant: string, service: string, range?: TimeRange): Promise<{ name: string; kind: SpanKind }[]>;
}

/** A stored log record has an ID the store assigned (stable, usable as a cursor and lookup key). */
export interface StoredLogRecord extends LogRecord {
  id: string;
}

export interface LogStore {
  readonly backend: string;
  searchLogs(tenant: string, filter: TelemetryFilter, page: PageRequest): Promise<Page<StoredLogRecord>>;
  /** Logs correlated to each span, in key order (DataLoader contract). */
  logsForSpans(tenant: string, refs: readonly SpanRef[], limitPerSpan: number): Promise<StoredLogRecord[][]>;
  logsForTraces(tenant: string, traceIds: readonly string[], limitPerTrace: number): Promise<StoredLogRecord[][]>;
  getLogs(tenant: string, ids: readonly string[]): Promise<(StoredLogRecord | null)[]>;
}

export type SeriesAggregation = 'AVG' | 'SUM' | 'MIN' | 'MAX' | 'LAST' | 'COUNT' | 'RATE';

export interface SeriesQuery {
  name: string;
  /** Exact label matches; a label is a point attribute or a resource attribute. */
  labels?: Record<string, string>;
  range: Required<TimeRange>;
  stepNano: bigint;
  aggregation: SeriesAggregation;
  /** Histogram-like series only: each step's value is this quantile (0–1) of its observations. */
  quantile?: number;
  /**
   * Combine the series that share these labels' values into one per group, as Prometheus'
   * `sum by (…)` (an empty list: every series into one). See groupedValue in series-query.ts.
   */
  groupBy?: readonly string[];
}

export interface SeriesPoint {
  timeUnixNano: bigint;
  value: number | null;
  // Set for histogram-like series: what was observed during the step.
  count?: number;
  sum?: number;
}

export interface StoredExemplar {
  timeUnixNano: bigint;
  value: number;
  traceId: string;
  spanId: string;
  filteredAttributes: MetricPoint['point']['attributes'];
}

export interface MetricSeries {
  name: string;
  type: MetricType;
  unit: string;
  description: string;
  labels: Record<string, string>;
  points: SeriesPoint[];
  exemplars: StoredExemplar[];
}

export interface MetricStore {
  readonly backend: string;
  querySeries(tenant: string, q: SeriesQuery): Promise<MetricSeries[]>;
  /**
   * Raw points, newest first, for clients that want every field (buckets, quantiles…); with labels,
   * only points that have each (as querySeries matches them).
   */
  points(tenant: string, name: string, range: TimeRange, limit: number, labels?: Record<string, string>): Promise<MetricPoint[]>;
  metricNames(tenant: string, range?: TimeRange): Promise<{ name: string; type: MetricType; unit: string; description: string }[]>;
}

export type AttributeSignal = 'SPAN' | 'LOG' | 'METRIC' | 'RESOURCE';

/** Filter-building helpers (Grafana's variable queries use these). */
export interface AttributeCatalog {
  attributeKeys(tenant: string, signal: AttributeSignal, range?: TimeRange, prefix?: string, limit?: number): Promise<string[]>;
  attributeValues(tenant: string, signal: AttributeSignal, key: string, range?: TimeRange, limit?: number): Promise<string[]>;
}

/** The write side of a store, used by its exporter. Resolves once the data is durable in the store. */
export interface StoreWriter {
  /**
   * Whether a write that failed for lack of memory may be tried again in smaller parts: the store
   * rebuilds itself after a failed commit (DuckDB on a file reopens it; an in-memory one cannot, and
   * more, smaller commits failing there left their rows behind). Unset: no.
   */
  readonly splitsOnMemory?: boolean;
  writeSpans(spans: readonly SpanRecord[]): Promise<void>;
  writeLogs(logs: readonly LogRecord[]): Promise<void>;
  writeMetrics(points: readonly MetricPoint[]): Promise<void>;
}
