import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { labelMatchers } from '../../../src/stores/prometheus/metric-store.ts';
import { toStoreError } from '../../../src/stores/prometheus/client.ts';
import { StoreError } from '../../../src/stores/types.ts';

describe('prometheus read store', () => {
  test('label filters with OTel keys become matchers on the names the exporter writes', () => {
    assert.deepEqual(labelMatchers({ 'service.name': 'api', 'service.instance.id': 'pod-1', 'http.route': '/a"b' }), [
      'job=~"(?:.+/)?api"',
      'instance="pod-1"',
      'http_route="/a\\"b"',
    ]);
    assert.deepEqual(labelMatchers({ 'service.namespace': 'shop.eu' }), ['job=~"shop\\\\.eu/.+"']);
    assert.deepEqual(labelMatchers(undefined), []);
  });

  test("Prometheus' 4xx answers are BAD_QUERY with its message; network errors and 5xx are UNAVAILABLE", () => {
    const bad = toStoreError({ status: 'error', errorType: 'http_error', httpStatus: 400, error: 'parse error', prometheus: { errorType: 'bad_data', error: '1:5: parse error: unclosed left parenthesis' } });
    assert.equal(bad.code, 'BAD_QUERY');
    assert.match(bad.message, /unclosed left parenthesis/);
    const exec = toStoreError({ status: 'error', httpStatus: 422, error: 'query processing would load too many samples' });
    assert.equal(exec.code, 'BAD_QUERY');
    const down = toStoreError({ status: 'error', errorType: 'network_error', error: 'connect ECONNREFUSED 127.0.0.1:9090' });
    assert.equal(down.code, 'UNAVAILABLE');
    assert.match(down.message, /ECONNREFUSED/);
    assert.equal(toStoreError({ status: 'error', httpStatus: 503, error: 'busy' }).code, 'UNAVAILABLE');
    assert.equal(toStoreError(new TypeError("Cannot read properties of undefined (reading '0')")).code, 'BAD_QUERY');
    const same = new StoreError('NOT_FOUND', 'prometheus', 'x');
    assert.equal(toStoreError(same), same);
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
