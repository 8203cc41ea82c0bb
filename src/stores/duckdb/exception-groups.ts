// Exception occurrences from spans' `exception` events and from logs that carry exception.*
// attributes, aggregated in DuckDB by (signal, service, type, exact stack trace). Grouping by
// fingerprint is done above the store (src/correlation/), over these few distinct rows.
import type { ExceptionGroupStore, ExceptionOccurrences, ExceptionSignal } from '../correlation-types.ts';
import type { Db } from './connection.ts';
import { BACKEND, badQuery } from './errors.ts';
import { params, type Params } from './filter-sql.ts';
import { attrHasValueSql, attrValueSql } from './attr-text.ts';

const MAX_EXAMPLES = 100;
const EVENT_SHAPE = `'[{"timeUnixNano":"VARCHAR","name":"VARCHAR","attributes":"JSON[]"}]'`;

/** The string value of attribute `key` in a list of OTLP/JSON KeyValues. */
const eventAttr = (key: string) => `(list_filter(e.attributes, lambda a: a->>'$.key' = '${key}')[1])->>'$.value.stringValue'`;

function inList(column: string, values: readonly string[] | undefined, p: Params): string {
  return values?.length ? `AND ${column} IN (${values.map((v) => p.add(v)).join(', ')})` : '';
}

export function createExceptionGroupStore(db: Db): ExceptionGroupStore {
  return {
    backend: BACKEND,

    async exceptionOccurrences(tenant, q) {
      if (q.range.from > q.range.to) throw badQuery('exception range: from is after to');
      if (q.stepNano <= 0n) throw badQuery('exception step must be greater than 0');
      if (!Number.isInteger(q.examples) || q.examples < 1 || q.examples > MAX_EXAMPLES) {
        throw badQuery(`examples must be from 1 to ${MAX_EXAMPLES} (actual: ${q.examples})`);
      }
      const p = params([tenant, q.range.from, q.range.to, q.stepNano, q.examples]);
      const lowerIds = q.traceIds?.map((id) => id.toLowerCase());
      // The same columns exist in both tables, so one condition serves both.
      const filters = `${inList('service_name', q.services, p)} ${inList('trace_id', lowerIds, p)}`;
      // Logs keep their attributes in the flat filter text (attr-text.ts); the keys are parameters.
      const logAttr = (key: string) => attrValueSql(key, p);
      const logHas = (key: string) => attrHasValueSql(key, p);
      const typeFilter = q.types?.length ? `WHERE type IN (${q.types.map((t) => p.add(t)).join(', ')}) OR type = ''` : '';
      // Spans are narrowed by time and a text probe before their events JSON is parsed.
      const rows = await db.query(
        `WITH span_events AS (
           SELECT service_name, trace_id, span_id, unnest(from_json(events, ${EVENT_SHAPE})) AS e
           FROM spans
           WHERE tenant = $1 AND start_ns <= $3 AND end_ns >= $2 AND events LIKE '%"exception"%' ${filters}
         ),
         occ AS (
           SELECT 'SPAN' AS signal, coalesce(service_name, '') AS service, coalesce(${eventAttr('exception.type')}, '') AS type,
             coalesce(${eventAttr('exception.stacktrace')}, '') AS stack, coalesce(${eventAttr('exception.message')}, '') AS message,
             e.timeUnixNano::BIGINT AS t, trace_id, span_id, NULL::BIGINT AS log_id
           FROM span_events WHERE e.name = 'exception' AND e.timeUnixNano::BIGINT BETWEEN $2 AND $3
           UNION ALL
           SELECT 'LOG', coalesce(service_name, ''), coalesce(${logAttr('exception.type')}, ''), coalesce(${logAttr('exception.stacktrace')}, ''),
             coalesce(${logAttr('exception.message')}, body_text, ''), time_ns, trace_id, span_id, id
           FROM logs
           WHERE tenant = $1 AND time_ns BETWEEN $2 AND $3
             -- The semantic conventions require exception.type or exception.message; a stack alone counts too.
             AND (${logHas('exception.type')} OR ${logHas('exception.message')} OR ${logHas('exception.stacktrace')}) ${filters}
         ),
         picked AS (SELECT * FROM occ ${typeFilter}),
         steps AS (
           SELECT signal, service, type, stack, list({'step': step, 'n': n} ORDER BY step) AS steps
           FROM (SELECT signal, service, type, stack, (t - $2) // $4 AS step, count(*) AS n FROM picked GROUP BY ALL)
           GROUP BY ALL
         ),
         groups AS (
           SELECT signal, service, type, stack, count(*) AS n, min(t) AS first_seen, max(t) AS last_seen,
             arg_max(message, t) AS message,
             max_by({'trace_id': trace_id, 'span_id': span_id, 't': t}, t, $5::BIGINT) FILTER (WHERE trace_id IS NOT NULL AND span_id IS NOT NULL) AS spans,
             max_by({'id': log_id, 't': t}, t, $5::BIGINT) FILTER (WHERE log_id IS NOT NULL) AS logs
           FROM picked GROUP BY ALL
         )
         SELECT g.*, s.steps FROM groups g JOIN steps s USING (signal, service, type, stack)
         ORDER BY g.n DESC, g.last_seen DESC`,
        p.values,
      );
      return rows.map(
        (r): ExceptionOccurrences => ({
          signal: r.signal as ExceptionSignal,
          service: r.service as string,
          type: r.type as string,
          stacktrace: r.stack as string,
          sampleMessage: r.message as string,
          count: Number(r.n),
          firstSeen: BigInt(r.first_seen as bigint),
          lastSeen: BigInt(r.last_seen as bigint),
          buckets: ((r.steps as { step: bigint; n: bigint }[]) ?? []).map((s) => ({
            timeUnixNano: q.range.from + BigInt(s.step) * q.stepNano,
            count: Number(s.n),
          })),
          spans: ((r.spans as { trace_id: string; span_id: string; t: bigint }[] | null) ?? []).map((s) => ({ traceId: s.trace_id, spanId: s.span_id, timeUnixNano: BigInt(s.t) })),
          logs: ((r.logs as { id: bigint; t: bigint }[] | null) ?? []).map((l) => ({ id: String(l.id), timeUnixNano: BigInt(l.t) })),
        }),
      );
    },
  };
}
