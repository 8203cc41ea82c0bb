// RED series from Prometheus, over the series a spanmetrics connector writes (calls counter and
// duration histogram labelled by service, span kind and status code). Keys that share a range and
// step are answered together: one PromQL query per figure with a `service_name=~"a|b|c"` matcher.
// A point at time t covers the step [t, t + step), as in the DuckDB implementation, so the query
// is evaluated one step later (PromQL's `increase(x[step])` at T looks back over (T − step, T]).
import type { RedKey, RedMetricsStore, RedPoint, RedSeries } from '../correlation-types.ts';
import { StoreError } from '../types.ts';
import { regexEscape } from '../../model/patterns.ts';

export interface SpanmetricsRedOptions {
  /** e.g. `http://prometheus:9090` */
  baseUrl: string;
  /** Where the tenant goes (Mimir, Cortex: `X-Scope-OrgID`); not sent when unset. */
  tenantHeader?: string;
  headers?: Record<string, string>;
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

interface MatrixResult {
  metric: Record<string, string>;
  values?: [number, string][];
  value?: [number, string];
}

/** A label value inside a PromQL regex matcher: regex metacharacters and quotes escaped. */
function regexLiteral(s: string): string {
  return regexEscape(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

const seconds = (ns: bigint) => Number(ns) / NS_PER_S;
const promTime = (ns: bigint) => (Number(ns / 1_000_000n) / 1000).toFixed(3);

export function createSpanmetricsRedStore(opts: SpanmetricsRedOptions): RedMetricsStore {
  const calls = opts.callsMetric ?? 'traces_span_metrics_calls_total';
  const buckets = opts.durationBucketMetric ?? 'traces_span_metrics_duration_milliseconds_bucket';
  const unitNano = opts.durationUnitNano ?? 1e6;
  const svc = opts.serviceLabel ?? 'service_name';
  const kind = opts.kindLabel ?? 'span_kind';
  const status = opts.statusLabel ?? 'status_code';
  const base = opts.baseUrl.replace(/\/+$/, '');

  async function api(tenant: string, path: string, params: Record<string, string>): Promise<MatrixResult[]> {
    const headers: Record<string, string> = { ...opts.headers, 'content-type': 'application/x-www-form-urlencoded' };
    if (opts.tenantHeader) headers[opts.tenantHeader] = tenant;
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers,
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new StoreError('UNAVAILABLE', 'prometheus', `prometheus did not answer: ${(err as Error).message}`, err);
    }
    const body = (await res.json().catch(() => null)) as { status?: string; error?: string; data?: { result: MatrixResult[] } } | null;
    if (!res.ok || body?.status !== 'success') {
      const code = res.status === 400 || res.status === 422 ? 'BAD_QUERY' : res.status >= 500 ? 'UNAVAILABLE' : 'INTERNAL';
      // Prometheus' text only for a query it refused; a 5xx body may name upstream addresses (kept as the cause).
      const message = code === 'BAD_QUERY' && body?.error ? `prometheus: ${body.error}` : `prometheus answered HTTP ${res.status}`;
      throw new StoreError(code, 'prometheus', message, body?.error);
    }
    return body.data!.result;
  }

  /** One group of keys with the same range and step → their series. */
  async function group(tenant: string, keys: readonly RedKey[]): Promise<Map<string, RedSeries>> {
    const { range, stepNano } = keys[0]!;
    const services = [...new Set(keys.map((k) => k.service))];
    const selector = (extra = '') =>
      `{${svc}=~"${services.map(regexLiteral).join('|')}",${kind}=~"${ENTRY_KINDS}"${extra}}`;
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
    const rangeParams = { start: promTime(range.from + stepNano), end: promTime(range.to + stepNano), step: String(seconds(stepNano)) };
    const names = Object.keys(perStep) as (keyof typeof perStep)[];
    const [stepResults, totalResults] = await Promise.all([
      Promise.all(names.map((n) => api(tenant, '/api/v1/query_range', { query: perStep[n], ...rangeParams }))),
      Promise.all(names.map((n) => api(tenant, '/api/v1/query', { query: total[n], time: promTime(range.to) }))),
    ]);
    const stepCount = Number((range.to - range.from) / stepNano) + 1;
    const stepSeconds = seconds(stepNano);
    const out = new Map<string, RedSeries>();
    for (const service of services) {
      // figure → step index → value
      const byFigure = names.map((_, f) => {
        const values = new Map<number, number>();
        for (const r of stepResults[f]!) {
          if (r.metric[svc] !== service) continue;
          for (const [t, v] of r.values ?? []) {
            const index = Math.round((t - seconds(range.from + stepNano)) / stepSeconds);
            const n = Number(v);
            if (Number.isFinite(n)) values.set(index, n);
          }
        }
        return values;
      });
      const totals = names.map((_, f) => {
        const r = totalResults[f]!.find((x) => x.metric[svc] === service);
        const n = r?.value ? Number(r.value[1]) : NaN;
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
