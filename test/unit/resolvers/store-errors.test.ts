import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../../src/logger.ts';
import { openDuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { harnessFor } from './harness.ts';
import { TRACE_A } from './telemetry-fixture.ts';

test('a store that cannot answer shows up as GW_BACKEND_UNAVAILABLE naming the backend', async () => {
  const store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
  await store.close();
  const h = harnessFor(store);
  const trace = await h.run(`{ trace(traceId: "${TRACE_A}") { traceId } }`);
  assert.deepEqual(trace.data, { trace: null });
  assert.deepEqual(
    trace.errors!.map((e) => [e.path, e.extensions?.code, e.extensions?.backend]),
    [[['trace'], 'GW_BACKEND_UNAVAILABLE', 'duckdb']],
  );
  for (const query of ['{ spans { nodes { spanId } } }', '{ logs { nodes { id } } }', '{ services }', '{ metrics { name } }']) {
    const result = await h.run(query);
    assert.deepEqual(
      result.errors!.map((e) => e.extensions?.code),
      ['GW_BACKEND_UNAVAILABLE'],
      query,
    );
  }
});

test('a store that breaks the batch contract fails with a message that states the contract', async () => {
  const store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
  try {
    const h = harnessFor({ ...store, traces: { ...store.traces, getTraces: async () => [] } });
    const result = await h.run(`{ trace(traceId: "${TRACE_A}") { traceId } }`);
    assert.equal(result.errors?.length, 1);
    assert.match(result.errors![0]!.message, /TraceStore\.getTraces must return .* one result per key in key order: it was given 1 keys and returned 0/);
    assert.equal(result.errors![0]!.extensions?.code, undefined);
  } finally {
    await store.close();
  }
});
