// trace_ranges: per tenant and trace, the span start times a batch wrote (one row per trace per
// batch, aggregated in JS, appended in the batch's own transaction). Trace-by-id joins its IDs' rows
// here with spans on `start_ns BETWEEN min AND max`: DuckDB's row-group zone maps on start_ns skip
// every row group outside that range, so the scan of spans touches a row group or two, not all.
// The table is on disk like spans (no index held in memory), about a tenth of spans' rows, and
// retention deletes its rows with the spans they describe (retention.ts).
//
// log_trace_ranges is the same for logs: per tenant and trace, the log times (time_ns) a batch wrote,
// in the columns of the same names, so logs-by-trace skips row groups the same way.
import type { LogRecord, SpanRecord } from '../../model/telemetry.ts';
import type { DuckDBConnection } from '@duckdb/node-api';
import { keptAppender, runQuery } from './connection.ts';
import { buildChunks, createTableSql, stagedTypes, type TableSpec } from './ddl.ts';
import type { CompanionRows } from './writer.ts';
import type { Params } from './filter-sql.ts';
import { traceIdsSql, traceKey } from './trace-key.ts';

export interface TraceRange {
  tenant: string;
  traceId: string;
  minStartNs: bigint;
  maxStartNs: bigint;
}

function rangeTable(name: string): TableSpec<TraceRange> {
  return {
    name,
    indexes: [],
    columns: [
      { name: 'tenant', type: 'VARCHAR NOT NULL', get: (r) => r.tenant },
      { name: 'trace_key', type: 'INTEGER NOT NULL', get: (r) => traceKey(r.traceId) },
      { name: 'trace_id', type: 'VARCHAR NOT NULL', get: (r) => r.traceId },
      { name: 'min_start_ns', type: 'BIGINT NOT NULL', get: (r) => r.minStartNs },
      { name: 'max_start_ns', type: 'BIGINT NOT NULL', get: (r) => r.maxStartNs },
    ],
  };
}

export const traceRangeTable = rangeTable('trace_ranges');
export const logTraceRangeTable = rangeTable('log_trace_ranges');

/** What a range is made of: a record's trace ID ('' for none) and the time its table is sorted by. */
interface RangeSource<R> {
  traceId(r: R): string;
  time(r: R): bigint;
}

const SPAN_SOURCE: RangeSource<SpanRecord> = { traceId: (s) => s.traceId, time: (s) => s.startTimeUnixNano };
/** The logs table's time_ns (log-rows.ts). */
const LOG_SOURCE: RangeSource<LogRecord> = { traceId: (l) => l.traceId, time: (l) => (l.timeUnixNano === 0n ? l.observedTimeUnixNano : l.timeUnixNano) };

function ranges<R extends { tenant: string }>(records: readonly R[], source: RangeSource<R>): TraceRange[] {
  const byTrace = new Map<string, TraceRange>();
  for (const rec of records) {
    const traceId = source.traceId(rec);
    if (traceId === '') continue;
    const t = source.time(rec);
    const key = `${rec.tenant}\u0000${traceId}`;
    const r = byTrace.get(key);
    if (!r) byTrace.set(key, { tenant: rec.tenant, traceId, minStartNs: t, maxStartNs: t });
    else if (t < r.minStartNs) r.minStartNs = t;
    else if (t > r.maxStartNs) r.maxStartNs = t;
  }
  return [...byTrace.values()];
}

/** One range per tenant and trace in `spans`. */
export function traceRanges(spans: readonly SpanRecord[]): TraceRange[] {
  return ranges(spans, SPAN_SOURCE);
}

/** Appends a span batch's ranges in the batch's own transaction (the spans writer's connection). */
export function traceRangeRows(): CompanionRows<SpanRecord> {
  return rangeRows(traceRangeTable, SPAN_SOURCE);
}

/** The same for a log batch, into log_trace_ranges. */
export function logTraceRangeRows(): CompanionRows<LogRecord> {
  return rangeRows(logTraceRangeTable, LOG_SOURCE);
}

function rangeRows<R extends { tenant: string }>(table: TableSpec<TraceRange>, source: RangeSource<R>): CompanionRows<R> {
  const types = stagedTypes(table);
  const kept = keptAppender((conn) => conn.createAppender(table.name));
  return {
    async append(conn, records) {
      const all = ranges(records, source);
      if (all.length === 0) return;
      const appender = await kept.on(conn);
      for (const chunk of buildChunks(table.columns, types, all)) appender.appendDataChunk(chunk);
      appender.flushSync();
    },
    reset: kept.drop,
  };
}

/**
 * Creates the tables (after spans and logs). A file from an earlier version has spans but no ranges:
 * they are filled in once, here, from the rows themselves.
 */
export async function createTraceRangeTable(conn: DuckDBConnection): Promise<void> {
  const fills = [
    { table: traceRangeTable, from: 'SELECT tenant, trace_key, trace_id, min(start_ns), max(start_ns) FROM spans GROUP BY tenant, trace_key, trace_id' },
    {
      table: logTraceRangeTable,
      from: 'SELECT tenant, trace_key, trace_id, min(time_ns), max(time_ns) FROM logs WHERE trace_id IS NOT NULL GROUP BY tenant, trace_key, trace_id',
    },
  ];
  for (const { table, from } of fills) {
    const existing = await runQuery(
      conn,
      `SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = '${table.name}'`,
    );
    if (existing.length) continue;
    for (const sql of createTableSql(table)) await conn.run(sql);
    await conn.run(`INSERT INTO ${table.name} ${from}`);
  }
}

/**
 * A one-row subquery `(lo, hi)`: the times `table` (trace_ranges or log_trace_ranges) holds for
 * lowercase `ids` of tenant $1 (NULLs if none).
 */
export function traceRangeSql(ids: readonly string[], p: Params, table = 'trace_ranges'): string {
  return `(SELECT min(min_start_ns) AS lo, max(max_start_ns) AS hi FROM ${table} WHERE ${traceIdsSql(ids, p.add)} AND tenant = $1)`;
}
