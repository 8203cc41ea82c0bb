// The identity of a record across the live/stored seam of a replay: equal for the copy published
// live and the copy read back from a store. Spans have IDs; logs and metric points do not, so
// their identity is their content (two identical records are told apart by counting, see replay.ts).
// The content is all of it that tells two sources apart: the whole resource (two pods of one
// service logging one line at one instant are two records) and the scope, not the service name
// alone. Texts count by their first KEY_TEXT_CHARS: a store keeps long values cut (DuckDB at 16,000
// characters, its long-values.ts), and the cut copy must key as its whole live one.
import type { InstrumentationScope, LogRecord, MetricPoint, Resource, SpanRecord } from '../model/telemetry.ts';

/** Characters of each text that count: shorter than any cut a store makes of a long value. */
const KEY_TEXT_CHARS = 32;

/** `value` as JSON, each string (keys of KeyValue lists included) by its first KEY_TEXT_CHARS. */
const sketch = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' && v.length > KEY_TEXT_CHARS ? v.slice(0, KEY_TEXT_CHARS) : v)) ?? '';

const source = (resource: Resource, scope: InstrumentationScope) => [sketch(resource.attributes), sketch(scope.name), sketch(scope.version)];

export function spanKey(s: SpanRecord): string {
  return `${s.traceId}/${s.spanId}/${s.startTimeUnixNano}`;
}

export function logKey(l: LogRecord): string {
  return [
    l.timeUnixNano,
    l.observedTimeUnixNano,
    l.traceId,
    l.spanId,
    l.severityNumber,
    sketch(l.eventName),
    ...source(l.resource, l.scope),
    sketch(l.body),
    sketch(l.attributes),
  ].join('\u0000');
}

export function metricPointKey(m: MetricPoint): string {
  return [m.metric.name, ...source(m.resource, m.scope), m.point.startTimeUnixNano, m.point.timeUnixNano, sketch(m.point.attributes)].join('\u0000');
}
