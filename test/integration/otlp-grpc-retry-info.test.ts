// QA round 27, defect 3: over OTLP/gRPC a rate-limited export was refused with RESOURCE_EXHAUSTED
// and only a `retry-after` metadata entry. OTLP says RESOURCE_EXHAUSTED is retryable only when the
// status carries a google.rpc.RetryInfo, so the Collector dropped the data. The status now carries
// one (retry_delay = the Retry-After) in grpc-status-details-bin, read here by a grpc-js client.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { otlpProto } from '../../src/otlp/proto.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { spansJson, toProtobuf } from '../helpers/otlp-bodies.ts';
import { grpcExport } from '../helpers/otlp-grpc.ts';

const spans = (n: number) => toProtobuf('traces', spansJson(Array.from({ length: n }, (_, i) => ({ name: `op-${i}` }))));

/** The google.rpc.Status in a gRPC error's trailers, with its RetryInfo details decoded. */
function statusDetails(metadata: grpc.Metadata | undefined) {
  const [bin] = metadata?.get('grpc-status-details-bin') ?? [];
  assert.ok(Buffer.isBuffer(bin), 'grpc-status-details-bin is in the trailers');
  const { status, retryInfo } = otlpProto();
  const s = status.toObject(status.decode(bin), { longs: Number, defaults: true }) as { code: number; message: string; details: { type_url: string; value: Buffer }[] };
  return {
    code: s.code,
    message: s.message,
    details: s.details.map((d) => ({ typeUrl: d.type_url, ...(retryInfo.toObject(retryInfo.decode(d.value), { longs: Number, defaults: true }) as { retryDelay: { seconds: number; nanos: number } }) })),
  };
}

describe('OTLP/gRPC rate-limit refusals', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ limits: { ingest: { itemsPerSecond: 1, bytesPerSecond: 0 } } });
  });
  after(() => gw.stop());

  test('RESOURCE_EXHAUSTED carries a google.rpc.RetryInfo whose retry_delay is the Retry-After', async () => {
    // Admitted on the budget, 60 spans at 1 item/s leave the tenant owing ~60 s.
    assert.equal((await grpcExport(gw.otlpGrpc, 'traces', spans(60), { 'x-scope-orgid': 'flood' })).code, grpc.status.OK);
    const refused = await grpcExport(gw.otlpGrpc, 'traces', spans(1), { 'x-scope-orgid': 'flood' });
    assert.equal(refused.code, grpc.status.RESOURCE_EXHAUSTED);
    const retryAfter = Number(refused.metadata?.get('retry-after')[0]);
    assert.ok(retryAfter >= 30, `retry-after ${retryAfter}`);
    const status = statusDetails(refused.metadata);
    assert.equal(status.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(status.message, refused.details);
    assert.deepEqual(status.details, [{ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: { seconds: retryAfter, nanos: 0 } }]);
  });
});
