// Turns the Elasticsearch client's errors into StoreError codes, so no driver error reaches a resolver
// (like Tempo's readError per backend).
//
// - BAD_QUERY only for a search that Elasticsearch refused because of the user's filter: a regex it
//   cannot parse or determinize, a value it cannot turn into a query (query_shard_exception, "failed
//   to create query: …"), too many clauses. Its message is Elasticsearch's reason, which the user
//   needs to fix the filter.
// - UNAVAILABLE for what no query can fix: connection faults, timeouts, 429 and 5xx, refused
//   credentials (401), a missing privilege or other 403, compatibility headers the server refuses, a
//   server that is not Elasticsearch, an answer without part of the data (shards, clusters, a timeout).
// - INTERNAL for the rest: a 4xx for a request the gateway built (a parameter, an ID lookup) is the
//   gateway's problem, not the user's filter.
// Client-facing messages (BAD_QUERY, UNAVAILABLE) name the call, the status and Elasticsearch's
// error type, never the node's address or what Elasticsearch wrote in a 5xx reason (which names
// nodes and their addresses): that is describeError's, for the log. Security refusals get a fixed
// text, since the reason names the user: a 401 is refused credentials, a 403 security_exception
// accepted credentials whose user lacks a privilege (a role to fix, not a password).
import { errors } from '@elastic/elasticsearch';
import { StoreError } from '../types.ts';
import { networkCode } from '../network-code.ts';

export const BACKEND = 'elasticsearch';
/** How errors and logs name the exporter's one call, as `EsCall.what`. */
export const BULK_CALL = '_bulk';

export function badQuery(message: string): StoreError {
  return new StoreError('BAD_QUERY', BACKEND, message);
}

/** What an error response says: ES writes `error` as an object, or as a string for a few early REST errors. */
export interface EsErrorInfo {
  status: number | undefined;
  type: string;
  reason: string;
  /** Every error type in the body: the top one, root causes, shard failures and their caused_by chains. */
  types: string[];
}

interface EsErrorBody {
  type?: unknown;
  reason?: unknown;
  root_cause?: { type?: unknown; reason?: unknown }[];
  caused_by?: EsErrorBody;
  failed_shards?: { reason?: EsErrorBody }[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Every `type` in an error object, its root causes, shard failures and caused_by chains (bounded). */
function typesOf(e: EsErrorBody, out: string[] = [], depth = 0): string[] {
  if (depth > 6 || e === null || typeof e !== 'object') return out;
  const type = str(e.type);
  if (type && !out.includes(type)) out.push(type);
  if (Array.isArray(e.root_cause)) for (const r of e.root_cause.slice(0, 10)) typesOf(r as EsErrorBody, out, depth + 1);
  if (Array.isArray(e.failed_shards)) for (const f of e.failed_shards.slice(0, 10)) if (f?.reason) typesOf(f.reason, out, depth + 1);
  if (e.caused_by) typesOf(e.caused_by, out, depth + 1);
  return out;
}

/** Reads `{error:{type,reason,root_cause,…},status}` or `{error:"text",status}` from a response body. */
export function errorInfo(status: number | undefined, body: unknown): EsErrorInfo {
  const error = body !== null && typeof body === 'object' ? (body as { error?: unknown }).error : undefined;
  if (typeof error === 'string') return { status, type: 'error', reason: error, types: [] };
  if (error !== null && typeof error === 'object') {
    const e = error as EsErrorBody;
    const type = str(e.type) ?? 'error';
    // A search whose shards all failed says "all shards failed"; the root cause says why.
    const root = Array.isArray(e.root_cause) ? e.root_cause[0] : undefined;
    const reason = type === 'search_phase_execution_exception' ? (str(root?.reason) ?? str(e.reason)) : (str(e.reason) ?? str(root?.reason));
    return {
      status,
      type: type === 'search_phase_execution_exception' ? (str(root?.type) ?? type) : type,
      reason: reason ?? type,
      types: typesOf(e),
    };
  }
  return { status, type: 'http_error', reason: typeof body === 'string' && body !== '' ? body.slice(0, 200) : `HTTP ${String(status)}`, types: [] };
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
export const PRIVILEGE_MISSING = 'the configured Elasticsearch user lacks a privilege';

/** A 401: authentication failed (wrong or missing credentials). */
export function isAuthFailure(info: EsErrorInfo): boolean {
  return info.status === 401;
}

/** A 403 from the security layer: the credentials were accepted, and the user's roles do not allow the call. */
export function isPrivilegeFailure(info: EsErrorInfo): boolean {
  return info.status === 403 && info.type === 'security_exception';
}

/**
 * The fixed text of a security refusal, fit to show (the reason, which names the user, is left out),
 * or undefined when `info` is not one. `what` names the refused call.
 */
export function securityRefusal(info: EsErrorInfo, what: string): string | undefined {
  const named = `HTTP ${String(info.status)} ${info.type}`;
  if (isAuthFailure(info)) return `${CREDENTIALS_REFUSED} (${named}); check the configured username/password, API key or bearer token`;
  if (isPrivilegeFailure(info)) return `Elasticsearch refused ${what} (${named}): ${PRIVILEGE_MISSING} for it; check the roles of the configured user or API key`;
  return undefined;
}

/**
 * Whether resending the same request may succeed: connection faults, timeouts, 429 and 5xx, and a
 * 2xx without `x-elastic-product` (a proxy that strips the header, or one that answers in
 * Elasticsearch's place, such as an SSO login page, until the configuration is fixed: what was sent
 * is kept, and a resend of what did go in answers 409, as the documents' IDs are derived from them).
 */
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
    err instanceof errors.DeserializationError ||
    err instanceof errors.ProductNotSupportedError
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
    // The reason names the action and the indices the user lacks a privilege for: what the operator needs (for the log only).
    if (isPrivilegeFailure(info)) return `Elasticsearch answered HTTP ${String(info.status)} ${info.type}: ${PRIVILEGE_MISSING}; check its roles: ${info.reason}`;
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

type Failure = { reason?: { type?: string; reason?: string | null } };

/** What a search answer says of the data it read (estypes.ShardStatistics, ClusterStatistics, SearchResponse.timed_out). */
interface ShardedAnswer {
  _shards?: { total: number; successful: number; failed: number; failures?: Failure[] };
  timed_out?: boolean;
  /**
   * On a cross-cluster search: how each cluster answered. A remote cluster with skip_unavailable
   * (the default since 8.15) that cannot be reached is `skipped`, and the answer is still 200 with
   * `_shards` counting only the clusters that answered; `partial` and `failed` exist since 8.10.
   */
  _clusters?: {
    total: number;
    successful?: number;
    skipped?: number;
    partial?: number;
    failed?: number;
    details?: Record<string, { status?: string; failures?: Failure[] }>;
  };
}

/** What an answer that holds only part of the data lacks. */
export interface MissingPart {
  /** The shards read, when some failed. */
  shards?: { total: number; successful: number };
  /** The clusters of a cross-cluster search that were skipped, or answered partly or not at all. */
  clusters?: { total: number; incomplete: number };
  /** The search timed out: its shards answered with what they had found by then. */
  timedOut: boolean;
}

/** A search answered 200 with only part of the matches: from some shards or clusters, or before it timed out. */
export class PartialAnswerError extends Error {
  constructor(readonly missing: MissingPart, message: string) {
    super(message);
    this.name = 'PartialAnswerError';
  }
}

const failureText = (failures: Failure[] | undefined) => (failures ?? []).map((f) => `${f.reason?.type ?? 'unknown'}: ${f.reason?.reason ?? ''}`);

/**
 * Throws PartialAnswerError when `res` holds only part of what the index matches. Elasticsearch
 * answers 200 when some shards fail (allow_partial_search_results defaults to true), the search
 * times out, or a remote cluster is skipped, with what the rest found: returned as it is, a page
 * would look complete (hasNextPage false, `log(id)` null) while logs are missing. The message, for
 * the log, names the failed shards' and clusters' reasons (they can name nodes and addresses).
 */
export function checkWholeAnswer(res: ShardedAnswer): void {
  const shards = res._shards && res._shards.failed > 0 ? res._shards : undefined;
  const clusters = res._clusters;
  const incomplete = clusters ? (clusters.skipped ?? 0) + (clusters.partial ?? 0) + (clusters.failed ?? 0) : 0;
  const timedOut = res.timed_out === true;
  if (!shards && incomplete === 0 && !timedOut) return;
  const missing: MissingPart = { timedOut };
  const parts: string[] = [];
  if (timedOut) parts.push('the search timed out');
  if (shards) {
    missing.shards = { total: shards.total, successful: shards.successful };
    parts.push(`answered from ${shards.successful} of ${shards.total} shards`);
  }
  if (clusters && incomplete > 0) {
    missing.clusters = { total: clusters.total, incomplete };
    const notWhole = Object.entries(clusters.details ?? {}).filter(([, d]) => d.status !== 'successful' && d.status !== 'running');
    const named = notWhole.map(([name, d]) => `${name} ${d.status ?? 'unknown'}`).join(', ');
    parts.push(`${incomplete} of ${clusters.total} clusters skipped or incomplete${named ? ` (${named})` : ''}`);
  }
  const reasons = [...new Set([...failureText(shards?.failures), ...Object.values(clusters?.details ?? {}).flatMap((d) => failureText(d.failures))])].join('; ');
  throw new PartialAnswerError(missing, `Elasticsearch gave an incomplete answer: ${parts.join(', ')}${reasons ? `: ${reasons}` : ''}`);
}

/** The client-facing text of an incomplete answer to `what`: what is missing, never which node or cluster. */
function incompleteAnswer(what: string, missing: MissingPart): string {
  const parts: string[] = [];
  if (missing.shards) parts.push(`from ${missing.shards.successful} of ${missing.shards.total} shards only`);
  if (missing.clusters) parts.push(`without ${missing.clusters.incomplete} of ${missing.clusters.total} clusters (skipped or incomplete)`);
  const answered = parts.length > 0 ? `${what} ${parts.join(' and ')} (the reason is in the gateway log)` : `${what} with what it had found by then`;
  return `${missing.timedOut ? 'The search timed out in Elasticsearch, which answered' : 'Elasticsearch answered'} ${answered}; an incomplete answer is not given`;
}

/** Error types that mean the query built from the user's filter is what Elasticsearch refused. */
const FILTER_ERROR_TYPES = new Set(['query_shard_exception', 'too_complex_to_determinize_exception', 'too_many_clauses', 'too_many_nested_clauses']);
/** Of those, the ones that are the filter's fault whatever the status (older versions answer 500 for them). */
const ALWAYS_FILTER_TYPES = new Set(['too_complex_to_determinize_exception']);
const MAX_REASON = 300;

export interface EsCall {
  /** What the request was for, as the message names it: `the log search`. */
  what: string;
  /** The request carries the user's filter (so a query Elasticsearch refuses may be the user's to fix). */
  userFilter?: boolean;
}

/**
 * The StoreError for a failed client call (see the top of this file). `describeError` gives the
 * detail for the log; nothing here names the node or echoes a server-side reason, except the
 * reason a refused filter gets, which is about the user's own input.
 */
export function toStoreError(err: unknown, call: EsCall): StoreError {
  if (err instanceof StoreError) return err;
  const what = call.what;
  if (err instanceof errors.ProductNotSupportedError) {
    return new StoreError(
      'UNAVAILABLE',
      BACKEND,
      `the server configured as Elasticsearch did not identify itself as Elasticsearch (no "x-elastic-product: Elasticsearch" header) when answering ${what}; ` +
        'check that storage.elasticsearch.node points at Elasticsearch 8.x and not at a proxy or another product',
      err,
    );
  }
  if (err instanceof errors.ResponseError) {
    const info = errorInfo(err.statusCode, err.body);
    const status = info.status ?? 0;
    // The client's error keeps the request in its meta; a security refusal keeps no cause at all.
    const refusal = securityRefusal(info, what);
    if (refusal !== undefined) return new StoreError('UNAVAILABLE', BACKEND, refusal);
    const userCaused = call.userFilter && info.types.some((t) => ALWAYS_FILTER_TYPES.has(t) || (status === 400 && FILTER_ERROR_TYPES.has(t)));
    if (userCaused) {
      const reason = info.reason.length > MAX_REASON ? `${info.reason.slice(0, MAX_REASON)}…` : info.reason;
      return new StoreError('BAD_QUERY', BACKEND, `Elasticsearch refused the filter: ${reason}`, err);
    }
    const named = `HTTP ${status} ${info.type}`;
    if (status === 429 || status >= 500) return new StoreError('UNAVAILABLE', BACKEND, `Elasticsearch answered ${named} to ${what} (the reason is in the gateway log)`, err);
    if (status === 403) return new StoreError('UNAVAILABLE', BACKEND, `Elasticsearch refused ${what} (${named}); check the configured user's privileges and index blocks`, err);
    if (info.types.includes('media_type_header_exception')) {
      return new StoreError('UNAVAILABLE', BACKEND, `Elasticsearch refused the client's compatibility headers for ${what} (${named}); the gateway's client speaks the Elasticsearch 8 API`, err);
    }
    return new StoreError('INTERNAL', BACKEND, `Elasticsearch refused ${what} as the gateway sent it (${named})`, err, info.status);
  }
  if (err instanceof errors.TimeoutError) return new StoreError('UNAVAILABLE', BACKEND, `Elasticsearch did not answer ${what} in time`, err);
  if (err instanceof PartialAnswerError) return new StoreError('UNAVAILABLE', BACKEND, incompleteAnswer(what, err.missing), err);
  if (err instanceof errors.ConnectionError || err instanceof errors.NoLivingConnectionsError) {
    const code = networkCode(err);
    return new StoreError('UNAVAILABLE', BACKEND, `cannot reach Elasticsearch${code ? ` (${code})` : ''} for ${what}`, err);
  }
  if (err instanceof errors.RequestAbortedError) return new StoreError('UNAVAILABLE', BACKEND, `${what} was aborted`, err);
  if (err instanceof errors.DeserializationError) return new StoreError('UNAVAILABLE', BACKEND, `Elasticsearch answered ${what} with a body that is not JSON`, err);
  return new StoreError('INTERNAL', BACKEND, `the Elasticsearch client failed ${what}`, err);
}
