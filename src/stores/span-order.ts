// A trace's spans as every store returns them (TraceStore.getTraces, types.ts) and the rules every
// view of a trace reads them by (the Trace type, each store's TraceSummary), kept in one place.
import type { SpanRecord } from '../model/telemetry.ts';

/** Start order, ties by span ID (bytewise, as DuckDB compares VARCHAR), so equal starts come out the same from every backend. */
export function byStartThenSpanId(a: SpanRecord, b: SpanRecord): number {
  if (a.startTimeUnixNano !== b.startTimeUnixNano) return a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1;
  return a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0;
}

/**
 * Of two copies of one span (a span stored twice: an export retried after a timeout, since OTLP
 * delivery is at least once), the one every view shows: the one that ends later (a resend with
 * more to say); on equal ends, the greater status code (ERROR over OK over UNSET), then the later
 * start, then the greater name, then the greater parent span ID (strings bytewise in UTF-8, as DuckDB
 * compares VARCHAR). Stores read rows in no set order, so the rule must not depend on it; the DuckDB
 * store says the same in SQL (trace-store.ts, PREFERENCE). Copies equal in all of these can still
 * differ in attributes, events, links or resource: which of those shows is not fixed.
 */
export function preferredCopy(a: SpanRecord, b: SpanRecord): SpanRecord {
  return comparePreference(a, b) >= 0 ? a : b;
}

function comparePreference(a: SpanRecord, b: SpanRecord): number {
  if (a.endTimeUnixNano !== b.endTimeUnixNano) return a.endTimeUnixNano > b.endTimeUnixNano ? 1 : -1;
  if (a.status.code !== b.status.code) return a.status.code > b.status.code ? 1 : -1;
  if (a.startTimeUnixNano !== b.startTimeUnixNano) return a.startTimeUnixNano > b.startTimeUnixNano ? 1 : -1;
  return Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)) || Buffer.compare(Buffer.from(a.parentSpanId), Buffer.from(b.parentSpanId));
}

/** One span per span ID (preferredCopy), in start order, as Tempo combines a trace's copies. */
export function traceSpansInOrder(spans: Iterable<SpanRecord>): SpanRecord[] {
  const byId = new Map<string, SpanRecord>();
  for (const s of spans) {
    const seen = byId.get(s.spanId);
    byId.set(s.spanId, seen ? preferredCopy(seen, s) : s);
  }
  return [...byId.values()].sort(byStartThenSpanId);
}

/** When the span ended for its trace: a span that ends before it starts (a skewed clock) ends at its start. */
export function spanEnd(span: SpanRecord): bigint {
  return span.endTimeUnixNano > span.startTimeUnixNano ? span.endTimeUnixNano : span.startTimeUnixNano;
}

/** How long the span lasted: 0 for one that ends before it starts. */
export function spanDuration(span: SpanRecord): bigint {
  return spanEnd(span) - span.startTimeUnixNano;
}

/**
 * The trace's root, from spans in start order: the earliest span without a parent; failing that,
 * the earliest whose parent was not received (the root is missing); failing that (parents in a
 * cycle), the earliest. The DuckDB store's summaries say the same in SQL (trace-store.ts).
 */
export function traceRoot(spans: readonly SpanRecord[]): SpanRecord | undefined {
  const ids = new Set(spans.map((s) => s.spanId));
  return spans.find((s) => !s.parentSpanId) ?? spans.find((s) => !ids.has(s.parentSpanId)) ?? spans[0];
}
