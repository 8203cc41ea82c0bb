// Found by QA (round 30, metrics differential, defects 1 to 3): a DuckDB series was service.name,
// service.instance.id and the point attributes only, so streams of one counter from two scopes or two
// service.namespace values interleaved and counted garbage; and a point flagged "no recorded value"
// broke its series' chain (the next point counted whole, or its increase lost) and nulled its step.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../src/logger.ts';
import type { MetricPoint, MetricPointValue, Resource, InstrumentationScope } from '../../../src/model/telemetry.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import type { SeriesAggregation, SeriesQuery } from '../../../src/stores/types.ts';
import { metricPoint, resource, scope, SEC, T0 } from '../../helpers/telemetry-builders.ts';

const counter = (name: string) => ({ name, type: 'sum' as const, aggregationTemporality: 2 as const, isMonotonic: true });
const ks = Array.from({ length: 10 }, (_, i) => i + 1);
const NO_RECORDED_VALUE = 1;

/** A cumulative counter point k (at T0 + 30k s, started at T0). */
function count(name: string, k: number, value: number, at: { resource: Resource; scope?: InstrumentationScope }, flags = 0): MetricPoint {
  const p: MetricPointValue = { type: 'number', attributes: [], startTimeUnixNano: T0, timeUnixNano: T0 + BigInt(30 * k) * SEC, flags, exemplars: [] };
  if (flags === 0) p.asDouble = value;
  return metricPoint(p, counter(name), { tenant: 't', ...at });
}

describe('a DuckDB metric series is a stream of the OTel data model', () => {
  let store: DuckDbStore;
  before(async () => {
    store = await openDuckDbStore({ path: ':memory:', logger: silentLogger(), threads: 1 });
    await store.writer.writeMetrics(
      ks.flatMap((k) => [
        // One counter from two scopes (two libraries emitting one instrument name).
        count('qa.scoped', k, k, { resource: resource('qa-scope-svc'), scope: scope('s1', '1.0') }),
        count('qa.scoped', k, 100 * k, { resource: resource('qa-scope-svc'), scope: scope('s2', '') }),
        // One service in two namespaces.
        count('qa.nsc', k, k, { resource: resource('qa-ns-svc', { 'service.namespace': 'prod' }) }),
        count('qa.nsc', k, 100 * k, { resource: resource('qa-ns-svc', { 'service.namespace': 'staging' }) }),
      ]),
    );
  });
  after(() => store?.close());

  const query = (name: string, aggregation: SeriesAggregation, extra: Partial<SeriesQuery> = {}) =>
    store.metrics.querySeries('t', { name, aggregation, range: { from: T0, to: T0 + 600n * SEC - 1n }, stepNano: 300n * SEC, ...extra });
  const values = async (...args: Parameters<typeof query>) => (await query(...args)).map((s) => [s.labels, s.points.map((p) => p.value)]);

  it('streams that differ only in their scope are two series, each counted on its own', async () => {
    // Started at `from`: counted from zero; s1 counted 9 then 1, s2 900 then 100.
    assert.deepEqual(await values('qa.scoped', 'SUM'), [
      [{ 'service.name': 'qa-scope-svc', 'otel.scope.name': 's1', 'otel.scope.version': '1.0' }, [9, 1]],
      [{ 'service.name': 'qa-scope-svc', 'otel.scope.name': 's2' }, [900, 100]],
    ]);
    assert.deepEqual((await values('qa.scoped', 'LAST')).map(([, v]) => v), [[9, 10], [900, 1000]]);
    assert.deepEqual(await values('qa.scoped', 'SUM', { groupBy: ['service.name'] }), [[{ 'service.name': 'qa-scope-svc' }, [909, 101]]]);
    assert.deepEqual(await values('qa.scoped', 'SUM', { groupBy: ['otel.scope.name'] }), [[{ 'otel.scope.name': 's1' }, [9, 1]], [{ 'otel.scope.name': 's2' }, [900, 100]]]);
  });

  it('a scope label filters as an attribute does', async () => {
    assert.deepEqual((await values('qa.scoped', 'SUM', { labels: { 'otel.scope.name': 's2' } })).map(([, v]) => v), [[900, 100]]);
    const [newest] = await store.metrics.points('t', 'qa.scoped', { from: T0, to: T0 + 600n * SEC }, 1, { 'otel.scope.name': 's1', 'otel.scope.version': '1.0' });
    assert.equal(newest?.scope.name, 's1');
  });

  it('streams of one service in two namespaces are two series', async () => {
    assert.deepEqual(await values('qa.nsc', 'SUM'), [
      [{ 'service.name': 'qa-ns-svc', 'service.namespace': 'prod', 'otel.scope.name': 'test-scope', 'otel.scope.version': '1.0.0' }, [9, 1]],
      [{ 'service.name': 'qa-ns-svc', 'service.namespace': 'staging', 'otel.scope.name': 'test-scope', 'otel.scope.version': '1.0.0' }, [900, 100]],
    ]);
    assert.deepEqual((await values('qa.nsc', 'SUM', { labels: { 'service.namespace': 'prod' } })).map(([, v]) => v), [[9, 1]]);
  });
});

describe('a point flagged "no recorded value" is no point of its series, and the one before it stays the base', () => {
  let store: DuckDbStore;
  const at = { resource: resource('qa-edge') };
  before(async () => {
    store = await openDuckDbStore({ path: ':memory:', logger: silentLogger(), threads: 1 });
    // The QA data: a counter at 10k, k = 1..10; a histogram with count 4k, sum 135k, buckets
    // [k, 2k, k, 0, 0] (bounds 10, 50, 100, 500); a gauge k. Point k = 5 (T0 + 150 s) is flagged.
    const hist = (k: number): MetricPoint => {
      const base = { attributes: [], startTimeUnixNano: T0, timeUnixNano: T0 + BigInt(30 * k) * SEC, exemplars: [] };
      const p: MetricPointValue = k === 5
        ? { type: 'histogram', ...base, flags: NO_RECORDED_VALUE, count: 0, bucketCounts: [], explicitBounds: [] }
        : { type: 'histogram', ...base, flags: 0, count: 4 * k, sum: 135 * k, bucketCounts: [k, 2 * k, k, 0, 0], explicitBounds: [10, 50, 100, 500] };
      return metricPoint(p, { name: 'qa.hnrv', type: 'histogram', aggregationTemporality: 2 }, { tenant: 't', ...at });
    };
    const gauge = (k: number): MetricPoint => {
      const p: MetricPointValue = { type: 'number', attributes: [], startTimeUnixNano: 0n, timeUnixNano: T0 + BigInt(30 * k) * SEC, flags: k === 5 ? NO_RECORDED_VALUE : 0, exemplars: [] };
      if (k !== 5) p.asDouble = k;
      return metricPoint(p, { name: 'qa.gnrv', type: 'gauge', aggregationTemporality: 0 }, { tenant: 't', ...at });
    };
    await store.writer.writeMetrics(ks.flatMap((k) => [count('qa.crnrv', k, 10 * k, at, k === 5 ? NO_RECORDED_VALUE : 0), hist(k), gauge(k)]));
  });
  after(() => store?.close());

  const steps = async (name: string, aggregation: SeriesAggregation, from: number, to: number, step: number, extra: Partial<SeriesQuery> = {}) => {
    const [series] = await store.metrics.querySeries('t', { name, aggregation, range: { from: T0 + BigInt(from) * SEC, to: T0 + BigInt(to) * SEC }, stepNano: BigInt(step) * SEC, ...extra });
    return Object.fromEntries(series!.points.map((p) => [Number((p.timeUnixNano - T0) / SEC), p.count === undefined ? p.value : [p.value, p.count, p.sum]]));
  };

  it('a counter step after it counts from the last point with a value', async () => {
    // [180, 240) holds 60 and 70; the point before with a value is 40 (T0 + 120 s).
    assert.deepEqual(await steps('qa.crnrv', 'SUM', 0, 300, 60), { 0: 10, 60: 20, 120: 10, 180: 30, 240: 20, 300: 10 });
    assert.equal((await steps('qa.crnrv', 'RATE', 0, 300, 60))[180], 0.5);
    // Started at `from`: 100 counted from zero; started before it: 100 − 10.
    assert.deepEqual(await steps('qa.crnrv', 'SUM', 0, 330, 600), { 0: 100 });
    assert.deepEqual(await steps('qa.crnrv', 'SUM', 30, 330, 300), { 30: 90 });
    assert.equal((await steps('qa.crnrv', 'SUM', 30, 330, 60))[150], 20);
  });

  it('nor is it counted as a point', async () => {
    assert.deepEqual(await steps('qa.crnrv', 'COUNT', 120, 179, 60), { 120: 1 });
    assert.deepEqual(await steps('qa.gnrv', 'COUNT', 0, 330, 600), { 0: 9 });
    assert.deepEqual(await steps('qa.gnrv', 'AVG', 120, 179, 60), { 120: 4 });
  });

  it('a histogram step after it counts from the last point with a value, and its own step keeps sum, mean and quantile', async () => {
    assert.deepEqual(await steps('qa.hnrv', 'COUNT', 0, 300, 60), {
      0: [4, 4, 135], 60: [8, 8, 270], 120: [4, 4, 135], 180: [12, 12, 405], 240: [8, 8, 270], 300: [4, 4, 135],
    });
    assert.deepEqual(await steps('qa.hnrv', 'COUNT', 0, 330, 600), { 0: [40, 40, 1350] });
    assert.deepEqual((await steps('qa.hnrv', 'AVG', 0, 300, 60))[120], [33.75, 4, 135]);
    // [120, 180) observed [1, 2, 1]: rank 2 is half way through (10, 50].
    assert.deepEqual((await steps('qa.hnrv', 'AVG', 0, 300, 60, { quantile: 0.5 }))[120], [30, 4, 135]);
  });
});
