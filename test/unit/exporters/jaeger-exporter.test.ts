// What the Jaeger exporter tells admins (`backends.lastError`) when Jaeger's OTLP receiver refuses
// or cannot be reached: the backend, the call and the status only. What the receiver wrote (an HTTP
// body, gRPC details, a partial-success message: they can echo span data or the receiver's own
// upstream addresses) and the address a connection failed on go to the component log instead.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { exportServiceDefinition } from '../../../ingest/receivers/otlp/grpc.ts';
import { jaegerExporterFactory, defaultJaegerExporterConfig, type JaegerExporterConfig } from '../../../ingest/exporters/jaeger/factory.ts';
import type { QueuedExporter } from '../../../ingest/exporters/helpers/index.ts';
import { otlpProto } from '../../../src/otlp/proto.ts';
import { exportRequests } from '../../../ingest/exporters/jaeger/otlp-sender.ts';
import { decodeRequest } from '../../../src/otlp/codec.ts';
import { silentLogger } from '../../../src/logger.ts';
import { closedPort, startFixtureServer, type FixtureServer } from '../../helpers/fixture-server.ts';
import { span, spanId } from '../../helpers/telemetry-builders.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { capturingLogger } from '../../helpers/capturing-logger.ts';
import { fastJaegerConfig } from '../../helpers/jaeger-exporter-config.ts';

/** What an upstream may write into an error: span data and its storage's internal address. */
const ECHO = 'span "checkout for alice@example.com" refused: dial tcp 10.0.3.7:9200: connection refused';

const config = fastJaegerConfig;

/**
 * Starts the exporter, hands it three spans, and waits until the backend status has an error.
 * Returns that error and the log lines written by then.
 */
async function lastErrorOf(over: Partial<JaegerExporterConfig>): Promise<{ lastError: string; lines: Record<string, unknown>[]; failed: number }> {
  const { logger, lines } = capturingLogger();
  const exporter = jaegerExporterFactory.create({ id: 'jaeger', logger }, config(over), 'traces') as QueuedExporter<'traces'>;
  await exporter.start({ logger: silentLogger(), reportError: () => {} });
  try {
    await exporter.consume([1, 2, 3].map((i) => span({ spanId: spanId(i) })));
    const status = await waitFor(async () => exporter.backendStatus(), (s) => s.lastError !== null, 'an error in the backend status');
    return { lastError: status.lastError!, lines, failed: status.itemsFailed };
  } finally {
    await exporter.shutdown();
  }
}

function assertNothingEchoed(lastError: string): void {
  for (const leak of ['alice@example.com', '10.0.3.7', 'checkout', '127.0.0.1']) assert.ok(!lastError.includes(leak), `"${leak}" in ${lastError}`);
}

describe('jaeger exporter: lastError names the backend, the call and the status', () => {
  let fixture: FixtureServer;
  before(async () => {
    fixture = await startFixtureServer();
  });
  after(() => fixture.close());

  test('an HTTP 400 with a body: lastError has the status, the log has the body', async () => {
    fixture.setRoutes([{ method: 'POST', path: '/v1/traces', status: 400, headers: { 'content-type': 'text/plain' }, body: ECHO }]);
    const { lastError, lines, failed } = await lastErrorOf({ endpoint: fixture.url });
    assert.equal(lastError, 'jaeger answered HTTP 400 to OTLP/HTTP Export');
    assert.equal(failed, 3, 'a 400 is refused for good');
    const logged = lines.find((l) => l.msg === 'jaeger export failed');
    assert.deepEqual([logged?.call, logged?.status, logged?.detail], ['OTLP/HTTP Export', 400, ECHO]);
  });

  test('an HTTP 400 with a protobuf google.rpc.Status: the log has its code and message, not its bytes', async () => {
    // What an OTLP/HTTP receiver sends for a refused protobuf request: a google.rpc.Status encoded from
    // the project's status.proto, with a detail (an Any) as a collector's may carry.
    const type = otlpProto().status;
    const detail = { type_url: 'type.googleapis.com/google.rpc.ErrorInfo', value: Buffer.from('\x0a\x0bbad_span_id') };
    const body = Buffer.from(type.encode(type.fromObject({ code: grpc.status.INVALID_ARGUMENT, message: ECHO, details: [detail] })).finish());
    fixture.setRoutes([{ method: 'POST', path: '/v1/traces', status: 400, headers: { 'content-type': 'application/x-protobuf' }, body }]);
    const { lastError, lines } = await lastErrorOf({ endpoint: fixture.url });
    assert.equal(lastError, 'jaeger answered HTTP 400 to OTLP/HTTP Export');
    assertNothingEchoed(lastError);
    const logged = lines.find((l) => l.msg === 'jaeger export failed');
    assert.deepEqual([logged?.call, logged?.status, logged?.detail], ['OTLP/HTTP Export', 400, `code 3 (INVALID_ARGUMENT): ${ECHO}`]);
  });

  test('a protobuf-typed body that is not a Status is logged as text', async () => {
    fixture.setRoutes([{ method: 'POST', path: '/v1/traces', status: 502, headers: { 'content-type': 'application/x-protobuf' }, body: '\xff\xff upstream down' }]);
    const { lines } = await lastErrorOf({ endpoint: fixture.url });
    assert.equal(lines.find((l) => l.msg === 'jaeger export failed')?.detail, '\xff\xff upstream down');
  });

  test('an HTTP 503 with a body (retried): the same, without the body', async () => {
    fixture.setRoutes([{ method: 'POST', path: '/v1/traces', status: 503, headers: { 'retry-after': '0' }, body: ECHO }]);
    const { lastError, lines } = await lastErrorOf({ endpoint: fixture.url });
    assert.equal(lastError, 'jaeger answered HTTP 503 to OTLP/HTTP Export');
    assert.equal(lines.find((l) => l.msg === 'jaeger export failed')?.detail, ECHO);
  });

  test('a partial success: how many spans were rejected, not the receiver message', async () => {
    const type = otlpProto().response.traces;
    const body = Buffer.from(type.encode(type.fromObject({ partialSuccess: { rejectedSpans: 2, errorMessage: ECHO } })).finish());
    fixture.setRoutes([{ method: 'POST', path: '/v1/traces', status: 200, headers: { 'content-type': 'application/x-protobuf' }, body }]);
    const { lastError, lines, failed } = await lastErrorOf({ endpoint: fixture.url });
    assert.equal(lastError, 'jaeger rejected 2 of 3 items (partial success to OTLP/HTTP Export)');
    assert.equal(failed, 2);
    const logged = lines.find((l) => l.msg === 'jaeger rejected part of a batch');
    assert.deepEqual([logged?.rejected, logged?.detail], [2, ECHO]);
  });

  test('a refused connection: the network code, not the address; the log has the address', async () => {
    const port = await closedPort();
    const { lastError, lines } = await lastErrorOf({ endpoint: `http://127.0.0.1:${port}` });
    assert.equal(lastError, 'cannot reach jaeger (ECONNREFUSED) for OTLP/HTTP Export');
    assertNothingEchoed(lastError);
    assert.match(String(lines.find((l) => l.msg === 'jaeger export failed')?.detail), new RegExp(`127\\.0\\.0\\.1:${port}`));
  });

  test('over gRPC: a status with details, and a refused connection', async () => {
    const server = new grpc.Server();
    server.addService(
      exportServiceDefinition('traces'),
      { Export: (_call: unknown, callback: grpc.sendUnaryData<Buffer>) => callback({ code: grpc.status.INVALID_ARGUMENT, details: ECHO }) },
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    try {
      const refused = await lastErrorOf({ protocol: 'grpc', endpoint: `127.0.0.1:${port}` });
      assert.equal(refused.lastError, 'jaeger answered gRPC INVALID_ARGUMENT to OTLP/gRPC Export');
      assertNothingEchoed(refused.lastError);
      const logged = refused.lines.find((l) => l.msg === 'jaeger export failed');
      assert.deepEqual([logged?.call, logged?.status, logged?.detail], ['OTLP/gRPC Export', 'INVALID_ARGUMENT', ECHO]);
    } finally {
      server.forceShutdown();
    }
    const closed = await closedPort();
    const down = await lastErrorOf({ protocol: 'grpc', endpoint: `127.0.0.1:${closed}` });
    assert.equal(down.lastError, 'cannot reach jaeger (ECONNREFUSED) for OTLP/gRPC Export');
    assert.match(String(down.lines.find((l) => l.msg === 'jaeger export failed')?.detail), new RegExp(`127\\.0\\.0\\.1:${closed}`));
  });
});

describe('jaeger exporter: Export requests under maxRequestBytes', () => {
  test('a batch of two tenants is cut into requests each under the limit, every span in exactly one, tenants apart', () => {
    const items = Array.from({ length: 300 }, (_, i) =>
      span({ tenant: i % 3 ? 'a' : 'b', spanId: spanId(i + 1), attributes: [{ key: 'pad', value: { stringValue: `${i}-${'x'.repeat(1_000)}` } }] }),
    );
    const { requests, oversize } = exportRequests('traces', items, 65_536);
    assert.equal(oversize, 0);
    assert.ok(requests.length >= 5, `${requests.length} requests`);
    const seen: string[] = [];
    for (const r of requests) {
      assert.ok(r.body.length <= 65_536, `${r.body.length} bytes`);
      const spans = decodeRequest('traces', Buffer.from(r.body), 'protobuf', r.tenant).items;
      assert.ok(spans.every((s) => s.tenant === r.tenant));
      seen.push(...spans.map((s) => `${r.tenant}/${s.spanId}`));
    }
    assert.deepEqual(seen.sort(), items.map((s) => `${s.tenant}/${s.spanId}`).sort());
  });

  test('a span larger than the limit alone is left out and counted; the rest still go', () => {
    const items = [span({ spanId: spanId(1) }), span({ spanId: spanId(2), attributes: [{ key: 'pad', value: { stringValue: 'x'.repeat(100_000) } }] }), span({ spanId: spanId(3) })];
    const { requests, oversize } = exportRequests('traces', items, 65_536);
    assert.equal(oversize, 1);
    assert.deepEqual(requests.flatMap((r) => decodeRequest('traces', Buffer.from(r.body), 'protobuf', r.tenant).items.map((s) => s.spanId)), [spanId(1), spanId(3)]);
  });

  test('an exporter without an endpoint is refused, naming it: the usual localhost:4318 is the gateway itself (QA round 38e: spans looped for ever)', () => {
    assert.throws(() => jaegerExporterFactory.create({ id: 'jaeger/traces', logger: silentLogger() } as never, defaultJaegerExporterConfig(), 'traces'), /endpoint: required: Jaeger's OTLP endpoint/);
  });

  test('maxRequestBytes under 64 KiB is refused, naming the setting', () => {
    assert.throws(
      () => jaegerExporterFactory.create({ id: 'jaeger/traces', logger: silentLogger() } as never, { ...defaultJaegerExporterConfig(), endpoint: 'http://jaeger:4318', maxRequestBytes: 1_000 }, 'traces'),
      /maxRequestBytes: expected an integer of at least 65536 \(actual: 1000\)/,
    );
  });
});

describe('jaeger exporter: a batch in several Export requests (QA round 32 D3)', () => {
  let fixture: FixtureServer;
  before(async () => {
    fixture = await startFixtureServer();
  });
  after(() => fixture.close());

  /** 100 spans of ~1.6 KB: three Export requests under 64 KiB. */
  const bigSpans = () => Array.from({ length: 100 }, (_, i) => span({ spanId: spanId(i + 1), attributes: [{ key: 'pad', value: { stringValue: `${i}-${'x'.repeat(1_600)}` } }] }));
  const spansIn = (body: Buffer) => decodeRequest('traces', body, 'protobuf', 'default').items.map((s) => s.spanId);

  async function run(second: { status: number; times: number }): Promise<QueuedExporter<'traces'>> {
    let n = 0;
    fixture.clearRequests();
    fixture.setRoutes([{ method: 'POST', path: '/v1/traces', respond: () => (++n === 2 && n <= 1 + second.times ? { status: second.status } : { status: 200 }) }]);
    const exporter = jaegerExporterFactory.create({ id: 'jaeger', logger: silentLogger() }, config({ endpoint: fixture.url, maxRequestBytes: 65_536, batch: { maxItems: 100, flushIntervalMs: 5 } }), 'traces') as QueuedExporter<'traces'>;
    await exporter.start({ logger: silentLogger(), reportError: () => {} });
    await exporter.consume(bigSpans());
    await waitFor(async () => exporter.stats(), (s) => s.sent + s.failed === 100, 'every span settled');
    await exporter.shutdown();
    return exporter;
  }

  test('one request refused for good (400) fails its own spans only; the requests after it are still sent', async () => {
    const exporter = await run({ status: 400, times: 1 });
    const bodies = fixture.requests.map((r) => spansIn(r.body));
    assert.equal(bodies.length, 3, 'the third request was sent');
    assert.deepEqual(bodies.flat().sort(), bigSpans().map((s) => s.spanId).sort(), 'every span went out once');
    const { sent, failed, lastError } = exporter.stats();
    assert.deepEqual({ sent, failed }, { sent: 100 - bodies[1]!.length, failed: bodies[1]!.length });
    assert.equal(lastError, 'jaeger answered HTTP 400 to OTLP/HTTP Export');
  });

  test('one request to retry (503) is resent with those after it, not with those already accepted', async () => {
    const exporter = await run({ status: 503, times: 1 });
    const bodies = fixture.requests.map((r) => spansIn(r.body));
    const accepted = [bodies[0]!, ...bodies.slice(2)].flat();
    assert.deepEqual(accepted.sort(), bigSpans().map((s) => s.spanId).sort(), 'every span accepted exactly once');
    assert.deepEqual({ sent: exporter.stats().sent, failed: exporter.stats().failed }, { sent: 100, failed: 0 });
  });
});
