// The order TraceStore.getTraces promises for a trace's spans (types.ts), shared by every store.
import type { SpanRecord } from '../model/telemetry.ts';

/** Start order, ties by span ID (bytewise, as DuckDB compares VARCHAR), so equal starts come out the same from every backend. */
export function byStartThenSpanId(a: SpanRecord, b: SpanRecord): number {
  if (a.startTimeUnixNano !== b.startTimeUnixNano) return a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1;
  return a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0;
}
