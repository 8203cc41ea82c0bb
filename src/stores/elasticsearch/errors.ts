// Turns the Elasticsearch client's errors into StoreError codes, so no driver error reaches a resolver
// (like Tempo's readError per backend). Messages never carry credentials: authentication failures get
// a fixed text, and node URLs lose their user-info part before they are shown.
import { errors } from '@elastic/elasticsearch';
import { StoreError } from '../types.ts';

export const BACKEND = 'elasticsearch';

export function badQuery(message: string): StoreError {
  return new StoreError('BAD_QUERY', BACKEND, message);
}

/** What an error response says: ES writes `error` as an object, or as a string for a few early REST errors. */
export interface EsErrorInfo {
  status: number | undefined;
  type: string;
  reason: string;
}

interface EsErrorBody {
  type?: unknown;
  reason?: unknown;
  root_cause?: { type?: unknown; reason?: unknown }[];
  caused_by?: { type?: unknown; reason?: unknown };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Reads `{error:{type,reason,root_cause,…},status}` or `{error:"text",status}` from a response body. */
export function errorInfo(status: number | undefined, body: unknown): EsErrorInfo {
  const error = body !== null && typeof body === 'object' ? (body as { error?: unknown }).error : undefined;
  if (typeof error === 'string') return { status, type: 'error', reason: error };
  if (error !== null && typeof error === 'object') {
    const e = error as EsErrorBody;
    const type = str(e.type) ?? 'error';
    // A search whose shards all failed says "all shards failed"; the root cause says why.
    const root = Array.isArray(e.root_cause) ? e.root_cause[0] : undefined;
    const reason = type === 'search_phase_execution_exception' ? (str(root?.reason) ?? str(e.reason)) : (str(e.reason) ?? str(root?.reason));
    return { status, type: type === 'search_phase_execution_exception' ? (str(root?.type) ?? type) : type, reason: reason ?? type };
  }
  return { status, type: 'http_error', reason: typeof body === 'string' && body !== '' ? body.slice(0, 200) : `HTTP ${String(status)}` };
}

export function responseInfo(err: unknown): EsErrorInfo | null {
  return err instanceof errors.ResponseError ? errorInfo(err.statusCode, err.body) : null;
}

/** 404 index_not_found_exception: the index or data stream does not exist yet, which reads as "no logs". */
export function isIndexNotFound(err: unknown): boolean {
  const info = responseInfo(err);
  return info?.status === 404 && info.type === 'index_not_found_exception';
}

/** A point in time that expired or was closed: the search context is gone. */
export function isPitGone(err: unknown): boolean {
  const info = responseInfo(err);
  if (info?.status !== 404) return false;
  return info.type === 'search_context_missing_exception' || /search context|point in time/i.test(info.reason);
}

/** `http://user:secret@host:9200/` → `http://host:9200/`: node URLs are shown without user info. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@\s]*@/g, '//');
}

export const CREDENTIALS_REFUSED = 'Elasticsearch refused the credentials';

/** A 401, or a 403 from the security layer: a fixed message, since the reason may name the user. */
export function isAuthFailure(info: EsErrorInfo): boolean {
  return info.status === 401 || (info.status === 403 && info.type === 'security_exception');
}

/** Whether resending the same request may succeed: connection faults, timeouts, 429 and 5xx. */
export function isTransient(err: unknown): boolean {
  if (err instanceof errors.ResponseError) {
    const status = err.statusCode ?? 0;
    return status === 429 || status >= 500;
  }
  return (
    err instanceof errors.ConnectionError ||
    err instanceof errors.TimeoutError ||
    err instanceof errors.NoLivingConnectionsError ||
    err instanceof errors.RequestAbortedError ||
    err instanceof errors.DeserializationError
  );
}

/** A one-line description of any client error, safe to log and to show. */
export function describeError(err: unknown, node: string): string {
  const where = redactUrl(node);
  if (err instanceof errors.ProductNotSupportedError) {
    return `the server at ${where} did not identify itself as Elasticsearch (no "x-elastic-product: Elasticsearch" header); check that the node URL points at Elasticsearch 8.x and not at a proxy or another product`;
  }
  if (err instanceof errors.ResponseError) {
    const info = errorInfo(err.statusCode, err.body);
    if (isAuthFailure(info)) return `${CREDENTIALS_REFUSED} (HTTP ${String(info.status)} ${info.type}); check the configured username/password, API key or bearer token`;
    return `Elasticsearch answered HTTP ${String(info.status)} ${info.type}: ${info.reason}`;
  }
  if (err instanceof errors.TimeoutError) return `Elasticsearch at ${where} did not answer in time`;
  if (err instanceof errors.ConnectionError || err instanceof errors.NoLivingConnectionsError) {
    return `Elasticsearch at ${where} is unreachable: ${redactUrl(err.message)}`;
  }
  if (err instanceof errors.DeserializationError) return `Elasticsearch at ${where} sent a response that is not JSON`;
  if (err instanceof Error) return redactUrl(err.message);
  return String(err);
}

/**
 * Connection faults, 429, 5xx and refused credentials → UNAVAILABLE; 400 → BAD_QUERY with ES's reason;
 * anything else → INTERNAL. A 404 index_not_found is the caller's to turn into an empty result.
 */
export function toStoreError(err: unknown, node: string): StoreError {
  if (err instanceof StoreError) return err;
  const message = describeError(err, node);
  if (err instanceof errors.ResponseError) {
    const info = errorInfo(err.statusCode, err.body);
    // The client's error keeps the request in its meta; the credentials case keeps no cause at all.
    if (isAuthFailure(info)) return new StoreError('UNAVAILABLE', BACKEND, message);
    if (info.status === 400) return new StoreError('BAD_QUERY', BACKEND, `Elasticsearch rejected the query: ${info.reason}`, err);
    if (isTransient(err) || info.status === 403) return new StoreError('UNAVAILABLE', BACKEND, message, err);
    return new StoreError('INTERNAL', BACKEND, message, err);
  }
  if (isTransient(err) || err instanceof errors.ProductNotSupportedError) return new StoreError('UNAVAILABLE', BACKEND, message, err);
  return new StoreError('INTERNAL', BACKEND, message, err);
}
