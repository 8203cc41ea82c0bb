// Every live-tail topic and the record type it carries, in one place (STYLE 11). The bus, the
// transports and the GraphQL subscriptions are typed by this map, so a topic cannot carry the
// wrong record.
import type { LogRecord, MetricPoint, Signal, SpanRecord } from '../model/telemetry.ts';

/**
 * A trace put together from live spans (tailTraces). `complete` when its root span arrived;
 * otherwise it was sent after the quiet period or evicted to keep the assembly state bounded.
 */
export interface AssembledTrace {
  tenant: string;
  traceId: string;
  /** Sorted by start time. */
  spans: SpanRecord[];
  reason: 'ROOT_ENDED' | 'QUIET' | 'EVICTED';
  /** Spans of this trace not kept because it reached tail.traces.maxSpansPerTrace. */
  droppedSpans: number;
}

export interface TailTopics {
  spans: SpanRecord;
  logs: LogRecord;
  metrics: MetricPoint;
  traces: AssembledTrace;
}

export type TailTopic = keyof TailTopics;

export const TAIL_TOPICS: readonly TailTopic[] = ['spans', 'logs', 'metrics', 'traces'];

/**
 * Topics each replica derives from other topics (traces are assembled from spans on the replica
 * that serves the subscriber). They never go over a shared transport: every replica already gets
 * the source topic, so sending derived records too would deliver them twice.
 */
export const DERIVED_TOPICS: ReadonlySet<TailTopic> = new Set<TailTopic>(['traces']);

/** The topic each ingest signal publishes to. */
export const TOPIC_OF_SIGNAL = { traces: 'spans', logs: 'logs', metrics: 'metrics' } as const satisfies Record<Signal, TailTopic>;

/** The ingest signal whose records a topic's replay reads from the stores (none for topics not fed by ingest). */
export const SIGNAL_OF_TOPIC: Partial<Record<TailTopic, Signal>> = { spans: 'traces', logs: 'logs', metrics: 'metrics', traces: 'traces' };
