// TraceSummary from a trace's spans, exactly as the DuckDB store computes it in SQL: start = the
// earliest span start, duration = latest end (spanEnd) − earliest start, root = traceRoot's, error
// count = spans with status ERROR, services sorted; a span stored twice counts once.
import { StatusCode, type SpanRecord } from '../../model/telemetry.ts';
import { serviceName } from '../../model/values.ts';
import { spanEnd, traceRoot, traceSpansInOrder } from '../span-order.ts';
import type { TraceSummary } from '../types.ts';

/** The summary of one trace; `spans` is every span of it (at least one). */
export function summarizeTrace(traceId: string, received: readonly SpanRecord[]): TraceSummary {
  const spans = traceSpansInOrder(received);
  let start: bigint | undefined;
  let end: bigint | undefined;
  let errorCount = 0;
  const services = new Set<string>();
  for (const s of spans) {
    if (start === undefined || s.startTimeUnixNano < start) start = s.startTimeUnixNano;
    if (end === undefined || spanEnd(s) > end) end = spanEnd(s);
    if (s.status.code === StatusCode.ERROR) errorCount++;
    services.add(serviceName(s.resource));
  }
  const root = traceRoot(spans);
  return {
    traceId,
    rootServiceName: root ? serviceName(root.resource) : null,
    rootSpanName: root ? root.name : null,
    startTimeUnixNano: start ?? 0n,
    durationNano: (end ?? 0n) - (start ?? 0n),
    spanCount: spans.length,
    errorCount,
    services: [...services].sort(),
  };
}

/** Newest first, then by trace ID: the DuckDB store's order. */
export function compareSummaries(a: TraceSummary, b: TraceSummary): number {
  if (a.startTimeUnixNano !== b.startTimeUnixNano) return a.startTimeUnixNano > b.startTimeUnixNano ? -1 : 1;
  return a.traceId < b.traceId ? -1 : a.traceId > b.traceId ? 1 : 0;
}
