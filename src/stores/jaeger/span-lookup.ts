// Finding spans by ID in Jaeger. api_v3 has no such lookup: GetTrace needs the trace ID, and
// FindTraces takes a service, operation, attributes, durations and a required start-time window,
// returning at most `searchDepth` whole traces, most recent first. So a lookup walks FindTraces
// windows back in time from the end of its range, newest first, until every wanted span ID was
// found, the range is covered, or the request budget is spent:
//
// - the first window is short (the last hour, where most lookups of a span someone just saw end)
//   and each next one is 4× longer, so an old span costs a few requests, not one per hour;
// - a window whose answer is full (as many traces as asked for) may hold more: the next request
//   keeps its start and ends at the oldest of the traces it returned (by their latest span start
//   in the window, the order Jaeger's storages return them in), so busy hours are paged, not skipped.
//
// The caller says in a note what was searched when something was not found.
import type { SpanRecord } from '../../model/telemetry.ts';
import type { TimeRange } from '../types.ts';

export interface SpanLookupPlan {
  /** The start-time range to search, both ends inclusive. */
  range: Required<TimeRange>;
  /** Lower-case span IDs. */
  wanted: ReadonlySet<string>;
  /** The whole filter: a wanted span counts as found only when it matches. */
  matches: (s: SpanRecord) => boolean;
  /** Stop once this many matching spans were found (Infinity: only when every ID was). */
  want: number;
  /** Traces asked for per request. */
  depth: number;
  maxRequests: number;
  /** The first (newest) window's length; each next window is 4× longer. */
  firstWindowNs: bigint;
  /** One FindTraces over `window`: every span of each trace returned, by trace ID. */
  find: (window: Required<TimeRange>, depth: number) => Promise<Map<string, SpanRecord[]>>;
}

export interface SpanLookupResult {
  /** Every trace any request returned, by trace ID. */
  traces: Map<string, SpanRecord[]>;
  requests: number;
  /** The wanted IDs no matching span had, sorted. */
  missing: string[];
  /** Traces starting from here to the end of the range were searched (the range's start unless `exhausted`). */
  searchedFrom: bigint;
  /** The request budget ran out before the range was covered. */
  exhausted: boolean;
  /** It stopped at `want` matching spans, before looking for the IDs still missing. */
  satisfied: boolean;
}

const max = (a: bigint, b: bigint) => (a > b ? a : b);

export async function lookupSpans(p: SpanLookupPlan): Promise<SpanLookupResult> {
  const traces = new Map<string, SpanRecord[]>();
  const found = new Set<string>();
  let matched = 0;
  let requests = 0;
  let exhausted = false;
  const { range } = p;
  let end = range.to;
  let width = p.firstWindowNs > 0n ? p.firstWindowNs : 1n;
  let start = max(range.from, end - width + 1n);
  let searchedFrom = range.to + 1n;
  while (found.size < p.wanted.size && matched < p.want) {
    if (requests >= p.maxRequests) {
      exhausted = true;
      break;
    }
    const answer = await p.find({ from: start, to: end }, p.depth);
    requests++;
    let fresh = 0;
    let cutoff: bigint | undefined;
    for (const [traceId, spans] of answer) {
      let latest: bigint | undefined;
      for (const s of spans) {
        const t = s.startTimeUnixNano;
        if (t >= start && t <= end && (latest === undefined || t > latest)) latest = t;
      }
      if (latest !== undefined && (cutoff === undefined || latest < cutoff)) cutoff = latest;
      if (traces.has(traceId)) continue;
      traces.set(traceId, spans);
      fresh++;
      for (const s of spans) {
        if (p.wanted.has(s.spanId) && p.matches(s)) {
          found.add(s.spanId);
          matched++;
        }
      }
    }
    if (answer.size >= p.depth) {
      // Full: go on in the same window below the oldest trace returned. Those at the cutoff come
      // again and are skipped; an answer with nothing new moves the end below the cutoff.
      const oldest = cutoff !== undefined && cutoff < end ? cutoff : end;
      const next = fresh === 0 || oldest === end ? oldest - 1n : oldest;
      searchedFrom = next + 1n;
      if (next >= start) {
        end = next;
        continue;
      }
    }
    searchedFrom = start;
    if (start <= range.from) break;
    end = start - 1n;
    width *= 4n;
    start = max(range.from, end - width + 1n);
  }
  const missing = [...p.wanted].filter((id) => !found.has(id)).sort();
  return { traces, requests, missing, searchedFrom: exhausted ? searchedFrom : range.from, exhausted, satisfied: matched >= p.want };
}
