// AttributeCatalog: the keys and values filters can use, for Grafana-style variable queries.
import type { Resource } from '../../model/telemetry.ts';
import { anyValueToFilterString, findAttribute } from '../../model/values.ts';
import type { AttributeCatalog, AttributeSignal, QueryNotes, TimeRange } from '../types.ts';
import type { Db } from './connection.ts';
import { badQuery } from './errors.ts';
import { params, timeRangeSql, type Params } from './filter-sql.ts';
import { decodeJson } from './json.ts';
import { attrExistsSql, attrKeysSql, attrValueSql } from './attr-text.ts';

const TABLES = [
  { table: 'spans', time: 'start_ns' },
  { table: 'logs', time: 'time_ns' },
  { table: 'metric_points', time: 'time_ns' },
] as const;
const RECORD_TABLE = { SPAN: TABLES[0], LOG: TABLES[1], METRIC: TABLES[2] } as const;
/**
 * Keys one answer lists at most (its `limit`): past it, the most frequent are kept (a Grafana
 * variable should not lose `http.route` to a thousand `k0…k999`), listed sorted, and a note says
 * how the list was cut.
 */
export const MAX_KEYS = 1000;
const MAX_VALUES = 10_000;
// Longer values are not listed: the catalog feeds filter choices (Grafana variables), where a prompt
// or a stack trace is no choice, and grouping thousands of 15 KB prompts ran out of DuckDB's memory.
const MAX_VALUE_CHARS = 1000;

/** `list` with a note (QueryNotes) the resolver passes on; not enumerable, so the list still compares as a plain one. */
function noted(list: string[], note: string): string[] & QueryNotes {
  return Object.defineProperty(list, 'notes', { value: [note], enumerable: false }) as string[] & QueryNotes;
}

/** The `limit` most frequent of `counted` (most frequent first, ties by key), sorted, with a note when some were left out. */
function keysAnswer(signal: AttributeSignal, limit: number, counted: readonly (readonly [string, number])[]): string[] & QueryNotes {
  const kept = [...counted].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, limit);
  const keys = kept.map(([k]) => k).sort();
  if (counted.length <= limit) return keys;
  return noted(keys, `attributeKeys(${signal}): more than ${limit} keys match; the ${limit} on the most records are listed (narrow it with prefix, from or to)`);
}

/** The first `limit` of `values` (most frequent first), with a note when there were more. */
function valuesAnswer(signal: AttributeSignal, key: string, limit: number, values: readonly string[]): string[] & QueryNotes {
  const kept = values.slice(0, limit);
  if (values.length <= limit) return kept;
  return noted(kept, `attributeValues(${signal}, ${JSON.stringify(key)}): more than ${limit} values; the ${limit} on the most records are listed (limit)`);
}

function checkSignal(signal: AttributeSignal): void {
  if (!['SPAN', 'LOG', 'METRIC', 'RESOURCE'].includes(signal)) throw badQuery(`unknown attribute signal ${String(signal)}`);
}

function where(time: string, range: TimeRange | undefined, p: Params): string {
  return ['tenant = $1', timeRangeSql(time, range, p)].filter(Boolean).join(' AND ');
}

export function createCatalog(db: Db): AttributeCatalog {
  /** Each distinct resource of the tenant in the range, with how many records carry it. */
  async function resources(tenant: string, range: TimeRange | undefined): Promise<{ resource: Resource; n: number }[]> {
    const p = params([tenant]);
    // Spans and logs point at the resources table; metric points still carry the resource's text.
    const byId = TABLES.filter((t) => t.table !== 'metric_points').map(
      (t) => `SELECT resource_id, count(*) AS n FROM ${t.table} WHERE ${where(t.time, range, p)} GROUP BY resource_id`,
    );
    const metrics = RECORD_TABLE.METRIC;
    const rows = await db.query(
      `SELECT resource, sum(n) AS n FROM (
         SELECT r.resource, c.n FROM (${byId.join(' UNION ALL ')}) c
           JOIN (SELECT id, any_value(resource) AS resource FROM resources WHERE tenant = $1 GROUP BY id) r ON r.id = c.resource_id
         UNION ALL
         SELECT resource, count(*) FROM ${metrics.table} WHERE ${where(metrics.time, range, p)} GROUP BY resource)
       GROUP BY resource`,
      p.values,
    );
    return rows.map((r) => ({ resource: decodeJson<Resource>(r.resource as string), n: Number(r.n) }));
  }

  return {
    async attributeKeys(tenant, signal, range, prefix = '', limit = MAX_KEYS) {
      checkSignal(signal);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_KEYS) throw badQuery(`limit must be an integer from 1 to ${MAX_KEYS}`);
      if (signal === 'RESOURCE') {
        const counts = new Map<string, number>();
        for (const { resource, n } of await resources(tenant, range)) {
          for (const key of new Set(resource.attributes.map((kv) => kv.key))) if (key.startsWith(prefix ?? '')) counts.set(key, (counts.get(key) ?? 0) + n);
        }
        return keysAnswer(signal, limit, [...counts]);
      }
      const t = RECORD_TABLE[signal];
      const p = params([tenant]);
      // Metric labels live in a MAP; span and log attribute keys are those of their own attrs_flat.
      const keys = signal === 'METRIC' ? `unnest(map_keys(labels))` : `unnest(${attrKeysSql()})`;
      // One more than kept, to know whether some were left out.
      const rows = await db.query(
        `SELECT k, count(*) AS n FROM (SELECT ${keys} AS k FROM ${t.table} WHERE ${where(t.time, range, p)})
         WHERE starts_with(k, ${p.add(prefix ?? '')}) GROUP BY k ORDER BY n DESC, k LIMIT ${limit + 1}`,
        p.values,
      );
      return keysAnswer(signal, limit, rows.map((r) => [r.k as string, Number(r.n)] as const));
    },

    async attributeValues(tenant, signal, key, range, limit = 100) {
      checkSignal(signal);
      if (!Number.isInteger(limit) || limit < 0 || limit > MAX_VALUES) throw badQuery(`limit must be an integer from 0 to ${MAX_VALUES}`);
      if (signal === 'RESOURCE') {
        const counts = new Map<string, number>();
        for (const { resource, n } of await resources(tenant, range)) {
          const value = findAttribute(resource.attributes, key);
          const v = value ? anyValueToFilterString(value) : null;
          if (v !== null && v.length <= MAX_VALUE_CHARS) counts.set(v, (counts.get(v) ?? 0) + n);
        }
        return valuesAnswer(signal, key, limit, [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([v]) => v));
      }
      const t = RECORD_TABLE[signal];
      const p = params([tenant]);
      // A span's or log's value is its own, else its resource's (as filters see it, filter-sql.ts).
      const value =
        signal === 'METRIC'
          ? `labels[${p.add(key)}]`
          : `CASE WHEN ${attrExistsSql(key, p, 't.attrs_flat')} THEN ${attrValueSql(key, p, 't.attrs_flat')} ELSE rv.v END`;
      const from =
        signal === 'METRIC'
          ? t.table
          : `${t.table} t LEFT JOIN (SELECT id, any_value(${attrValueSql(key, p)}) AS v FROM resources WHERE tenant = $1 GROUP BY id) rv
               ON rv.id = t.resource_id`;
      const rows = await db.query(
        `SELECT v, count(*) AS n FROM (SELECT ${value} AS v FROM ${from} WHERE ${where(t.time, range, p)})
         WHERE v IS NOT NULL AND length(v) <= ${MAX_VALUE_CHARS} GROUP BY v ORDER BY n DESC, v LIMIT ${p.add(limit + 1)}`,
        p.values,
      );
      return valuesAnswer(signal, key, limit, rows.map((r) => r.v as string));
    },
  };
}
