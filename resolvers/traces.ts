// Trace and span queries, and the fields that walk a trace (parent, children, root).
import { StatusCode, type SpanRecord } from '../src/model/telemetry.ts';
import { serviceName } from '../src/model/values.ts';
import { GatewayError, fromStoreError } from '../src/errors.ts';
import { searchCursor, searchNowOf } from '../src/stores/page-cursor.ts';
import type { Page, PageRequest, QueryNotes, SpanPart, TelemetryFilter, TraceSummary } from '../src/stores/types.ts';
import { currentQuerySignal } from '../src/stores/query-signal.ts';
import { spanEnd, traceRoot } from '../src/stores/span-order.ts';
import { limitArg, nowNs, spanIdArg, traceIdArg } from './args.ts';
import { callStoreNoting } from './call-store.ts';
import type { GraphQLContext } from './context.ts';
import { toSearchFilter, toStoreFilter, type FilterSignal, type TelemetryFilterInput } from './filter.ts';
import type { Loaders } from './loaders.ts';
import type { ConnectionModel, TraceModel, TraceSpanAllowance } from './models.ts';

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

/**
 * The spans that Trace.spans and Span.children return in one request (ctx.maxTraceSpans, limits.graphql.maxTraceSpans):
 * Tempo caps a trace it returns (max_bytes_per_trace) for the same reason: 15 aliases of one trace
 * of 100,000 spans answered 146 MB and held the event loop ~10 s (QA round 33). Counted per
 * request, as one request may ask for many traces or one trace many times; a trace's spanCount,
 * times, errorCount and services still count every span, and `spans(filter: { traceId })` pages
 * through any trace.
 */
// Keyed by the request's loaders: made fresh per request and per subscription event (tail.ts,
// alerts.ts), so one allowance is one execution's, and it is dropped with them.
const allowances = new WeakMap<Loaders, TraceSpanAllowance>();

function spanAllowanceOf(ctx: GraphQLContext): TraceSpanAllowance {
  let allowance = allowances.get(ctx.loaders);
  if (!allowance) allowances.set(ctx.loaders, (allowance = { left: ctx.maxTraceSpans, noted: false }));
  return allowance;
}

/**
 * Ends a request's trace work once the request was aborted: its deadline passed (the deadline's
 * GW_TIMEOUT then replaces the answer, src/server/query-limits.ts) or its client went away. A walk is
 * synchronous and cannot see an abort midway, so each trace field checks before it starts: the
 * request stops at the first turn of the event loop after the abort (each store answer is one).
 * Nothing after the store read looked before: a page of trace fields was answered 29 s past a 3 s
 * deadline, and ran on after its client had gone (QA round 33).
 */
function stopIfAborted(): void {
  const signal = currentQuerySignal();
  if (!signal?.aborted) return;
  const why = signal.reason instanceof Error ? signal.reason.message : 'the request was aborted';
  throw new GatewayError('GW_TIMEOUT', `${why}; its remaining trace fields were not computed`);
}

/** The trace with this ID, or null when the tenant has none (no error: "not found" is an answer). */
export async function loadTrace(ctx: GraphQLContext, traceId: string): Promise<TraceModel | null> {
  if (!traceId) return null;
  stopIfAborted();
  const spans = await ctx.loaders.trace.load(traceId);
  return spans.length > 0 ? { traceId, spans, spanAllowance: spanAllowanceOf(ctx) } : null;
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
  stopIfAborted();
  const spans = await ctx.loaders.traceParts.load({ traceId: id, parts });
  return spans.length > 0 ? { traceId: id, spans, spanAllowance: spanAllowanceOf(ctx) } : null;
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

/** What the Trace summary fields report, from one walk of the trace's spans. */
interface TraceFacts {
  start: bigint;
  end: bigint;
  errorCount: number;
  /** service.name of every span, sorted, without duplicates. */
  services: readonly string[];
  root: SpanRecord | undefined;
}

/**
 * What is computed from a trace's spans, each part at most once per spans array. Keyed by the
 * loader's cached array, so once per trace per request, however many spans, logs or aliases ask for
 * the trace: a page of 1,000 spans asking `trace { durationMs errorCount }` walked its 10,000-span
 * trace for every span and field, and held the event loop 14.7 s (QA round 33).
 */
interface TraceDerived {
  index?: TraceIndex;
  facts?: TraceFacts;
}

const derived = new WeakMap<readonly SpanRecord[], TraceDerived>();

function derivedOf(spans: readonly SpanRecord[]): TraceDerived {
  let d = derived.get(spans);
  if (!d) derived.set(spans, (d = {}));
  return d;
}

function indexOf(spans: readonly SpanRecord[]): TraceIndex {
  stopIfAborted();
  const d = derivedOf(spans);
  if (d.index) return d.index;
  const index: TraceIndex = { byId: new Map(), children: new Map() };
  for (const s of spans) {
    index.byId.set(s.spanId, s);
    // A span naming itself as parent (malformed) is not its own child: a client walking children would never stop.
    if (s.parentSpanId && s.parentSpanId !== s.spanId) {
      const siblings = index.children.get(s.parentSpanId);
      if (siblings) siblings.push(s);
      else index.children.set(s.parentSpanId, [s]);
    }
  }
  return (d.index = index);
}

function factsOf(trace: TraceModel): TraceFacts {
  stopIfAborted();
  const d = derivedOf(trace.spans);
  if (d.facts) return d.facts;
  const first = trace.spans[0]!;
  let start = first.startTimeUnixNano;
  let end = spanEnd(first);
  let errorCount = 0;
  const services = new Set<string>();
  for (const s of trace.spans) {
    if (s.startTimeUnixNano < start) start = s.startTimeUnixNano;
    const spanEnds = spanEnd(s);
    if (spanEnds > end) end = spanEnds;
    if (s.status.code === StatusCode.ERROR) errorCount++;
    services.add(serviceName(s.resource));
  }
  return (d.facts = { start, end, errorCount, services: [...services].sort(), root: traceRoot(trace.spans) });
}

export async function spanParent(ctx: GraphQLContext, span: SpanRecord): Promise<SpanRecord | null> {
  if (!span.parentSpanId || span.parentSpanId === span.spanId) return null;
  stopIfAborted();
  const spans = await ctx.loaders.trace.load(span.traceId);
  return indexOf(spans).byId.get(span.parentSpanId) ?? null;
}

/** Span.children: the first `first` (all by default), within the request's allowance as Trace.spans. */
export async function spanChildren(ctx: GraphQLContext, span: SpanRecord, args: { first?: number | null }): Promise<SpanRecord[]> {
  stopIfAborted();
  const spans = await ctx.loaders.trace.load(span.traceId);
  return allowedSpans(ctx, indexOf(spans).children.get(span.spanId) ?? [], args.first, spanAllowanceOf(ctx));
}

/**
 * Trace.spans: the first `first` spans by start time (all by default), within what is left of the
 * request's ctx.maxTraceSpans.
 */
export function traceSpans(ctx: GraphQLContext, trace: TraceModel, args: { first?: number | null }): SpanRecord[] {
  stopIfAborted();
  return allowedSpans(ctx, trace.spans, args.first, trace.spanAllowance ?? { left: ctx.maxTraceSpans, noted: false });
}

/**
 * The first `first` of `spans` (all without it) that `allowance` still lets a request return, taken
 * from it; spans left out by it are named once per request in `extensions.notes`.
 */
function allowedSpans(ctx: GraphQLContext, spans: SpanRecord[], first: number | null | undefined, allowance: TraceSpanAllowance): SpanRecord[] {
  const asked = first == null ? spans.length : limitArg('first', first, ctx.maxTraceSpans, ctx.maxTraceSpans);
  const wanted = Math.min(asked, spans.length);
  const given = Math.min(wanted, allowance.left);
  allowance.left -= given;
  if (given < wanted && !allowance.noted) {
    allowance.noted = true;
    ctx.notes.push(
      `Trace.spans: spans were left out: one request returns at most ${ctx.maxTraceSpans} spans of traces (limits.graphql.maxTraceSpans), all Trace.spans and Span.children fields together ` +
        '(spanCount, errorCount and the times still count every span); page through a trace with spans(filter: { traceId: … })',
    );
  }
  return given === spans.length ? spans : spans.slice(0, given);
}

export function traceSpan(trace: TraceModel, spanId: string): SpanRecord | null {
  return indexOf(trace.spans).byId.get(spanIdArg(spanId)) ?? null;
}

export function rootSpan(trace: TraceModel): SpanRecord | null {
  return factsOf(trace).root ?? null;
}

export function traceStart(trace: TraceModel): bigint {
  return factsOf(trace).start;
}

export function traceEnd(trace: TraceModel): bigint {
  return factsOf(trace).end;
}

export function traceServices(trace: TraceModel): readonly string[] {
  return factsOf(trace).services;
}

export function traceErrorCount(trace: TraceModel): number {
  return factsOf(trace).errorCount;
}
