// Metric queries: aggregated series for charts, raw points for clients that want every field.
import type { Exemplar, MetricPoint } from '../src/model/telemetry.ts';
import type { MetricSeries, SeriesAggregation } from '../src/stores/types.ts';
import { argumentError, checkTimeRange, limitArg, nowNs, optionalRange } from './args.ts';
import { callStore } from './call-store.ts';
import type { GraphQLContext } from './context.ts';
import { DEFAULT_SEARCH_WINDOW_NS } from './filter.ts';
import type { ExemplarModel, MetricInfoModel } from './models.ts';

/** Prometheus' limit, for the same reason: a chart cannot show more and the query gets slow. */
export const MAX_SERIES_POINTS = 11_000;
/** Without a step, a range is cut into about this many steps (rounded up to whole seconds). */
export const AUTO_STEP_POINTS = 250n;
const SECOND = 1_000_000_000n;

/**
 * `labels` is a JSON object of exact matches; numbers and booleans match their text form. It may
 * also come as that object's JSON text: OTel keys have dots, which a GraphQL object literal cannot
 * spell, so a query written inline (Grafana Infinity, curl) could not filter by service otherwise.
 */
/** The most labels a `labels` argument (or `groupBy`) may name. */
export const MAX_LABELS = 100;

export function labelsArg(input: unknown): Record<string, string> | undefined {
  if (input == null) return undefined;
  const labels = typeof input === 'string' ? parsedJson(input) : input;
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw argumentError('labels must be a JSON object of label → value, e.g. {"service.name": "checkout"}');
  }
  // As a filter list (resolvers/filter.ts): each label is a SQL condition, and 50,000 of them kept a
  // request planning for 34 s past its deadline (fuzz QA). Counted as they are read, so that 600,000
  // labels are refused at the 101st, not after copying them all (bigquery QA: 0.7 s).
  const out: Record<string, string> = {};
  let count = 0;
  for (const key in labels) {
    if (!Object.hasOwn(labels, key)) continue;
    if (++count > MAX_LABELS) throw argumentError(`labels has more than ${MAX_LABELS} labels; at most ${MAX_LABELS} may be given`);
    const value = (labels as Record<string, unknown>)[key];
    if (typeof value === 'string') out[key] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
    else throw argumentError(`labels.${key} must be a string, number or boolean`);
  }
  return out;
}

function groupByArg(groupBy: readonly string[]): readonly string[] {
  if (groupBy.length > MAX_LABELS) throw argumentError(`groupBy has ${groupBy.length} labels; at most ${MAX_LABELS} may be given`);
  return groupBy;
}

function parsedJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function stepArg(from: bigint, to: bigint, step: bigint | null | undefined): bigint {
  if (step != null && step <= 0n) throw argumentError('step must be greater than 0');
  const range = to - from;
  const perStep = AUTO_STEP_POINTS * SECOND;
  const stepNano = step ?? (range > 0n ? ((range + perStep - 1n) / perStep) * SECOND : SECOND);
  if (range / stepNano + 1n > BigInt(MAX_SERIES_POINTS)) {
    throw argumentError(`step is too small for the range: it would give more than ${MAX_SERIES_POINTS} points`);
  }
  return stepNano;
}

export interface SeriesArgs {
  name: string;
  labels?: unknown;
  from: bigint;
  to: bigint;
  step?: bigint | null;
  aggregation?: SeriesAggregation | null;
  quantile?: number | null;
  groupBy?: readonly string[] | null;
}

export function metricSeries(ctx: GraphQLContext, args: SeriesArgs): Promise<MetricSeries[]> {
  checkTimeRange({ from: args.from, to: args.to });
  const labels = labelsArg(args.labels);
  const stepNano = stepArg(args.from, args.to, args.step);
  if (args.quantile != null && !(args.quantile >= 0 && args.quantile <= 1)) throw argumentError(`quantile must be from 0 to 1, not ${args.quantile}`);
  return callStore(() =>
    ctx.stores.metrics.querySeries(ctx.tenant, {
      name: args.name,
      ...(labels && { labels }),
      range: { from: args.from, to: args.to },
      stepNano,
      aggregation: args.aggregation ?? 'AVG',
      ...(args.quantile != null && { quantile: args.quantile }),
      ...(args.groupBy != null && { groupBy: groupByArg(args.groupBy) }),
    }),
  );
}

/** Raw points, newest first; without from/to, the last hour (as for searches). */
export function metricPoints(
  ctx: GraphQLContext,
  args: { name: string; labels?: unknown; from?: bigint | null; to?: bigint | null; limit?: number | null },
): Promise<MetricPoint[]> {
  const limit = limitArg('limit', args.limit, 100);
  const range = optionalRange(args.from, args.to) ?? {};
  if (range.from === undefined) {
    const from = (range.to ?? nowNs()) - DEFAULT_SEARCH_WINDOW_NS;
    range.from = from > 0n ? from : 0n;
  }
  const labels = labelsArg(args.labels);
  return callStore(() => ctx.stores.metrics.points(ctx.tenant, args.name, range, limit, labels));
}

export function metricNames(ctx: GraphQLContext, args: { from?: bigint | null; to?: bigint | null }): Promise<MetricInfoModel[]> {
  const range = optionalRange(args.from, args.to);
  return callStore(() => ctx.stores.metrics.metricNames(ctx.tenant, range));
}

export function pointExemplars(point: MetricPoint['point']): ExemplarModel[] {
  if (!('exemplars' in point)) return [];
  return point.exemplars.map((e: Exemplar) => ({
    timeUnixNano: e.timeUnixNano,
    value: e.asDouble ?? Number(e.asInt ?? 0),
    traceId: e.traceId,
    spanId: e.spanId,
    filteredAttributes: e.filteredAttributes,
    ...(e.asInt !== undefined && { asInt: e.asInt }),
    ...(e.asDouble !== undefined && { asDouble: e.asDouble }),
  }));
}

/** A number point's value as a double; null for distribution points. */
export function pointValue(point: MetricPoint['point']): number | null {
  if (point.type !== 'number') return null;
  return point.asDouble ?? (point.asInt !== undefined ? Number(point.asInt) : null);
}
