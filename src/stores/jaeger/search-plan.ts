// Which part of a TelemetryFilter Jaeger's FindTraces can evaluate, and the query that asks it.
//
// FindTraces takes one service, one operation, a span duration range, a start time range (required)
// and attribute equality, ANDed, and returns whole traces. Only top-level fields are pushed down, and
// only as a superset: the gateway applies the whole filter to what comes back anyway, so a backend
// that matches more loosely (an attribute on an event, conditions met by different spans) only costs
// fetching. What Jaeger cannot evaluate is named in `residual` for the note on the result.
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

/** The FindTraces query parameters (v2.19+ camelCase names), in a stable order. */
export function findTracesQuery(plan: SearchPlan, window: Required<TimeRange>, searchDepth: number): [string, string][] {
  const q: [string, string][] = [];
  if (plan.serviceName !== undefined) q.push(['query.serviceName', plan.serviceName]);
  if (plan.operationName !== undefined) q.push(['query.operationName', plan.operationName]);
  q.push(['query.startTimeMin', rfc3339Nano(window.from)]);
  q.push(['query.startTimeMax', rfc3339Nano(window.to)]);
  if (plan.durationMin !== undefined) q.push(['query.durationMin', goDuration(plan.durationMin)]);
  if (plan.durationMax !== undefined) q.push(['query.durationMax', goDuration(plan.durationMax)]);
  q.push(['query.searchDepth', String(searchDepth)]);
  if (plan.attributes) q.push(['query.attributes', JSON.stringify(plan.attributes)]);
  return q;
}
