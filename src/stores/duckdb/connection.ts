// The DuckDB instance and its connections. A DuckDB connection runs one statement at a time (the
// Node binding crashes when two overlap), while separate connections run in parallel on libuv
// threads. So each connection is a "lane" that queues its callers: one lane per written table,
// so tables are written in parallel and each table's writes are serialised, and a small pool of
// read lanes, so a long read blocks neither writes nor other reads. Read lanes are handed out per
// tenant, fairly (src/limits/fair-lanes.ts), so one tenant's reads cannot queue another's.
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  DuckDBInstance,
  JSDuckDBValueConverter,
  LIST,
  VARCHAR,
  listValue,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBMaterializedResult,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import { invalidatesDatabase, outOfMemory, toStoreError, unavailable } from './errors.ts';
import { interruptible } from './interrupt.ts';
import { preparedReads } from './prepared-reads.ts';
import { MAX_PAGE_SIZE } from '../page-cursor.ts';
import { currentQueryMeter } from '../../limits/query-time.ts';
import { createFairLanes, createShares, type FairLanes, type LaneStats } from '../../limits/fair-lanes.ts';

export type SqlParam = string | number | bigint | boolean | null | readonly string[];
export type Row = Record<string, unknown>;

export interface Lane {
  /** Runs fn once every earlier caller of this lane is done. */
  use<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T>;
}

export interface Db {
  /**
   * One read statement on a read lane, when it is the current request's tenant's turn (fair-lanes.ts);
   * its share of DuckDB is added to the request's meter. Errors come back as StoreError.
   */
  query(sql: string, params?: readonly SqlParam[]): Promise<Row[]>;
  /** Per tenant: read statements, their wait for a lane, running time and share (for benchmarks). */
  readStats(): Map<string, LaneStats>;
  writeLane(table: string): Lane;
  readonly closed: boolean;
  /**
   * Closes the DuckDB instance and opens the file again on a new one, with new connections in the
   * same lanes; callers meanwhile wait, nothing fails. DuckDB keeps native memory for every row group
   * an instance has written until the instance closes (docs/storage.md, Retention and memory): this gives it back.
   * Resolves at once for ':memory:' (closing would lose the data). One at a time.
   */
  reopen(): Promise<void>;
  /** Reopens done since the store was opened. */
  readonly reopens: number;
  /** ':memory:': nothing to reopen from, so reopen() does nothing. */
  readonly inMemory: boolean;
  /**
   * Why the store serves nothing now: a reopen failed (a full disk, a file moved away), and it is
   * tried again with backoff until it succeeds or the store is closed. Null while the store serves.
   */
  readonly reopenFailure: Error | null;
  /** Read statements running or waiting for a lane now (a reopen would wait for the running ones). */
  readsInFlight(): number;
  /** Reads that ran out of DuckDB's memory and were run again once the read lanes were quiet, and those that failed again. */
  readonly outOfMemoryReads: { retried: number; failedAgain: number };
  /** Waits for queued work, checkpoints, and closes; safe to call twice. */
  close(): Promise<void>;
}

export interface DbOptions {
  path: string;
  /**
   * Row-group size of a file database. A transaction that appends at least this many rows has its
   * row groups written straight to the file (only pointers go to the WAL); smaller ones are written
   * to the WAL and again at the next checkpoint, which costs about twice as much per row.
   */
  rowGroupSize?: number;
  threads?: number;
  memoryLimit?: string;
  /** Read connections (default 3); one tenant holds at most all but one of them. */
  readLanes?: number;
  writeTables: readonly string[];
  /** Runs once on a fresh write connection before any lane is used (DDL). */
  setup(conn: DuckDBConnection): Promise<void>;
  /** Runs once on each write lane's connection (its temp staging table). */
  setupWriteLane(conn: DuckDBConnection, table: string): Promise<void>;
  /** Told when a statement found the database invalidated and the instance is being reopened for it. */
  onInvalidated?(err: unknown): void;
  /** Told when a reopen (or a retry of one) failed: the store serves nothing until the retry in `retryInMs` succeeds. */
  onReopenFailed?(err: unknown, retry: { attempt: number; retryInMs: number }): void;
  /** Told when a retried reopen succeeded after `attempts` failures: the store serves again. */
  onReopenRecovered?(attempts: number): void;
  /** Told when a read ran out of DuckDB's memory and is to run again once the read lanes are quiet. */
  onOutOfMemory?(err: unknown): void;
}

/** A lane's connection; a reopen puts a new one in the same slot. */
interface Slot {
  conn: DuckDBConnection;
}

interface QueuedLane extends Lane {
  readonly slot: Slot;
  idle(): Promise<void>;
}

interface LaneState {
  readonly closing: boolean;
  /** Resolved except while a reopen runs. */
  readonly gate: Promise<void>;
  /** Why a reopen failed: the store serves nothing until a retry of it succeeds (Db.reopenFailure). */
  readonly failure: Error | null;
  /** Told every error a lane's work fails with (a reopen follows one that invalidated the database). */
  readonly failed: (err: unknown) => void;
}

const OPEN: Promise<void> = Promise.resolve();
/** How long a read that ran out of DuckDB's memory waits for the other reads to finish before it runs again anyway. */
const RETRY_QUIET_MS = 2_000;
/**
 * A failed reopen is tried again after 1 s, doubling up to 30 s: a full disk that is given space
 * again brings the store back without a restart (storage QA: it stayed closed for good, every
 * acknowledged batch dropped). DuckDB's own leftovers of a failed WAL replay (`.wal.checkpoint`,
 * `.wal.recovery`) make one more attempt fail; that attempt removes them (docs/known-gaps.md).
 */
const REOPEN_RETRY = { firstMs: 1_000, maxMs: 30_000 };

/**
 * Callers queue in order; each waits for `state.gate` as it was when it queued, so work queued during a
 * reopen runs on the new connection and work queued before it drains on the old one.
 */
function createLane(slot: Slot, state: LaneState, measure: <T>(run: () => Promise<T>) => Promise<T>): QueuedLane {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    slot,
    use<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
      if (state.closing) return Promise.reject(unavailable('the DuckDB store is closed'));
      if (state.failure) return Promise.reject(state.failure);
      const open = state.gate;
      const run = tail
        .then(() => open)
        .then(() => {
          if (state.failure) throw state.failure;
          return measure(() => fn(slot.conn));
        });
      run.catch(state.failed);
      tail = run.catch(() => undefined);
      return run;
    },
    idle: () => tail.then(() => undefined),
  };
}

/** Binds each value with an explicit type: the binding would make a bigint a HUGEINT. */
export function bindParams(params: readonly SqlParam[]): { values: DuckDBValue[]; types: DuckDBType[] } {
  const values: DuckDBValue[] = [];
  const types: DuckDBType[] = [];
  for (const p of params) {
    if (typeof p === 'bigint') {
      values.push(p);
      types.push(BIGINT);
    } else if (typeof p === 'number') {
      values.push(Number.isSafeInteger(p) ? BigInt(p) : p);
      types.push(Number.isSafeInteger(p) ? BIGINT : DOUBLE);
    } else if (typeof p === 'boolean') {
      values.push(p);
      types.push(BOOLEAN);
    } else if (Array.isArray(p)) {
      values.push(listValue([...p]));
      types.push(LIST(VARCHAR));
    } else {
      values.push(p as string | null);
      types.push(VARCHAR);
    }
  }
  return { values, types };
}

export async function runQuery(conn: DuckDBConnection, sql: string, params: readonly SqlParam[] = []): Promise<Row[]> {
  const { values, types } = bindParams(params);
  return resultRows(params.length ? await conn.run(sql, values, types) : await conn.run(sql));
}

/**
 * The rows of a statement's result as objects of JS values (what `getRowObjectsJS` gives). A
 * statement's result is materialized when `run` resolves, so its chunks are taken synchronously
 * here; `runAndReadAll` would fetch each chunk, and then the end, on the thread pool: two more
 * round trips through libuv per statement for a trace lookup's one chunk.
 */
export function resultRows(result: DuckDBMaterializedResult): Row[] {
  const names = result.deduplicatedColumnNames();
  const rows: Row[] = [];
  for (let i = 0, chunks = result.chunkCount; i < chunks; i++) {
    const chunk = result.getChunk(i);
    const vectors = names.map((_, column) => chunk.getColumnVector(column));
    for (let r = 0, count = chunk.rowCount; r < count; r++) {
      const row: Row = {};
      for (let c = 0; c < vectors.length; c++) {
        const vector = vectors[c]!;
        row[names[c]!] = JSDuckDBValueConverter(vector.getItem(r), vector.type, JSDuckDBValueConverter);
      }
      rows.push(row);
    }
  }
  return rows;
}

const DB_ALIAS = 'teleql';
const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

// DuckDB's file lock is per process, so a second instance on an open file would succeed and the
// two would overwrite each other's writes. Refuse it instead.
const openFiles = new Set<string>();

export async function openDb(opts: DbOptions): Promise<Db> {
  const file = opts.path === ':memory:' ? null : resolve(opts.path);
  if (file && openFiles.has(file)) throw unavailable(`${file} is already open in this process`);
  if (file) openFiles.add(file);
  try {
    return await openInstance(opts, () => file && openFiles.delete(file));
  } catch (err) {
    if (file) openFiles.delete(file);
    throw err;
  }
}

/** A DuckDB instance with the store's file attached, and the connections made on it. */
interface Instance {
  connect(): Promise<DuckDBConnection>;
  /** Checkpoints a file store (unless told not to), then closes every connection and the instance; safe to call twice. */
  close(checkpoint?: boolean): Promise<void>;
}

async function startInstance(opts: DbOptions): Promise<Instance> {
  const config: Record<string, string> = {};
  if (opts.threads) config.threads = String(opts.threads);
  if (opts.memoryLimit) config.memory_limit = opts.memoryLimit;
  // A page (ORDER BY … LIMIT first + 1) sorts its rows' keys first and reads their other columns
  // after, for the page's rows only. DuckDB does that only up to 50 rows by default; above, its top-N
  // carries every column of each 2,048-row vector it scans, and vectors of 15 KB attributes or log
  // bodies (LLM prompts) ran out of the 64 MB memoryLimit at `first: 200` (session 24).
  config.late_materialization_max_rows = String(MAX_PAGE_SIZE + 1);
  const attached = opts.path !== ':memory:';
  // Past memory_limit DuckDB spills to temp_directory, by default `.tmp` in the working directory
  // (the instance itself is in-memory): keep a file store's spill files beside its file.
  if (attached) config.temp_directory = `${resolve(opts.path)}.tmp`;
  if (attached) await mkdir(dirname(opts.path), { recursive: true });
  // A file is attached (rather than opened directly) so that its row-group size can be set.
  const instance = await DuckDBInstance.create(':memory:', config);
  const conns: DuckDBConnection[] = [];
  let closed = false;
  const closeAll = () => {
    if (closed) return;
    closed = true;
    for (const c of conns) c.closeSync();
    instance.closeSync();
  };
  try {
    if (attached) {
      const rowGroups = opts.rowGroupSize ? `, ROW_GROUP_SIZE ${Math.trunc(opts.rowGroupSize)}` : '';
      const boot = await instance.connect();
      try {
        await boot.run(`ATTACH ${sqlString(resolve(opts.path))} AS ${DB_ALIAS} (TYPE duckdb${rowGroups})`);
      } finally {
        boot.closeSync();
      }
    }
  } catch (err) {
    closeAll();
    throw err;
  }
  return {
    async connect() {
      const conn = await instance.connect();
      conns.push(conn);
      if (attached) await conn.run(`USE ${DB_ALIAS}`);
      return conn;
    },
    async close(checkpoint = true) {
      try {
        if (checkpoint && !closed && attached && conns[0]) await conns[0].run('CHECKPOINT');
      } finally {
        closeAll();
      }
    },
  };
}

async function openInstance(opts: DbOptions, onClosed: () => void): Promise<Db> {
  const attached = opts.path !== ':memory:';
  // A statement that found the database invalidated (a checkpoint failed, e.g. out of memory)
  // reopens it: the commits before it are durable in the WAL, which the new instance replays.
  const failed = (err: unknown) => {
    if (!invalidatesDatabase(err) || !attached || state.closing || state.failure || reopening) return;
    opts.onInvalidated?.(err);
    void requestReopen().catch(() => undefined);
  };
  const state = { closing: false, gate: OPEN, failure: null as Error | null, failed };
  let shutdownDone: Promise<void> | null = null;
  let reopening: Promise<void> | null = null;
  function requestReopen(): Promise<void> {
    if (!attached || state.closing) return Promise.resolve();
    if (state.failure) return Promise.reject(state.failure); // being retried already
    reopening ??= reopen().finally(() => {
      reopening = null;
    });
    return reopening;
  }
  let reopens = 0;
  const shares = createShares();
  const measureWrite = <T>(run: () => Promise<T>) => shares.measure(run).then((r) => r.value);
  const writeLanes = new Map<string, QueuedLane>();
  const readSlots: Slot[] = [];
  let instance: Instance;
  try {
    instance = await startInstance(opts);
  } catch (err) {
    throw toStoreError(err);
  }
  // Connects every lane's slot on `instance` (a reopen does it again on the new one).
  async function connectLanes(first: boolean): Promise<void> {
    for (const table of opts.writeTables) {
      const conn = await instance.connect();
      await opts.setupWriteLane(conn, table);
      const lane = writeLanes.get(table);
      if (lane) lane.slot.conn = conn;
      else writeLanes.set(table, createLane({ conn }, state, measureWrite));
    }
    for (let i = 0; i < (opts.readLanes ?? 3); i++) {
      const conn = await instance.connect();
      if (first) readSlots.push({ conn });
      else readSlots[i]!.conn = conn;
    }
  }
  try {
    await opts.setup(await instance.connect()); // the first connection: DDL, and the checkpoint on close
    await connectLanes(true);
  } catch (err) {
    await instance.close(false);
    throw toStoreError(err);
  }
  const reads: FairLanes<Slot> = createFairLanes(readSlots, shares);
  const runRead = preparedReads();
  const drained = () => Promise.all([...[...writeLanes.values()].map((l) => l.idle()), reads.idle()]);

  // DuckDB's memory (memoryLimit) is one pool for every statement: a read that ran out of it (beside
  // others, as several pages of 15 KB prompts at once) is run once more when the read lanes are
  // quiet (or after RETRY_QUIET_MS), such retries one at a time. Other reads are not held back: a
  // tenant whose statements run out of memory anyway cannot stall the others' by it. One that fails
  // again fails (its error names memoryLimit).
  let retries: Promise<unknown> = OPEN;
  const outOfMemoryReads = { retried: 0, failedAgain: 0 };
  function retryWhenQuiet<T>(read: () => Promise<T>): Promise<T> {
    const run = retries.then(async () => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([reads.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, RETRY_QUIET_MS)))]);
      clearTimeout(timer);
      await state.gate;
      if (state.failure) throw state.failure;
      return read();
    });
    retries = run.catch(() => undefined);
    return run;
  }

  async function reopen(): Promise<void> {
    let open!: () => void;
    state.gate = new Promise<void>((resolve) => (open = resolve));
    try {
      await drained();
      // An invalidated database cannot checkpoint: what it committed is in the WAL, replayed below.
      await instance.close().catch(() => undefined);
      await attachAgain();
    } catch (err) {
      reopenFailed(err);
      throw state.failure;
    } finally {
      state.gate = OPEN;
      open();
    }
  }

  /** A new instance on the file, its connections put in the lanes' slots. */
  async function attachAgain(): Promise<void> {
    instance = await startInstance(opts);
    try {
      await instance.connect(); // DDL connection: the checkpoint on close runs on it
      await connectLanes(false);
    } catch (err) {
      await instance.close(false).catch(() => undefined);
      throw err;
    }
    reopens++;
  }

  // While a reopen has failed: every statement fails with state.failure at once (UNAVAILABLE, so
  // the writer's batches are retried and the app refuses OTLP and answers /readyz 503 meanwhile),
  // and the reopen is tried again with backoff.
  let retryAttempts = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let retrying: Promise<void> | null = null;
  function reopenFailed(err: unknown): void {
    retryAttempts++;
    state.failure = unavailable(`the DuckDB store could not be reopened (${toStoreError(err).message}); it is tried again until it succeeds`, err);
    if (state.closing) return;
    const retryInMs = Math.min(REOPEN_RETRY.maxMs, REOPEN_RETRY.firstMs * 2 ** Math.min(retryAttempts - 1, 16));
    opts.onReopenFailed?.(err, { attempt: retryAttempts, retryInMs });
    retryTimer = setTimeout(() => {
      retrying = attachAgain()
        .then(
          () => {
            const attempts = retryAttempts;
            state.failure = null;
            retryAttempts = 0;
            opts.onReopenRecovered?.(attempts);
          },
          (again: unknown) => reopenFailed(again),
        )
        .finally(() => (retrying = null));
    }, retryInMs);
    retryTimer.unref();
  }

  async function shutdown(): Promise<void> {
    if (reopening) await reopening.catch(() => undefined);
    state.closing = true;
    clearTimeout(retryTimer);
    await retrying;
    try {
      if (state.failure) {
        // No instance is open (a failed attach closed its own): nothing to drain or checkpoint.
        await instance.close(false).catch(() => undefined);
        return;
      }
      await drained();
      await instance.close();
    } finally {
      onClosed();
    }
  }

  return {
    get closed() {
      return state.closing;
    },
    query(sql, params = []) {
      if (state.closing) return Promise.reject(unavailable('the DuckDB store is closed'));
      if (state.failure) return Promise.reject(state.failure);
      const meter = currentQueryMeter();
      const read = () => reads.run(meter?.tenant ?? '', (slot) => interruptible(slot.conn, () => runRead(slot.conn, sql, params)));
      // During a reopen a read waits for the new instance.
      const gated = state.gate;
      const running =
        gated === OPEN
          ? read()
          : gated.then(() => {
              if (state.failure) throw state.failure;
              return read();
            });
      // The meter gets the statement's share of DuckDB once a lane is ours, not its wait for one.
      const done = ({ value, shareMs }: { value: Row[]; shareMs: number }) => {
        if (meter) meter.ms += shareMs;
        return value;
      };
      const fail = (err: unknown): never => {
        failed(err);
        throw toStoreError(err);
      };
      return running.then(done, (err: unknown) => {
        if (!outOfMemory(err)) return fail(err);
        outOfMemoryReads.retried++;
        opts.onOutOfMemory?.(err);
        return retryWhenQuiet(read).then(done, (again: unknown) => {
          if (outOfMemory(again)) outOfMemoryReads.failedAgain++;
          return fail(again);
        });
      });
    },
    get outOfMemoryReads() {
      return { ...outOfMemoryReads };
    },
    readStats: () => reads.stats(),
    writeLane(table) {
      const lane = writeLanes.get(table);
      if (!lane) throw new Error(`no write lane for ${table}`);
      return lane;
    },
    reopen: requestReopen,
    inMemory: !attached,
    get reopens() {
      return reopens;
    },
    get reopenFailure() {
      return state.closing ? null : state.failure;
    },
    readsInFlight: () => reads.running() + reads.waiting(),
    close() {
      shutdownDone ??= shutdown().catch((err: unknown) => {
        throw toStoreError(err);
      });
      return shutdownDone;
    },
  };
}

export interface KeptAppender {
  /** The appender on `conn`: the one kept, or a new one when there is none or it was made on another connection. */
  on(conn: DuckDBConnection): Promise<DuckDBAppender>;
  /** After a rollback: the appender may hold rows of the failed transaction, so the next use makes a new one. */
  drop(): void;
}

/**
 * An appender kept between a lane's transactions. It belongs to the connection it was made on, so
 * after a reopen (`Db.reopen`), which gives the lane a new connection, the next use makes a new one.
 */
export function keptAppender(make: (conn: DuckDBConnection) => Promise<DuckDBAppender>): KeptAppender {
  let held: { conn: DuckDBConnection; appender: DuckDBAppender } | null = null;
  const drop = () => {
    try {
      held?.appender.clear();
      held?.appender.closeSync();
    } catch {
      // a failed flush, or a closed connection, may already have invalidated it
    }
    held = null;
  };
  return {
    async on(conn) {
      if (held?.conn !== conn) {
        drop();
        held = { conn, appender: await make(conn) };
      }
      return held.appender;
    },
    drop,
  };
}
