// How published batches reach the listeners of a (tenant, topic). The bus above it owns buffering,
// filtering and limits; a transport only moves batches, so a Redis one (several replicas) can
// replace the in-memory one without touching subscribers or publishers.
import type { TailTopic, TailTopics } from './topics.ts';
import type { TailInterest } from './index-fields.ts';
import type { OtlpRequest } from '../otlp/codec.ts';

export type TailListener<T extends TailTopic> = (records: readonly TailTopics[T][]) => void;

export interface TailTransport {
  /**
   * Must not block on listeners: called synchronously on the ingest path. `request`, when given, is
   * the one OTLP request of the tenant the records were decoded from, and decoding it again gives
   * exactly these records: a transport to other replicas may send it instead of the records.
   */
  publish<T extends TailTopic>(tenant: string, topic: T, records: readonly TailTopics[T][], request?: OtlpRequest): void;
  /**
   * Returns the function that removes the listener. `interest` says which records the listener's
   * subscribers can match now (absent: all); a transport that carries records to other replicas
   * sends them only those, and is told by interestChanged when it may have changed. A listener
   * still gets records it did not ask for (the ones published here, as a rule).
   */
  listen<T extends TailTopic>(tenant: string, topic: T, listener: TailListener<T>, interest?: () => TailInterest): () => void;
  /** The interest of a listener of (tenant, topic) may have changed; optional. */
  interestChanged?(tenant: string, topic: TailTopic): void;
  /** Whether anything listens to (tenant, topic), so publishers can skip work. */
  hasListeners(tenant: string, topic: TailTopic): boolean;
  /** Connects (a shared transport); optional. */
  start?(): Promise<void>;
  /** Disconnects; safe twice. Optional. */
  close?(): Promise<void>;
}

/** Listeners in this process, called synchronously in publish. */
export function createInMemoryTransport(): TailTransport {
  const listeners = new Map<string, Set<TailListener<TailTopic>>>();
  const keyOf = (tenant: string, topic: TailTopic) => `${topic}\u0000${tenant}`;
  return {
    publish(tenant, topic, records) {
      const set = listeners.get(keyOf(tenant, topic));
      if (!set) return;
      for (const l of set) l(records);
    },
    listen(tenant, topic, listener) {
      const key = keyOf(tenant, topic);
      let set = listeners.get(key);
      if (!set) listeners.set(key, (set = new Set()));
      const l = listener as TailListener<TailTopic>;
      set.add(l);
      return () => {
        set.delete(l);
        if (set.size === 0 && listeners.get(key) === set) listeners.delete(key);
      };
    },
    hasListeners: (tenant, topic) => listeners.has(keyOf(tenant, topic)),
  };
}
