import { builder } from './builder.ts';
import { SeverityEnum, SpanKindEnum, StatusCodeEnum } from './enums.ts';

builder.inputType('AttributeConditionInput', {
  description:
    'A condition on one attribute, looked up on the record and then on its resource. Set exactly one operator. ' +
    'eq/neq/in/regex compare the value as text (arrays and maps as compact JSON); gt/gte/lt/lte compare numbers.',
  fields: (t) => ({
    key: t.string({ required: true }),
    eq: t.string(),
    neq: t.string(),
    in: t.stringList(),
    regex: t.string({ description: 'RE2 syntax; must match the whole value, as in TraceQL and PromQL.' }),
    exists: t.boolean({ description: 'true: the key is set; false: it is not.' }),
    gt: t.float({ description: 'A value read as a number is greater; a NaN value matches no comparison.' }),
    gte: t.float(),
    lt: t.float(),
    lte: t.float(),
  }),
});

builder.inputType('TelemetryFilter', {
  description:
    'One filter language for spans, traces and logs. Fields on one level are ANDed; and/or/not nest. ' +
    'An empty list means no restriction. A field that does not apply to the signal (kind on logs, bodyContains on spans) is GW_BAD_FILTER. ' +
    'For traces, a trace matches when one of its spans matches. ' +
    'Without from/to at the top level a search covers the last hour, up to now (the hour before `to` when only `to` is set), ' +
    'unless the top level names a traceId or spanId.',
  fields: (t) => ({
    from: t.field({ type: 'Timestamp', description: 'Inclusive.' }),
    to: t.field({ type: 'Timestamp', description: 'Inclusive.' }),
    service: t.stringList({ description: 'service.name is one of these.' }),
    name: t.stringList({ description: 'Span name (operation) or log event name is one of these.' }),
    status: t.field({ type: [StatusCodeEnum] }),
    kind: t.field({ type: [SpanKindEnum], description: 'UNSPECIFIED also matches kinds SpanKind does not name (read as UNSPECIFIED).' }),
    minDuration: t.field({ type: 'Duration', description: "A span's duration is at least this (inclusive). For traces, a trace with such a span (as Jaeger's search), not the trace's own duration (Tempo's)." }),
    maxDuration: t.field({ type: 'Duration', description: "A span's duration is at most this (inclusive); for traces, as minDuration." }),
    telemetrySource: t.stringList({ description: 'The telemetry.source attribute (the AI assistant or tool that emitted it).' }),
    traceId: t.idList({ description: '32 hex characters each.' }),
    spanId: t.idList({ description: '16 hex characters each.' }),
    minSeverity: t.int({ description: 'Logs: severity number ≥ this (0–24).' }),
    minSeverityLevel: t.field({ type: SeverityEnum, description: 'Logs: severity at least this level; an alternative to minSeverity.' }),
    bodyContains: t.string({
      description:
        'Logs: case-insensitive substring of the body (letters lowered one by one, so σ and a final ς differ). ' +
        'A map or array body is searched as its compact JSON text, where quotes and line breaks are escaped. ' +
        'With Elasticsearch as the logs read source: a phrase of whole words (its match_phrase), as analysed by the index.',
    }),
    attributes: t.field({ type: ['AttributeConditionInput'] }),
    and: t.field({ type: ['TelemetryFilter'] }),
    or: t.field({ type: ['TelemetryFilter'] }),
    not: t.field({ type: 'TelemetryFilter' }),
  }),
});
