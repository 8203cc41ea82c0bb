// Maps the GraphQL TelemetryFilter input onto the store's TelemetryFilter, checking everything a
// backend would otherwise report differently (or not at all).
import { StatusCode, type SpanKind } from '../src/model/telemetry.ts';
import { GatewayError } from '../src/errors.ts';
import { StoreError, type AttributeCondition, type AttributeOp, type TelemetryFilter } from '../src/stores/types.ts';
import { compileRegex } from '../src/stores/filter-match.ts';
import { checkTimeRange, nowNs, spanIdArg, traceIdArg } from './args.ts';
import { agoOf } from '../src/server/request-clock.ts';

export interface AttributeConditionInput {
  key: string;
  eq?: string | null;
  neq?: string | null;
  in?: readonly string[] | null;
  regex?: string | null;
  exists?: boolean | null;
  gt?: number | null;
  gte?: number | null;
  lt?: number | null;
  lte?: number | null;
}

export interface TelemetryFilterInput {
  from?: bigint | null;
  to?: bigint | null;
  service?: readonly string[] | null;
  name?: readonly string[] | null;
  status?: readonly StatusCode[] | null;
  kind?: readonly SpanKind[] | null;
  minDuration?: bigint | null;
  maxDuration?: bigint | null;
  telemetrySource?: readonly string[] | null;
  traceId?: readonly string[] | null;
  spanId?: readonly string[] | null;
  minSeverity?: number | null;
  minSeverityLevel?: number | null;
  bodyContains?: string | null;
  attributes?: readonly AttributeConditionInput[] | null;
  and?: readonly TelemetryFilterInput[] | null;
  or?: readonly TelemetryFilterInput[] | null;
  not?: TelemetryFilterInput | null;
}

export type FilterSignal = 'spans' | 'traces' | 'logs';

/** Searches without a time range look at the last hour. */
export const DEFAULT_SEARCH_WINDOW_NS = 3_600_000_000_000n;

const SPAN_ONLY = ['status', 'kind', 'minDuration', 'maxDuration'] as const;
const LOG_ONLY = ['minSeverity', 'minSeverityLevel', 'bodyContains'] as const;
const OPERATORS = ['eq', 'neq', 'in', 'regex', 'exists', 'gt', 'gte', 'lt', 'lte'] as const;
const STATUS_NAMES = Object.fromEntries(Object.entries(StatusCode).map(([name, code]) => [code, name])) as Record<
  StatusCode,
  'UNSET' | 'OK' | 'ERROR'
>;

/**
 * Values one list of a filter may hold (`service`, `in`, `attributes`, `and`, `or`, …). Each value
 * becomes a statement parameter (DuckDB) or a clause (Elasticsearch): a filter of 100,000 `in`
 * values took 36–47 s to plan, outliving the deadline, and left ~1.2 GB of native memory behind
 * (fuzz QA). A list typed or picked by a person, or built from a dashboard variable, is tens of
 * values; past a thousand, a query wants a different shape (a shared attribute, a regex).
 */
export const MAX_FILTER_LIST_VALUES = 1_000;
/**
 * Terms a whole filter may hold: list values, attribute conditions and nested filters, counted
 * at every level. Bounds what many lists of MAX_FILTER_LIST_VALUES together would cost, at ten
 * times the largest single list (nine `in` lists of 1,000 values took 0.9–1.7 s to plan on an empty store).
 */
export const MAX_FILTER_TERMS = 10_000;
/**
 * Regex conditions a whole filter may hold. Each is compiled and run per row: an `or` of 1,000
 * took 5.3 s and ~135 MB of native memory on an empty store, 5,000 took 34 s (fuzz QA). Filters
 * written by people have a few.
 */
export const MAX_FILTER_REGEXES = 100;

function badFilter(path: string, message: string): GatewayError {
  return new GatewayError('GW_BAD_FILTER', `${path}: ${message} (GW_BAD_FILTER)`);
}

/** Counts a filter's terms and regexes as it is mapped, refusing it at the first one past MAX_FILTER_TERMS or MAX_FILTER_REGEXES. */
class TermBudget {
  private terms = 0;
  private regexes = 0;
  spend(n: number, path: string): void {
    this.terms += n;
    if (this.terms > MAX_FILTER_TERMS) {
      throw badFilter(path, `the filter has more than ${MAX_FILTER_TERMS} terms (list values, conditions and nested filters); a filter may have at most ${MAX_FILTER_TERMS}`);
    }
  }
  spendRegex(path: string): void {
    if (++this.regexes > MAX_FILTER_REGEXES) {
      throw badFilter(path, `the filter has more than ${MAX_FILTER_REGEXES} regex conditions; a filter may have at most ${MAX_FILTER_REGEXES}`);
    }
  }
}

/** A list's values, counted against the budget; a list longer than MAX_FILTER_LIST_VALUES is refused. */
function bounded<T>(values: readonly T[] | null | undefined, path: string, budget: TermBudget): readonly T[] {
  if (!values) return [];
  if (values.length > MAX_FILTER_LIST_VALUES) {
    throw badFilter(path, `has ${values.length} values; a filter list may have at most ${MAX_FILTER_LIST_VALUES}`);
  }
  budget.spend(values.length, path);
  return values;
}

/** An empty list means "no restriction", as an empty multi-select does in Grafana. */
function list<T>(values: readonly T[] | null | undefined, path: string, budget: TermBudget): T[] | undefined {
  const checked = bounded(values, path, budget);
  return checked.length > 0 ? [...checked] : undefined;
}

function mapCondition(c: AttributeConditionInput, path: string, budget: TermBudget): { cond: AttributeCondition; negate: boolean } {
  const where = `${path} (key ${JSON.stringify(c.key)})`;
  if (c.key === '') throw badFilter(path, 'key must not be empty');
  const set = OPERATORS.filter((op) => c[op] != null);
  if (set.length !== 1) {
    throw badFilter(
      where,
      `an attribute condition needs exactly one operator of ${OPERATORS.join(', ')}; it has ${set.length === 0 ? 'none' : set.join(', ')}`,
    );
  }
  const op: AttributeOp = set[0]!;
  const key = c.key;
  switch (op) {
    case 'eq':
    case 'neq':
      return { cond: { key, op, value: c[op]! }, negate: false };
    case 'regex':
      budget.spendRegex(`${where}.regex`);
      // Checked here with the RE2 reading the in-memory matcher uses (`(?i)` is RE2, not JS), so a
      // bad pattern is refused naming its place, the same whichever store would run it.
      try {
        compileRegex(c.regex!);
      } catch (err) {
        if (err instanceof StoreError) throw badFilter(`${where}.regex`, err.message);
        throw err;
      }
      return { cond: { key, op, value: c.regex! }, negate: false };
    case 'in':
      bounded(c.in, `${where}.in`, budget);
      if (c.in!.length === 0) throw badFilter(where, '`in` needs at least one value');
      return { cond: { key, op, values: [...c.in!] }, negate: false };
    case 'exists':
      return { cond: { key, op }, negate: c.exists === false };
    default:
      return { cond: { key, op, number: c[op]! }, negate: false };
  }
}

/**
 * The instants a search resolves its relative Timestamps (`now-1h`, request-clock.ts) against: `now`,
 * its first page's; `relative` says whether the filter had one.
 */
class SearchInstants {
  relative = false;
  constructor(readonly now: bigint) {}
  of(ns: bigint): bigint {
    const ago = agoOf(ns);
    if (ago === undefined) return ns;
    this.relative = true;
    return this.now - ago;
  }
}

function mapFilter(input: TelemetryFilterInput, signal: FilterSignal, path: string, budget: TermBudget, instants?: SearchInstants): TelemetryFilter {
  const notApplicable = signal === 'logs' ? SPAN_ONLY : LOG_ONLY;
  for (const field of notApplicable) {
    if (input[field] != null) throw badFilter(`${path}.${field}`, `does not apply to ${signal}`);
  }
  const out: TelemetryFilter = {};
  if (input.from != null || input.to != null) {
    out.timeRange = checkTimeRange(
      { ...(input.from != null && { from: instants?.of(input.from) ?? input.from }), ...(input.to != null && { to: instants?.of(input.to) ?? input.to }) },
      path,
    );
  }
  const service = list(input.service, `${path}.service`, budget);
  if (service) out.service = service;
  const name = list(input.name, `${path}.name`, budget);
  if (name) out.name = name;
  const status = list(input.status, `${path}.status`, budget);
  if (status) out.status = status.map((code) => STATUS_NAMES[code]);
  const kind = list(input.kind, `${path}.kind`, budget);
  if (kind) out.kind = kind;
  if (input.minDuration != null) out.minDuration = input.minDuration;
  if (input.maxDuration != null) out.maxDuration = input.maxDuration;
  if (out.minDuration !== undefined && out.maxDuration !== undefined && out.minDuration > out.maxDuration) {
    throw badFilter(path, 'minDuration is greater than maxDuration');
  }
  const source = list(input.telemetrySource, `${path}.telemetrySource`, budget);
  if (source) out.telemetrySource = source;
  const traceIds = list(input.traceId, `${path}.traceId`, budget);
  if (traceIds) out.traceId = traceIds.map((id, i) => traceIdArg(id, `${path}.traceId[${i}]`));
  const spanIds = list(input.spanId, `${path}.spanId`, budget);
  if (spanIds) out.spanId = spanIds.map((id, i) => spanIdArg(id, `${path}.spanId[${i}]`));
  if (input.minSeverity != null) {
    if (!Number.isInteger(input.minSeverity) || input.minSeverity < 0 || input.minSeverity > 24) {
      throw badFilter(`${path}.minSeverity`, `must be a severity number from 0 to 24, got ${input.minSeverity}`);
    }
    out.minSeverity = input.minSeverity;
  }
  if (input.minSeverityLevel != null) {
    if (input.minSeverity != null) throw badFilter(path, 'set minSeverity or minSeverityLevel, not both');
    out.minSeverity = input.minSeverityLevel;
  }
  if (input.bodyContains != null) out.bodyContains = input.bodyContains;

  const and: TelemetryFilter[] = bounded(input.and, `${path}.and`, budget).map((f, i) => mapFilter(f, signal, `${path}.and[${i}]`, budget, instants));
  const attributes: AttributeCondition[] = [];
  bounded(input.attributes, `${path}.attributes`, budget).forEach((c, i) => {
    const { cond, negate } = mapCondition(c, `${path}.attributes[${i}]`, budget);
    // The store has no "not exists" operator; NOT(exists) says the same.
    if (negate) and.push({ not: { attributes: [cond] } });
    else attributes.push(cond);
  });
  if (attributes.length > 0) out.attributes = attributes;
  if (and.length > 0) out.and = and;
  const or = bounded(input.or, `${path}.or`, budget);
  if (or.length > 0) out.or = or.map((f, i) => mapFilter(f, signal, `${path}.or[${i}]`, budget, instants));
  if (input.not != null) {
    budget.spend(1, `${path}.not`);
    out.not = mapFilter(input.not, signal, `${path}.not`, budget, instants);
  }
  return out;
}

/**
 * The store filter for a search. When the top level sets neither `from` nor `to`, the search
 * covers the last hour, up to now (records stamped in the future by a skewed clock would otherwise
 * sit on top of every default view, newest first); when it sets only `to`, the hour before it. A top-level `traceId` or
 * `spanId` lifts that default: looking up known IDs should find them however old they are.
 * Nested filters (`and`, `or`, `not`) get no default range.
 */
export function toStoreFilter(
  input: TelemetryFilterInput | null | undefined,
  signal: FilterSignal,
  now: bigint = nowNs(),
): TelemetryFilter {
  return toSearchFilter(input, signal, now).filter;
}

/**
 * toStoreFilter for one page of a search, whose relative Timestamps (`now-1h`) are resolved against
 * `now` (the first page's); `movesWithNow` says whether the filter's range depends on now (the
 * default hour, or a relative instant), so that the later pages must be given the same now.
 */
export function toSearchFilter(input: TelemetryFilterInput | null | undefined, signal: FilterSignal, now: bigint): { filter: TelemetryFilter; movesWithNow: boolean } {
  const instants = new SearchInstants(now);
  const filter = mapFilter(input ?? {}, signal, 'filter', new TermBudget(), instants);
  if (filter.traceId || filter.spanId) return { filter, movesWithNow: instants.relative };
  const range = filter.timeRange ?? {};
  if (range.from !== undefined) return { filter, movesWithNow: instants.relative };
  const to = range.to ?? now;
  const from = to - DEFAULT_SEARCH_WINDOW_NS;
  filter.timeRange = { from: from > 0n ? from : 0n, to };
  return { filter, movesWithNow: instants.relative || range.to === undefined };
}

/** Where a tail filter sets `from` or `to`, at any nesting level. */
function timeRangePath(input: TelemetryFilterInput, path: string): string | undefined {
  if (input.from != null) return `${path}.from`;
  if (input.to != null) return `${path}.to`;
  const nested: [TelemetryFilterInput, string][] = [
    ...(input.and ?? []).map((f, i): [TelemetryFilterInput, string] => [f, `${path}.and[${i}]`]),
    ...(input.or ?? []).map((f, i): [TelemetryFilterInput, string] => [f, `${path}.or[${i}]`]),
    ...(input.not != null ? [[input.not, `${path}.not`] as [TelemetryFilterInput, string]] : []),
  ];
  for (const [f, p] of nested) {
    const found = timeRangePath(f, p);
    if (found) return found;
  }
  return undefined;
}

/**
 * The store filter for a live tail (or an alert rule): the same mapping and checks as a search,
 * but no time range. A tail sees records as they arrive and a rule has its window, so `from` / `to`
 * are rejected (GW_BAD_FILTER) rather than silently ignored; `why` says which.
 */
export function toTailFilter(
  input: TelemetryFilterInput | null | undefined,
  signal: 'spans' | 'logs',
  why = 'a live tail has no time range; remove from/to',
): TelemetryFilter {
  const where = input ? timeRangePath(input, 'filter') : undefined;
  if (where) throw badFilter(where, why);
  return mapFilter(input ?? {}, signal, 'filter', new TermBudget());
}
