import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBackendRegistry, type BackendStatus } from '../../../src/backends/status.ts';

test('backend endpoints are shown without the user and password a URL carries', () => {
  const registry = createBackendRegistry();
  const status = { id: 'elasticsearch/logs', endpoint: 'http://u:p@es:9200' } as BackendStatus;
  registry.add({ backendStatus: () => status });
  assert.equal(registry.statuses()[0]!.endpoint, 'http://es:9200/');
});
