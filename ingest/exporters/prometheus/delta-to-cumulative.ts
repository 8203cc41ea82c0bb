// Prometheus only knows cumulative counters and histograms. Delta sums and delta histograms are
// turned into cumulative points here, with a running total per series kept in memory, before the
// points are queued (so a retried or spilled batch is never added twice).
// - The state is bounded (`maxSeries`); past it the least recently updated series is forgotten and
//   starts again from 0 (Prometheus' rate() and increase() treat that as a counter reset).
// - The state is lost on restart: the series restarts from 0 too (a reset again, not a wrong value).
// - A delta point not newer than its series' last one is refused ('delta_out_of_order').
// - A delta sum of NaN or ±Inf is refused ('delta_not_finite'), not added: it would poison every
//   later total of the series (DuckDB keeps each delta on its own, so only that step is NaN there).
// - A histogram whose bounds change starts its series over.
// - Delta exponential histograms are added at the coarser of the two scales (an SDK picks each
//   delta's scale from its own range), with the wider zero bucket, and the running total is kept
//   within MAX_EXPONENTIAL_BUCKETS per sign by lowering its scale, as the SDKs' maxSize does.
import type { ExponentialHistogramPoint, HistogramPoint, MetricPoint, NumberPoint } from '../../../src/model/telemetry.ts';
import { Temporality } from '../../../src/model/telemetry.ts';
import {
  addInto,
  bucketSpan,
  downscale,
  takeBelow,
  toBucketCounts,
  toExponentialBuckets,
  type BucketCounts,
} from '../../../src/model/exponential-buckets.ts';

export type DeltaRefusal = 'delta_out_of_order' | 'delta_not_finite';

/** The OTel SDKs' default maxSize for exponential histograms. */
const MAX_EXPONENTIAL_BUCKETS = 160;

interface SumState {
  kind: 'sum';
  lastNs: bigint;
  startNs: bigint;
  total: number;
}
interface HistogramState {
  kind: 'histogram';
  lastNs: bigint;
  startNs: bigint;
  bounds: number[];
  counts: number[];
  count: number;
  sum: number;
  min?: number;
  max?: number;
}
interface ExponentialState {
  kind: 'exponential';
  lastNs: bigint;
  startNs: bigint;
  scale: number;
  zeroThreshold: number;
  zeroCount: number;
  positive: BucketCounts;
  negative: BucketCounts;
  count: number;
  sum: number;
  min?: number;
  max?: number;
}
type State = SumState | HistogramState | ExponentialState;

/** Adds a delta exponential histogram to its series' running total (a new one when there is none). */
function addExponential(prev: State | undefined, point: ExponentialHistogramPoint): ExponentialState {
  const state: ExponentialState =
    prev?.kind === 'exponential'
      ? prev
      : { kind: 'exponential', lastNs: 0n, startNs: point.startTimeUnixNano, scale: point.scale, zeroThreshold: point.zeroThreshold, zeroCount: 0, positive: new Map(), negative: new Map(), count: 0, sum: 0 };
  let positive = toBucketCounts(point.positive);
  let negative = toBucketCounts(point.negative);
  if (point.scale > state.scale) {
    positive = downscale(positive, point.scale - state.scale);
    negative = downscale(negative, point.scale - state.scale);
  } else if (point.scale < state.scale) {
    state.positive = downscale(state.positive, state.scale - point.scale);
    state.negative = downscale(state.negative, state.scale - point.scale);
    state.scale = point.scale;
  }
  addInto(state.positive, positive);
  addInto(state.negative, negative);
  state.zeroCount += point.zeroCount;
  if (point.zeroThreshold !== state.zeroThreshold) {
    state.zeroThreshold = Math.max(state.zeroThreshold, point.zeroThreshold);
    state.zeroCount += takeBelow(state.positive, state.scale, state.zeroThreshold) + takeBelow(state.negative, state.scale, state.zeroThreshold);
  }
  while (Math.max(bucketSpan(state.positive), bucketSpan(state.negative)) > MAX_EXPONENTIAL_BUCKETS) {
    state.positive = downscale(state.positive, 1);
    state.negative = downscale(state.negative, 1);
    state.scale--;
  }
  state.count += point.count;
  state.sum += point.sum ?? 0;
  if (point.min !== undefined) state.min = Math.min(state.min ?? Infinity, point.min);
  if (point.max !== undefined) state.max = Math.max(state.max ?? -Infinity, point.max);
  state.lastNs = point.timeUnixNano;
  return state;
}

export interface DeltaToCumulative {
  convert(points: readonly MetricPoint[]): { points: MetricPoint[]; refused: Partial<Record<DeltaRefusal, number>> };
  /** Series with a running total in memory. */
  size(): number;
}

/** A series' identity: tenant, metric, resource, scope and point attributes. */
export function seriesKey(p: MetricPoint): string {
  return JSON.stringify([p.tenant, p.metric.name, p.metric.type, p.resource.attributes, p.scope.name, p.scope.version, p.point.attributes]);
}

export function createDeltaToCumulative(opts: { maxSeries: number }): DeltaToCumulative {
  const states = new Map<string, State>();

  function touch(key: string, state: State): void {
    states.delete(key); // re-inserted last: Map order is then least recently updated first
    states.set(key, state);
    while (states.size > opts.maxSeries) states.delete(states.keys().next().value!);
  }

  return {
    size: () => states.size,
    convert(points) {
      const refused: Partial<Record<DeltaRefusal, number>> = {};
      const refuse = (r: DeltaRefusal): void => void (refused[r] = (refused[r] ?? 0) + 1);
      const out: MetricPoint[] = [];
      for (const mp of points) {
        const { metric, point } = mp;
        if (metric.aggregationTemporality !== Temporality.DELTA || metric.type === 'gauge' || metric.type === 'summary') {
          out.push(mp);
          continue;
        }
        const key = seriesKey(mp);
        const prev = states.get(key);
        if (prev && point.timeUnixNano <= prev.lastNs) {
          refuse('delta_out_of_order');
          continue;
        }
        const cumulativeMetric = { ...metric, aggregationTemporality: Temporality.CUMULATIVE };
        if (point.type === 'number') {
          const value = point.asDouble ?? Number(point.asInt ?? 0);
          // NaN or ±Inf (legal in OTLP) would make every later running total NaN or infinite.
          if (!Number.isFinite(value)) {
            refuse('delta_not_finite');
            continue;
          }
          const state: SumState = prev?.kind === 'sum' ? prev : { kind: 'sum', lastNs: 0n, startNs: point.startTimeUnixNano, total: 0 };
          state.total += value;
          state.lastNs = point.timeUnixNano;
          touch(key, state);
          const cumulative: NumberPoint = { ...point, startTimeUnixNano: state.startNs, asDouble: state.total };
          delete cumulative.asInt;
          out.push({ ...mp, metric: cumulativeMetric, point: cumulative });
          continue;
        }
        if (point.type === 'exponentialHistogram') {
          const state = addExponential(prev, point);
          touch(key, state);
          const cumulative: ExponentialHistogramPoint = {
            ...point,
            startTimeUnixNano: state.startNs,
            count: state.count,
            ...(point.sum !== undefined && { sum: state.sum }),
            scale: state.scale,
            zeroThreshold: state.zeroThreshold,
            zeroCount: state.zeroCount,
            positive: toExponentialBuckets(state.positive),
            negative: toExponentialBuckets(state.negative),
            ...(state.min !== undefined && { min: state.min }),
            ...(state.max !== undefined && { max: state.max }),
          };
          out.push({ ...mp, metric: cumulativeMetric, point: cumulative });
          continue;
        }
        if (point.type !== 'histogram') continue;
        const sameBounds =
          prev?.kind === 'histogram' && prev.bounds.length === point.explicitBounds.length && prev.bounds.every((b, i) => b === point.explicitBounds[i]);
        const state: HistogramState = sameBounds
          ? (prev as HistogramState)
          : { kind: 'histogram', lastNs: 0n, startNs: point.startTimeUnixNano, bounds: [...point.explicitBounds], counts: [], count: 0, sum: 0 };
        point.bucketCounts.forEach((c, i) => (state.counts[i] = (state.counts[i] ?? 0) + c));
        state.count += point.count;
        state.sum += point.sum ?? 0;
        if (point.min !== undefined) state.min = Math.min(state.min ?? Infinity, point.min);
        if (point.max !== undefined) state.max = Math.max(state.max ?? -Infinity, point.max);
        state.lastNs = point.timeUnixNano;
        touch(key, state);
        const cumulative: HistogramPoint = {
          ...point,
          startTimeUnixNano: state.startNs,
          bucketCounts: [...state.counts],
          count: state.count,
          ...(point.sum !== undefined && { sum: state.sum }),
          ...(state.min !== undefined && { min: state.min }),
          ...(state.max !== undefined && { max: state.max }),
        };
        out.push({ ...mp, metric: cumulativeMetric, point: cumulative });
      }
      return { points: out, refused };
    },
  };
}
