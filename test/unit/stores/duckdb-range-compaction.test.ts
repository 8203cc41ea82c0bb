// Range compaction (range-compaction.ts): trace-by-id and logs-by-trace stay correct before, during
// and after compaction while batches keep arriving, across tenants, after retention deletes and after
// a restart; a lookup reads a bounded part of the ranges, not the whole table.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { silentLogger } from '../../../src/logger.ts';
import type { LogRecord, SpanRecord } from '../../../src/model/telemetry.ts';
import { bindParams } from '../../../src/stores/duckdb/connection.ts';
import { params } from '../../../src/stores/duckdb/filter-sql.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { TAIL_ROWS } from '../../../src/stores/duckdb/range-compaction.ts';
import { retentionPlan, startRetention } from '../../../src/stores/duckdb/retention.ts';
import { traceRangeSql } from '../../../src/stores/duckdb/trace-ranges.ts';
import { log, span, spanId, T0, traceId } from '../../helpers/telemetry-builders.ts';

const dirs: string[] = [];
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-compaction-'));
  dirs.push(dir);
  return join(dir, 'store.duckdb');
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A tail of 40 rows makes a run, so a few small batches exercise moves and merges. */
const TAIL = 40;
const open = (path: string, tailRows = TAIL) => openDuckDbStore({ path, logger: silentLogger(), threads: 2, rangeTailRows: tailRows });
// Random-looking IDs, so trace_key differs between traces as it does for real ones.
const hashed = (n: number) => createHash('md5').update(traceId(n)).digest('hex');
const MINUTE = 60_000_000_000n;
const TENANTS = ['shop', 'bank'] as const;

/**
 * Batch b: 12 new traces per tenant with one span each, and the second span of the traces batch b - 3
 * started, so a trace's ranges are in two batches (and, after compaction, often in two runs).
 * A span's name says its tenant, trace and batch.
 */
function batch(b: number): { spans: SpanRecord[]; logs: LogRecord[] } {
  const spans: SpanRecord[] = [];
  const logs: LogRecord[] = [];
  for (const tenant of TENANTS) {
    const add = (n: number, i: number) => {
      const startTimeUnixNano = T0 + BigInt(b) * MINUTE + BigInt(n);
      spans.push(span({ tenant, traceId: hashed(n), spanId: spanId(i), name: `${tenant}-${n}-${b}`, startTimeUnixNano }));
      logs.push(log({ tenant, traceId: hashed(n), spanId: spanId(i), timeUnixNano: startTimeUnixNano, body: { stringValue: `${tenant}-${n}-${b}` } }));
    };
    for (let k = 0; k < 12; k++) add(b * 12 + k, 1);
    if (b >= 3) for (let k = 0; k < 12; k++) add((b - 3) * 12 + k, 2);
  }
  return { spans, logs };
}

/** What trace n of `tenant` holds once `batches` batches are written: its span names in start order. */
function expected(tenant: string, n: number, batches: number): string[] {
  const b = Math.floor(n / 12);
  if (b >= batches) return [];
  return b + 3 < batches ? [`${tenant}-${n}-${b}`, `${tenant}-${n}-${b + 3}`] : [`${tenant}-${n}-${b}`];
}

/**
 * Checks every trace (spans and logs) of both tenants against what `batches` batches wrote; with
 * `writing`, the batch being written may or may not be visible, so the traces it adds to are skipped.
 */
async function checkAll(store: DuckDbStore, batches: number, what: string, writing = false): Promise<void> {
  const ns = Array.from({ length: batches * 12 + 12 }, (_, n) => n).filter((n) => !writing || (n < batches * 12 && Math.floor(n / 12) !== batches - 3));
  for (const tenant of TENANTS) {
    const traces = await store.traces.getTraces(tenant, ns.map(hashed));
    const logs = await store.logs.logsForTraces(tenant, ns.map(hashed), 10);
    for (const [i, n] of ns.entries()) {
      const want = expected(tenant, n, batches);
      assert.deepEqual(traces[i]!.map((s) => s.name), want, `${what}: spans of ${tenant} trace ${n}`);
      assert.deepEqual(logs[i]!.map((l) => (l.body as { stringValue: string }).stringValue).sort(), [...want].sort(), `${what}: logs of ${tenant} trace ${n}`);
    }
  }
}

/** Runs in the sorted part, each checked to be stored in (tenant, trace_key) order. */
async function sortedRuns(store: DuckDbStore, table: string): Promise<Map<number, number>> {
  const rows = await store.db.query(`SELECT run, tenant, trace_key FROM ${table}_sorted ORDER BY rowid`);
  const runs = new Map<number, number>();
  let last: { run: number; tenant: string; key: number } | null = null;
  for (const r of rows) {
    const row = { run: r.run as number, tenant: r.tenant as string, key: r.trace_key as number };
    runs.set(row.run, (runs.get(row.run) ?? 0) + 1);
    if (last && last.run === row.run) {
      assert.ok(last.tenant < row.tenant || (last.tenant === row.tenant && last.key <= row.key), `run ${row.run} of ${table} is sorted`);
    }
    last = row;
  }
  return runs;
}

describe('range compaction', () => {
  it('keeps every trace and its logs findable, per tenant, before, during and after compaction while batches arrive', async () => {
    const store = await open(tempPath());
    const batches = 24;
    for (let b = 0; b < batches; b++) {
      const { spans, logs } = batch(b);
      // This batch and the compaction steps it triggers run on the write lanes while the earlier
      // batches are read.
      const writing = Promise.all([store.writer.writeSpans(spans), store.writer.writeLogs(logs)]);
      if (b % 4 === 3) await checkAll(store, b, `while batch ${b} is written`, true);
      await writing;
    }
    await store.rangeCompaction.idle();
    await checkAll(store, batches, 'after compaction');

    const layout = await store.rangeCompaction.layout();
    for (const table of ['trace_ranges', 'log_trace_ranges']) {
      const { tailRows, runs } = layout[table]!;
      assert.ok(tailRows < TAIL, `${table}: the tail is under the threshold (${tailRows})`);
      const total = tailRows + runs.reduce((a, r) => a + r.rows, 0);
      // 24 batches × 2 tenants × (12 + 12) ranges, less the first 3 batches' missing second halves.
      assert.equal(total, batches * 2 * 24 - 3 * 2 * 12, `${table}: every range kept`);
      assert.ok(runs.length <= Math.log2(total / TAIL) + 1, `${table}: ${runs.length} runs for ${total} rows`);
      for (let i = 1; i < runs.length; i++) assert.ok(runs[i]!.rows < runs[i - 1]!.rows, `${table}: each run smaller than the one before it`);
      assert.deepEqual([...(await sortedRuns(store, table)).entries()], runs.map((r) => [r.run, r.rows]));
    }
    const metric = (name: string) => store.rangeCompaction.metrics().find((m) => m.name === name && m.labels?.table === 'trace_ranges')!.value;
    assert.ok(metric('teleql_range_compaction_moves_total') >= 10);
    assert.ok(metric('teleql_range_compaction_merges_total') >= 5);
    assert.equal(metric('teleql_range_compaction_failures_total'), 0);
    await store.close();
  });

  it('reads the tail and about one row group per run for a lookup, not the whole ranges table', async () => {
    const path = tempPath();
    const store = await open(path, TAIL_ROWS);
    // 8 batches of 16,384 one-span traces: 131,072 ranges, each batch moved as a run once written,
    // and the runs merged like a binary counter into one.
    const perBatch = 16_384;
    for (let b = 0; b < 8; b++) {
      await store.writer.writeSpans(
        Array.from({ length: perBatch }, (_, i) => span({ tenant: 'z', traceId: hashed(b * perBatch + i), startTimeUnixNano: T0 + BigInt(b * perBatch + i) * 1000n })),
      );
      await store.rangeCompaction.idle();
    }
    await store.rangeCompaction.idle();
    const { trace_ranges: layout } = await store.rangeCompaction.layout();
    assert.deepEqual(layout!.runs.map((r) => r.rows), [8 * perBatch]);
    await store.close();

    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    await conn.run(`PRAGMA enable_profiling = 'json'`);
    await conn.run(`PRAGMA custom_profiling_settings = '{"CUMULATIVE_ROWS_SCANNED": "true"}'`);
    for (const n of [7, 50_000, 131_000]) {
      const p = params(['z']);
      const sql = `SELECT * FROM ${traceRangeSql([hashed(n)], p)}`;
      const { values, types } = bindParams(p.values);
      const [[, profile]] = (await conn.runAndReadAll(`EXPLAIN ANALYZE ${sql}`, values, types)).getRows() as [[unknown, string]];
      const [[lo]] = (await conn.runAndReadAll(sql, values, types)).getRowsJS() as [[bigint]];
      assert.equal(lo, T0 + BigInt(n) * 1000n);
      const scanned = (JSON.parse(profile) as { cumulative_rows_scanned: number }).cumulative_rows_scanned;
      assert.ok(scanned <= 2 * perBatch, `trace ${n}: ${scanned} of ${8 * perBatch} ranges scanned`);
    }
    conn.closeSync();
    instance.closeSync();
  });

  it('reads the runs and tail back after a restart, merges a run a crash left due, and carries on', async () => {
    const path = tempPath();
    const first = await open(path);
    for (let b = 0; b < 10; b++) {
      const { spans, logs } = batch(b);
      await first.writer.writeSpans(spans);
      await first.writer.writeLogs(logs);
    }
    await first.rangeCompaction.idle();
    const before = await first.rangeCompaction.layout();
    await first.close();

    const reopened = await open(path);
    await reopened.rangeCompaction.idle();
    assert.deepEqual(await reopened.rangeCompaction.layout(), before);
    await checkAll(reopened, 10, 'after a restart');
    await reopened.close();

    // What a crash between a move and its merges leaves: a newest run as large as the one before it.
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    await conn.run('INSERT INTO trace_ranges_sorted SELECT tenant, trace_key, trace_id, min_start_ns, max_start_ns, 1000 FROM trace_ranges_sorted');
    await conn.run('DELETE FROM trace_ranges_sorted WHERE run < 1000');
    await conn.run('INSERT INTO trace_ranges_sorted SELECT tenant, trace_key, trace_id, min_start_ns, max_start_ns, 1001 FROM trace_ranges_sorted');
    await conn.run('DELETE FROM trace_ranges_sorted WHERE run = 1000 AND rowid % 2 = 0');
    conn.closeSync();
    instance.closeSync();

    const third = await open(path);
    await third.rangeCompaction.idle();
    const runs = (await third.rangeCompaction.layout()).trace_ranges!.runs;
    for (let i = 1; i < runs.length; i++) assert.ok(runs[i]!.rows < runs[i - 1]!.rows, `merged on open: ${JSON.stringify(runs)}`);
    for (let b = 10; b < 16; b++) {
      const { spans, logs } = batch(b);
      await third.writer.writeSpans(spans);
      await third.writer.writeLogs(logs);
    }
    await third.rangeCompaction.idle();
    await checkAll(third, 16, 'after more batches');
    await third.close();
  });

  it('retention deletes old ranges from the sorted runs too; newer traces stay findable', async () => {
    const store = await open(tempPath());
    for (let b = 0; b < 16; b++) {
      const { spans, logs } = batch(b);
      await store.writer.writeSpans(spans);
      await store.writer.writeLogs(logs);
    }
    await store.rangeCompaction.idle();
    // Keep 8 minutes back from batch 15's time: batches 0–6 go, 7–15 stay.
    const now = Number((T0 + 15n * MINUTE) / 1_000_000n);
    const plan = retentionPlan({ period: '8m', traces: '', logs: '', metrics: '', interval: '1h', batchRows: 50 });
    const retention = startRetention(store.db, { plan, logger: silentLogger(), now: () => now });
    const deleted = await retention.runPass();
    await retention.stop();
    assert.ok(deleted.trace_ranges_sorted! > 0 && deleted.log_trace_ranges_sorted! > 0, JSON.stringify(deleted));
    const cutoff = T0 + 7n * MINUTE;
    for (const table of ['trace_ranges_sorted', 'log_trace_ranges_sorted']) {
      const [row] = await store.db.query(`SELECT count(*) AS n FROM ${table} WHERE max_start_ns < $1`, [cutoff]);
      assert.equal(Number(row!.n), 0, `${table} keeps no range older than the window`);
    }
    for (const tenant of TENANTS) {
      const ns = Array.from({ length: 16 * 12 }, (_, n) => n);
      const traces = await store.traces.getTraces(tenant, ns.map(hashed));
      for (const n of ns) {
        // Spans before the cutoff are gone; the rest of each trace is still found through its range.
        const want = expected(tenant, n, 16).filter((name) => Number(name.split('-')[2]) >= 7);
        assert.deepEqual(traces[n]!.map((s) => s.name), want, `${tenant} trace ${n}`);
      }
    }
    // Compaction carries on over the shrunken runs.
    for (let b = 16; b < 20; b++) await store.writer.writeSpans(batch(b).spans);
    await store.rangeCompaction.idle();
    const [kept] = await store.traces.getTraces('bank', [hashed(19 * 12)]);
    assert.deepEqual(kept!.map((s) => s.name), [`bank-${19 * 12}-19`]);
    await store.close();
  });
});
