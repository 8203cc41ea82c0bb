import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrometheusMetricStore, labelMatchers } from '../../../src/stores/prometheus/metric-store.ts';
import { toStoreError, type PrometheusClient } from '../../../src/stores/prometheus/client.ts';
import { StoreError } from '../../../src/stores/types.ts';

describe('prometheus read store', () => {
  test('label filters with OTel keys become matchers on the names the exporter writes', () => {
    assert.deepEqual(labelMatchers({ 'service.name': 'api', 'service.instance.id': 'pod-1', 'http.route': '/a"b' }), [
      'job=~"(?s)(?:.+/)?api"',
      'instance="pod-1"',
      'http_route="/a\\"b"',
    ]);
    assert.deepEqual(labelMatchers({ 'service.namespace': 'shop.eu' }), ['job=~"(?s)shop\\\\.eu/.+"']);
    assert.deepEqual(labelMatchers(undefined), []);
  });

  test("Prometheus' 400/422 answers are BAD_QUERY with its message; network errors, 401/403 and 5xx are UNAVAILABLE without its text or address", () => {
    const bad = toStoreError({ status: 'error', errorType: 'http_error', httpStatus: 400, error: 'parse error', prometheus: { errorType: 'bad_data', error: '1:5: parse error: unclosed left parenthesis' } });
    assert.equal(bad.code, 'BAD_QUERY');
    assert.match(bad.message, /unclosed left parenthesis/);
    const exec = toStoreError({ status: 'error', httpStatus: 422, error: 'query processing would load too many samples' });
    assert.equal(exec.code, 'BAD_QUERY');
    const down = toStoreError({ status: 'error', errorType: 'network_error', error: 'connect ECONNREFUSED 127.0.0.1:9090' });
    assert.equal(down.code, 'UNAVAILABLE');
    assert.equal(down.message, 'cannot reach Prometheus (ECONNREFUSED)');
    // Found by QA: a proxy's 503 body (an upstream address) and 401s (as GW_BAD_FILTER) reached clients.
    const busy = toStoreError({ status: 'error', httpStatus: 503, error: 'dial tcp 10.0.3.7:9090: connect: connection refused', prometheus: { errorType: 'unavailable', error: 'dial tcp 10.0.3.7:9090' } });
    assert.deepEqual([busy.code, busy.message], ['UNAVAILABLE', 'Prometheus answered HTTP 503 (unavailable)']);
    const denied = toStoreError({ status: 'error', httpStatus: 401, error: 'Unauthorized' });
    assert.equal(denied.code, 'UNAVAILABLE');
    assert.match(denied.message, /refused the gateway's request \(HTTP 401\)/);
    assert.equal(toStoreError(new TypeError("Cannot read properties of undefined (reading '0')")).code, 'BAD_QUERY');
    const same = new StoreError('NOT_FOUND', 'prometheus', 'x');
    assert.equal(toStoreError(same), same);
  });
});

describe('prometheus metric types', () => {
  /** A client over a backend that stores `names` and keeps remote-write metadata `types`; it records the PromQL asked. */
  function client(names: string[], types: Record<string, string>): PrometheusClient & { asked: string[] } {
    const asked: string[] = [];
    const empty = async (_t: string, query: string) => {
      asked.push(query);
      return { resultType: 'matrix', result: [] } as unknown as Awaited<ReturnType<PrometheusClient['range']>>;
    };
    return {
      asked,
      instant: empty,
      range: empty,
      series: async () => [],
      labelNames: async () => [],
      labelValues: async () => names,
      exemplars: async () => [],
      metadataTypes: async (_t, metric) => new Map(Object.entries(types).filter(([n]) => metric === undefined || n === metric)),
      version: async () => '2.42.0',
    };
  }
  const range = { from: 1_700_000_000_000_000_000n, to: 1_700_000_120_000_000_000n };

  test('a gauge named *_total is a gauge when the written metadata says so: SUM adds its values, not its increases', async () => {
    const c = client(['pool_conn_total', 'req_total'], { pool_conn_total: 'gauge' });
    const store = createPrometheusMetricStore(c);
    await store.querySeries('default', { name: 'pool.conn.total', aggregation: 'SUM', range, stepNano: 60_000_000_000n });
    // (Whether it holds native histograms is asked first.)
    const steps = c.asked.filter((q) => !q.includes('histogram_count('));
    assert.ok(steps.length > 0 && steps.every((q) => q.startsWith('sum_over_time(') && !q.includes('resets(')), c.asked.join('\n'));
    const types = Object.fromEntries((await store.metricNames('default')).map((m) => [m.name, m.type]));
    assert.deepEqual(types, { pool_conn_total: 'gauge', req_total: 'sum' });
  });

  test('without metadata (Prometheus keeps none), a name ending in _total is a counter', async () => {
    const store = createPrometheusMetricStore(client(['pool_conn_total'], {}));
    assert.deepEqual((await store.metricNames('default')).map((m) => m.type), ['sum']);
  });
});

describe('prometheus read config', () => {
  test('reading metrics from Prometheus needs its URL', async () => {
    const { loadConfig } = await import('../../../src/config/load.ts');
    assert.throws(() => loadConfig({ env: { TELEQL_METRICS_READ: 'prometheus' } }), /storage\.prometheus\.url: metrics are read from Prometheus/);
    const cfg = loadConfig({ env: { TELEQL_METRICS_READ: 'prometheus', TELEQL_PROMETHEUS_URL: 'http://p:9090' } });
    assert.equal(cfg.storage.read.metrics, 'prometheus');
    assert.equal(cfg.storage.prometheus.url, 'http://p:9090');
    assert.throws(() => loadConfig({ env: {}, overrides: { storage: { read: { metrics: 'mimir' } } } }), /expected one of duckdb\|prometheus/);
  });
});
