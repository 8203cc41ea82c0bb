// RED series from Prometheus, over the series a spanmetrics connector writes (calls counter and
// duration histogram labelled by service, span kind and status code). Keys that share a range and
// step are answered together: one PromQL query per figure with a `service_name=~"a|b|c"` matcher.
// A point at time t covers the step [t, t + step), as in the DuckDB implementation, so the query
// is evaluated one step later (PromQL's `increase(x[step])` at T looks back over (T − step, T]).
// Requests and their errors are the read path's (client.ts): auth, TLS, tenant header, and
// StoreErrors that never show Prometheus' address or a 5xx body.
import type { RedKey, RedMetricsStore, RedPoint, RedSeries } from '../correlation-types.ts';
import { StoreError } from '../types.ts';
import { regexEscape } from '../../model/patterns.ts';
import { createPrometheusClient, type PrometheusClientOptions } from './client.ts';
import { promqlString } from './promql-string.ts';

export interface SpanmetricsRedOptions extends Omit<PrometheusClientOptions, 'url' | 'timeoutMs'> {
  /** e.g. `http://prometheus:9090`; user info in it is sent as Basic auth. */
  baseUrl: string;
  timeoutMs?: number;
  /** Series names; defaults are the OpenTelemetry Collector spanmetrics connector's. */
  callsMetric?: string;
  durationBucketMetric?: string;
  /** Nanoseconds per unit of the histogram's `le` (ms: 1e6, s: 1e9). */
  durationUnitNano?: number;
  serviceLabel?: string;
  kindLabel?: string;
  statusLabel?: string;
}

const BACKEND = 'prometheus (spanmetrics)';
const NS_PER_S = 1e9;
const ENTRY_KINDS = 'SPAN_KIND_SERVER|SPAN_KIND_CONSUMER';
const ERROR_STATUS = 'STATUS_CODE_ERROR';

/** One series of an answer: its labels, and its samples as [seconds, value]. */
interface Samples {
  labels: Record<string, string>;
  values: [number, number][];
}

const seconds = (ns: bigint) => Number(ns) / NS_PER_S;
const millis = (ns: bigint) => Number(ns / 1_000_000n);

export function createSpanmetricsRedStore(opts: SpanmetricsRedOptions): RedMetricsStore {
  const calls = opts.callsMetric ?? 'traces_span_metrics_calls_total';
  const buckets = opts.durationBucketMetric ?? 'traces_span_metrics_duration_milliseconds_bucket';
  const unitNano = opts.durationUnitNano ?? 1e6;
  const svc = opts.serviceLabel ?? 'service_name';
  const kind = opts.kindLabel ?? 'span_kind';
  const status = opts.statusLabel ?? 'status_code';
  const { username, password, bearer, tenantHeader, headers, ca, rejectUnauthorized } = opts;
  const client = createPrometheusClient({ url: opts.baseUrl, timeoutMs: opts.timeoutMs ?? 30_000, username, password, bearer, tenantHeader, headers, ca, rejectUnauthorized });

  async function rangeQuery(tenant: string, query: string, startNano: bigint, endNano: bigint, stepNano: bigint): Promise<Samples[]> {
    const answer = await client.range(tenant, query, millis(startNano), millis(endNano), seconds(stepNano));
    return (answer.result as { metric: { labels: Record<string, string> } | null; values: { time: Date; value: number }[] }[]).map((r) => ({
      labels: r.metric?.labels ?? {},
      values: r.values.map((v) => [v.time.getTime() / 1000, v.value]),
    }));
  }

  async function instantQuery(tenant: string, query: string, timeNano: bigint): Promise<Samples[]> {
    const answer = await client.instant(tenant, query, millis(timeNano));
    return (answer.result as { metric: { labels: Record<string, string> } | null; value: { time: Date; value: number } }[]).map((r) => ({
      labels: r.metric?.labels ?? {},
      values: [[r.value.time.getTime() / 1000, r.value.value]],
    }));
  }

  /** One group of keys with the same range and step → their series. */
  async function group(tenant: string, keys: readonly RedKey[]): Promise<Map<string, RedSeries>> {
    const { range, stepNano } = keys[0]!;
    const services = [...new Set(keys.map((k) => k.service))];
    // A service name is any string (a newline, a quote): escaped for the regex, then as a PromQL string.
    const selector = (extra = '') => `{${svc}=~${promqlString(services.map(regexEscape).join('|'))},${kind}=~"${ENTRY_KINDS}"${extra}}`;
    const step = `${Math.round(seconds(stepNano) * 1000)}ms`;
    const whole = `${Math.max(Math.round(seconds(range.to - range.from) * 1000), 1)}ms`;
    const figures = (window: string) => ({
      requests: `sum by (${svc}) (increase(${calls}${selector()}[${window}]))`,
      errors: `sum by (${svc}) (increase(${calls}${selector(`,${status}="${ERROR_STATUS}"`)}[${window}]))`,
      p50: `histogram_quantile(0.5, sum by (${svc}, le) (increase(${buckets}${selector()}[${window}])))`,
      p95: `histogram_quantile(0.95, sum by (${svc}, le) (increase(${buckets}${selector()}[${window}])))`,
      p99: `histogram_quantile(0.99, sum by (${svc}, le) (increase(${buckets}${selector()}[${window}])))`,
    });
    const perStep = figures(step);
    const total = figures(whole);
    const names = Object.keys(perStep) as (keyof typeof perStep)[];
    const [stepResults, totalResults] = await Promise.all([
      Promise.all(names.map((n) => rangeQuery(tenant, perStep[n], range.from + stepNano, range.to + stepNano, stepNano))),
      Promise.all(names.map((n) => instantQuery(tenant, total[n], range.to))),
    ]);
    const stepCount = Number((range.to - range.from) / stepNano) + 1;
    const stepSeconds = seconds(stepNano);
    const out = new Map<string, RedSeries>();
    for (const service of services) {
      // figure → step index → value
      const byFigure = names.map((_, f) => {
        const values = new Map<number, number>();
        for (const r of stepResults[f]!) {
          if (r.labels[svc] !== service) continue;
          for (const [t, v] of r.values) {
            const index = Math.round((t - seconds(range.from + stepNano)) / stepSeconds);
            if (Number.isFinite(v)) values.set(index, v);
          }
        }
        return values;
      });
      const totals = names.map((_, f) => {
        const n = totalResults[f]!.find((x) => x.labels[svc] === service)?.values[0]?.[1] ?? NaN;
        return Number.isFinite(n) ? n : null;
      });
      const quantile = (v: number | null | undefined) => (v == null ? null : v * unitNano);
      const points: RedPoint[] = Array.from({ length: stepCount }, (_, s) => {
        const requests = byFigure[0]!.get(s) ?? 0;
        const errors = byFigure[1]!.get(s) ?? 0;
        return {
          timeUnixNano: range.from + BigInt(s) * stepNano,
          requests,
          errors,
          requestRate: requests / stepSeconds,
          errorRate: errors / stepSeconds,
          p50Nano: requests > 0 ? quantile(byFigure[2]!.get(s)) : null,
          p95Nano: requests > 0 ? quantile(byFigure[3]!.get(s)) : null,
          p99Nano: requests > 0 ? quantile(byFigure[4]!.get(s)) : null,
        };
      });
      // At least one step, as the DuckDB RED store: a zero-length range is not a rate of 1e9/s.
      const rangeSeconds = Math.max(seconds(range.to - range.from), stepSeconds);
      const requests = totals[0] ?? 0;
      const errors = totals[1] ?? 0;
      out.set(service, {
        service,
        range,
        stepNano,
        points,
        total: {
          requests,
          errors,
          requestRate: requests / rangeSeconds,
          errorRate: errors / rangeSeconds,
          p50Nano: requests > 0 ? quantile(totals[2]) : null,
          p95Nano: requests > 0 ? quantile(totals[3]) : null,
          p99Nano: requests > 0 ? quantile(totals[4]) : null,
        },
      });
    }
    return out;
  }

  return {
    backend: BACKEND,
    async redSeries(tenant, keys) {
      const groups = new Map<string, RedKey[]>();
      for (const k of keys) {
        if (k.stepNano <= 0n || k.range.from > k.range.to) throw new StoreError('BAD_QUERY', 'prometheus', 'RED range/step is invalid');
        const id = `${k.range.from}:${k.range.to}:${k.stepNano}`;
        const list = groups.get(id);
        if (list) list.push(k);
        else groups.set(id, [k]);
      }
      const answered = new Map<string, Map<string, RedSeries>>();
      await Promise.all([...groups].map(async ([id, list]) => answered.set(id, await group(tenant, list))));
      return keys.map((k) => answered.get(`${k.range.from}:${k.range.to}:${k.stepNano}`)!.get(k.service)!);
    },
  };
}
