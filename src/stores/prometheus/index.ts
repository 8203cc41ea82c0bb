// The Prometheus store: MetricStore and PromQlStore over Prometheus' HTTP API (prometheus-query).
import { createPrometheusClient, type PrometheusClientOptions } from './client.ts';
import { createPrometheusMetricStore } from './metric-store.ts';
import type { MetricStore } from '../types.ts';
import type { PromQlStore } from './types.ts';

export { BACKEND as PROMETHEUS_BACKEND } from './client.ts';
export type { PrometheusClientOptions } from './client.ts';

export function createPrometheusStore(opts: PrometheusClientOptions): MetricStore & PromQlStore {
  return createPrometheusMetricStore(createPrometheusClient(opts));
}
