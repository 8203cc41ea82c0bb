// The telemetry data model shared by ingest and the stores.
//
// Values keep the OTLP/JSON encoding (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
// ints as decimal strings, bytes as base64, trace/span IDs as lowercase hex. That form is lossless
// (int vs double, bytes, nested lists all survive), serialisable with JSON.stringify, and is exactly
// what a store can persist and hand back. Timestamps are bigint nanoseconds since the Unix epoch.

export type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { bytesValue: string }
  | { arrayValue: { values: AnyValue[] } }
  | { kvlistValue: { values: KeyValue[] } }
  | Record<string, never>; // an empty AnyValue (no value set)

export interface KeyValue {
  key: string;
  value: AnyValue;
}

export interface Resource {
  attributes: KeyValue[];
  droppedAttributesCount: number;
  schemaUrl: string;
}

export interface InstrumentationScope {
  name: string;
  version: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  schemaUrl: string;
}

/** OTLP Span.SpanKind numbers. */
export const SpanKind = {
  UNSPECIFIED: 0,
  INTERNAL: 1,
  SERVER: 2,
  CLIENT: 3,
  PRODUCER: 4,
  CONSUMER: 5,
} as const;
export type SpanKind = (typeof SpanKind)[keyof typeof SpanKind];

/**
 * A span's kind as one of SpanKind. proto3 enums are open, so a record keeps any int32 kind as it
 * was sent (a newer SDK's or a vendor's); one SpanKind does not name reads as UNSPECIFIED.
 */
export function knownSpanKind(kind: number): SpanKind {
  return kind >= SpanKind.UNSPECIFIED && kind <= SpanKind.CONSUMER ? (kind as SpanKind) : SpanKind.UNSPECIFIED;
}

/** OTLP Status.StatusCode numbers. */
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;
export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

export interface SpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState: string;
  flags: number;
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

/** Every record carries the tenant it was received for (X-Scope-OrgID, or "default"). */
export interface TenantScoped {
  tenant: string;
  resource: Resource;
  scope: InstrumentationScope;
}

export interface SpanRecord extends TenantScoped {
  traceId: string; // 32 hex chars
  spanId: string; // 16 hex chars
  parentSpanId: string; // '' for a root span
  traceState: string;
  flags: number;
  name: string;
  /** OTLP Span.SpanKind as sent: usually a SpanKind, but any int32 (see knownSpanKind). */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  events: SpanEvent[];
  droppedEventsCount: number;
  links: SpanLink[];
  droppedLinksCount: number;
  status: { code: StatusCode; message: string };
}

export interface LogRecord extends TenantScoped {
  timeUnixNano: bigint; // 0n when the source did not set it
  observedTimeUnixNano: bigint;
  severityNumber: number; // 1..24 defined, 0 unset; any int32 as sent (proto3 enums are open)
  severityText: string;
  body: AnyValue;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  flags: number;
  traceId: string; // '' when not correlated
  spanId: string;
  eventName: string;
}

export type MetricType = 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary';

/** OTLP AggregationTemporality numbers. */
export const Temporality = { UNSPECIFIED: 0, DELTA: 1, CUMULATIVE: 2 } as const;
export type Temporality = (typeof Temporality)[keyof typeof Temporality];

export interface MetricDescriptor {
  name: string;
  description: string;
  unit: string;
  type: MetricType;
  /** Set for sum, histogram and exponentialHistogram. */
  aggregationTemporality: Temporality;
  /** Set for sum. */
  isMonotonic: boolean;
  metadata: KeyValue[];
}

export interface Exemplar {
  filteredAttributes: KeyValue[];
  timeUnixNano: bigint;
  asDouble?: number;
  asInt?: string;
  spanId: string;
  traceId: string;
}

interface PointBase {
  attributes: KeyValue[];
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  flags: number;
}

export interface NumberPoint extends PointBase {
  type: 'number';
  asDouble?: number;
  asInt?: string;
  exemplars: Exemplar[];
}

export interface HistogramPoint extends PointBase {
  type: 'histogram';
  count: number;
  sum?: number;
  bucketCounts: number[];
  explicitBounds: number[];
  min?: number;
  max?: number;
  exemplars: Exemplar[];
}

export interface ExponentialBuckets {
  offset: number;
  bucketCounts: number[];
}

export interface ExponentialHistogramPoint extends PointBase {
  type: 'exponentialHistogram';
  count: number;
  sum?: number;
  scale: number;
  zeroCount: number;
  positive: ExponentialBuckets;
  negative: ExponentialBuckets;
  min?: number;
  max?: number;
  zeroThreshold: number;
  exemplars: Exemplar[];
}

export interface SummaryPoint extends PointBase {
  type: 'summary';
  count: number;
  sum: number;
  quantileValues: { quantile: number; value: number }[];
}

export type MetricPointValue = NumberPoint | HistogramPoint | ExponentialHistogramPoint | SummaryPoint;

/** One data point with the metric it belongs to: the unit the metric pipeline moves and stores. */
export interface MetricPoint extends TenantScoped {
  metric: MetricDescriptor;
  point: MetricPointValue;
}

export type Signal = 'traces' | 'logs' | 'metrics';

/** The item type each signal's pipeline moves. */
export interface SignalItems {
  traces: SpanRecord;
  logs: LogRecord;
  metrics: MetricPoint;
}

export const DEFAULT_TENANT = 'default';
