// Every error code the gateway shows a client, in one place. GraphQL errors carry the code in
// `extensions.code`; anything that is not a GatewayError is masked as INTERNAL_SERVER_ERROR.
import { GraphQLError } from 'graphql';
import { StoreError } from './stores/types.ts';
import type { AlertingError } from './alerting/types.ts';

export const ErrorCodes = {
  GW_BAD_FILTER: 'the filter is invalid (unknown field for the signal, bad regex, bad value)',
  GW_BAD_TIME_RANGE: 'the time range is invalid (from after to, unparseable timestamp)',
  GW_BAD_ARGUMENT: 'an argument is out of range or malformed (limit, cursor, trace ID, step, a variable that does not fit its type)',
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

/**
 * The other codes a client can get in `extensions.code`: Yoga's, and Apollo's for automatic
 * persisted queries (the names its clients look for). Listed here so that this file holds them all.
 */
export const ProtocolErrorCodes = {
  GRAPHQL_PARSE_FAILED: 'the document does not parse (HTTP 400 under application/graphql-response+json, 200 under application/json)',
  GRAPHQL_VALIDATION_FAILED: 'the document does not validate against the schema (statuses as GRAPHQL_PARSE_FAILED)',
  BAD_REQUEST: 'the request is not GraphQL over HTTP (a body that is not JSON, no query, a batch; HTTP 400, and 200 for a missing query under application/json)',
  OPERATION_RESOLUTION_FAILURE: 'the document holds several operations and operationName names none of them, or is missing (HTTP 400)',
  PERSISTED_QUERY_NOT_FOUND: 'the tenant has no query with this persisted-query hash: send the text with it (HTTP 404, Cache-Control: no-store)',
  PERSISTED_QUERY_HASH_MISMATCH: 'the text sent with a persisted-query hash does not hash to it (HTTP 400)',
  INTERNAL_SERVER_ERROR: 'an unexpected error, masked as "Unexpected error."; the gateway log has the detail',
} as const;

/** `extensions.reason` of an alerting error (rules, silences), beside its GW_* code. */
export const AlertingErrorReasons = {
  BAD_RULE: 'the rule is invalid; the message names the field (GW_BAD_ARGUMENT)',
  BAD_SILENCE: 'the silence is invalid; the message names the field (GW_BAD_ARGUMENT)',
  READ_ONLY: 'a rule of the rules file cannot be changed through the API (GW_BAD_ARGUMENT)',
  NOT_FOUND: 'no rule or silence of the tenant has this ID (GW_NOT_FOUND)',
  LIMIT: 'alerting.maxRulesPerTenant or maxSilencesPerTenant is reached (GW_LIMIT_EXCEEDED)',
} as const satisfies Record<AlertingError['code'], string>;

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
const namesBackend = (message: string, backend: string) => message.toLowerCase().startsWith(`${backend.toLowerCase()} `);

export function fromStoreError(err: unknown): unknown {
  if (!(err instanceof StoreError)) return err;
  switch (err.code) {
    case 'BAD_QUERY':
      return new GatewayError('GW_BAD_FILTER', err.message, { backend: err.backend });
    case 'BAD_ARGUMENT':
      return new GatewayError('GW_BAD_ARGUMENT', err.message, { backend: err.backend });
    case 'NOT_FOUND':
      return new GatewayError('GW_NOT_FOUND', err.message, { backend: err.backend });
    case 'UNAVAILABLE':
      // Named once: "jaeger answered HTTP 503 …" needs no "jaeger: " before it.
      return new GatewayError('GW_BACKEND_UNAVAILABLE', namesBackend(err.message, err.backend) ? err.message : `${err.backend}: ${err.message}`, { backend: err.backend });
    default:
      // INTERNAL: the message may hold what the gateway alone should see; only the status is added.
      return new GatewayError('GW_BACKEND_ERROR', `${err.backend} failed the query${err.status !== undefined ? ` (HTTP ${err.status})` : ''}`, { backend: err.backend });
  }
}
