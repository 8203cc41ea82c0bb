// A batch the OTLP encoder cannot write (QA round 27, defect 2: a value nested deeper than
// protobufjs allowed) fails the same way on every try. The queued exporter used to treat the error as
// retryable, so the Jaeger exporter retried that batch for ever, taking every tenant's new spans into
// it, and its spill could not take it either. Now an encode error is permanent for its batch: counted
// as failed, dropped, logged, and what comes after is delivered.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jaegerExporterFactory, type JaegerExporterConfig } from '../../../ingest/exporters/jaeger/factory.ts';
import type { QueuedExporter } from '../../../ingest/exporters/helpers/index.ts';
import { decodeRequest } from '../../../src/otlp/codec.ts';
import type { AnyValue, SpanRecord } from '../../../src/model/telemetry.ts';
import { silentLogger } from '../../../src/logger.ts';
import { startFixtureServer, type FixtureServer } from '../../helpers/fixture-server.ts';
import { span, spanId } from '../../helpers/telemetry-builders.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { capturingLogger } from '../../helpers/capturing-logger.ts';
import { fastJaegerConfig } from '../../helpers/jaeger-exporter-config.ts';

/** A value no OTLP receiver would pass on (far deeper than 64 levels) but a processor could build: protobufjs refuses to encode it. */
function unencodable(): SpanRecord {
  let value: AnyValue = { stringValue: 'bottom' };
  for (let i = 0; i < 300; i++) value = { kvlistValue: { values: [{ key: 'k', value }] } };
  return span({ spanId: spanId(99), tenant: 'team-b', attributes: [{ key: 'deep', value }] });
}

const good = (n: number) => span({ spanId: spanId(n), tenant: 'team-a' });

const config = (over: Partial<JaegerExporterConfig>) => fastJaegerConfig({ shutdownTimeoutMs: 200, ...over });

describe('an exporter that cannot encode a batch', () => {
  let fixture: FixtureServer;
  let dir: string;
  before(async () => {
    fixture = await startFixtureServer();
    dir = await mkdtemp(join(tmpdir(), 'teleql-encode-'));
  });
  after(async () => {
    await fixture.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Span IDs of every span the fixture Jaeger received. */
  const received = () => fixture.requests.flatMap((r) => decodeRequest('traces', r.body, 'protobuf', 'x').items.map((s) => s.spanId));

  test('drops that batch as failed, logs why, does not retry it, and delivers the next batch', async () => {
    fixture.clearRequests();
    fixture.setRoutes([{ method: 'POST', path: '/v1/traces', status: 200 }]);
    const { logger, lines } = capturingLogger();
    const exporter = jaegerExporterFactory.create({ id: 'jaeger', logger }, config({ endpoint: fixture.url }), 'traces') as QueuedExporter<'traces'>;
    await exporter.start({ logger: silentLogger(), reportError: () => {} });
    try {
      await exporter.consume([unencodable(), good(1)]);
      await waitFor(async () => exporter.stats(), (s) => s.failed === 2, 'the batch counted as failed', 3000);
      await exporter.consume([good(2)]);
      await waitFor(async () => exporter.stats(), (s) => s.sent === 1, 'the next batch delivered', 3000);
      assert.deepEqual(received(), [spanId(2)]);
      const s = exporter.stats();
      assert.equal(s.retries, 0, 'an encode error is not retried');
      assert.match(s.lastError ?? '', /cannot encode an OTLP ExportTraceServiceRequest of 1 items: max depth exceeded/);
      const logged = lines.find((l) => l.msg === 'could not encode a batch (it would fail on every retry); dropped');
      assert.equal(logged?.items, 2, 'the whole batch, as for other permanent refusals');
      assert.equal(logged?.level, 50, 'logged as an error');
    } finally {
      await exporter.shutdown();
    }
  });

  test('while the backend is down, the spill drops the batch it cannot encode and keeps the others', async () => {
    fixture.clearRequests();
    fixture.setRoutes([{ method: 'POST', path: '/v1/traces', status: 503 }]);
    const spill = { enabled: true, directory: dir, maxBytes: 10_000_000 };
    const exporter = jaegerExporterFactory.create({ id: 'jaeger/spill', logger: silentLogger() }, config({ endpoint: fixture.url, spill }), 'traces') as QueuedExporter<'traces'>;
    await exporter.start({ logger: silentLogger(), reportError: () => {} });
    try {
      await exporter.consume([good(1)]);
      await waitFor(async () => exporter.stats(), (s) => s.retries > 0, 'the backend failing', 3000);
      await exporter.consume([unencodable()]);
      await waitFor(async () => exporter.stats(), (s) => s.failed === 1, 'the unencodable batch counted as failed', 3000);
      await exporter.consume([good(2)]);
      await waitFor(async () => exporter.stats(), (s) => s.spilled === 2, 'the good spans spilled', 3000);
      fixture.setRoutes([{ method: 'POST', path: '/v1/traces', status: 200 }]);
      await waitFor(async () => exporter.stats(), (s) => s.sent === 2 && s.queued === 0, 'the spill delivered', 5000);
      assert.deepEqual(new Set(received()), new Set([spanId(1), spanId(2)]));
      assert.equal(exporter.stats().failed, 1);
    } finally {
      await exporter.shutdown();
    }
  });
});
