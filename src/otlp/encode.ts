// Model records → OTLP protobuf Export*ServiceRequest bodies: the reverse of codec.ts, used by the
// exporters that speak OTLP (Jaeger) and by the exporter spill, which stores batches as OTLP.
//
// Round trip model → encode → decodeRequest → model is lossless, with two caveats that follow from
// OTLP's shape: the tenant is not part of OTLP (callers group by tenant and pass it back to the
// decoder: `encodeByTenant`), and records are grouped by their Resource / scope (/ metric) objects,
// so records of one group come out together, in their original order, groups in first-seen order.
//
// Messages are built as plain objects and handed to protobufjs's `encode`, which accepts them as
// they are (no `fromObject` copy): 64-bit fields go in as {low, high} pairs, IDs as Buffers, bytes
// values as their base64 strings (protobufjs's writer decodes base64 itself).
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
  Signal,
  SignalItems,
  SpanRecord,
} from '../model/telemetry.ts';
import { otlpProto } from './proto.ts';
import { groupByTenant } from '../tenant.ts';

interface LongBits {
  low: number;
  high: number;
}

const ZERO: LongBits = { low: 0, high: 0 };
const U32 = 0xffffffffn;

/** A 64-bit integer (two's complement for negatives) as the {low, high} pair protobufjs writes. */
function long(v: bigint): LongBits {
  if (v === 0n) return ZERO;
  const u = BigInt.asUintN(64, v);
  return { low: Number(u & U32) | 0, high: Number(u >> 32n) | 0 };
}

function id(hex: string): Buffer | undefined {
  return hex === '' ? undefined : Buffer.from(hex, 'hex');
}

type Obj = Record<string, unknown>;

function anyValue(v: AnyValue): Obj {
  if ('stringValue' in v) return { stringValue: v.stringValue };
  if ('boolValue' in v) return { boolValue: v.boolValue };
  if ('intValue' in v) return { intValue: long(BigInt(v.intValue)) };
  if ('doubleValue' in v) return { doubleValue: v.doubleValue };
  if ('bytesValue' in v) return { bytesValue: Buffer.from(v.bytesValue, 'base64') };
  if ('arrayValue' in v) return { arrayValue: { values: v.arrayValue.values.map(anyValue) } };
  if ('kvlistValue' in v) return { kvlistValue: { values: keyValues(v.kvlistValue.values) } };
  return {};
}

function keyValues(kvs: readonly KeyValue[]): Obj[] {
  const out = new Array<Obj>(kvs.length);
  for (let i = 0; i < kvs.length; i++) out[i] = { key: kvs[i]!.key, value: anyValue(kvs[i]!.value) };
  return out;
}

function resource(r: Resource): Obj {
  return { attributes: keyValues(r.attributes), droppedAttributesCount: r.droppedAttributesCount };
}

function scope(s: InstrumentationScope): Obj {
  return { name: s.name, version: s.version, attributes: keyValues(s.attributes), droppedAttributesCount: s.droppedAttributesCount };
}

/** Items grouped by Resource, then scope (object identity), each level in first-seen order. */
function groups<T extends { resource: Resource; scope: InstrumentationScope }>(items: readonly T[]): Map<Resource, Map<InstrumentationScope, T[]>> {
  const byResource = new Map<Resource, Map<InstrumentationScope, T[]>>();
  for (const item of items) {
    let byScope = byResource.get(item.resource);
    if (!byScope) byResource.set(item.resource, (byScope = new Map()));
    let list = byScope.get(item.scope);
    if (!list) byScope.set(item.scope, (list = []));
    list.push(item);
  }
  return byResource;
}

function span(s: SpanRecord): Obj {
  return {
    traceId: id(s.traceId),
    spanId: id(s.spanId),
    traceState: s.traceState,
    parentSpanId: id(s.parentSpanId),
    flags: s.flags,
    name: s.name,
    kind: s.kind,
    startTimeUnixNano: long(s.startTimeUnixNano),
    endTimeUnixNano: long(s.endTimeUnixNano),
    attributes: keyValues(s.attributes),
    droppedAttributesCount: s.droppedAttributesCount,
    events: s.events.map((e) => ({
      timeUnixNano: long(e.timeUnixNano),
      name: e.name,
      attributes: keyValues(e.attributes),
      droppedAttributesCount: e.droppedAttributesCount,
    })),
    droppedEventsCount: s.droppedEventsCount,
    links: s.links.map((l) => ({
      traceId: id(l.traceId),
      spanId: id(l.spanId),
      traceState: l.traceState,
      flags: l.flags,
      attributes: keyValues(l.attributes),
      droppedAttributesCount: l.droppedAttributesCount,
    })),
    droppedLinksCount: s.droppedLinksCount,
    status: { code: s.status.code, message: s.status.message },
  };
}

function log(l: LogRecord): Obj {
  return {
    timeUnixNano: long(l.timeUnixNano),
    observedTimeUnixNano: long(l.observedTimeUnixNano),
    severityNumber: l.severityNumber,
    severityText: l.severityText,
    body: anyValue(l.body),
    attributes: keyValues(l.attributes),
    droppedAttributesCount: l.droppedAttributesCount,
    flags: l.flags,
    traceId: id(l.traceId),
    spanId: id(l.spanId),
    eventName: l.eventName,
  };
}

function exemplar(e: Exemplar): Obj {
  const out: Obj = {
    filteredAttributes: keyValues(e.filteredAttributes),
    timeUnixNano: long(e.timeUnixNano),
    spanId: id(e.spanId),
    traceId: id(e.traceId),
  };
  if (e.asDouble !== undefined) out.asDouble = e.asDouble;
  else if (e.asInt !== undefined) out.asInt = long(BigInt(e.asInt));
  return out;
}

function dataPoint(p: MetricPointValue): Obj {
  const out: Obj = {
    attributes: keyValues(p.attributes),
    startTimeUnixNano: long(p.startTimeUnixNano),
    timeUnixNano: long(p.timeUnixNano),
    flags: p.flags,
  };
  switch (p.type) {
    case 'number':
      if (p.asDouble !== undefined) out.asDouble = p.asDouble;
      else if (p.asInt !== undefined) out.asInt = long(BigInt(p.asInt));
      out.exemplars = p.exemplars.map(exemplar);
      break;
    case 'histogram':
      out.count = p.count;
      out.bucketCounts = p.bucketCounts;
      out.explicitBounds = p.explicitBounds;
      out.exemplars = p.exemplars.map(exemplar);
      break;
    case 'exponentialHistogram':
      out.count = p.count;
      out.scale = p.scale;
      out.zeroCount = p.zeroCount;
      out.positive = { offset: p.positive.offset, bucketCounts: p.positive.bucketCounts };
      out.negative = { offset: p.negative.offset, bucketCounts: p.negative.bucketCounts };
      out.zeroThreshold = p.zeroThreshold;
      out.exemplars = p.exemplars.map(exemplar);
      break;
    case 'summary':
      out.count = p.count;
      out.sum = p.sum;
      out.quantileValues = p.quantileValues.map((q) => ({ quantile: q.quantile, value: q.value }));
      break;
  }
  // proto3 `optional`: set only when the model has them, so absent stays absent.
  if (p.type === 'histogram' || p.type === 'exponentialHistogram') {
    if (p.sum !== undefined) out.sum = p.sum;
    if (p.min !== undefined) out.min = p.min;
    if (p.max !== undefined) out.max = p.max;
  }
  return out;
}

function metric(d: MetricDescriptor, points: readonly MetricPoint[]): Obj {
  const dataPoints = points.map((p) => dataPoint(p.point));
  let data: Obj;
  switch (d.type) {
    case 'gauge':
    case 'summary':
      data = { dataPoints };
      break;
    case 'sum':
      data = { dataPoints, aggregationTemporality: d.aggregationTemporality, isMonotonic: d.isMonotonic };
      break;
    default:
      data = { dataPoints, aggregationTemporality: d.aggregationTemporality };
  }
  return { name: d.name, description: d.description, unit: d.unit, metadata: keyValues(d.metadata), [d.type]: data };
}

function tracesRequest(items: readonly SpanRecord[]): Obj {
  const resourceSpans: Obj[] = [];
  for (const [r, byScope] of groups(items)) {
    const scopeSpans: Obj[] = [];
    for (const [s, spans] of byScope) scopeSpans.push({ scope: scope(s), schemaUrl: s.schemaUrl, spans: spans.map(span) });
    resourceSpans.push({ resource: resource(r), schemaUrl: r.schemaUrl, scopeSpans });
  }
  return { resourceSpans };
}

function logsRequest(items: readonly LogRecord[]): Obj {
  const resourceLogs: Obj[] = [];
  for (const [r, byScope] of groups(items)) {
    const scopeLogs: Obj[] = [];
    for (const [s, logs] of byScope) scopeLogs.push({ scope: scope(s), schemaUrl: s.schemaUrl, logRecords: logs.map(log) });
    resourceLogs.push({ resource: resource(r), schemaUrl: r.schemaUrl, scopeLogs });
  }
  return { resourceLogs };
}

function metricsRequest(items: readonly MetricPoint[]): Obj {
  const resourceMetrics: Obj[] = [];
  for (const [r, byScope] of groups(items)) {
    const scopeMetrics: Obj[] = [];
    for (const [s, points] of byScope) {
      const byMetric = new Map<MetricDescriptor, MetricPoint[]>();
      for (const p of points) {
        const list = byMetric.get(p.metric);
        if (list) list.push(p);
        else byMetric.set(p.metric, [p]);
      }
      scopeMetrics.push({ scope: scope(s), schemaUrl: s.schemaUrl, metrics: [...byMetric].map(([d, ps]) => metric(d, ps)) });
    }
    resourceMetrics.push({ resource: resource(r), schemaUrl: r.schemaUrl, scopeMetrics });
  }
  return { resourceMetrics };
}

const BUILD: { [S in Signal]: (items: readonly SignalItems[S][]) => Obj } = {
  traces: tracesRequest,
  logs: logsRequest,
  metrics: metricsRequest,
};

/**
 * Items that cannot be written as OTLP protobuf (a value protobufjs refuses). The same items fail
 * every time, so an exporter treats this as permanent for the batch: counted and dropped, not retried.
 */
export class OtlpEncodeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OtlpEncodeError';
  }
}

/** One Export*ServiceRequest holding all `items` (whatever their tenants), as protobuf bytes. */
export function encodeRequest<S extends Signal>(signal: S, items: readonly SignalItems[S][]): Uint8Array {
  const type = otlpProto().request[signal];
  try {
    return type.encode(BUILD[signal](items) as never).finish();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new OtlpEncodeError(`cannot encode an OTLP ${type.name} of ${items.length} items: ${why}`, { cause: err });
  }
}

/**
 * One request body per tenant (first-seen order), cut into consecutive slices while a body passes
 * `maxBytes`; an item larger alone stays a body of its own, for the caller to send or refuse.
 */
export function encodeByTenantWithin<S extends Signal>(signal: S, items: readonly SignalItems[S][], maxBytes: number): { tenant: string; body: Uint8Array; items: readonly SignalItems[S][] }[] {
  const out: { tenant: string; body: Uint8Array; items: readonly SignalItems[S][] }[] = [];
  const add = (tenant: string, list: readonly SignalItems[S][], body: Uint8Array): void => {
    if (body.length <= maxBytes || list.length === 1) return void out.push({ tenant, body, items: list });
    // As many slices as the size asks for, a tenth to spare; one still too large is cut again.
    const slices = Math.max(2, Math.ceil((body.length / maxBytes) * 1.1));
    const size = Math.ceil(list.length / slices);
    for (let i = 0; i < list.length; i += size) {
      const slice = list.slice(i, i + size);
      add(tenant, slice, encodeRequest(signal, slice));
    }
  };
  for (const [tenant, list] of groupByTenant(items)) add(tenant, list, encodeRequest(signal, list));
  return out;
}

/** One request body per tenant, tenants in first-seen order: the tenant travels beside OTLP, not in it. */
export function encodeByTenant<S extends Signal>(signal: S, items: readonly SignalItems[S][]): { tenant: string; items: number; body: Uint8Array }[] {
  return [...groupByTenant(items)].map(([tenant, list]) => ({ tenant, items: list.length, body: encodeRequest(signal, list) }));
}
