import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromQlSubset, PromQlError } from '../../../src/alerting/promql.ts';

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
});

test('anything else is refused naming the subset and the Prometheus option', () => {
  for (const expr of ['histogram_quantile(0.9, rate(x_bucket[5m]))', 'rate(x{a=~"b.*"}[5m])', 'a / b', 'rate(x[5 m])']) {
    assert.throws(() => parsePromQlSubset(expr), (err: unknown) => err instanceof PromQlError && /embedded store evaluates only/.test(err.message) && /alerting\.prometheusUrl/.test(err.message), expr);
  }
});
