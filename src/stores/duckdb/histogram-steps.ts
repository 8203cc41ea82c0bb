// What histogram-like series observed during each step of a metricSeries query, from the points
// the DuckDB metric store keeps: a cumulative point minus the series' previous point (a reset starts
// again from zero), delta points added up, and quantiles estimated from the buckets as Prometheus'
// histogram_quantile does, so a chart reads the same from the embedded store and from Prometheus.
import { downscale, toBucketCounts, type BucketCounts } from '../../model/exponential-buckets.ts';
import { Temporality, type ExponentialBuckets as OtlpExponentialBuckets } from '../../model/telemetry.ts';
import { observationsValue, rateSeconds } from '../series-query.ts';
import type { SeriesPoint, SeriesQuery } from '../types.ts';
import type { Row } from './connection.ts';
import { finite } from './metric-rows.ts';

const DELTA = Temporality.DELTA;

/** Explicit-bounds buckets: counts[i] observations in (bounds[i-1], bounds[i]], the last up to +Inf. */
export interface ExplicitBuckets {
  kind: 'explicit';
  bounds: number[];
  counts: number[];
}

/** Exponential buckets by absolute OTLP index (index i holds (base^i, base^(i+1)], base = 2^(2^-scale)). */
export interface ExponentialBuckets {
  kind: 'exponential';
  scale: number;
  zeroCount: number;
  zeroThreshold: number;
  positive: BucketCounts;
  negative: BucketCounts;
}

export type Buckets = ExplicitBuckets | ExponentialBuckets;

/** A summary's quantiles: not additive, so a step answers with its last point's. */
export type SummaryQuantiles = readonly { quantile: number; value: number | null }[];

export interface Observations {
  count: number;
  sum: number | null;
  /** Undefined when not read (no quantile asked); null when the step's points cannot be combined. */
  buckets?: Buckets | null;
}

export function exponentialBuckets(p: {
  scale: number; zeroCount: number; zeroThreshold: number;
  positive: OtlpExponentialBuckets; negative: OtlpExponentialBuckets;
}): ExponentialBuckets {
  return {
    kind: 'exponential', scale: p.scale, zeroCount: p.zeroCount, zeroThreshold: p.zeroThreshold,
    positive: toBucketCounts(p.positive), negative: toBucketCounts(p.negative),
  };
}

/** a + sign·b, bucket by bucket, at the coarser of the two scales. */
function combineExponential(a: ExponentialBuckets, b: ExponentialBuckets, sign: 1 | -1): ExponentialBuckets {
  const scale = Math.min(a.scale, b.scale);
  const side = (x: BucketCounts, xs: number, y: BucketCounts, ys: number) => {
    const out = new Map(downscale(x, xs - scale));
    for (const [i, c] of downscale(y, ys - scale)) out.set(i, (out.get(i) ?? 0) + sign * c);
    return out;
  };
  return {
    kind: 'exponential',
    scale,
    zeroCount: a.zeroCount + sign * b.zeroCount,
    zeroThreshold: Math.max(a.zeroThreshold, b.zeroThreshold),
    positive: side(a.positive, a.scale, b.positive, b.scale),
    negative: side(a.negative, a.scale, b.negative, b.scale),
  };
}

const sameBounds = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function combineBuckets(a: Buckets, b: Buckets, sign: 1 | -1): Buckets | null {
  if (a.kind === 'explicit' && b.kind === 'explicit') {
    if (!sameBounds(a.bounds, b.bounds) || a.counts.length !== b.counts.length) return null;
    return { kind: 'explicit', bounds: a.bounds, counts: a.counts.map((c, i) => c + sign * b.counts[i]!) };
  }
  if (a.kind === 'exponential' && b.kind === 'exponential') return combineExponential(a, b, sign);
  return null;
}

function anyNegative(b: Buckets): boolean {
  if (b.kind === 'explicit') return b.counts.some((c) => c < 0);
  return b.zeroCount < 0 || [...b.positive.values(), ...b.negative.values()].some((c) => c < 0);
}

/**
 * What a cumulative series observed between two of its points, or undefined when `cur` does not
 * continue `prev` (a count went down, the buckets changed): the series was reset, so `cur` is
 * what it observed since.
 */
export function observedSince(cur: Observations, prev: Observations): Observations | undefined {
  const count = cur.count - prev.count;
  if (count < 0) return undefined;
  const out: Observations = { count, sum: cur.sum !== null && prev.sum !== null ? cur.sum - prev.sum : null };
  if (cur.buckets === undefined) return out;
  if (cur.buckets === null || !prev.buckets) return { ...out, buckets: null };
  const buckets = combineBuckets(cur.buckets, prev.buckets, -1);
  if (buckets && anyNegative(buckets)) return undefined;
  return { ...out, buckets };
}

/** The observations of one step so far, with those of a later point added. */
export function addObservations(into: Observations | undefined, more: Observations): Observations {
  if (!into) return { ...more };
  const out: Observations = { count: into.count + more.count, sum: into.sum !== null && more.sum !== null ? into.sum + more.sum : null };
  if (more.buckets === undefined) return out;
  out.buckets = into.buckets && more.buckets ? combineBuckets(into.buckets, more.buckets, 1) : null;
  return out;
}

/** Prometheus' classic-histogram estimate: linear within the bucket the rank falls in. */
function explicitQuantile(q: number, b: ExplicitBuckets): number {
  const total = b.counts.reduce((s, c) => s + c, 0);
  if (b.bounds.length === 0 || total === 0) return NaN;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < b.counts.length; i++) {
    const count = b.counts[i]!;
    if (below + count >= rank && i < b.bounds.length) {
      const upper = b.bounds[i]!;
      if (i === 0 && upper <= 0) return upper;
      const lower = i === 0 ? 0 : b.bounds[i - 1]!;
      return lower + (upper - lower) * ((rank - below) / count);
    }
    below += count;
  }
  // The rank is in the +Inf bucket: the highest finite bound is all that is known.
  return b.bounds[b.bounds.length - 1]!;
}

/** Prometheus' native-histogram estimate (2.x): buckets from the most negative up, linear within one. */
function exponentialQuantile(q: number, b: ExponentialBuckets): number {
  const base = 2 ** (2 ** -b.scale);
  const ranges: { lower: number; upper: number; count: number }[] = [];
  for (const i of [...b.negative.keys()].sort((x, y) => y - x)) ranges.push({ lower: -(base ** (i + 1)), upper: -(base ** i), count: b.negative.get(i)! });
  const zero = { lower: -b.zeroThreshold, upper: b.zeroThreshold, count: b.zeroCount };
  if (b.negative.size === 0 && b.positive.size > 0) zero.lower = 0;
  else if (b.positive.size === 0 && b.negative.size > 0) zero.upper = 0;
  if (b.zeroCount > 0) ranges.push(zero);
  for (const i of [...b.positive.keys()].sort((x, y) => x - y)) ranges.push({ lower: base ** i, upper: base ** (i + 1), count: b.positive.get(i)! });
  const total = ranges.reduce((s, r) => s + r.count, 0);
  if (total === 0) return NaN;
  const rank = q * total;
  let below = 0;
  for (const r of ranges) {
    if (below + r.count >= rank) return r.lower + (r.upper - r.lower) * ((rank - below) / r.count);
    below += r.count;
  }
  return ranges[ranges.length - 1]!.upper;
}

/** The q-quantile (0 ≤ q ≤ 1) of the observations, or null when the buckets cannot tell. */
export function quantileOf(buckets: Buckets | null | undefined, q: number): number | null {
  if (!buckets) return null;
  const v = buckets.kind === 'explicit' ? explicitQuantile(q, buckets) : exponentialQuantile(q, buckets);
  return Number.isFinite(v) ? v : null;
}

/** A summary's own value for quantile q, or null when it does not carry that quantile. */
export function summaryQuantile(quantiles: SummaryQuantiles | undefined, q: number): number | null {
  const v = quantiles?.find((x) => Math.abs(x.quantile - q) < 1e-9)?.value;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** A histogram-like step's value: its mean, sum, count, rate or quantile. */
function observedValue(o: Observations, q: SeriesQuery, seconds: number): number | null {
  return q.quantile !== undefined ? quantileOf(o.buckets, q.quantile) : observationsValue(q, o.count, o.sum, seconds);
}

const bucketCounts = (v: unknown) => ((v as (bigint | number)[] | null) ?? []).map(Number);

function observationsOf(r: Row, withBuckets: boolean): Observations {
  const o: Observations = { count: finite(r.count) ?? 0, sum: finite(r.sum) };
  if (!withBuckets || r.point_type === 'summary') return o;
  if (r.point_type === 'histogram') o.buckets = { kind: 'explicit', bounds: bucketCounts(r.explicit_bounds), counts: bucketCounts(r.bucket_counts) };
  else {
    o.buckets = exponentialBuckets({
      scale: r.scale as number, zeroCount: finite(r.zero_count) ?? 0, zeroThreshold: finite(r.zero_threshold) ?? 0,
      positive: { offset: r.positive_offset as number, bucketCounts: bucketCounts(r.positive_counts) },
      negative: { offset: r.negative_offset as number, bucketCounts: bucketCounts(r.negative_counts) },
    });
  }
  return o;
}

interface Step {
  time: bigint;
  observed: Observations | undefined;
  /** The time the observations cover: from the point before the first (or its start time) to the last. */
  coveredFrom?: bigint;
  coveredTo?: bigint;
  /** A summary's quantiles at the step's last point. */
  quantiles?: SummaryQuantiles;
}

/** A step's point: its observations' value (or a summary's own quantile), count and sum. */
function stepPoint(step: Step, q: SeriesQuery): SeriesPoint {
  const point: SeriesPoint = { timeUnixNano: step.time, value: null };
  if (step.observed) {
    const covered = step.coveredFrom !== undefined && step.coveredFrom > 0n ? step.coveredTo! - step.coveredFrom : undefined;
    point.value = finite(observedValue(step.observed, q, rateSeconds(q, step.time, covered)));
    point.count = step.observed.count;
    if (step.observed.sum !== null) point.sum = step.observed.sum;
  }
  if (step.quantiles && q.quantile !== undefined) point.value = summaryQuantile(step.quantiles, q.quantile);
  return point;
}

/** `into` with what `more` (the same step of another series of its group) observed added. */
function mergeStep(into: Step, more: Step): void {
  if (more.observed) into.observed = addObservations(into.observed, more.observed);
  if (more.coveredFrom !== undefined && (into.coveredFrom === undefined || more.coveredFrom < into.coveredFrom)) into.coveredFrom = more.coveredFrom;
  if (more.coveredTo !== undefined && (into.coveredTo === undefined || more.coveredTo > into.coveredTo)) into.coveredTo = more.coveredTo;
}

/**
 * Each series' steps from its histogram-like points (in series and time order, starting one step
 * before the range; the series key on each series' first row only): what each step observed, from
 * which its value follows. With `groupOf`, the steps of the series of one group (as groupOf names
 * it from the series key) are added up first, and the map is by group.
 */
export function histogramSteps(rows: readonly Row[], q: SeriesQuery, groupOf: (seriesKey: string) => string = (k) => k): Map<string, SeriesPoint[]> {
  const withBuckets = q.quantile !== undefined;
  const groups = new Map<string, Map<bigint, Step>>();
  let steps: Map<bigint, Step> | undefined;
  let prev: Observations | undefined;
  let prevTime = 0n;
  let step: Step | undefined;
  const close = () => {
    if (!step || !steps) return;
    const same = steps.get(step.time);
    if (same) mergeStep(same, step);
    else steps.set(step.time, step);
    step = undefined;
  };
  for (const r of rows) {
    if (r.series_start !== null) {
      close();
      const group = groupOf(r.series_start as string);
      steps = groups.get(group);
      if (!steps) groups.set(group, (steps = new Map()));
      prev = undefined;
    }
    const cur = observationsOf(r, withBuckets);
    let observed: Observations | undefined;
    let since = r.start_ns as bigint;
    if (r.temporality === DELTA || r.reset) observed = cur;
    else if (prev) {
      const increase = observedSince(cur, prev);
      observed = increase ?? cur;
      if (increase) since = prevTime;
    }
    // The series' first point counts from zero only if the series started in the range, as a
    // number series' does (metric-store.ts), so that the range's total does not depend on the step.
    else if (since > 0n && since >= q.range.from) observed = cur;
    prev = cur;
    prevTime = r.until_ns as bigint;
    if ((r.time_ns as bigint) < q.range.from) continue;
    const time = r.bucket as bigint;
    if (step && step.time !== time) close();
    step ??= { time, observed: undefined };
    if (observed) {
      step.observed = addObservations(step.observed, observed);
      if (step.coveredFrom === undefined || since < step.coveredFrom) step.coveredFrom = since;
      step.coveredTo = r.until_ns as bigint;
    }
    // Summaries cannot be combined or subtracted: the step answers with its last point's quantiles
    // (with groupBy, a summary's quantile is refused before this).
    if (withBuckets && r.point_type === 'summary') step.quantiles = (r.quantiles as SummaryQuantiles | null) ?? [];
  }
  close();
  const out = new Map<string, SeriesPoint[]>();
  for (const [group, byTime] of groups) {
    out.set(group, [...byTime.values()].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0)).map((st) => stepPoint(st, q)));
  }
  return out;
}
