import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBackendRegistry, endpointWithoutCredentials, type BackendStatus } from '../../../src/backends/status.ts';

test('backend endpoints are shown without the user and password a URL carries', () => {
  assert.equal(endpointWithoutCredentials('http://esuser:es-pass-123@127.0.0.1:9200'), 'http://127.0.0.1:9200/');
  assert.equal(endpointWithoutCredentials('https://:token@prom:9090/api/v1/write'), 'https://prom:9090/api/v1/write');
  assert.equal(endpointWithoutCredentials('http://jaeger:4318'), 'http://jaeger:4318');
  assert.equal(endpointWithoutCredentials('/var/lib/teleql/store.duckdb'), '/var/lib/teleql/store.duckdb');
  const registry = createBackendRegistry();
  const status = { id: 'elasticsearch/logs', endpoint: 'http://u:p@es:9200' } as BackendStatus;
  registry.add({ backendStatus: () => status });
  assert.equal(registry.statuses()[0]!.endpoint, 'http://es:9200/');
});
