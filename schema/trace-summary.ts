import { loadTrace, searchTraces } from '../resolvers/traces.ts';
import { builder } from './builder.ts';
import { durationFields, instantFields } from './fields.ts';

builder.objectType('TraceSummary', {
  description: 'One search hit: enough to list a trace; `trace` loads all of it.',
  fields: (t) => ({
    traceId: t.exposeID('traceId'),
    rootServiceName: t.exposeString('rootServiceName', { nullable: true }),
    rootSpanName: t.exposeString('rootSpanName', { nullable: true }),
    ...instantFields(t, 'startTime', (s) => s.startTimeUnixNano),
    ...durationFields(t, (s) => s.durationNano),
    spanCount: t.exposeInt('spanCount'),
    errorCount: t.exposeInt('errorCount'),
    services: t.exposeStringList('services'),
    trace: t.field({ type: 'Trace', nullable: true, description: 'All of the trace; null when it is no longer stored.', resolve: (s, _, ctx) => loadTrace(ctx, s.traceId) }),
  }),
});

builder.queryFields((t) => ({
  traces: t.field({
    nullable: true,
    type: ['TraceSummary'],
    description:
      'Traces with at least one span matching the filter, newest first: by the start of the whole trace (startTime, its earliest span, which may be before `from`), ties by traceId, so a smaller limit gives the first traces of a larger one.',
    args: {
      filter: t.arg({ type: 'TelemetryFilter' }),
      limit: t.arg.int({ defaultValue: 20, description: '1–1000.' }),
    },
    resolve: (_, args, ctx) => searchTraces(ctx, args),
  }),
}));
