// Exception groups: occurrences from span `exception` events and from error logs, grouped by
// fingerprint (type + normalised stack frames).
import type { ExceptionGroup } from '../src/correlation/exception-groups.ts';
import { exceptionGroups, groupLogs, groupSpans, groupTraces } from '../resolvers/exceptions.ts';
import { builder } from './builder.ts';
import { instantFields } from './fields.ts';

const ExceptionCountRef = builder.objectRef<ExceptionGroup['series'][number]>('ExceptionCount').implement({
  description: 'Occurrences of an exception group in one step.',
  fields: (t) => ({
    ...instantFields(t, 'time', (p) => p.timeUnixNano),
    count: t.exposeInt('count'),
  }),
});

export const ExceptionGroupRef = builder.objectRef<ExceptionGroup>('ExceptionGroup').implement({
  description:
    'Exceptions with the same fingerprint: the exception type and the stack frames with line numbers, addresses, IDs and numbers ' +
    'removed (the message is not part of it).',
  fields: (t) => ({
    fingerprint: t.exposeString('fingerprint', { description: '16 hex characters.' }),
    type: t.exposeString('type'),
    count: t.exposeInt('count', { description: 'Occurrences in the range: span events plus logs.' }),
    spanCount: t.exposeInt('spanCount', { description: 'Recorded as `exception` events on spans.' }),
    logCount: t.exposeInt('logCount', { description: 'Recorded as logs with exception.* attributes.' }),
    ...instantFields(t, 'firstSeen', (g) => g.firstSeen),
    ...instantFields(t, 'lastSeen', (g) => g.lastSeen),
    services: t.exposeStringList('services', { description: 'Affected services, sorted.' }),
    sampleMessage: t.exposeString('sampleMessage', { description: 'The message of a recent occurrence.' }),
    sampleStacktrace: t.exposeString('sampleStacktrace'),
    frames: t.exposeStringList('frames', { description: 'The normalised frames the fingerprint is made of.' }),
    series: t.field({ type: [ExceptionCountRef], description: 'Occurrences per step, oldest first; steps without any are left out.', resolve: (g) => g.series }),
    // Nullable: the examples come from the trace and log backends, the group from the correlation
    // store; a failing example backend must not null the groups (nor the whole field) with it.
    exampleTraces: t.field({
      type: ['Trace'],
      nullable: true,
      description: 'Traces of recent occurrences; null (with an error naming the backend) when the trace backend fails.',
      resolve: (g, _, ctx) => groupTraces(ctx, g),
    }),
    exampleSpans: t.field({
      type: ['Span'],
      nullable: true,
      description: 'Spans of recent occurrences (the span a log points to, for logs); null (with an error naming the backend) when the trace backend fails.',
      resolve: (g, _, ctx) => groupSpans(ctx, g),
    }),
    exampleLogs: t.field({
      type: ['LogRecord'],
      nullable: true,
      description: 'Recent logs of the group; null (with an error naming the backend) when the log backend fails.',
      resolve: (g, _, ctx) => groupLogs(ctx, g),
    }),
    source: t.exposeString('source', { description: 'The backend the occurrences were read from.' }),
  }),
});

const ExceptionGroupFilter = builder.inputType('ExceptionGroupFilter', {
  fields: (t) => ({
    service: t.stringList({ description: 'Any of these services.' }),
    type: t.stringList({ description: 'Any of these exception types (exact).' }),
    fingerprint: t.stringList({ description: 'Any of these fingerprints.' }),
    traceId: t.idList({ description: 'Only exceptions recorded in these traces.' }),
  }),
});

builder.queryFields((t) => ({
  exceptionGroups: t.field({
    type: [ExceptionGroupRef],
    nullable: true,
    description: 'Exception groups in [from, to], most frequent first. null (with an error naming the backend) when the backend fails.',
    args: {
      filter: t.arg({ type: ExceptionGroupFilter }),
      from: t.arg({ type: 'Timestamp', required: true }),
      to: t.arg({ type: 'Timestamp', required: true }),
      step: t.arg({ type: 'Duration', description: 'Step of each group’s series; default: the range in about 60 steps.' }),
      limit: t.arg.int({ defaultValue: 50, description: '1–1000.' }),
      examples: t.arg.int({ defaultValue: 5, description: 'Example spans and logs per group, 1–100.' }),
    },
    resolve: (_, args, ctx) => exceptionGroups(ctx, args),
  }),
}));
