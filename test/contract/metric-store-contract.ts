// The MetricStore contract: series bucketing and aggregation with exact expected numbers, raw
// points returned losslessly, and tenant isolation. Written against the interfaces only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Exemplar, MetricPoint, MetricPointValue } from '../../src/model/telemetry.ts';
import type { MetricSeries, SeriesAggregation, SeriesQuery } from '../../src/stores/types.ts';
import { attrs, metricPoint, resource, scope, SEC, spanId, T0, traceId } from '../helpers/telemetry-builders.ts';
import { freshTenant, rejectsWith, type StoreFactory, type StoreUnderTest } from './store-under-test.ts';

const checkout = resource('checkout', { 'host.name': 'h1' });
const exemplar: Exemplar = {
  filteredAttributes: attrs({ 'user.id': 'u1' }),
  timeUnixNano: T0 + 9n * SEC,
  asDouble: 7,
  spanId: spanId(0x301),
  traceId: traceId(0x300),
};

const num = (route: string | null, t: bigint, value: number, start = T0 - 100n * SEC, exemplars: Exemplar[] = []): MetricPointValue => ({
  type: 'number',
  attributes: route === null ? [] : attrs({ route }),
  startTimeUnixNano: start,
  timeUnixNano: T0 + t * SEC,
  flags: 0,
  asDouble: value,
  exemplars,
});
const hist = (t: bigint, count: number, sum: number): MetricPointValue => ({
  type: 'histogram', attributes: [], startTimeUnixNano: T0, timeUnixNano: T0 + t * SEC, flags: 0, count, sum,
  bucketCounts: [count], explicitBounds: [], exemplars: [],
});

function samplePoints(tenant: string): MetricPoint[] {
  const requests = { name: 'requests', type: 'sum' as const, aggregationTemporality: 2 as const, isMonotonic: true };
  const at = (p: MetricPointValue, d: Parameters<typeof metricPoint>[1]) => metricPoint(p, d, { tenant, resource: checkout });
  return [
    // route /a: reset between 20 s and 30 s (the value drops).
    ...[0, 10, 20, 30, 40, 50].map((t, i) =>
      at(num('/a', BigInt(t), [0, 10, 20, 5, 15, 25][i]!, t >= 30 ? T0 + 25n * SEC : T0 - 100n * SEC, t === 10 ? [exemplar] : []), requests),
    ),
    ...[0, 20, 40].map((t, i) => at(num('/b', BigInt(t), [100, 100, 130][i]!), requests)),
    // route /c: restarted at 15 s (a later start time) though the value went up.
    ...[0, 10, 20].map((t, i) => at(num('/c', BigInt(t), [100, 150, 160][i]!, t === 20 ? T0 + 15n * SEC : T0 - 100n * SEC), requests)),
    ...[0, 10, 20, 30].map((t, i) => at(num(null, BigInt(t), i + 1, T0 + BigInt(t) * SEC - 10n * SEC), { name: 'jobs', type: 'sum', aggregationTemporality: 1, isMonotonic: true })),
    ...[0, 10, 20].map((t, i) => at(num(null, BigInt(t), [20, 22, 18][i]!), { name: 'temperature', type: 'gauge', aggregationTemporality: 0, isMonotonic: false, unit: 'Cel', description: 'room temperature' })),
    at(hist(0n, 2, 10), { name: 'latency', type: 'histogram', aggregationTemporality: 1 }),
    at(hist(10n, 3, 20), { name: 'latency', type: 'histogram', aggregationTemporality: 1 }),
    at(hist(0n, 2, 10), { name: 'latency.cum', type: 'histogram', aggregationTemporality: 2 }),
    at(hist(10n, 4, 30), { name: 'latency.cum', type: 'histogram', aggregationTemporality: 2 }),
    at({ type: 'summary', attributes: [], startTimeUnixNano: T0, timeUnixNano: T0, flags: 0, count: 4, sum: 10, quantileValues: [{ quantile: 0.5, value: 2 }] }, { name: 'rpc.summary', type: 'summary', aggregationTemporality: 0 }),
  ];
}

/** One point of every kind, with every optional field set somewhere. */
function everyKindOfPoint(tenant: string): MetricPoint[] {
  const base = { attributes: attrs({ k: 'v', n: 3n }), startTimeUnixNano: T0 - SEC, flags: 1 };
  const ex: Exemplar[] = [exemplar, { filteredAttributes: [], timeUnixNano: T0 + 1n, asInt: '9007199254740993', spanId: spanId(1), traceId: traceId(1) }];
  const d = (name: string, type: MetricPoint['metric']['type'], extra: Partial<MetricPoint['metric']> = {}) => ({
    name, type, description: `${name} description`, unit: 'ms', aggregationTemporality: 2 as const, isMonotonic: false, metadata: attrs({ meta: true }), ...extra,
  });
  const res = { attributes: attrs({ 'service.name': 'points-svc' }), droppedAttributesCount: 2, schemaUrl: 'https://schema' };
  const sc = { ...scope('meter', '3.0'), attributes: attrs({ a: 1.5 }), droppedAttributesCount: 0, schemaUrl: '' };
  const points: [MetricPoint['metric'], MetricPointValue][] = [
    [d('int.counter', 'sum', { isMonotonic: true }), { type: 'number', ...base, timeUnixNano: T0 + 6n, asInt: '9007199254740993', exemplars: ex }],
    [d('double.gauge', 'gauge', { aggregationTemporality: 0 }), { type: 'number', ...base, timeUnixNano: T0 + 5n, asDouble: -1.5, exemplars: [] }],
    [d('unset.gauge', 'gauge', { aggregationTemporality: 0 }), { type: 'number', ...base, timeUnixNano: T0 + 4n, exemplars: [] }],
    [d('hist', 'histogram'), { type: 'histogram', ...base, timeUnixNano: T0 + 3n, count: 6, sum: 12.5, bucketCounts: [1, 2, 3], explicitBounds: [0.5, 1], min: 0.1, max: 9, exemplars: ex }],
    [d('hist.bare', 'histogram'), { type: 'histogram', ...base, timeUnixNano: T0 + 2n, count: 0, bucketCounts: [], explicitBounds: [], exemplars: [] }],
    [d('exp', 'exponentialHistogram'), {
      type: 'exponentialHistogram', ...base, timeUnixNano: T0 + 1n, count: 4, sum: 3.5, scale: -2, zeroCount: 1,
      positive: { offset: -3, bucketCounts: [1, 0, 2] }, negative: { offset: 0, bucketCounts: [] }, min: -1, max: 2.5, zeroThreshold: 0.001, exemplars: [exemplar],
    }],
    [d('summary', 'summary'), { type: 'summary', ...base, timeUnixNano: T0, count: 3, sum: 6, quantileValues: [{ quantile: 0, value: 1 }, { quantile: 1, value: 3 }] }],
  ];
  return points.map(([metric, point]) => ({ tenant, resource: res, scope: sc, metric, point }));
}

const values = (series: MetricSeries | undefined) => series?.points.map((p) => [Number((p.timeUnixNano - T0) / SEC), p.value]);

export function metricStoreContract(backend: string, open: StoreFactory): void {
  describe(`${backend} MetricStore contract`, () => {
    let store: StoreUnderTest;
    const tenant = freshTenant('metrics');

    before(async () => {
      store = await open();
      await store.writer.writeMetrics(samplePoints(tenant));
    });
    after(() => store?.close());

    const query = (name: string, aggregation: SeriesAggregation, extra: Partial<SeriesQuery> = {}) =>
      store.metrics.querySeries(tenant, { name, aggregation, range: { from: T0, to: T0 + 59n * SEC }, stepNano: 20n * SEC, ...extra });
    const route = (all: MetricSeries[], r: string) => all.find((s) => s.labels.route === r);

    const expectedA: [SeriesAggregation, number[]][] = [
      ['AVG', [5, 12.5, 20]],
      // A counter's SUM is what it counted during the step (10 - 0; 10 more, then 5 after the reset; 10 + 10).
      ['SUM', [10, 15, 20]],
      ['MIN', [0, 5, 15]],
      ['MAX', [10, 20, 25]],
      ['LAST', [10, 5, 25]],
      ['COUNT', [2, 2, 2]],
      ['RATE', [0.5, 0.75, 1]],
    ];
    for (const [aggregation, expected] of expectedA) {
      it(`buckets a series by step with ${aggregation}`, async () => {
        const series = await query('requests', aggregation);
        assert.equal(series.length, 3);
        assert.deepEqual(values(route(series, '/a')), [[0, expected[0]], [20, expected[1]], [40, expected[2]]]);
      });
    }

    it('RATE handles a counter reset seen as a lower value or as a later start time', async () => {
      const series = await query('requests', 'RATE');
      assert.deepEqual(values(route(series, '/b')), [[0, null], [20, 0], [40, 1.5]]);
      assert.deepEqual(values(route(series, '/c')), [[0, 2.5], [20, 8]]);
    });

    it('RATE counts the increase from the last point before the range', async () => {
      const series = await query('requests', 'RATE', { range: { from: T0 + 20n * SEC, to: T0 + 59n * SEC } });
      assert.deepEqual(values(route(series, '/a')), [[20, 0.75], [40, 1]]);
    });

    it('RATE of a delta sum is the sum per bucket divided by the step', async () => {
      const [jobs] = await query('jobs', 'RATE');
      assert.deepEqual(values(jobs), [[0, 0.15], [20, 0.35]]);
      assert.deepEqual(values((await query('jobs', 'SUM'))[0]), [[0, 3], [20, 7]]);
    });

    it('RATE divides a last step that ends after the range by the time its increase covers', async () => {
      // /a's last step [40, 60) with to = 45 s holds the point at 40 (10 more since 30): 1/s, not 0.5.
      const series = await query('requests', 'RATE', { range: { from: T0, to: T0 + 45n * SEC } });
      assert.deepEqual(values(route(series, '/a')), [[0, 0.5], [20, 0.75], [40, 1]]);
      // A whole step is divided by the step.
      const whole = await query('requests', 'RATE', { range: { from: T0, to: T0 + 60n * SEC - 1n } });
      assert.deepEqual(values(route(whole, '/b')), [[0, null], [20, 0], [40, 1.5]]);
    });

    it('aggregates a gauge', async () => {
      const q = (a: SeriesAggregation) => query('temperature', a, { stepNano: 30n * SEC });
      assert.deepEqual(values((await q('AVG'))[0]), [[0, 20]]);
      assert.deepEqual(values((await q('MIN'))[0]), [[0, 18]]);
      assert.deepEqual(values((await q('LAST'))[0]), [[0, 18]]);
      const [series] = await q('COUNT');
      assert.equal(series!.type, 'gauge');
      assert.equal(series!.unit, 'Cel');
      assert.equal(series!.description, 'room temperature');
    });

    it('gives histogram-like buckets the mean, count and sum of the merged distribution', async () => {
      const point = async (name: string) => (await query(name, 'AVG'))[0]!.points;
      // Delta points add up; a cumulative point already includes the ones before it.
      assert.deepEqual(await point('latency'), [{ timeUnixNano: T0, value: 6, count: 5, sum: 30 }]);
      assert.deepEqual(await point('latency.cum'), [{ timeUnixNano: T0, value: 7.5, count: 4, sum: 30 }]);
      assert.deepEqual(await point('rpc.summary'), [{ timeUnixNano: T0, value: 2.5, count: 4, sum: 10 }]);
    });

    describe('histogram-like series per step', () => {
      const t = freshTenant('histogram-steps');
      // Series that started at the range's start: their first point is what they counted.
      const started = T0;
      const explicit = (sec: number, counts: number[], sum: number, start = started, bounds = [10, 100, 1000]): MetricPointValue => ({
        type: 'histogram', attributes: [], startTimeUnixNano: start, timeUnixNano: T0 + BigInt(sec) * SEC, flags: 0,
        count: counts.reduce((a, b) => a + b, 0), sum, bucketCounts: counts, explicitBounds: bounds, exemplars: [],
      });
      const exponential = (sec: number, scale: number, counts: number[], sum: number): MetricPointValue => ({
        type: 'exponentialHistogram', attributes: [], startTimeUnixNano: started, timeUnixNano: T0 + BigInt(sec) * SEC, flags: 0,
        count: counts.reduce((a, b) => a + b, 0), sum, scale, zeroCount: 0, zeroThreshold: 0,
        positive: { offset: 0, bucketCounts: counts }, negative: { offset: 0, bucketCounts: [] }, exemplars: [],
      });
      const cumulative = { name: 'http.duration', type: 'histogram' as const, aggregationTemporality: 2 as const };
      const delta = { name: 'queue.wait', type: 'histogram' as const, aggregationTemporality: 1 as const };
      const expo = { name: 'exp.latency', type: 'exponentialHistogram' as const, aggregationTemporality: 2 as const };
      const counter = (name: string) => ({ name, type: 'sum' as const, aggregationTemporality: 2 as const, isMonotonic: true });

      before(async () => {
        const at = (p: MetricPointValue, d: Parameters<typeof metricPoint>[1]) => metricPoint(p, d, { tenant: t, resource: checkout });
        await store.writer.writeMetrics([
          // Cumulative, started in the range (so its first point counts from zero), reset at 25 s.
          at(explicit(0, [1, 0, 0, 0], 5), cumulative),
          at(explicit(5, [1, 1, 0, 0], 55), cumulative),
          at(explicit(10, [2, 1, 0, 0], 65), cumulative),
          at(explicit(20, [2, 3, 1, 0], 765), cumulative),
          at(explicit(30, [0, 1, 0, 0], 20, T0 + 25n * SEC), cumulative),
          at(explicit(40, [0, 1, 1, 1], 2520, T0 + 25n * SEC), cumulative),
          at(explicit(0, [1, 1, 0], 2.5, T0, [1, 2]), delta),
          at(explicit(10, [0, 2, 2], 11, T0 + 10n * SEC, [1, 2]), delta),
          at(explicit(30, [3, 0, 0], 1.5, T0 + 30n * SEC, [1, 2]), delta),
          // Before the range (in the look-back): no step's observations.
          at(explicit(-5, [9, 0, 0], 9, T0 - 6n * SEC, [1, 2]), delta),
          at(explicit(-15, [2, 0, 0, 0], 2, T0 - 100n * SEC), { ...cumulative, name: 'lookback.duration' }),
          at(explicit(-5, [3, 0, 0, 0], 3, T0 - 100n * SEC), { ...cumulative, name: 'lookback.duration' }),
          at(explicit(5, [3, 1, 0, 0], 53, T0 - 100n * SEC), { ...cumulative, name: 'lookback.duration' }),
          metricPoint(explicit(20, [0, 0, 7], 21, T0 + 10n * SEC, [1, 2]), delta, { tenant: t, resource: resource('payments') }),
          // Other bounds in the same step: the counts add up, the buckets cannot.
          metricPoint(explicit(25, [1, 1], 10, T0 + 20n * SEC, [5]), delta, { tenant: t, resource: resource('payments') }),
          // The second point is at a coarser scale, as an SDK writes it once its range grows.
          at(exponential(0, 1, [2, 2], 6), expo),
          at(exponential(10, 0, [8, 4], 30), expo),
          // Started before the range: its first point is no step's observations.
          at(explicit(0, [5, 5, 5, 5], 1000, T0 - 100n * SEC), { ...cumulative, name: 'old.duration' }),
          at(explicit(10, [6, 5, 5, 5], 1001, T0 - 100n * SEC), { ...cumulative, name: 'old.duration' }),
          // A summary sampled once, started long ago: no observations known, its quantiles are.
          at({ type: 'summary', attributes: [], startTimeUnixNano: T0 - 100n * SEC, timeUnixNano: T0 + SEC, flags: 0, count: 9, sum: 90, quantileValues: [{ quantile: 0.99, value: 42 }] },
            { name: 'old.summary', type: 'summary', aggregationTemporality: 0 }),
          at(num(null, 0n, 4, started), counter('fresh.counter')),
          at(num(null, 10n, 6, started), counter('fresh.counter')),
        ]);
      });

      const series = async (name: string, extra: Partial<SeriesQuery> = {}) =>
        (await store.metrics.querySeries(t, { name, aggregation: 'AVG', range: { from: T0, to: T0 + 59n * SEC }, stepNano: 20n * SEC, ...extra }))[0]!.points;
      const at = (points: Awaited<ReturnType<typeof series>>, field: 'value' | 'count' | 'sum') => points.map((p) => [Number((p.timeUnixNano - T0) / SEC), p[field] ?? null]);

      it('counts what a cumulative histogram observed during each step, across a reset', async () => {
        const points = await series('http.duration');
        assert.deepEqual(at(points, 'count'), [[0, 3], [20, 4], [40, 2]]);
        assert.deepEqual(at(points, 'sum'), [[0, 65], [20, 720], [40, 2500]]);
        assert.deepEqual(at(points, 'value'), [[0, 65 / 3], [20, 180], [40, 1250]]);
        assert.deepEqual(at(await series('http.duration', { aggregation: 'COUNT' }), 'value'), [[0, 3], [20, 4], [40, 2]]);
        assert.deepEqual(at(await series('http.duration', { aggregation: 'SUM' }), 'value'), [[0, 65], [20, 720], [40, 2500]]);
        // The last step ends after the range (to = 59 s): its 2 observations are divided by the 10 s
        // they cover since the point before, not by the whole step.
        assert.deepEqual(at(await series('http.duration', { aggregation: 'RATE' }), 'value'), [[0, 0.15], [20, 0.2], [40, 0.2]]);
        assert.deepEqual(at(await series('old.duration', { quantile: 0.5 }), 'count'), [[0, 1]]);
        // The first step starts from the last point before the range.
        for (const extra of [{}, { quantile: 0.5 }]) assert.deepEqual(at(await series('lookback.duration', extra), 'count'), [[0, 1]]);
        assert.deepEqual(at(await series('old.duration', { quantile: 0.5 }), 'value'), [[0, 5]]);
      });

      it('estimates quantiles from the buckets as histogram_quantile does', async () => {
        assert.deepEqual(at(await series('http.duration', { quantile: 0.5 }), 'value'), [[0, 7.5], [20, 70], [40, 1000]]);
        const p99 = at(await series('http.duration', { quantile: 0.99 }), 'value');
        assert.equal(p99[1]![1], 100 + 900 * 0.96);
        // A rank in the +Inf bucket reads as the highest finite bound.
        assert.equal(p99[2]![1], 1000);
      });

      it('adds up the delta points of a step, per series', async () => {
        // Without a quantile the store may add them up without their buckets: the same counts.
        const plain = await store.metrics.querySeries(t, { name: 'queue.wait', aggregation: 'AVG', range: { from: T0, to: T0 + 59n * SEC }, stepNano: 20n * SEC });
        assert.deepEqual(plain.map((s) => [s.labels['service.name'], at(s.points, 'count'), at(s.points, 'value')]), [
          ['checkout', [[0, 6], [20, 3]], [[0, 2.25], [20, 0.5]]],
          ['payments', [[20, 9]], [[20, 31 / 9]]],
        ]);
        const medians = await store.metrics.querySeries(t, { name: 'queue.wait', aggregation: 'AVG', quantile: 0.5, range: { from: T0, to: T0 + 59n * SEC }, stepNano: 20n * SEC });
        assert.deepEqual(medians.map((s) => [s.labels['service.name'], at(s.points, 'count'), at(s.points, 'value')]), [
          ['checkout', [[0, 6], [20, 3]], [[0, 1 + 2 / 3], [20, 0.5]]],
          ['payments', [[20, 9]], [[20, null]]],
        ]);
        const points = await series('queue.wait', { quantile: 0.5 });
        assert.deepEqual(at(points, 'count'), [[0, 6], [20, 3]]);
        assert.deepEqual(at(points, 'sum'), [[0, 13.5], [20, 1.5]]);
        assert.deepEqual(at(points, 'value'), [[0, 1 + 2 / 3], [20, 0.5]]);
      });

      it('subtracts exponential histograms of different scales at the coarser one', async () => {
        const median = await series('exp.latency', { quantile: 0.5 });
        assert.deepEqual(at(median, 'count'), [[0, 12]]);
        assert.deepEqual(at(median, 'value'), [[0, 1.75]]);
        const [p90] = await series('exp.latency', { quantile: 0.9 });
        assert.ok(Math.abs(p90!.value! - 3.4) < 1e-9, `p90 ${p90!.value}`);
      });

      it("reads a summary's quantile only where the summary has it", async () => {
        const points = await store.metrics.querySeries(tenant, { name: 'rpc.summary', aggregation: 'AVG', quantile: 0.5, range: { from: T0, to: T0 + 59n * SEC }, stepNano: 20n * SEC });
        assert.deepEqual(points[0]!.points.map((p) => p.value), [2]);
        const p90 = await store.metrics.querySeries(tenant, { name: 'rpc.summary', aggregation: 'AVG', quantile: 0.9, range: { from: T0, to: T0 + 59n * SEC }, stepNano: 20n * SEC });
        assert.deepEqual(p90[0]!.points.map((p) => p.value), [null]);
        assert.deepEqual(await series('old.summary', { quantile: 0.99 }), [{ timeUnixNano: T0, value: 42 }]);
      });

      it('RATE counts a counter from zero when it started in the range, not when it started before', async () => {
        assert.deepEqual(at(await series('fresh.counter', { aggregation: 'RATE' }), 'value'), [[0, 0.3]]);
        // It started before a range from 1 ns later: its first point (4) is only the base of the next.
        assert.deepEqual(at(await series('fresh.counter', { aggregation: 'RATE', range: { from: T0 + 1n, to: T0 + 59n * SEC } }), 'value'), [[0, 0.1]]);
      });

      it('refuses what a histogram or a number series cannot answer', async () => {
        for (const aggregation of ['MIN', 'MAX', 'LAST'] as const) await rejectsWith(series('http.duration', { aggregation }), 'BAD_QUERY');
        await rejectsWith(series('fresh.counter', { quantile: 0.5 }), 'BAD_QUERY');
        await rejectsWith(series('http.duration', { quantile: 1.5 }), 'BAD_QUERY');
      });
    });

    describe('groupBy', () => {
      const t = freshTenant('group-by');
      const point = (host: string, sec: bigint, value: number): MetricPointValue => ({ ...num(null, sec, value), attributes: attrs({ host }) });
      const histogram = (host: string, counts: number[], sum: number): MetricPointValue => ({
        type: 'histogram', attributes: attrs({ host }), startTimeUnixNano: T0, timeUnixNano: T0 + 5n * SEC, flags: 0,
        count: counts.reduce((a, b) => a + b, 0), sum, bucketCounts: counts, explicitBounds: [10, 100], exemplars: [],
      });
      before(async () => {
        const mem = { name: 'mem', type: 'gauge' as const, aggregationTemporality: 0 as const };
        const latency = { name: 'rpc.latency', type: 'histogram' as const, aggregationTemporality: 1 as const };
        const at = (p: MetricPointValue, d: Parameters<typeof metricPoint>[1]) => metricPoint(p, d, { tenant: t, resource: checkout });
        await store.writer.writeMetrics([
          at(point('a', 0n, 1), mem), at(point('a', 10n, 3), mem), at(point('b', 0n, 10), mem), at(point('b', 10n, 30), mem),
          at(histogram('a', [2, 0, 0], 10), latency), at(histogram('b', [0, 2, 0], 100), latency),
          at({ type: 'summary', attributes: [], startTimeUnixNano: T0, timeUnixNano: T0, flags: 0, count: 4, sum: 10, quantileValues: [{ quantile: 0.5, value: 2 }] }, { name: 'rpc.summary', type: 'summary', aggregationTemporality: 0 }),
        ]);
      });
      const grouped = (name: string, groupBy: string[], extra: Partial<SeriesQuery> = {}) =>
        store.metrics.querySeries(t, { name, aggregation: 'AVG', range: { from: T0, to: T0 + 19n * SEC }, stepNano: 20n * SEC, groupBy, ...extra });

      it('combines every series into one with groupBy: [], per aggregation', async () => {
        const expected: [SeriesAggregation, number][] = [['AVG', 11], ['SUM', 44], ['MIN', 1], ['MAX', 30], ['COUNT', 4], ['LAST', 33]];
        for (const [aggregation, value] of expected) {
          const series = await grouped('mem', [], { aggregation });
          assert.deepEqual(series.map((s) => [s.labels, values(s)]), [[{}, [[0, value]]]], aggregation);
          assert.equal(series[0]!.type, 'gauge');
        }
      });

      it('gives one series per value of the named labels, labelled with them only', async () => {
        const byHost = await grouped('mem', ['host'], { aggregation: 'LAST' });
        assert.deepEqual(byHost.map((s) => [s.labels, values(s)]), [[{ host: 'a' }, [[0, 3]]], [{ host: 'b' }, [[0, 30]]]]);
        const byService = await grouped('mem', ['service.name'], { aggregation: 'SUM' });
        assert.deepEqual(byService.map((s) => [s.labels, values(s)]), [[{ 'service.name': 'checkout' }, [[0, 44]]]]);
        // Series without the label form one group without it, as in PromQL.
        assert.deepEqual((await grouped('mem', ['zone'], { aggregation: 'SUM' })).map((s) => [s.labels, values(s)]), [[{}, [[0, 44]]]]);
      });

      it('adds up the series’ rates', async () => {
        // /a, /b and /c of the sample: 0.5 + (none) + 2.5, then 0.75 + 0 + 8, then 1 + 1.5.
        const series = await store.metrics.querySeries(tenant, { name: 'requests', aggregation: 'RATE', range: { from: T0, to: T0 + 59n * SEC }, stepNano: 20n * SEC, groupBy: [] });
        assert.deepEqual(series.map((s) => [s.labels, values(s)]), [[{}, [[0, 3], [20, 8.75], [40, 2.5]]]]);
      });

      it('adds up what a histogram group observed before taking the mean or a quantile', async () => {
        const [mean] = await grouped('rpc.latency', []);
        assert.deepEqual(mean!.points, [{ timeUnixNano: T0, value: 27.5, count: 4, sum: 110 }]);
        // Merged buckets (0,10]: 2, (10,100]: 2 — the median is the first bucket's top, p75 halfway into the second.
        assert.deepEqual(values((await grouped('rpc.latency', [], { quantile: 0.5 }))[0]), [[0, 10]]);
        assert.deepEqual(values((await grouped('rpc.latency', [], { quantile: 0.75 }))[0]), [[0, 55]]);
        assert.deepEqual((await grouped('rpc.latency', ['host'], { quantile: 0.5 })).map((s) => [s.labels, values(s)]), [[{ host: 'a' }, [[0, 5]]], [{ host: 'b' }, [[0, 55]]]]);
      });

      it('refuses a summary’s quantile across series, and groupBy that is not a list of names', async () => {
        await rejectsWith(grouped('rpc.summary', [], { quantile: 0.5 }), 'BAD_QUERY', 'cannot be combined across series');
        await rejectsWith(grouped('mem', [''], {}), 'BAD_QUERY', 'groupBy');
      });
    });

    it('filters series by exact labels from the point or the resource', async () => {
      const a = await query('requests', 'LAST', { labels: { route: '/a' } });
      assert.deepEqual(a.map((s) => s.labels.route), ['/a']);
      assert.equal(a[0]!.labels['service.name'], 'checkout');
      assert.equal(a[0]!.name, 'requests');
      assert.equal(a[0]!.type, 'sum');
      assert.equal((await query('requests', 'LAST', { labels: { 'host.name': 'h1' } })).length, 3);
      assert.deepEqual(await query('requests', 'LAST', { labels: { 'host.name': 'h2' } }), []);
    });

    it('returns the exemplars of the matching points per series', async () => {
      const series = await query('requests', 'SUM');
      assert.deepEqual(route(series, '/a')!.exemplars, [
        { timeUnixNano: exemplar.timeUnixNano, value: 7, traceId: exemplar.traceId, spanId: exemplar.spanId, filteredAttributes: exemplar.filteredAttributes },
      ]);
      assert.deepEqual(route(series, '/b')!.exemplars, []);
    });

    it('rejects an invalid series query as a BAD_QUERY', async () => {
      await rejectsWith(query('requests', 'AVG', { stepNano: 0n }), 'BAD_QUERY');
      await rejectsWith(query('requests', 'MEDIAN' as SeriesAggregation), 'BAD_QUERY');
      await rejectsWith(query('requests', 'AVG', { range: { from: T0 + SEC, to: T0 } }), 'BAD_QUERY');
    });

    it('returns raw points of every kind exactly as written, newest first', async () => {
      const t = freshTenant('lossless-points');
      const points = everyKindOfPoint(t);
      await store.writer.writeMetrics(points);
      for (const p of points) {
        assert.deepEqual(await store.metrics.points(t, p.metric.name, {}, 10), [p], p.metric.name);
      }
      await store.writer.writeMetrics([{ ...points[0]!, point: { ...points[0]!.point, timeUnixNano: T0 + 100n } }]);
      const newest = await store.metrics.points(t, 'int.counter', { from: T0 }, 1);
      assert.equal(newest[0]!.point.timeUnixNano, T0 + 100n);
    });

    it('limits raw points to a time range', async () => {
      const points = await store.metrics.points(tenant, 'requests', { from: T0 + 40n * SEC }, 100);
      assert.deepEqual(points.map((p) => (p.point.timeUnixNano - T0) / SEC), [50n, 40n, 40n]);
    });

    it('limits raw points to labels, counting only the points that have them', async () => {
      const points = await store.metrics.points(tenant, 'requests', {}, 2, { route: '/b', 'service.name': 'checkout' });
      assert.deepEqual(points.map((p) => [(p.point.timeUnixNano - T0) / SEC, p.point.attributes]), [[40n, attrs({ route: '/b' })], [20n, attrs({ route: '/b' })]]);
      assert.deepEqual(await store.metrics.points(tenant, 'requests', {}, 10, { route: '/z' }), []);
    });

    it('lists metric names with their type, unit and description', async () => {
      const listed = await store.metrics.metricNames(tenant);
      assert.deepEqual(listed.map((m) => m.name), ['jobs', 'latency', 'latency.cum', 'requests', 'rpc.summary', 'temperature']);
      assert.deepEqual(listed.find((m) => m.name === 'temperature'), { name: 'temperature', type: 'gauge', unit: 'Cel', description: 'room temperature' });
      assert.deepEqual((await store.metrics.metricNames(tenant, { from: T0 + 45n * SEC })).map((m) => m.name), ['requests']);
    });

    it('another tenant sees none of these points through any method', async () => {
      const stranger = freshTenant('stranger');
      const q: SeriesQuery = { name: 'requests', aggregation: 'SUM', range: { from: T0, to: T0 + 60n * SEC }, stepNano: 10n * SEC };
      assert.deepEqual(await store.metrics.querySeries(stranger, q), []);
      assert.deepEqual(await store.metrics.points(stranger, 'requests', {}, 10), []);
      assert.deepEqual(await store.metrics.metricNames(stranger), []);
    });
  });
}
