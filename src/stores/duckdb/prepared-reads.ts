// Read statements are prepared once per read connection and run again with new parameters: the
// same few statements (trace-by-id, span lookups, searches of a given shape) come back on every
// request, and parsing, binding and planning them again cost ~1.5 ms of a ~10 ms trace lookup
// (bench/README.md, 2026-12-02). A read lane runs one statement at a time, so a connection's
// statements are never bound by two callers at once. Each connection keeps its most recent
// `max` statements, and at most PREPARED_SQL_CHARS_PER_CONNECTION of their SQL text; an evicted one
// is destroyed. The text is what the client controls: a statement's plan grows with it (a filter of
// 10,000 `in` values is ~220,000 characters and took ~46 MB of native memory to prepare), so a count
// alone let 64 such statements stay. A statement over PREPARED_SQL_CHARS_PER_STATEMENT is prepared,
// run once and destroyed: only huge filters make one, and they seldom come back.
//
// Statements without parameters are not kept: DuckDB (1.4.5 to 1.5.6 at least) re-plans a prepared
// statement at each run only when it has parameters, so a parameterless one keeps a plan built on
// the column statistics of its first run. With ORDER BY, that plan reads rows written since then
// wrongly: garbage strings after a first run on an empty table, a segmentation fault after values
// outside the first run's range (test/unit/stores/duckdb-prepared-reads.test.ts).
import type { DuckDBConnection, DuckDBPreparedStatement } from '@duckdb/node-api';
import { LRUCache } from 'lru-cache';
import { bindParams, resultRows, type Row, type SqlParam } from './connection.ts';

export const PREPARED_PER_CONNECTION = 64;
/** Our own statements are a few thousand characters; 64 of the largest searches fit. */
export const PREPARED_SQL_CHARS_PER_CONNECTION = 1024 * 1024;
export const PREPARED_SQL_CHARS_PER_STATEMENT = 64 * 1024;

export type PreparedRun = (conn: DuckDBConnection, sql: string, params: readonly SqlParam[]) => Promise<Row[]>;

export function preparedReads(
  max = PREPARED_PER_CONNECTION,
  maxChars = PREPARED_SQL_CHARS_PER_CONNECTION,
  maxStatementChars = PREPARED_SQL_CHARS_PER_STATEMENT,
): PreparedRun {
  const byConn = new WeakMap<DuckDBConnection, LRUCache<string, DuckDBPreparedStatement>>();
  return async (conn, sql, params) => {
    if (!params.length) return resultRows(await conn.run(sql));
    if (sql.length > maxStatementChars) return runOnce(conn, sql, params);
    let cache = byConn.get(conn);
    if (!cache) {
      cache = new LRUCache<string, DuckDBPreparedStatement>({
        max,
        maxSize: maxChars,
        maxEntrySize: maxStatementChars,
        sizeCalculation: (_statement, text) => Math.max(1, text.length),
        dispose: (statement) => statement.destroySync(),
      });
      byConn.set(conn, cache);
    }
    let statement = cache.get(sql);
    if (!statement) {
      statement = await conn.prepare(sql); // a statement that fails to prepare is not kept
      cache.set(sql, statement);
    }
    try {
      const { values, types } = bindParams(params);
      statement.bind(values, types);
      return resultRows(await statement.run());
    } catch (err) {
      cache.delete(sql); // failed or interrupted: prepared afresh next time
      throw err;
    }
  };
}

/** A statement too large to keep: prepared, run and destroyed (its native memory goes with it). */
async function runOnce(conn: DuckDBConnection, sql: string, params: readonly SqlParam[]): Promise<Row[]> {
  const statement = await conn.prepare(sql);
  try {
    const { values, types } = bindParams(params);
    statement.bind(values, types);
    return resultRows(await statement.run());
  } finally {
    statement.destroySync();
  }
}
