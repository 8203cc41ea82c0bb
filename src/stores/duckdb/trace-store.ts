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

/**
 * preferredCopy's rule (span-order.ts) in SQL, so summaries and pages show the copy `trace` and
 * `span` show: of a span's copies, the one greatest in these columns, in this order.
 */
const PREFERENCE = ['end_ns', 'status_code', 'start_ns', 'name', 'parent_span_id'] as const;
/** ORDER BY that puts a span's preferred copy first among its copies. */
const PREFERRED_COPY_FIRST = PREFERENCE.map((c) => `${c} DESC`).join(', ');

/** The columns a trace summary reads. */
const SUMMARY_COLUMNS = 'trace_id, span_id, parent_span_id, service_name, name, start_ns, end_ns, status_code';

/**
 * Trace search in one statement: the `limit` newest traces by their start (the earliest start of
 * their spans, one copy per span, as TraceSummary.startTime), with a span matching `where`, and
 * their summaries, newest first, ties by trace ID.
 *
 * A trace's start needs all its spans, not only the matching ones (a root may have started before
 * `from`). trace_ranges bounds it without reading them: lo (the earliest start its batches wrote)
 * is never after it, hi (the latest) never before. No trace starts before its lo, so the limit-th
 * greatest lo is at most the limit-th latest start, and a trace whose hi is before that cannot be
 * among the newest: only the others (the newest few, plus those still running then) have their
 * spans read, the rest never. lo can be early: a stale copy started earlier, or retention deleted
 * the batch's early spans but kept its range row.
 *
 * A trace matches by its preferred copies (`hit`): a stale copy that matched alone does not count.
 * The cutoff counts every candidate, so it holds only when the traces that made it match with a
 * preferred copy: `cutoff_held` (on every row, and on a row without a trace when none matched)
 * says so, else the caller reads again without a cutoff.
 */
function searchTracesSql(where: string, limit: string, withCutoff: boolean): string {
  const cutoff = withCutoff
    ? `(SELECT CASE WHEN count(*) = ${limit} THEN min(lo) END FROM (SELECT lo FROM bounds ORDER BY lo DESC LIMIT ${limit}))`
    : 'NULL';
  return `WITH candidates AS (SELECT DISTINCT trace_id FROM spans WHERE tenant = $1 AND ${where}),
    bounds AS MATERIALIZED (SELECT trace_id, min(min_start_ns) AS lo, max(max_start_ns) AS hi
      FROM trace_ranges WHERE tenant = $1 AND trace_id IN (SELECT trace_id FROM candidates) GROUP BY trace_id),
    cut AS (SELECT ${cutoff} AS lo),
    refined AS MATERIALIZED (SELECT b.* FROM bounds b, cut WHERE cut.lo IS NULL OR b.hi >= cut.lo),
    copies AS MATERIALIZED (SELECT ${SUMMARY_COLUMNS}, (${where}) AS hit FROM spans, (SELECT min(lo) AS lo, max(hi) AS hi FROM refined) AS r
      WHERE tenant = $1 AND start_ns BETWEEN r.lo AND r.hi AND trace_id IN (SELECT trace_id FROM refined)
      QUALIFY row_number() OVER (PARTITION BY trace_id, span_id ORDER BY ${PREFERRED_COPY_FIRST}) = 1),
    traces AS (SELECT trace_id, min(start_ns) AS start_ns FROM copies GROUP BY trace_id HAVING bool_or(hit)
      ORDER BY start_ns DESC, trace_id LIMIT ${limit}),
    s AS MATERIALIZED (SELECT * FROM copies WHERE trace_id IN (SELECT trace_id FROM traces)),
    marked AS (SELECT *, parent_span_id <> '' AND parent_span_id NOT IN (SELECT span_id FROM s o WHERE o.trace_id = s.trace_id) AS orphan,
      {'service': service_name, 'name': name} AS root, (start_ns, span_id) AS first FROM s),
    summaries AS (SELECT trace_id, min(start_ns) AS start_ns, max(greatest(end_ns, start_ns)) - min(start_ns) AS duration_ns,
      count(*) AS span_count, count(*) FILTER (WHERE status_code = 2) AS error_count,
      list(DISTINCT service_name) AS services,
      coalesce(arg_min(root, first) FILTER (WHERE parent_span_id = ''), arg_min(root, first) FILTER (WHERE orphan), arg_min(root, first)) AS root
      FROM marked GROUP BY trace_id),
    held AS (SELECT cut.lo IS NULL OR NOT EXISTS (SELECT 1 FROM bounds b WHERE b.lo >= cut.lo AND b.trace_id NOT IN (SELECT trace_id FROM copies WHERE hit)) AS cutoff_held
      FROM cut)
  SELECT summaries.*, cutoff_held FROM held LEFT JOIN summaries ON TRUE ORDER BY start_ns DESC, trace_id`;
}

function toSummary(r: Row): TraceSummary {
  return {
    traceId: r.trace_id as string,
    rootServiceName: (r.root as { service: string | null }).service,
    rootSpanName: (r.root as { name: string | null }).name,
    startTimeUnixNano: r.start_ns as bigint,
    durationNano: r.duration_ns as bigint,
    spanCount: Number(r.span_count),
    errorCount: Number(r.error_count),
    services: ((r.services as (string | null)[]) ?? []).filter((s): s is string => s !== null).sort(),
  };
}

export function createTraceStore(db: Db, parts: Parts): TraceStore {
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
      const n = p.add(limit);
      let rows = await db.query(searchTracesSql(where, n, true), p.values);
      // Rare: a trace that made the cutoff matched with a stale copy only.
      if (rows[0]?.cutoff_held === false) rows = await db.query(searchTracesSql(where, n, false), p.values);
      // One row with no trace when none matched (the row that carries cutoff_held).
      return rows.filter((r) => r.trace_id !== null).map(toSummary);
    },

    async searchSpans(tenant: string, filter: TelemetryFilter, page: PageRequest): Promise<Page<SpanRecord>> {
      const first = pageSize(page, BACKEND);
      const p = params([tenant]);
      const where = await readFilterSql(db, tenant, 'spans', filter, p);
      const range = filterRangeSql(RANGED.spans, filter, p);
      const { after, orderBy } = keysetSql(SPAN_KEYSET, page, p);
      // Among rows of one key (a span stored twice), its preferred copy first: the one
      // withoutRepeatedKeys keeps.
      const rows = await readPage(first, SPAN_KEYSET, (limit) =>
        db.query(
          `SELECT ${SPAN_RECORD_COLUMNS} FROM spans${range.from} WHERE tenant = $1 AND ${range.where} AND ${where} AND ${after}
           ORDER BY ${orderBy}, ${PREFERRED_COPY_FIRST} LIMIT ${limit}`,
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
