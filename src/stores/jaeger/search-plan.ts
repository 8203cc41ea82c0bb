// Which part of a TelemetryFilter Jaeger's FindTraces can evaluate, and the query that asks it.
//
// FindTraces takes one service, one operation, a span duration range, a start time range (required)
// and attribute equality, ANDed, and returns whole traces. Only top-level fields are pushed down, and
// only as a superset: the gateway applies the whole filter to what comes back anyway. What Jaeger
// cannot evaluate is named in `residual` for the note on the result.
//
// A superset is not free, though: FindTraces returns at most `searchDepth` traces, so every trace
// Jaeger returns that the gateway then throws away takes the place of one it did not return. So a
// condition Jaeger evaluates more loosely than the gateway counts as post-filtered (the store asks
// for a larger depth and says when the answer may be short), not as exact. Attribute equality is
// such a condition: Jaeger's storages match a tag on the span, on its process (resource) or on any
// of its logs (events) — the Elasticsearch reader's `nestedTagFieldList` is `tags`, `process.tags`,
// `logs.fields`, and Badger and Cassandra index log fields as tags too — while the gateway, as
// DuckDB, looks at the span's attribute and at the resource only when the span lacks the key. The
// attributes are still pushed down (`attributes`, see `looseAttributes` in trace-store.ts): Jaeger's
// looser match is still a superset of the gateway's, and a smaller one than the service's traces
// alone, so with the same one request at the same depth more of the real matches come back.
//
// Parameter names: Jaeger v2.19 renamed api_v3's query parameters to camelCase (`query.serviceName`)
// and keeps the snake_case names (`query.service_name`) as aliases that a later release may remove;
// v2.18 and older (and every 1.x) read only the snake_case ones and no attributes at all
// (findTracesQuery's `names`).
import type { TelemetryFilter, TimeRange } from '../types.ts';
import { goDuration, MAX_GO_DURATION_NS, rfc3339Nano } from './wire.ts';

export interface SearchPlan {
  serviceName?: string;
  operationName?: string;
  durationMin?: bigint;
  durationMax?: bigint;
  attributes?: Record<string, string>;
  /** The filter parts the gateway evaluates alone, for the note ('status', 'or', 'attributes (regex)'). */
  residual: string[];
}

/** Searches without a time range look at the last hour, as the GraphQL layer's default. */
export const DEFAULT_WINDOW_NS = 3_600_000_000_000n;

const nonEmpty = <T>(v: readonly T[] | undefined | null): v is readonly T[] => Array.isArray(v) && v.length > 0;

export function planSearch(filter: TelemetryFilter): SearchPlan {
  const plan: SearchPlan = { residual: [] };
  const residual = (what: string) => {
    if (!plan.residual.includes(what)) plan.residual.push(what);
  };
  if (nonEmpty(filter.service)) {
    if (filter.service.length === 1) plan.serviceName = filter.service[0];
    else residual('service (more than one)');
  }
  // Some Jaeger storages (Cassandra, Elasticsearch) refuse an operation or attributes without a
  // service, so those go down only beside one.
  if (nonEmpty(filter.name)) {
    if (filter.name.length === 1 && plan.serviceName !== undefined) plan.operationName = filter.name[0];
    else residual('name');
  }
  const duration = (v: unknown): bigint | undefined => {
    try {
      const n = typeof v === 'bigint' ? v : BigInt(v as string | number);
      return n > 0n && n <= MAX_GO_DURATION_NS ? n : undefined;
    } catch {
      return undefined;
    }
  };
  if (filter.minDuration != null) plan.durationMin = duration(filter.minDuration);
  if (filter.maxDuration != null) {
    plan.durationMax = duration(filter.maxDuration);
    if (plan.durationMax === undefined) residual('maxDuration');
  }
  if (nonEmpty(filter.attributes)) {
    // A Map, so that a key such as "__proto__" stays a key (fromEntries defines own properties).
    const pushed = new Map<string, string>();
    for (const c of filter.attributes) {
      const pushable = c.op === 'eq' && typeof c.value === 'string' && plan.serviceName !== undefined && !pushed.has(c.key);
      if (pushable) pushed.set(c.key, c.value!);
      else residual(c.op === 'eq' ? 'attributes' : `attributes (${c.op})`);
    }
    if (pushed.size > 0) plan.attributes = Object.fromEntries(pushed);
  }
  for (const field of ['status', 'kind', 'telemetrySource', 'traceId', 'spanId', 'and', 'or'] as const) {
    if (nonEmpty(filter[field] as readonly unknown[] | undefined)) residual(field);
  }
  if (filter.not != null) residual('not');
  return plan;
}

const toBig = (v: unknown): bigint | undefined => (v == null ? undefined : typeof v === 'bigint' ? v : BigInt(v as string | number));

/**
 * The start-time window to ask Jaeger for: the filter's top-level range, the last hour when it has
 * none (the hour before `to` when it sets only `to`; `defaultNs` instead of the hour), narrowed by a
 * page cursor (newest first: up to the cursor's start; oldest first: from it). Both ends inclusive,
 * as Jaeger reads them. Null when the window is empty.
 */
export function searchWindow(
  range: TimeRange | undefined,
  now: bigint,
  cursor?: { start: bigint; order: 'NEWEST_FIRST' | 'OLDEST_FIRST' },
  defaultNs: bigint = DEFAULT_WINDOW_NS,
): Required<TimeRange> | null {
  let from = toBig(range?.from);
  let to = toBig(range?.to);
  if (from === undefined) from = (to ?? now) - defaultNs;
  if (to === undefined) to = now > from ? now : from;
  if (cursor?.order === 'NEWEST_FIRST' && cursor.start < to) to = cursor.start;
  if (cursor?.order === 'OLDEST_FIRST' && cursor.start > from) from = cursor.start;
  if (from < 0n) from = 0n;
  if (from > to) return null;
  return { from, to };
}

/**
 * The names FindTraces' query parameters go by: `camelCase` for Jaeger v2.19 and later,
 * `snake_case` for v2.18 and older (1.x included), which also read no `query.attributes`.
 */
export type ParameterNames = 'camelCase' | 'snake_case';

const NAMES: Record<ParameterNames, Record<'service' | 'operation' | 'min' | 'max' | 'durationMin' | 'durationMax', string> & { depth: string[] }> = {
  camelCase: {
    service: 'query.serviceName',
    operation: 'query.operationName',
    min: 'query.startTimeMin',
    max: 'query.startTimeMax',
    durationMin: 'query.durationMin',
    durationMax: 'query.durationMax',
    depth: ['query.searchDepth'],
  },
  // The depth was `query.num_traces` in 1.x and `query.search_depth` in later snake_case releases;
  // a release reads one of them and ignores the other, so both are sent.
  snake_case: {
    service: 'query.service_name',
    operation: 'query.operation_name',
    min: 'query.start_time_min',
    max: 'query.start_time_max',
    durationMin: 'query.duration_min',
    durationMax: 'query.duration_max',
    depth: ['query.search_depth', 'query.num_traces'],
  },
};

/**
 * The FindTraces query parameters, in a stable order. With `snake_case` names the attributes are not
 * sent (those releases do not read them): the caller must count them as evaluated by the gateway alone.
 */
export function findTracesQuery(plan: SearchPlan, window: Required<TimeRange>, searchDepth: number, names: ParameterNames = 'camelCase'): [string, string][] {
  const n = NAMES[names];
  const q: [string, string][] = [];
  if (plan.serviceName !== undefined) q.push([n.service, plan.serviceName]);
  if (plan.operationName !== undefined) q.push([n.operation, plan.operationName]);
  q.push([n.min, rfc3339Nano(window.from)]);
  q.push([n.max, rfc3339Nano(window.to)]);
  if (plan.durationMin !== undefined) q.push([n.durationMin, goDuration(plan.durationMin)]);
  if (plan.durationMax !== undefined) q.push([n.durationMax, goDuration(plan.durationMax)]);
  for (const name of n.depth) q.push([name, String(searchDepth)]);
  if (plan.attributes && names === 'camelCase') q.push(['query.attributes', JSON.stringify(plan.attributes)]);
  return q;
}

/**
 * The 400 a Jaeger that reads only the snake_case names (v2.18 and older) answers to a search with
 * camelCase names: it finds no start time. Its message names the snake_case parameters, which is
 * what tells it apart from a newer Jaeger's refusal (`query.startTimeMin and query.startTimeMax are
 * required`): retrying a newer one with other names would not help.
 */
export const SNAKE_CASE_ONLY_REFUSAL = { status: 400, message: /query\.start_time_min and query\.start_time_max are required/ };
