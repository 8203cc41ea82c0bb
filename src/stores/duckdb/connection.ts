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
  type DuckDBConnection,
  type DuckDBMaterializedResult,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import { toStoreError, unavailable } from './errors.ts';
import { interruptible } from './interrupt.ts';
import { preparedReads } from './prepared-reads.ts';
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
}

interface QueuedLane extends Lane {
  readonly conn: DuckDBConnection;
  readonly pending: number;
  idle(): Promise<void>;
}

function createLane(conn: DuckDBConnection, isClosing: () => boolean, measure: <T>(run: () => Promise<T>) => Promise<T>): QueuedLane {
  let tail: Promise<unknown> = Promise.resolve();
  let pending = 0;
  return {
    conn,
    get pending() {
      return pending;
    },
    use<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
      if (isClosing()) return Promise.reject(unavailable('the DuckDB store is closed'));
      pending++;
      const run = tail.then(() => measure(() => fn(conn))).finally(() => pending--);
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

async function openInstance(opts: DbOptions, onClosed: () => void): Promise<Db> {
  const config: Record<string, string> = {};
  if (opts.threads) config.threads = String(opts.threads);
  if (opts.memoryLimit) config.memory_limit = opts.memoryLimit;
  // Past memory_limit DuckDB spills to temp_directory, by default `.tmp` in the working directory
  // (the instance itself is in-memory): keep a file store's spill files beside its file.
  if (opts.path !== ':memory:') config.temp_directory = `${resolve(opts.path)}.tmp`;
  let instance: DuckDBInstance;
  const conns: DuckDBConnection[] = [];
  try {
    if (opts.path !== ':memory:') await mkdir(dirname(opts.path), { recursive: true });
    // A file is attached (rather than opened directly) so that its row-group size can be set.
    instance = await DuckDBInstance.create(':memory:', config);
  } catch (err) {
    throw toStoreError(err);
  }
  const attached = opts.path !== ':memory:';
  const connect = async (): Promise<DuckDBConnection> => {
    const conn = await instance.connect();
    conns.push(conn);
    if (attached) await conn.run(`USE ${DB_ALIAS}`);
    return conn;
  };
  let closing = false;
  let shutdownDone: Promise<void> | null = null;
  const isClosing = () => closing;
  const writeLanes = new Map<string, QueuedLane>();
  const readConns: DuckDBConnection[] = [];
  const shares = createShares();
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
    const first = await connect();
    await opts.setup(first);
    for (const table of opts.writeTables) {
      const conn = await connect();
      await opts.setupWriteLane(conn, table);
      writeLanes.set(table, createLane(conn, isClosing, (run) => shares.measure(run).then((r) => r.value)));
    }
    for (let i = 0; i < (opts.readLanes ?? 3); i++) readConns.push(await connect());
  } catch (err) {
    for (const c of conns) c.closeSync();
    instance.closeSync();
    throw toStoreError(err);
  }
  const [ddlConn] = conns; // also the one that checkpoints on close
  const reads: FairLanes<DuckDBConnection> = createFairLanes(readConns, shares);
  const runRead = preparedReads();

  async function shutdown(): Promise<void> {
    closing = true;
    await Promise.all([...[...writeLanes.values()].map((l) => l.idle()), reads.idle()]);
    try {
      if (opts.path !== ':memory:') await ddlConn!.run('CHECKPOINT');
    } finally {
      for (const c of conns) c.closeSync();
      instance.closeSync();
      onClosed();
    }
  }

  return {
    get closed() {
      return closing;
    },
    query(sql, params = []) {
      if (closing) return Promise.reject(unavailable('the DuckDB store is closed'));
      const meter = currentQueryMeter();
      // The meter gets the statement's share of DuckDB once a lane is ours, not its wait for one.
      return reads.run(meter?.tenant ?? '', (conn) => interruptible(conn, () => runRead(conn, sql, params))).then(
        ({ value, shareMs }) => {
          if (meter) meter.ms += shareMs;
          return value;
        },
        (err: unknown) => {
          throw toStoreError(err);
        },
      );
    },
    readStats: () => reads.stats(),
    writeLane(table) {
      const lane = writeLanes.get(table);
      if (!lane) throw new Error(`no write lane for ${table}`);
      return lane;
    },
    close() {
      shutdownDone ??= shutdown().catch((err: unknown) => {
        throw toStoreError(err);
      });
      return shutdownDone;
    },
  };
}
