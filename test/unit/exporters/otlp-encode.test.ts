import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequest } from '../../../src/otlp/codec.ts';
import { encodeByTenant, encodeRequest } from '../../../src/otlp/encode.ts';
import type { AnyValue, LogRecord, MetricPoint, Signal, SignalItems, SpanRecord } from '../../../src/model/telemetry.ts';
import { attrs, log, metricPoint, numberPoint, resource, scope, span, spanId, traceId, MS, T0 } from '../../helpers/telemetry-builders.ts';

// Deep equality that ignores object identity (decoded records share fresh Resource/scope objects).
function plain<T>(v: T): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)));
}

function roundTrip<S extends Signal>(signal: S, items: SignalItems[S][]): SignalItems[S][] {
  const out: SignalItems[S][] = [];
  for (const part of encodeByTenant(signal, items)) {
    const decoded = decodeRequest(signal, Buffer.from(part.body), 'protobuf', part.tenant);
    assert.deepEqual(decoded.rejected, []);
    assert.equal(decoded.items.length, part.items);
    out.push(...decoded.items);
  }
  return out;
}

const nested: AnyValue = {
  arrayValue: { values: [{ intValue: '-9223372036854775808' }, { doubleValue: -0.5 }, { bytesValue: 'AAEC/w==' }, {}] },
};
const richAttrs = attrs({
  s: 'x',
  b: true,
  i: 9223372036854775807n,
  neg: -42n,
  d: 1.25,
  nan: Number.NaN,
  inf: Number.POSITIVE_INFINITY,
  bytes: { bytesValue: 'aGVsbG8=' },
  list: nested,
  map: { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }, { key: 'deep', value: nested }] } },
  empty: {},
});

describe('OTLP protobuf encoder', () => {
  test('spans round-trip losslessly, with events, links, status and every attribute type', () => {
    const res = resource('checkout', { 'host.name': 'h1' });
    res.droppedAttributesCount = 3;
    res.schemaUrl = 'https://opentelemetry.io/schemas/1.26.0';
    const sc = { ...scope('lib', '2.0'), attributes: attrs({ a: 1n }), droppedAttributesCount: 1, schemaUrl: 'https://scope' };
    const spans: SpanRecord[] = [
      span({ resource: res, scope: sc, attributes: richAttrs, droppedAttributesCount: 2, traceState: 'a=b', flags: 0x301, kind: 3 }),
      span({
        resource: res,
        scope: sc,
        spanId: spanId(2),
        parentSpanId: spanId(1),
        status: { code: 2, message: 'boom' },
        startTimeUnixNano: 9223372036854775807n, // the latest time the model holds (the decoder refuses later ones)
        endTimeUnixNano: 0n,
        events: [{ timeUnixNano: T0 + MS, name: 'exception', attributes: attrs({ 'exception.type': 'E' }), droppedAttributesCount: 4 }],
        droppedEventsCount: 5,
        links: [{ traceId: traceId(9), spanId: spanId(9), traceState: 't=1', flags: 1, attributes: attrs({ l: 'x' }), droppedAttributesCount: 6 }],
        droppedLinksCount: 7,
      }),
      span({ tenant: 'acme', spanId: spanId(3), traceId: traceId(2) }),
    ];
    assert.deepEqual(plain(roundTrip('traces', spans)), plain(spans));
  });

  test('logs round-trip losslessly, including empty and structured bodies and missing IDs', () => {
    const logs: LogRecord[] = [
      log({ body: nested, attributes: richAttrs, traceId: traceId(5), spanId: spanId(5), flags: 1, eventName: 'ev', severityNumber: 17, severityText: 'ERROR' }),
      log({ body: {}, timeUnixNano: 0n, droppedAttributesCount: 2 }),
      log({ tenant: 't2', body: { kvlistValue: { values: [{ key: 'msg', value: { stringValue: 'hi' } }] } } }),
    ];
    assert.deepEqual(plain(roundTrip('logs', logs)), plain(logs));
  });

  test('every metric point type round-trips losslessly, optional fields staying absent', () => {
    const ex = { filteredAttributes: attrs({ f: 'x' }), timeUnixNano: T0, asInt: '-3', spanId: spanId(1), traceId: traceId(1) };
    const points: MetricPoint[] = [
      metricPoint(numberPoint({ asDouble: 1.5, exemplars: [ex, { ...ex, asInt: undefined, asDouble: 2.5, spanId: '', traceId: '' }] }), { metadata: attrs({ m: 'd' }) }),
      metricPoint(numberPoint({ asDouble: undefined, asInt: '-9223372036854775808', attributes: richAttrs }), { name: 'g', type: 'gauge', aggregationTemporality: 0, isMonotonic: false }),
      metricPoint(numberPoint({ asDouble: undefined, flags: 1 }), { name: 'stale', type: 'gauge', aggregationTemporality: 0, isMonotonic: false }),
      metricPoint(
        { type: 'histogram', attributes: [], startTimeUnixNano: T0, timeUnixNano: T0 + MS, flags: 0, count: 6, sum: 12.5, bucketCounts: [1, 2, 3], explicitBounds: [1, 5], min: 0.5, max: 9, exemplars: [ex] },
        { name: 'h', type: 'histogram', aggregationTemporality: 1, isMonotonic: false },
      ),
      metricPoint(
        { type: 'histogram', attributes: [], startTimeUnixNano: T0, timeUnixNano: T0, flags: 0, count: 0, bucketCounts: [], explicitBounds: [], exemplars: [] },
        { name: 'h-nosum', type: 'histogram', aggregationTemporality: 2, isMonotonic: false },
      ),
      metricPoint(
        {
          type: 'exponentialHistogram', attributes: [], startTimeUnixNano: T0, timeUnixNano: T0, flags: 0, count: 4, sum: -3, scale: -2, zeroCount: 1,
          positive: { offset: -3, bucketCounts: [1, 0, 2] }, negative: { offset: 0, bucketCounts: [] }, zeroThreshold: 0.001, min: -2, exemplars: [],
        },
        { name: 'e', type: 'exponentialHistogram', aggregationTemporality: 2, isMonotonic: false },
      ),
      metricPoint(
        { type: 'summary', attributes: attrs({ q: 'y' }), startTimeUnixNano: T0, timeUnixNano: T0, flags: 0, count: 10, sum: 0, quantileValues: [{ quantile: 0, value: 1 }, { quantile: 0.99, value: 7.5 }] },
        { name: 's', type: 'summary', aggregationTemporality: 0, isMonotonic: false },
      ),
    ];
    // Points of one metric share a descriptor object, as the decoder makes them.
    const shared = points[0]!.metric;
    points.push({ ...metricPoint(numberPoint({ asDouble: 3 })), metric: shared });
    const back = roundTrip('metrics', points);
    const expected = [points[0]!, points[7]!, ...points.slice(1, 7)];
    assert.deepEqual(plain(back), plain(expected));
  });

  test('records group by resource and scope in first-seen order', () => {
    const a = resource('a');
    const b = resource('b');
    const items = [span({ resource: a, spanId: spanId(1) }), span({ resource: b, spanId: spanId(2) }), span({ resource: a, spanId: spanId(3) })];
    const decoded = decodeRequest('traces', Buffer.from(encodeRequest('traces', items)), 'protobuf', 'default');
    assert.deepEqual(decoded.items.map((s) => s.spanId), [spanId(1), spanId(3), spanId(2)]);
    assert.equal(decoded.items[0]!.resource, decoded.items[1]!.resource);
  });
});
