// QA round 27, defect 1: one histogram point with a bucket count near 2^64 (a legal fixed64) was
// acknowledged, then failed the DuckDB write of its whole batch, so every tenant's acknowledged
// points in that batch were lost. Now it is refused at decode (partial success) and the rest is stored.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { otlpProto } from '../../src/otlp/proto.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { grpcExport } from '../helpers/otlp-grpc.ts';
import { waitFor } from '../helpers/wait-for.ts';

const NOW = BigInt(Date.now()) * 1_000_000n;

function metricsBody(service: string, metric: Record<string, unknown>): Buffer {
  const type = otlpProto().request.metrics;
  const request = { resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] }, scopeMetrics: [{ metrics: [metric] }] }] };
  return Buffer.from(type.encode(type.fromObject(request)).finish());
}

const point = { startTimeUnixNano: String(NOW - 60_000_000_000n), timeUnixNano: String(NOW) };

describe('a count the store cannot hold exactly', () => {
  let gw: TestGateway;
  // One batch for both tenants' requests: the batch processor waits a second for more.
  before(async () => {
    gw = await startGateway({ processors: { batch: { timeoutMs: 1000 } } });
  });
  after(() => gw.stop());

  test('is refused on its own as partial success, and another tenant\'s point in the same batch is stored', async () => {
    const victim = metricsBody('victim', { name: 'qa.victim', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ ...point, asInt: '42' }] } });
    const res = await fetch(`${gw.otlpHttp}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'x-scope-orgid': 'team-a' }, body: new Uint8Array(victim) });
    assert.equal(res.status, 200);

    const bad = metricsBody('u64', {
      name: 'qa.u64',
      histogram: { aggregationTemporality: 2, dataPoints: [{ ...point, count: '1', sum: 1, bucketCounts: ['18446744073709551615'] }, { ...point, count: '2', sum: 1 }] },
    });
    const answer = await grpcExport(gw.otlpGrpc, 'metrics', bad, { 'x-scope-orgid': 'team-b' });
    assert.equal(answer.code, grpc.status.OK);
    const stored = (tenant: string, name: string) => () =>
      gqlData<{ metricPoints: { asInt: string | null }[] }>(gw.graphqlUrl, `{ metricPoints(name: "${name}", from: "now-10m") { asInt } }`, {}, { 'x-scope-orgid': tenant });
    const a = await waitFor(stored('team-a', 'qa.victim'), (d) => d.metricPoints.length > 0, 'team-a\'s point stored', 5000);
    assert.deepEqual(a.metricPoints, [{ asInt: '42' }]);
    const b = await waitFor(stored('team-b', 'qa.u64'), (d) => d.metricPoints.length > 0, 'team-b\'s good point stored', 5000);
    assert.equal(b.metricPoints.length, 1);
    const response = otlpProto().response.metrics;
    const partial = response.toObject(response.decode(answer.response!), { longs: String }) as { partialSuccess?: { rejectedDataPoints: string; errorMessage: string } };
    assert.equal(partial.partialSuccess?.rejectedDataPoints, '1');
    assert.match(partial.partialSuccess?.errorMessage ?? '', /histogram\.dataPoints\[0\]: bucket_counts must be at most 9007199254740991 .*got 18446744073709551615/);

    const failed = await (await fetch(gw.graphqlUrl.replace('/graphql', '/metrics'))).text();
    assert.doesNotMatch(failed, /teleql_duckdb_failed_batches_total\{[^}]*\} [1-9]/);
  });
});
