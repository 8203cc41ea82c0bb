import { getTrace, rootSpan, traceSpan, traceSpans, traceEnd, traceErrorCount, traceServices, traceStart } from '../resolvers/traces.ts';
import { traceLogs } from '../resolvers/logs.ts';
import { DEFAULT_MAX_TRACE_SPANS } from '../resolvers/context.ts';
import { tracePartsOf } from '../resolvers/span-selection.ts';
import { builder } from './builder.ts';
import { durationFields, instantFields } from './fields.ts';
import { RedSeriesRef, redWindowArgs } from './red-metrics.ts';
import { traceMetrics } from '../resolvers/correlation.ts';

builder.objectType('Trace', {
  description: 'All spans received for one trace ID.',
  fields: (t) => ({
    traceId: t.exposeID('traceId'),
    spans: t.field({
      type: ['Span'],
      description:
        `Sorted by start time: the first \`first\`, or every span. One request returns at most limits.graphql.maxTraceSpans (default ${DEFAULT_MAX_TRACE_SPANS.toLocaleString('en-US')}) spans of traces, ` +
        'all Trace.spans and Span.children fields together; past that the rest are left out, and `extensions.notes` says so (spanCount still counts every span; ' +
        'page through a larger trace with `spans(filter: { traceId })`).',
      args: {
        first: t.arg.int({
          description: `1–${DEFAULT_MAX_TRACE_SPANS.toLocaleString('en-US')} (the most is limits.graphql.maxTraceSpans). Default: every span. The query cost counts it; without it, a trace counts limits.graphql.defaultListSize spans.`,
        }),
      },
      resolve: (trace, args, ctx) => traceSpans(ctx, trace, args),
    }),
    span: t.field({
      type: 'Span',
      nullable: true,
      description: 'The span of this trace with this ID; null when the trace has none.',
      args: { spanId: t.arg.id({ required: true, description: '16 hex characters.' }) },
      resolve: (trace, { spanId }) => traceSpan(trace, spanId),
    }),
    rootSpan: t.field({
      type: 'Span',
      nullable: true,
      description: 'The earliest span without a parent; failing that, the earliest span whose parent was not received; failing that (parents in a cycle), the earliest span.',
      resolve: rootSpan,
    }),
    services: t.stringList({ description: 'service.name of every span, sorted, without duplicates.', resolve: traceServices }),
    ...instantFields(t, 'startTime', traceStart),
    ...instantFields(t, 'endTime', traceEnd),
    ...durationFields(t, (trace) => traceEnd(trace) - traceStart(trace)),
    spanCount: t.int({ resolve: (trace) => trace.spans.length }),
    errorCount: t.int({ description: 'Spans with status ERROR.', resolve: traceErrorCount }),
    logs: t.field({
      type: ['LogRecord'],
      nullable: true,
      description: 'Logs that carry this trace ID; null (with an error naming the backend) when the log backend fails.',
      args: { first: t.arg.int({ defaultValue: 100, description: '1–1000.' }) },
      resolve: (trace, args, ctx) => traceLogs(ctx, trace, args),
    }),
    metrics: t.field({
      type: [RedSeriesRef],
      nullable: true,
      description:
        'RED series (rate, errors, duration) of every service in the trace over [start − window, end + window]. ' +
        'null (with an error naming the backend) when the metrics backend fails.',
      args: redWindowArgs,
      resolve: (trace, args, ctx) => traceMetrics(ctx, trace, args),
    }),
  }),
});

builder.queryFields((t) => ({
  trace: t.field({
    type: 'Trace',
    nullable: true,
    description: 'The trace with this ID across all time; null when unknown. A malformed ID is GW_BAD_ARGUMENT.',
    args: { traceId: t.arg.id({ required: true, description: '32 hex characters.' }) },
    resolve: (_, { traceId }, ctx, info) => getTrace(ctx, traceId, tracePartsOf(info)),
  }),
}));
