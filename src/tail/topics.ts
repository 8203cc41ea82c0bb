// Every live-tail topic and the record type it carries, in one place (STYLE 11). The bus, the
// transports and the GraphQL subscriptions are typed by this map, so a topic cannot carry the
// wrong record.
import type { AlertTransition } from '../alerting/types.ts';
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
  /** STORED: read from the store by a `since` replay (resolvers/tail.ts), never published. */
  reason: 'ROOT_ENDED' | 'QUIET' | 'EVICTED' | 'STORED';
  /** Spans of this trace not kept because it reached tail.traces.maxSpansPerTrace. */
  droppedSpans: number;
}

export interface TailTopics {
  spans: SpanRecord;
  logs: LogRecord;
  /** Alert state changes (published by the alert engine, not by ingest). */
  alerts: AlertTransition;
  metrics: MetricPoint;
  traces: AssembledTrace;
}

export type TailTopic = keyof TailTopics;

export const TAIL_TOPICS: readonly TailTopic[] = ['spans', 'logs', 'metrics', 'traces', 'alerts'];

/**
 * Topics each replica produces for itself and never sends over a shared transport: traces are
 * assembled from spans on the replica that serves the subscriber (every replica already gets the
 * spans, so sending traces too would deliver them twice), and every replica runs its own alert
 * engine over the shared rules, so its alert events are its own.
 */
export const DERIVED_TOPICS: ReadonlySet<TailTopic> = new Set<TailTopic>(['traces', 'alerts']);

/** The topic each ingest signal publishes to. */
export const TOPIC_OF_SIGNAL = { traces: 'spans', logs: 'logs', metrics: 'metrics' } as const satisfies Record<Signal, TailTopic>;

/** The ingest signal whose records a topic's replay reads from the stores (none for topics not fed by ingest). */
export const SIGNAL_OF_TOPIC: Partial<Record<TailTopic, Signal>> = { spans: 'traces', logs: 'logs', metrics: 'metrics', traces: 'traces' };
