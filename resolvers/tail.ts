// Live tails: compile the filter once, subscribe to the tenant's topic on the bus, replay stored
// matches first when `since` is given, and turn bus events into the GraphQL event models.
// Everything that can fail (filter, limits, the replay's store reads) fails here, at subscribe
// time, before any event flows.
import { randomBytes } from 'node:crypto';
import { GatewayError, fromStoreError } from '../src/errors.ts';
import { compileLogFilter, compileSpanFilter, lookupAttribute } from '../src/stores/filter-match.ts';
import type { LogRecord, MetricPoint, SpanRecord } from '../src/model/telemetry.ts';
import { SCOPE_LABEL_KEYS } from '../src/model/values.ts';
import { BACKEND as EMBEDDED } from '../src/stores/duckdb/errors.ts';
import { asLivePoint, familyCandidates, namedAsPrometheusReads } from '../src/stores/prometheus/live-points.ts';
import { StoreError, type MetricStore, type SpanPart, type StoredLogRecord, type TelemetryFilter } from '../src/stores/types.ts';
import { TailCostError, TailLimitError, type TailIndexKey, type TailSubscription } from '../src/tail/bus.ts';
import type { TailInterest } from '../src/tail/index-fields.ts';
import { logIdentity, metricPointIdentity, spanIdentity, type RecordIdentity } from '../src/tail/identity.ts';
import { liveOnly, replayThenLive, ReplayLimitError, type ReplayEvent, type ReplaySubscription } from '../src/tail/replay.ts';
import type { AssembledTrace, TailTopic, TailTopics } from '../src/tail/topics.ts';
import type { GraphQLContext } from './context.ts';
import type { TailEventStream } from '../src/tail/push.ts';
import { createLoaders, type Loaders } from './loaders.ts';
import { labelsArg } from './metrics.ts';
import type { TraceModel } from './models.ts';
import { toTailFilter, type TelemetryFilterInput } from './filter.ts';

export type SpanTailEventModel = ReplayEvent<SpanRecord>;
export type LogTailEventModel = ReplayEvent<StoredLogRecord>;
export type MetricTailEventModel = ReplayEvent<MetricPoint>;
export interface TraceTailEventModel {
  trace: TraceModel;
  reason: AssembledTrace['reason'];
  droppedSpans: number;
  dropped: number;
  replayed: boolean;
}

/** Prefix of the synthetic IDs of live log records (see LogTailEvent.log in the schema). */
export const TAIL_LOG_ID_PREFIX = 'tail:';

/** Replay pages: the stores' largest page. */
const REPLAY_PAGE = 1000;

interface TailArgs {
  filter?: TelemetryFilterInput | null;
  since?: bigint | null;
}

function compile<P>(build: () => P): P {
  try {
    return build();
  } catch (err) {
    throw fromStoreError(err);
  }
}

function limitError(err: unknown): unknown {
  if (err instanceof TailLimitError || err instanceof ReplayLimitError || err instanceof TailCostError) {
    return new GatewayError('GW_LIMIT_EXCEEDED', err.message, { limit: err.limit, value: err.value });
  }
  return fromStoreError(err);
}

/**
 * The most selective equality term a filter requires at its top level (one trace ID, one span or
 * event name, one service), so the bus can route by it instead of testing every subscription.
 */
export function indexKeyOf(filter: TelemetryFilter | undefined): TailIndexKey | undefined {
  if (filter?.traceId?.length === 1) return { field: 'traceId', value: String(filter.traceId[0]).toLowerCase() };
  if (filter?.name?.length === 1) return { field: 'name', value: filter.name[0]! };
  if (filter?.service?.length === 1) return { field: 'service', value: filter.service[0]! };
  return undefined;
}

/**
 * Without an index key, the values of the first of those fields the filter lists several of at its
 * top level (`service: [a, b]`): every record it matches has one, so another replica need send no
 * other (SubscribeOptions.wants).
 */
export function wantsOf(filter: TelemetryFilter | undefined): TailInterest | undefined {
  if ((filter?.traceId?.length ?? 0) > 1) return { traceId: filter!.traceId!.map((id) => String(id).toLowerCase()) };
  if ((filter?.name?.length ?? 0) > 1) return { name: filter!.name! };
  if ((filter?.service?.length ?? 0) > 1) return { service: filter!.service! };
  return undefined;
}

function open<T extends TailTopic>(
  ctx: GraphQLContext,
  topic: T,
  predicate: (r: TailTopics[T]) => boolean,
  filter?: TelemetryFilter,
): TailSubscription<TailTopics[T]> {
  const index = indexKeyOf(filter);
  const wants = index ? undefined : wantsOf(filter);
  try {
    return ctx.tail.bus.subscribe(ctx.tenant, topic, predicate, { connection: ctx.tail.connection, ...(index && { index }), ...(wants && { wants }) });
  } catch (err) {
    throw limitError(err);
  }
}

export function checkSince(since: bigint | null | undefined): bigint | undefined {
  if (since == null) return undefined;
  if (since < 0n) throw new GatewayError('GW_BAD_TIME_RANGE', `since must not be before 1970 (actual: ${since} ns)`);
  return since;
}

/** Subscribes, then (with `since`) reads the replay; the store's or the limit's error fails the subscription. */
export async function withReplay<T extends TailTopic>(
  ctx: GraphQLContext,
  topic: T,
  predicate: (r: TailTopics[T]) => boolean,
  since: bigint | undefined,
  replay: (after: string | undefined) => Promise<{ records: TailTopics[T][]; next: string | null }>,
  identity: RecordIdentity<TailTopics[T]>,
  opts: {
    filter?: TelemetryFilter;
    /** Resolves once what was published before the subscription opened is readable; by default the bus's (ingest batches written). */
    settled?: () => Promise<void>;
  } = {},
): Promise<ReplaySubscription<TailTopics[T]>> {
  const live = open(ctx, topic, predicate, opts.filter);
  if (since === undefined) return liveOnly(live);
  try {
    return await replayThenLive({
      live,
      settled: opts.settled ?? (() => ctx.tail.bus.settled(topic)),
      readPage: replay,
      accept: predicate,
      identity,
      maxReplay: ctx.tail.bus.limits.maxReplay,
    });
  } catch (err) {
    throw limitError(err);
  }
}

/** The subscription with each event mapped; return() closes it even before the first next(). Push delivery (poll/onReady) maps too. */
function mapEvents<A, B>(sub: AsyncIterator<A> & Pick<TailEventStream<A>, 'close' | 'poll' | 'onReady'>, map: (e: A) => B): TailEventStream<B> {
  const it: TailEventStream<B> = {
    // A tail the bus ended (tail.matchBudgetMs) fails with the client-facing error.
    next: () =>
      sub.next().then(
        (r) => (r.done ? { value: undefined, done: true } : { value: map(r.value), done: false }),
        (err: unknown) => Promise.reject(limitError(err)),
      ),
    return: () => {
      sub.close();
      return Promise.resolve({ value: undefined, done: true });
    },
    poll: () => {
      let e: A | undefined;
      try {
        e = sub.poll();
      } catch (err) {
        throw limitError(err);
      }
      return e === undefined ? undefined : map(e);
    },
    onReady: (ready) => sub.onReady(ready),
    close: () => sub.close(),
    [Symbol.asyncIterator]: () => it,
  };
  return it;
}

/**
 * A subscription's context lives as long as it does, so each event gets fresh DataLoaders (as a
 * request would): fields like Span.parent or LogRecord.span see current data, and the loader
 * caches do not grow for the life of the subscription. Returns the function that starts a new
 * event; the accessor is defined once per subscription, not once per event.
 */
function freshLoaders(ctx: GraphQLContext): () => void {
  // Made on first use: most tail selections read only the record, and a thousand subscribers
  // would otherwise build seven DataLoaders per delivered event.
  let loaders: Loaders | undefined;
  Object.defineProperty(ctx, 'loaders', {
    configurable: true,
    enumerable: true,
    get: () => (loaders ??= createLoaders(ctx.tenant, ctx.stores)),
    set: (v: Loaders) => {
      loaders = v;
    },
  });
  return () => {
    loaders = undefined;
  };
}

const since = (filter: TelemetryFilter, from: bigint): TelemetryFilter => ({ ...filter, timeRange: { from } });

export async function tailSpans(ctx: GraphQLContext, args: TailArgs): Promise<AsyncIterable<SpanTailEventModel>> {
  const filter = compile(() => toTailFilter(args.filter, 'spans'));
  const predicate = compile(() => compileSpanFilter(filter));
  const from = checkSince(args.since);
  const sub = await withReplay(
    ctx,
    'spans',
    predicate,
    from,
    async (after) => {
      const page = await (ctx.stores.replay?.traces ?? ctx.stores.traces).searchSpans(ctx.tenant, since(filter, from!), { first: REPLAY_PAGE, order: 'OLDEST_FIRST', ...(after && { after }) });
      return { records: page.items.map((i) => i.node), next: page.hasNextPage ? page.endCursor : null };
    },
    spanIdentity,
    { filter },
  );
  const nextEvent = freshLoaders(ctx);
  return mapEvents(sub, (e) => {
    nextEvent();
    return e;
  });
}

export async function tailLogs(ctx: GraphQLContext, args: TailArgs): Promise<AsyncIterable<LogTailEventModel>> {
  const filter = compile(() => toTailFilter(args.filter, 'logs'));
  const predicate = compile(() => compileLogFilter(filter));
  const from = checkSince(args.since);
  const sub = await withReplay(
    ctx,
    'logs',
    predicate,
    from,
    async (after) => {
      const page = await ctx.stores.logs.searchLogs(ctx.tenant, since(filter, from!), { first: REPLAY_PAGE, order: 'OLDEST_FIRST', ...(after && { after }) });
      return { records: page.items.map((i) => i.node), next: page.hasNextPage ? page.endCursor : null };
    },
    logIdentity,
    { filter },
  );
  const nextEvent = freshLoaders(ctx);
  // Live IDs count this subscription's records under a random name: a process-wide counter would
  // tell a tenant how many records other tenants' tails were sent in between.
  const liveIdPrefix = `${TAIL_LOG_ID_PREFIX}${randomBytes(6).toString('base64url')}:`;
  let liveCount = 0;
  return mapEvents(sub, (e: ReplayEvent<LogRecord>) => {
    nextEvent();
    // Replayed records carry their stored ID; live ones are not stored yet.
    const stored = (e.record as Partial<StoredLogRecord>).id;
    const id = e.replayed && stored !== undefined ? stored : `${liveIdPrefix}${++liveCount}`;
    return { record: { ...e.record, id }, dropped: e.dropped, replayed: e.replayed };
  });
}

/** Trace IDs per getTraces call of a tailTraces replay. */
const REPLAY_TRACES_PER_READ = 100;
const NO_SPAN_PARTS: ReadonlySet<SpanPart> = new Set();

/** A traceId is one trace: a live trace the replay sent already is its copy. */
const traceIdentity: RecordIdentity<AssembledTrace> = { key: (t) => t.traceId };

export async function tailTraces(ctx: GraphQLContext, args: TailArgs): Promise<AsyncIterable<TraceTailEventModel>> {
  const filter = compile(() => toTailFilter(args.filter, 'spans'));
  // A trace matches when at least one of its spans does, as in the trace search.
  const spanMatches = compile(() => compileSpanFilter(filter));
  const from = checkSince(args.since);
  // A trace the replay sent is not sent again live, as spans arriving after their trace was sent are not.
  const replayed = new Set<string>();
  const live = open(ctx, 'traces', (t) => !replayed.has(t.traceId) && t.spans.some(spanMatches));
  let sub: ReplaySubscription<AssembledTrace> = liveOnly(live);
  if (from !== undefined) {
    const store = ctx.stores.replay?.traces ?? ctx.stores.traces;
    const maxReplay = ctx.tail.bus.limits.maxReplay;
    // Trace IDs in the order of their first matching span, found page by page of matching spans
    // (readPage keeps its place here, not in the replay's cursor).
    let spanCursor: string | undefined;
    let spansDone = false;
    let spansHeld = 0;
    const ids: string[] = [];
    const readPage = async (): Promise<{ records: AssembledTrace[]; next: string | null }> => {
      const records: AssembledTrace[] = [];
      // Until some trace is still stored (retention may have deleted a batch's) or nothing is left.
      while (records.length === 0 && !(spansDone && ids.length === 0)) await readTraces(records);
      return { records, next: spansDone && ids.length === 0 ? null : 'more' };
    };
    const tooManySpans = () => {
      const value = ctx.maxTraceSpans;
      const message = `the traces that match since hold more than ${value} spans (limits.graphql.maxTraceSpans = ${value}); use a later since or a narrower filter`;
      return new GatewayError('GW_LIMIT_EXCEEDED', message, { limit: 'limits.graphql.maxTraceSpans', value });
    };
    // Matching spans are spans of the traces replayed: past the limit, no trace need be read to know.
    let matchingSpans = 0;
    const readTraces = async (records: AssembledTrace[]): Promise<void> => {
      while (!spansDone && ids.length < REPLAY_TRACES_PER_READ) {
        const page = await store.searchSpans(ctx.tenant, since(filter, from), { first: REPLAY_PAGE, order: 'OLDEST_FIRST', ...(spanCursor && { after: spanCursor }) });
        for (const { node } of page.items) {
          if (!spanMatches(node)) continue;
          if (++matchingSpans > ctx.maxTraceSpans) throw tooManySpans();
          if (replayed.has(node.traceId)) continue;
          if (replayed.size === maxReplay) throw new ReplayLimitError(maxReplay);
          replayed.add(node.traceId);
          ids.push(node.traceId);
        }
        spansDone = !page.hasNextPage || page.items.length === 0;
        spanCursor = page.endCursor ?? undefined;
      }
      const batch = ids.splice(0, REPLAY_TRACES_PER_READ);
      if (batch.length === 0) return;
      // Counted on the spans' keys first (no attributes, events, links, resource or scope), so a
      // trace too large is refused before it is read whole.
      for (const spans of await store.getTraces(ctx.tenant, batch, NO_SPAN_PARTS)) {
        spansHeld += spans.length;
        if (spansHeld > ctx.maxTraceSpans) throw tooManySpans();
      }
      (await store.getTraces(ctx.tenant, batch)).forEach((spans, i) => {
        if (spans.length > 0) records.push({ tenant: ctx.tenant, traceId: batch[i]!, spans, reason: 'STORED', droppedSpans: 0 });
      });
    };
    try {
      sub = await replayThenLive({ live, settled: () => ctx.tail.bus.settled('traces'), readPage, identity: traceIdentity, maxReplay });
    } catch (err) {
      throw limitError(err);
    }
  }
  const nextEvent = freshLoaders(ctx);
  return mapEvents(sub, (e: ReplayEvent<AssembledTrace>) => {
    nextEvent();
    return {
      trace: { traceId: e.record.traceId, spans: e.record.spans },
      reason: e.record.reason,
      droppedSpans: e.record.droppedSpans,
      dropped: e.dropped,
      replayed: e.replayed,
    };
  });
}

/** The scope's name or version when `key` is its label and the scope has one (it wins over an attribute of that name, as in the stored series). */
function scopeLabel(m: MetricPoint, key: string): string | undefined {
  const value = key === SCOPE_LABEL_KEYS.name ? m.scope.name : key === SCOPE_LABEL_KEYS.version ? m.scope.version : '';
  return value === '' ? undefined : value;
}

/** Whether the point has every label, as metricPoints and metricSeries match them: the scope's (otel.scope.name/version), a point attribute or, failing that, a resource attribute. */
export function matchLabels(labels: Record<string, string>): (m: MetricPoint) => boolean {
  const entries = Object.entries(labels);
  return (m) => entries.every(([k, v]) => (scopeLabel(m, k) ?? lookupAttribute(m.point.attributes, m.resource.attributes, k)) === v);
}

/**
 * `stream` with `notice` sent first: an event that reaches the client as an error in place of a
 * record (the field's resolve throws it: schema/tail.ts), after which the stream goes on. This is
 * how a tail tells its subscriber what it could not send; `teleql tail` prints such an event and
 * goes on.
 */
function noticeFirst<E>(notice: GatewayError, stream: TailEventStream<E>): TailEventStream<E | GatewayError> {
  let pending: GatewayError | undefined = notice;
  const take = (): GatewayError | undefined => {
    const e = pending;
    pending = undefined;
    return e;
  };
  const it: TailEventStream<E | GatewayError> = {
    next: () => {
      const e = take();
      return e === undefined ? stream.next() : Promise.resolve({ value: e, done: false });
    },
    poll: () => take() ?? stream.poll(),
    onReady: (ready) => {
      stream.onReady(ready);
      if (ready && pending !== undefined) queueMicrotask(() => ready(false));
    },
    return: () => {
      pending = undefined;
      stream.close();
      return Promise.resolve({ value: undefined, done: true });
    },
    close: () => {
      pending = undefined;
      stream.close();
    },
    [Symbol.asyncIterator]: () => it,
  };
  return it;
}

export async function tailMetrics(
  ctx: GraphQLContext,
  args: { name: string; labels?: unknown; since?: bigint | null },
): Promise<AsyncIterable<MetricTailEventModel | GatewayError>> {
  if (args.name === '') throw new GatewayError('GW_BAD_ARGUMENT', 'name must not be empty');
  const labels = labelsArg(args.labels);
  const hasLabels = matchLabels(labels ?? {});
  // The embedded store keeps points as received; Prometheus, the other metrics read source, keeps
  // a family name and labels only. Its reads take the OTel name or the family's, and so does the
  // tail then, live and replayed alike.
  const name = args.name;
  const readsAsReceived = ctx.stores.metrics.backend === EMBEDDED;
  const named = readsAsReceived ? (m: MetricPoint) => m.metric.name === name : namedAsPrometheusReads(name);
  const predicate = (m: MetricPoint) => named(m) && hasLabels(m);
  const from = checkSince(args.since);
  const maxReplay = ctx.tail.bus.limits.maxReplay;
  const store = ctx.stores.replay?.metrics ?? ctx.stores.metrics;
  const replaysAsReceived = store.backend === EMBEDDED;
  let notReplayed: GatewayError | undefined;
  const sub = await withReplay(
    ctx,
    'metrics',
    predicate,
    from,
    async () => {
      // The metric store reads the matching points newest first: one more than a replay may send
      // tells "too many" from "exactly the limit". Sent oldest first.
      let points: MetricPoint[];
      try {
        points = replaysAsReceived ? await storedPoints(ctx.tenant, store, readsAsReceived ? [name] : familyCandidates(name, await store.metricNames(ctx.tenant, { from: from! })), from!, maxReplay, labels, predicate) : await store.points(ctx.tenant, name, { from: from! }, maxReplay + 1, labels);
      } catch (err) {
        // What Prometheus cannot answer (raw points of a histogram or summary; a label value its
        // parser refuses) leaves the live part to start alone, saying so.
        if (replaysAsReceived || !(err instanceof StoreError) || err.code !== 'BAD_QUERY') throw err;
        notReplayed = new GatewayError('GW_NOT_SUPPORTED', `since: no stored point was replayed (${err.message}); live points follow`, { backend: err.backend });
        return { records: [], next: null };
      }
      if (points.length > maxReplay) throw new ReplayLimitError(maxReplay);
      const replayed = replaysAsReceived ? points : points.map((p) => asLivePoint(p, name, labels));
      return { records: replayed.reverse(), next: null };
    },
    metricPointIdentity,
  );
  const nextEvent = freshLoaders(ctx);
  const events = mapEvents(sub, (e) => {
    nextEvent();
    return e;
  });
  return notReplayed ? noticeFirst(notReplayed, events) : events;
}

/**
 * The embedded store's points of the metrics `names` that the tail's own test keeps, newest first,
 * at most `maxReplay + 1` (one more tells "too many"). Named as Prometheus reads (a family such as
 * `items_done_total`), `names` are each stored metric whose words begin it (`items.done`): a page of
 * one may hold its points of another unit or type, which the test drops, and older points of the
 * family behind it; then the replay fails as too long rather than leave those out unsaid.
 */
async function storedPoints(
  tenant: string,
  store: MetricStore,
  names: readonly string[],
  from: bigint,
  maxReplay: number,
  labels: Record<string, string> | undefined,
  predicate: (m: MetricPoint) => boolean,
): Promise<MetricPoint[]> {
  const points: MetricPoint[] = [];
  for (const n of names) {
    const page = await store.points(tenant, n, { from }, maxReplay + 1, labels);
    const kept = page.filter(predicate);
    if (page.length > maxReplay && kept.length < page.length) throw new ReplayLimitError(maxReplay);
    points.push(...kept);
  }
  if (names.length > 1) points.sort((a, b) => (a.point.timeUnixNano === b.point.timeUnixNano ? 0 : a.point.timeUnixNano > b.point.timeUnixNano ? -1 : 1));
  return points.slice(0, maxReplay + 1);
}
