// StoreWriter: each batch is one transaction on its table's write lane. Rows are built into data
// chunks in JS and appended: straight into the table when no column needs casting (spans, logs),
// else into the temp staging table and moved into the table with one INSERT … SELECT per slice; the
// next slice is built while DuckDB runs the previous INSERT on its own threads.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Logger } from 'pino';
import type { LogRecord } from '../../model/telemetry.ts';
import type { StoreWriter } from '../types.ts';
import { keptAppender, type Db } from './connection.ts';
import { CHUNK_ROWS, buildChunks, isStaged, loadSql, stagedColumns, stagedTypes, stagingTable, type TableSpec } from './ddl.ts';
import { columnwiseChunkFiller } from './chunk.ts';
import { committedDespiteCheckpoint, toStoreError } from './errors.ts';
import { logTable, prepareLog, type LogIds } from './log-rows.ts';
import { metricTable, prepareMetric } from './metric-rows.ts';
import { createEncodeCache, type EncodeCache } from './resources.ts';
import { prepareSpan, spanTable } from './span-rows.ts';
import { logTraceRangeRows, traceRangeRows } from './trace-ranges.ts';
import type { Parts } from './parts.ts';

const SLICE_ROWS = 8 * CHUNK_ROWS; // small enough to overlap building with loading, large enough to amortise each INSERT
// Rows per data chunk of a direct append (storage.duckdb.writeStepRows): each chunk and each flush
// has a fixed cost in DuckDB, so 128-row chunks cost ~9 % more writer CPU than 512 (bench:ingest-stages).
export const DEFAULT_STEP_ROWS = 512;
// The longest the writer runs before yielding to the event loop (storage.duckdb.writeStepMs): a step
// ends between rows or between a chunk's columns once this much has passed, so no event-loop turn
// waits behind a whole chunk. The appender's flush cannot be split and gets a turn of its own.
// 10 ms rarely cuts a 512-row chunk on an idle core; 5 ms cut them often on a loaded one and
// looked ~7 % dearer in writer CPU (bench/README.md, within the noise of that machine).
export const DEFAULT_STEP_MS = 10;
// Rows between appender flushes: each flush has a fixed cost in DuckDB, and flushing every 2,048
// rows instead of every 512-row chunk took ~11–18 % off the writer's CPU (bench:ingest-stages).
const FLUSH_ROWS = CHUNK_ROWS;
// Rows prepared between looks at the clock.
const CLOCK_ROWS = 32;

export interface WriterStats {
  rowsWritten: Record<'spans' | 'logs' | 'metric_points', number>;
  /** Write attempts DuckDB refused (the ingest exporter retries the ones that may pass: each attempt counts). */
  writeErrors: number;
  /** The latest refused write, and whether the write after it has not yet succeeded (per table). */
  lastWriteError: { table: string; message: string; at: number } | null;
  failingTables: ('spans' | 'logs' | 'metric_points')[];
  /** Synchronous steps of direct appends, each followed by a yield to the event loop (writeStepMs, writeStepRows). */
  appendSteps: Record<'spans' | 'logs' | 'metric_points', number>;
  /** The longest of those steps, in ms (wall clock: includes any GC or descheduling within it). */
  longestStepMs: Record<'spans' | 'logs' | 'metric_points', number>;
}

interface TableWriter<R> {
  write(records: readonly R[]): Promise<void>;
  readonly steps: number;
  readonly longestStepMs: number;
}

/** Rows of another table written in the same transaction as a batch (trace-ranges.ts, parts.ts). */
export interface CompanionRows<R> {
  append(conn: DuckDBConnection, records: readonly R[], cache: EncodeCache): Promise<void>;
  /** After the commit. */
  committed?(): void;
  /** After a rollback: drop any state tied to the failed transaction. */
  reset(): void;
}

function createTableWriter<R, P>(
  db: Db,
  spec: TableSpec<P>,
  prepare: (r: R, cache: EncodeCache) => P,
  onWritten: (rows: number) => void,
  steps: StepSize,
  logger: Logger,
  companions: readonly CompanionRows<R>[] = [],
): TableWriter<R> {
  const columns = stagedColumns(spec);
  const types = stagedTypes(spec);
  const staged = isStaged(spec);
  const load = staged ? loadSql(spec) : null;
  const lane = db.writeLane(spec.name);
  const kept = keptAppender((conn) => (staged ? conn.createAppender(stagingTable(spec), 'main', 'temp') : conn.createAppender(spec.name)));
  const fill = columnwiseChunkFiller(columns, types); // direct appends only: each chunk is appended before the next fill
  let stepCount = 0;
  let longestStepMs = 0;
  let stepStart = 0;
  const stepSpent = () => performance.now() - stepStart >= steps.ms;
  // The appender is synchronous: steps with a yield between them keep one batch from holding the
  // event loop for hundreds of ms (live tails, queries wait).
  async function endStep(): Promise<void> {
    stepCount++;
    longestStepMs = Math.max(longestStepMs, performance.now() - stepStart);
    await yieldToEventLoop();
    stepStart = performance.now();
  }

  async function writeInTransaction(conn: DuckDBConnection, records: readonly R[]): Promise<void> {
    const appender = await kept.on(conn);
    const cache = createEncodeCache();
    let loading: Promise<unknown> | null = null;
    await conn.run('BEGIN TRANSACTION');
    try {
      for (let off = 0; off < records.length; off += SLICE_ROWS) {
        if (!load) {
          // Straight into the table, one chunk at a time: each chunk's row values are garbage
          // before V8's next scavenge, instead of a whole slice's being promoted to the old generation.
          const end = Math.min(records.length, off + SLICE_ROWS);
          stepStart = performance.now();
          for (let c = off; c < end; c += steps.rows) {
            const chunkEnd = Math.min(end, c + steps.rows);
            const part: P[] = [];
            for (let i = c; i < chunkEnd; i++) {
              part.push(prepare(records[i]!, cache));
              if ((i - c) % CLOCK_ROWS === CLOCK_ROWS - 1 && stepSpent()) await endStep();
            }
            const filling = fill(part);
            while (!filling.fillColumn()) if (stepSpent()) await endStep();
            appender.appendDataChunk(filling.chunk());
            if ((chunkEnd - off) % FLUSH_ROWS === 0 || chunkEnd === end) {
              await endStep();
              appender.flushSync();
            }
            await endStep();
          }
          continue;
        }
        const inputs = records.slice(off, off + SLICE_ROWS).map((r) => prepare(r, cache));
        const chunks = buildChunks(columns, types, inputs);
        if (loading) await loading;
        for (const chunk of chunks) appender.appendDataChunk(chunk);
        appender.flushSync();
        loading = conn.run(load);
        // Awaited on the next slice or below; this only keeps Node from reporting it unhandled meanwhile.
        loading.catch(() => undefined);
      }
      await loading;
      for (const c of companions) await c.append(conn, records, cache);
      await commit(conn);
      for (const c of companions) c.committed?.();
    } catch (err) {
      await loading?.catch(() => undefined); // the connection must be idle before the next statement
      kept.drop();
      for (const c of companions) c.reset();
      await conn.run('ROLLBACK').catch(() => undefined);
      if (staged) await conn.run(`DELETE FROM ${stagingTable(spec)}`).catch(() => undefined);
      throw err;
    }
  }

  /**
   * COMMIT; when DuckDB says the commit is durable but the checkpoint after it failed (which
   * invalidates the database until a reopen), the batch is written: it is not retried (that would
   * store it twice), and the instance is reopened for the next one. A commit that failed reopens it too.
   */
  async function commit(conn: DuckDBConnection): Promise<void> {
    try {
      await conn.run('COMMIT');
    } catch (err) {
      if (!committedDespiteCheckpoint(err)) {
        // DuckDB 1.5.5 can leave rows of a transaction whose COMMIT failed (out of memory) in the
        // table's memory: the next commits held 1,792 of 16,384 spans twice and lost as many, and the
        // checkpoint at close failed on a "misaligned count". A reopen rebuilds the table from the
        // file and its log, where the failed transaction is not; the next write waits for it.
        logger.warn({ table: spec.name, err: toStoreError(err).message }, 'a commit failed: reopening the instance so that none of its rows stay');
        void db.reopen().catch(() => undefined);
        throw err;
      }
      logger.warn({ table: spec.name, err: toStoreError(err).message }, 'committed, but DuckDB could not checkpoint after it: reopening the instance');
      void db.reopen().catch(() => undefined);
    }
  }

  return {
    async write(records) {
      if (records.length === 0) return;
      await lane.use((conn) => writeInTransaction(conn, records));
      onWritten(records.length);
    },
    get steps() {
      return stepCount;
    },
    get longestStepMs() {
      return longestStepMs;
    },
  };
}

/** How a direct append is cut into synchronous steps: rows per data chunk, and the time after which a step ends. */
export interface StepSize {
  rows: number;
  ms: number;
}

/** `onWritten` is told the rows of every committed batch (the store's reopen policy counts them). */
export function createWriter(
  db: Db,
  logIds: LogIds,
  parts: Parts,
  logger: Logger,
  steps: StepSize = { rows: DEFAULT_STEP_ROWS, ms: DEFAULT_STEP_MS },
  onWritten: (rows: number) => void = () => undefined,
): StoreWriter & { stats(): WriterStats } {
  const stats: Omit<WriterStats, 'appendSteps' | 'longestStepMs' | 'failingTables'> = { rowsWritten: { spans: 0, logs: 0, metric_points: 0 }, writeErrors: 0, lastWriteError: null };
  const failing = new Set<keyof WriterStats['rowsWritten']>();
  function guarded<R>(table: keyof WriterStats['rowsWritten'], writer: TableWriter<R>) {
    return async (records: readonly R[]): Promise<void> => {
      try {
        await writer.write(records);
        failing.delete(table);
      } catch (err) {
        stats.writeErrors++;
        failing.add(table);
        const storeErr = toStoreError(err);
        stats.lastWriteError = { table, message: storeErr.message, at: Date.now() };
        logger.warn({ table, rows: records.length, code: storeErr.code, err: storeErr.message }, 'write failed');
        throw storeErr;
      }
    };
  }
  const count = (table: keyof WriterStats['rowsWritten']) => (n: number) => {
    stats.rowsWritten[table] += n;
    onWritten(n);
  };
  // Each batch's trace ranges commit with its spans, so no span is visible without its range.
  // Resources and scopes commit with the rows that point at them.
  const spans = createTableWriter(db, spanTable, prepareSpan, count('spans'), steps, logger, [traceRangeRows(), parts.companion()]);
  const logs = createTableWriter(db, logTable, (r: LogRecord, cache) => prepareLog(r, cache, logIds), count('logs'), steps, logger, [logTraceRangeRows(), parts.companion()]);
  const metrics = createTableWriter(db, metricTable, prepareMetric, count('metric_points'), steps, logger);
  return {
    splitsOnMemory: !db.inMemory,
    writeSpans: guarded('spans', spans),
    writeLogs: guarded('logs', logs),
    writeMetrics: guarded('metric_points', metrics),
    stats: () => ({
      ...structuredClone(stats),
      failingTables: [...failing],
      appendSteps: { spans: spans.steps, logs: logs.steps, metric_points: metrics.steps },
      longestStepMs: { spans: spans.longestStepMs, logs: logs.longestStepMs, metric_points: metrics.longestStepMs },
    }),
  };
}
