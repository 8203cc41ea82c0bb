// A small, fully specified data set for the GraphQL execution tests: two traces with logs, one
// 20-span trace for batching, metrics of every point type, and a second tenant.
import type {
  AnyValue,
  Exemplar,
  InstrumentationScope,
  KeyValue,
  LogRecord,
  MetricDescriptor,
  MetricPoint,
  MetricPointValue,
  Resource,
  SpanRecord,
} from '../../../src/model/telemetry.ts';
import { SpanKind, StatusCode, Temporality } from '../../../src/model/telemetry.ts';

export const TENANT = 'acme';
export const OTHER_TENANT = 'globex';

const MS = 1_000_000n;
/** Ten minutes ago, with a nanosecond tail so that precision loss shows. */
export const BASE = (BigInt(Date.now()) - 600_000n) * MS + 123_456_789n;

export const TRACE_A = '0af7651916cd43dd8448eb211c80319c';
export const TRACE_B = '4bf92f3577b34da6a3ce929d0e0e4736';
export const TRACE_C = 'c0ffee00c0ffee00c0ffee00c0ffee00';
export const UNKNOWN_TRACE = 'ffffffffffffffffffffffffffffffff';

export const A_ROOT = '00f067aa0ba902b7';
export const A_LOAD = '1111111111111111';
export const A_DB = '2222222222222222';
export const B_ROOT = '3333333333333333';

const str = (stringValue: string): AnyValue => ({ stringValue });
const kv = (key: string, value: AnyValue): KeyValue => ({ key, value });

export function resource(service: string, extra: KeyValue[] = []): Resource {
  return { attributes: [kv('service.name', str(service)), ...extra], droppedAttributesCount: 0, schemaUrl: '' };
}

const scope: InstrumentationScope = {
  name: 'teleql-test',
  version: '1.0.0',
  attributes: [kv('scope.attr', str('x'))],
  droppedAttributesCount: 0,
  schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
};

function span(p: Partial<SpanRecord> & Pick<SpanRecord, 'traceId' | 'spanId' | 'name' | 'startTimeUnixNano' | 'endTimeUnixNano'>): SpanRecord {
  return {
    tenant: TENANT,
    resource: resource('checkout'),
    scope,
    parentSpanId: '',
    traceState: '',
    flags: 1,
    kind: SpanKind.INTERNAL,
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: StatusCode.UNSET, message: '' },
    ...p,
  };
}

function log(p: Partial<LogRecord> & Pick<LogRecord, 'timeUnixNano' | 'body'>): LogRecord {
  return {
    tenant: TENANT,
    resource: resource('checkout'),
    scope,
    observedTimeUnixNano: p.timeUnixNano + 1_000n,
    severityNumber: 9,
    severityText: 'INFO',
    attributes: [],
    droppedAttributesCount: 0,
    flags: 0,
    traceId: '',
    spanId: '',
    eventName: '',
    ...p,
  };
}

export const spans: SpanRecord[] = [
  span({
    traceId: TRACE_A,
    spanId: A_ROOT,
    name: 'GET /cart',
    kind: SpanKind.SERVER,
    resource: resource('checkout', [kv('telemetry.source', str('claude-code'))]),
    startTimeUnixNano: BASE,
    endTimeUnixNano: BASE + 250n * MS,
    traceState: 'vendor=1',
    attributes: [
      kv('http.route', str('/cart')),
      kv('http.status_code', { intValue: '200' }),
      kv('sample.ratio', { doubleValue: 1 }),
      kv('tags', { arrayValue: { values: [str('a'), { intValue: '2' }] } }),
    ],
    droppedAttributesCount: 1,
    events: [{ timeUnixNano: BASE + 10n * MS, name: 'cache.miss', attributes: [kv('cache.key', str('cart:42'))], droppedAttributesCount: 0 }],
  }),
  span({
    traceId: TRACE_A,
    spanId: A_LOAD,
    parentSpanId: A_ROOT,
    name: 'load cart',
    startTimeUnixNano: BASE + 20n * MS,
    endTimeUnixNano: BASE + 120n * MS,
    attributes: [kv('http.status_code', { intValue: '503' })],
    links: [{ traceId: TRACE_B, spanId: B_ROOT, traceState: '', flags: 1, attributes: [kv('link.kind', str('follows'))], droppedAttributesCount: 0 }],
  }),
  span({
    traceId: TRACE_A,
    spanId: A_DB,
    parentSpanId: A_LOAD,
    name: 'SELECT carts',
    kind: SpanKind.CLIENT,
    resource: resource('cart-db'),
    startTimeUnixNano: BASE + 30n * MS,
    endTimeUnixNano: BASE + 110n * MS,
    status: { code: StatusCode.ERROR, message: 'timeout' },
    attributes: [kv('db.system', str('postgresql'))],
  }),
  span({
    traceId: TRACE_B,
    spanId: B_ROOT,
    name: 'POST /pay',
    kind: SpanKind.SERVER,
    resource: resource('payments'),
    startTimeUnixNano: BASE + 60_000n * MS,
    endTimeUnixNano: BASE + 61_500n * MS,
    status: { code: StatusCode.OK, message: '' },
    attributes: [kv('http.route', str('/pay'))],
  }),
  // Trace C: a root and 19 children, each child with one log, for the batching tests.
  ...Array.from({ length: 20 }, (_, i) =>
    span({
      traceId: TRACE_C,
      spanId: `c${String(i).padStart(15, '0')}`,
      parentSpanId: i === 0 ? '' : 'c000000000000000',
      name: i === 0 ? 'batch job' : `step ${i}`,
      resource: resource('batcher'),
      startTimeUnixNano: BASE + 120_000n * MS + BigInt(i) * MS,
      endTimeUnixNano: BASE + 120_000n * MS + BigInt(i + 1) * MS,
    }),
  ),
];

export const otherTenantSpans: SpanRecord[] = [
  span({ tenant: OTHER_TENANT, traceId: TRACE_A, spanId: '9999999999999999', name: 'globex secret', resource: resource('globex'), startTimeUnixNano: BASE, endTimeUnixNano: BASE + MS }),
];

export const logs: LogRecord[] = [
  log({ timeUnixNano: BASE + 5n * MS, body: str('cart requested'), traceId: TRACE_A, spanId: A_ROOT, attributes: [kv('user.id', { intValue: '42' })] }),
  log({
    timeUnixNano: BASE + 100n * MS,
    body: { kvlistValue: { values: [kv('error', str('connection timeout')), kv('retries', { intValue: '3' })] } },
    severityNumber: 17,
    severityText: 'ERROR',
    traceId: TRACE_A,
    spanId: A_DB,
    resource: resource('cart-db'),
    eventName: 'db.error',
  }),
  // Correlated to the trace only, 300 ms after the root span ends.
  log({ timeUnixNano: BASE + 550n * MS, body: str('cart rendered'), traceId: TRACE_A }),
  // Observed time only.
  log({ timeUnixNano: 0n, observedTimeUnixNano: BASE + 70_000n * MS, body: str('payment settled'), resource: resource('payments'), severityNumber: 13, severityText: 'WARN' }),
  // Two hours old: outside the default search window.
  log({ timeUnixNano: BASE - 7_200_000n * MS, body: str('ancient history') }),
  ...Array.from({ length: 20 }, (_, i) =>
    log({
      timeUnixNano: BASE + 120_000n * MS + BigInt(i) * MS,
      body: str(`step ${i} done`),
      traceId: TRACE_C,
      spanId: `c${String(i).padStart(15, '0')}`,
      resource: resource('batcher'),
    }),
  ),
];

function metric(name: string, type: MetricDescriptor['type'], unit: string, p: Partial<MetricDescriptor> = {}): MetricDescriptor {
  return { name, description: `${name} description`, unit, type, aggregationTemporality: Temporality.UNSPECIFIED, isMonotonic: false, metadata: [], ...p };
}

const exemplar = (offsetMs: bigint, value: number, traceId: string, spanId: string): Exemplar => ({
  timeUnixNano: BASE + offsetMs * MS,
  asDouble: value,
  traceId,
  spanId,
  filteredAttributes: [kv('user.id', { intValue: '42' })],
});

function point(descriptor: MetricDescriptor, value: MetricPointValue, service = 'checkout'): MetricPoint {
  return { tenant: TENANT, resource: resource(service), scope, metric: descriptor, point: value };
}

const cpu = metric('system.cpu.utilization', 'gauge', '1');
const duration = metric('http.server.duration', 'histogram', 'ms', { aggregationTemporality: Temporality.CUMULATIVE });
const requests = metric('http.server.requests', 'sum', '{request}', { aggregationTemporality: Temporality.CUMULATIVE, isMonotonic: true });
const latency = metric('rpc.latency', 'exponentialHistogram', 's', { aggregationTemporality: Temporality.DELTA });
const gc = metric('runtime.gc.pause', 'summary', 's');

const at = (offsetMs: bigint) => ({ startTimeUnixNano: BASE, timeUnixNano: BASE + offsetMs * MS, flags: 0 });

export const metricPoints: MetricPoint[] = [
  point(cpu, { type: 'number', ...at(0n), attributes: [kv('cpu', str('0'))], asDouble: 0.25, exemplars: [exemplar(0n, 0.25, TRACE_A, A_ROOT)] }),
  point(cpu, { type: 'number', ...at(30_000n), attributes: [kv('cpu', str('0'))], asDouble: 0.75, exemplars: [exemplar(30_000n, 0.75, TRACE_B, B_ROOT)] }),
  point(cpu, { type: 'number', ...at(0n), attributes: [kv('cpu', str('1'))], asDouble: 0.5, exemplars: [] }, 'payments'),
  point(requests, { type: 'number', ...at(0n), attributes: [], asInt: '9007199254740993', exemplars: [] }),
  point(duration, {
    type: 'histogram',
    ...at(0n),
    attributes: [kv('http.route', str('/cart'))],
    count: 6,
    sum: 600.5,
    bucketCounts: [1, 2, 3],
    explicitBounds: [10, 100],
    min: 1.5,
    max: 400,
    exemplars: [exemplar(0n, 250, TRACE_A, A_ROOT)],
  }),
  point(latency, {
    type: 'exponentialHistogram',
    ...at(0n),
    attributes: [],
    count: 4,
    sum: 2.5,
    scale: 2,
    zeroCount: 1,
    positive: { offset: -1, bucketCounts: [1, 2] },
    negative: { offset: 0, bucketCounts: [] },
    zeroThreshold: 0.001,
    exemplars: [],
  }),
  point(gc, {
    type: 'summary',
    ...at(0n),
    attributes: [],
    count: 10,
    sum: 0.5,
    quantileValues: [
      { quantile: 0.5, value: 0.04 },
      { quantile: 0.99, value: 0.2 },
    ],
  }),
];
