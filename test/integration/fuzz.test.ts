// A short fuzz round inside `npm test` (the long one is `npm run fuzz`): mutated OTLP and GraphQL
// input (live tails over graphql-ws too) must only ever be refused cleanly, and the gateway must
// keep its data and keep serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../helpers/gateway.ts';
import { FUZZED_GATEWAY_CONFIG, runFuzz } from '../../scripts/fuzz.ts';

test('480 mutated OTLP (protobuf, JSON, compressed bodies; HTTP, gRPC), GraphQL and graphql-ws requests: no crash, no hang, clean refusals, data intact', { timeout: 300_000 }, async () => {
  const gw = await startGateway(FUZZED_GATEWAY_CONFIG);
  try {
    const report = await runFuzz(gw, { iterations: 480, seed: 7 });
    assert.deepEqual(report.failures, []);
    assert.equal(report.requests, 480);
    assert.deepEqual(Object.values(report.byKind), [80, 80, 80, 80, 80, 80]);
    // Memory: 480 requests must not keep their bodies alive (a loose bound; the bench measures it).
    assert.ok(report.heapGrowthMb < 256, `heap grew by ${report.heapGrowthMb} MB`);
  } finally {
    await gw.stop();
  }
});
