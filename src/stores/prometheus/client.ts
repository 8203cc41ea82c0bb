// The Prometheus HTTP API through `prometheus-query`: one driver per tenant (the tenant header is a
// fixed header of the driver), auth and TLS set once, and every failure turned into a StoreError:
// Prometheus' own 4xx answers (bad_data, execution errors) are BAD_QUERY with its message; network
// errors, timeouts and 5xx are UNAVAILABLE.
import https from 'node:https';
import { PrometheusDriver, type QueryResult } from 'prometheus-query';
import { StoreError } from '../types.ts';
import { networkCode } from '../network-code.ts';

export const BACKEND = 'prometheus';

export interface PrometheusClientOptions {
  url: string;
  timeoutMs: number;
  username?: string;
  password?: string;
  bearer?: string;
  tenantHeader?: string;
  headers?: Record<string, string>;
  /** CA bundle (PEM) for an https URL, read by the caller so a missing file is named by its setting. */
  ca?: Buffer;
  rejectUnauthorized?: boolean;
}

/** Times in milliseconds since the epoch, as prometheus-query takes them. */
export interface PrometheusClient {
  instant(tenant: string, query: string, timeMs: number): Promise<QueryResult>;
  range(tenant: string, query: string, startMs: number, endMs: number, stepSeconds: number): Promise<QueryResult>;
  series(tenant: string, match: string[], startMs: number, endMs: number): Promise<Record<string, string>[]>;
  labelNames(tenant: string, match: string[] | undefined, startMs?: number, endMs?: number): Promise<string[]>;
  labelValues(tenant: string, label: string, match: string[] | undefined, startMs?: number, endMs?: number): Promise<string[]>;
  exemplars(tenant: string, query: string, startMs: number, endMs: number): Promise<RawExemplarSeries[]>;
  /**
   * The metric types /api/v1/metadata knows, by family name (one family, or all). Prometheus serves
   * only what it scraped; backends that keep remote-write metadata (Mimir, Cortex) serve what teleql wrote.
   */
  metadataTypes(tenant: string, metric?: string): Promise<Map<string, string>>;
  /** Prometheus' version ("2.42.0+ds"), from /api/v1/status/buildinfo. */
  version(tenant: string): Promise<string>;
}

/** One entry of /api/v1/query_exemplars. */
export interface RawExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

interface PromQueryError {
  status: 'error';
  errorType?: string;
  error?: string;
  httpStatus?: number;
  prometheus?: { errorType?: string; error?: string };
}

function isPromQueryError(err: unknown): err is PromQueryError {
  return typeof err === 'object' && err !== null && (err as { status?: unknown }).status === 'error';
}

/**
 * prometheus-query rejects with plain objects; they become StoreErrors here. Only a query Prometheus
 * refuses as the query's fault (400 bad_data, 422 execution: a parse error, too many samples) carries
 * Prometheus' message, which is about the user's PromQL. Otherwise the message names the status and
 * Prometheus' error type, never its error text or address (they reach GraphQL clients, and a
 * Prometheus behind a proxy writes upstream addresses into them); the original stays the cause.
 */
export function toStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  if (isPromQueryError(err)) {
    const status = err.httpStatus;
    if (status === 400 || status === 422) return new StoreError('BAD_QUERY', BACKEND, `Prometheus: ${err.prometheus?.error ?? err.error ?? 'unknown error'}`, err);
    if (status === 401 || status === 403) {
      return new StoreError('UNAVAILABLE', BACKEND, `Prometheus refused the gateway's request (HTTP ${status}); check storage.prometheus credentials and tenant header`, err);
    }
    const type = err.prometheus?.errorType;
    if (status !== undefined) return new StoreError('UNAVAILABLE', BACKEND, `Prometheus answered HTTP ${status}${type ? ` (${type})` : ''}`, err);
    const code = networkCode(err.error);
    return new StoreError('UNAVAILABLE', BACKEND, code ? `cannot reach Prometheus (${code})` : `the request to Prometheus failed (${err.errorType ?? 'no answer'})`, err);
  }
  if (err instanceof TypeError) {
    // prometheus-query cannot parse native-histogram samples (it expects a `value`).
    return new StoreError('BAD_QUERY', BACKEND, 'the query returned native histograms; wrap it in histogram_count(), histogram_sum() or histogram_quantile()', err);
  }
  return new StoreError('INTERNAL', BACKEND, err instanceof Error ? err.message : String(err), err);
}

/** prometheus-query's error for a successful answer without a body. */
const isNoBody = (err: unknown): boolean => isPromQueryError(err) && err.errorType === 'client_error' && !(err as { data?: unknown }).data;

export function createPrometheusClient(opts: PrometheusClientOptions): PrometheusClient {
  const endpoint = opts.url.replace(/\/+$/, '');
  const headers: Record<string, string> = { ...opts.headers };
  if (!opts.username && opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
  const agent = endpoint.startsWith('https:')
    ? new https.Agent({ keepAlive: true, ...(opts.ca && { ca: opts.ca }), rejectUnauthorized: opts.rejectUnauthorized ?? true })
    : undefined;
  const drivers = new Map<string, PrometheusDriver>();

  function driver(tenant: string): PrometheusDriver {
    const key = opts.tenantHeader ? tenant : '';
    let d = drivers.get(key);
    if (!d) {
      d = new PrometheusDriver({
        endpoint,
        baseURL: '/api/v1/',
        headers: opts.tenantHeader ? { ...headers, [opts.tenantHeader]: tenant } : headers,
        timeout: opts.timeoutMs,
        preferPost: true,
        ...(opts.username && { auth: { username: opts.username, password: opts.password ?? '' } }),
        ...(agent && {
          requestInterceptor: {
            onFulfilled: (config) => {
              config.httpsAgent = agent;
              return config;
            },
          },
        }),
      });
      drivers.set(key, d);
    }
    return d;
  }

  async function call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw toStoreError(err);
    }
  }

  return {
    instant: (tenant, query, timeMs) => call(() => driver(tenant).instantQuery(query, timeMs)),
    range: (tenant, query, startMs, endMs, stepSeconds) => call(() => driver(tenant).rangeQuery(query, startMs, endMs, stepSeconds)),
    series: (tenant, match, startMs, endMs) =>
      call(async () => {
        const metrics = await driver(tenant).series(match, startMs, endMs);
        return metrics.map((m) => ({ ...(m.labels as Record<string, string>), ...(m.name ? { __name__: m.name } : {}) }));
      }),
    labelNames: (tenant, match, startMs, endMs) => call(() => driver(tenant).labelNames(match, startMs, endMs)),
    labelValues: (tenant, label, match, startMs, endMs) => call(() => driver(tenant).labelValues(label, match, startMs, endMs)),
    exemplars: (tenant, query, startMs, endMs) =>
      call(() => {
        // prometheus-query has no call for /query_exemplars; its request path keeps auth, TLS and errors the same.
        const d = driver(tenant) as unknown as { request(method: string, uri: string, params: unknown, body?: unknown): Promise<RawExemplarSeries[]> };
        return d.request('POST', 'query_exemplars', null, { query, start: startMs / 1000, end: endMs / 1000 }).catch((err: unknown) => {
          // A query without a series selector (vector(1), time()) has no exemplars: Prometheus answers
          // 204 with no body, which prometheus-query reports as a client error, then (its own catch
          // handling that error again) as a network error wrapping it.
          if (isNoBody(err) || (isPromQueryError(err) && isNoBody((err as { original?: unknown }).original))) return [];
          throw err;
        });
      }),
    metadataTypes: (tenant, metric) =>
      call(async () => {
        const data = ((await driver(tenant).metadata(metric)) ?? {}) as Record<string, { type?: unknown }[] | undefined>;
        const out = new Map<string, string>();
        for (const [name, entries] of Object.entries(data)) {
          const type = entries?.[0]?.type;
          if (typeof type === 'string') out.set(name, type);
        }
        return out;
      }),
    version: (tenant) => call(async () => String(((await driver(tenant).statusBuildinfo()) as { version?: unknown }).version ?? '')),
  };
}
