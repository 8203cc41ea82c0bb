// Logs around a span: those of its trace, and those of its service without any trace ID, timed
// within a window; past the limit, the trace's first, then those nearest the span. All keys of a
// batch go into one statement.
import type { LogWindowStore } from '../correlation-types.ts';
import type { Db } from './connection.ts';
import { BACKEND, badQuery } from './errors.ts';
import { params } from './filter-sql.ts';
import { decodeLog, LOG_RECORD_COLUMNS } from './log-rows.ts';
import type { Parts } from './parts.ts';

const MAX_PER_KEY = 10_000;

export function createLogWindowStore(db: Db, parts: Parts): LogWindowStore {
  return {
    backend: BACKEND,

    async logsAround(tenant, keys, limitPerKey) {
      if (!Number.isInteger(limitPerKey) || limitPerKey < 0 || limitPerKey > MAX_PER_KEY) {
        throw badQuery(`the limit per key must be an integer from 0 to ${MAX_PER_KEY} (actual: ${String(limitPerKey)})`);
      }
      if (keys.length === 0 || limitPerKey === 0) return keys.map(() => []);
      const p = params([tenant]);
      const values = keys.map(
        (k, i) =>
          `(${p.add(i)}, ${p.add(k.traceId.toLowerCase())}, ${p.add(k.service)}, ${p.add(k.range.from)}, ${p.add(k.range.to)}, ${p.add((k.range.from + k.range.to) / 2n)})`,
      );
      // The keys' overall time span, as constants, so DuckDB can skip row groups by their min/max.
      const minFrom = keys.reduce((m, k) => (k.range.from < m ? k.range.from : m), keys[0]!.range.from);
      const maxTo = keys.reduce((m, k) => (k.range.to > m ? k.range.to : m), keys[0]!.range.to);
      const columns = LOG_RECORD_COLUMNS.split(', ').map((c) => `l.${c}`).join(', ');
      const rows = await db.query(
        `WITH keys(k, trace, service, from_ns, to_ns, mid_ns) AS (VALUES ${values.join(', ')})
         SELECT keys.k, ${columns} FROM logs l JOIN keys
           ON l.time_ns BETWEEN keys.from_ns AND keys.to_ns
          AND (l.trace_id = keys.trace OR (l.trace_id IS NULL AND l.service_name = keys.service))
         WHERE l.tenant = $1 AND l.time_ns BETWEEN ${p.add(minFrom)} AND ${p.add(maxTo)}
         QUALIFY row_number() OVER (PARTITION BY keys.k ORDER BY l.trace_id IS NULL, abs(l.time_ns - keys.mid_ns), l.id) <= ${p.add(limitPerKey)}
         ORDER BY l.time_ns, l.id`,
        p.values,
      );
      const cache = await parts.resolve(db, rows);
      const out = keys.map(() => [] as ReturnType<typeof decodeLog>[]);
      for (const row of rows) out[Number(row.k)]!.push(decodeLog(row, cache));
      return out;
    },
  };
}
