// What a tail's subscribe resolver returns: an async iterator (SSE, the ordinary executor) that
// can also be read by push — `onReady` is called from the bus when events are waiting and `poll`
// takes them without a promise per event (see src/server/compiled-subscriptions.ts).
export interface TailEventStream<T> extends AsyncIterableIterator<T> {
  /** The next waiting event, or undefined; never waits. */
  poll(): T | undefined;
  /** Calls `ready` when events are waiting (undefined stops it); see TailSubscription.onReady. */
  onReady(ready: ((full?: boolean) => void) | undefined): void;
  /** Stops delivery and frees the bus slot; safe twice. */
  close(): void;
}

/** Whether a subscription's source stream can be read by push. */
export function isTailEventStream(stream: unknown): stream is TailEventStream<unknown> {
  const s = stream as Partial<TailEventStream<unknown>> | null;
  return typeof s?.poll === 'function' && typeof s.onReady === 'function' && typeof s.close === 'function';
}
