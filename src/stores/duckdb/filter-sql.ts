// TelemetryFilter → a SQL condition over the spans or logs table. User values only ever become
// bound parameters; the SQL text is built from this file's constants alone.
import { SpanKind } from '../../model/telemetry.ts';
import { StoreError, type AttributeCondition, type TelemetryFilter, type TimeRange } from '../types.ts';
import type { Db, SqlParam } from './connection.ts';
import { badQuery } from './errors.ts';
import { attrEqualsSql, attrExistsSql, attrHasValueSql, attrValueSql } from './attr-text.ts';
import { traceIdsSql } from './trace-key.ts';
import { checkFilterFields, conditionThreshold, filterNanos, STATUS_CODES, type FilterSignal } from '../filter-fields.ts';

export type { FilterSignal };

/** Whether a span's `kind` is one SpanKind names; the rest read as UNSPECIFIED (knownSpanKind). */
const NAMED_KIND_SQL = `kind BETWEEN ${SpanKind.UNSPECIFIED} AND ${SpanKind.CONSUMER}`;
/** knownSpanKind (telemetry.ts) in SQL. */
export const KNOWN_KIND_SQL = `CASE WHEN ${NAMED_KIND_SQL} THEN kind ELSE ${SpanKind.UNSPECIFIED} END`;

export interface SqlFragment {
  sql: string;
  params: SqlParam[];
}

/** Positional parameters `$1…$n`, collected while SQL is built. */
export interface Params {
  readonly values: SqlParam[];
  add(value: SqlParam): string;
}

export function params(initial: readonly SqlParam[] = []): Params {
  const values = [...initial];
  // An attribute condition names its needles on the record and on its resource: equal scalar values
  // share one parameter.
  const seen = new Map<string, string>();
  return {
    values,
    add(value) {
      const k = typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint' ? `${typeof value}:${String(value)}` : null;
      const known = k === null ? undefined : seen.get(k);
      if (known) return known;
      values.push(value);
      const ref = `$${values.length}`;
      if (k !== null) seen.set(k, ref);
      return ref;
    },
  };
}

const TIME_COLUMN: Record<FilterSignal, string> = { spans: 'start_ns', logs: 'time_ns' };
const NAME_COLUMN: Record<FilterSignal, string> = { spans: 'name', logs: 'event_name' };
const NUMERIC_OPS = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;


/** `col >= from AND col <= to` for the ends that are set; '' when neither is. */
export function timeRangeSql(column: string, range: TimeRange | undefined | null, p: Params): string {
  const parts: string[] = [];
  if (range?.from != null) parts.push(`${column} >= ${p.add(filterNanos('timeRange.from', range.from, badQuery))}`);
  if (range?.to != null) parts.push(`${column} <= ${p.add(filterNanos('timeRange.to', range.to, badQuery))}`);
  return parts.join(' AND ');
}

const inList = (column: string, values: readonly SqlParam[], p: Params): string => `${column} IN (${values.map((v) => p.add(v)).join(', ')})`;

/** The condition on one attr-text column (a record's or a resource's). */
function attributeOnColumnSql(c: AttributeCondition, p: Params, column: string): string {
  const value = () => {
    if (typeof c.value !== 'string') throw badQuery(`attribute condition ${c.op} on "${c.key}" needs a string value`);
    return c.value;
  };
  switch (c.op) {
    case 'eq':
      return attrEqualsSql(c.key, value(), p, column);
    case 'neq': {
      const v = value();
      return `(${attrHasValueSql(c.key, p, column)} AND NOT ${attrEqualsSql(c.key, v, p, column)})`;
    }
    case 'in':
      if (!Array.isArray(c.values) || c.values.length === 0) throw badQuery(`attribute condition in on "${c.key}" needs values`);
      return `(${c.values.map((v) => attrEqualsSql(c.key, String(v), p, column)).join(' OR ')})`;
    case 'regex':
      return `coalesce(regexp_full_match(${attrValueSql(c.key, p, column)}, ${p.add(value())}), false)`;
    case 'exists':
      return attrExistsSql(c.key, p, column);
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const n = conditionThreshold(c, badQuery);
      const x = `TRY_CAST(${attrValueSql(c.key, p, column)} AS DOUBLE)`;
      // DuckDB orders NaN above +Infinity, so `NaN > n` holds there, while a NaN attribute must match
      // no comparison (IEEE 754, and the in-memory matcher). Negated, NaN is still above everything,
      // so `-x < -n` is `x > n` without NaN, evaluating x once (a second test of x cost ~40 %).
      if (c.op === 'gt' || c.op === 'gte') return `coalesce(-${x} ${c.op === 'gt' ? '<' : '<='} -(${p.add(n)}::DOUBLE), false)`;
      return `coalesce(${x} ${NUMERIC_OPS[c.op]} ${p.add(n)}::DOUBLE, false)`;
    }
    default:
      throw badQuery(`unknown attribute operator ${String((c as { op: unknown }).op)}`);
  }
}

/**
 * A record's attributes shadow its resource's (the merged view of OTLP): when the record has the
 * key (with a value or not) the condition is on the record's attrs_flat, else `resource_id` must be
 * one of the tenant's resources that satisfy it, looked up first (resourceMatches) and bound as an
 * IN list, a plain expression the scan evaluates.
 */
function attributeSql(c: AttributeCondition, p: Params, matches: ResourceMatches): string {
  if (typeof c?.key !== 'string') throw badQuery('an attribute condition needs a key');
  const own = attributeOnColumnSql(c, p, 'attrs_flat');
  const ids = matches.get(c);
  if (!ids) throw new Error(`resource matches were not looked up for the condition on "${c.key}"`);
  // When no resource matches, the record's own condition alone (it implies the key).
  if (ids.length === 0) return own;
  return `(CASE WHEN ${attrExistsSql(c.key, p)} THEN ${own} ELSE resource_id IN (${ids.map((id) => p.add(id)).join(', ')}) END)`;
}

/** Per attribute condition of a filter, the ids of the tenant's resources that satisfy it. */
export type ResourceMatches = Map<AttributeCondition, bigint[]>;

function attributeConditions(f: TelemetryFilter | undefined | null): AttributeCondition[] {
  if (!f || typeof f !== 'object') return [];
  const own = Array.isArray(f.attributes) ? f.attributes.filter((c) => typeof c?.key === 'string') : [];
  const nested = [...(Array.isArray(f.and) ? f.and : []), ...(Array.isArray(f.or) ? f.or : []), ...(f.not ? [f.not] : [])];
  return [...own, ...nested.flatMap(attributeConditions)];
}

/**
 * One query over the resources table, before the main query, for all of a filter's attribute
 * conditions (a column of flags, one per condition): measured on the query bench, a semi-join
 * subquery inside the filter made DuckDB join every row in the time range (span-attribute searches
 * ~9× slower), where an IN list of ids stays a filter in the scan. Every filtered read (searches,
 * alert rules) takes this path.
 */
export async function resourceMatches(db: Pick<Db, 'query'>, tenant: string, filter: TelemetryFilter | undefined | null): Promise<ResourceMatches> {
  const all = attributeConditions(filter);
  const out: ResourceMatches = new Map(all.map((c) => [c, []]));
  if (all.length === 0) return out;
  const p = params([tenant]);
  // A condition that cannot compile (a missing value, an unknown operator) throws here, as it would in the main query.
  const flags = all.map((c) => `coalesce(${attributeOnColumnSql(c, p, 'attrs_flat')}, false)`);
  const rows = await db.query(
    `SELECT DISTINCT id, [${flags.join(', ')}] AS hit FROM resources WHERE tenant = $1 AND (${flags.join(' OR ')})`,
    p.values,
  );
  for (const row of rows) {
    const hit = row.hit as boolean[];
    all.forEach((c, i) => hit[i] && out.get(c)!.push(row.id as bigint));
  }
  return out;
}

function conditions(signal: FilterSignal, f: TelemetryFilter, p: Params, matches: ResourceMatches): string[] {
  checkFilterFields(f, signal, badQuery);
  const out: string[] = [];
  const range = timeRangeSql(TIME_COLUMN[signal], f.timeRange, p);
  if (range) out.push(range);
  const list = <T>(v: readonly T[] | undefined | null): v is readonly T[] => Array.isArray(v) && v.length > 0;
  if (list(f.service)) out.push(inList('service_name', f.service, p));
  if (list(f.name)) out.push(inList(NAME_COLUMN[signal], f.name, p));
  if (list(f.telemetrySource)) out.push(inList('telemetry_source', f.telemetrySource, p));
  if (list(f.traceId)) out.push(traceIdsSql([...new Set(f.traceId.map((id) => String(id).toLowerCase()))], p.add));
  if (list(f.spanId)) out.push(inList('span_id', f.spanId.map((id) => id.toLowerCase()), p));
  if (list(f.status)) {
    const codes = f.status.map((s) => {
      const code = STATUS_CODES[s];
      if (code === undefined) throw badQuery(`unknown status ${String(s)}`);
      return code;
    });
    out.push(inList('status_code', codes, p));
  }
  if (list(f.kind)) {
    if (!f.kind.every((k) => Number.isInteger(k))) throw badQuery('kind must be SpanKind numbers');
    const kinds = inList('kind', f.kind, p);
    // A kind SpanKind does not name reads as UNSPECIFIED (knownSpanKind), so UNSPECIFIED finds it too.
    out.push(f.kind.includes(SpanKind.UNSPECIFIED) ? `(${kinds} OR NOT (${NAMED_KIND_SQL}))` : kinds);
  }
  if (f.minDuration != null) out.push(`duration_ns >= ${p.add(filterNanos('minDuration', f.minDuration, badQuery))}`);
  if (f.maxDuration != null) out.push(`duration_ns <= ${p.add(filterNanos('maxDuration', f.maxDuration, badQuery))}`);
  if (f.minSeverity != null) {
    if (!Number.isInteger(f.minSeverity)) throw badQuery('minSeverity must be an integer');
    out.push(`severity_number >= ${p.add(f.minSeverity)}`);
  }
  if (f.bodyContains != null && f.bodyContains !== '') out.push(`contains(lower(body_text), lower(${p.add(f.bodyContains)}))`);
  if (list(f.attributes)) for (const c of f.attributes) out.push(attributeSql(c, p, matches));
  if (list(f.and)) for (const sub of f.and) out.push(compile(signal, sub, p, matches));
  if (list(f.or)) out.push(`(${f.or.map((sub) => compile(signal, sub, p, matches)).join(' OR ')})`);
  // NULL (a missing attribute, a NULL column) counts as false, so NOT of it is true.
  if (f.not != null) out.push(`NOT coalesce(${compile(signal, f.not, p, matches)}, false)`);
  return out;
}

function compile(signal: FilterSignal, f: TelemetryFilter, p: Params, matches: ResourceMatches): string {
  const parts = conditions(signal, f, p, matches);
  return parts.length ? `(${parts.join(' AND ')})` : 'TRUE';
}

/**
 * The filter as a boolean SQL expression over `signal`'s table. Empty lists count as unset.
 * Attribute conditions look up the record's `attrs_flat`, else its resource's among `matches`
 * (resourceMatches, attributeSql); the tenant must be parameter $1. `neq` needs the attribute to exist; `regex` is RE2 and must match the whole value, as in TraceQL and PromQL.
 */
export function filterSql(signal: FilterSignal, filter: TelemetryFilter, p: Params, matches: ResourceMatches): string {
  return compile(signal, filter ?? {}, p, matches);
}

/** Stand-alone form: parameters numbered from `firstParam`, resources matched as `matches` says. */
export function compileFilter(signal: FilterSignal, filter: TelemetryFilter, matches: ResourceMatches, firstParam = 1): SqlFragment {
  const p = params(new Array<SqlParam>(firstParam - 1).fill(null));
  const sql = filterSql(signal, filter, p, matches);
  return { sql, params: p.values.slice(firstParam - 1) };
}

/** Every regex pattern in the filter, to be checked before the query runs. */
export function regexPatterns(f: TelemetryFilter | undefined | null): string[] {
  if (!f || typeof f !== 'object') return [];
  const own = (f.attributes ?? []).filter((c) => c?.op === 'regex' && typeof c.value === 'string').map((c) => c.value!);
  const nested = [...(f.and ?? []), ...(f.or ?? []), ...(f.not ? [f.not] : [])];
  return [...own, ...nested.flatMap(regexPatterns)];
}

/**
 * filterSql for a read of tenant $1: the filter's regexes checked first (a bad one is BAD_QUERY) and
 * its resource conditions looked up (resourceMatches). What every filtered store read calls.
 */
export async function readFilterSql(db: Pick<Db, 'query'>, tenant: string, signal: FilterSignal, filter: TelemetryFilter, p: Params): Promise<string> {
  await checkRegexes(db, filter);
  return filterSql(signal, filter, p, await resourceMatches(db, tenant, filter));
}

/** Compiles every regex of the filter in DuckDB (RE2) so that a bad one is a BAD_QUERY naming it. */
export async function checkRegexes(db: Pick<Db, 'query'>, filter: TelemetryFilter | undefined | null): Promise<void> {
  for (const pattern of new Set(regexPatterns(filter))) {
    try {
      await db.query("SELECT regexp_full_match('', $1)", [pattern]);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'BAD_QUERY') throw badQuery(`invalid regex ${JSON.stringify(pattern)}: ${err.message}`);
      throw err;
    }
  }
}
