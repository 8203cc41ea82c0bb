// trace_ranges: per tenant and trace, the span start times a batch wrote (one row per trace per
// batch, aggregated in JS, appended in the batch's own transaction). Trace-by-id joins its IDs' rows
// here with spans on `start_ns BETWEEN min AND max`: DuckDB's row-group zone maps on start_ns skip
// every row group outside that range, so the scan of spans touches a row group or two, not all.
// The table is on disk like spans (no index held in memory), about a tenth of spans' rows, and
// retention deletes its rows with the spans they describe (retention.ts).
import type { SpanRecord } from '../../model/telemetry.ts';
import { DuckDBDataChunk, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import { runQuery } from './connection.ts';
import { createTableSql, stagedTypes, type TableSpec } from './ddl.ts';
import type { CompanionRows } from './writer.ts';
import type { Params } from './filter-sql.ts';
import { traceIdsSql, traceKey } from './trace-key.ts';

export interface TraceRange {
  tenant: string;
  traceId: string;
  minStartNs: bigint;
  maxStartNs: bigint;
}

export const traceRangeTable: TableSpec<TraceRange> = {
  name: 'trace_ranges',
  indexes: [],
  columns: [
    { name: 'tenant', type: 'VARCHAR NOT NULL', get: (r) => r.tenant },
    { name: 'trace_key', type: 'INTEGER NOT NULL', get: (r) => traceKey(r.traceId) },
    { name: 'trace_id', type: 'VARCHAR NOT NULL', get: (r) => r.traceId },
    { name: 'min_start_ns', type: 'BIGINT NOT NULL', get: (r) => r.minStartNs },
    { name: 'max_start_ns', type: 'BIGINT NOT NULL', get: (r) => r.maxStartNs },
  ],
};

/** One range per tenant and trace in `spans`. */
export function traceRanges(spans: readonly SpanRecord[]): TraceRange[] {
  const byTrace = new Map<string, TraceRange>();
  for (const s of spans) {
    const key = `${s.tenant}\u0000${s.traceId}`;
    const r = byTrace.get(key);
    if (!r) byTrace.set(key, { tenant: s.tenant, traceId: s.traceId, minStartNs: s.startTimeUnixNano, maxStartNs: s.startTimeUnixNano });
    else if (s.startTimeUnixNano < r.minStartNs) r.minStartNs = s.startTimeUnixNano;
    else if (s.startTimeUnixNano > r.maxStartNs) r.maxStartNs = s.startTimeUnixNano;
  }
  return [...byTrace.values()];
}

const CHUNK_ROWS = 2048;

/** Appends a span batch's ranges in the batch's own transaction (the spans writer's connection). */
export function traceRangeRows(): CompanionRows<SpanRecord> {
  const types = stagedTypes(traceRangeTable);
  let appender: DuckDBAppender | null = null;
  return {
    async append(conn, spans) {
      appender ??= await conn.createAppender(traceRangeTable.name);
      const ranges = traceRanges(spans);
      for (let off = 0; off < ranges.length; off += CHUNK_ROWS) {
        const part = ranges.slice(off, off + CHUNK_ROWS);
        const chunk = DuckDBDataChunk.create(types, part.length);
        chunk.setColumns(traceRangeTable.columns.map((c) => part.map((r) => c.get!(r))));
        appender.appendDataChunk(chunk);
      }
      appender.flushSync();
    },
    reset() {
      try {
        appender?.clear();
        appender?.closeSync();
      } catch {
        // a failed flush may already have invalidated it
      }
      appender = null;
    },
  };
}

/**
 * Creates the table (after spans). A file from an earlier version has spans but no ranges: they are
 * filled in once, here, from the spans themselves.
 */
export async function createTraceRangeTable(conn: DuckDBConnection): Promise<void> {
  const existing = await runQuery(
    conn,
    `SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'trace_ranges'`,
  );
  if (existing.length) return;
  for (const sql of createTableSql(traceRangeTable)) await conn.run(sql);
  await conn.run(`INSERT INTO trace_ranges
    SELECT tenant, trace_key, trace_id, min(start_ns), max(start_ns) FROM spans GROUP BY tenant, trace_key, trace_id`);
}

/** A one-row subquery `(lo, hi)`: the span start times of lowercase `ids` of tenant $1 (NULLs if none). */
export function traceRangeSql(ids: readonly string[], p: Params): string {
  return `(SELECT min(min_start_ns) AS lo, max(max_start_ns) AS hi FROM trace_ranges WHERE ${traceIdsSql(ids, p.add)} AND tenant = $1)`;
}
