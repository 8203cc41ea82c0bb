import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBatchProcessor, type BatchProcessorConfig } from '../../../ingest/processors/batch/batch-processor.ts';
import { ConsumeError, type Consumer } from '../../../ingest/component.ts';
import { sinkConsumer } from '../../helpers/sink-consumer.ts';
import { deferred } from '../../../ingest/helpers/deferred.ts';
import { silentLogger } from '../../../src/logger.ts';
import { span } from '../../helpers/telemetry-builders.ts';
import type { SpanRecord } from '../../../src/model/telemetry.ts';

const host = { logger: silentLogger(), reportError: () => {} };
const cfg = (over: Partial<BatchProcessorConfig> = {}): BatchProcessorConfig => ({ sendBatchSize: 3, timeoutMs: 20, maxQueuedItems: 100, maxWaitMs: 200, ...over });
const spans = (n: number, from = 0): SpanRecord[] => Array.from({ length: n }, (_, i) => span({ name: `s${from + i}` }));

/** A consumer that holds every batch until the gate opens, to build up a queue. */
function gatedConsumer(): Consumer<'traces'> & { open(): void; received: SpanRecord[][] } {
  const gate = deferred();
  const received: SpanRecord[][] = [];
  return {
    received,
    open: () => gate.resolve(),
    async consume(items) {
      await gate.promise;
      received.push([...items]);
    },
  };
}

describe('batch processor', () => {
  test('sends a full batch at once and keeps the order of items', async () => {
    const sink = sinkConsumer<'traces'>();
    const p = createBatchProcessor('batch/traces', cfg({ timeoutMs: 60_000 }), sink, silentLogger());
    await p.start(host);
    await p.consume(spans(2));
    await p.consume(spans(2, 2));
    await sink.waitForCount(3);
    assert.deepEqual(sink.batches[0]!.map((s) => s.name), ['s0', 's1', 's2']);
    await p.shutdown();
    assert.deepEqual(sink.all().map((s) => s.name), ['s0', 's1', 's2', 's3']);
  });

  test('sends a partial batch when the timeout passes', async () => {
    const sink = sinkConsumer<'traces'>();
    const p = createBatchProcessor('batch/traces', cfg({ sendBatchSize: 1000 }), sink, silentLogger());
    await p.start(host);
    await p.consume(spans(2));
    await sink.waitForCount(2);
    assert.equal(sink.batches.length, 1);
    await p.shutdown();
  });

  test('a short batch waits for its timeout even when a send has just finished', async () => {
    const sink = sinkConsumer<'traces'>();
    const p = createBatchProcessor('batch/traces', cfg({ timeoutMs: 60_000 }), sink, silentLogger());
    await p.start(host);
    await p.consume(spans(3));
    await sink.waitForCount(3);
    await p.consume(spans(2, 3));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(sink.count(), 3, 'two items are not a batch and their timeout has not passed');
    await p.flush();
    assert.deepEqual(sink.batches.map((b) => b.length), [3, 2]);
    await p.shutdown();
  });

  test('shutdown sends everything still queued and then refuses more as retryable', async () => {
    const sink = sinkConsumer<'traces'>();
    const p = createBatchProcessor('batch/traces', cfg({ sendBatchSize: 1000, timeoutMs: 60_000 }), sink, silentLogger());
    await p.start(host);
    await p.consume(spans(5));
    assert.equal(sink.count(), 0);
    await p.shutdown();
    assert.equal(sink.count(), 5);
    await assert.rejects(p.consume(spans(1)), (e: unknown) => e instanceof ConsumeError && !e.permanent);
    await p.shutdown(); // twice is fine
  });

  test('shutdown works when start never ran', async () => {
    const p = createBatchProcessor('batch/traces', cfg(), sinkConsumer<'traces'>(), silentLogger());
    await p.shutdown();
  });

  test('a full queue makes the caller wait for room, then go in', async () => {
    const gated = gatedConsumer();
    const p = createBatchProcessor('batch/traces', cfg({ sendBatchSize: 4, maxQueuedItems: 4, maxWaitMs: 5_000 }), gated, silentLogger());
    await p.start(host);
    await p.consume(spans(4)); // taken by the first send, which waits at the gate
    await p.consume(spans(4, 4)); // queued: the queue is now full
    let done = false;
    const waiting = p.consume(spans(2, 8)).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(done, false, 'the third consume waits while the queue is full');
    gated.open();
    await waiting;
    assert.equal(done, true);
    await p.shutdown();
    assert.deepEqual(gated.received.flat().map((s) => s.name), Array.from({ length: 10 }, (_, i) => `s${i}`));
    assert.equal(p.stats().refused, 0);
  });

  test('a queue that stays full past maxWaitMs refuses as retryable and counts the refusal', async () => {
    const gated = gatedConsumer();
    const p = createBatchProcessor('batch/traces', cfg({ sendBatchSize: 4, maxQueuedItems: 4, maxWaitMs: 30 }), gated, silentLogger());
    await p.start(host);
    await p.consume(spans(4));
    await p.consume(spans(4, 4));
    await assert.rejects(p.consume(spans(1, 8)), (e: unknown) => e instanceof ConsumeError && !e.permanent && /queue is full/.test(e.message));
    assert.equal(p.stats().refused, 1);
    gated.open();
    await p.shutdown();
    assert.equal(gated.received.flat().length, 8, 'what was accepted is still delivered');
  });

  test('an exporter failure is counted and the next batches still go out', async () => {
    const sink = sinkConsumer<'traces'>();
    const p = createBatchProcessor('batch/traces', cfg({ sendBatchSize: 2, timeoutMs: 60_000 }), sink, silentLogger());
    await p.start(host);
    sink.failWith('permanent');
    await p.consume(spans(2));
    await p.flush();
    sink.failWith(null);
    await p.consume(spans(2, 2));
    await p.shutdown();
    assert.deepEqual(sink.all().map((s) => s.name), ['s2', 's3']);
    assert.equal(p.stats().failed, 2);
    const metrics = p.metrics();
    assert.equal(metrics.find((m) => m.name === 'teleql_batch_failed_items_total')?.value, 2);
    assert.deepEqual(metrics[0]!.labels, { component: 'batch/traces' });
  });
});
