// Live tails: compile the filter once, subscribe to the tenant's topic on the bus, and turn bus
// events into the GraphQL event models. Everything that can fail (filter, limits) fails here, at
// subscribe time, before any event flows.
import { GatewayError, fromStoreError } from '../src/errors.ts';
import { compileLogFilter, compileSpanFilter } from '../src/stores/filter-match.ts';
import type { LogRecord, SpanRecord } from '../src/model/telemetry.ts';
import type { StoredLogRecord } from '../src/stores/types.ts';
import { TailLimitError, type TailEvent, type TailSubscription } from '../src/tail/bus.ts';
import type { GraphQLContext } from './context.ts';
import { createLoaders } from './loaders.ts';
import { toTailFilter, type TelemetryFilterInput } from './filter.ts';

export type SpanTailEventModel = TailEvent<SpanRecord>;
export type LogTailEventModel = TailEvent<StoredLogRecord>;

/** Prefix of the synthetic IDs of live log records (see LogTailEvent.log in the schema). */
export const TAIL_LOG_ID_PREFIX = 'tail:';
let tailLogSeq = 0;

function compile<P>(build: () => P): P {
  try {
    return build();
  } catch (err) {
    throw fromStoreError(err);
  }
}

function limitError(err: unknown): unknown {
  if (!(err instanceof TailLimitError)) return err;
  return new GatewayError('GW_LIMIT_EXCEEDED', err.message, { limit: err.limit, value: err.value });
}

function open<R>(subscribe: () => TailSubscription<R>): TailSubscription<R> {
  try {
    return subscribe();
  } catch (err) {
    throw limitError(err);
  }
}

/** The subscription with each event mapped; return() closes it even before the first next(). */
function mapEvents<A, B>(sub: TailSubscription<A>, map: (e: TailEvent<A>) => B): AsyncIterableIterator<B> {
  const it: AsyncIterableIterator<B> = {
    next: () => sub.next().then((r) => (r.done ? { value: undefined, done: true } : { value: map(r.value), done: false })),
    return: () => {
      sub.close();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]: () => it,
  };
  return it;
}

/**
 * A subscription's context lives as long as it does, so each event gets fresh DataLoaders (as a
 * request would): fields like Span.parent or LogRecord.span see current data, and the loader
 * caches do not grow for the life of the subscription.
 */
function freshLoaders(ctx: GraphQLContext): void {
  ctx.loaders = createLoaders(ctx.tenant, ctx.stores);
}

export function tailSpans(ctx: GraphQLContext, args: { filter?: TelemetryFilterInput | null }): AsyncIterable<SpanTailEventModel> {
  const predicate = compile(() => compileSpanFilter(toTailFilter(args.filter, 'spans')));
  const sub = open(() => ctx.tail.bus.subscribe(ctx.tenant, 'spans', predicate, { connection: ctx.tail.connection }));
  return mapEvents(sub, (e) => {
    freshLoaders(ctx);
    return e;
  });
}

export function tailLogs(ctx: GraphQLContext, args: { filter?: TelemetryFilterInput | null }): AsyncIterable<LogTailEventModel> {
  const predicate = compile(() => compileLogFilter(toTailFilter(args.filter, 'logs')));
  const sub = open(() => ctx.tail.bus.subscribe(ctx.tenant, 'logs', predicate, { connection: ctx.tail.connection }));
  return mapEvents(sub, (e: TailEvent<LogRecord>) => {
    freshLoaders(ctx);
    return { record: { ...e.record, id: `${TAIL_LOG_ID_PREFIX}${++tailLogSeq}` }, dropped: e.dropped };
  });
}
