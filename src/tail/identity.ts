// The identity of a record across the live/stored seam of a replay: equal for the copy published
// live and the copy read back from a store. Spans have IDs; logs and metric points do not, so
// their identity is their content (two identical records are told apart by counting, see replay.ts).
import type { LogRecord, MetricPoint, SpanRecord } from '../model/telemetry.ts';
import { serviceName } from '../model/values.ts';

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
    l.eventName,
    serviceName(l.resource),
    JSON.stringify(l.body),
    JSON.stringify(l.attributes),
  ].join('\u0000');
}

export function metricPointKey(m: MetricPoint): string {
  return [m.metric.name, serviceName(m.resource), m.point.startTimeUnixNano, m.point.timeUnixNano, JSON.stringify(m.point.attributes)].join('\u0000');
}
