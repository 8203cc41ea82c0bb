// Range compaction: keeps trace_ranges and log_trace_ranges sorted by (tenant, trace_key), so that
// trace-by-id reads a bounded part of them instead of the whole table. Trace IDs are random, so rows
// appended batch by batch put every key in every row group, and zone maps skip nothing.
//
// Each batch appends its ranges to the table itself, the tail (unsorted, small). Once the tail holds
// TAIL_ROWS rows, one transaction moves them into `<table>_sorted` as a new run, sorted. One INSERT of
// at least a row group's rows (the store's ROW_GROUP_SIZE) writes fresh row groups, so a run's row
// groups hold only its own keys and each lookup key falls in about one of them. Runs merge like a
// binary counter: while the newest run is at least as large as the one before it, the two are
// rewritten as one sorted run. So there are at most log2(rows / TAIL_ROWS) + 1 runs, each row is
// rewritten about that many times, and a lookup reads the tail plus about one row group per run.
//
// Each step (a move, or one merge) is one transaction, so a crash leaves the old layout or the new
// one, never half of each; nothing is kept across restarts (the tail and the runs are read from the
// tables). A move runs on the table's write lane, between ingest batches, as the tail is what the
// writer appends to. Merges touch only the sorted part and run on a lane of their own (RANGES_LANE,
// which retention also uses for the sorted parts): the largest merge rewrites most of the ranges
// (1–2 s at 1.3M rows, bench:query-ranges), and on the write lane every ingest batch would wait for it.
// A move's INSERT only appends to the sorted part, which never conflicts with a merge's DELETE.
// The steps are SQL statements that DuckDB runs on its own threads; the main thread only issues them,
// so compaction adds no synchronous step to the event loop (the writer's writeStepMs is not touched).
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Logger } from 'pino';
import type { MetricSample } from '../../server/metrics.ts';
import { runQuery, type Db, type Lane } from './connection.ts';
import { RANGE_COLUMNS, sortedRangeTable } from './trace-ranges.ts';

/** Tail rows that make a run: one row group (index.ts ROW_GROUP_SIZE), so each run starts its own row groups. */
export const TAIL_ROWS = 16_384;

/** The lane merges and retention's deletes of the sorted parts run on (index.ts opens it). */
export const RANGES_LANE = 'ranges';

/** Each ranges table and the write lane its rows are written on (the lane of the rows they describe). */
const RANGE_TABLES = [
  { table: 'trace_ranges', lane: 'spans' },
  { table: 'log_trace_ranges', lane: 'logs' },
] as const;

const SORT = 'ORDER BY tenant, trace_key';

interface Run {
  run: number;
  rows: number;
}

interface TableState {
  table: string;
  sorted: string;
  lane: string;
  /** Rows in the tail: counted at start, then per committed batch (an upper bound once retention deletes). */
  tailRows: number;
  /** The next run's id: runs are numbered in the order they are made, so the newest has the largest. */
  nextRun: number;
  running: Promise<void> | null;
  moves: number;
  merges: number;
  rowsRewritten: number;
  failures: number;
  /** Time its steps held their lanes (while a move holds the write lane, that table's ingest batches wait). */
  laneMs: number;
  longestStepMs: number;
}

export interface RangeCompaction {
  /** A batch committed `rows` rows to ranges table `table` (trace-ranges.ts RangesWritten). */
  written(table: string, rows: number): void;
  /** Resolves once no compaction step is queued or running. */
  idle(): Promise<void>;
  /** Runs the tables' runs and tail sizes (tests, benchmarks). */
  layout(): Promise<Record<string, { tailRows: number; runs: Run[] }>>;
  metrics(): MetricSample[];
  /** No new step starts; waits for the running one. */
  stop(): Promise<void>;
}

export interface RangeCompactionOptions {
  logger: Logger;
  /** Tail rows that make a run (tests use fewer; default TAIL_ROWS). */
  tailRows?: number;
}

async function runsOf(conn: DuckDBConnection, sorted: string): Promise<Run[]> {
  const rows = await runQuery(conn, `SELECT run, count(*) AS n FROM ${sorted} GROUP BY run ORDER BY run`);
  return rows.map((r) => ({ run: r.run as number, rows: Number(r.n) }));
}

/** One transaction: `write` (INSERTs and DELETEs), committed, or rolled back if any statement fails. */
async function inTransaction(conn: DuckDBConnection, write: () => Promise<number>): Promise<number> {
  await conn.run('BEGIN TRANSACTION');
  try {
    const rows = await write();
    await conn.run('COMMIT');
    return rows;
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

async function count(conn: DuckDBConnection, sql: string, params: number[] = []): Promise<number> {
  const [row] = await runQuery(conn, sql, params);
  return Number(row?.Count ?? row?.n ?? 0);
}

export function startRangeCompaction(db: Db, opts: RangeCompactionOptions): RangeCompaction {
  const { logger } = opts;
  const threshold = opts.tailRows ?? TAIL_ROWS;
  let stopped = false;
  // Set below: the tail sizes and run ids read from the tables, which every step waits for.
  let started: Promise<unknown> = Promise.resolve();
  const states = new Map<string, TableState>(
    RANGE_TABLES.map(({ table, lane }) => [
      table,
      { table, sorted: sortedRangeTable(table), lane, tailRows: 0, nextRun: 1, running: null, moves: 0, merges: 0, rowsRewritten: 0, failures: 0, laneMs: 0, longestStepMs: 0 },
    ]),
  );

  /** The tail, sorted, as a new run (the newest); the tail emptied. */
  async function move(conn: DuckDBConnection, t: TableState): Promise<void> {
    const next = t.nextRun++;
    const rows = await inTransaction(conn, async () => {
      const n = await count(conn, `INSERT INTO ${t.sorted} SELECT ${RANGE_COLUMNS}, $1 FROM ${t.table} ${SORT}`, [next]);
      await conn.run(`DELETE FROM ${t.table}`);
      return n;
    });
    t.tailRows = 0;
    t.moves++;
    t.rowsRewritten += rows;
  }

  /** The two newest runs as one, when the newer is at least as large as the older; false when none is due. */
  async function mergeOnce(conn: DuckDBConnection, t: TableState): Promise<boolean> {
    const runs = await runsOf(conn, t.sorted);
    const [older, newer] = runs.slice(-2);
    if (!older || !newer || newer.rows < older.rows) return false;
    const next = t.nextRun++;
    const rows = await inTransaction(conn, async () => {
      const n = await count(conn, `INSERT INTO ${t.sorted} SELECT ${RANGE_COLUMNS}, $1 FROM ${t.sorted} WHERE run IN ($2, $3) ${SORT}`, [next, older.run, newer.run]);
      await conn.run(`DELETE FROM ${t.sorted} WHERE run IN (${older.run}, ${newer.run})`);
      return n;
    });
    t.merges++;
    t.rowsRewritten += rows;
    return true;
  }

  /** `lane`, with the time each step holds it counted. */
  function timed(t: TableState, name: string): Lane {
    const lane = db.writeLane(name);
    return {
      use: (step) =>
        lane.use(async (conn) => {
          const t0 = performance.now();
          try {
            return await step(conn);
          } finally {
            const ms = performance.now() - t0;
            t.laneMs += ms;
            t.longestStepMs = Math.max(t.longestStepMs, ms);
          }
        }),
    };
  }

  /** Steps until the tail is under the threshold and no merge is due; each step queues behind its lane's work. */
  async function compact(t: TableState): Promise<void> {
    const writes = timed(t, t.lane);
    const merges = timed(t, RANGES_LANE);
    try {
      await started;
      for (;;) {
        while (!stopped && (await merges.use((conn) => mergeOnce(conn, t))));
        if (stopped || t.tailRows < threshold) return;
        await writes.use((conn) => move(conn, t));
      }
    } catch (err) {
      if (stopped || db.closed) return;
      t.failures++;
      logger.warn({ table: t.table, err: err instanceof Error ? err.message : String(err) }, 'range compaction failed; retried after the next batch');
    }
  }

  function kick(t: TableState): void {
    if (stopped || t.running) return;
    t.running = compact(t).finally(() => {
      t.running = null;
    });
  }

  // The tail's size is read once, on the lane (a file may hold a whole tail from an earlier version or run).
  started = Promise.all(
    [...states.values()].map(async (t) => {
      try {
        t.tailRows = await db.writeLane(t.lane).use((conn) => count(conn, `SELECT count(*) AS n FROM ${t.table}`));
        t.nextRun = 1 + (await db.writeLane(RANGES_LANE).use((conn) => count(conn, `SELECT coalesce(max(run), 0) AS n FROM ${t.sorted}`)));
      } catch (err) {
        logger.warn({ table: t.table, err: err instanceof Error ? err.message : String(err) }, 'range compaction could not read its tail');
        return;
      }
      kick(t);
    }),
  );

  async function idle(): Promise<void> {
    await started;
    for (;;) {
      const running = [...states.values()].map((t) => t.running).filter((r) => r !== null);
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  return {
    written(table, rows) {
      const t = states.get(table);
      if (!t) return;
      t.tailRows += rows;
      if (t.tailRows >= threshold) kick(t);
    },
    idle,
    async layout() {
      const out: Record<string, { tailRows: number; runs: Run[] }> = {};
      for (const t of states.values()) {
        out[t.table] = await db.writeLane(t.lane).use(async (conn) => ({
          tailRows: await count(conn, `SELECT count(*) AS n FROM ${t.table}`),
          runs: await runsOf(conn, t.sorted),
        }));
      }
      return out;
    },
    metrics() {
      const samples: MetricSample[] = [];
      for (const t of states.values()) {
        const labels = { table: t.table };
        samples.push(
          { name: 'teleql_range_compaction_moves_total', help: 'Ranges tails moved into a sorted run', type: 'counter', value: t.moves, labels },
          { name: 'teleql_range_compaction_merges_total', help: 'Pairs of sorted ranges runs merged into one', type: 'counter', value: t.merges, labels },
          { name: 'teleql_range_compaction_rows_total', help: 'Ranges rows written by compaction (moves and merges)', type: 'counter', value: t.rowsRewritten, labels },
          { name: 'teleql_range_compaction_failures_total', help: 'Compaction steps that failed (retried after the next batch)', type: 'counter', value: t.failures, labels },
          { name: 'teleql_range_compaction_seconds_total', help: 'Time compaction steps held their lanes (moves: the table\'s write lane; merges: their own)', type: 'counter', value: t.laneMs / 1000, labels },
          { name: 'teleql_range_compaction_longest_step_seconds', help: 'The longest a compaction step held its lane', type: 'gauge', value: t.longestStepMs / 1000, labels },
        );
      }
      return samples;
    },
    async stop() {
      stopped = true;
      await idle().catch(() => undefined);
    },
  };
}
