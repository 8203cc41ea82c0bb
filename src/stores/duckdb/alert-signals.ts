// The aggregate queries alert rules run over the spans, logs and metric_points tables, and the
// evidence lookups (worst spans, log traces, exception groups). Filters go through filter-sql.ts,
// so user values are only ever bound parameters.
import type { AlertSignals, SeriesDimension } from '../../alerting/types.ts';
import type { TelemetryFilter, TimeRange } from '../types.ts';
import type { Db } from './connection.ts';
import { params, readFilterSql, type Params } from './filter-sql.ts';

const DIMENSION_COLUMN: Record<'spans' | 'logs', Record<SeriesDimension, string>> = {
  spans: { service: 'service_name', operation: 'name' },
  logs: { service: 'service_name', operation: 'event_name' },
};

/** The rows of tenant $1 in `range` that pass `filter`: its regexes checked and its resource conditions looked up first (filter-sql.ts). */
async function where(db: Db, tenant: string, signal: 'spans' | 'logs', range: Required<TimeRange>, filter: TelemetryFilter, p: Params): Promise<string> {
  return `tenant = $1 AND ${await readFilterSql(db, tenant, signal, { ...filter, timeRange: range }, p)}`;
}

function groupColumns(signal: 'spans' | 'logs', by: readonly SeriesDimension[]): { select: string; group: string } {
  if (by.length === 0) return { select: '', group: '' };
  const cols = by.map((d) => `coalesce(${DIMENSION_COLUMN[signal][d]}, '') AS ${d}`);
  return { select: `${cols.join(', ')}, `, group: `GROUP BY ${by.map((_, i) => i + 1).join(', ')}` };
}

const labelsOf = (row: Record<string, unknown>, by: readonly SeriesDimension[]) =>
  Object.fromEntries(by.map((d) => [d, String(row[d] ?? '')])) as Record<string, string>;

export function createAlertSignals(db: Db): AlertSignals {
  return {
    async spanStats(tenant, q) {
      const p = params([tenant]);
      const { select, group } = groupColumns('spans', q.by);
      const quantile = q.quantile !== undefined ? `quantile_cont(duration_ns, ${p.add(q.quantile)}::DOUBLE) / 1e6` : 'NULL';
      const rows = await db.query(
        `SELECT ${select} count(*) AS total, count(*) FILTER (WHERE status_code = 2) AS errors, ${quantile} AS q
         FROM spans WHERE ${await where(db, tenant, 'spans', q.range, q.filter, p)} ${group}`,
        p.values,
      );
      return rows
        .filter((r) => Number(r.total) > 0)
        .map((r) => ({ labels: labelsOf(r, q.by), total: Number(r.total), errors: Number(r.errors), quantileMs: r.q == null ? null : Number(r.q) }));
    },

    async logCounts(tenant, q) {
      const p = params([tenant]);
      const { select, group } = groupColumns('logs', q.by);
      const rows = await db.query(`SELECT ${select} count(*) AS n FROM logs WHERE ${await where(db, tenant, 'logs', q.range, q.filter, p)} ${group}`, p.values);
      return rows.map((r) => ({ labels: labelsOf(r, q.by), count: Number(r.n) }));
    },

    async metricPointCounts(tenant, q) {
      if (q.names.length === 0) return [];
      const p = params([tenant, q.range.from, q.range.to]);
      const services = q.services?.length ? ` AND service_name IN (${q.services.map((s) => p.add(s)).join(', ')})` : '';
      const [select, group] = q.byService ? ['service_name AS service, ', ' GROUP BY service_name'] : ['', ''];
      const rows = await db.query(
        `SELECT ${select}count(*) AS n FROM metric_points WHERE tenant = $1 AND time_ns >= $2 AND time_ns <= $3 AND name IN (${q.names.map((n) => p.add(n)).join(', ')})${services}${group}`,
        p.values,
      );
      return rows.map((r) => ({ labels: q.byService ? { service: r.service as string } : ({} as Record<string, string>), count: Number(r.n) }));
    },

    async worstSpans(tenant, q) {
      const p = params([tenant]);
      const rows = await db.query(
        `SELECT trace_id, span_id, duration_ns, status_code = 2 AS error FROM spans WHERE ${await where(db, tenant, 'spans', q.range, q.filter, p)}
         ORDER BY status_code = 2 DESC, duration_ns DESC, trace_id LIMIT ${p.add(q.limit * 4)}`,
        p.values,
      );
      // One exemplar per trace: a trace with many bad spans should not crowd out the others.
      const seen = new Set<string>();
      const out = [];
      for (const r of rows) {
        if (seen.has(r.trace_id as string)) continue;
        seen.add(r.trace_id as string);
        out.push({ traceId: r.trace_id as string, spanId: r.span_id as string, durationNano: r.duration_ns as bigint, error: r.error as boolean });
        if (out.length === q.limit) break;
      }
      return out;
    },

    async logTraces(tenant, q) {
      const p = params([tenant]);
      const rows = await db.query(
        `SELECT trace_id, arg_max(span_id, time_ns) AS span_id, max(time_ns) AS t FROM logs
         WHERE ${await where(db, tenant, 'logs', q.range, q.filter, p)} AND trace_id IS NOT NULL
         GROUP BY trace_id ORDER BY t DESC, trace_id LIMIT ${p.add(q.limit)}`,
        p.values,
      );
      return rows.map((r) => ({ traceId: r.trace_id as string, spanId: (r.span_id as string | null) ?? '', durationNano: null, error: false }));
    },
  };
}
