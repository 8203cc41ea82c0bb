// Yoga plugins that keep one client from taking the query side down: query text size, automatic
// persisted queries (resolved before the size check), depth/aliases/tokens (graphql-armor), a
// cost from list sizes (query-cost.ts), and the deadline's error. Each refusal names the setting and
// the value, with code GW_QUERY_TOO_LARGE and the same HTTP status whatever JSON the client accepts:
// 413 for the query text, 400 for its shape (depth, aliases, tokens, directives, cost); over SSE, 200
// and the error in the stream (limitStatusPlugin). Yoga would answer
// a validation error (depth, aliases) 200 under application/json and 400 under
// application/graphql-response+json; a refusal has no data, and clients that read only the status
// (Grafana's Infinity datasource, curl --fail) must see that it failed.
import { createHash } from 'node:crypto';
import { type DocumentNode, GraphQLError, type GraphQLSchema, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { LRUCache } from 'lru-cache';
import type { LimitsConfig } from '../config/security.ts';
import { GatewayError } from '../errors.ts';
import { queryCost } from './query-cost.ts';
import { RateLimitedError, type TenantRateLimit, createTenantRateLimit } from '../limits/tenant-rate-limit.ts';
import { REMEMBERED_TENANTS } from '../tenant.ts';

type GraphQLLimits = LimitsConfig['graphql'];

function tooLarge(message: string, status = 400): GatewayError {
  // `spec: false`: Yoga keeps this status under application/json too (it marks validation errors `spec`).
  return new GatewayError('GW_QUERY_TOO_LARGE', message, { http: { status, spec: false } });
}

/** Texts one tenant's persisted queries may hold, whatever `persistedQueries` allows in entries. */
export const PERSISTED_QUERY_TENANT_BYTES = 8 * 1024 * 1024;
/**
 * Texts all tenants' persisted queries may hold (the old shared cache's worst case: 1,000 texts of
 * 64 KiB); past it, the least recently active tenants' caches are dropped whole.
 */
export const PERSISTED_QUERY_TOTAL_BYTES = 64 * 1024 * 1024;

/**
 * A miss asks the client to send the text: 404, as Apollo Router answers (Apollo Client before
 * 3.7.16 turned persisted queries off for good after a 400 or 500, never after a 404; it and urql
 * read the error from the body whatever the status). The GraphQL-over-HTTP spec wants a 4xx for a
 * response without data under application/graphql-response+json. `no-store`: a CDN in front of
 * hash-only GETs must not keep the miss, or every client is told "not found" until it expires.
 */
function persistedQueryNotFound(): GraphQLError {
  return new GraphQLError('PersistedQueryNotFound', {
    extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 404, headers: { 'cache-control': 'no-store' } } },
  });
}

/**
 * Apollo's automatic persisted queries (`extensions.persistedQuery.sha256Hash`, also over GET):
 * a hash alone runs the cached text or answers PersistedQueryNotFound; hash + text stores it.
 * Each tenant has its own LRU of `size` entries (and PERSISTED_QUERY_TENANT_BYTES), so one tenant
 * can neither evict another's queries nor learn from its own evictions how many others registered.
 * The tenants are an LRU too, bounded by REMEMBERED_TENANTS and PERSISTED_QUERY_TOTAL_BYTES: only
 * that many tenants' worth of texts, all active, drop the least recently active tenant's cache. A
 * text over maxQueryBytes is refused before it is stored: the size check runs after this plugin (so
 * that it also sees texts found by hash), and the body may be up to maxBodyBytes.
 */
export function persistedQueriesPlugin(size: number, maxQueryBytes: number, tenantOf: (serverContext: object) => string): Plugin {
  const tenants = new LRUCache<string, LRUCache<string, string>>({
    max: REMEMBERED_TENANTS,
    maxSize: PERSISTED_QUERY_TOTAL_BYTES,
    // Stored again after each registration, so a tenant counts the bytes it holds now (at least 1).
    sizeCalculation: (queries) => Math.max(1, queries.calculatedSize),
  });
  const cacheOf = (tenant: string) =>
    tenants.get(tenant) ??
    new LRUCache<string, string>({ max: Math.max(1, size), maxSize: PERSISTED_QUERY_TENANT_BYTES, sizeCalculation: (query) => Math.max(1, Buffer.byteLength(query)) });
  return {
    onParams({ params, setParams, context }) {
      const ext = (params.extensions as { persistedQuery?: { version?: unknown; sha256Hash?: unknown } } | undefined)?.persistedQuery;
      if (!ext || size === 0) return;
      if (ext.version !== 1 || typeof ext.sha256Hash !== 'string' || !/^[0-9a-f]{64}$/.test(ext.sha256Hash)) {
        throw new GraphQLError('persistedQuery: expected version 1 and a sha256Hash of 64 lower-case hex digits', {
          extensions: { code: 'GW_BAD_ARGUMENT', http: { status: 400 } },
        });
      }
      const tenant = tenantOf(context);
      if (typeof params.query === 'string' && params.query !== '') {
        const tooLong = checkQueryText(params.query, maxQueryBytes);
        if (tooLong) throw tooLong;
        const actual = createHash('sha256').update(params.query).digest('hex');
        if (actual !== ext.sha256Hash) {
          throw new GraphQLError('provided sha does not match query', { extensions: { code: 'PERSISTED_QUERY_HASH_MISMATCH', http: { status: 400 } } });
        }
        const queries = cacheOf(tenant);
        queries.set(ext.sha256Hash, params.query);
        // lru-cache keeps an entry's size when the same value is set again: delete, then set.
        tenants.delete(tenant);
        tenants.set(tenant, queries);
        return;
      }
      const query = tenants.get(tenant)?.get(ext.sha256Hash);
      if (query === undefined) throw persistedQueryNotFound();
      setParams({ ...params, query });
    },
  };
}

export function queryTextLimitPlugin(maxBytes: number): Plugin {
  return {
    onParams({ params }) {
      const tooLong = checkQueryText(params.query, maxBytes);
      if (tooLong) throw tooLong;
    },
  };
}

/** The same check for documents that do not come through Yoga's params (graphql-ws). */
export function checkQueryText(query: unknown, maxBytes: number): GatewayError | undefined {
  const bytes = typeof query === 'string' ? Buffer.byteLength(query) : 0;
  return bytes > maxBytes ? tooLarge(`query text of ${bytes} bytes exceeds limits.graphql.maxQueryBytes of ${maxBytes}`, 413) : undefined;
}

/**
 * graphql-armor's refusals read "Syntax Error: Aliases limit of 15 exceeded, found 16." with no
 * code; ours are GW_QUERY_TOO_LARGE naming the setting, as the other limits' are. Depth, aliases
 * and directives are checked in validation (reported to `ctx`); tokens while parsing, with no
 * context: that refusal is thrown from the parser instead.
 */
function armorRefusal(setting: string) {
  return {
    propagateOnRejection: false,
    onReject: [
      (ctx: ValidationContext | null, err: GraphQLError) => {
        const refusal = tooLarge(`${err.message.replace(/^Syntax Error: /, '').replace(/\.$/, '')} (${setting})`);
        if (!ctx) throw refusal;
        ctx.reportError(refusal);
      },
    ],
  };
}

export function armorPlugin(limits: GraphQLLimits): Plugin {
  return EnvelopArmorPlugin({
    // Depth counts fields: a fragment spread or inline fragment is not a level (graphql-armor's
    // default counted each as one, so codegen/Relay-style documents were refused well below the
    // configured depth: security QA).
    maxDepth: { n: limits.maxDepth, ignoreIntrospection: true, flattenFragments: true, ...armorRefusal('limits.graphql.maxDepth') },
    maxAliases: { n: limits.maxAliases, ...armorRefusal('limits.graphql.maxAliases') },
    maxTokens: { n: limits.maxTokens, ...armorRefusal('limits.graphql.maxTokens') },
    maxDirectives: { n: 50, ...armorRefusal('at most 50 directives') },
    // The cost from list sizes needs variable values, so it runs at execution (below) instead.
    costLimit: { enabled: false },
    blockFieldSuggestion: { enabled: false },
  }) as Plugin;
}

/**
 * Whether Yoga answers a (non-streamed) result as an event stream: it tries its processors SSE,
 * multipart, then JSON, and the last one the Accept header matches wins (useResultProcessors).
 */
function answeredAsEventStream(accept: string | null): boolean {
  const asked = (accept || '*/*')
    .replace(/\s/g, '')
    .toLowerCase()
    .split(',')
    .filter((a) => !a.includes('charset=') || a.includes('charset=utf-8'))
    .map((a) => a.split(';')[0]!);
  const matches = (type: string) =>
    asked.some((a) => {
      const [pre, suf] = a.split('/');
      const [tPre, tSuf] = type.split('/');
      return (pre === '*' || pre === tPre) && (suf === '*' || suf === tSuf);
    });
  return matches('text/event-stream') && !['multipart/mixed', 'application/graphql-response+json', 'application/json'].some(matches);
}

/**
 * Yoga marks every parse error `spec` (so 200 under application/json), and graphql-armor counts
 * tokens while parsing: this gives the token limit's refusal back the status every limit refusal
 * has. Runs on each HTTP result before its status is chosen.
 *
 * Over SSE (distinct connections) a refusal is an accepted stream instead: 200, a `next` event with
 * the errors, then `complete`, as Yoga sends a validation error. graphql-sse's protocol requires it
 * ("validation steps that run before execution MUST report errors through an accepted SSE
 * connection"): an EventSource given a 400 or 413 fails without showing the body.
 */
/** A copy of a refusal whose HTTP status an event stream does not take (Yoga skips `spec` errors' statuses there). */
function inStream(err: GraphQLError): GraphQLError {
  const { nodes, source, positions, path, originalError } = err;
  const http = { ...(err.extensions['http'] as object), spec: true };
  return new GraphQLError(err.message, { nodes, source, positions, path, originalError, extensions: { ...err.extensions, http } });
}

export const limitStatusPlugin: Plugin = {
  onResultProcess({ request, result, setResult }) {
    const results = Array.isArray(result) ? result : [result];
    const refused = (err: GraphQLError) => err.extensions?.['code'] === 'GW_QUERY_TOO_LARGE' && err.extensions['http'] !== undefined;
    if (!Array.isArray(result) && answeredAsEventStream(request.headers.get('accept'))) {
      const errors = (result as { errors?: readonly GraphQLError[] }).errors;
      if (!errors?.some(refused)) return;
      // Copies: a parse error (the token limit's) is cached and shared by later requests.
      const streamed = errors.map((err) => (refused(err) ? inStream(err) : err));
      return setResult({ ...result, errors: streamed } as typeof result);
    }
    for (const r of results) {
      for (const err of (r as { errors?: readonly GraphQLError[] }).errors ?? []) {
        const http = err.extensions?.['http'] as { spec?: boolean } | undefined;
        if (refused(err) && http) http.spec = false;
      }
    }
  },
};

/** The per-tenant budget of limits.graphql.costPerSecond (shared by the server's admission check and the plugin). */
export function costBudget(limits: GraphQLLimits): TenantRateLimit {
  return createTenantRateLimit('limits.graphql.costPerSecond', limits.costPerSecond);
}

export function costLimitPlugin(limits: GraphQLLimits, budget: TenantRateLimit = costBudget(limits)): Plugin {
  // Per tenant, cost units per second: a tenant's expensive queries are refused before they run,
  // so its allowed load on DuckDB and the event loop stays what the operator granted.
  const check = async (args: { schema: GraphQLSchema; document: DocumentNode; operationName?: string | null; variableValues?: unknown; contextValue: unknown }) => {
    const cost = queryCost(args.schema, args.document, args.operationName, args.variableValues as Record<string, unknown> | undefined, limits.defaultListSize);
    if (cost > limits.maxCost) {
      // queryCost stops counting at MAX_SAFE_INTEGER (fragments spread in fan-out reach 2ⁿ).
      const shown = cost >= Number.MAX_SAFE_INTEGER ? `at least ${Number.MAX_SAFE_INTEGER}` : String(cost);
      return tooLarge(
        `query cost of ${shown} exceeds limits.graphql.maxCost of ${limits.maxCost} (each field costs the product of the list sizes above it; lower first/limit or nest less)`,
      );
    }
    const tenant = (args.contextValue as { principal?: { tenant: string } }).principal?.tenant;
    if (tenant === undefined || budget.perSecond <= 0) return undefined;
    try {
      await budget.charge(tenant, cost);
      return undefined;
    } catch (err) {
      if (!(err instanceof RateLimitedError)) throw err;
      return new GatewayError('GW_RATE_LIMITED', `${err.message} (this query costs ${cost})`, {
        retryAfterSeconds: err.retryAfterSeconds,
        http: { status: 429, headers: { 'retry-after': String(err.retryAfterSeconds) } },
      });
    }
  };
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const err = await check(args);
      if (err) setResultAndStopExecution({ errors: [err] });
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const err = await check(args);
      if (err) setResultAndStopExecution({ errors: [err] });
    },
  };
}

/** Marks the abort reason of a request whose deadline passed. */
export class DeadlineError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`the request deadline of ${timeoutMs} ms (limits.graphql.timeoutMs) passed`);
    this.name = 'DeadlineError';
  }
}

/** When the deadline passed, the interrupted queries' errors become one GW_TIMEOUT naming the limit. */
export const deadlinePlugin: Plugin = {
  onExecute: () => ({
    onExecuteDone: ({ args, result, setResult }) => {
      const signal = (args.contextValue as { requestSignal?: AbortSignal }).requestSignal;
      if (!signal?.aborted || !(signal.reason instanceof DeadlineError) || Symbol.asyncIterator in result) return;
      setResult({ data: result.data ?? null, errors: [new GatewayError('GW_TIMEOUT', `${signal.reason.message}; running queries were interrupted`)] });
    },
  }),
};
