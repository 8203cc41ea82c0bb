// Found by Prometheus QA: a metric point whose attribute value held a lone surrogate (OTLP/JSON can
// send "\ud800") was acknowledged and then refused by DuckDB's JSON reader (the labels/attrs MAP
// columns are written as JSON), so it was lost. It is stored with U+FFFD in its place.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../../src/logger.ts';
import { openDuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { metricPoint, resource, SEC, T0 } from '../../helpers/telemetry-builders.ts';

test('a metric point with a lone surrogate in an attribute key or value is stored, with U+FFFD for it', async () => {
  const store = await openDuckDbStore({ path: ':memory:', logger: silentLogger(), threads: 1 });
  try {
    const gauge = { name: 'queue.depth', type: 'gauge' as const };
    const at = (sec: number, attributes: { key: string; value: { stringValue: string } }[]) =>
      metricPoint({ type: 'number', asDouble: sec, attributes, startTimeUnixNano: 0n, timeUnixNano: T0 + BigInt(sec) * SEC, flags: 0, exemplars: [] }, gauge, { tenant: 't', resource: resource('svc') });
    await store.writer.writeMetrics([
      at(1, [{ key: 'queue', value: { stringValue: 'bad\ud800name' } }]),
      at(2, [{ key: 'odd\udc00key', value: { stringValue: 'x' } }]),
      at(3, [{ key: 'queue', value: { stringValue: 'fine \u{1F600}' } }]),
    ]);
    const series = await store.metrics.querySeries('t', { name: 'queue.depth', aggregation: 'LAST', range: { from: T0, to: T0 + 10n * SEC }, stepNano: 10n * SEC, labels: {} });
    const labels = series.map((s) => s.labels).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    assert.equal(series.length, 3, JSON.stringify(labels));
    assert.ok(labels.some((l) => l.queue === 'bad\ufffdname'), JSON.stringify(labels));
    assert.ok(labels.some((l) => 'odd\ufffdkey' in l), JSON.stringify(labels));
    assert.ok(labels.some((l) => l.queue === 'fine \u{1F600}'), 'a surrogate pair is kept as it is');
  } finally {
    await store.close();
  }
});
