// Semantic search queries: argument checks, then the SemanticSearch service; hits are resolved to
// their span, log and trace through the per-request loaders (so `trace { logs }` batches as usual).
import type { SpanRecord } from '../src/model/telemetry.ts';
import { hasScope } from '../src/auth/types.ts';
import { GatewayError } from '../src/errors.ts';
import type { StoredLogRecord } from '../src/stores/types.ts';
import type { SearchFilter, SearchHit, SearchResult, SearchSignal, SemanticSearch, SearchIndexStatus } from '../src/search/types.ts';
import { argumentError, checkTimeRange, limitArg, spanIdArg, traceIdArg } from './args.ts';
import { callStoreNoting } from './call-store.ts';
import type { GraphQLContext } from './context.ts';
import { getLog } from './logs.ts';
import type { TraceModel } from './models.ts';
import { loadSpan, loadTrace } from './traces.ts';

export const MAX_SEARCH_LIMIT = 100;
export const MAX_SEARCH_TEXT = 2000;

export interface SearchFilterInput {
  service?: string[] | null;
  telemetrySource?: string[] | null;
  from?: bigint | null;
  to?: bigint | null;
}

export interface SimilarToInput {
  spanId?: string | null;
  traceId?: string | null;
  logId?: string | null;
}

function service(ctx: GraphQLContext): SemanticSearch {
  if (!ctx.search) throw new GatewayError('GW_BACKEND_UNAVAILABLE', 'semantic search is disabled on this gateway (search.enabled: false)', { backend: 'search' });
  return ctx.search;
}

function toFilter(input: SearchFilterInput | null | undefined): SearchFilter {
  const f: SearchFilter = {};
  if (input?.service?.length) f.service = input.service;
  if (input?.telemetrySource?.length) f.telemetrySource = input.telemetrySource;
  if (input?.from != null || input?.to != null) {
    f.timeRange = checkTimeRange({ ...(input.from != null && { from: input.from }), ...(input.to != null && { to: input.to }) }, 'filter');
  }
  return f;
}

function signalsArg(signals: readonly SearchSignal[] | null | undefined, fallback: SearchSignal[]): SearchSignal[] {
  if (signals == null) return fallback;
  if (signals.length === 0) throw argumentError('signals must name at least one of SPAN, LOG, TRACE, EXCEPTION');
  return [...new Set(signals)];
}

export function search(
  ctx: GraphQLContext,
  args: { text: string; signals?: SearchSignal[] | null; filter?: SearchFilterInput | null; limit?: number | null; exact?: boolean | null },
): Promise<SearchResult> {
  const text = args.text.trim();
  if (text === '') throw argumentError('text must not be empty');
  if (text.length > MAX_SEARCH_TEXT) throw argumentError(`text must be at most ${MAX_SEARCH_TEXT} characters, got ${text.length}`);
  const req = {
    text,
    signals: signalsArg(args.signals, ['SPAN', 'LOG']),
    filter: toFilter(args.filter),
    limit: limitArg('limit', args.limit, 10, MAX_SEARCH_LIMIT),
    exact: args.exact ?? false,
  };
  const svc = service(ctx);
  return callStoreNoting(ctx, () => svc.search(ctx.tenant, req));
}

export function similar(
  ctx: GraphQLContext,
  args: { to: SimilarToInput; signals?: SearchSignal[] | null; filter?: SearchFilterInput | null; limit?: number | null },
): Promise<SearchResult> {
  const given = (['spanId', 'traceId', 'logId'] as const).filter((k) => args.to[k] != null);
  if (given.length !== 1) throw argumentError(`to: give exactly one of spanId, traceId, logId (got ${given.length ? given.join(', ') : 'none'})`);
  const to =
    args.to.spanId != null
      ? { spanId: spanIdArg(args.to.spanId, 'to.spanId') }
      : args.to.traceId != null
        ? { traceId: traceIdArg(args.to.traceId, 'to.traceId') }
        : { logId: args.to.logId! };
  const req = {
    to,
    ...(args.signals != null && { signals: signalsArg(args.signals, []) }),
    filter: toFilter(args.filter),
    limit: limitArg('limit', args.limit, 10, MAX_SEARCH_LIMIT),
  };
  const svc = service(ctx);
  return callStoreNoting(ctx, () => svc.similar(ctx.tenant, req));
}

/** What a caller sees of the indexer: gateway-wide text counts only with the admin scope. */
export type VisibleSearchIndexStatus = Omit<SearchIndexStatus, 'embedded' | 'reembedded' | 'cacheHits' | 'annSize'> & {
  embedded: number | null;
  reembedded: number | null;
  cacheHits: number | null;
  annSize: number | null;
};

export function searchIndexStatus(ctx: GraphQLContext): VisibleSearchIndexStatus | null {
  const status = ctx.search?.status(ctx.tenant);
  if (!status) return null;
  // Texts are embedded once for all tenants, so these counts move with other tenants' data (and
  // whether one's own text was "new" would tell that another tenant sent it): as /metrics, the
  // operator's metrics scope only.
  if (ctx.principal && hasScope(ctx.principal, 'metrics')) return status;
  return { ...status, embedded: null, reembedded: null, cacheHits: null, annSize: null };
}

export function hitSpan(ctx: GraphQLContext, hit: SearchHit): Promise<SpanRecord | null> {
  if (hit.kind === 'LOG' || !hit.traceId || !hit.spanId || hit.logId) return Promise.resolve(null);
  return loadSpan(ctx, hit.traceId, hit.spanId);
}

export function hitLog(ctx: GraphQLContext, hit: SearchHit): Promise<StoredLogRecord | null> {
  return hit.logId ? getLog(ctx, hit.logId) : Promise.resolve(null);
}

export function hitTrace(ctx: GraphQLContext, hit: SearchHit): Promise<TraceModel | null> {
  return hit.traceId ? loadTrace(ctx, hit.traceId) : Promise.resolve(null);
}
