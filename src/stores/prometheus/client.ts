// The Prometheus HTTP API through `prometheus-query`: one driver per tenant (the tenant header is a
// fixed header of the driver; the REMEMBERED_TENANTS most recently used are kept), auth and TLS set
// once, and every failure turned into a StoreError: Prometheus' own 4xx answers (bad_data, execution
// errors) are BAD_QUERY with its message; network errors, timeouts and 5xx are UNAVAILABLE. Every
// client of a Prometheus (metric reads, PROMQL alert rules, RED from spanmetrics) goes through here.
// A call made for a GraphQL request carries its abort signal (query-signal.ts): the deadline or the
// client going away aborts it, and none starts after that. Alert rule ticks have none.
import https from 'node:https';
import { LRUCache } from 'lru-cache';
import { PrometheusDriver, type QueryResult } from 'prometheus-query';
import { StoreError } from '../types.ts';
import { abortedOr, QueryAbortedError, signalForCall } from '../query-signal.ts';
import { networkCode } from '../network-code.ts';
import { REMEMBERED_TENANTS } from '../../tenant.ts';
import { basicAuthOf } from '../../url-credentials.ts';

export const BACKEND = 'prometheus';

export interface PrometheusClientOptions {
  /** May carry user info (`http://user:pass@prom:9090`): sent as Basic auth unless username or bearer is set. */
  url: string;
  timeoutMs: number;
  username?: string;
  password?: string;
  bearer?: string;
  /** Header carrying the tenant (Mimir, Cortex: X-Scope-OrgID); unset or '': not sent. */
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

/** Any API call, for what the calls above do not cover (PROMQL alert rules' instant queries and parse checks). */
export interface PrometheusRawApi {
  /**
   * One POST to `/api/v1/<path>` with form `params`: its `data` as Prometheus wrote it (sample values
   * as text, so `+Inf` stays what prometheus-query's parsing makes NaN). A 4xx answer's StoreError
   * carries its status (404: the server has no such endpoint).
   */
  post(tenant: string, path: string, params: Record<string, string>): Promise<unknown>;
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
    // The status of a 4xx, the gateway's request's fault (StoreError.status).
    const refused = status !== undefined && status >= 400 && status < 500 ? status : undefined;
    if (status === 400 || status === 422) return new StoreError('BAD_QUERY', BACKEND, `Prometheus: ${err.prometheus?.error ?? err.error ?? 'unknown error'}`, err, refused);
    if (status === 401 || status === 403) {
      return new StoreError('UNAVAILABLE', BACKEND, `Prometheus refused the gateway's request (HTTP ${status}); check the credentials and tenant header configured for it`, err, refused);
    }
    const type = err.prometheus?.errorType;
    if (status !== undefined) return new StoreError('UNAVAILABLE', BACKEND, `Prometheus answered HTTP ${status}${type ? ` (${type})` : ''}`, err, refused);
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

const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

export function createPrometheusClient(opts: PrometheusClientOptions): PrometheusClient & PrometheusRawApi {
  // User info in the URL is the operator's credentials, sent as Basic auth: it never goes into a
  // request URL (fetch refuses one, axios puts it in errors) or anything shown (url-credentials.ts).
  const inUrl = basicAuthOf(opts.url);
  const endpoint = (inUrl?.url ?? opts.url).replace(/\/+$/, '');
  const headers: Record<string, string> = { ...opts.headers };
  // prometheus-query sends its `auth` only with a non-empty password: the header is set here instead.
  if (opts.username) headers.authorization = basic(opts.username, opts.password ?? '');
  else if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
  else if (inUrl) headers.authorization = inUrl.authorization;
  const agent = endpoint.startsWith('https:')
    ? new https.Agent({ keepAlive: true, ...(opts.ca && { ca: opts.ca }), rejectUnauthorized: opts.rejectUnauthorized ?? true })
    : undefined;
  // A driver holds only its headers: the least recently used tenants' are made again when needed,
  // so a stream of new tenant IDs cannot grow memory (src/tenant.ts).
  const drivers = new LRUCache<string, PrometheusDriver>({ max: REMEMBERED_TENANTS });

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
        requestInterceptor: {
          onFulfilled: (config) => {
            if (agent) config.httpsAgent = agent;
            // prometheus-query takes no per-call options: axios runs request interceptors in the
            // context of the call, so this is the calling request's signal.
            const signal = signalForCall();
            if (signal) config.signal = signal;
            return config;
          },
        },
      });
      drivers.set(key, d);
    }
    return d;
  }

  /** prometheus-query's request path, for the endpoints it has no call for: auth, TLS and errors stay the same. */
  const request = (tenant: string, method: string, path: string, body: unknown) =>
    (driver(tenant) as unknown as { request(method: string, uri: string, params: unknown, body?: unknown): Promise<unknown> }).request(method, path, null, body);

  /** One API call; after its request's abort, QueryAbortedError instead of a call or a StoreError. */
  async function call<T>(run: () => Promise<T>): Promise<T> {
    signalForCall(); // throws once the request is aborted: no call starts after that
    try {
      return await run();
    } catch (err) {
      const aborted = abortedOr(err);
      throw aborted instanceof QueryAbortedError ? aborted : toStoreError(err);
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
      call(() =>
        (request(tenant, 'POST', 'query_exemplars', { query, start: startMs / 1000, end: endMs / 1000 }) as Promise<RawExemplarSeries[]>).catch((err: unknown) => {
          // A query without a series selector (vector(1), time()) has no exemplars: Prometheus answers
          // 204 with no body, which prometheus-query reports as a client error, then (its own catch
          // handling that error again) as a network error wrapping it.
          if (isNoBody(err) || (isPromQueryError(err) && isNoBody((err as { original?: unknown }).original))) return [];
          throw err;
        }),
      ),
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
    post: (tenant, path, params) => call(() => request(tenant, 'POST', path, params)),
  };
}
