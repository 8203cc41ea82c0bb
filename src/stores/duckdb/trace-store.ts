// TraceStore over the spans table.
import type { SpanKind, SpanRecord } from '../../model/telemetry.ts';
import type { Page, PageRequest, SpanRef, TelemetryFilter, TimeRange, TraceStore, TraceSummary } from '../types.ts';
import type { Db, Row } from './connection.ts';
import { BACKEND, badQuery } from './errors.ts';
import { KNOWN_KIND_SQL, params, readFilterSql, timeRangeSql, type Params } from './filter-sql.ts';
import { pageSize } from '../page-cursor.ts';
import { keysetSql, readPage, toPage, type Keyset } from './paging.ts';
import type { Parts } from './parts.ts';
import { decodeSpan, NO_PARTS, readsParts, spanColumns, SPAN_RECORD_COLUMNS } from './span-rows.ts';
import { traceIdsSql } from './trace-key.ts';
import { traceRangeSql } from './trace-ranges.ts';
import { preferredCopy, traceSpansInOrder } from '../span-order.ts';

const SPAN_KEYSET: Keyset = { columns: ['start_ns', 'trace_id', 'span_id'], bigint: [true, false, false] };
const MAX_TRACES = 10_000;

/**
 * Rows of `table` whose trace_id is one of `ids` (lowercase), for tenant $1: a scan of the 4-byte
 * trace_key column (trace-key.ts), then the full ID on its few matches.
 */
export function byTraceIdSql(table: string, columns: string, ids: readonly string[], p: Params, select = '*'): string {
  return `WITH hits AS (SELECT ${columns} FROM ${table} WHERE ${traceIdsSql(ids, p.add)})
    SELECT ${select} FROM hits WHERE tenant = $1`;
}

/**
 * byTraceIdSql over spans, within the start times trace_ranges holds for `ids`. One statement: DuckDB
 * turns the join's bounds into a dynamic filter on the scan, and its row-group zone maps skip every
 * row group outside them (a batch of far-apart IDs gets one wide range, so at worst the full scan).
 */
export function spansByTraceIdSql(columns: string, ids: readonly string[], p: Params, select = '*'): string {
  return rangedByTraceIdSql(RANGED.spans, columns, ids, p, select);
}

/** Where each signal's rows of a trace are found: its table, its time column and its ranges table. */
export const RANGED = {
  spans: { table: 'spans', time: 'start_ns', ranges: 'trace_ranges' },
  logs: { table: 'logs', time: 'time_ns', ranges: 'log_trace_ranges' },
} as const;

export function rangedByTraceIdSql(
  on: (typeof RANGED)[keyof typeof RANGED],
  columns: string,
  ids: readonly string[],
  p: Params,
  select = '*',
): string {
  return `WITH hits AS (SELECT ${columns} FROM ${on.table}, ${traceRangeSql(ids, p, on.ranges)} AS r
      WHERE ${on.time} BETWEEN r.lo AND r.hi AND ${traceIdsSql(ids, p.add)})
    SELECT ${select} FROM hits WHERE tenant = $1`;
}

/**
 * For a filter naming trace IDs at its top level: the ranges table joined in (`, (…) AS r`) and the
 * condition on the time column, so the scan skips row groups as trace-by-id does; '' otherwise.
 */
export function filterRangeSql(on: (typeof RANGED)[keyof typeof RANGED], filter: TelemetryFilter | undefined, p: Params): { from: string; where: string } {
  const ids = Array.isArray(filter?.traceId) && filter.traceId.length > 0 ? uniqueLower(filter.traceId) : null;
  if (!ids) return { from: '', where: 'TRUE' };
  return { from: `, ${traceRangeSql(ids, p, on.ranges)} AS r`, where: `${on.time} BETWEEN r.lo AND r.hi` };
}

export const uniqueLower = (ids: readonly string[]) => [...new Set(ids.map((id) => String(id).toLowerCase()))];


function checkLimit(limit: number, max: number): void {
  if (!Number.isInteger(limit) || limit < 0 || limit > max) throw badQuery(`limit must be an integer from 0 to ${max} (actual: ${String(limit)})`);
}

function whereTime(column: string, range: TimeRange | undefined, p: Params): string {
  return timeRangeSql(column, range, p) || 'TRUE';
}

export function createTraceStore(db: Db, parts: Parts): TraceStore {
  async function summaries(tenant: string, ids: string[]): Promise<TraceSummary[]> {
    const p = params([tenant]);
    const columns = 'tenant, trace_id, span_id, parent_span_id, service_name, name, start_ns, end_ns, status_code';
    // By span-order.ts' rules, as the Trace type reads them: a span stored twice counts once
    // (traceSpansInOrder), a span ending before it starts ends at its start (spanEnd), the root is
    // traceRoot's (spans in start order, ties by span ID).
    const select = `trace_id, min(start_ns) AS start_ns, max(greatest(end_ns, start_ns)) - min(start_ns) AS duration_ns,
      count(DISTINCT span_id) AS span_count, count(DISTINCT span_id) FILTER (WHERE status_code = 2) AS error_count,
      list(DISTINCT service_name) AS services,
      coalesce(arg_min(root, first) FILTER (WHERE parent_span_id = ''), arg_min(root, first) FILTER (WHERE orphan), arg_min(root, first)) AS root`;
    const rows = await db.query(
      `WITH s AS (${spansByTraceIdSql(columns, ids, p)}),
         marked AS (SELECT *, parent_span_id <> '' AND parent_span_id NOT IN (SELECT span_id FROM s o WHERE o.trace_id = s.trace_id) AS orphan,
           {'service': service_name, 'name': name} AS root, (start_ns, span_id) AS first FROM s)
       SELECT ${select} FROM marked GROUP BY trace_id ORDER BY start_ns DESC, trace_id`,
      p.values,
    );
    return rows.map((r) => ({
      traceId: r.trace_id as string,
      rootServiceName: (r.root as { service: string | null }).service,
      rootSpanName: (r.root as { name: string | null }).name,
      startTimeUnixNano: r.start_ns as bigint,
      durationNano: r.duration_ns as bigint,
      spanCount: Number(r.span_count),
      errorCount: Number(r.error_count),
      services: ((r.services as (string | null)[]) ?? []).filter((s): s is string => s !== null).sort(),
    }));
  }

  return {
    backend: BACKEND,

    async getTraces(tenant, traceIds, only) {
      const ids = uniqueLower(traceIds);
      if (ids.length === 0) return [];
      const p = params([tenant]);
      // Sorted here, not by ORDER BY: DuckDB's sort of a trace's few wide rows cost ~2 ms of a ~10 ms lookup.
      const rows = await db.query(spansByTraceIdSql(spanColumns(only), ids, p), p.values);
      const cache = readsParts(only) ? await parts.resolve(db, rows) : NO_PARTS;
      const byTrace = new Map<string, SpanRecord[]>();
      for (const row of rows) {
        const span = decodeSpan(row, cache);
        const list = byTrace.get(span.traceId);
        if (list) list.push(span);
        else byTrace.set(span.traceId, [span]);
      }
      for (const [id, spans] of byTrace) byTrace.set(id, traceSpansInOrder(spans));
      return traceIds.map((id) => byTrace.get(String(id).toLowerCase()) ?? []);
    },

    async getSpans(tenant, refs) {
      if (refs.length === 0) return [];
      const p = params([tenant]);
      const hits = spansByTraceIdSql(SPAN_RECORD_COLUMNS, uniqueLower(refs.map((r) => r.traceId)), p);
      const spanIds = uniqueLower(refs.map((r) => r.spanId)).map((id) => p.add(id));
      const rows = await db.query(`${hits} AND span_id IN (${spanIds.join(', ')})`, p.values);
      const cache = await parts.resolve(db, rows);
      const byKey = new Map<string, SpanRecord>();
      for (const row of rows) {
        const span = decodeSpan(row, cache);
        const key = `${span.traceId}/${span.spanId}`;
        const seen = byKey.get(key);
        byKey.set(key, seen ? preferredCopy(seen, span) : span);
      }
      const key = (r: SpanRef) => `${r.traceId.toLowerCase()}/${r.spanId.toLowerCase()}`;
      return refs.map((r) => byKey.get(key(r)) ?? null);
    },

    async searchTraces(tenant, filter, limit) {
      checkLimit(limit, MAX_TRACES);
      if (limit === 0) return [];
      const p = params([tenant]);
      const where = await readFilterSql(db, tenant, 'spans', filter, p);
      const rows = await db.query(
        `SELECT trace_id FROM spans WHERE tenant = $1 AND ${where}
         GROUP BY trace_id ORDER BY min(start_ns) DESC, trace_id LIMIT ${p.add(limit)}`,
        p.values,
      );
      return rows.length ? summaries(tenant, rows.map((r) => r.trace_id as string)) : [];
    },

    async searchSpans(tenant: string, filter: TelemetryFilter, page: PageRequest): Promise<Page<SpanRecord>> {
      const first = pageSize(page, BACKEND);
      const p = params([tenant]);
      const where = await readFilterSql(db, tenant, 'spans', filter, p);
      const range = filterRangeSql(RANGED.spans, filter, p);
      const { after, orderBy } = keysetSql(SPAN_KEYSET, page, p);
      const rows = await readPage(first, SPAN_KEYSET, (limit) =>
        db.query(
          `SELECT ${SPAN_RECORD_COLUMNS} FROM spans${range.from} WHERE tenant = $1 AND ${range.where} AND ${where} AND ${after}
           ORDER BY ${orderBy}, end_ns DESC LIMIT ${limit}`,
          p.values,
        ),
      );
      const cache = await parts.resolve(db, rows);
      return toPage(rows, first, SPAN_KEYSET, page, (row: Row) => decodeSpan(row, cache));
    },

    async services(tenant, range) {
      const p = params([tenant]);
      const rows = await db.query(
        `SELECT DISTINCT service_name FROM spans WHERE tenant = $1 AND ${whereTime('start_ns', range, p)} ORDER BY 1`,
        p.values,
      );
      return rows.map((r) => r.service_name as string);
    },

    async operations(tenant, service, range) {
      const p = params([tenant, service]);
      const rows = await db.query(
        `SELECT DISTINCT name, ${KNOWN_KIND_SQL} AS kind FROM spans WHERE tenant = $1 AND service_name = $2 AND ${whereTime('start_ns', range, p)}
         ORDER BY name, kind`,
        p.values,
      );
      return rows.map((r) => ({ name: r.name as string, kind: r.kind as SpanKind }));
    },
  };
}
