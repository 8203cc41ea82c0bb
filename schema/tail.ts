import { tailLogs, tailMetrics, tailSpans, tailTraces } from '../resolvers/tail.ts';
import { builder } from './builder.ts';
import { LABELS_ARG } from './fields.ts';

const DROPPED =
  'Matching records this subscription dropped since the previous event it delivered: its buffer (tail.bufferSize, 1,000 by default) ' +
  'keeps the newest records when the client reads slower than they arrive.';

const FILTER =
  'The filter the searches use, evaluated on each record as it arrives. from/to are rejected (GW_BAD_FILTER): a tail has no time range (use `since`). ' +
  'An invalid filter fails the subscription at once with GW_BAD_FILTER.';

const SINCE =
  'Replay the stored records that match, from this time on (span start, log time, point time), oldest first, then continue live ' +
  'with no gap and no duplicate. At most tail.maxReplay (10,000) stored records; more fail the subscription with GW_LIMIT_EXCEEDED.';

const REPLAYED = 'True for records read from the store because of `since`; false for records sent as they are received.';

const LOOKUPS =
  'Fields that look up other records (Span.parent, children, logs, trace; LogRecord.span, trace) read the store, ' +
  'which may not have written this batch yet when the event is sent.';

const LIMITS =
  'Subscriptions are limited per connection (tail.maxPerConnection, 20), per tenant (tail.maxPerTenant, 500) and in total (tail.maxSubscriptions, 1,000); ' +
  'beyond any, the subscription fails with GW_LIMIT_EXCEEDED naming the limit.';

builder.objectType('SpanTailEvent', {
  description: `One span that matched a tailSpans filter. ${LOOKUPS}`,
  fields: (t) => ({
    span: t.field({ type: 'Span', resolve: (e) => e.record }),
    dropped: t.exposeInt('dropped', { description: DROPPED }),
    replayed: t.exposeBoolean('replayed', { description: REPLAYED }),
  }),
});

builder.objectType('LogTailEvent', {
  description: `One log record that matched a tailLogs filter. ${LOOKUPS}`,
  fields: (t) => ({
    log: t.field({
      type: 'LogRecord',
      description:
        'The record. A live record is not stored yet, so its `id` is synthetic: "tail:<subscription>:<n>", unique in this gateway process, ' +
        'and not the stored ID (`log(id:)` does not find it); look it up with `logs` by traceId/spanId and time instead. ' +
        'A replayed record has its stored ID.',
      resolve: (e) => e.record,
    }),
    dropped: t.exposeInt('dropped', { description: DROPPED }),
    replayed: t.exposeBoolean('replayed', { description: REPLAYED }),
  }),
});

const TraceTailReason = builder.enumType('TraceTailReason', {
  description: 'Why tailTraces sent a trace when it did.',
  values: {
    ROOT_ENDED: { description: 'Its root span (no parent) arrived, and tail.traces.rootWaitMs passed for stragglers.' },
    QUIET: { description: 'No span of it arrived for tail.traces.quietMs and no root span came: the trace may be incomplete.' },
    EVICTED: { description: 'Sent early, incomplete: tail.traces.maxTraces traces were being assembled and a new one started.' },
    STORED: { description: 'Read from the store because of `since` (replayed is true), with the spans stored when it was read.' },
  } as const,
});

builder.objectType('TraceTailEvent', {
  description: `One trace assembled from live spans, sent once. ${LOOKUPS}`,
  fields: (t) => ({
    trace: t.field({ type: 'Trace', description: 'The spans received for the trace, sorted by start time.', resolve: (e) => e.trace }),
    reason: t.field({ type: TraceTailReason, resolve: (e) => e.reason }),
    complete: t.boolean({
      description: 'Whether the root span is among the spans (reason ROOT_ENDED, or STORED with its root).',
      resolve: (e) => e.reason === 'ROOT_ENDED' || (e.reason === 'STORED' && e.trace.spans.some((s) => s.parentSpanId === '')),
    }),
    droppedSpans: t.exposeInt('droppedSpans', {
      description: 'Spans of this trace not kept because it reached tail.traces.maxSpansPerTrace (1,000).',
    }),
    dropped: t.exposeInt('dropped', { description: 'Matching traces this subscription dropped since its previous event (see tail.bufferSize).' }),
    replayed: t.exposeBoolean('replayed', { description: 'True for traces read from the store because of `since`; false for traces assembled as their spans are received.' }),
  }),
});

builder.objectType('MetricTailEvent', {
  description: 'One metric data point that matched a tailMetrics name and labels.',
  fields: (t) => ({
    point: t.field({ type: 'MetricPoint', resolve: (e) => e.record }),
    dropped: t.exposeInt('dropped', { description: DROPPED }),
    replayed: t.exposeBoolean('replayed', { description: REPLAYED }),
  }),
});

builder.subscriptionFields((t) => ({
  tailSpans: t.field({
    type: 'SpanTailEvent',
    description: `Spans of the tenant as they are received, one event per matching span. ${LIMITS}`,
    args: {
      filter: t.arg({ type: 'TelemetryFilter', description: FILTER }),
      since: t.arg({ type: 'Timestamp', description: SINCE }),
    },
    subscribe: (_, args, ctx) => tailSpans(ctx, args),
    resolve: (e) => e,
  }),
  tailLogs: t.field({
    type: 'LogTailEvent',
    description: `Log records of the tenant as they are received, one event per matching record. ${LIMITS}`,
    args: {
      filter: t.arg({ type: 'TelemetryFilter', description: FILTER }),
      since: t.arg({ type: 'Timestamp', description: SINCE }),
    },
    subscribe: (_, args, ctx) => tailLogs(ctx, args),
    resolve: (e) => e,
  }),
  tailTraces: t.field({
    type: 'TraceTailEvent',
    description:
      'Traces of the tenant assembled from spans as they are received, each sent once: when its root span has arrived ' +
      '(after tail.traces.rootWaitMs, 1 s, for late children), or after tail.traces.quietMs (5 s) without new spans. ' +
      'A trace matches when at least one of its spans matches the filter. Spans arriving after their trace was sent are not sent. ' +
      LIMITS,
    args: {
      filter: t.arg({ type: 'TelemetryFilter', description: FILTER }),
      since: t.arg({
        type: 'Timestamp',
        description:
          'Replay the stored traces with a matching span that starts at or after this time, in the order of those spans, oldest first (reason STORED), ' +
          'then continue live: a trace replayed is not sent again live. At most tail.maxReplay (10,000) traces holding at most ' +
          'limits.graphql.maxTraceSpans (10,000) spans together; more fail the subscription with GW_LIMIT_EXCEEDED.',
      }),
    },
    subscribe: (_, args, ctx) => tailTraces(ctx, args),
    resolve: (e) => e,
  }),
  tailMetrics: t.field({
    type: 'MetricTailEvent',
    description: `Data points of one metric as they are received. ${LIMITS}`,
    args: {
      name: t.arg.string({
        required: true,
        description: 'The metric name, exactly (the OTel name); with Prometheus as the metrics read source also its Prometheus family name, as metricSeries takes it.',
      }),
      labels: t.arg({ type: 'JSON', description: LABELS_ARG }),
      since: t.arg({ type: 'Timestamp', description: SINCE }),
    },
    subscribe: (_, args, ctx) => tailMetrics(ctx, args),
    // An error in place of a point: what the replay could not send (resolvers/tail.ts noticeFirst).
    resolve: (e) => {
      if (e instanceof Error) throw e;
      return e;
    },
  }),
}));
