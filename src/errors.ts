// Every error code the gateway shows a client, in one place. GraphQL errors carry the code in
// `extensions.code`; anything that is not a GatewayError is masked as INTERNAL_SERVER_ERROR.
import { GraphQLError } from 'graphql';
import { StoreError } from './stores/types.ts';

export const ErrorCodes = {
  GW_BAD_FILTER: 'the filter is invalid (unknown field for the signal, bad regex, bad value)',
  GW_BAD_TIME_RANGE: 'the time range is invalid (from after to, unparseable timestamp)',
  GW_BAD_ARGUMENT: 'an argument is out of range or malformed (limit, cursor, trace ID, step)',
  GW_LIMIT_EXCEEDED: 'a configured limit was reached (e.g. live tail subscriptions); the message names the limit and its value',
  GW_NOT_FOUND: 'the requested object does not exist for this tenant',
  GW_BACKEND_UNAVAILABLE: 'a storage backend did not answer',
  GW_BACKEND_ERROR: 'a storage backend failed the query',
  GW_NOT_SUPPORTED: 'the configured read backend cannot answer this query (PromQL needs Prometheus as the metrics read source)',
  GW_UNAUTHENTICATED: 'missing or invalid credentials (HTTP 401); no further detail is given',
  GW_FORBIDDEN: 'valid credentials without the needed scope, or naming another tenant (HTTP 403 for a request refused whole; a field error in a 200 otherwise, e.g. backends)',
  GW_RATE_LIMITED: "a per-tenant budget was spent (requests, cost or DuckDB time per second, or queries running at once; HTTP 429 with Retry-After); the message names the limit and its value",
  GW_QUERY_TOO_LARGE: 'the query text, cost, depth, aliases or tokens exceed a limit; the message names the limit and the value',
  GW_TIMEOUT: 'the request deadline (limits.graphql.timeoutMs) passed; running queries were interrupted',
  GW_STARTING: 'the gateway is still starting (its store is opening; HTTP 503 with Retry-After)',
} as const;
export type ErrorCode = keyof typeof ErrorCodes;

export class GatewayError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
    super(message, { extensions: { code, ...extra } });
    this.name = 'GatewayError';
  }
}

export function badArgument(message: string): GatewayError {
  return new GatewayError('GW_BAD_ARGUMENT', message);
}

/** Turns a store's error into the client-facing one; unknown errors pass through to be masked. */
export function fromStoreError(err: unknown): unknown {
  if (!(err instanceof StoreError)) return err;
  switch (err.code) {
    case 'BAD_QUERY':
      return new GatewayError('GW_BAD_FILTER', err.message, { backend: err.backend });
    case 'NOT_FOUND':
      return new GatewayError('GW_NOT_FOUND', err.message, { backend: err.backend });
    case 'UNAVAILABLE':
      return new GatewayError('GW_BACKEND_UNAVAILABLE', `${err.backend}: ${err.message}`, { backend: err.backend });
    default:
      // INTERNAL: the message may hold what the gateway alone should see; only the status is added.
      return new GatewayError('GW_BACKEND_ERROR', `${err.backend} failed the query${err.status !== undefined ? ` (HTTP ${err.status})` : ''}`, { backend: err.backend });
  }
}
