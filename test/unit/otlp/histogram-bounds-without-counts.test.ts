// metrics.proto: a histogram point's bucket_counts has one element more than explicit_bounds, the
// one exception being both empty. A point with bounds but no counts used to be kept, and the
// Prometheus exporter then wrote its finite buckets as 0 (every observation above the last bound).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRequest } from '../../../src/otlp/codec.ts';

const histogram = (name: string, p: Record<string, unknown>) => ({
  name, histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: '1', count: '5', sum: 50, ...p }] },
});

test('a histogram point with explicit_bounds but no bucket_counts is refused alone, as partial success', () => {
  const body = { resourceMetrics: [{ scopeMetrics: [{ metrics: [
    histogram('no.counts', { explicitBounds: [10, 100], bucketCounts: [] }),
    histogram('no.buckets', { explicitBounds: [], bucketCounts: [] }),
    histogram('fine', { explicitBounds: [10], bucketCounts: ['2', '3'] }),
  ] }] }] };
  const d = decodeRequest('metrics', Buffer.from(JSON.stringify(body)), 'json', 'default');
  assert.deepEqual(d.items.map((m) => m.metric.name), ['no.buckets', 'fine']);
  assert.deepEqual(d.rejected.map((r) => r.reason), ['histogram has 0 bucket_counts for 2 explicit_bounds (needs bounds + 1)']);
});
