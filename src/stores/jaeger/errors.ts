// Turns what can go wrong talking to Jaeger into StoreError codes (STYLE.md principle 5), so no
// fetch error, HTTP status or Jaeger message reaches a resolver unmapped.
//
// - no connection, a timeout, 5xx, 408, 429, 401/403 (the gateway's credentials or tenant are not
//   accepted; nothing the query can fix) and 404 for an unknown path (baseUrl is not a Jaeger
//   query service with api_v3) → UNAVAILABLE;
// - 400 and the other 4xx → INTERNAL: api_v3 answers 400 only for query parameters it cannot parse,
//   and every parameter is one the gateway built and checked (a filter the gateway cannot push down
//   is applied in memory instead), so a 400 means this Jaeger and the gateway disagree on the API,
//   never that the user's filter is wrong;
// - a body that is not the JSON or OTLP we expect → INTERNAL.
// Messages name the call and the HTTP status, and never a host, URL, credential or what Jaeger
// wrote in its error body: UNAVAILABLE messages reach GraphQL clients, and Jaeger's messages carry
// its storage's internal addresses (`dial tcp 10.0.3.7:16685: connect: connection refused`). That
// detail goes to the store's log (`detail` below).
import { StoreError, type StoreErrorCode } from '../types.ts';
import { networkCode } from '../network-code.ts';

export const BACKEND = 'jaeger';

export function storeError(code: StoreErrorCode, message: string, cause?: unknown): StoreError {
  return new StoreError(code, BACKEND, message, cause);
}

export const badQuery = (message: string) => storeError('BAD_QUERY', message);
export const internal = (message: string, cause?: unknown, status?: number) => new StoreError('INTERNAL', BACKEND, message, cause, status);
export const unavailable = (message: string, cause?: unknown) => storeError('UNAVAILABLE', message, cause);

const MAX_DETAIL = 2000;

/**
 * Jaeger's message from an error body, for the log only: api_v3 writes
 * `{"error":{"httpCode":N,"message":"…"}}\n`, the internal API
 * `{"data":null,…,"errors":[{"code":N,"msg":"…"}]}`, and Go's mux plain text.
 */
export function errorMessageOf(body: string): string {
  const text = body.trim();
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') {
      const error = (parsed as { error?: unknown }).error;
      if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
        return clip((error as { message: string }).message);
      }
      if (typeof error === 'string') return clip(error);
      const errors = (parsed as { errors?: unknown }).errors;
      if (Array.isArray(errors) && errors[0] && typeof (errors[0] as { msg?: unknown }).msg === 'string') {
        return clip((errors[0] as { msg: string }).msg);
      }
    }
  } catch {
    // plain text
  }
  return clip(text);
}

function clip(s: string): string {
  return s.length > MAX_DETAIL ? `${s.slice(0, MAX_DETAIL)}…` : s;
}

/** Whether an error body is Jaeger's own JSON error (so a 404 is "nothing found", not "no such path"). */
export function isJaegerErrorBody(body: string): boolean {
  try {
    const parsed: unknown = JSON.parse(body);
    return !!parsed && typeof parsed === 'object' && 'error' in parsed;
  } catch {
    return false;
  }
}

/**
 * The StoreError for a non-2xx status that the caller did not handle itself. `call` names the
 * request (`FindTraces`), `route` its path without IDs (`/api/v3/traces/{traceId}`). The body is
 * not read here: it is the log's, not the client's.
 */
export function fromStatus(status: number, call: string, route: string): StoreError {
  if (status === 404) {
    return unavailable(`jaeger answered HTTP 404 to ${call}: ${route} was not found; is the base URL a Jaeger query service (HTTP port 16686) with api_v3?`);
  }
  if (status === 401 || status === 403) {
    return unavailable(`jaeger refused the gateway's ${call} request (HTTP ${status}); check storage.jaeger.headers and Jaeger's tenancy settings`);
  }
  if (status === 408 || status === 429 || status >= 500) return unavailable(`jaeger answered HTTP ${status} to ${call} (the reason is in the gateway log)`);
  if (status >= 400) return internal(`jaeger refused the gateway's ${call} request as malformed (HTTP ${status})`, undefined, status);
  return internal(`jaeger answered ${call} with an unexpected HTTP ${status}`, undefined, status);
}

/** A fetch that threw: no connection, a reset, a timeout. Never the raw error (it names the address). */
export function fromFetchFailure(err: unknown, timeoutMs: number, call: string): StoreError {
  const name = (err as { name?: unknown })?.name;
  if (name === 'TimeoutError') return unavailable(`jaeger did not answer within ${timeoutMs} ms (${call})`, err);
  if (name === 'AbortError') return unavailable(`the ${call} request to jaeger was aborted`, err);
  const code = networkCode(err);
  return unavailable(code ? `cannot reach jaeger (${code}) for ${call}` : `cannot reach jaeger for ${call}`, err);
}

/** Every message along an error's cause chain (`fetch failed; connect ECONNREFUSED 10.0.3.7:16686`), for the log. */
export function causeChain(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    const message = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
    if (message && !parts.includes(message)) parts.push(message);
    const errors = (e as { errors?: unknown }).errors;
    e = Array.isArray(errors) && errors.length > 0 ? errors[0] : (e as { cause?: unknown }).cause;
  }
  return clip(parts.join('; '));
}
