// The PromQL interface: what a metrics backend that speaks PromQL offers besides MetricStore.
// Resolvers depend on this interface only (never on the Prometheus client).
import type { StoredExemplar, TimeRange } from '../types.ts';

export type PromQlResultType = 'MATRIX' | 'VECTOR' | 'SCALAR' | 'STRING';

export interface PromQlPoint {
  timeUnixNano: bigint;
  /** null for NaN / ±Inf (no GraphQL Float form) and for native-histogram samples. */
  value: number | null;
}

export interface PromQlSeries {
  labels: Record<string, string>;
  points: PromQlPoint[];
  exemplars: StoredExemplar[];
}

export interface PromQlResult {
  resultType: PromQlResultType;
  series: PromQlSeries[];
  /** Set for STRING results. */
  text?: string;
}

export interface PromQlQuery {
  query: string;
  /** Both set: a range query with `stepNano`; otherwise an instant query at `time` (default now). */
  range?: Required<TimeRange>;
  stepNano?: bigint;
  time?: bigint;
  /** Also fetch exemplars for the query over the range (or the last 5 minutes for instant queries). */
  exemplars: boolean;
}

export interface PromQlStore {
  readonly backend: string;
  promql(tenant: string, q: PromQlQuery): Promise<PromQlResult>;
  /** Series matching the selectors in the range, as label sets (with __name__). */
  series(tenant: string, match: string[], range?: TimeRange): Promise<Record<string, string>[]>;
  labelNames(tenant: string, match?: string[], range?: TimeRange): Promise<string[]>;
  labelValues(tenant: string, label: string, match?: string[], range?: TimeRange): Promise<string[]>;
  exemplars(tenant: string, query: string, range: Required<TimeRange>): Promise<(StoredExemplar & { seriesLabels: Record<string, string> })[]>;
}

/** Whether a metric store also answers PromQL (the Prometheus one does; DuckDB does not). */
export function isPromQlStore(store: object): store is PromQlStore {
  return typeof (store as Partial<PromQlStore>).promql === 'function';
}
