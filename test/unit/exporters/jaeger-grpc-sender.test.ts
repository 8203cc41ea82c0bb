// The Jaeger exporter over OTLP/gRPC against a real grpc-js server on a real socket (QA round 33):
// RESOURCE_EXHAUSTED is retried only with a google.rpc.RetryInfo, whose retry_delay is the least wait
// before the next attempt (D1); tls.insecureSkipVerify skips the whole certificate check (D2); the
// attempt's timeout is the call's deadline (D4); a partial success that only warns is logged, once
// per distinct message (D5).
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { exportServiceDefinition } from '../../../ingest/receivers/otlp/grpc.ts';
import { jaegerExporterFactory, type JaegerExporterConfig } from '../../../ingest/exporters/jaeger/factory.ts';
import { createOtlpSender } from '../../../ingest/exporters/jaeger/otlp-sender.ts';
import type { QueuedExporter } from '../../../ingest/exporters/helpers/index.ts';
import { otlpProto } from '../../../src/otlp/proto.ts';
import { encodeRetryStatus } from '../../../src/otlp/codec.ts';
import { silentLogger } from '../../../src/logger.ts';
import { span, spanId } from '../../helpers/telemetry-builders.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { capturingLogger } from '../../helpers/capturing-logger.ts';
import { fastJaegerConfig } from '../../helpers/jaeger-exporter-config.ts';
import { makePki } from '../../helpers/pki.ts';

interface ReceivedCall {
  /** The deadline the server read from the call's `grpc-timeout` (Infinity without one). */
  deadline: number;
  receivedAt: number;
}

type Answer = { status: grpc.StatusObject } | { partialSuccess: { rejectedSpans: number; errorMessage: string } } | { ok: true };

/** An OTLP/gRPC trace receiver answering each Export as `answer` says, noting every call. */
async function startReceiver(credentials = grpc.ServerCredentials.createInsecure()) {
  const calls: ReceivedCall[] = [];
  let answer: Answer = { ok: true };
  const server = new grpc.Server();
  server.addService(
    exportServiceDefinition('traces'),
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        const d = call.getDeadline();
        calls.push({ deadline: d instanceof Date ? d.getTime() : d, receivedAt: Date.now() });
        if ('status' in answer) return callback(answer.status);
        const type = otlpProto().response.traces;
        const message = 'partialSuccess' in answer ? { partialSuccess: answer.partialSuccess } : {};
        callback(null, Buffer.from(type.encode(type.fromObject(message)).finish()));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))));
  return {
    port,
    calls,
    answer: (a: Answer) => void (answer = a),
    close: () => server.forceShutdown(),
  };
}

/** A gRPC status with a google.rpc.RetryInfo in `grpc-status-details-bin`, as teleql's own receiver sends it. */
function withRetryInfo(code: grpc.status, details: string, retryAfterSeconds: number): grpc.StatusObject {
  const metadata = new grpc.Metadata();
  metadata.set('grpc-status-details-bin', encodeRetryStatus(code, details, retryAfterSeconds));
  return { code, details, metadata };
}

/** The same with a RetryInfo whose retry_delay has nanoseconds (1.5 s). */
function withSubSecondRetryInfo(code: grpc.status): grpc.StatusObject {
  const { status, retryInfo } = otlpProto();
  const detail = retryInfo.encode(retryInfo.fromObject({ retryDelay: { seconds: 1, nanos: 500_000_000 } })).finish();
  const metadata = new grpc.Metadata();
  metadata.set('grpc-status-details-bin', Buffer.from(status.encode(status.fromObject({ code, message: 'slow down', details: [{ type_url: 'type.googleapis.com/google.rpc.RetryInfo', value: detail }] })).finish()));
  return { code, details: 'slow down', metadata };
}

const threeSpans = () => [1, 2, 3].map((i) => span({ spanId: spanId(i) }));

/** One send attempt of the real sender, as the queue makes it. */
async function sendOnce(over: Partial<JaegerExporterConfig>) {
  const sender = createOtlpSender('traces', fastJaegerConfig({ protocol: 'grpc', ...over }), 'jaeger', silentLogger());
  try {
    return await sender.send(threeSpans(), new AbortController().signal);
  } finally {
    await sender.shutdown?.();
  }
}

async function startExporter(over: Partial<JaegerExporterConfig>) {
  const { logger, lines } = capturingLogger();
  const exporter = jaegerExporterFactory.create({ id: 'jaeger/traces', logger }, fastJaegerConfig({ protocol: 'grpc', ...over }), 'traces') as QueuedExporter<'traces'>;
  await exporter.start({ logger: silentLogger(), reportError: () => {} });
  return { exporter, lines };
}

describe('jaeger exporter over gRPC: RESOURCE_EXHAUSTED and RetryInfo (QA round 33 D1)', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    receiver = await startReceiver();
  });
  after(() => receiver.close());
  beforeEach(() => void receiver.calls.splice(0));

  test('RESOURCE_EXHAUSTED without a RetryInfo is refused for good: sent once, the spans counted as failed', async () => {
    receiver.answer({ status: { code: grpc.status.RESOURCE_EXHAUSTED, details: 'message larger than max', metadata: new grpc.Metadata() } });
    const { exporter } = await startExporter({ endpoint: `127.0.0.1:${receiver.port}` });
    try {
      await exporter.consume(threeSpans());
      const status = await waitFor(async () => exporter.backendStatus(), (s) => s.itemsFailed + s.retries > 0, 'the batch settled or retried');
      assert.equal(status.itemsFailed, 3);
      assert.equal(status.retries, 0);
      assert.equal(status.lastError, 'jaeger answered gRPC RESOURCE_EXHAUSTED to OTLP/gRPC Export');
      assert.equal(receiver.calls.length, 1);
    } finally {
      await exporter.shutdown();
    }
  });

  test('RESOURCE_EXHAUSTED with a RetryInfo is retried no sooner than its retry_delay', async () => {
    receiver.answer({ status: withRetryInfo(grpc.status.RESOURCE_EXHAUSTED, 'rate limited', 60) });
    assert.deepEqual(await sendOnce({ endpoint: `127.0.0.1:${receiver.port}` }), {
      kind: 'retryable',
      error: new Error('jaeger answered gRPC RESOURCE_EXHAUSTED to OTLP/gRPC Export'),
      retryAfterMs: 60_000,
    });
    // Through the queue: the wait before the next attempt is the delay, not the 20–50 ms backoff.
    const { exporter, lines } = await startExporter({ endpoint: `127.0.0.1:${receiver.port}` });
    try {
      await exporter.consume(threeSpans());
      const retry = await waitFor(async () => lines.find((l) => l.msg === 'send failed; will retry'), (l) => l !== undefined, 'a retry');
      assert.equal(retry!.retryInMs, 60_000);
      assert.equal(exporter.backendStatus().itemsFailed, 0);
    } finally {
      await exporter.shutdown();
    }
  });

  test('a RetryInfo delay on another retryable code is honoured too, nanoseconds included', async () => {
    receiver.answer({ status: withSubSecondRetryInfo(grpc.status.UNAVAILABLE) });
    const result = await sendOnce({ endpoint: `127.0.0.1:${receiver.port}` });
    assert.deepEqual([result.kind, 'retryAfterMs' in result && result.retryAfterMs], ['retryable', 1_500]);
    receiver.answer({ status: { code: grpc.status.UNAVAILABLE, details: 'down', metadata: new grpc.Metadata() } });
    assert.deepEqual(await sendOnce({ endpoint: `127.0.0.1:${receiver.port}` }), { kind: 'retryable', error: new Error('jaeger answered gRPC UNAVAILABLE to OTLP/gRPC Export') });
  });

  test('a RetryInfo does not make a permanent code retryable', async () => {
    receiver.answer({ status: withRetryInfo(grpc.status.INVALID_ARGUMENT, 'bad span', 5) });
    assert.equal((await sendOnce({ endpoint: `127.0.0.1:${receiver.port}` })).kind, 'failure');
  });
});

describe('jaeger exporter over gRPC: the attempt timeout is the call deadline (QA round 33 D4)', () => {
  test('the receiver sees a deadline of at most timeoutMs from when the call arrived', async () => {
    const receiver = await startReceiver();
    try {
      assert.deepEqual(await sendOnce({ endpoint: `127.0.0.1:${receiver.port}`, timeoutMs: 30_000 }), { kind: 'success' });
      const [call] = receiver.calls;
      assert.ok(Number.isFinite(call!.deadline), 'the call carries grpc-timeout');
      const left = call!.deadline - call!.receivedAt;
      assert.ok(left > 0 && left <= 30_000, `${left} ms left of 30000`);
    } finally {
      receiver.close();
    }
  });
});

describe('jaeger exporter over gRPC: a partial success that only warns (QA round 33 D5)', () => {
  test('is logged once per distinct message; the spans count as written', async () => {
    const receiver = await startReceiver();
    const { exporter, lines } = await startExporter({ endpoint: `127.0.0.1:${receiver.port}` });
    const warnings = () => lines.filter((l) => l.msg === 'jaeger accepted a batch with a warning (partial success; each distinct message is logged once)').map((l) => l.detail);
    try {
      receiver.answer({ partialSuccess: { rejectedSpans: 0, errorMessage: 'attribute values were truncated' } });
      for (const n of [3, 6]) {
        await exporter.consume(threeSpans());
        await waitFor(async () => exporter.backendStatus(), (s) => s.itemsWritten === n, `${n} spans written`);
      }
      assert.deepEqual(warnings(), ['attribute values were truncated'], 'the same message twice, logged once');
      receiver.answer({ partialSuccess: { rejectedSpans: 0, errorMessage: 'deprecated semantic conventions' } });
      await exporter.consume(threeSpans());
      const status = await waitFor(async () => exporter.backendStatus(), (s) => s.itemsWritten === 9, '9 spans written');
      assert.deepEqual(warnings(), ['attribute values were truncated', 'deprecated semantic conventions']);
      assert.deepEqual([status.itemsFailed, status.lastError], [0, null]);
    } finally {
      await exporter.shutdown();
      receiver.close();
    }
  });
});

describe('jaeger exporter over gRPC: tls.insecureSkipVerify (QA round 33 D2)', () => {
  let dir: string;
  let pki: ReturnType<typeof makePki>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'teleql-jaeger-grpc-tls-'));
    pki = makePki(dir);
    // A certificate from a CA the exporter does not trust: only skipping verification reaches it.
    receiver = await startReceiver(grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(pki.file('server.crt')), private_key: readFileSync(pki.file('server.key')) }], false));
  });
  after(() => {
    receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('skips the certificate chain check as over HTTP, so an untrusted certificate is accepted', async () => {
    const tls = { caFile: '', certFile: '', keyFile: '', insecureSkipVerify: true };
    assert.deepEqual(await sendOnce({ endpoint: `https://127.0.0.1:${receiver.port}`, tls }), { kind: 'success' });
    assert.equal(receiver.calls.length, 1);
  });

  test('without it the certificate is checked: the untrusted one is refused, the CA named in caFile trusted', async () => {
    receiver.calls.splice(0);
    const refused = await sendOnce({ endpoint: `https://127.0.0.1:${receiver.port}` });
    assert.equal(refused.kind, 'retryable');
    assert.equal(receiver.calls.length, 0);
    const tls = { caFile: pki.file('ca.crt'), certFile: '', keyFile: '', insecureSkipVerify: false };
    assert.deepEqual(await sendOnce({ endpoint: `https://127.0.0.1:${receiver.port}`, tls }), { kind: 'success' });
  });
});
