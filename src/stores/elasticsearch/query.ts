// TelemetryFilter → Elasticsearch query DSL over the log documents of documents.ts.
//
// Semantics follow the DuckDB store (src/stores/duckdb/filter-sql.ts), the reference:
// - An attribute key is looked up on the record first and on its resource only when the record does
//   not have it (record attributes win), so `eq` on a key is
//   `attributes.k = v OR (NOT exists attributes.k AND resource.attributes.k = v)`.
// - Values compare as strings (keyword fields) for eq/neq/in/regex and as numbers (the `teleql_num`
//   double sub-field) for gt/gte/lt/lte. `neq` needs the attribute to exist.
// - `regex` must match the whole value (Lucene regexps are anchored and do not backtrack); the
//   Lucene-only operators (`@ & ~ <n-m> #`) are switched off, so those characters are literals.
// - `bodyContains` is a phrase match on the analysed body text (case-insensitive, whole words), not
//   the substring match of DuckDB.
import type { estypes } from '@elastic/elasticsearch';
import type { AttributeCondition, TelemetryFilter, TimeRange } from '../types.ts';
import { indexableKey, nsToIso } from './documents.ts';
import { badQuery } from './errors.ts';
import { checkFilterFields, conditionThreshold, filterNanos } from '../filter-fields.ts';

export type Query = estypes.QueryDslQueryContainer;

export const F = {
  time: '@timestamp',
  tenant: 'teleql.tenant',
  id: 'teleql.id',
  severity: 'severity_number',
  bodyText: 'body.text',
  structuredBodyText: 'teleql.body_text',
  eventName: 'event_name',
  traceId: 'trace_id',
  spanId: 'span_id',
  service: 'resource.attributes.service.name',
} as const;

/** The numeric sub-field every attribute keyword has (see template.ts). */
export const NUMBER_SUBFIELD = 'teleql_num';
export const DATE_FORMAT = 'strict_date_optional_time_nanos';
const UNKNOWN_SERVICE = 'unknown_service';
const TELEMETRY_SOURCE_KEY = 'telemetry.source';


export const MATCH_NONE: Query = { match_none: {} };


/** A range on `@timestamp` with ns precision; null when neither end is set. */
export function timeRangeQuery(range: TimeRange | undefined | null): Query | null {
  if (range?.from == null && range?.to == null) return null;
  const r: estypes.QueryDslDateRangeQuery = { format: DATE_FORMAT };
  if (range.from != null) r.gte = nsToIso(filterNanos('timeRange.from', range.from, badQuery));
  if (range.to != null) r.lte = nsToIso(filterNanos('timeRange.to', range.to, badQuery));
  return { range: { [F.time]: r } };
}

const terms = (field: string, values: readonly (string | number)[]): Query =>
  values.length === 1 ? { term: { [field]: values[0]! } } : { terms: { [field]: [...values] } };
const exists = (field: string): Query => ({ exists: { field } });
const should = (queries: Query[]): Query => ({ bool: { should: queries, minimum_should_match: 1 } });

/**
 * `test` on the record's attribute, or on the resource's when the record lacks the key. The record
 * side is tested on the keyword itself, so `test` gets the keyword field name.
 */
function onAttribute(key: string, test: (field: string) => Query): Query {
  if (!indexableKey(key)) return MATCH_NONE;
  const own = `attributes.${key}`;
  return should([test(own), { bool: { must_not: [exists(own)], filter: [test(`resource.attributes.${key}`)] } }]);
}

function attributeExists(key: string): Query {
  if (!indexableKey(key)) return MATCH_NONE;
  return should([exists(`attributes.${key}`), exists(`resource.attributes.${key}`)]);
}

function attributeQuery(c: AttributeCondition): Query {
  if (typeof c?.key !== 'string') throw badQuery('an attribute condition needs a key');
  const value = (): string => {
    if (typeof c.value !== 'string') throw badQuery(`attribute condition ${c.op} on "${c.key}" needs a string value`);
    return c.value;
  };
  switch (c.op) {
    case 'eq': {
      const v = value();
      return onAttribute(c.key, (f) => ({ term: { [f]: v } }));
    }
    case 'neq': {
      const v = value();
      return { bool: { filter: [attributeExists(c.key)], must_not: [onAttribute(c.key, (f) => ({ term: { [f]: v } }))] } };
    }
    case 'in': {
      if (!Array.isArray(c.values) || c.values.length === 0) throw badQuery(`attribute condition in on "${c.key}" needs values`);
      const values = c.values.map(String);
      return onAttribute(c.key, (f) => ({ terms: { [f]: values } }));
    }
    case 'regex': {
      const v = value();
      return onAttribute(c.key, (f) => ({ regexp: { [f]: { value: v, flags: 'NONE' } } }));
    }
    case 'exists':
      return attributeExists(c.key);
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const n = conditionThreshold(c, badQuery);
      const op = c.op;
      // The record side still decides by its keyword: a record value that is not a number hides the
      // resource's value, as TRY_CAST(attrs[k]) does in DuckDB.
      return onAttribute(c.key, (f) => ({ range: { [`${f}.${NUMBER_SUBFIELD}`]: { [op]: n } } }));
    }
    default:
      throw badQuery(`unknown attribute operator ${String((c as { op: unknown }).op)}`);
  }
}

function serviceQuery(services: readonly string[]): Query {
  const named = terms(F.service, services);
  // A resource without service.name reads as "unknown_service", as the SDKs and the DuckDB store do.
  return services.includes(UNKNOWN_SERVICE) ? should([named, { bool: { must_not: [exists(F.service)] } }]) : named;
}

const list = <T>(v: readonly T[] | undefined | null): v is readonly T[] => Array.isArray(v) && v.length > 0;

function clauses(f: TelemetryFilter): Query[] {
  checkFilterFields(f, 'logs', badQuery);
  const out: Query[] = [];
  const range = timeRangeQuery(f.timeRange);
  if (range) out.push(range);
  if (list(f.service)) out.push(serviceQuery(f.service));
  if (list(f.name)) out.push(terms(F.eventName, f.name));
  if (list(f.telemetrySource)) {
    const values = [...f.telemetrySource];
    out.push(onAttribute(TELEMETRY_SOURCE_KEY, (field) => ({ terms: { [field]: values } })));
  }
  if (list(f.traceId)) out.push(terms(F.traceId, f.traceId.map((id) => id.toLowerCase())));
  if (list(f.spanId)) out.push(terms(F.spanId, f.spanId.map((id) => id.toLowerCase())));
  if (f.minSeverity != null) {
    if (!Number.isInteger(f.minSeverity)) throw badQuery('minSeverity must be an integer');
    out.push({ range: { [F.severity]: { gte: f.minSeverity } } });
  }
  if (f.bodyContains != null && f.bodyContains !== '') {
    out.push(should([{ match_phrase: { [F.bodyText]: f.bodyContains } }, { match_phrase: { [F.structuredBodyText]: f.bodyContains } }]));
  }
  if (list(f.attributes)) for (const c of f.attributes) out.push(attributeQuery(c));
  if (list(f.and)) for (const sub of f.and) out.push(compile(sub));
  if (list(f.or)) out.push(should(f.or.map(compile)));
  if (f.not != null) out.push({ bool: { must_not: [compile(f.not)] } });
  return out;
}

function compile(f: TelemetryFilter): Query {
  const parts = clauses(f);
  if (parts.length === 0) return { match_all: {} };
  return parts.length === 1 ? parts[0]! : { bool: { filter: parts } };
}

/** The filter as one query; fields that do not apply to logs (kind, status, duration) are a BAD_QUERY. */
export function filterQuery(filter: TelemetryFilter | undefined | null): Query {
  return compile(filter ?? {});
}

/** The tenant term plus the given conditions, all as non-scoring filters. */
export function tenantQuery(tenant: string, ...conditions: Query[]): Query {
  const filter: Query[] = [{ term: { [F.tenant]: tenant } }];
  for (const q of conditions) {
    if ('match_all' in q) continue;
    // Flatten a plain AND so the common query is one bool level.
    const b = q.bool;
    if (b && Object.keys(b).length === 1 && Array.isArray(b.filter)) filter.push(...b.filter);
    else filter.push(q);
  }
  return { bool: { filter } };
}

/** Newest first (or oldest first), then the document ID, so the order is total and stable. */
export function logSort(order: 'asc' | 'desc'): estypes.SortCombinations[] {
  return [
    { [F.time]: { order, format: DATE_FORMAT, numeric_type: 'date_nanos', unmapped_type: 'date_nanos' } },
    { [F.id]: { order, unmapped_type: 'keyword' } },
  ];
}
