// Exception groups: the store's occurrences (one row per signal, service, type and exact stack)
// merged by fingerprint. `topExceptionGroups` is the entry point for code outside GraphQL (e.g.
// alert evidence: "the top exceptions of this service in the last 15 minutes").
import type { ExceptionGroupStore, ExceptionOccurrences } from '../stores/correlation-types.ts';
import type { SpanRef, TimeRange } from '../stores/types.ts';
import { exceptionFingerprint, exceptionTypeFromStack, normaliseFrames } from './fingerprint.ts';

export interface ExceptionGroup {
  fingerprint: string;
  type: string;
  count: number;
  /** Occurrences recorded as span `exception` events / as logs with exception.* attributes. */
  spanCount: number;
  logCount: number;
  firstSeen: bigint;
  lastSeen: bigint;
  services: string[];
  sampleMessage: string;
  /** One stack trace of the group as received, and its normalised frames. */
  sampleStacktrace: string;
  frames: string[];
  /** Occurrences per step start, oldest first; steps without any are left out. */
  series: { timeUnixNano: bigint; count: number }[];
  exampleSpans: SpanRef[];
  exampleLogIds: string[];
  /** The backend the occurrences were read from. */
  source: string;
}

/** Merges occurrence rows by fingerprint; groups come out most frequent first. */
export function groupExceptions(rows: readonly ExceptionOccurrences[], examples: number, source: string): ExceptionGroup[] {
  type Building = ExceptionGroup & { latestAt: bigint; steps: Map<bigint, number>; spans: ExceptionOccurrences['spans']; logs: ExceptionOccurrences['logs'] };
  const groups = new Map<string, Building>();
  for (const r of rows) {
    const type = r.type || exceptionTypeFromStack(r.stacktrace);
    const fingerprint = exceptionFingerprint({ type, stacktrace: r.stacktrace });
    let g = groups.get(fingerprint);
    if (!g) {
      g = {
        fingerprint,
        type,
        count: 0,
        spanCount: 0,
        logCount: 0,
        firstSeen: r.firstSeen,
        lastSeen: r.lastSeen,
        services: [],
        sampleMessage: r.sampleMessage,
        sampleStacktrace: r.stacktrace,
        frames: normaliseFrames(r.stacktrace),
        series: [],
        exampleSpans: [],
        exampleLogIds: [],
        source,
        latestAt: r.lastSeen,
        steps: new Map(),
        spans: [],
        logs: [],
      };
      groups.set(fingerprint, g);
    }
    g.count += r.count;
    if (r.signal === 'SPAN') g.spanCount += r.count;
    else g.logCount += r.count;
    if (r.firstSeen < g.firstSeen) g.firstSeen = r.firstSeen;
    if (r.lastSeen > g.lastSeen) g.lastSeen = r.lastSeen;
    // The most recent row supplies the sample (a stack with a message reads better than one without).
    if (r.lastSeen > g.latestAt && r.sampleMessage) {
      g.latestAt = r.lastSeen;
      g.sampleMessage = r.sampleMessage;
      if (r.stacktrace) g.sampleStacktrace = r.stacktrace;
    }
    if (!g.services.includes(r.service)) g.services.push(r.service);
    for (const b of r.buckets) g.steps.set(b.timeUnixNano, (g.steps.get(b.timeUnixNano) ?? 0) + b.count);
    g.spans.push(...r.spans);
    g.logs.push(...r.logs);
  }
  return [...groups.values()]
    .map(({ latestAt: _, steps, spans, logs, ...g }) => ({
      ...g,
      // The most recent occurrences of the whole group, whichever rows (stacks, services) they came from.
      exampleSpans: mostRecent(spans, examples, (s) => `${s.traceId}/${s.spanId}`).map(({ traceId, spanId }) => ({ traceId, spanId })),
      exampleLogIds: mostRecent(logs, examples, (l) => l.id).map((l) => l.id),
      services: g.services.sort(),
      series: [...steps].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([timeUnixNano, count]) => ({ timeUnixNano, count })),
    }))
    .sort((a, b) => b.count - a.count || (b.lastSeen > a.lastSeen ? 1 : b.lastSeen < a.lastSeen ? -1 : 0));
}

function mostRecent<T extends { timeUnixNano: bigint }>(items: T[], n: number, key: (item: T) => string): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const item of items.sort((a, b) => (b.timeUnixNano > a.timeUnixNano ? 1 : b.timeUnixNano < a.timeUnixNano ? -1 : 0))) {
    if (out.length === n) break;
    if (!seen.has(key(item))) out.push(item);
    seen.add(key(item));
  }
  return out;
}

export interface ExceptionGroupsRequest {
  range: Required<TimeRange>;
  /** Step of each group's occurrence series; default: the range cut into about 60 steps. */
  stepNano?: bigint;
  services?: readonly string[];
  types?: readonly string[];
  fingerprints?: readonly string[];
  traceIds?: readonly string[];
  /** Example spans and logs per group (default 5). */
  examples?: number;
  /** Groups returned, most frequent first (default all). */
  limit?: number;
}

const SECOND = 1_000_000_000n;

export function defaultStep(range: Required<TimeRange>, steps = 60n): bigint {
  const span = range.to - range.from;
  const step = (span + steps - 1n) / steps;
  return step < SECOND ? SECOND : ((step + SECOND - 1n) / SECOND) * SECOND;
}

/** The exception groups in a range: every caller (GraphQL, alerting) goes through here. */
export async function findExceptionGroups(store: ExceptionGroupStore, tenant: string, req: ExceptionGroupsRequest): Promise<ExceptionGroup[]> {
  const examples = req.examples ?? 5;
  const rows = await store.exceptionOccurrences(tenant, {
    range: req.range,
    stepNano: req.stepNano ?? defaultStep(req.range),
    examples,
    ...(req.services?.length && { services: req.services }),
    ...(req.types?.length && { types: req.types }),
    ...(req.traceIds?.length && { traceIds: req.traceIds }),
  });
  let groups = groupExceptions(rows, examples, store.backend);
  // The store also returned rows without exception.type; their type is read from the stack here.
  if (req.types?.length) groups = groups.filter((g) => req.types!.includes(g.type));
  if (req.fingerprints?.length) groups = groups.filter((g) => req.fingerprints!.includes(g.fingerprint));
  return req.limit !== undefined ? groups.slice(0, req.limit) : groups;
}

/** The most frequent exception groups of one service in [from, to] (ns), for alert evidence. */
export function topExceptionGroups(
  store: ExceptionGroupStore,
  tenant: string,
  opts: { service: string; from: bigint; to: bigint; limit?: number },
): Promise<ExceptionGroup[]> {
  return findExceptionGroups(store, tenant, { range: { from: opts.from, to: opts.to }, services: [opts.service], limit: opts.limit ?? 5 });
}
