import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changedSettings } from '../../../src/config/changed-settings.ts';

test('changed settings are named by key path: a list as one value, a section on one side only once, never a value', () => {
  const before = { graphql: { port: 4000, host: '127.0.0.1' }, auth: { jwt: { secret: 'old-secret' } }, pipelines: { traces: { exporters: ['duckdb'] } }, exporters: {} };
  const after = { graphql: { port: 4001, host: '127.0.0.1' }, auth: { jwt: { secret: 'new-secret' } }, pipelines: { traces: { exporters: ['duckdb', 'jaeger'] } }, exporters: { jaeger: { endpoint: 'http://j:4318' } } };
  const changed = changedSettings(before, after);
  assert.deepEqual(changed, ['graphql.port', 'auth.jwt.secret', 'pipelines.traces.exporters', 'exporters.jaeger']);
  assert.doesNotMatch(changed.join(' '), /secret'|new-secret/);
  assert.deepEqual(changedSettings(before, structuredClone(before)), []);
});
