// The service graph from the spans table: an edge for every parent → child span pair whose
// services differ (a self-join on parent_span_id within the trace), a node for every service with
// a span in the range (its entry-span RED figures) or at either end of an edge. Tenant-scoped like
// every query.
import { StatusCode } from '../../model/telemetry.ts';
import type { ServiceGraph, ServiceGraphStore, ServiceNodeStats } from '../correlation-types.ts';
import type { Db } from './connection.ts';
import { BACKEND, badQuery } from './errors.ts';
import { params } from './filter-sql.ts';
import { ENTRY_KINDS_SQL } from './red.ts';

const ERROR_SQL = `status_code = ${StatusCode.ERROR}`;

export function createServiceGraphStore(db: Db): ServiceGraphStore {
  return {
    backend: BACKEND,

    async serviceGraph(tenant, q): Promise<ServiceGraph> {
      if (q.range.from > q.range.to) throw badQuery('service graph range: from is after to');
      const p = params([tenant, q.range.from, q.range.to]);
      // Spans that started in the range: the calls (child spans) and the nodes' figures.
      const window = `win AS MATERIALIZED (
        SELECT trace_id, span_id, parent_span_id, coalesce(service_name, '') AS service, duration_ns, status_code, kind
        FROM spans WHERE tenant = $1 AND start_ns BETWEEN $2 AND $3)`;
      // A call's parent may have started before the range (a long job, a stream): the calls whose
      // parent is not among the range's spans are looked up in their traces only, from the earliest
      // start trace_ranges holds for them, so the scan of spans skips row groups as trace-by-id does.
      // trace_ranges has a row per trace per batch: a parent written in its own batch has a row that
      // ends before the range, so any row starting before it counts, not only one spanning `from`.
      // A span stored twice (a retried export) is one parent: joined to both copies, each call of
      // its children counted twice over (4 for a call sent twice). A call's own copies count each, as
      // every aggregate counts what was received (docs/known-gaps.md).
      const calls = `parents AS (SELECT trace_id, span_id, any_value(service) AS service FROM win GROUP BY trace_id, span_id),
        calls AS MATERIALIZED (
          SELECT child.trace_id, child.parent_span_id, child.service, child.status_code, child.duration_ns, par.service AS parent_service
          FROM win child LEFT JOIN parents par ON child.trace_id = par.trace_id AND child.parent_span_id = par.span_id
          WHERE child.parent_span_id <> ''),
        unmatched AS (SELECT DISTINCT trace_id FROM calls WHERE parent_service IS NULL),
        earlier AS (
          SELECT min(min_start_ns) AS lo FROM trace_ranges
          WHERE tenant = $1 AND min_start_ns < $2 AND trace_id IN (SELECT trace_id FROM unmatched)),
        before AS (
          SELECT trace_id, span_id, any_value(coalesce(service_name, '')) AS service FROM spans, earlier
          WHERE tenant = $1 AND start_ns >= earlier.lo AND start_ns < $2 AND trace_id IN (SELECT trace_id FROM unmatched)
          GROUP BY trace_id, span_id),
        pairs AS (
          SELECT parent_service AS source, service AS target, status_code, duration_ns FROM calls WHERE parent_service IS NOT NULL
          UNION ALL
          SELECT b.service, c.service, c.status_code, c.duration_ns
          FROM calls c JOIN before b ON c.parent_service IS NULL AND b.trace_id = c.trace_id AND b.span_id = c.parent_span_id)`;
      const only = q.services?.length ? q.services.map((s) => p.add(s)).join(', ') : null;
      const [edgeRows, nodeRows] = await Promise.all([
        db.query(
          `WITH ${window}, ${calls}
           SELECT source, target, count(*) AS calls,
             count(*) FILTER (WHERE ${ERROR_SQL}) AS errors, quantile_cont(duration_ns, 0.95) AS p95
           FROM pairs
           WHERE source <> target
             ${only ? `AND (source IN (${only}) OR target IN (${only}))` : ''}
           GROUP BY ALL ORDER BY source, target`,
          p.values,
        ),
        db.query(
          `WITH ${window}
           SELECT service, count(*) FILTER (WHERE ${ENTRY_KINDS_SQL}) AS requests,
             count(*) FILTER (WHERE ${ENTRY_KINDS_SQL} AND ${ERROR_SQL}) AS errors,
             quantile_cont(duration_ns, 0.95) FILTER (WHERE ${ENTRY_KINDS_SQL}) AS p95
           FROM win GROUP BY service ORDER BY service`,
          p.values.slice(0, 3),
        ),
      ]);
      const edges = edgeRows.map((r) => ({
        source: r.source as string,
        target: r.target as string,
        calls: Number(r.calls),
        errors: Number(r.errors),
        p95Nano: Number(r.p95),
      }));
      const nodes = new Map<string, ServiceNodeStats>();
      for (const r of nodeRows) {
        const service = r.service as string;
        nodes.set(service, { service, requests: Number(r.requests), errors: Number(r.errors), p95Nano: r.p95 == null ? null : Number(r.p95) });
      }
      // Every edge's ends are nodes: a caller whose span started before the range had no span in it,
      // so no request in it either (zeros, p95 null).
      for (const service of edges.flatMap((e) => [e.source, e.target])) {
        if (!nodes.has(service)) nodes.set(service, { service, requests: 0, errors: 0, p95Nano: null });
      }
      // With a service restriction: those services and their neighbours.
      const wanted = only ? new Set([...q.services!, ...edges.flatMap((e) => [e.source, e.target])]) : null;
      const kept = [...nodes.values()].filter((n) => !wanted || wanted.has(n.service)).sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
      return { range: q.range, nodes: kept, edges };
    },
  };
}
