import { knownSpanKind } from '../src/model/telemetry.ts';
import { serviceName } from '../src/model/values.ts';
import { spanLogsAround, spanMetrics } from '../resolvers/correlation.ts';
import { getSpan, loadTrace, searchSpans, spanChildren, spanDuration, spanParent } from '../resolvers/traces.ts';
import { DEFAULT_MAX_TRACE_SPANS } from '../resolvers/context.ts';
import { builder } from './builder.ts';
import { OrderEnum, SpanKindEnum } from './enums.ts';
import { attributeFields, droppedCountField, durationFields, flagsField, instantFields } from './fields.ts';
import { RedSeriesRef, redWindowArgs } from './red-metrics.ts';

builder.objectType('Span', {
  description: 'An OTLP span, with the numeric helpers Grafana needs to plot it.',
  fields: (t) => ({
    traceId: t.exposeID('traceId'),
    spanId: t.exposeID('spanId'),
    parentSpanId: t.string({ nullable: true, description: 'null for a root span.', resolve: (s) => s.parentSpanId || null }),
    parent: t.field({
      type: 'Span',
      nullable: true,
      description: 'null for a root span or when the parent was not received.',
      resolve: (s, _, ctx) => spanParent(ctx, s),
    }),
    children: t.field({
      type: ['Span'],
      description:
        'Sorted by start time: the first `first`, or every child. They count toward the spans of traces one request returns (limits.graphql.maxTraceSpans, as Trace.spans); ' +
        'past that the rest are left out, and `extensions.notes` says so.',
      args: {
        first: t.arg.int({
          description: `1–${DEFAULT_MAX_TRACE_SPANS.toLocaleString('en-US')} (the most is limits.graphql.maxTraceSpans). Default: every child. The query cost counts it; without it, children count limits.graphql.defaultListSize spans.`,
        }),
      },
      resolve: (s, args, ctx) => spanChildren(ctx, s, args),
    }),
    name: t.exposeString('name'),
    kind: t.field({
      type: SpanKindEnum,
      description: 'UNSPECIFIED also for a kind SpanKind does not name: OTLP enums are open, and such a kind is kept as sent.',
      resolve: (s) => knownSpanKind(s.kind),
    }),
    ...instantFields(t, 'startTime', (s) => s.startTimeUnixNano),
    ...instantFields(t, 'endTime', (s) => s.endTimeUnixNano),
    ...durationFields(t, spanDuration),
    status: t.field({ type: 'SpanStatus', resolve: (s) => s.status }),
    traceState: t.exposeString('traceState', { description: 'W3C tracestate as sent; empty when none.' }),
    flags: flagsField(t, (x) => x.flags),
    ...attributeFields(t, (s) => s.attributes),
    events: t.field({ type: ['SpanEvent'], extensions: { recordPart: true }, resolve: (s) => s.events }), // query cost: src/server/query-cost.ts
    links: t.field({ type: ['SpanLink'], resolve: (s) => s.links }),
    droppedAttributesCount: droppedCountField(t, (x) => x.droppedAttributesCount),
    droppedEventsCount: droppedCountField(t, (x) => x.droppedEventsCount),
    droppedLinksCount: droppedCountField(t, (x) => x.droppedLinksCount),
    resource: t.field({ type: 'Resource', resolve: (s) => s.resource }),
    scope: t.field({ type: 'InstrumentationScope', resolve: (s) => s.scope }),
    service: t.string({ description: 'service.name of the resource.', resolve: (s) => serviceName(s.resource) }),
    logs: t.field({
      type: ['LogRecord'],
      nullable: true,
      description:
        'Without window: logs carrying this span ID. With window: logs of this trace (with or without a span ID) and logs of this ' +
        'span’s service that carry no trace ID, timed within [start − window, end + window], earliest first; past `first`, ' +
        'the trace’s logs are kept before those without a trace ID, and the ones nearest the span before the others. ' +
        'null (with an error naming the backend) when the log backend fails.',
      args: {
        window: t.arg({ type: 'Duration' }),
        first: t.arg.int({ defaultValue: 100, description: '1–1000.' }),
      },
      resolve: (s, args, ctx) => spanLogsAround(ctx, s, args),
    }),
    metrics: t.field({
      type: RedSeriesRef,
      nullable: true,
      description:
        'RED series (rate, errors, duration) of this span’s service over [start − window, end + window]. ' +
        'null (with an error naming the backend) when the metrics backend fails.',
      args: redWindowArgs,
      resolve: (s, args, ctx) => spanMetrics(ctx, s, args),
    }),
    trace: t.field({ type: 'Trace', nullable: true, description: 'The whole trace the span belongs to.', resolve: (s, _, ctx) => loadTrace(ctx, s.traceId) }),
  }),
});

builder.objectType('SpanEdge', {
  description: 'One span of a page and its cursor.',
  fields: (t) => ({
    node: t.field({ type: 'Span', resolve: (e) => e.node }),
    cursor: t.exposeString('cursor', { description: 'Pass as `after` (with the same order) for the spans after this one.' }),
  }),
});

builder.objectType('SpanConnection', {
  description: 'A page of spans (a Relay connection, paged forward).',
  fields: (t) => ({
    edges: t.field({ type: ['SpanEdge'], resolve: (p) => p.items }),
    nodes: t.field({ type: ['Span'], description: 'The edges’ nodes, for clients that do not page.', resolve: (p) => p.items.map((e) => e.node) }),
    pageInfo: t.field({ type: 'PageInfo', resolve: (p) => p }),
  }),
});

builder.queryFields((t) => ({
  spans: t.field({
    nullable: true,
    type: 'SpanConnection',
    description: 'Spans matching the filter, one page at a time.',
    args: {
      filter: t.arg({ type: 'TelemetryFilter' }),
      first: t.arg.int({ defaultValue: 50, description: '1–1000.' }),
      after: t.arg.string({ description: 'endCursor of the previous page, with the same order (another, or a cursor this field did not issue, is GW_BAD_ARGUMENT); empty or absent for the first page.' }),
      order: t.arg({ type: OrderEnum, defaultValue: 'NEWEST_FIRST' }),
    },
    resolve: (_, args, ctx) => searchSpans(ctx, args),
  }),
  span: t.field({
    type: 'Span',
    nullable: true,
    description: 'One span across all time; null when unknown.',
    args: { traceId: t.arg.id({ required: true, description: '32 hex characters.' }), spanId: t.arg.id({ required: true, description: '16 hex characters.' }) },
    resolve: (_, { traceId, spanId }, ctx) => getSpan(ctx, traceId, spanId),
  }),
}));
