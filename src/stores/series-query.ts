// The checks every MetricStore makes on a SeriesQuery before asking its backend, in one place so
// DuckDB and Prometheus refuse the same queries with the same words.
import type { MetricType } from '../model/telemetry.ts';
import type { SeriesAggregation, SeriesQuery } from './types.ts';

/** Points per series at most (Prometheus' own cap is 11,000). */
export const MAX_BUCKETS = 11_000;

const AGGREGATIONS: readonly string[] = ['AVG', 'SUM', 'MIN', 'MAX', 'LAST', 'COUNT', 'RATE'];

/** What is wrong with the query, or undefined when nothing is. */
export function seriesQueryProblem(q: SeriesQuery): string | undefined {
  if (typeof q?.name !== 'string' || q.name === '') return 'a series query needs a metric name';
  if (typeof q.range?.from !== 'bigint' || typeof q.range.to !== 'bigint') return 'a series query needs range.from and range.to';
  if (q.range.from > q.range.to) return 'range.from is after range.to';
  if (typeof q.stepNano !== 'bigint' || q.stepNano <= 0n) return 'stepNano must be a positive bigint';
  if ((q.range.to - q.range.from) / q.stepNano >= BigInt(MAX_BUCKETS)) return `the range holds more than ${MAX_BUCKETS} steps`;
  if (!AGGREGATIONS.includes(q.aggregation)) return `unknown aggregation ${String(q.aggregation)}`;
  if (q.quantile !== undefined && !(typeof q.quantile === 'number' && q.quantile >= 0 && q.quantile <= 1)) {
    return `quantile must be a number from 0 to 1, not ${String(q.quantile)}`;
  }
  if (q.groupBy !== undefined) {
    if (!Array.isArray(q.groupBy) || q.groupBy.some((k) => typeof k !== 'string' || k === '')) return 'groupBy must be a list of label names';
    if (q.groupBy.length > MAX_GROUP_BY) return `groupBy names at most ${MAX_GROUP_BY} labels (actual: ${q.groupBy.length})`;
  }
  return undefined;
}

/** Labels one groupBy may name at most. */
export const MAX_GROUP_BY = 20;

const isHistogramLike = (type: MetricType): boolean => type !== 'gauge' && type !== 'sum';

/**
 * What is wrong with the query for a metric of this type, or undefined. A step of a histogram-like
 * series is a set of observations: its mean (AVG), SUM, COUNT, RATE (observations per second) or a
 * quantile; a smallest, largest or last observation is not known from buckets. RATE is the increase
 * of a counter per second: a gauge or a non-monotonic sum (`monotonic` false; unknown counts as a
 * counter) has no increase to count, and the stores' ways of inventing one differed.
 */
export function seriesTypeProblem(q: SeriesQuery, type: MetricType, monotonic?: boolean): string | undefined {
  if (q.aggregation === 'RATE' && q.quantile === undefined && (type === 'gauge' || (type === 'sum' && monotonic === false))) {
    const what = type === 'gauge' ? 'a gauge' : 'a non-monotonic sum (an UpDownCounter)';
    return `${q.name} is ${what}: aggregation RATE applies to counters and histograms only; use LAST, AVG, MIN or MAX for its value per step`;
  }
  if (isHistogramLike(type)) {
    if (q.quantile === undefined && (q.aggregation === 'MIN' || q.aggregation === 'MAX' || q.aggregation === 'LAST')) {
      return `${q.name} is a ${type}: its steps are observations, so aggregation ${q.aggregation} does not apply; use AVG (the mean), SUM, COUNT, RATE or quantile`;
    }
    if (type === 'summary' && q.quantile !== undefined && q.groupBy !== undefined) {
      return `${q.name} is a summary: its quantiles cannot be combined across series, so quantile does not apply with groupBy; use a histogram, or query without groupBy`;
    }
  } else if (q.quantile !== undefined) {
    return `${q.name} is a ${type}: quantile applies to histograms and summaries only`;
  }
  return undefined;
}

/** The labels of `labels` that `groupBy` names (those a series lacks are left out, as in PromQL). */
export function groupLabels(labels: Readonly<Record<string, string>>, groupBy: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of groupBy) if (labels[k] !== undefined) out[k] = labels[k]!;
  return out;
}

/**
 * How a group combines its series' values of one step (number series): AVG is the mean of all
 * their points, MIN and MAX the least and greatest, and SUM, COUNT, LAST and RATE add the series'
 * own values up (the total of their last values; the total rate). Nulls are skipped.
 */
export function groupedValue(aggregation: SeriesAggregation, parts: readonly { value: number | null; sum: number | null; count: number }[]): number | null {
  const present = parts.filter((p) => p.value !== null);
  if (present.length === 0) return null;
  switch (aggregation) {
    case 'AVG': {
      const count = present.reduce((n, p) => n + p.count, 0);
      return count > 0 ? present.reduce((s, p) => s + (p.sum ?? 0), 0) / count : null;
    }
    // Reduced, not spread into Math.min: a step may hold more points than a call takes arguments.
    case 'MIN': return present.reduce((m, p) => Math.min(m, p.value!), Infinity);
    case 'MAX': return present.reduce((m, p) => Math.max(m, p.value!), -Infinity);
    default: return present.reduce((s, p) => s + p.value!, 0);
  }
}

/**
 * A histogram-like step's value by aggregation (without a quantile, which each store estimates its
 * own way): the mean of its observations (AVG), their SUM or COUNT, or observations per second.
 */
export function observationsValue(q: SeriesQuery, count: number, sum: number | null, seconds: number): number | null {
  switch (q.aggregation) {
    case 'SUM': return sum;
    case 'COUNT': return count;
    case 'RATE': return count / seconds;
    default: return count > 0 && sum !== null ? sum / count : null;
  }
}

/**
 * A RATE step that ends after `to` (the last one, when a range ends now) has seen only part of its
 * time: divided by the whole step, a chart would dip at its right edge. Such a step is divided by
 * the time its increase covers (`coveredNs`: from the point before its first increase to its last
 * point, when the store knows it; else the part of the step up to `to`). Whole steps divide by the step.
 */
export function rateSeconds(q: SeriesQuery, stepStart: bigint, coveredNs?: bigint | null): number {
  const stepEnd = stepStart + q.stepNano;
  if (stepEnd <= q.range.to + 1n) return Number(q.stepNano) / 1e9;
  const covered = coveredNs != null && coveredNs > 0n ? coveredNs : q.range.to + 1n - stepStart;
  return Number(covered) / 1e9;
}
