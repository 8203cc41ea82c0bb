// The embedded DuckDB store: one database file (or memory) holding spans, logs and metric points.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Logger } from 'pino';
import type { AttributeCatalog, LogStore, MetricStore, StoreWriter, TraceStore } from '../types.ts';
import { createCatalog } from './catalog.ts';
import { openDb, runQuery, type Db } from './connection.ts';
import { toStoreError, unavailable } from './errors.ts';
import { createStagingSql, createTables, isStaged, type TableSpec } from './ddl.ts';
import { createLogIds, logTable } from './log-rows.ts';
import { createLogStore } from './log-store.ts';
import { metricTable } from './metric-rows.ts';
import { createMetricStore } from './metric-store.ts';
import { spanTable } from './span-rows.ts';
import { createTraceStore } from './trace-store.ts';
import { createWriter, DEFAULT_STEP_MS, DEFAULT_STEP_ROWS, type WriterStats } from './writer.ts';
import type { CorrelationStores } from '../correlation-types.ts';
import { createRedStore } from './red.ts';
import { createServiceGraphStore } from './service-graph.ts';
import { createExceptionGroupStore } from './exception-groups.ts';
import { createLogWindowStore } from './log-windows.ts';
import { createTraceRangeTable } from './trace-ranges.ts';
import { createParts, createPartTables, PARTS_LANE } from './parts.ts';
import { storedStringsCut } from './long-values.ts';

export interface DuckDbStoreOptions {
  /** A file path (its directory is created) or ':memory:'. */
  path: string;
  /** The store's own component logger (the caller names the component). */
  logger: Logger;
  threads?: number;
  /** DuckDB's memory_limit, e.g. '2GB'. */
  memoryLimit?: string;
  /** Read connections shared fairly per tenant (connection.ts; default 3). */
  readLanes?: number;
  /** Rows per data chunk the writer appends (writer.ts; default 512). */
  writeStepRows?: number;
  /** The longest the writer runs before yielding to the event loop, in ms (writer.ts; default 10). */
  writeStepMs?: number;
  /**
   * Rows written after which the DuckDB instance is closed and the file opened again (`Db.reopen`),
   * giving back the native memory DuckDB keeps per row group written; 0 = never.
   */
  reopenEveryRows?: number;
}

export interface DuckDbStore {
  traces: TraceStore;
  logs: LogStore;
  metrics: MetricStore;
  catalog: AttributeCatalog;
  /** RED, service graph, exception occurrences and logs around a span, all from the same tables. */
  correlation: CorrelationStores;
  writer: StoreWriter;
  /** Strings stored cut to long-values.ts' MAX_STORED_CHARS so far (this process). */
  stringsCut(): number;
  /** Deletes resources and scopes no span or log refers to any more (retention runs it after its deletes). */
  pruneParts(batchRows: number): Promise<{ resources: number; scopes: number }>;
  /** Waits for queued writes, checkpoints and closes; later calls of any method fail UNAVAILABLE. */
  close(): Promise<void>;
  stats(): WriterStats;
  /** The database itself, for stores of other concepts kept in the same file (alerting, the search vector store). */
  db: Db;
}

const TABLES: TableSpec<unknown>[] = [spanTable, logTable, metricTable];
/** Write lanes for tables other stores create themselves (the search vector store's), and parts pruning's. */
const EXTRA_WRITE_LANES = ['search', PARTS_LANE];

/**
 * DuckDB's default is 122,880 rows. The batch processor sends up to 16,384 items, so at that default
 * every batch went through the WAL and was written again by the next checkpoint; with 16,384 a full
 * batch is written once, as one row group (half the cost per row, measured).
 */
const ROW_GROUP_SIZE = 16_384;

export async function openDuckDbStore(opts: DuckDbStoreOptions): Promise<DuckDbStore> {
  const { logger } = opts;
  const lastLogIds = new Map<string, bigint>();
  const parts = createParts();
  const db = await openDb({
    path: opts.path,
    rowGroupSize: ROW_GROUP_SIZE,
    threads: opts.threads,
    memoryLimit: opts.memoryLimit,
    readLanes: opts.readLanes,
    writeTables: [...TABLES.map((t) => t.name), ...EXTRA_WRITE_LANES],
    async setup(conn) {
      await checkLayout(conn);
      await createTables(conn, TABLES);
      await createPartTables(conn);
      await createTraceRangeTable(conn);
      await parts.load(conn);
      // Log IDs continue from the highest ever given, also when retention deleted them all (retention.ts).
      await conn.run('CREATE TABLE IF NOT EXISTS log_id_marks (tenant VARCHAR PRIMARY KEY, last_id BIGINT NOT NULL)');
      const highest = 'SELECT tenant, max(id) AS id FROM (SELECT tenant, id FROM logs UNION ALL SELECT tenant, last_id FROM log_id_marks) GROUP BY tenant';
      for (const row of await runQuery(conn, highest)) {
        lastLogIds.set(row.tenant as string, row.id as bigint);
      }
      await checkWritable(conn, opts.path);
      await repairNegativeDurations(conn);
    },
    onInvalidated: (err) => logger.warn({ err: toStoreError(err).message }, 'the DuckDB database was invalidated (a checkpoint failed): reopening the instance'),
    onReopenFailed: (err, { attempt, retryInMs }) =>
      logger.error(
        { err: toStoreError(err).message, attempt, retryInMs },
        'the DuckDB store could not be reopened: OTLP is refused (retryable), queries fail and /readyz answers 503 until a retry succeeds',
      ),
    onReopenRecovered: (attempts) => logger.info({ failedAttempts: attempts }, 'the DuckDB store reopened after failing: serving again'),
    onOutOfMemory: (err) => logger.warn({ err: toStoreError(err).message }, 'a read ran out of DuckDB memory (storage.duckdb.memoryLimit): running it again once the other reads are done'),
    async setupWriteLane(conn, table) {
      const spec = TABLES.find((t) => t.name === table);
      if (spec && isStaged(spec)) await conn.run(createStagingSql(spec));
    },
  });
  logger.info({ path: opts.path }, 'opened');
  const steps = { rows: opts.writeStepRows ?? DEFAULT_STEP_ROWS, ms: opts.writeStepMs ?? DEFAULT_STEP_MS };
  const writer = createWriter(db, createLogIds(lastLogIds), parts, logger, steps, reopenPolicy(db, opts.reopenEveryRows ?? 0, logger));
  return {
    traces: createTraceStore(db, parts),
    logs: createLogStore(db, parts),
    metrics: createMetricStore(db),
    catalog: createCatalog(db),
    correlation: {
      red: createRedStore(db),
      serviceGraph: createServiceGraphStore(db),
      exceptions: createExceptionGroupStore(db),
      logWindows: createLogWindowStore(db, parts),
    },
    writer,
    pruneParts: (batchRows) => parts.prune(db, batchRows),
    stringsCut: storedStringsCut,
    stats: writer.stats,
    db,
    async close() {
      const wasOpen = !db.closed;
      await db.close();
      if (wasOpen) logger.info({ path: opts.path }, 'closed');
    },
  };
}

/**
 * Counts rows written and reopens the instance every `everyRows` (in the background: writes and
 * reads queued meanwhile wait for it, Db.reopen). DuckDB keeps ~3.6 bytes of native memory per row
 * written for as long as its instance is open, whatever is deleted (docs/storage.md, Retention and memory).
 * A reopen waits for the reads running, and writes wait behind it: while a read runs it is put off
 * to a later batch, up to twice `everyRows`, so one long query does not hold ingest back.
 */
function reopenPolicy(db: Db, everyRows: number, logger: Logger): (rows: number) => void {
  let sinceReopen = 0;
  return (rows) => {
    if (everyRows <= 0) return;
    sinceReopen += rows;
    if (sinceReopen < everyRows || (db.readsInFlight() > 0 && sinceReopen < 2 * everyRows)) return;
    sinceReopen = 0;
    const started = performance.now();
    db.reopen().then(
      () => logger.info({ afterRows: everyRows, ms: Math.round(performance.now() - started), reopens: db.reopens }, 'reopened the DuckDB instance'),
      () => undefined, // logged, and retried, by the store (onReopenFailed)
    );
  };
}

/**
 * The layout of spans and logs this version reads and writes, kept in the `layout` table. 2: resources
 * and scopes in their own tables (parts.ts), rows holding only their ids; attrs_flat holds the
 * record's own attributes. A file without the table but with spans was written by an older teleql.
 */
const LAYOUT_VERSION = 2;

/**
 * Commits a row, so that a file that opens but cannot be written fails start-up here. On an existing
 * file nothing else is committed before the first batch: a file in a directory where its WAL cannot
 * be created (`<file>.wal`) was served as ready while every acknowledged batch was dropped (storage QA).
 */
async function checkWritable(conn: DuckDBConnection, path: string): Promise<void> {
  try {
    // Inside the try: on a file of an earlier version this CREATE is the first write.
    await conn.run('CREATE TABLE IF NOT EXISTS last_open (opened_at TIMESTAMPTZ NOT NULL)');
    await conn.run('BEGIN');
    await conn.run('DELETE FROM last_open');
    await conn.run('INSERT INTO last_open VALUES (now())');
    await conn.run('COMMIT');
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw unavailable(
      `the DuckDB file ${path} opens but cannot be written (${toStoreError(err).message}); ` +
        'the gateway needs write access to the file and to its directory, where DuckDB creates the file\'s .wal beside it',
      err,
    );
  }
}

/**
 * Spans that end before they start were stored with a negative duration_ns before 41f8790 (now 0, as
 * Span.duration reads it): `minDuration: "0s"` left them out and latency quantiles went below 0. Set
 * to 0 where a file still holds them; the row groups' min/max let DuckDB skip the rest of the table.
 */
async function repairNegativeDurations(conn: DuckDBConnection): Promise<void> {
  await conn.run('UPDATE spans SET duration_ns = 0 WHERE duration_ns < 0');
}

async function checkLayout(conn: DuckDBConnection): Promise<void> {
  const tables = await runQuery(conn, `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' ORDER BY table_name`);
  const names = new Set(tables.map((t) => t.table_name as string));
  const refuse = (what: string, why: string) =>
    unavailable(`the DuckDB file was written by ${what} (store layout ${LAYOUT_VERSION} needed: ${why}); move it aside or point storage.duckdb.path at a new file`);
  if (!names.has('layout')) {
    if (names.has('spans') || names.has('logs')) throw refuse('an older teleql, or another program', 'resources and scopes kept once, not on every row');
    // Another program's database is left as it is, not given teleql's tables (QA round 38d).
    if (names.size > 0) {
      const shown = [...names].slice(0, 5).join(', ') + (names.size > 5 ? `, … (${names.size} tables)` : '');
      throw unavailable(`the DuckDB file holds tables teleql did not create (${shown}): another program's database, left as it is; point storage.duckdb.path at a new file`);
    }
    await conn.run('CREATE TABLE layout (version INTEGER NOT NULL)');
    await conn.run(`INSERT INTO layout VALUES (${LAYOUT_VERSION})`);
    return;
  }
  const [row] = await runQuery(conn, 'SELECT max(version) AS v FROM layout');
  const version = row?.v as number | null;
  if (version === null || version < LAYOUT_VERSION) throw refuse(`a teleql with store layout ${String(version)}`, 'resources and scopes kept once, not on every row');
  if (version > LAYOUT_VERSION) throw refuse(`a newer teleql (store layout ${version})`, 'this teleql cannot read a newer layout; run the newer teleql, the file is left as it is');
}
