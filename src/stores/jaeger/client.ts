// The HTTP side of the Jaeger store: one GET with headers, tenant, timeout, a bounded body and
// error mapping. Everything above this file works with parsed JSON and StoreErrors only. Each GET
// also ends when its request is aborted (query-signal.ts), and none starts after that.
import type { Logger } from 'pino';
import { StoreError } from '../types.ts';
import { abortedOr, QueryAbortedError, signalForCall } from '../query-signal.ts';
import { causeChain, errorMessageOf, fromFetchFailure, fromStatus, internal, isJaegerErrorBody } from './errors.ts';
import { basicAuthOf } from '../../url-credentials.ts';

export interface JaegerClientOptions {
  baseUrl: string;
  logger: Logger;
  timeoutMs: number;
  headers: Record<string, string>;
  fetch: typeof fetch;
  tenantHeader: string;
  alwaysSendTenant: boolean;
  maxResponseBytes: number;
}

export interface JaegerClient {
  /**
   * GETs `path` with `query` and returns the parsed JSON body of a 2xx answer. With `notFound:
   * 'empty'`, Jaeger's own 404 ("No traces found") returns null instead of failing. With
   * `expectedRefusal`, an answer with that status whose Jaeger message matches returns
   * EXPECTED_REFUSAL instead of failing (logged at debug: the caller knows what to do about it).
   * `call` names the request in errors and logs (`FindTraces`); a failure's detail (Jaeger's error
   * body, the network error with its address) is logged, and the StoreError carries only the call
   * and status. A GET its request's abort ended throws QueryAbortedError (not logged).
   */
  getJson(
    call: string,
    path: string,
    query: readonly (readonly [string, string])[],
    tenant: string,
    opts?: { notFound?: 'empty'; expectedRefusal?: { status: number; message: RegExp } },
  ): Promise<unknown>;
}

/** What getJson returns for an answer the caller said it expects (`expectedRefusal`). */
export const EXPECTED_REFUSAL: unique symbol = Symbol('jaeger refused as expected');

const DEFAULT_TENANT = 'default';

/** The path as logs and errors show it: a trace ID is the user's, but `{traceId}` keeps messages alike. */
const routeOf = (path: string) => path.replace(/\/[0-9a-f]{32}$/, '/{traceId}');

/** The base URL without credentials (fetch refuses them) and the Basic auth header they make. */
function splitCredentials(baseUrl: string): { base: string; authorization?: string } {
  let url: URL;
  let credentials: ReturnType<typeof basicAuthOf>;
  try {
    url = new URL(baseUrl);
    credentials = basicAuthOf(baseUrl);
  } catch {
    throw internal('the Jaeger base URL is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw internal('the Jaeger base URL must be http: or https:');
  if (credentials) url = new URL(credentials.url);
  url.search = '';
  url.hash = '';
  return { base: url.toString().replace(/\/+$/, ''), authorization: credentials?.authorization };
}

/** The body as text, failing once more than `max` bytes have arrived. */
async function readBody(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw internal(`jaeger's response is larger than ${max} bytes`);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw internal(`jaeger's response is larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function createJaegerClient(opts: JaegerClientOptions): JaegerClient {
  const { base, authorization } = splitCredentials(opts.baseUrl);
  const fixedHeaders: Record<string, string> = { accept: 'application/json' };
  if (authorization) fixedHeaders.authorization = authorization;
  for (const [k, v] of Object.entries(opts.headers)) fixedHeaders[k.toLowerCase()] = v;
  const tenantHeader = opts.tenantHeader.toLowerCase();
  const log = opts.logger;

  return {
    async getJson(call, path, query, tenant, { notFound, expectedRefusal } = {}) {
      const search = new URLSearchParams(query.map(([k, v]) => [k, v]));
      const qs = search.toString();
      const url = `${base}${path}${qs ? `?${qs}` : ''}`;
      const route = routeOf(path);
      const headers = { ...fixedHeaders };
      if (tenant !== DEFAULT_TENANT || opts.alwaysSendTenant) headers[tenantHeader] = tenant;
      const request = signalForCall();
      // One controller per GET, for the timeout and the request's abort, its listener removed after:
      // AbortSignal.any keeps every signal made from a long-lived one (an SSE tail's) for its life.
      const own = new AbortController();
      const timer = setTimeout(() => own.abort(new DOMException(`jaeger did not answer within ${opts.timeoutMs} ms`, 'TimeoutError')), opts.timeoutMs);
      const onAbort = () => own.abort(request!.reason);
      request?.addEventListener('abort', onAbort, { once: true });
      const started = performance.now();
      let status = 0;
      let detail: string | undefined;
      try {
        const res = await opts.fetch(url, { method: 'GET', headers, signal: own.signal });
        status = res.status;
        const text = await readBody(res, opts.maxResponseBytes);
        log.debug({ call, path: route, status, ms: Math.round(performance.now() - started) }, 'jaeger request');
        if (status === 404 && notFound === 'empty' && isJaegerErrorBody(text)) return null;
        if (expectedRefusal && status === expectedRefusal.status && expectedRefusal.message.test(errorMessageOf(text))) {
          log.debug({ call, path: route, status, detail: errorMessageOf(text) }, 'jaeger refused the request as the caller expected');
          return EXPECTED_REFUSAL;
        }
        if (status < 200 || status > 299) {
          detail = errorMessageOf(text);
          throw fromStatus(status, call, route);
        }
        try {
          return JSON.parse(text) as unknown;
        } catch (err) {
          throw internal(`jaeger answered ${call} with a body that is not JSON`, err);
        }
      } catch (err) {
        // A fetch error is thrown before the headers (no connection, timeout) or while the body
        // streams in (timeout, reset); either way the caller gets only the mapped StoreError, and
        // what Jaeger or the network said (addresses included) stays in this log line.
        const aborted = abortedOr(err);
        if (aborted instanceof QueryAbortedError) throw aborted;
        const mapped = err instanceof StoreError ? err : fromFetchFailure(err, opts.timeoutMs, call);
        if (detail === undefined && !(err instanceof StoreError)) detail = causeChain(err);
        const level = mapped.code === 'BAD_QUERY' ? 'debug' : 'warn';
        log[level]({ call, path: route, status: status || undefined, code: mapped.code, err: mapped.message, detail }, 'jaeger request failed');
        throw mapped;
      } finally {
        clearTimeout(timer);
        request?.removeEventListener('abort', onAbort);
      }
    },
  };
}
