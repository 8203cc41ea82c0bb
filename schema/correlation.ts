// `correlate`: one entry point from a trace, span or log to everything around it.
import {
  correlate,
  correlationLogs,
  correlationMetrics,
  correlationRange,
  correlationTrace,
  type CorrelationModel,
} from '../resolvers/correlation.ts';
import { correlationExceptionGroups } from '../resolvers/exceptions.ts';
import { correlationServiceGraph } from '../resolvers/service-graph.ts';
import { builder } from './builder.ts';
import { ExceptionGroupRef } from './exception-group.ts';
import { RedSeriesRef } from './red-metrics.ts';
import { ServiceGraphRef } from './service-graph.ts';

const CorrelationRef = builder.objectRef<CorrelationModel>('Correlation').implement({
  description:
    'A trace and what surrounds it. Each field is read on its own: when one backend fails, that field is null and an error names ' +
    'the backend, and the others still answer. Where each came from is listed in extensions.notes (and `source` on metrics).',
  fields: (t) => ({
    traceId: t.exposeID('traceId', { description: 'The trace correlated: given, or the span’s or the log’s.' }),
    spanId: t.id({ nullable: true, description: 'The span correlated from (given, or the log’s span).', resolve: (c) => c.spanId }),
    logId: t.id({ nullable: true, description: 'The log correlated from; null when correlating from a trace or span ID.', resolve: (c) => c.logId }),
    from: t.field({ type: 'Timestamp', nullable: true, description: 'Trace start − window (at least 1970-01-01T00:00:00Z); null when the trace is unknown.', resolve: async (c, _, ctx) => (await correlationRange(ctx, c))?.from ?? null }),
    to: t.field({ type: 'Timestamp', nullable: true, description: 'Trace end + window (at most 2262-04-11T23:47:16.854775807Z, the latest Timestamp).', resolve: async (c, _, ctx) => (await correlationRange(ctx, c))?.to ?? null }),
    trace: t.field({ type: 'Trace', nullable: true, resolve: (c, _, ctx) => correlationTrace(ctx, c) }),
    logs: t.field({
      type: ['LogRecord'],
      nullable: true,
      description:
        'From a span (or a log with a span): the logs around that span (its trace’s, and its service’s without a trace ID, within the window; ' +
        'past `first`, the trace’s logs are kept first, then those nearest the span). ' +
        'From a trace: the logs carrying the trace ID.',
      args: { first: t.arg.int({ defaultValue: 100, description: '1–1000.' }) },
      resolve: (c, args, ctx) => correlationLogs(ctx, c, args),
    }),
    metrics: t.field({ type: [RedSeriesRef], nullable: true, description: 'RED series of every service in the trace over the window.', resolve: (c, _, ctx) => correlationMetrics(ctx, c) }),
    exceptionGroups: t.field({
      type: [ExceptionGroupRef],
      nullable: true,
      description: 'Groups of the exceptions recorded in this trace, counted over the window for the trace’s services.',
      resolve: (c, _, ctx) => correlationExceptionGroups(ctx, c),
    }),
    serviceGraph: t.field({
      type: ServiceGraphRef,
      nullable: true,
      description: 'The trace’s services, their neighbours and the calls between them over the window.',
      resolve: (c, _, ctx) => correlationServiceGraph(ctx, c),
    }),
  }),
});

builder.queryFields((t) => ({
  correlate: t.field({
    type: CorrelationRef,
    nullable: true,
    description:
      'Everything around a trace, from its ID, a span ID (the newest span with that ID; with Jaeger as the trace source it is looked up in FindTraces windows, by default over the last 7 days, and extensions.notes says which range was searched when it is not found), both (that span of that trace) or a log ID ' +
      '(its trace and span; alone: a log whose span is not in its trace gives the trace, with a note in extensions.notes). null when the trace, span or log is unknown to the tenant, the trace has no such span, or a log carries no trace ID.',
    args: {
      traceId: t.arg.id({ description: '32 hex characters.' }),
      spanId: t.arg.id({ description: '16 hex characters.' }),
      logId: t.arg.id({ description: 'A LogRecord.id.' }),
      window: t.arg({ type: 'Duration', defaultValue: 900_000_000_000n, description: 'Around the trace; default 15 minutes.' }),
      step: t.arg({ type: 'Duration', description: 'Step of the RED series; default: the window in about 30 steps.' }),
    },
    resolve: (_, args, ctx) => correlate(ctx, args),
  }),
}));
