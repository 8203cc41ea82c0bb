// Found by QA (D4): whether a series' first point counted from zero depended on the step (its start
// time had to be within one step before `from`), so a counter's total over one range changed with
// the step. The rule now: a first point counts from zero when its series started in the range.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../src/logger.ts';
import type { MetricPoint, MetricPointValue } from '../../../src/model/telemetry.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import type { SeriesAggregation, SeriesQuery } from '../../../src/stores/types.ts';
import { metricPoint, resource, SEC, T0 } from '../../helpers/telemetry-builders.ts';

const counter = { name: 'requests', type: 'sum' as const, aggregationTemporality: 2 as const, isMonotonic: true };
const histogram = { name: 'latency', type: 'histogram' as const, aggregationTemporality: 2 as const };
// The QA data: first point 50 at 10 s, then 9 more every 45 s up to 167 at 595 s.
const times = Array.from({ length: 14 }, (_, i) => 10 + 45 * i);

function points(service: string, start: bigint): MetricPoint[] {
  const at = (p: MetricPointValue, d: Parameters<typeof metricPoint>[1]) => metricPoint(p, d, { tenant: 't', resource: resource(service) });
  return times.flatMap((sec, i) => {
    const base = { attributes: [], startTimeUnixNano: start, timeUnixNano: T0 + BigInt(sec) * SEC, flags: 0, exemplars: [] };
    const n = 50 + 9 * i;
    return [
      at({ ...base, type: 'number', asDouble: n }, counter),
      at({ ...base, type: 'histogram', count: n, sum: n, bucketCounts: [n], explicitBounds: [] }, histogram),
    ];
  });
}

describe('a series first point counts from zero by when the series started, whatever the step', () => {
  let store: DuckDbStore;
  before(async () => {
    store = await openDuckDbStore({ path: ':memory:', logger: silentLogger(), threads: 1 });
    await store.writer.writeMetrics([
      // Started 100 s before the range: what it counted before its first point is not known.
      ...points('before', T0 - 100n * SEC),
      // Started in the range: its first point is all it counted.
      ...points('inside', T0 + 5n * SEC),
    ]);
  });
  after(() => store?.close());

  const total = async (name: string, aggregation: SeriesAggregation, step: bigint, service: string) => {
    const q: SeriesQuery = { name, aggregation, range: { from: T0, to: T0 + 600n * SEC - 1n }, stepNano: step * SEC, labels: { 'service.name': service } };
    const [series] = await store.metrics.querySeries('t', q);
    // RATE is per second of each step: back to a count.
    return series!.points.reduce((s, p) => s + (p.value ?? 0) * (aggregation === 'RATE' ? Number(step) : 1), 0);
  };

  for (const [service, expected] of [['before', 117], ['inside', 167]] as const) {
    it(`a counter started ${service} the range counts ${expected} with every step`, async () => {
      for (const step of [60n, 120n, 600n]) {
        assert.equal(await total('requests', 'SUM', step, service), expected, `SUM, step ${step}s`);
        assert.ok(Math.abs((await total('requests', 'RATE', step, service)) - expected) < 1e-9, `RATE, step ${step}s`);
        assert.equal(await total('latency', 'COUNT', step, service), expected, `histogram COUNT, step ${step}s`);
      }
    });
  }

  it('a step holds no more than the steps it is made of', async () => {
    const q = (step: bigint): SeriesQuery => ({ name: 'requests', aggregation: 'SUM', range: { from: T0, to: T0 + 600n * SEC - 1n }, stepNano: step * SEC, labels: { 'service.name': 'before' } });
    const [minutes] = await store.metrics.querySeries('t', q(60n));
    const [twoMinutes] = await store.metrics.querySeries('t', q(120n));
    assert.equal(twoMinutes!.points[0]!.value, minutes!.points[0]!.value! + minutes!.points[1]!.value!);
  });
});
