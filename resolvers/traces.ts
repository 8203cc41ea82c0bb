// Trace and span queries, and the fields that walk a trace (parent, children, root).
import { StatusCode, type SpanRecord } from '../src/model/telemetry.ts';
import { serviceName } from '../src/model/values.ts';
import { fromStoreError } from '../src/errors.ts';
import { searchCursor, searchNowOf } from '../src/stores/page-cursor.ts';
import type { Page, PageRequest, QueryNotes, SpanPart, TelemetryFilter, TraceSummary } from '../src/stores/types.ts';
import { spanEnd, traceRoot } from '../src/stores/span-order.ts';
import { limitArg, nowNs, spanIdArg, traceIdArg } from './args.ts';
import { callStoreNoting } from './call-store.ts';
import type { GraphQLContext } from './context.ts';
import { toSearchFilter, toStoreFilter, type FilterSignal, type TelemetryFilterInput } from './filter.ts';
import type { ConnectionModel, TraceModel } from './models.ts';

// Span.duration's rule, kept with the other trace rules every store reads by.
export { spanDuration } from '../src/stores/span-order.ts';

export interface SearchArgs {
  filter?: TelemetryFilterInput | null;
}

export interface PageArgs extends SearchArgs {
  first?: number | null;
  after?: string | null;
  order?: PageRequest['order'] | null;
}

/** The trace with this ID, or null when the tenant has none (no error: "not found" is an answer). */
export async function loadTrace(ctx: GraphQLContext, traceId: string): Promise<TraceModel | null> {
  if (!traceId) return null;
  const spans = await ctx.loaders.trace.load(traceId);
  return spans.length > 0 ? { traceId, spans } : null;
}

/** A span referred to by a log, link or exemplar; null when the reference is empty or unknown. */
export async function loadSpan(ctx: GraphQLContext, traceId: string, spanId: string): Promise<SpanRecord | null> {
  if (!traceId || !spanId) return null;
  return ctx.loaders.span.load({ traceId, spanId });
}

/**
 * The `trace` query. With `parts` (what the selection reads, span-selection.ts) the spans are read
 * with only those parts: partial spans, which no other loader sees.
 */
export async function getTrace(ctx: GraphQLContext, traceId: string, parts: ReadonlySet<SpanPart> | null = null): Promise<TraceModel | null> {
  const id = traceIdArg(traceId);
  if (!parts) return loadTrace(ctx, id);
  const spans = await ctx.loaders.traceParts.load({ traceId: id, parts });
  return spans.length > 0 ? { traceId: id, spans } : null;
}

export function getSpan(ctx: GraphQLContext, traceId: string, spanId: string): Promise<SpanRecord | null> {
  return ctx.loaders.span.load({ traceId: traceIdArg(traceId), spanId: spanIdArg(spanId) });
}

export async function searchTraces(ctx: GraphQLContext, args: SearchArgs & { limit?: number | null }): Promise<TraceSummary[]> {
  const limit = limitArg('limit', args.limit, 20);
  const filter = toStoreFilter(args.filter, 'traces');
  return callStoreNoting(ctx, () => ctx.stores.traces.searchTraces(ctx.tenant, filter, limit));
}

/**
 * One page of a `spans` or `logs` search read by `read`. A range that depends on now (the default
 * hour, or `now-1h`) is resolved against the instant the search's first page took as now, which its
 * cursors carry (page-cursor.ts searchCursor), so every page of one search covers the same range: a
 * page after a cursor of its own search never misses records that were in range when the page
 * before said hasNextPage. Other ranges do not depend on the time, and their cursors carry none.
 */
export async function searchPage<T>(
  ctx: GraphQLContext,
  args: PageArgs,
  signal: Exclude<FilterSignal, 'traces'>,
  backend: string,
  read: (filter: TelemetryFilter, page: PageRequest) => Promise<Page<T> & QueryNotes>,
): Promise<ConnectionModel<T>> {
  const first = limitArg('first', args.first, 50);
  let now: bigint;
  try {
    now = searchNowOf(args.after, backend) ?? nowNs();
  } catch (err) {
    throw fromStoreError(err);
  }
  const { filter, movesWithNow } = toSearchFilter(args.filter, signal, now);
  const page = await callStoreNoting(ctx, () =>
    read(filter, {
      first,
      // An empty cursor is the first page: clients that template their cursor send "" for it.
      ...(args.after && { after: args.after }),
      ...(args.order != null && { order: args.order }),
    }),
  );
  if (!movesWithNow) return { ...page, afterCursor: Boolean(args.after) };
  return {
    ...page,
    items: page.items.map(({ node, cursor }) => ({ node, cursor: searchCursor(cursor, now) })),
    endCursor: page.endCursor === null ? null : searchCursor(page.endCursor, now),
    afterCursor: Boolean(args.after),
  };
}

export async function searchSpans(ctx: GraphQLContext, args: PageArgs): Promise<ConnectionModel<SpanRecord>> {
  const store = ctx.stores.traces;
  const page = await searchPage(ctx, args, 'spans', store.backend, (filter, request) => store.searchSpans(ctx.tenant, filter, request));
  for (const { node } of page.items) ctx.loaders.span.prime({ traceId: node.traceId, spanId: node.spanId }, node);
  return page;
}

interface TraceIndex {
  byId: Map<string, SpanRecord>;
  children: Map<string, SpanRecord[]>;
}

// Keyed by the loader's cached span array, so each trace is indexed once per request.
const indexes = new WeakMap<SpanRecord[], TraceIndex>();

function indexOf(spans: SpanRecord[]): TraceIndex {
  let index = indexes.get(spans);
  if (!index) {
    index = { byId: new Map(), children: new Map() };
    for (const s of spans) {
      index.byId.set(s.spanId, s);
      // A span naming itself as parent (malformed) is not its own child: a client walking children would never stop.
      if (s.parentSpanId && s.parentSpanId !== s.spanId) {
        const siblings = index.children.get(s.parentSpanId);
        if (siblings) siblings.push(s);
        else index.children.set(s.parentSpanId, [s]);
      }
    }
    indexes.set(spans, index);
  }
  return index;
}

export async function spanParent(ctx: GraphQLContext, span: SpanRecord): Promise<SpanRecord | null> {
  if (!span.parentSpanId || span.parentSpanId === span.spanId) return null;
  const spans = await ctx.loaders.trace.load(span.traceId);
  return indexOf(spans).byId.get(span.parentSpanId) ?? null;
}

export async function spanChildren(ctx: GraphQLContext, span: SpanRecord): Promise<SpanRecord[]> {
  const spans = await ctx.loaders.trace.load(span.traceId);
  return indexOf(spans).children.get(span.spanId) ?? [];
}

export function traceSpan(trace: TraceModel, spanId: string): SpanRecord | null {
  return indexOf(trace.spans).byId.get(spanIdArg(spanId)) ?? null;
}

export function rootSpan(trace: TraceModel): SpanRecord | null {
  return traceRoot(trace.spans) ?? null;
}

export function traceStart(trace: TraceModel): bigint {
  return trace.spans.reduce((min, s) => (s.startTimeUnixNano < min ? s.startTimeUnixNano : min), trace.spans[0]!.startTimeUnixNano);
}

export function traceEnd(trace: TraceModel): bigint {
  return trace.spans.reduce((max, s) => (spanEnd(s) > max ? spanEnd(s) : max), spanEnd(trace.spans[0]!));
}

export function traceServices(trace: TraceModel): string[] {
  return [...new Set(trace.spans.map((s) => serviceName(s.resource)))].sort();
}

export function traceErrorCount(trace: TraceModel): number {
  return trace.spans.filter((s) => s.status.code === StatusCode.ERROR).length;
}
