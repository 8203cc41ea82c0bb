import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { labelName, metricName, unitSuffix } from '../../../src/stores/prometheus/names.ts';
import { nativeBuckets, STALE_NAN, translate, type PromTimeSeries, type TranslateOptions } from '../../../ingest/exporters/prometheus/translate.ts';
import { createDeltaToCumulative } from '../../../ingest/exporters/prometheus/delta-to-cumulative.ts';
import { decodeWriteRequest, encodeWriteRequest } from '../../../ingest/exporters/prometheus/wire.ts';
import type { ExponentialHistogramPoint, HistogramPoint, MetricDescriptor, MetricPoint, SummaryPoint } from '../../../src/model/telemetry.ts';
import { attrs, metricPoint, numberPoint, resource, scope, spanId, T0, traceId, SEC } from '../../helpers/telemetry-builders.ts';

const OPTS: TranslateOptions = { exponentialHistograms: 'native' };
const TS = Number(T0 / 1_000_000n);

/** One line per sample: `name{label="value",…} value`, labels without __name__, sorted; target_info left out unless asked. */
function lines(series: PromTimeSeries[], withTargetInfo = false): string[] {
  const out: string[] = [];
  for (const s of series) {
    const name = s.labels.find((l) => l.name === '__name__')!.value;
    if (name === 'target_info' && !withTargetInfo) continue;
    const labels = s.labels.filter((l) => l.name !== '__name__').map((l) => `${l.name}="${l.value}"`).join(',');
    for (const sample of s.samples) out.push(`${name}{${labels}} ${Object.is(sample.value, STALE_NAN) ? 'stale' : sample.value}`);
  }
  return out.sort();
}

function only(points: MetricPoint[], opts = OPTS): PromTimeSeries[] {
  const t = translate(points, opts);
  assert.deepEqual([...t.byTenant.keys()], ['default']);
  return t.byTenant.get('default')!;
}

// The default resource is service.name=checkout; the default scope test-scope 1.0.0.
const JOB = 'job="checkout",otel_scope_name="test-scope",otel_scope_version="1.0.0"';

describe('prometheus metric names', () => {
  const cases: [Partial<MetricDescriptor>, string][] = [
    [{ name: 'http.server.duration', unit: 'ms', type: 'histogram' }, 'http_server_duration_milliseconds'],
    [{ name: 'http.server.requests', unit: '{request}', type: 'sum', isMonotonic: true }, 'http_server_requests_total'],
    [{ name: 'requests_total', unit: '1', type: 'sum', isMonotonic: true }, 'requests_total'],
    [{ name: 'process.memory', unit: 'By', type: 'sum', isMonotonic: false }, 'process_memory_bytes'],
    [{ name: 'cpu.utilization', unit: '1', type: 'gauge' }, 'cpu_utilization_ratio'],
    [{ name: 'queue.fill', unit: '1', type: 'sum', isMonotonic: false }, 'queue_fill'],
    [{ name: 'net.io', unit: 'By/s', type: 'gauge' }, 'net_io_bytes_per_second'],
    [{ name: 'rpc.latency_seconds', unit: 's', type: 'histogram' }, 'rpc_latency_seconds'],
    [{ name: 'disk.ops', unit: 'KiBy', type: 'sum', isMonotonic: true }, 'disk_ops_kibibytes_total'],
    [{ name: 'weird--name..x', unit: '', type: 'gauge' }, 'weird_name_x'],
    [{ name: '9lives', unit: '', type: 'gauge' }, '_9lives'],
    [{ name: 'temp', unit: 'Cel', type: 'gauge' }, 'temp_celsius'],
    [{ name: 'with:colon', unit: '', type: 'gauge' }, 'with:colon'],
    [{ name: 'custom', unit: 'widgets', type: 'gauge' }, 'custom_widgets'],
  ];
  for (const [metric, expected] of cases) {
    test(`${metric.name} (${metric.type}, unit "${metric.unit}") is ${expected}`, () => {
      assert.equal(metricName({ name: '', description: '', unit: '', type: 'gauge', aggregationTemporality: 2, isMonotonic: false, metadata: [], ...metric }), expected);
    });
  }

  test('units: annotations carry no unit, rates read "per"', () => {
    assert.equal(unitSuffix('{packet}'), '');
    assert.equal(unitSuffix('m/s'), 'meters_per_second');
    assert.equal(unitSuffix('1/s'), 'per_second');
    assert.equal(unitSuffix('ns'), 'nanoseconds');
  });

  test('label names: invalid characters become _, a leading digit gets key_', () => {
    assert.equal(labelName('http.method'), 'http_method');
    assert.equal(labelName('0day'), 'key_0day');
    assert.equal(labelName('ok_name'), 'ok_name');
    assert.equal(labelName('a-b/c'), 'a_b_c');
  });
});

describe('prometheus translation', () => {
  test('a monotonic cumulative sum is a _total counter with sanitised point labels, job and scope', () => {
    const s = only([metricPoint(numberPoint({ asDouble: 42, attributes: attrs({ 'http.method': 'GET', code: 200n }) }))]);
    assert.deepEqual(lines(s), [`http_server_requests_total{code="200",http_method="GET",${JOB}} 42`]);
    // Labels are sorted by name, as remote write expects.
    const names = s[0]!.labels.map((l) => l.name);
    assert.deepEqual(names, [...names].sort());
    assert.equal(s[0]!.samples[0]!.timestamp, TS);
  });

  test('gauges and non-monotonic sums are plain gauges; int values read as numbers', () => {
    const s = only([
      metricPoint(numberPoint({ asInt: '7', asDouble: undefined }), { name: 'queue.size', type: 'sum', isMonotonic: false, unit: '{item}' }),
      metricPoint(numberPoint({ asDouble: 0.25 }), { name: 'cpu.utilization', type: 'gauge', unit: '1' }),
    ]);
    assert.deepEqual(lines(s), [`cpu_utilization_ratio{${JOB}} 0.25`, `queue_size{${JOB}} 7`]);
  });

  test('job is namespace/name, instance is service.instance.id, target_info has the other resource attributes', () => {
    const res = resource('api', { 'service.namespace': 'shop', 'service.instance.id': 'pod-1', 'host.name': 'h1', 'deployment.environment': 'prod' });
    const t = translate([metricPoint(numberPoint({ asDouble: 1 }), { type: 'gauge', name: 'up', unit: '' }, { resource: res, scope: scope('', '') })], OPTS);
    assert.deepEqual(lines(t.byTenant.get('default')!, true), [
      'target_info{deployment_environment="prod",host_name="h1",instance="pod-1",job="shop/api"} 1',
      'up{instance="pod-1",job="shop/api"} 1',
    ]);
  });

  test('a resource with nothing beyond service.name, service.namespace and service.instance.id gets no target_info, as from the Collector', () => {
    const res = resource('api', { 'service.namespace': 'shop', 'service.instance.id': 'pod-1' });
    const t = translate([metricPoint(numberPoint({ asDouble: 1 }), { type: 'gauge', name: 'up', unit: '' }, { resource: res, scope: scope('', '') })], OPTS);
    assert.deepEqual(lines(t.byTenant.get('default')!, true), ['up{instance="pod-1",job="shop/api"} 1']);
  });

  test('attribute keys that collide after sanitising join their values with ; in key order', () => {
    const s = only([metricPoint(numberPoint({ asDouble: 1, attributes: attrs({ 'a.b': 'x', a_b: 'y' }) }), { type: 'gauge', name: 'g', unit: '' })]);
    assert.deepEqual(lines(s), [`g{a_b="x;y",${JOB}} 1`]);
  });

  test('a histogram is cumulative _bucket{le} series with +Inf, _sum and _count; exemplars sit on their bucket', () => {
    const point: HistogramPoint = {
      type: 'histogram', attributes: [], startTimeUnixNano: T0 - SEC, timeUnixNano: T0, flags: 0,
      count: 6, sum: 12.5, bucketCounts: [1, 2, 3, 0], explicitBounds: [0.5, 1, 2.5],
      exemplars: [{ filteredAttributes: attrs({ user: 'u1' }), timeUnixNano: T0, asDouble: 0.8, traceId: traceId(9), spanId: spanId(9) }],
    };
    const s = only([metricPoint(point, { name: 'rpc.duration', unit: 's', type: 'histogram' })]);
    assert.deepEqual(lines(s), [
      `rpc_duration_seconds_bucket{job="checkout",le="+Inf",otel_scope_name="test-scope",otel_scope_version="1.0.0"} 6`,
      `rpc_duration_seconds_bucket{job="checkout",le="0.5",otel_scope_name="test-scope",otel_scope_version="1.0.0"} 1`,
      `rpc_duration_seconds_bucket{job="checkout",le="1",otel_scope_name="test-scope",otel_scope_version="1.0.0"} 3`,
      `rpc_duration_seconds_bucket{job="checkout",le="2.5",otel_scope_name="test-scope",otel_scope_version="1.0.0"} 6`,
      `rpc_duration_seconds_count{${JOB}} 6`,
      `rpc_duration_seconds_sum{${JOB}} 12.5`,
    ].sort());
    const withExemplar = s.filter((x) => x.exemplars.length > 0);
    assert.equal(withExemplar.length, 1);
    assert.equal(withExemplar[0]!.labels.find((l) => l.name === 'le')!.value, '1');
    assert.deepEqual(withExemplar[0]!.exemplars, [
      { labels: [{ name: 'span_id', value: spanId(9) }, { name: 'trace_id', value: traceId(9) }, { name: 'user', value: 'u1' }], value: 0.8, timestamp: TS },
    ]);
  });

  test('a histogram without a sum has no _sum series', () => {
    const point: HistogramPoint = { type: 'histogram', attributes: [], startTimeUnixNano: T0, timeUnixNano: T0, flags: 0, count: 2, bucketCounts: [2], explicitBounds: [], exemplars: [] };
    const s = only([metricPoint(point, { name: 'h', unit: '', type: 'histogram' })]);
    assert.deepEqual(lines(s), [`h_bucket{job="checkout",le="+Inf",otel_scope_name="test-scope",otel_scope_version="1.0.0"} 2`, `h_count{${JOB}} 2`]);
  });

  test('a summary is {quantile} series plus _sum and _count', () => {
    const point: SummaryPoint = {
      type: 'summary', attributes: [], startTimeUnixNano: T0, timeUnixNano: T0, flags: 0, count: 10, sum: 55,
      quantileValues: [{ quantile: 0.5, value: 5 }, { quantile: 0.99, value: 9.9 }],
    };
    const s = only([metricPoint(point, { name: 'gc.pause', unit: 'ms', type: 'summary' })]);
    assert.deepEqual(lines(s), [
      `gc_pause_milliseconds_count{${JOB}} 10`,
      `gc_pause_milliseconds_sum{${JOB}} 55`,
      `gc_pause_milliseconds{${JOB},quantile="0.5"} 5`,
      `gc_pause_milliseconds{${JOB},quantile="0.99"} 9.9`,
    ].sort());
  });

  const expPoint = (over: Partial<ExponentialHistogramPoint> = {}): ExponentialHistogramPoint => ({
    type: 'exponentialHistogram', attributes: [], startTimeUnixNano: T0, timeUnixNano: T0, flags: 0,
    count: 8, sum: 20, scale: 0, zeroCount: 1, zeroThreshold: 0,
    positive: { offset: 0, bucketCounts: [2, 0, 3] }, negative: { offset: 1, bucketCounts: [2] }, exemplars: [], ...over,
  });

  test('an exponential histogram becomes a native histogram: OTel bucket i is Prometheus bucket i+1', () => {
    const s = only([metricPoint(expPoint(), { name: 'size', unit: 'By', type: 'exponentialHistogram' })]);
    const series = s.find((x) => x.labels.some((l) => l.value === 'size_bytes'))!;
    assert.equal(series.samples.length, 0);
    assert.deepEqual(series.histograms, [{
      countInt: 8, sum: 20, schema: 0, zeroThreshold: 0, zeroCountInt: 1,
      // positive buckets 0 (2) and 2 (3) → Prometheus 1 and 3: a span at 1, a gap of 1, a span of 1.
      positiveSpans: [{ offset: 1, length: 1 }, { offset: 1, length: 1 }], positiveDeltas: [2, 1],
      negativeSpans: [{ offset: 2, length: 1 }], negativeDeltas: [2],
      timestamp: TS,
    }]);
  });

  test('exponential scales above 8 are merged down to schema 8', () => {
    // Scale 10 → 8: four neighbours merge. Indices 4..7 → 1, 8 → 2 (then +1 for Prometheus' index).
    assert.deepEqual(nativeBuckets(4, [1, 1, 1, 1, 5], 2), { spans: [{ offset: 2, length: 2 }], deltas: [4, 1] });
    const s = only([metricPoint(expPoint({ scale: 10, positive: { offset: 4, bucketCounts: [1, 1, 1, 1, 5] }, negative: { offset: 0, bucketCounts: [] } }), { name: 'x', unit: '', type: 'exponentialHistogram' })]);
    assert.equal(s.find((x) => x.histograms.length)!.histograms[0]!.schema, 8);
  });

  test("exponential histograms in 'buckets' mode are explicit _bucket series at the exponential bounds", () => {
    const s = only([metricPoint(expPoint(), { name: 'size', unit: 'By', type: 'exponentialHistogram' })], { exponentialHistograms: 'buckets' });
    // negative bucket 1 is [-4, -2) → le=-2; zero bucket le=0; positive buckets 0,1,2 → le=2,4,8.
    assert.deepEqual(lines(s), [
      `size_bytes_bucket{job="checkout",le="+Inf",otel_scope_name="test-scope",otel_scope_version="1.0.0"} 8`,
      `size_bytes_bucket{job="checkout",le="-2",otel_scope_name="test-scope",otel_scope_version="1.0.0"} 2`,
      `size_bytes_bucket{job="checkout",le="0",otel_scope_name="test-scope",otel_scope_version="1.0.0"} 3`,
      `size_bytes_bucket{job="checkout",le="2",otel_scope_name="test-scope",otel_scope_version="1.0.0"} 5`,
      `size_bytes_bucket{job="checkout",le="4",otel_scope_name="test-scope",otel_scope_version="1.0.0"} 5`,
      `size_bytes_bucket{job="checkout",le="8",otel_scope_name="test-scope",otel_scope_version="1.0.0"} 8`,
      `size_bytes_count{${JOB}} 8`,
      `size_bytes_sum{${JOB}} 20`,
    ].sort());
  });

  test("'buckets' mode: an exemplar goes on the bucket holding its value, not on +Inf", () => {
    const ex = { filteredAttributes: [], timeUnixNano: T0, asDouble: 1.5, traceId: traceId(1), spanId: spanId(1) };
    const s = only([metricPoint(expPoint({ positive: { offset: 0, bucketCounts: [2, 1] }, negative: { offset: 0, bucketCounts: [] }, zeroCount: 0, count: 3, exemplars: [ex] }), { name: 'lat', unit: '', type: 'exponentialHistogram' })], { exponentialHistograms: 'buckets' });
    const withExemplars = s.filter((x) => x.exemplars.length > 0).map((x) => x.labels.find((l) => l.name === 'le')!.value);
    assert.deepEqual(withExemplars, ['2']);
  });

  test("'buckets' mode: a bound's le text does not depend on the scale (2 at scale 0 and at scale 1)", () => {
    const les = (scale: number, bucketCounts: number[]) =>
      only([metricPoint(expPoint({ scale, positive: { offset: 0, bucketCounts }, negative: { offset: 0, bucketCounts: [] } }), { name: 'lat', unit: '', type: 'exponentialHistogram' })], { exponentialHistograms: 'buckets' })
        .map((x) => x.labels.find((l) => l.name === 'le')?.value)
        .filter((v) => v !== undefined);
    assert.ok(les(0, [1]).includes('2'));
    // Scale 1: bucket 1 is (√2, 2]; √2 as Prometheus writes it.
    assert.deepEqual(les(1, [1, 1]).filter((v) => v !== '+Inf' && v !== '0').sort(), ['1.4142135623730951', '2'].sort());
    // Every power of two up to 2^40 at scale 3 is exact.
    const fine = les(3, new Array(320).fill(1));
    for (let k = 1; k <= 40; k++) assert.ok(fine.includes(String(2 ** k)), `2^${k}`);
  });

  test('a point flagged "no recorded value" becomes a staleness marker', () => {
    const s = only([metricPoint(numberPoint({ flags: 1, asDouble: 3 }), { type: 'gauge', name: 'g', unit: '' })]);
    assert.deepEqual(lines(s), [`g{${JOB}} stale`]);
  });

  test('delta points that were not converted, and scales below -4, are refused and counted', () => {
    const t = translate([
      metricPoint(numberPoint({ asDouble: 1 }), { aggregationTemporality: 1 }),
      metricPoint(expPoint({ scale: -5 }), { name: 'e', type: 'exponentialHistogram' }),
    ], OPTS);
    assert.deepEqual(t.refused, { delta_not_converted: 1, exponential_scale_too_small: 1 });
  });

  test('samples of one series are merged, sorted by time, one per timestamp', () => {
    const g = { type: 'gauge' as const, name: 'g', unit: '' };
    const t = translate([
      metricPoint(numberPoint({ asDouble: 2, timeUnixNano: T0 + SEC }), g),
      metricPoint(numberPoint({ asDouble: 1, timeUnixNano: T0 }), g),
      metricPoint(numberPoint({ asDouble: 3, timeUnixNano: T0 + SEC }), g),
    ], OPTS);
    const s = t.byTenant.get('default')!.find((x) => x.labels.some((l) => l.value === 'g'))!;
    assert.deepEqual(s.samples, [{ value: 1, timestamp: TS }, { value: 3, timestamp: TS + 1000 }]);
    assert.deepEqual(t.refused, { duplicate_sample: 1 });
  });

  test('tenants are kept apart', () => {
    const t = translate([metricPoint(numberPoint(), {}, { tenant: 'a' }), metricPoint(numberPoint(), {}, { tenant: 'b' })], OPTS);
    assert.deepEqual([...t.byTenant.keys()].sort(), ['a', 'b']);
  });

  test('exemplar labels stay within the 128-character limit Prometheus enforces', () => {
    const long = 'v'.repeat(80);
    const s = only([metricPoint(numberPoint({ asDouble: 1, exemplars: [{ filteredAttributes: attrs({ big: long, s: 'x' }), timeUnixNano: T0, asInt: '5', traceId: traceId(1), spanId: spanId(2) }] }))]);
    const ex = s.find((x) => x.exemplars.length)!.exemplars[0]!;
    assert.deepEqual(ex.labels.map((l) => l.name), ['s', 'span_id', 'trace_id']);
    assert.equal(ex.value, 5);
  });

  test('the WriteRequest survives protobuf + snappy encoding', () => {
    const s = only([metricPoint(numberPoint({ asDouble: 4.5 }))]);
    const decoded = decodeWriteRequest(encodeWriteRequest(s));
    assert.deepEqual(
      decoded.timeseries.map((x) => ({ labels: x.labels, samples: x.samples })),
      s.map((x) => ({ labels: x.labels, samples: x.samples })),
    );
  });
});

describe('delta to cumulative', () => {
  const delta = { aggregationTemporality: 1 as const };

  test('delta sums add up per series; another label set has its own total', () => {
    const d = createDeltaToCumulative({ maxSeries: 10 });
    const a = attrs({ k: 'a' });
    const b = attrs({ k: 'b' });
    const { points, refused } = d.convert([
      metricPoint(numberPoint({ asDouble: 2, attributes: a, startTimeUnixNano: T0, timeUnixNano: T0 + SEC }), delta),
      metricPoint(numberPoint({ asInt: '3', asDouble: undefined, attributes: a, startTimeUnixNano: T0 + SEC, timeUnixNano: T0 + 2n * SEC }), delta),
      metricPoint(numberPoint({ asDouble: 10, attributes: b, timeUnixNano: T0 + SEC }), delta),
    ]);
    assert.deepEqual(refused, {});
    assert.deepEqual(points.map((p) => [p.metric.aggregationTemporality, p.point.type === 'number' && p.point.asDouble, p.point.startTimeUnixNano]), [
      [2, 2, T0], [2, 5, T0], [2, 10, T0],
    ]);
    assert.equal(d.size(), 2);
  });

  test('a NaN or infinite delta is refused and not added: later totals are numbers again', () => {
    const d = createDeltaToCumulative({ maxSeries: 10 });
    const { points, refused } = d.convert([1, NaN, 2, Infinity, 3].map((v, i) => metricPoint(numberPoint({ asDouble: v, timeUnixNano: T0 + BigInt(i + 1) * SEC }), delta)));
    assert.deepEqual(points.map((p) => p.point.type === 'number' && p.point.asDouble), [1, 3, 6]);
    assert.deepEqual(refused, { delta_not_finite: 2 });
  });

  test('a delta point not newer than the last one is refused', () => {
    const d = createDeltaToCumulative({ maxSeries: 10 });
    d.convert([metricPoint(numberPoint({ asDouble: 1, timeUnixNano: T0 + SEC }), delta)]);
    const { points, refused } = d.convert([metricPoint(numberPoint({ asDouble: 1, timeUnixNano: T0 + SEC }), delta)]);
    assert.equal(points.length, 0);
    assert.deepEqual(refused, { delta_out_of_order: 1 });
  });

  describe('delta exponential histograms', () => {
    const expDelta = { ...delta, type: 'exponentialHistogram' as const };
    const e = (t: bigint, p: Partial<ExponentialHistogramPoint>): MetricPoint =>
      metricPoint(
        {
          type: 'exponentialHistogram', attributes: [], startTimeUnixNano: t - SEC, timeUnixNano: t, flags: 0, count: 0, sum: 0, scale: 0,
          zeroCount: 0, zeroThreshold: 0, positive: { offset: 0, bucketCounts: [] }, negative: { offset: 0, bucketCounts: [] }, exemplars: [], ...p,
        },
        expDelta,
      );
    const shape = (mp: MetricPoint) => {
      assert.equal(mp.point.type, 'exponentialHistogram');
      const p = mp.point as ExponentialHistogramPoint;
      return { scale: p.scale, zeroCount: p.zeroCount, positive: p.positive, negative: p.negative, count: p.count, sum: p.sum, start: p.startTimeUnixNano };
    };

    test('are added at the coarser scale: 2^d neighbours merge, negative indices round down', () => {
      const d = createDeltaToCumulative({ maxSeries: 10 });
      const { points, refused } = d.convert([
        // scale 1: (2, 2.83] and (2.83, 4]; negative (-1, -0.71] is index -1
        e(T0 + SEC, { scale: 1, count: 6, sum: 10, positive: { offset: 2, bucketCounts: [1, 1] }, negative: { offset: -1, bucketCounts: [4] } }),
        // scale 0: (2, 4] is index 1; the running total drops to scale 0
        e(T0 + 2n * SEC, { scale: 0, count: 3, sum: 9, positive: { offset: 1, bucketCounts: [3] } }),
        // scale 2: (4, 4.76] is index 8, which is index 2 = (4, 8] at scale 0
        e(T0 + 3n * SEC, { scale: 2, count: 2, sum: 9, zeroCount: 1, positive: { offset: 8, bucketCounts: [2] } }),
      ]);
      assert.deepEqual(refused, {});
      assert.deepEqual(points.map(shape), [
        { scale: 1, zeroCount: 0, positive: { offset: 2, bucketCounts: [1, 1] }, negative: { offset: -1, bucketCounts: [4] }, count: 6, sum: 10, start: T0 },
        { scale: 0, zeroCount: 0, positive: { offset: 1, bucketCounts: [5] }, negative: { offset: -1, bucketCounts: [4] }, count: 9, sum: 19, start: T0 },
        { scale: 0, zeroCount: 1, positive: { offset: 1, bucketCounts: [5, 2] }, negative: { offset: -1, bucketCounts: [4] }, count: 11, sum: 28, start: T0 },
      ]);
      assert.equal(points[2]!.metric.aggregationTemporality, 2);
    });

    test('a wider zero threshold takes in the buckets below it', () => {
      const d = createDeltaToCumulative({ maxSeries: 10 });
      const { points } = d.convert([
        e(T0 + SEC, { count: 3, positive: { offset: 0, bucketCounts: [1, 2] } }), // (1, 2] and (2, 4]
        e(T0 + 2n * SEC, { count: 1, zeroThreshold: 2.5, zeroCount: 1 }),
      ]);
      const last = points[1]!.point as ExponentialHistogramPoint;
      assert.deepEqual([last.zeroThreshold, last.zeroCount, last.positive, last.count], [2.5, 2, { offset: 1, bucketCounts: [2] }, 4]);
    });

    test('the running total stays within 160 buckets per sign by lowering its scale', () => {
      const d = createDeltaToCumulative({ maxSeries: 10 });
      const { points } = d.convert([
        e(T0 + SEC, { scale: 3, count: 100, positive: { offset: 0, bucketCounts: new Array<number>(100).fill(1) } }),
        e(T0 + 2n * SEC, { scale: 3, count: 1, positive: { offset: 200, bucketCounts: [1] } }),
      ]);
      const last = points[1]!.point as ExponentialHistogramPoint;
      assert.equal(last.scale, 2);
      assert.equal(last.positive.offset, 0);
      assert.equal(last.positive.bucketCounts.length, 101);
      assert.equal(last.positive.bucketCounts.reduce((a, b) => a + b, 0), 101);
    });
  });

  test('delta histograms add bucket counts, count and sum; new bounds start over', () => {
    const d = createDeltaToCumulative({ maxSeries: 10 });
    const h = (t: bigint, counts: number[], bounds: number[]): HistogramPoint => ({
      type: 'histogram', attributes: [], startTimeUnixNano: t - SEC, timeUnixNano: t, flags: 0,
      count: counts.reduce((a, b) => a + b, 0), sum: counts.length, bucketCounts: counts, explicitBounds: bounds, exemplars: [],
    });
    const { points } = d.convert([
      metricPoint(h(T0 + SEC, [1, 2], [1]), { ...delta, type: 'histogram' }),
      metricPoint(h(T0 + 2n * SEC, [3, 4], [1]), { ...delta, type: 'histogram' }),
      metricPoint(h(T0 + 3n * SEC, [1, 1, 1], [1, 2]), { ...delta, type: 'histogram' }),
    ]);
    const got = points.map((p) => (p.point.type === 'histogram' ? [p.point.bucketCounts, p.point.count, p.point.sum] : null));
    assert.deepEqual(got, [[[1, 2], 3, 2], [[4, 6], 10, 4], [[1, 1, 1], 3, 3]]);
  });

  test('state is bounded: the least recently updated series is forgotten', () => {
    const d = createDeltaToCumulative({ maxSeries: 2 });
    for (const k of ['a', 'b', 'c']) d.convert([metricPoint(numberPoint({ asDouble: 1, attributes: attrs({ k }) }), delta)]);
    assert.equal(d.size(), 2);
    // 'a' was forgotten, so it starts from 0 again.
    const { points } = d.convert([metricPoint(numberPoint({ asDouble: 1, timeUnixNano: T0 + SEC, attributes: attrs({ k: 'a' }) }), delta)]);
    assert.equal(points[0]!.point.type === 'number' && points[0]!.point.asDouble, 1);
  });

  test('cumulative points and gauges pass through unchanged', () => {
    const d = createDeltaToCumulative({ maxSeries: 2 });
    const p = metricPoint(numberPoint({ asDouble: 9 }));
    assert.equal(d.convert([p]).points[0], p);
  });
});
