// The DuckDB exporter against a real store whose buffer pool is too small for a batch: DuckDB
// refuses the append ("could not allocate block"), and the exporter must retry until the pool is
// large enough again, so that an acknowledged batch is written once and never lost.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConsumeError } from '../../../ingest/component.ts';
import { createDuckDbExporter, duckDbExporterFactory, duckDbExporterStats, type DuckDbExporterConfig } from '../../../ingest/exporters/duckdb/factory.ts';
import { duckDbReporters } from '../../../src/backends/index.ts';
import { silentLogger } from '../../../src/logger.ts';
import type { SpanRecord } from '../../../src/model/telemetry.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { attrs, span, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A file store whose pool (4MB) cannot hold one full batch of these spans. */
async function smallPoolStore(): Promise<DuckDbStore> {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-exporter-'));
  dirs.push(dir);
  return openDuckDbStore({ path: join(dir, 'store.duckdb'), logger: silentLogger(), threads: 1, memoryLimit: '4MB' });
}

const setPool = (store: DuckDbStore, size: string) => store.db.writeLane('spans').use((c) => c.run(`SET memory_limit = '${size}'`));

function batch(tenant: string, n = 16_384): SpanRecord[] {
  return Array.from({ length: n }, (_, i) =>
    span({ tenant, traceId: traceId(1 + Math.floor(i / 10)), spanId: spanId(i + 1), name: `op-${i % 50}`, startTimeUnixNano: T0 + BigInt(i), attributes: attrs({ n: `v${i}`, pad: 'x'.repeat(200) }) }),
  );
}

function exporterFor(store: DuckDbStore, retry: Partial<DuckDbExporterConfig['retry']> = {}, shutdownTimeoutMs?: number) {
  const defaults = duckDbExporterFactory(store.writer).createDefaultConfig();
  const config = { retry: { ...defaults.retry, initialIntervalMs: 20, maxIntervalMs: 50, ...retry }, shutdownTimeoutMs: shutdownTimeoutMs ?? defaults.shutdownTimeoutMs };
  return createDuckDbExporter({ id: 'duckdb/traces', logger: silentLogger() }, config, store.writer, 'traces');
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('DuckDB exporter', () => {
  it('retries a write refused for a full buffer pool until it fits, and writes the batch once', async () => {
    const store = await smallPoolStore();
    const exporter = exporterFor(store);
    const writing = exporter.consume(batch('full'));
    await until(() => store.stats().writeErrors >= 2, 'two refused attempts');
    const refused = store.stats();
    assert.match(refused.lastWriteError?.message ?? '', /could not allocate|Out of Memory/i, 'the refusal is a real full pool');
    assert.deepEqual(refused.failingTables, ['spans']);

    await setPool(store, '1GB');
    await writing;
    assert.equal(store.stats().rowsWritten.spans, 16_384);
    assert.deepEqual(store.stats().failingTables, []);
    assert.ok(exporter.stats().retries >= 2);
    assert.equal(exporter.stats().failedBatches, 0);
    const traces = await store.traces.getTraces('full', [traceId(1), traceId(1_639)]);
    assert.deepEqual(traces.map((t) => t.length), [10, 4], 'each span once: no retry wrote a row twice');
    await store.close();
  });

  it('gives a batch up after retry.maxElapsedMs, counted, and keeps writing afterwards', async () => {
    const store = await smallPoolStore();
    const exporter = exporterFor(store, { maxElapsedMs: 200 });
    let attempts = 0;
    await assert.rejects(exporter.consume(batch('lost')), (e: unknown) => {
      attempts = Number(/still failing after (\d+) attempts/.exec(e instanceof ConsumeError && !e.permanent ? e.message : '')?.[1] ?? 0);
      return attempts > 0;
    });
    assert.equal(exporter.stats().failedBatches, 1);
    assert.equal(exporter.stats().failedItems, 16_384, 'the whole batch is lost (the batch processor drops it)');
    assert.equal(exporter.stats().retries, attempts - 1, 'every attempt but the last was retried');
    assert.equal(store.stats().writeErrors, attempts);
    assert.equal(store.stats().rowsWritten.spans, 0);

    await setPool(store, '1GB');
    await exporter.consume(batch('next', 100));
    assert.equal(store.stats().rowsWritten.spans, 100);
    assert.deepEqual(exporter.metrics().map((m) => [m.name, m.value]), [
      ['teleql_duckdb_write_retries_total', exporter.stats().retries],
      ['teleql_duckdb_failed_batches_total', 1],
      ['teleql_duckdb_refused_records_total', 0],
    ]);
    await store.close();
  });

  it('once the gateway stops, a write that keeps failing is given up after shutdownTimeoutMs, whatever retry.maxElapsedMs says', async () => {
    const store = await smallPoolStore();
    // maxElapsedMs 0: never give up while running (a full disk held shutdown ~30 s per queued batch).
    const exporter = exporterFor(store, { maxElapsedMs: 0 }, 300);
    const writing = exporter.consume(batch('stopping'));
    await until(() => store.stats().writeErrors >= 2, 'the write failing');
    exporter.shutdownBegins();
    await assert.rejects(writing, (e: unknown) => e instanceof ConsumeError && !e.permanent && /the gateway is stopping: given up after \d+ attempts, exporters\.duckdb\.shutdownTimeoutMs/.test(e.message));
    assert.equal(exporter.stats().failedBatches, 1);
    assert.equal(store.stats().rowsWritten.spans, 0);
    await store.close();
  });

  it('does not retry records the store refuses as malformed, and writes the rest of their batch (other clients’ records)', async () => {
    const store = await smallPoolStore();
    await setPool(store, '1GB');
    const exporter = exporterFor(store);
    const broken = batch('bad', 10);
    broken[5] = { ...broken[5]!, tenant: null as unknown as string };
    await assert.rejects(exporter.consume(broken), (e: unknown) => e instanceof ConsumeError && e.permanent && /^1 of 10 records refused by the store: /.test(e.message));
    assert.deepEqual(exporter.stats(), { retries: 0, failedBatches: 1, refusedItems: 1, failedItems: 1 });
    assert.equal(store.stats().rowsWritten.spans, 9, 'the other nine are stored');
    // Found by halves: the batch, then one half at each level down to the record (10, 5, 3, 2, 1).
    assert.equal(store.stats().writeErrors, 5);
    const stored = (await store.traces.getTraces('bad', [traceId(1)]))[0]!.map((s) => s.spanId).sort();
    assert.deepEqual(stored, [0, 1, 2, 3, 4, 6, 7, 8, 9].map((i) => spanId(i + 1)));
    // The store's `backends` entry counts the record as failed (it said 0 whatever was lost).
    const [status] = duckDbReporters(() => store.stats(), (signal) => (signal === 'traces' ? duckDbExporterStats(exporter)! : { failedItems: 0, retries: 0 }), { traces: ['WRITE'], logs: [], metrics: [] }, 'store.duckdb');
    assert.deepEqual(
      { id: status!.backendStatus().id, itemsWritten: status!.backendStatus().itemsWritten, itemsFailed: status!.backendStatus().itemsFailed },
      { id: 'duckdb/traces', itemsWritten: 9, itemsFailed: 1 },
    );
    await store.close();
  });
});
