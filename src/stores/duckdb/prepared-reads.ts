// Read statements are prepared once per read connection and run again with new parameters: the
// same few statements (trace-by-id, span lookups, searches of a given shape) come back on every
// request, and parsing, binding and planning them again cost ~1.5 ms of a ~10 ms trace lookup
// (bench/README.md, 2026-12-02). A read lane runs one statement at a time, so a connection's
// statements are never bound by two callers at once. Each connection keeps its most recent
// `max` statements; an evicted one is destroyed.
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

export type PreparedRun = (conn: DuckDBConnection, sql: string, params: readonly SqlParam[]) => Promise<Row[]>;

export function preparedReads(max = PREPARED_PER_CONNECTION): PreparedRun {
  const byConn = new WeakMap<DuckDBConnection, LRUCache<string, DuckDBPreparedStatement>>();
  return async (conn, sql, params) => {
    if (!params.length) return resultRows(await conn.run(sql));
    let cache = byConn.get(conn);
    if (!cache) {
      cache = new LRUCache<string, DuckDBPreparedStatement>({ max, dispose: (statement) => statement.destroySync() });
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
