// tailTraces: puts live spans together into traces, one assembler per tenant (shared by every
// tailTraces subscription of the tenant on this replica; each applies its own filter to the
// finished trace). A trace is sent
// - `rootWaitMs` after its root span (no parent) arrived: a span is exported when it ends, so the
//   root has ended; the short wait lets children exported a little later by other services join;
// - or once no span of it arrived for `quietMs` (the root never came, or is lost): incomplete;
// - or at once, incomplete, when `maxTraces` are being assembled and a new trace starts (the least
//   recently active one is evicted), so memory stays bounded.
// A trace keeps at most `maxSpansPerTrace` spans (always its root); the rest are counted in its
// `droppedSpans`.
// Spans of a trace already sent (late spans) are counted and dropped rather than sent as a second,
// partial copy of the trace.
import type { SpanRecord } from '../model/telemetry.ts';
import { traceSpansInOrder } from '../stores/span-order.ts';
import type { TailDeriver } from './bus.ts';
import type { AssembledTrace } from './topics.ts';

export interface TraceAssemblyConfig {
  /** Wait after the root span arrives, for stragglers (ms). */
  rootWaitMs: number;
  /** A trace without new spans for this long is sent without its root (ms). */
  quietMs: number;
  /** Traces being assembled at once, per tenant. */
  maxTraces: number;
  maxSpansPerTrace: number;
}

export const DEFAULT_TRACE_ASSEMBLY: TraceAssemblyConfig = { rootWaitMs: 1000, quietMs: 5000, maxTraces: 10_000, maxSpansPerTrace: 1000 };

export interface TraceAssemblyStats {
  /** Traces sent early because maxTraces were being assembled. */
  evicted: number;
  /** Spans not kept because their trace had maxSpansPerTrace. */
  droppedSpans: number;
  /** Spans that arrived after their trace was sent. */
  lateSpans: number;
}

interface Pending {
  spans: SpanRecord[];
  droppedSpans: number;
  lastSeen: number;
  /** When the root arrived: the time the trace is due. */
  dueAt?: number;
}

export interface TraceAssembler {
  add(spans: readonly SpanRecord[]): void;
  /** Sends what is due at `now`. */
  tick(now: number): void;
  /** Traces being assembled. */
  size(): number;
}

export function createTraceAssembler(
  tenant: string,
  cfg: TraceAssemblyConfig,
  emit: (traces: AssembledTrace[]) => void,
  stats: TraceAssemblyStats,
  now: () => number = Date.now,
): TraceAssembler {
  // Insertion order is activity order: every update re-inserts the entry, so the quiet ones are first.
  const pending = new Map<string, Pending>();
  const rootDue: { traceId: string; at: number }[] = [];
  // Recently sent trace IDs, to recognise late spans; bounded like the assembly state.
  const sent = new Set<string>();

  const finish = (traceId: string, p: Pending, reason: AssembledTrace['reason']): AssembledTrace => {
    pending.delete(traceId);
    sent.add(traceId);
    if (sent.size > cfg.maxTraces) sent.delete(sent.values().next().value!);
    // As stores answer trace(): in start order, a span received twice (a retried export) once.
    return { tenant, traceId, spans: traceSpansInOrder(p.spans), reason, droppedSpans: p.droppedSpans };
  };

  return {
    add(spans) {
      const t = now();
      const out: AssembledTrace[] = [];
      for (const s of spans) {
        if (sent.has(s.traceId)) {
          stats.lateSpans++;
          continue;
        }
        let p = pending.get(s.traceId);
        if (p) pending.delete(s.traceId);
        else {
          if (pending.size >= cfg.maxTraces) {
            const [oldestId, oldest] = pending.entries().next().value!;
            stats.evicted++;
            out.push(finish(oldestId, oldest, 'EVICTED'));
          }
          p = { spans: [], droppedSpans: 0, lastSeen: t };
        }
        pending.set(s.traceId, p);
        p.lastSeen = t;
        const isRoot = s.parentSpanId === '';
        if (p.spans.length < cfg.maxSpansPerTrace) p.spans.push(s);
        else {
          // A full trace still takes its root (in place of the last span kept), so a trace sent
          // as complete always has its root.
          if (isRoot && !p.spans.some((x) => x.parentSpanId === '')) p.spans[p.spans.length - 1] = s;
          p.droppedSpans++;
          stats.droppedSpans++;
        }
        if (isRoot && p.dueAt === undefined) {
          p.dueAt = t + cfg.rootWaitMs;
          rootDue.push({ traceId: s.traceId, at: p.dueAt });
        }
      }
      if (out.length > 0) emit(out);
      if (cfg.rootWaitMs === 0) this.tick(t);
    },

    tick(t) {
      const out: AssembledTrace[] = [];
      // Roots wait the same time, so rootDue is in due order.
      while (rootDue.length > 0 && rootDue[0]!.at <= t) {
        const { traceId, at } = rootDue.shift()!;
        const p = pending.get(traceId);
        if (p && p.dueAt === at) out.push(finish(traceId, p, 'ROOT_ENDED'));
      }
      for (const [traceId, p] of pending) {
        if (t - p.lastSeen < cfg.quietMs) break;
        out.push(finish(traceId, p, p.dueAt !== undefined ? 'ROOT_ENDED' : 'QUIET'));
      }
      if (out.length > 0) emit(out);
    },

    size: () => pending.size,
  };
}

/** The bus deriver for the `traces` topic: an assembler per tenant fed from `spans`, ticked on a timer. */
export function traceDeriver(cfg: TraceAssemblyConfig, stats: TraceAssemblyStats): TailDeriver<'traces'> {
  const tickMs = Math.max(10, Math.min(250, Math.floor(Math.min(cfg.rootWaitMs || cfg.quietMs, cfg.quietMs) / 4)));
  return {
    start(tenant, listen, emit) {
      const assembler = createTraceAssembler(tenant, cfg, emit, stats);
      const stop = listen('spans', (spans) => assembler.add(spans));
      const timer = setInterval(() => assembler.tick(Date.now()), tickMs);
      timer.unref();
      return () => {
        clearInterval(timer);
        stop();
      };
    },
  };
}
