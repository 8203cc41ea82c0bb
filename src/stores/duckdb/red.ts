// RED series (rate, errors, duration) derived from the spans table, the way a spanmetrics
// connector would count them: a service's requests are its SERVER and CONSUMER spans.
// All keys of a batch go into one statement (a VALUES table joined to the spans), so a page of
// traces asking for their services' metrics costs one query.
import { SpanKind, StatusCode } from '../../model/telemetry.ts';
import type { RedKey, RedMetricsStore, RedPoint, RedSeries } from '../correlation-types.ts';
import type { Db, Row } from './connection.ts';
import { BACKEND, badQuery } from './errors.ts';
import { params } from './filter-sql.ts';

/** Spans that are a request to their service, as spanmetrics' `span_kind` selects them. */
export const ENTRY_KINDS_SQL = `kind IN (${SpanKind.SERVER}, ${SpanKind.CONSUMER})`;
const ERROR_SQL = `status_code = ${StatusCode.ERROR}`;
/** A batch of more steps than this is refused: it would not fit a chart anyway. */
const MAX_STEPS_PER_KEY = 11_000;
const NS_PER_S = 1e9;

export const RED_BACKEND = `${BACKEND} (derived from spans)`;

function stepCount(k: RedKey): number {
  return Number((k.range.to - k.range.from) / k.stepNano) + 1;
}

function checkKey(k: RedKey): void {
  if (k.stepNano <= 0n) throw badQuery(`RED step must be greater than 0 (actual: ${k.stepNano})`);
  if (k.range.from > k.range.to) throw badQuery('RED range: from is after to');
  if (stepCount(k) > MAX_STEPS_PER_KEY) throw badQuery(`RED range/step would give more than ${MAX_STEPS_PER_KEY} points`);
}

function emptyPoint(timeUnixNano: bigint): RedPoint {
  return { timeUnixNano, requests: 0, errors: 0, requestRate: 0, errorRate: 0, p50Nano: null, p95Nano: null, p99Nano: null };
}

function toPoint(row: Row, timeUnixNano: bigint, seconds: number): RedPoint {
  const requests = Number(row.requests);
  const errors = Number(row.errors);
  const q = (row.q as (number | null)[] | null) ?? [null, null, null];
  return {
    timeUnixNano,
    requests,
    errors,
    requestRate: requests / seconds,
    errorRate: errors / seconds,
    p50Nano: q[0] ?? null,
    p95Nano: q[1] ?? null,
    p99Nano: q[2] ?? null,
  };
}

export function createRedStore(db: Db): RedMetricsStore {
  return {
    backend: RED_BACKEND,

    async redSeries(tenant, keys) {
      if (keys.length === 0) return [];
      keys.forEach(checkKey);
      // The keys' overall time span and services, as constants, so DuckDB can skip row groups.
      const minFrom = keys.reduce((m, k) => (k.range.from < m ? k.range.from : m), keys[0]!.range.from);
      const maxTo = keys.reduce((m, k) => (k.range.to > m ? k.range.to : m), keys[0]!.range.to);
      const p = params([tenant]);
      const values = keys.map((k, i) => `(${p.add(i)}, ${p.add(k.service)}, ${p.add(k.range.from)}, ${p.add(k.range.to)}, ${p.add(k.stepNano)})`);
      // Grouping sets give each key's steps and, with a NULL step, its total over the whole range.
      const rows = await db.query(
        `WITH keys(k, service, from_ns, to_ns, step_ns) AS (VALUES ${values.join(', ')}),
         hits AS (
           SELECT keys.k, (s.start_ns - keys.from_ns) // keys.step_ns AS step, s.duration_ns, s.status_code,
             s.start_ns >= keys.to_ns - keys.step_ns AS in_trail
           FROM spans s JOIN keys ON s.service_name = keys.service AND s.start_ns BETWEEN keys.from_ns AND keys.to_ns
           WHERE s.tenant = $1 AND s.${ENTRY_KINDS_SQL} AND s.start_ns BETWEEN ${p.add(minFrom)} AND ${p.add(maxTo)}
             AND s.service_name IN (${[...new Set(keys.map((k) => k.service))].map((svc) => p.add(svc)).join(', ')})
         )
         SELECT k, step, count(*) AS requests, count(*) FILTER (WHERE ${ERROR_SQL}) AS errors,
           count(*) FILTER (WHERE in_trail) AS trailing_requests, count(*) FILTER (WHERE in_trail AND ${ERROR_SQL}) AS trailing_errors,
           quantile_cont(duration_ns, [0.5, 0.95, 0.99]) AS q
         FROM hits GROUP BY GROUPING SETS ((k, step), (k))`,
        p.values,
      );
      const byKey = new Map<number, { steps: Map<number, Row>; total?: Row }>();
      for (const row of rows) {
        const k = Number(row.k);
        let entry = byKey.get(k);
        if (!entry) byKey.set(k, (entry = { steps: new Map() }));
        if (row.step === null) entry.total = row;
        else entry.steps.set(Number(row.step), row);
      }
      return keys.map((key, i): RedSeries => {
        const found = byKey.get(i);
        const stepSeconds = Number(key.stepNano) / NS_PER_S;
        const steps = stepCount(key);
        const points: RedPoint[] = [];
        for (let s = 0; s < steps; s++) {
          const t = key.range.from + BigInt(s) * key.stepNano;
          const row = found?.steps.get(s);
          const point = row ? toPoint(row, t, stepSeconds) : emptyPoint(t);
          // A last step cut short by `to` (a range ending now, or not a whole number of steps) has its
          // rates over the last step-length of the range, a trailing window: spans after `to` are
          // not read, so over the whole step a chart dipped at its right edge (QA round 38c), and
          // over its own short part a sliver of 100 ms with one request read 10 req/s (round 38i).
          if (steps > 1 && t + key.stepNano > key.range.to + 1n && found?.total) {
            point.requestRate = Number(found.total.trailing_requests) / stepSeconds;
            point.errorRate = Number(found.total.trailing_errors) / stepSeconds;
          }
          points.push(point);
        }
        // A range shorter than its step (an empty one too: a rate over no time is undefined) is
        // read as one step, the time its only point covers, so the total says what the point says.
        const rangeSeconds = Math.max(Number(key.range.to - key.range.from) / NS_PER_S, stepSeconds);
        const { timeUnixNano: _, ...total } = found?.total ? toPoint(found.total, key.range.from, rangeSeconds) : emptyPoint(key.range.from);
        return { service: key.service, range: key.range, stepNano: key.stepNano, points, total };
      });
    },
  };
}
