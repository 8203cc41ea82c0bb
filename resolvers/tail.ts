// Live tails: compile the filter once, subscribe to the tenant's topic on the bus, replay stored
// matches first when `since` is given, and turn bus events into the GraphQL event models.
// Everything that can fail (filter, limits, the replay's store reads) fails here, at subscribe
// time, before any event flows.
import { randomBytes } from 'node:crypto';
import { GatewayError, fromStoreError } from '../src/errors.ts';
import { compileLogFilter, compileSpanFilter, lookupAttribute } from '../src/stores/filter-match.ts';
import type { LogRecord, MetricPoint, SpanRecord } from '../src/model/telemetry.ts';
import { SCOPE_LABEL_KEYS } from '../src/model/values.ts';
import type { StoredLogRecord, TelemetryFilter } from '../src/stores/types.ts';
import { TailLimitError, type TailEvent, type TailIndexKey, type TailSubscription } from '../src/tail/bus.ts';
import { logKey, metricPointKey, spanKey } from '../src/tail/identity.ts';
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
  if (err instanceof TailLimitError || err instanceof ReplayLimitError) {
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

function open<T extends TailTopic>(
  ctx: GraphQLContext,
  topic: T,
  predicate: (r: TailTopics[T]) => boolean,
  filter?: TelemetryFilter,
): TailSubscription<TailTopics[T]> {
  const index = indexKeyOf(filter);
  try {
    return ctx.tail.bus.subscribe(ctx.tenant, topic, predicate, { connection: ctx.tail.connection, ...(index && { index }) });
  } catch (err) {
    throw limitError(err);
  }
}

function checkSince(since: bigint | null | undefined): bigint | undefined {
  if (since == null) return undefined;
  if (since < 0n) throw new GatewayError('GW_BAD_TIME_RANGE', `since must not be before 1970 (actual: ${since} ns)`);
  return since;
}

/** Subscribes, then (with `since`) reads the replay; the store's or the limit's error fails the subscription. */
async function withReplay<T extends TailTopic>(
  ctx: GraphQLContext,
  topic: T,
  predicate: (r: TailTopics[T]) => boolean,
  since: bigint | undefined,
  replay: (after: string | undefined) => Promise<{ records: TailTopics[T][]; next: string | null }>,
  key: (r: TailTopics[T]) => string,
  filter?: TelemetryFilter,
): Promise<ReplaySubscription<TailTopics[T]>> {
  const live = open(ctx, topic, predicate, filter);
  if (since === undefined) return liveOnly(live);
  try {
    return await replayThenLive({
      live,
      settled: () => ctx.tail.bus.settled(topic),
      readPage: replay,
      accept: predicate,
      key,
      maxReplay: ctx.tail.bus.limits.maxReplay,
    });
  } catch (err) {
    throw limitError(err);
  }
}

/** The subscription with each event mapped; return() closes it even before the first next(). Push delivery (poll/onReady) maps too. */
function mapEvents<A, B>(sub: AsyncIterator<A> & Pick<TailEventStream<A>, 'close' | 'poll' | 'onReady'>, map: (e: A) => B): TailEventStream<B> {
  const it: TailEventStream<B> = {
    next: () => sub.next().then((r) => (r.done ? { value: undefined, done: true } : { value: map(r.value), done: false })),
    return: () => {
      sub.close();
      return Promise.resolve({ value: undefined, done: true });
    },
    poll: () => {
      const e = sub.poll();
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
      const page = await ctx.stores.traces.searchSpans(ctx.tenant, since(filter, from!), { first: REPLAY_PAGE, order: 'OLDEST_FIRST', ...(after && { after }) });
      return { records: page.items.map((i) => i.node), next: page.hasNextPage ? page.endCursor : null };
    },
    spanKey,
    filter,
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
    logKey,
    filter,
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

export function tailTraces(ctx: GraphQLContext, args: { filter?: TelemetryFilterInput | null }): AsyncIterable<TraceTailEventModel> {
  // A trace matches when at least one of its spans does, as in the trace search.
  const spanMatches = compile(() => compileSpanFilter(toTailFilter(args.filter, 'spans')));
  const sub = open(ctx, 'traces', (t) => t.spans.some(spanMatches));
  const nextEvent = freshLoaders(ctx);
  return mapEvents(sub, (e: TailEvent<AssembledTrace>) => {
    nextEvent();
    return { trace: { traceId: e.record.traceId, spans: e.record.spans }, reason: e.record.reason, droppedSpans: e.record.droppedSpans, dropped: e.dropped };
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

export async function tailMetrics(
  ctx: GraphQLContext,
  args: { name: string; labels?: unknown; since?: bigint | null },
): Promise<AsyncIterable<MetricTailEventModel>> {
  if (args.name === '') throw new GatewayError('GW_BAD_ARGUMENT', 'name must not be empty');
  const labels = labelsArg(args.labels);
  const hasLabels = matchLabels(labels ?? {});
  const predicate = (m: MetricPoint) => m.metric.name === args.name && hasLabels(m);
  const from = checkSince(args.since);
  const maxReplay = ctx.tail.bus.limits.maxReplay;
  const sub = await withReplay(
    ctx,
    'metrics',
    predicate,
    from,
    async () => {
      // The metric store reads the matching points newest first: one more than a replay may send
      // tells "too many" from "exactly the limit". Sent oldest first.
      const points = await ctx.stores.metrics.points(ctx.tenant, args.name, { from: from! }, maxReplay + 1, labels);
      if (points.length > maxReplay) throw new ReplayLimitError(maxReplay);
      return { records: points.reverse(), next: null };
    },
    metricPointKey,
  );
  const nextEvent = freshLoaders(ctx);
  return mapEvents(sub, (e) => {
    nextEvent();
    return e;
  });
}
