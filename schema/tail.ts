import { tailLogs, tailSpans } from '../resolvers/tail.ts';
import { builder } from './builder.ts';

const DROPPED =
  'Matching records this subscription dropped since the previous event it delivered: its buffer (tail.bufferSize, 1,000 by default) ' +
  'keeps the newest records when the client reads slower than they arrive.';

const FILTER =
  'The filter the searches use, evaluated on each record as it arrives. from/to are rejected (GW_BAD_FILTER): a tail has no time range. ' +
  'An invalid filter fails the subscription at once with GW_BAD_FILTER.';

const LOOKUPS =
  'Fields that look up other records (Span.parent, children, logs, trace; LogRecord.span, trace) read the store, ' +
  'which may not have written this batch yet when the event is sent.';

const LIMITS =
  'Subscriptions are limited per connection (tail.maxPerConnection, 20) and in total (tail.maxSubscriptions, 1,000); ' +
  'beyond either, the subscription fails with GW_LIMIT_EXCEEDED naming the limit.';

builder.objectType('SpanTailEvent', {
  description: `One span that matched a tailSpans filter. ${LOOKUPS}`,
  fields: (t) => ({
    span: t.field({ type: 'Span', resolve: (e) => e.record }),
    dropped: t.exposeInt('dropped', { description: DROPPED }),
  }),
});

builder.objectType('LogTailEvent', {
  description: `One log record that matched a tailLogs filter. ${LOOKUPS}`,
  fields: (t) => ({
    log: t.field({
      type: 'LogRecord',
      description:
        'The record as received. It is not stored yet, so its `id` is synthetic: "tail:<n>", unique in this gateway process, ' +
        'and not the stored ID (`log(id:)` does not find it); look it up with `logs` by traceId/spanId and time instead.',
      resolve: (e) => e.record,
    }),
    dropped: t.exposeInt('dropped', { description: DROPPED }),
  }),
});

builder.subscriptionFields((t) => ({
  tailSpans: t.field({
    type: 'SpanTailEvent',
    description: `Spans of the tenant as they are received, one event per matching span. ${LIMITS}`,
    args: { filter: t.arg({ type: 'TelemetryFilter', description: FILTER }) },
    subscribe: (_, args, ctx) => tailSpans(ctx, args),
    resolve: (e) => e,
  }),
  tailLogs: t.field({
    type: 'LogTailEvent',
    description: `Log records of the tenant as they are received, one event per matching record. ${LIMITS}`,
    args: { filter: t.arg({ type: 'TelemetryFilter', description: FILTER }) },
    subscribe: (_, args, ctx) => tailLogs(ctx, args),
    resolve: (e) => e,
  }),
}));
