// Small builders for test telemetry: every field has a plain default, overrides replace fields.
import type {
  AnyValue,
  InstrumentationScope,
  KeyValue,
  LogRecord,
  MetricDescriptor,
  MetricPoint,
  MetricPointValue,
  NumberPoint,
  Resource,
  SpanRecord,
} from '../../src/model/telemetry.ts';

export const T0 = 1_700_000_000_000_000_000n; // 2023-11-14T22:13:20Z in ns
export const MS = 1_000_000n;
export const SEC = 1_000_000_000n;

/** Attributes from plain values: strings, booleans, doubles, `123n` for ints, or an AnyValue as is. */
export function attrs(values: Record<string, string | boolean | number | bigint | AnyValue>): KeyValue[] {
  return Object.entries(values).map(([key, v]) => ({ key, value: anyValue(v) }));
}

export function anyValue(v: string | boolean | number | bigint | AnyValue): AnyValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return { doubleValue: v };
  if (typeof v === 'bigint') return { intValue: v.toString() };
  return v;
}

export function resource(service: string, extra: Record<string, string | boolean | number | bigint | AnyValue> = {}): Resource {
  return { attributes: attrs({ 'service.name': service, ...extra }), droppedAttributesCount: 0, schemaUrl: '' };
}

export function scope(name = 'test-scope', version = '1.0.0'): InstrumentationScope {
  return { name, version, attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
}

/** A 32-hex trace ID made from a number, so tests can name traces 1, 2, 3. */
export function traceId(n: number | bigint): string {
  return BigInt(n).toString(16).padStart(32, '0');
}

export function spanId(n: number | bigint): string {
  return BigInt(n).toString(16).padStart(16, '0');
}

const defaultResource = resource('checkout');
const defaultScope = scope();

export function span(overrides: Partial<SpanRecord> = {}): SpanRecord {
  return {
    tenant: 'default',
    resource: defaultResource,
    scope: defaultScope,
    traceId: traceId(1),
    spanId: spanId(1),
    parentSpanId: '',
    traceState: '',
    flags: 1,
    name: 'GET /cart',
    kind: 2,
    startTimeUnixNano: T0,
    endTimeUnixNano: T0 + 10n * MS,
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
    ...overrides,
  };
}

export function log(overrides: Partial<LogRecord> = {}): LogRecord {
  return {
    tenant: 'default',
    resource: defaultResource,
    scope: defaultScope,
    timeUnixNano: T0,
    observedTimeUnixNano: T0 + MS,
    severityNumber: 9,
    severityText: 'INFO',
    body: { stringValue: 'hello' },
    attributes: [],
    droppedAttributesCount: 0,
    flags: 0,
    traceId: '',
    spanId: '',
    eventName: '',
    ...overrides,
  };
}

export function metric(overrides: Partial<MetricDescriptor> = {}): MetricDescriptor {
  return {
    name: 'http.server.requests',
    description: 'requests served',
    unit: '{request}',
    type: 'sum',
    aggregationTemporality: 2,
    isMonotonic: true,
    metadata: [],
    ...overrides,
  };
}

export function numberPoint(overrides: Partial<NumberPoint> = {}): NumberPoint {
  return { type: 'number', attributes: [], startTimeUnixNano: T0, timeUnixNano: T0, flags: 0, asDouble: 0, exemplars: [], ...overrides };
}

export function metricPoint(
  point: MetricPointValue = numberPoint(),
  descriptor: Partial<MetricDescriptor> = {},
  overrides: Partial<Omit<MetricPoint, 'point' | 'metric'>> = {},
): MetricPoint {
  return { tenant: 'default', resource: defaultResource, scope: defaultScope, metric: metric(descriptor), point, ...overrides };
}
