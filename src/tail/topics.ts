// Every live-tail topic and the record type it carries, in one place (STYLE 11). The bus, the
// transports and the GraphQL subscriptions are typed by this map, so a topic cannot carry the
// wrong record.
import type { LogRecord, Signal, SpanRecord } from '../model/telemetry.ts';
import type { AlertTransition } from '../alerting/types.ts';

export interface TailTopics {
  spans: SpanRecord;
  logs: LogRecord;
  /** Alert state changes (published by the alert engine, not by ingest). */
  alerts: AlertTransition;
}

export type TailTopic = keyof TailTopics;

export const TAIL_TOPICS: readonly TailTopic[] = ['spans', 'logs', 'alerts'];

/** The topic each ingest signal publishes to (metrics have no tail yet). */
export const TOPIC_OF_SIGNAL = { traces: 'spans', logs: 'logs' } as const satisfies Partial<Record<Signal, TailTopic>>;
