// The checks every MetricStore makes on a SeriesQuery before asking its backend, in one place so
// DuckDB and Prometheus refuse the same queries with the same words.
import type { SeriesQuery } from './types.ts';

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
  return undefined;
}
