import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEmbeddedPromQl, parsePromQlSubset, PromQlError } from '../../../src/alerting/promql.ts';
import { silentLogger } from '../../../src/logger.ts';
import type { MetricPointValue } from '../../../src/model/telemetry.ts';
import { openDuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { metricPoint, resource, SEC, T0 } from '../../helpers/telemetry-builders.ts';

test('the embedded subset reads selectors, rate/increase and sum/avg/min/max/count by', () => {
  assert.deepEqual(parsePromQlSubset('up'), { aggregation: undefined, metric: 'up', labels: {} });
  assert.deepEqual(parsePromQlSubset('rate(http_requests_total{route="/pay", code="500"}[5m])'), {
    aggregation: undefined,
    fn: 'rate',
    metric: 'http_requests_total',
    labels: { route: '/pay', code: '500' },
    range: 300_000_000_000n,
  });
  assert.deepEqual(parsePromQlSubset('sum by (route) (increase(errors_total[1h]))'), {
    aggregation: { op: 'sum', by: ['route'] },
    fn: 'increase',
    metric: 'errors_total',
    labels: {},
    range: 3_600_000_000_000n,
  });
  assert.deepEqual(parsePromQlSubset('max(queue_depth{queue="a\\"b"})').labels, { queue: 'a"b' });
  assert.deepEqual(parsePromQlSubset('max by (route) (histogram_quantile(0.95, rate(http.server.duration{method="GET"}[5m])))'), {
    aggregation: { op: 'max', by: ['route'] },
    fn: 'rate',
    metric: 'http.server.duration',
    labels: { method: 'GET' },
    range: 300_000_000_000n,
    quantile: 0.95,
  });
});

test('the embedded subset evaluates histogram_quantile and rate of a histogram per series, from what the window observed', async () => {
  const store = await openDuckDbStore({ path: ':memory:', logger: silentLogger(), threads: 1 });
  try {
    // A cumulative histogram (bounds 10, 100) per service: 1 then 5 more observations up to 10 s later.
    const hist = (sec: bigint, counts: number[]): MetricPointValue => ({
      type: 'histogram', attributes: [], startTimeUnixNano: T0 - 3_600n * SEC, timeUnixNano: T0 + sec * SEC, flags: 0,
      count: counts.reduce((a, b) => a + b, 0), sum: 0, bucketCounts: counts, explicitBounds: [10, 100], exemplars: [],
    });
    const d = { name: 'latency', type: 'histogram' as const, aggregationTemporality: 2 as const };
    await store.writer.writeMetrics([
      metricPoint(hist(0n, [1, 0, 0]), d, { tenant: 't', resource: resource('a') }),
      metricPoint(hist(10n, [1, 4, 1]), d, { tenant: 't', resource: resource('a') }),
    ]);
    const promql = createEmbeddedPromQl(store.metrics);
    const at = T0 + 30n * SEC;
    // The window saw 4 observations in (10, 100] and 1 above: rank 2.5 is 10 + 90 × 2.5/4.
    const [p50] = await promql.query('t', 'histogram_quantile(0.5, rate(latency[1m]))', at);
    assert.deepEqual([p50!.labels['service.name'], p50!.value], ['a', 66.25]);
    const [rate] = await promql.query('t', 'rate(latency[1m])', at);
    assert.equal(rate!.value, 5 / 60.000000001);
    await assert.rejects(promql.query('t', 'latency', at), (err: unknown) => err instanceof PromQlError && /latency is a histogram/.test(err.message));
  } finally {
    await store.close();
  }
});

test('anything else is refused naming the subset and the Prometheus option', () => {
  for (const expr of ['histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))', 'histogram_quantile(1.5, rate(x[5m]))', 'rate(x{a=~"b.*"}[5m])', 'a / b', 'rate(x[5 m])']) {
    assert.throws(() => parsePromQlSubset(expr), (err: unknown) => err instanceof PromQlError && /embedded store evaluates only/.test(err.message) && /alerting\.prometheusUrl/.test(err.message), expr);
  }
});
