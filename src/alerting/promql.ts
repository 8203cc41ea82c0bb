// PROMQL rules. With a Prometheus URL configured they run on Prometheus (GET /api/v1/query); on the
// embedded store a documented subset is evaluated over the DuckDB metric points:
//
//   [sum|avg|min|max|count [by (l1, l2)]] ( rate(m{l="v",…}[5m]) | increase(m{…}[5m]) | m{…} )
//
// Only `=` label matchers (the store matches labels exactly). Anything else is refused with a
// clear error that names the subset, so a rule never silently evaluates to something else.
import { StoreError, type MetricStore, type StoredExemplar } from '../stores/types.ts';
import { parseRuleDuration } from './rules.ts';
import type { PromQlEvaluator, PromQlSample, TraceExemplar } from './types.ts';

export const EMBEDDED_PROMQL_SUBSET =
  'the embedded store evaluates only [sum|avg|min|max|count [by (labels)]] (rate(m{l="v"}[5m]) | increase(m{l="v"}[5m]) | m{l="v"} ' +
  '| histogram_quantile(0.95, rate(m{l="v"}[5m]))) with = matchers; ' +
  'configure alerting.prometheusUrl to run any PromQL on Prometheus';

export class PromQlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromQlError';
  }
}

type Aggregation = 'sum' | 'avg' | 'min' | 'max' | 'count';

export interface PromQlSubsetQuery {
  aggregation?: { op: Aggregation; by: string[] };
  fn?: 'rate' | 'increase';
  metric: string;
  labels: Record<string, string>;
  /** The range of rate/increase, ns. */
  range?: bigint;
  /** histogram_quantile(φ, rate(…)): φ of what each series observed in the range. */
  quantile?: number;
}

const SELECTOR = String.raw`([a-zA-Z_:][a-zA-Z0-9_:.]*)\s*(?:\{([^}]*)\})?`;
const INNER_FN = new RegExp(String.raw`^(rate|increase)\s*\(\s*${SELECTOR}\s*\[\s*([0-9a-z]+)\s*\]\s*\)$`);
const INNER_SELECTOR = new RegExp(`^${SELECTOR}$`);
const AGG = /^(sum|avg|min|max|count)\s*(?:by\s*\(([^)]*)\)\s*)?\((.*)\)$/s;
const HISTOGRAM_QUANTILE = /^histogram_quantile\s*\(\s*([0-9.eE+-]+)\s*,(.*)\)$/s;
const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)"\s*$/;

function refuse(expr: string, why: string): PromQlError {
  return new PromQlError(`PromQL ${JSON.stringify(expr)}: ${why}; ${EMBEDDED_PROMQL_SUBSET}`);
}

function parseMatchers(expr: string, text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text || text.trim() === '') return out;
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const m = MATCHER.exec(part);
    if (!m) throw refuse(expr, `cannot read label matcher ${JSON.stringify(part.trim())}`);
    if (m[2] !== '=') throw refuse(expr, `matcher ${m[2]} is not supported`);
    out[m[1]!] = m[3]!.replace(/\\(.)/g, '$1');
  }
  return out;
}

/** Parses the embedded subset; throws PromQlError (naming the subset) for anything else. */
export function parsePromQlSubset(expr: string): PromQlSubsetQuery {
  let body = expr.trim();
  let aggregation: PromQlSubsetQuery['aggregation'];
  const agg = AGG.exec(body);
  if (agg) {
    const by = (agg[2] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    aggregation = { op: agg[1] as Aggregation, by };
    body = agg[3]!.trim();
  }
  let quantile: number | undefined;
  const hq = HISTOGRAM_QUANTILE.exec(body);
  if (hq) {
    quantile = Number(hq[1]);
    if (!(quantile >= 0 && quantile <= 1)) throw refuse(expr, `the quantile must be from 0 to 1, not ${hq[1]}`);
    body = hq[2]!.trim();
    if (!INNER_FN.test(body)) throw refuse(expr, 'histogram_quantile takes rate(m{…}[range]) of one histogram');
  }
  const fn = INNER_FN.exec(body);
  if (fn) {
    let range: bigint;
    try {
      range = parseRuleDuration(fn[4], 'range');
    } catch {
      throw refuse(expr, `bad range [${fn[4]}]`);
    }
    const q: PromQlSubsetQuery = { aggregation, fn: fn[1] as 'rate' | 'increase', metric: fn[2]!, labels: parseMatchers(expr, fn[3]), range };
    if (quantile !== undefined) q.quantile = quantile;
    return q;
  }
  const sel = INNER_SELECTOR.exec(body);
  if (sel) return { aggregation, metric: sel[1]!, labels: parseMatchers(expr, sel[2]) };
  throw refuse(expr, 'not in the supported subset');
}

/** Metric exemplars that name a trace, newest first. */
function exemplarsOf(list: readonly StoredExemplar[]): TraceExemplar[] {
  return list
    .filter((e) => e.traceId)
    .sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? 1 : a.timeUnixNano > b.timeUnixNano ? -1 : 0))
    .map((e) => ({ traceId: e.traceId, spanId: e.spanId, durationNano: null, error: false }));
}

/** Prometheus' default lookback for an instant selector. */
const LOOKBACK_NS = 300_000_000_000n;

export function createEmbeddedPromQl(metrics: MetricStore): PromQlEvaluator {
  return {
    backend: 'embedded',
    async query(tenant, expr, time) {
      const q = parsePromQlSubset(expr);
      const range = q.range ?? LOOKBACK_NS;
      // One step covering the whole range: RATE yields the increase over it per second.
      const series = await metrics
        .querySeries(tenant, {
          name: q.metric,
          labels: q.labels,
          range: { from: time - range, to: time },
          stepNano: range + 1n,
          aggregation: q.fn ? 'RATE' : 'LAST',
          ...(q.quantile !== undefined && { quantile: q.quantile }),
        })
        .catch((err: unknown) => {
          // e.g. a bare selector on a histogram, or histogram_quantile on a counter.
          if (err instanceof StoreError && err.code === 'BAD_QUERY') throw new PromQlError(`PromQL ${JSON.stringify(expr)}: ${err.message}`);
          throw err;
        });
      const samples: PromQlSample[] = [];
      for (const s of series) {
        const values = s.points.map((p) => p.value).filter((v): v is number => v !== null);
        if (values.length === 0) continue;
        let value = q.fn && q.quantile === undefined ? values.reduce((a, b) => a + b, 0) : values[values.length - 1]!;
        if (q.fn === 'increase') value *= Number(range + 1n) / 1e9;
        // As in Prometheus, rate() and increase() drop the metric name.
        samples.push({ labels: q.fn ? s.labels : { __name__: q.metric, ...s.labels }, value, exemplars: exemplarsOf(s.exemplars) });
      }
      if (!q.aggregation) return samples;
      const groups = new Map<string, { labels: Record<string, string>; values: number[]; exemplars: TraceExemplar[] }>();
      for (const s of samples) {
        const labels = Object.fromEntries(q.aggregation.by.map((l) => [l, s.labels[l] ?? '']));
        const key = JSON.stringify(labels);
        const g = groups.get(key) ?? { labels, values: [], exemplars: [] };
        g.values.push(s.value);
        g.exemplars.push(...(s.exemplars ?? []));
        groups.set(key, g);
      }
      const op = q.aggregation.op;
      return [...groups.values()].map(({ labels, values, exemplars }) => ({
        labels,
        exemplars,
        value:
          op === 'sum' ? values.reduce((a, b) => a + b, 0)
          : op === 'avg' ? values.reduce((a, b) => a + b, 0) / values.length
          : op === 'min' ? Math.min(...values)
          : op === 'max' ? Math.max(...values)
          : values.length,
      }));
    },
  };
}

/** Any PromQL, on a Prometheus server's HTTP API; the tenant goes in `tenantHeader` (Mimir/Cortex). */
export function createPrometheusPromQl(opts: { url: string; tenantHeader: string; timeoutMs: number }): PromQlEvaluator {
  const base = opts.url.replace(/\/+$/, '');
  return {
    backend: 'prometheus',
    async query(tenant, expr, time) {
      const u = new URL(`${base}/api/v1/query`);
      u.searchParams.set('query', expr);
      u.searchParams.set('time', (Number(time / 1_000_000n) / 1000).toFixed(3));
      const res = await fetch(u, { headers: { [opts.tenantHeader]: tenant }, signal: AbortSignal.timeout(opts.timeoutMs) });
      const body = (await res.json().catch(() => ({}))) as {
        status?: string;
        error?: string;
        data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] | [number, string] };
      };
      if (!res.ok || body.status !== 'success' || !body.data) throw new PromQlError(`Prometheus answered ${res.status}: ${body.error ?? 'no result'}`);
      const { resultType, result } = body.data;
      if (resultType === 'scalar') return [{ labels: {}, value: Number((result as [number, string])[1]) }];
      if (resultType !== 'vector') throw new PromQlError(`PromQL ${JSON.stringify(expr)} returned a ${resultType}; an alert rule needs an instant vector`);
      return (result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
    },
  };
}
