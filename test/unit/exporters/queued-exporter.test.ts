import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createQueuedExporter, backoffMs, defaultQueueSettings, parseRetryAfter, httpResult, type QueueSettings, type SendResult, type Sender } from '../../../ingest/exporters/helpers/index.ts';
import type { SpanRecord } from '../../../src/model/telemetry.ts';
import { silentLogger } from '../../../src/logger.ts';
import { deferred } from '../../../ingest/helpers/deferred.ts';
import { resource, span, spanId } from '../../helpers/telemetry-builders.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { openSpill } from '../../../ingest/exporters/helpers/spill.ts';
import { SPILL_ROW_BYTES } from '../../../ingest/exporters/helpers/queued-exporter.ts';
import { encodeByTenant } from '../../../src/otlp/encode.ts';

const host = { logger: silentLogger(), reportError: () => {} };

/** A backend the test switches between up, down (retryable), refusing (failure) and hanging. */
function testSender() {
  const received: string[][] = [];
  let mode: 'up' | 'down' | 'refuse' | 'hang' = 'up';
  let retryAfterMs: number | undefined;
  let attempts = 0;
  const aborted: string[] = [];
  const sender: Sender<'traces'> = {
    endpoint: 'test://backend',
    async send(items, signal): Promise<SendResult<'traces'>> {
      attempts++;
      if (mode === 'down') return { kind: 'retryable', error: new Error('backend down'), ...(retryAfterMs !== undefined && { retryAfterMs }) };
      if (mode === 'refuse') return { kind: 'failure', error: new Error('bad data') };
      if (mode === 'hang') {
        // Ignores the abort signal on purpose: the exporter must not wait on it anyway.
        signal.addEventListener('abort', () => aborted.push(String(signal.reason)));
        return new Promise(() => {});
      }
      received.push(items.map((s) => s.spanId));
      return { kind: 'success' };
    },
  };
  return {
    sender,
    received,
    aborted,
    set: (m: typeof mode, after?: number) => {
      mode = m;
      retryAfterMs = after;
    },
    attempts: () => attempts,
  };
}

function spans(from: number, n: number): SpanRecord[] {
  return Array.from({ length: n }, (_, i) => span({ spanId: spanId(from + i) }));
}

function ids(from: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => spanId(from + i));
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'teleql-queue-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function settings(over: Partial<QueueSettings> = {}): QueueSettings {
  const d = defaultQueueSettings();
  return {
    ...d,
    batch: { maxItems: 4, flushIntervalMs: 5 },
    retry: { ...d.retry, initialIntervalMs: 5, maxIntervalMs: 20 },
    spill: { enabled: true, directory: dir, maxBytes: 10_000_000 },
    timeoutMs: 2_000,
    ...over,
  };
}

describe('queued exporter', () => {
  test('delivers every item in order, in batches of batch.maxItems, and counts them', async () => {
    const b = testSender();
    const ex = createQueuedExporter({ id: 'test/traces', kind: 'test', signal: 'traces', sender: b.sender, settings: settings(), logger: silentLogger() });
    await ex.start(host);
    await ex.consume(spans(1, 6));
    await ex.consume(spans(7, 3));
    await ex.drained();
    assert.deepEqual(b.received.flat(), ids(1, 9));
    assert.ok(b.received.every((batch) => batch.length <= 4));
    const st = ex.backendStatus();
    assert.equal(st.itemsWritten, 9);
    assert.equal(st.queueDepth, 0);
    assert.equal(st.healthy, true);
    assert.deepEqual(st.roles, ['WRITE']);
    await ex.shutdown();
    await ex.shutdown(); // twice is fine
  });

  test('consume returns while the backend hangs; the attempt is cut at timeoutMs and retried', async () => {
    const b = testSender();
    b.set('hang');
    const ex = createQueuedExporter({ id: 'hang/traces', kind: 'test', signal: 'traces', sender: b.sender, settings: settings({ timeoutMs: 50 }), logger: silentLogger() });
    await ex.start(host);
    await ex.consume(spans(1, 2)); // resolves although the backend never answers
    await waitFor(async () => b.aborted.length, (n) => n >= 2, 'two timed-out attempts');
    assert.match(b.aborted[0]!, /timed out after 50 ms/);
    assert.equal(ex.stats().healthy, false);
    assert.match(ex.stats().lastError ?? '', /timed out/);
    b.set('up');
    await waitFor(async () => b.received.flat(), (r) => r.length === 2, 'delivery once the backend answers');
    assert.deepEqual(b.received.flat(), ids(1, 2));
    assert.ok(ex.stats().retries >= 2);
    await ex.shutdown();
  });

  test('a permanent failure drops the batch and counts it as failed', async () => {
    const b = testSender();
    b.set('refuse');
    const ex = createQueuedExporter({ id: 'refuse/traces', kind: 'test', signal: 'traces', sender: b.sender, settings: settings(), logger: silentLogger() });
    await ex.start(host);
    await ex.consume(spans(1, 3));
    await waitFor(async () => ex.stats().failed, (n) => n === 3, 'the failure counted');
    assert.equal(ex.stats().healthy, false, 'a backend refusing everything is not healthy');
    assert.equal(ex.stats().retries, 0, 'a permanent failure is not retried');
    b.set('up');
    await ex.consume(spans(4, 1));
    await ex.drained();
    assert.deepEqual(b.received.flat(), ids(4, 1));
    assert.equal(ex.backendStatus().itemsFailed, 3);
    assert.equal(ex.backendStatus().lastError, 'bad data');
    assert.equal(ex.backendStatus().healthy, true, 'healthy again after a batch is written');
    await ex.shutdown();
  });

  test('a partial result resends only the retry items and counts the rest', async () => {
    const seen: string[][] = [];
    let first = true;
    const sender: Sender<'traces'> = {
      async send(items) {
        seen.push(items.map((s) => s.spanId));
        if (first) {
          first = false;
          // item 0 written, item 1 refused for good, items 2 and 3 to retry
          return { kind: 'partial', retry: [items[2]!, items[3]!], failed: 1, error: new Error('2 throttled, 1 rejected') };
        }
        return { kind: 'success' };
      },
    };
    const ex = createQueuedExporter({ id: 'partial/traces', kind: 'test', signal: 'traces', sender, settings: settings(), logger: silentLogger() });
    await ex.start(host);
    await ex.consume(spans(1, 4));
    await waitFor(async () => ex.stats().sent, (n) => n === 3, 'the retried items written');
    assert.deepEqual(seen, [ids(1, 4), ids(3, 2)]);
    assert.equal(ex.stats().failed, 1);
    await ex.shutdown();
  });

  // Soak QA, session 32: with a few items of every _bulk throttled, each partial answer counted as
  // one more failure in a row, so the backoff grew to its cap and maxElapsedMs gave up items retried
  // for 2 s while every request wrote most of its items.
  test('a partial answer that settled some items is progress: the backoff starts again and maxElapsedMs counts from it', async () => {
    const failedOnce = new Set<string>();
    const written: string[] = [];
    const sender: Sender<'traces'> = {
      async send(items) {
        // The last item of each attempt is throttled the first time it is sent, the rest written.
        const last = items[items.length - 1]!;
        const throttled = !failedOnce.has(last.spanId) ? (failedOnce.add(last.spanId), last) : undefined;
        written.push(...items.filter((s) => s !== throttled).map((s) => s.spanId));
        return throttled ? { kind: 'partial', retry: [throttled], failed: 0, error: new Error('1 throttled') } : { kind: 'success' };
      },
    };
    // A second failure in a row would wait 5 s, and a third be past maxElapsedMs.
    const retry = { initialIntervalMs: 5, multiplier: 1000, maxIntervalMs: 60_000, randomizationFactor: 0, maxElapsedMs: 1000 };
    const ex = createQueuedExporter({ id: 'progress/traces', kind: 'test', signal: 'traces', sender, settings: settings({ retry }), logger: silentLogger() });
    await ex.start(host);
    await ex.consume(spans(1, 40));
    await waitFor(async () => ex.stats().sent, (n) => n === 40, 'every item written', 4000);
    assert.equal(ex.stats().failed, 0, 'nothing given up');
    assert.deepEqual([...written].sort(), ids(1, 40).sort());
    await ex.shutdown();
  });

  // Review, session 35: a split _bulk batch that stopped at a request refused whole (429) came back
  // partial, and was taken for progress: the backoff started again at its first step against a
  // backend shedding load.
  test('a partial answer that says the backend is down is no progress: the backoff grows', async () => {
    const attempts: number[] = [];
    const sender: Sender<'traces'> = {
      async send(items) {
        attempts.push(performance.now());
        // Every attempt writes its first item and leaves the rest: the backend refused the rest whole.
        if (items.length === 1) return { kind: 'success' };
        return { kind: 'partial', retry: items.slice(1), failed: 0, error: new Error('HTTP 429'), backendDown: true };
      },
    };
    const retry = { initialIntervalMs: 50, multiplier: 4, maxIntervalMs: 60_000, randomizationFactor: 0, maxElapsedMs: 0 };
    const ex = createQueuedExporter({ id: 'down-partial/traces', kind: 'test', signal: 'traces', sender, settings: settings({ retry }), logger: silentLogger() });
    await ex.start(host);
    await ex.consume(spans(1, 4));
    await waitFor(async () => ex.stats().sent, (n) => n === 4, 'every item written', 8000);
    await ex.shutdown();
    // Waits 50, 200, 800 ms: growing. Taken for progress, each would be the first step (50 ms).
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    assert.equal(gaps.length, 3);
    assert.ok(gaps[2]! >= 700, `the third wait is the third backoff step: ${gaps.map(Math.round).join(', ')} ms`);
  });

  // Long-run QA, session 33: after a partial answer the exporter counted the backend as failing and
  // sent the whole stream through the spill (twice the CPU, megabytes of disk writes) though every
  // request wrote most of its items.
  test('after a partial answer that wrote some items, new items wait in memory, not in the spill', async () => {
    const failedOnce = new Set<string>();
    let attempts = 0;
    const sender: Sender<'traces'> = {
      async send(items) {
        attempts++;
        const last = items[items.length - 1]!;
        const throttled = !failedOnce.has(last.spanId) ? (failedOnce.add(last.spanId), last) : undefined;
        return throttled ? { kind: 'partial', retry: [throttled], failed: 0, error: new Error('1 throttled') } : { kind: 'success' };
      },
    };
    // The retry waits 300 ms: items that arrive meanwhile show where they are kept.
    const retry = { initialIntervalMs: 300, multiplier: 1, maxIntervalMs: 300, randomizationFactor: 0, maxElapsedMs: 0 };
    const ex = createQueuedExporter({ id: 'partial-memory/traces', kind: 'test', signal: 'traces', sender, settings: settings({ retry }), logger: silentLogger() });
    await ex.start(host);
    await ex.consume(spans(1, 4));
    await waitFor(async () => attempts, (n) => n >= 1, 'the first (partial) answer');
    await ex.consume(spans(5, 4));
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The throttled item waits at the spill's head for its retry (as any retried batch); the new ones in memory.
    assert.equal(ex.stats().spilled, 1, 'only the item to resend is in the spill while the backend writes');
    await waitFor(async () => ex.stats().sent, (n) => n === 8, 'every item written', 5000);
    await ex.shutdown();
  });

  test('retry keys travel with their items through the spill, also when the OTLP encoding regroups them (QA round 32 D1)', async () => {
    // Interleaved resources and tenants: the encoder groups a part by resource, so the spilled
    // items decode in another order than they went in; each must still get its own key back.
    const [a, b] = [resource('a'), resource('b')];
    const items = Array.from({ length: 6 }, (_, i) => span({ spanId: spanId(i + 1), resource: i % 2 ? b : a, tenant: i < 4 ? 't1' : 't2' }));
    const seen: string[] = [];
    let attempts = 0;
    const sender: Sender<'traces'> = {
      async send(batch, _signal, keys) {
        if (++attempts === 1) {
          // Only the last five are worth resending, each with a key naming it.
          const retry = batch.slice(1);
          return { kind: 'partial', retry, retryKeys: retry.map((s) => `key-${s.spanId}`), failed: 0, error: new Error('resend some') };
        }
        batch.forEach((s, i) => seen.push(`${s.spanId}=${keys?.[i] ?? 'none'}`));
        return { kind: 'success' };
      },
    };
    const ex = createQueuedExporter({ id: 'keys', kind: 'test', signal: 'traces', sender, settings: settings({ batch: { maxItems: 10, flushIntervalMs: 5 } }), logger: silentLogger() });
    await ex.start(host);
    await ex.consume(items);
    await waitFor(async () => ex.stats().sent, (n) => n === 6, 'everything sent');
    await ex.shutdown();
    assert.deepEqual(seen.sort(), items.slice(1).map((s) => `${s.spanId}=key-${s.spanId}`).sort());
  });

  test('while the backend is down items wait in the spill, survive a restart, and arrive in order', async () => {
    const b = testSender();
    b.set('down');
    const s = settings();
    const first = createQueuedExporter({ id: 'spill/traces', kind: 'test', signal: 'traces', sender: b.sender, settings: s, logger: silentLogger() });
    await first.start(host);
    await first.consume(spans(1, 5));
    await waitFor(async () => first.stats().retries, (n) => n >= 1, 'a failed attempt');
    await first.consume(spans(6, 5));
    await waitFor(async () => first.stats().spilled, (n) => n === 10, 'everything spilled');
    assert.equal(first.backendStatus().queueDepth, 10);
    await first.shutdown();
    assert.deepEqual(b.received, []);

    // A new process: the same spill directory, the backend back.
    b.set('up');
    const second = createQueuedExporter({ id: 'spill/traces', kind: 'test', signal: 'traces', sender: b.sender, settings: s, logger: silentLogger() });
    await second.start(host);
    await second.consume(spans(11, 2));
    await waitFor(async () => b.received.flat().length, (n) => n === 12, 'all items delivered');
    assert.deepEqual(b.received.flat(), ids(1, 12));
    await second.drained();
    assert.equal(second.stats().spilled, 0);
    await second.shutdown();
  });

  test('spill rows are bounded in bytes and read back a few at a time, so a resumed spill is never decoded whole (QA round 38)', async () => {
    // 200 spans of 100 KB: 20 MB as one batch, which a restart used to read and decode at once.
    const big = (from: number, n: number) => spans(from, n).map((sp) => ({ ...sp, attributes: [{ key: 'blob', value: { stringValue: `${sp.spanId}:${'x'.repeat(100_000)}` } }] }));
    const b = testSender();
    b.set('down');
    const s = settings({ batch: { maxItems: 8192, flushIntervalMs: 5 }, spill: { enabled: true, directory: dir, maxBytes: 100_000_000 } });
    const first = createQueuedExporter({ id: 'bytes/traces', kind: 'test', signal: 'traces', sender: b.sender, settings: s, logger: silentLogger() });
    await first.start(host);
    await first.consume(big(1, 200));
    await waitFor(async () => first.stats().retries, (n) => n >= 1, 'a failed attempt');
    await first.shutdown();
    const file = await openSpill(join(dir, 'bytes_traces.duckdb'), 1e9);
    const rows = await file.peek(100_000);
    assert.equal(rows.reduce((n, r) => n + r.items, 0), 200);
    assert.ok(rows.length >= 5 && rows.every((r) => r.body.length <= SPILL_ROW_BYTES), rows.map((r) => r.body.length).join(' '));
    const read = await file.peek(8192, 2 * SPILL_ROW_BYTES);
    assert.ok(read.length >= 1 && read.reduce((n, r) => n + r.body.length, 0) <= 2 * SPILL_ROW_BYTES);
    await file.close();
    // Back up: delivered in order, each attempt at most two rows' worth.
    b.set('up');
    const second = createQueuedExporter({ id: 'bytes/traces', kind: 'test', signal: 'traces', sender: b.sender, settings: s, logger: silentLogger() });
    await second.start(host);
    await waitFor(async () => b.received.flat().length, (n) => n === 200, 'all delivered');
    assert.deepEqual(b.received.flat(), ids(1, 200));
    assert.ok(b.received.every((batch) => batch.length <= 2 * Math.max(...rows.map((r) => r.items))), b.received.map((x) => x.length).join(' '));
    await second.shutdown();
  });

  test('a spill file that cannot be opened (damaged) is moved aside and a new one started, so the gateway starts (QA round 38d)', async () => {
    await writeFile(join(dir, 'damaged-file_traces.duckdb'), Buffer.alloc(64 * 1024, 0x5a));
    const b = testSender();
    b.set('down');
    const s = settings();
    const ex = createQueuedExporter({ id: 'damaged-file/traces', kind: 'test', signal: 'traces', sender: b.sender, settings: s, logger: silentLogger() });
    await ex.start(host);
    const aside = (await readdir(dir)).filter((f) => f.startsWith('damaged-file_traces.duckdb.damaged-'));
    assert.equal(aside.length, 1, (await readdir(dir)).join(' '));
    assert.match(ex.stats().lastError ?? '', /the spill file could not be opened and was moved aside/);
    // The new spill works: items wait in it while the backend is down, and go once it is up.
    await ex.consume(spans(1, 5));
    await waitFor(async () => ex.stats().spilled, (n) => n === 5, 'spilled');
    b.set('up');
    await waitFor(async () => b.received.flat().length, (n) => n === 5, 'delivered');
    await ex.shutdown();
  });

  test('a spilled batch that does not decode is dropped and counted once, and the batches after it are delivered', async () => {
    const file = await openSpill(join(dir, 'damaged_traces.duckdb'), 10_000_000);
    await file.append([{ tenant: 'default', items: 3, body: Buffer.from('not a protobuf request at all \u00ff\u00ff') }, ...encodeByTenant('traces', spans(1, 2))]);
    await file.close();
    const b = testSender();
    const ex = createQueuedExporter({ id: 'damaged/traces', kind: 'test', signal: 'traces', sender: b.sender, settings: settings(), logger: silentLogger() });
    await ex.start(host);
    await waitFor(async () => b.received.flat().length, (n) => n === 2, 'the readable batch delivered');
    await ex.drained();
    assert.deepEqual(b.received.flat(), ids(1, 2));
    assert.equal(ex.stats().failed, 3);
    assert.equal(ex.stats().spilled, 0);
    await ex.shutdown();
  });

  test('past spill.maxBytes the oldest batches are dropped and counted', async () => {
    const b = testSender();
    b.set('down');
    // Room for a few small batches only.
    const ex = createQueuedExporter({ id: 'bound/traces', kind: 'test', signal: 'traces', sender: b.sender, settings: settings({ spill: { enabled: true, directory: dir, maxBytes: 1500 } }), logger: silentLogger() });
    await ex.start(host);
    for (let i = 0; i < 20; i++) await ex.consume(spans(i * 2 + 1, 2));
    await waitFor(async () => ex.stats(), (st) => st.dropped > 0 && st.spilled + st.dropped === 40, 'every item spilled or dropped');
    const { dropped, spilled } = ex.stats();
    b.set('up');
    await waitFor(async () => b.received.flat().length, (n) => n === 40 - dropped, 'the rest delivered');
    // What arrived is the newest items, in order, with nothing lost beyond what was counted.
    const got = b.received.flat();
    assert.ok(spilled > 0, `spilled ${spilled}`);
    assert.deepEqual(got, ids(dropped + 1, 40 - dropped));
    await ex.shutdown();
  });

  test('without a spill the memory queue bound drops the oldest items and counts them', async () => {
    const b = testSender();
    const gate = deferred();
    const sender: Sender<'traces'> = {
      async send(items, signal) {
        await Promise.race([gate.promise, new Promise((r) => signal.addEventListener('abort', r))]);
        return b.sender.send(items, signal);
      },
    };
    const ex = createQueuedExporter({
      id: 'mem/traces',
      kind: 'test',
      signal: 'traces',
      sender,
      settings: settings({ queue: { maxItems: 4 }, spill: { enabled: false, directory: dir, maxBytes: 0 } }),
      logger: silentLogger(),
    });
    await ex.start(host);
    await ex.consume(spans(1, 4)); // taken by the first, blocked attempt
    await waitFor(async () => ex.stats().queued, (n) => n === 0, 'first batch in flight');
    await ex.consume(spans(5, 6)); // 6 in memory, bound 4: the two oldest go
    assert.equal(ex.stats().dropped, 2);
    gate.resolve();
    await ex.drained();
    assert.deepEqual(b.received.flat(), [...ids(1, 4), ...ids(7, 4)]);
    await ex.shutdown();
  });

  test('shutdown sends what is queued in memory when the backend is up', async () => {
    const b = testSender();
    const ex = createQueuedExporter({ id: 'flush/traces', kind: 'test', signal: 'traces', sender: b.sender, settings: settings({ batch: { maxItems: 100, flushIntervalMs: 60_000 } }), logger: silentLogger() });
    await ex.start(host);
    await ex.consume(spans(1, 3));
    await ex.shutdown();
    assert.deepEqual(b.received.flat(), ids(1, 3));
  });

  test('metrics carry the exporter, kind and signal labels', async () => {
    const b = testSender();
    const ex = createQueuedExporter({ id: 'm/traces', kind: 'jaeger', signal: 'traces', sender: b.sender, settings: settings({ spill: { enabled: false, directory: dir, maxBytes: 0 } }), logger: silentLogger() });
    await ex.start(host);
    await ex.consume(spans(1, 2));
    await ex.drained();
    const sent = ex.metrics().find((m) => m.name === 'teleql_exporter_sent_items_total');
    assert.deepEqual(sent, { name: 'teleql_exporter_sent_items_total', help: 'Items the backend accepted', type: 'counter', value: 2, labels: { exporter: 'm/traces', kind: 'jaeger', signal: 'traces' } });
    await ex.shutdown();
  });
});

describe('backoff and Retry-After', () => {
  const retry = defaultQueueSettings().retry;
  test('grows exponentially to the cap, with jitter inside the randomization factor', () => {
    assert.equal(backoffMs(retry, 1, undefined, () => 0.5), 500);
    assert.equal(backoffMs(retry, 2, undefined, () => 0.5), 750);
    assert.equal(backoffMs(retry, 50, undefined, () => 0.5), 30_000);
    assert.equal(backoffMs(retry, 1, undefined, () => 0), 250);
    assert.equal(backoffMs(retry, 1, undefined, () => 1), 750);
  });
  test('a longer Retry-After wins, capped at five minutes', () => {
    assert.equal(backoffMs(retry, 1, 10_000, () => 0.5), 10_000);
    assert.equal(backoffMs(retry, 1, 100, () => 0.5), 500);
    assert.equal(backoffMs(retry, 1, 3_600_000, () => 0.5), 300_000);
  });
  test('Retry-After parses delta-seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('2'), 2000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 10_000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(null), undefined);
  });
  test('HTTP status maps to success, retryable (429/502/503/504) or failure', () => {
    assert.deepEqual(httpResult('x', 200, null), { kind: 'success' });
    const r = httpResult('x', 429, '3');
    assert.equal(r.kind, 'retryable');
    assert.equal(r.kind === 'retryable' && r.retryAfterMs, 3000);
    assert.equal(httpResult('x', 503, null).kind, 'retryable');
    const f = httpResult('jaeger', 400, null, 'bad');
    assert.equal(f.kind, 'failure');
    assert.equal(f.kind === 'failure' && f.error.message, 'jaeger answered HTTP 400: bad');
  });
});
