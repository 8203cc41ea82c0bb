import { anyValueToOtlpJson, anyValueToPlain, anyValueType, serviceName } from '../src/model/values.ts';
import { getLog, logTime, searchLogs, severityLevel } from '../resolvers/logs.ts';
import { loadSpan, loadTrace } from '../resolvers/traces.ts';
import { builder } from './builder.ts';
import { OrderEnum, SeverityEnum } from './enums.ts';
import { attributeFields, droppedCountField, flagsField, instantFields } from './fields.ts';

builder.objectType('LogRecord', {
  description: 'An OTLP log record.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Assigned by the store; stable.' }),
    ...instantFields(t, 'time', logTime),
    timeUnixNano: t.string({ description: 'As received: "0" when the source did not set it (then `time` is the observed time).', resolve: (l) => String(l.timeUnixNano) }),
    observedTime: t.field({ type: 'Timestamp', nullable: true, description: 'When the record was observed (OTLP observed_time_unix_nano), as the source sent it; when the source set neither time, when teleql received the record (as a collector observes it); null when the source set only time.', resolve: (l) => (l.observedTimeUnixNano > 0n ? l.observedTimeUnixNano : null) }),
    severityNumber: t.exposeInt('severityNumber', { description: 'As sent: OTLP enums are open, so it may be past 24 or below 0.' }),
    severityText: t.exposeString('severityText', { description: 'As sent; empty when unset.' }),
    severity: t.field({
      type: SeverityEnum,
      nullable: true,
      description: 'The level of severityNumber; null when unset (0 or below); FATAL past 24.',
      resolve: (l) => severityLevel(l.severityNumber),
    }),
    body: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The OTLP body as plain JSON (a map as an object, an array as a list; values as in `Attribute.value`); null when unset. `otlpBody` keeps its type.',
      resolve: (l) => anyValueToPlain(l.body),
    }),
    otlpBody: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The body as its lossless OTLP/JSON AnyValue, as `Attribute.otlpValue` (e.g. {"intValue": "42"} or {"stringValue": "42"}); null when unset or empty.',
      resolve: (l) => (anyValueType(l.body) === 'EMPTY' ? null : anyValueToOtlpJson(l.body)),
    }),
    bodyText: t.string({
      nullable: true,
      description: 'A string body as is; any other body as compact JSON.',
      resolve: (l) => {
        const plain = anyValueToPlain(l.body);
        return plain === null ? null : typeof plain === 'string' ? plain : JSON.stringify(plain);
      },
    }),
    ...attributeFields(t, (l) => l.attributes),
    droppedAttributesCount: droppedCountField(t, (x) => x.droppedAttributesCount),
    traceId: t.id({ nullable: true, description: 'null when the log carries none.', resolve: (l) => l.traceId || null }),
    spanId: t.id({ nullable: true, description: 'null when the log carries none.', resolve: (l) => l.spanId || null }),
    flags: flagsField(t, (x) => x.flags),
    eventName: t.string({ nullable: true, description: 'OTLP event_name; null when unset.', resolve: (l) => l.eventName || null }),
    resource: t.field({ type: 'Resource', resolve: (l) => l.resource }),
    scope: t.field({ type: 'InstrumentationScope', resolve: (l) => l.scope }),
    service: t.string({ description: 'service.name of the resource.', resolve: (l) => serviceName(l.resource) }),
    span: t.field({ type: 'Span', nullable: true, description: 'The span the log points to; null when it carries no span ID or that span is not stored.', resolve: (l, _, ctx) => loadSpan(ctx, l.traceId, l.spanId) }),
    trace: t.field({ type: 'Trace', nullable: true, description: 'The trace the log points to; null when it carries no trace ID or no span of it is stored.', resolve: (l, _, ctx) => loadTrace(ctx, l.traceId) }),
  }),
});

builder.objectType('LogEdge', {
  description: 'One log of a page and its cursor.',
  fields: (t) => ({
    node: t.field({ type: 'LogRecord', resolve: (e) => e.node }),
    cursor: t.exposeString('cursor', { description: 'Pass as `after` (with the same order) for the logs after this one.' }),
  }),
});

builder.objectType('LogConnection', {
  description: 'A page of logs (a Relay connection, paged forward).',
  fields: (t) => ({
    edges: t.field({ type: ['LogEdge'], resolve: (p) => p.items }),
    nodes: t.field({ type: ['LogRecord'], description: 'The edges’ nodes, for clients that do not page.', resolve: (p) => p.items.map((e) => e.node) }),
    pageInfo: t.field({ type: 'PageInfo', resolve: (p) => p }),
  }),
});

builder.queryFields((t) => ({
  logs: t.field({
    nullable: true,
    type: 'LogConnection',
    description: 'Logs matching the filter, one page at a time.',
    args: {
      filter: t.arg({ type: 'TelemetryFilter' }),
      first: t.arg.int({ defaultValue: 50, description: '1–1000.' }),
      after: t.arg.string({ description: 'endCursor of the previous page, with the same order (another, or a cursor this field did not issue, is GW_BAD_ARGUMENT); empty or absent for the first page.' }),
      order: t.arg({ type: OrderEnum, defaultValue: 'NEWEST_FIRST' }),
    },
    resolve: (_, args, ctx) => searchLogs(ctx, args),
  }),
  log: t.field({
    type: 'LogRecord',
    nullable: true,
    description: 'One log record by its ID; null when unknown.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, { id }, ctx) => getLog(ctx, id),
  }),
}));
