// A data point whose count, bucket count or zero count (uint64 / fixed64) or whose exponential
// histogram scale or offset (sint32) cannot be kept exactly is refused on its own at decode, as
// partial success naming the field, over OTLP/JSON and protobuf alike. Such values used to be kept
// as rounded Numbers: a bucket count near 2^64 then failed the DuckDB write of the whole batch
// (every tenant's acknowledged points lost), and a count of 2^63 or a scale past int32 was stored wrapped.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeRequest } from '../../../src/otlp/codec.ts';
import { otlpProto } from '../../../src/otlp/proto.ts';
import type { MetricPoint } from '../../../src/model/telemetry.ts';

const U64_MAX = '18446744073709551615';
const MAX_SAFE = String(Number.MAX_SAFE_INTEGER); // 9007199254740991
const COUNT_LIMIT = `must be at most ${MAX_SAFE}`;
const INT32_RANGE = 'must be an integer from -2147483648 to 2147483647';

type Json = Record<string, unknown>;

const histogram = (name: string, p: Json): Json => ({ name, histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: '1', ...p }] } });
const expHistogram = (name: string, p: Json): Json => ({ name, exponentialHistogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: '1', ...p }] } });
const summary = (name: string, p: Json): Json => ({ name, summary: { dataPoints: [{ timeUnixNano: '1', ...p }] } });

/** Each case: a metric with one point, and the reason it must be refused with (undefined: kept, exactly). */
const CASES: [Json, string | undefined][] = [
  [histogram('bucket 2^64-1', { count: U64_MAX, bucketCounts: ['1', U64_MAX], explicitBounds: [1] }), `bucket_counts ${COUNT_LIMIT} (a count is kept exactly only to 2^53 - 1), got ${U64_MAX}`],
  [histogram('count 2^63-1', { count: '9223372036854775807' }), `count ${COUNT_LIMIT} (a count is kept exactly only to 2^53 - 1), got 9223372036854775807`],
  [histogram('count 2^53', { count: '9007199254740992' }), `count ${COUNT_LIMIT} (a count is kept exactly only to 2^53 - 1), got 9007199254740992`],
  [histogram('count 2^53-1', { count: MAX_SAFE, bucketCounts: [MAX_SAFE], explicitBounds: [] }), undefined],
  [expHistogram('zero count 2^64-1', { count: '3', zeroCount: U64_MAX }), `zero_count ${COUNT_LIMIT} (a count is kept exactly only to 2^53 - 1), got ${U64_MAX}`],
  [expHistogram('positive bucket 2^63', { count: '3', positive: { offset: 1, bucketCounts: ['1', '9223372036854775808'] } }), `positive.bucket_counts ${COUNT_LIMIT} (a count is kept exactly only to 2^53 - 1), got 9223372036854775808`],
  [expHistogram('negative bucket 2^64-1', { count: '3', negative: { offset: 1, bucketCounts: [U64_MAX] } }), `negative.bucket_counts ${COUNT_LIMIT} (a count is kept exactly only to 2^53 - 1), got ${U64_MAX}`],
  [summary('summary count 2^64-1', { count: U64_MAX, sum: 1 }), `count ${COUNT_LIMIT} (a count is kept exactly only to 2^53 - 1), got ${U64_MAX}`],
  [expHistogram('fine', { count: '3', scale: -10, zeroCount: '1', positive: { offset: -2147483648, bucketCounts: ['1', '1'] }, negative: { offset: 2147483647 } }), undefined],
];

/** sint32 values past int32 can only come as OTLP/JSON (protobuf's wire type holds 32 bits). */
const JSON_ONLY_CASES: [Json, string][] = [
  [expHistogram('scale 2^32+2', { count: '3', scale: 4294967298 }), `scale ${INT32_RANGE}, got 4294967298`],
  [expHistogram('positive offset 2^32+1', { count: '3', positive: { offset: '4294967297', bucketCounts: ['1'] } }), `positive.offset ${INT32_RANGE}, got 4294967297`],
  [expHistogram('negative offset -2^31-1', { count: '3', negative: { offset: -2147483649, bucketCounts: ['1'] } }), `negative.offset ${INT32_RANGE}, got -2147483649`],
];

const request = (metrics: Json[]): Json => ({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'victim', gauge: { dataPoints: [{ timeUnixNano: '1', asInt: '42' }] } }, ...metrics] }] }] });

/** As a sender writes it: int64 as strings, or (numbers: true) as bare JSON numbers, which JSON.parse rounds past 2^53. */
function jsonBody(metrics: Json[], numbers: boolean): Buffer {
  const text = JSON.stringify(request(metrics));
  return Buffer.from(numbers ? text.replace(/"(-?\d+)"/g, '$1') : text);
}

function protobufBody(metrics: Json[]): Buffer {
  const type = otlpProto().request.metrics;
  return Buffer.from(type.encode(type.fromObject(request(metrics))).finish());
}

function decode(body: Buffer, format: 'json' | 'protobuf') {
  const d = decodeRequest('metrics', body, format, 'default');
  return { names: d.items.map((m) => m.metric.name), reasons: d.rejected.map((r) => r.reason), items: d.items };
}

const point = (items: MetricPoint[], name: string) => items.find((m) => m.metric.name === name)!.point as unknown as Record<string, unknown>;

describe('counts and exponential histogram scales that cannot be kept exactly are refused per data point', () => {
  const kept = ['victim', ...CASES.filter(([, why]) => why === undefined).map(([m]) => m.name as string)];
  const refused = CASES.filter(([, why]) => why !== undefined).map(([, why]) => why);

  for (const [encoding, body, format] of [
    ['OTLP/JSON, int64 as strings', () => jsonBody(CASES.map(([m]) => m), false), 'json'],
    ['OTLP/JSON, int64 as numbers', () => jsonBody(CASES.map(([m]) => m), true), 'json'],
    ['OTLP/protobuf', () => protobufBody(CASES.map(([m]) => m)), 'protobuf'],
  ] as const) {
    test(`${encoding}: the other points are kept, each bad one refused naming its field and the exact value`, () => {
      const d = decode(body(), format);
      assert.deepEqual(d.names, kept);
      assert.deepEqual(d.reasons, refused);
      assert.equal(point(d.items, 'count 2^53-1').count, Number.MAX_SAFE_INTEGER);
      assert.deepEqual(point(d.items, 'count 2^53-1').bucketCounts, [Number.MAX_SAFE_INTEGER]);
      const fine = point(d.items, 'fine') as { scale: number; positive: { offset: number }; negative: { offset: number } };
      assert.deepEqual([fine.scale, fine.positive.offset, fine.negative.offset], [-10, -2147483648, 2147483647]);
    });
  }

  test('OTLP/JSON: a scale or offset past int32 is refused, not wrapped into the INTEGER column', () => {
    for (const numbers of [false, true]) {
      const d = decode(jsonBody(JSON_ONLY_CASES.map(([m]) => m), numbers), 'json');
      assert.deepEqual(d.names, ['victim']);
      assert.deepEqual(d.reasons, JSON_ONLY_CASES.map(([, why]) => why));
    }
  });

  test('a uint32 field (span flags) sent past 2^53 is refused naming its own range and the exact value', () => {
    const body = '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","name":"s","flags":9007199254740993}]}]}]}';
    const d = decodeRequest('traces', Buffer.from(body), 'json', 'default');
    assert.deepEqual(d.rejected.map((r) => r.reason), ['flags must be an integer from 0 to 4294967295, got 9007199254740993']);
  });

  test('a refused point is reported with where it was: rejectedDataPoints, not a failed request', () => {
    const body = jsonBody([histogram('bad', { count: U64_MAX })], false);
    const d = decodeRequest('metrics', body, 'json', 'default');
    assert.deepEqual(d.rejected.map((r) => r.item), ['resourceMetrics[0].scopeMetrics[0].metrics[1].histogram.dataPoints[0]']);
  });
});
